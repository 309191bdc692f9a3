import OpenAI from 'openai';
import type { EmbedInput, Embedder } from '../contracts.js';
import { AdapterError, networkReason } from '../errors.js';
import { retryAfterMs, type HeaderSource } from '../retry-after.js';

export interface OpenAIEmbedderOptions {
  apiKey: string;
  /** Default https://api.openai.com/v1. */
  baseURL?: string;
  /** Default text-embedding-3-small. */
  model?: string;
  /** Default 1536. */
  dimensions?: number;
  /** Per-request timeout, milliseconds. Default 60000. */
  timeoutMs?: number;
}

/** What one request may hold (OpenAI's limits). */
export const LIMITS = { inputs: 2048, requestTokens: 300_000, inputTokens: 8191 };

/**
 * Embeddings through OpenAI's official SDK. The SDK's own retries are off: the runtime owns retries
 * (durable, with backoff), so this throws AdapterError marked transient or permanent at once.
 */
export class OpenAIEmbedder implements Embedder {
  readonly #client: OpenAI;
  readonly #model: string;
  readonly #dimensions: number;

  constructor(options: OpenAIEmbedderOptions) {
    this.#client = new OpenAI({ apiKey: options.apiKey, baseURL: options.baseURL, maxRetries: 0, timeout: options.timeoutMs ?? 60_000 });
    this.#model = options.model ?? 'text-embedding-3-small';
    this.#dimensions = options.dimensions ?? 1536;
  }

  /**
   * Embeds texts (with their cl100k token counts), in as few requests as the limits allow: at most
   * 2048 inputs and 300,000 tokens each. Returns one vector per text, in order.
   */
  async embed(texts: EmbedInput[], { signal }: { signal?: AbortSignal } = {}): Promise<number[][]> {
    const vectors: number[][] = [];
    for (const batch of batches(texts)) {
      let response: OpenAI.CreateEmbeddingResponse;
      try {
        response = await this.#client.embeddings.create(
          { model: this.#model, input: batch.map((t) => t.text), dimensions: this.#dimensions },
          { signal },
        );
      } catch (error) {
        throw classify(error);
      }
      const ordered = [...response.data].sort((a, b) => a.index - b.index);
      vectors.push(...ordered.map((d) => d.embedding));
    }
    return vectors;
  }
}

/** Splits texts into requests within OpenAI's per-request limits. */
export function batches<T extends { tokens: number }>(texts: T[]): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let tokens = 0;
  for (const text of texts) {
    if (text.tokens > LIMITS.inputTokens) throw new AdapterError('INPUT_TOO_LONG', `an input of ${text.tokens} tokens is over the model's ${LIMITS.inputTokens}`);
    if (current.length === LIMITS.inputs || tokens + text.tokens > LIMITS.requestTokens) {
      out.push(current);
      current = [];
      tokens = 0;
    }
    current.push(text);
    tokens += text.tokens;
  }
  if (current.length) out.push(current);
  return out;
}

/**
 * OpenAI's failures as transient (408, 409, 429, 5xx, timeouts, connection errors; honouring
 * retry-after-ms and retry-after) or permanent (other 4xx, and x-should-retry: false).
 */
export function classify(error: unknown): AdapterError {
  if (error instanceof OpenAI.APIConnectionTimeoutError) return new AdapterError('OPENAI_TIMEOUT', 'OpenAI did not answer in time', { transient: true, cause: error });
  if (error instanceof OpenAI.APIConnectionError) return new AdapterError('OPENAI_UNREACHABLE', `cannot reach OpenAI: ${networkReason(error)}`, { transient: true, cause: error });
  if (error instanceof OpenAI.APIError && error.status !== undefined) {
    const headers = error.headers as HeaderSource;
    const status = error.status;
    const shouldRetry = headers instanceof Headers ? headers.get('x-should-retry') : (headers?.['x-should-retry'] as string | undefined);
    const transient = shouldRetry === 'false' ? false : shouldRetry === 'true' || status === 408 || status === 409 || status === 429 || status >= 500;
    const code = error.code ?? (status === 429 ? 'rate_limit_exceeded' : `http_${status}`);
    return new AdapterError(`OPENAI_${String(code).toUpperCase()}`, `OpenAI answered ${status}: ${error.message}`, {
      transient,
      status,
      retryAfterMs: retryAfterMs(headers),
      cause: error,
    });
  }
  return new AdapterError('OPENAI_ERROR', (error as Error).message, { cause: error });
}

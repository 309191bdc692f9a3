import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import { z } from 'zod';
import { hashEmbedding } from '../local/embedder.js';
import { cl100k } from '../local/tokens.js';
import { FaultQueue, faultList, retryHeaders } from '../mock/faults.js';

/** Native dimensions of the embedding models the mock serves. */
const MODELS: Record<string, { dimensions: number; shortens: boolean }> = {
  'text-embedding-3-small': { dimensions: 1536, shortens: true },
  'text-embedding-3-large': { dimensions: 3072, shortens: true },
  'text-embedding-ada-002': { dimensions: 1536, shortens: false },
};
export const MAX_INPUTS = 2048;
export const MAX_INPUT_TOKENS = 8192;
export const MAX_REQUEST_TOKENS = 300_000;

const request = z.object({
  model: z.string(),
  input: z.union([z.string(), z.array(z.string()), z.array(z.number().int()), z.array(z.array(z.number().int()))]),
  encoding_format: z.enum(['float', 'base64']).optional(),
  dimensions: z.number().int().positive().optional(),
  user: z.string().optional(),
});

export interface OpenAIMockOptions {
  /** Keys accepted as `Authorization: Bearer <key>`; empty accepts any non-empty key. */
  apiKeys?: string[];
  /** Latency added to every answer, milliseconds. */
  latencyMs?: number;
}

/** One request as the mock saw it: for tests of what reached the vendor, and when. */
export interface MockRequest {
  /** Arrival, epoch milliseconds. */
  at: number;
  /** cl100k tokens of its inputs (0 when it was refused before they were read). */
  tokens: number;
  /** The status answered (0 while in flight). */
  status: number;
}

/**
 * A local stand-in for OpenAI's `POST /v1/embeddings`, faithful to its wire format: the SDK's
 * default base64 encoding, `dimensions`, the request limits and their error bodies, rate-limit
 * headers. Vectors are the local hashing embedder's, so they are deterministic and meaningful.
 * Faults (429 with Retry-After, 500, 503, latency) are scripted through `faults` or POST /mock/faults.
 */
export function createOpenAIMock(options: OpenAIMockOptions = {}): {
  app: Express;
  faults: FaultQueue;
  requests: () => number;
  /** Every embeddings request, in order of arrival. */
  log: () => MockRequest[];
  /** The most requests in flight at once so far. */
  maxInFlight: () => number;
} {
  const app = express();
  const faults = new FaultQueue();
  let requests = 0;
  const log: MockRequest[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  app.use(express.json({ limit: '50mb' }));
  app.get('/health', (_req, res) => void res.json({ status: 'ok', service: 'openai-mock' }));
  app.post('/mock/faults', (req, res) => {
    const parsed = faultList.safeParse(req.body);
    if (!parsed.success) return void res.status(400).json({ error: { message: parsed.error.message, type: 'invalid_request_error' } });
    faults.add(...parsed.data);
    res.json({ queued: true });
  });

  app.post('/v1/embeddings', async (req, res) => {
    requests += 1;
    const seen: MockRequest = { at: Date.now(), tokens: 0, status: 0 };
    log.push(seen);
    maxInFlight = Math.max(maxInFlight, (inFlight += 1));
    res.once('close', () => {
      inFlight -= 1;
      seen.status = res.statusCode;
    });
    res.setHeader('x-request-id', `req_${randomUUID().replaceAll('-', '')}`);
    res.setHeader('openai-version', '2020-10-01');
    const fault = faults.take(req.path);
    const wait = (fault?.delayMs ?? 0) + (options.latencyMs ?? 0);
    if (wait) await new Promise((resolve) => setTimeout(resolve, wait));
    const fail = (status: number, message: string, type: string, code: string | null = null, param: string | null = null, headers: Record<string, string> = {}) =>
      res.status(status).set(headers).json({ error: { message, type, param, code } });

    const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!auth || (options.apiKeys?.length && !options.apiKeys.includes(auth))) {
      return fail(401, 'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.', 'invalid_request_error', 'invalid_api_key');
    }
    if (fault?.status) {
      if (fault.status === 429) {
        return fail(429, 'Rate limit reached for requests. Please try again later.', 'requests', 'rate_limit_exceeded', null, {
          ...retryHeaders(fault),
          'x-ratelimit-limit-requests': '3000',
          'x-ratelimit-remaining-requests': '0',
          'x-ratelimit-reset-requests': `${Math.max(1, Math.ceil((fault.retryAfterMs ?? 1000) / 1000))}s`,
        });
      }
      return fail(fault.status, 'The server had an error while processing your request. Sorry about that!', 'server_error', null, null, retryHeaders(fault));
    }
    const parsed = request.safeParse(req.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return fail(400, `'$.${issue.path.join('.') || 'body'}' is invalid. ${issue.message}`, 'invalid_request_error', null, String(issue.path[0] ?? ''));
    }
    const body = parsed.data;
    const model = MODELS[body.model];
    if (!model) return fail(404, `The model \`${body.model}\` does not exist or you do not have access to it.`, 'invalid_request_error', 'model_not_found');
    if (body.dimensions !== undefined && (!model.shortens || body.dimensions > model.dimensions)) {
      return fail(400, 'This model does not support specifying dimensions.', 'invalid_request_error', null, 'dimensions');
    }
    const texts = toTexts(body.input);
    if (texts.length === 0 || texts.some((text) => text === '')) return fail(400, "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", 'invalid_request_error', null, 'input');
    if (texts.length > MAX_INPUTS) return fail(400, `'$.input' is invalid: at most ${MAX_INPUTS} inputs per request, got ${texts.length}.`, 'invalid_request_error', null, 'input');
    const counts = texts.map((text) => cl100k().encode(text).length);
    const longest = Math.max(...counts);
    if (longest > MAX_INPUT_TOKENS) {
      return fail(400, `This model's maximum context length is ${MAX_INPUT_TOKENS} tokens, however you requested ${longest} tokens (${longest} in your prompt; 0 for the completion). Please reduce your prompt; or completion length.`, 'invalid_request_error');
    }
    const total = counts.reduce((a, b) => a + b, 0);
    seen.tokens = total;
    if (total > MAX_REQUEST_TOKENS) {
      return fail(400, `Requested ${total} tokens, max ${MAX_REQUEST_TOKENS} tokens per request`, 'max_tokens_per_request', 'max_tokens_per_request');
    }
    const dimensions = body.dimensions ?? model.dimensions;
    res.set({ 'openai-model': body.model, 'openai-processing-ms': '3', 'x-ratelimit-limit-tokens': '1000000', 'x-ratelimit-remaining-tokens': String(1_000_000 - total) });
    res.json({
      object: 'list',
      data: texts.map((text, index) => {
        const vector = hashEmbedding(text, dimensions);
        const embedding = body.encoding_format === 'base64' ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
        return { object: 'embedding', index, embedding };
      }),
      model: body.model,
      usage: { prompt_tokens: total, total_tokens: total },
    });
  });
  return { app, faults, requests: () => requests, log: () => [...log], maxInFlight: () => maxInFlight };
}

/** Strings, or token ids (one array, or arrays) decoded back to text. */
function toTexts(input: z.infer<typeof request>['input']): string[] {
  if (typeof input === 'string') return [input];
  if (input.length === 0) return [];
  if (typeof input[0] === 'string') return input as string[];
  if (typeof input[0] === 'number') return [cl100k().decode(input as number[])];
  return (input as number[][]).map((ids) => cl100k().decode(ids));
}

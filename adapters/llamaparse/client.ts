import { AdapterError, networkReason } from '../errors.js';
import { retryAfterMs } from '../retry-after.js';

/** A parse job's status, as LlamaParse's v1 API reports it. */
export type JobStatus = 'PENDING' | 'SUCCESS' | 'ERROR' | 'PARTIAL_SUCCESS' | 'CANCELLED';

/** The events a job's webhook configuration asks for: its ends (the machine polls for the rest). */
export const PARSE_EVENTS = ['parse.success', 'parse.partial_success', 'parse.error', 'parse.cancelled'];

export interface LlamaParseClientOptions {
  apiKey: string;
  /** Default https://api.cloud.llamaindex.ai. */
  baseUrl?: string;
  /** Per-request timeout, milliseconds. Default 60000. */
  timeoutMs?: number;
}

export interface ParsingJob {
  id: string;
  status: JobStatus;
  error_code: string | null;
  error_message: string | null;
}

/**
 * LlamaParse's v1 parsing API over fetch: upload, status, results. No retries of its own (the
 * runtime's are durable); every failure is an AdapterError, transient for 408/429/5xx and network
 * errors (honouring Retry-After), permanent for the other 4xx.
 */
export class LlamaParseClient {
  readonly #base: string;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;

  constructor(options: LlamaParseClientOptions) {
    this.#base = (options.baseUrl ?? 'https://api.cloud.llamaindex.ai').replace(/\/+$/, '');
    this.#headers = { authorization: `Bearer ${options.apiKey}`, accept: 'application/json' };
    this.#timeoutMs = options.timeoutMs ?? 60_000;
  }

  /**
   * Starts a parse. With `webhookUrl` alone, LlamaParse pushes the result there (v1, unsigned); with
   * `webhookSecret` too, it sends LlamaCloud event webhooks there, signed with the secret
   * (`LC-Signature: sha256=<hex>`), through a webhook configuration.
   */
  async upload(content: Uint8Array, filename: string, options: { webhookUrl?: string; webhookSecret?: string; signal?: AbortSignal } = {}): Promise<ParsingJob> {
    const form = new FormData();
    form.append('file', new Blob([Buffer.from(content)]), filename);
    if (options.webhookUrl && options.webhookSecret) {
      const configuration = { webhook_url: options.webhookUrl, webhook_events: PARSE_EVENTS, webhook_output_format: 'json', webhook_signing_secret: options.webhookSecret };
      form.append('webhook_configurations', JSON.stringify([configuration]));
    } else if (options.webhookUrl) form.append('webhook_url', options.webhookUrl);
    return this.#request<ParsingJob>('POST', '/api/v1/parsing/upload', form, options.signal);
  }

  status(jobId: string, signal?: AbortSignal): Promise<ParsingJob> {
    return this.#request('GET', `/api/v1/parsing/job/${encodeURIComponent(jobId)}`, undefined, signal);
  }

  markdown(jobId: string, signal?: AbortSignal): Promise<{ markdown: string; job_metadata?: { job_pages?: number } }> {
    return this.#request('GET', `/api/v1/parsing/job/${encodeURIComponent(jobId)}/result/markdown`, undefined, signal);
  }

  /** The number of pages, from the JSON result (one entry per page). */
  async pages(jobId: string, signal?: AbortSignal): Promise<number> {
    const result = await this.#request<{ pages: unknown[] }>('GET', `/api/v1/parsing/job/${encodeURIComponent(jobId)}/result/json`, undefined, signal);
    return result.pages.length;
  }

  async #request<T>(method: string, path: string, body: FormData | undefined, signal?: AbortSignal): Promise<T> {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    let response: Response;
    try {
      response = await fetch(`${this.#base}${path}`, { method, headers: this.#headers, body, signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
    } catch (error) {
      throw new AdapterError('LLAMAPARSE_UNREACHABLE', `cannot reach LlamaParse (${method} ${path}): ${networkReason(error)}`, { transient: true, cause: error });
    }
    if (response.ok) return (await response.json()) as T;
    const detail = await response.json().then((b: { detail?: unknown }) => b.detail, () => undefined);
    const message = typeof detail === 'string' ? detail : JSON.stringify(detail ?? response.statusText);
    const status = response.status;
    const transient = status === 408 || status === 429 || status >= 500;
    throw new AdapterError(status === 429 ? 'LLAMAPARSE_RATE_LIMITED' : `LLAMAPARSE_HTTP_${status}`, `LlamaParse answered ${status} to ${method} ${path}: ${message}`, {
      transient,
      status,
      retryAfterMs: retryAfterMs(response.headers),
    });
  }
}

import type { ServiceFailure } from '../index.js';

/**
 * The error every adapter throws, in the engine's ServiceFailure contract: `transient` says whether
 * retrying may help (a timeout, a 429, a 5xx): the runtime retries those with backoff, at least
 * `retryAfterMs` later, and fails the rest at once.
 */
export class AdapterError extends Error implements ServiceFailure {
  readonly code: string;
  readonly transient: boolean;
  readonly retryAfterMs: number | undefined;
  /** The HTTP status the vendor answered, when there was one. */
  readonly status: number | undefined;

  constructor(code: string, message: string, options: { transient?: boolean; retryAfterMs?: number; status?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'AdapterError';
    this.code = code;
    this.transient = options.transient ?? false;
    this.retryAfterMs = options.retryAfterMs;
    this.status = options.status;
  }
}

/**
 * Why a request never got an answer, as one phrase: fetch and the OpenAI SDK say only "fetch failed"
 * or "Connection error." and keep the reason (refused, reset, timed out, DNS) in their causes.
 */
export function networkReason(error: unknown): string {
  const parts: string[] = [];
  for (let at = error as { message?: unknown; code?: unknown; cause?: unknown } | undefined, depth = 0; at && depth < 4; at = at.cause as typeof at, depth += 1) {
    const code = typeof at.code === 'string' ? at.code : '';
    const message = typeof at.message === 'string' ? at.message : '';
    const text = message.includes(code) ? message : `${code} ${message}`.trim();
    if (text && !parts.some((p) => p.includes(text))) parts.push(text);
  }
  return parts.join(': ') || String(error);
}

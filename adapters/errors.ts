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

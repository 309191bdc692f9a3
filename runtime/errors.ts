/**
 * The engine's error vocabulary. Every error has a stable string `code` that callers and logs can
 * branch on, and keeps the error that caused it.
 */
export class DocketError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Raised for options or arguments that can never work; fix the call. */
export class ConfigError extends DocketError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONFIG_INVALID', message, options);
  }
}

/** The database could not be reached or prepared (migrations). */
export class DatabaseUnavailableError extends DocketError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DATABASE_UNAVAILABLE', message, options);
  }
}

/** The instance id names no instance. */
export class InstanceNotFoundError extends DocketError {
  constructor(readonly instanceId: string) {
    super('INSTANCE_NOT_FOUND', `no instance with id ${instanceId}`);
  }
}

/** The instance exists, but its status does not allow the call (resuming an active one, stopping a done one). */
export class InstanceStateError extends DocketError {
  constructor(readonly instanceId: string, readonly status: string, message: string) {
    super('INSTANCE_STATE', message);
  }
}

/** waitFor() gave up before its predicate held. */
export class WaitTimeoutError extends DocketError {
  constructor(readonly instanceId: string, readonly timeoutMs: number, lastSeen?: { value: unknown; status: string; version: number }) {
    const seen = lastSeen ? ` (last seen: ${JSON.stringify(lastSeen.value)}, ${lastSeen.status}, version ${lastSeen.version})` : '';
    super('WAIT_TIMEOUT', `instance ${instanceId} did not reach the awaited state within ${timeoutMs} ms${seen}`);
  }
}

/** The runtime was closed while the call was in flight. */
export class RuntimeClosedError extends DocketError {
  constructor() {
    super('RUNTIME_CLOSED', 'the runtime is closed');
  }
}

/**
 * What the engine reads from an error a service throws: the whole contract between services (and
 * the adapters behind them) and the engine's retries. Any error with these fields is understood;
 * TransientError and PermanentError carry them, and so does every adapter's error.
 */
export interface ServiceFailure {
  /** Stable, upper-case: machines branch on it and it is stored with the attempt. */
  code: string;
  /** Whether retrying may help (a timeout, a 429, a 5xx). Absent or false: permanent. */
  transient?: boolean;
  /** The service's own wait before a retry (Retry-After), milliseconds; a floor for the backoff. */
  retryAfterMs?: number;
}

/**
 * Thrown by a service for a failure that may pass: a timeout, a 429, a 5xx. The effect runner
 * retries it with exponential backoff and jitter, waiting at least `retryAfterMs` when given.
 */
export class TransientError extends DocketError implements ServiceFailure {
  readonly transient = true;
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options?: { code?: string; retryAfterMs?: number; cause?: unknown }) {
    super(options?.code ?? 'TRANSIENT', message, options);
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/**
 * Thrown by a service for a failure that retrying cannot fix (a 4xx other than 408/429, a bad
 * input), to say so explicitly with a code of its own. Any error not marked transient is treated
 * the same way: the machine receives `xstate.error.actor.<id>` at once.
 */
export class PermanentError extends DocketError implements ServiceFailure {
  readonly transient = false;
  constructor(message: string, options?: { code?: string; cause?: unknown }) {
    super(options?.code ?? 'PERMANENT', message, options);
  }
}

/** Whether an error thrown by a service should be retried: its `transient` field says so. Unmarked errors are permanent. */
export function isTransient(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as ServiceFailure).transient === true;
}

/** The Retry-After an error thrown by a service asks for, milliseconds, if any. */
export function retryAfterOf(error: unknown): number | undefined {
  const ms = typeof error === 'object' && error !== null ? (error as ServiceFailure).retryAfterMs : undefined;
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

/** The serialisable description of an error that machines receive and tables store. */
export interface ErrorInfo {
  name: string;
  code: string;
  message: string;
}

export function toErrorInfo(error: unknown): ErrorInfo {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { name: error.name, code: typeof code === 'string' ? code : 'ERROR', message: error.message };
  }
  // An error that crossed a JSON boundary (an effect's or a child's, in an xstate.error.actor event).
  if (typeof error === 'object' && error !== null && typeof (error as ErrorInfo).message === 'string') {
    const { name, code, message } = error as Partial<ErrorInfo>;
    return { name: typeof name === 'string' ? name : 'Error', code: typeof code === 'string' ? code : 'ERROR', message: message! };
  }
  return { name: 'Error', code: 'ERROR', message: String(error) };
}

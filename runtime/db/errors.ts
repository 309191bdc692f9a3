/**
 * What a database error means for the caller: the server is out of reach (answer 503, wait and try
 * again), or one transaction lost a race or a resource (retry it), or the statement is wrong (a
 * bug: retrying cannot help). PostgreSQL's SQLSTATE classes decide; socket errors from `pg` carry
 * Node's errno codes instead.
 */

/** Node socket errors and `pg` client messages that mean the connection is gone or never came. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);
const CLIENT_MESSAGES = [
  /connection terminated/i,
  /terminating connection/i,
  /timeout exceeded when trying to connect/i,
  /connection timeout/i,
  /not queryable/i,
  /Connection closed/i,
  /the database system is (starting up|shutting down|in recovery mode)/i,
];

/**
 * SQLSTATEs of a server that is going away or not yet there: class 08 (connection exception),
 * 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 53300 too_many_connections.
 */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300']);

/**
 * SQLSTATEs worth retrying the whole transaction for: 40001 serialization_failure, 40P01
 * deadlock_detected, 55P03 lock_not_available, 57014 query_canceled (a statement timeout), 25P03
 * idle_in_transaction_session_timeout, and class 53 (insufficient resources: disk full, out of memory).
 */
const RETRYABLE_STATES = new Set(['40001', '40P01', '55P03', '57014', '25P03']);

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Whether the database could not be reached: the caller should wait and try again (HTTP 503). */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = codeOf(error);
  if (code && (SOCKET_CODES.has(code) || UNAVAILABLE_STATES.has(code) || code.startsWith('08'))) return true;
  if (error instanceof AggregateError && error.errors.some(isDatabaseUnavailable)) return true;
  return CLIENT_MESSAGES.some((pattern) => pattern.test(error.message));
}

/** Whether retrying the same transaction later may succeed: unavailability, lost races, exhausted resources. */
export function isTransientDatabaseError(error: unknown): boolean {
  if (isDatabaseUnavailable(error)) return true;
  const code = codeOf(error);
  return code !== undefined && (RETRYABLE_STATES.has(code) || code.startsWith('53'));
}

import type { Logger } from 'pino';
import { isTransientDatabaseError } from './errors.js';

/** Backoff after the `failures`-th transient database error in a row: 100 ms doubling to 5 s. */
export function databaseBackoffMs(failures: number): number {
  return Math.min(100 * 2 ** Math.max(failures - 1, 0), 5_000);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `write` until it succeeds, retrying transient database errors (a restart, a lost
 * connection, a serialization failure, a full disk) with backoff while `keepTrying()` holds. Other
 * errors, and the last transient one once `keepTrying()` turns false, are thrown.
 */
export async function retryTransient<T>(write: () => Promise<T>, options: { keepTrying: () => boolean; logger: Logger; what: string }): Promise<T> {
  for (let failures = 1; ; failures++) {
    try {
      return await write();
    } catch (error) {
      if (!isTransientDatabaseError(error) || !options.keepTrying()) throw error;
      const delay = databaseBackoffMs(failures);
      options.logger.warn({ err: error, retry_in_ms: delay, failures }, `${options.what}: database error; retrying`);
      await sleep(delay);
    }
  }
}

import type { Logger } from 'pino';
import { systemClock, type Clock } from './clock.js';
import type { Database } from './db/database.js';
import type { EffectQueries } from './queries/effects.js';

/**
 * Keeps the leases of this worker's running effects alive. Each lease is renewed every third of
 * its length until the attempt's deadline: a live worker's long effect is never taken over, a
 * dead or hung one's lapses within a lease of its deadline.
 */
export interface LeaseKeeper {
  /**
   * Renew `key`'s lease until `deadline` (epoch milliseconds), then let it lapse. Resolves once the
   * keeper has it: await it before running a service that might block this thread.
   */
  hold(key: string, deadline: number): Promise<void>;
  drop(key: string): void;
  close(): Promise<void>;
}

export interface LeaseKeeperOptions {
  db: Database;
  queries: EffectQueries;
  clock: Clock;
  logger: Logger;
  workerId: string;
  leaseMs: number;
}

/** What a store needs to renew leases on a connection of its own. */
export interface HeartbeatOptions {
  workerId: string;
  leaseMs: number;
  /** The renewal statement: `$1` the keys, `$2` the worker id, `$3` the new expiry. */
  sql: string;
  logger: Logger;
}

/**
 * The store's own keeper where it has one and time is real time (PostgreSQL: a thread with its own
 * connection, where there are other processes to take over); else timers on this thread.
 */
export function createLeaseKeeper(options: LeaseKeeperOptions): LeaseKeeper {
  const { db, clock, queries, workerId, leaseMs, logger } = options;
  if (clock === systemClock && db.keepLeases) return db.keepLeases({ workerId, leaseMs, sql: queries.heartbeatSql, logger });
  return new TimerLeaseKeeper(options);
}

/** Renewals on this thread's timers: for PGlite (one process, nothing to take over) and manual clocks. */
export class TimerLeaseKeeper implements LeaseKeeper {
  readonly #leases = new Map<string, number>();
  readonly #timer: ReturnType<typeof setInterval>;

  constructor(private readonly options: LeaseKeeperOptions) {
    this.#timer = setInterval(() => void this.#renew(), Math.max(options.leaseMs / 3, 50));
    // Not in browsers, whose timers keep nothing alive.
    (this.#timer as { unref?: () => void }).unref?.();
  }

  hold(key: string, deadline: number): Promise<void> {
    this.#leases.set(key, deadline);
    return Promise.resolve();
  }

  drop(key: string): void {
    this.#leases.delete(key);
  }

  async #renew(): Promise<void> {
    const { db, queries, clock, workerId, leaseMs, logger } = this.options;
    const now = clock.now();
    const keys = [...this.#leases].filter(([, deadline]) => deadline > now).map(([key]) => key);
    if (keys.length === 0) return;
    try {
      await queries.heartbeat(db, keys, workerId, new Date(now + leaseMs));
    } catch (error) {
      logger.warn({ err: error }, 'lease heartbeat failed');
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
  }
}

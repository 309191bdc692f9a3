import type { Logger } from 'pino';
import { systemClock, type Clock } from './clock.js';
import type { Database } from './db/database.js';
import type { EffectQueries } from './queries/effects.js';
import type { LivenessSql, WorkerQueries } from './queries/workers.js';

/**
 * How often a keeper says its worker lives and looks for dead ones, milliseconds. On PostgreSQL a
 * dead worker is one whose connection is gone, seen on the next sweep of any survivor: its effects
 * move about this long after the kill, not after their lease.
 */
export const HEARTBEAT_MS = 250;
/** How often an idle PGlite worker beats and sweeps. */
const IDLE_BEAT_MS = 5_000;
/**
 * How long a heartbeat alone vouches for a worker that has no backend to check (PGlite, manual
 * clocks), milliseconds: four beats on this thread, which a long synchronous stretch can delay.
 */
export const HEARTBEAT_ALIVE_MS = 2_000;
/** Workers of this process whose keepers beat on its main thread: alive, whatever a late heartbeat says. */
const aliveHere = new Set<string>();

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
  workers: WorkerQueries;
  /** The channel that wakes effect runners, notified when a sweep freed a dead worker's effects. */
  channel: string;
}

/** What a store needs to renew leases on a connection of its own. */
export interface HeartbeatOptions {
  workerId: string;
  leaseMs: number;
  /** The renewal statement: `$1` the keys, `$2` the worker id, `$3` the new expiry. */
  sql: string;
  /** Worker liveness: beat every `heartbeatMs` while holding leases, leave on close. */
  liveness: LivenessSql;
  heartbeatMs: number;
  logger: Logger;
}

/**
 * The store's own keeper where it has one and time is real time (PostgreSQL: a thread with its own
 * connection, where there are other processes to take over); else timers on this thread.
 */
export function createLeaseKeeper(options: LeaseKeeperOptions): LeaseKeeper {
  const { db, clock, queries, workers, workerId, leaseMs, logger } = options;
  if (clock === systemClock && db.keepLeases) {
    const keeper = db.keepLeases({ workerId, leaseMs, sql: queries.heartbeatSql, liveness: workers.sql, heartbeatMs: HEARTBEAT_MS, logger });
    return withSweeps(keeper, options);
  }
  return new TimerLeaseKeeper(options);
}

/**
 * A store's keeper, with sweeps for dead workers every HEARTBEAT_MS on this thread and the pool. The
 * keeper's own connection opens only once this worker holds a lease (as before), so a runtime that
 * never runs an effect costs no extra connection; a busy thread here only delays the takeover of
 * another worker's effects, never this worker's own liveness.
 */
function withSweeps(keeper: LeaseKeeper, options: LeaseKeeperOptions): LeaseKeeper {
  const { db, workers, workerId, clock, channel, logger } = options;
  let sweeping: Promise<void> | null = null;
  const sweep = async () => {
    try {
      if (await workers.sweep(db, new Date(clock.now()), [workerId], channel)) logger.info('made the running effects of a dead worker due');
    } catch (error) {
      logger.warn({ err: error }, 'sweep for dead workers failed');
    }
  };
  const timer = setInterval(() => (sweeping ??= sweep().finally(() => (sweeping = null))), HEARTBEAT_MS);
  (timer as { unref?: () => void }).unref?.();
  return {
    hold: (key, deadline) => keeper.hold(key, deadline),
    drop: (key) => keeper.drop(key),
    async close() {
      clearInterval(timer);
      await sweeping;
      await keeper.close();
    },
  };
}

/** Renewals on this thread's timers: for PGlite (one process, nothing to take over) and manual clocks. */
export class TimerLeaseKeeper implements LeaseKeeper {
  readonly #leases = new Map<string, number>();
  readonly #timers: ReturnType<typeof setInterval>[];
  #beating: Promise<void> = Promise.resolve();
  #lastBeat = -Infinity;

  constructor(private readonly options: LeaseKeeperOptions) {
    aliveHere.add(options.workerId);
    this.#timers = [
      setInterval(() => void this.#renew(), Math.max(options.leaseMs / 3, 50)),
      setInterval(() => (this.#beating = this.#beat()), HEARTBEAT_MS * 2),
    ];
    this.#beating = this.#beat();
    // Not in browsers, whose timers keep nothing alive.
    for (const timer of this.#timers) (timer as { unref?: () => void }).unref?.();
  }

  /** Says this worker lives (a heartbeat only: the pool's connections are not this worker's own), then sweeps. */
  async #beat(): Promise<void> {
    const { db, workers, workerId, clock, channel, logger } = this.options;
    // PGlite serves one connection (in a browser, each write an IndexedDB flush): an idle worker there
    // beats and sweeps every 5 s, not every 500 ms, which held it and slowed everything else.
    if (db.kind === 'pglite' && this.#leases.size === 0 && performance.now() - this.#lastBeat < IDLE_BEAT_MS) return;
    this.#lastBeat = performance.now();
    try {
      await workers.beat(db, workerId, HEARTBEAT_ALIVE_MS, false);
      if (await workers.sweep(db, new Date(clock.now()), [...aliveHere], channel)) logger.info('made the running effects of a dead worker due');
    } catch (error) {
      logger.warn({ err: error }, 'worker heartbeat failed');
    }
  }

  hold(key: string, deadline: number): Promise<void> {
    const idle = this.#leases.size === 0;
    this.#leases.set(key, deadline);
    // A PGlite worker beats only while it holds leases: say it lives as soon as it holds one.
    if (idle && this.options.db.kind === 'pglite') this.#beating = this.#beating.then(() => this.#beat());
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
    for (const timer of this.#timers) clearInterval(timer);
    aliveHere.delete(this.options.workerId);
    await this.#beating;
    await this.options.workers.leave(this.options.db, this.options.workerId).catch((error: unknown) => {
      this.options.logger.warn({ err: error }, 'could not remove the worker row; the next sweep does');
    });
  }
}

import type { HeartbeatOptions, LeaseKeeper } from '../lease-keeper.js';

/**
 * The one-method query interface every query module takes, so PGlite and `pg` both fit
 * (the shape pg-boss uses for its adapters).
 */
export interface Queryable {
  query<R = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<QueryResult<R>>;
}

export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

/** A connection inside a transaction. */
export interface Transaction extends Queryable {
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

/** A database the engine can run on: PostgreSQL through `pg`, or PGlite in process. */
export interface Database extends Queryable {
  readonly kind: 'pg' | 'pglite';
  /** Runs `fn` in one transaction on one connection; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  /**
   * Subscribes to a NOTIFY channel. `onReconnect` is called after the listening connection was lost
   * and re-established, since notifications sent meanwhile are gone.
   */
  listen(channel: string, onNotify: (payload: string) => void, onReconnect?: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
  /**
   * Renews this worker's effect leases somewhere a busy main thread cannot starve, when the store can
   * (PgDatabase: a worker thread with a connection of its own). Without it, timers on this thread do.
   */
  keepLeases?(options: HeartbeatOptions): LeaseKeeper;
}

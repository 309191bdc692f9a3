import pg from 'pg';
import type { Logger } from 'pino';
import type { HeartbeatOptions, LeaseKeeper } from '../lease-keeper.js';
import { defaultLogger } from '../logger.js';
import type { Database, QueryResult, Transaction } from './database.js';
import { ThreadLeaseKeeper } from './pg-lease-thread.js';
import { Turns } from './turns.js';

export interface PgDatabaseOptions {
  connectionString: string;
  /** Pool size. Default 10. */
  maxConnections?: number;
  /**
   * A transaction left open longer than this is ended by the server, which releases the instance it
   * had claimed: a hung (not dead) worker cannot hold an instance forever. Milliseconds, default 10000.
   */
  idleInTransactionTimeoutMs?: number;
  /** How long to wait for a new connection before failing. Milliseconds, default 10000. */
  connectTimeoutMs?: number;
  /** Where connection trouble is logged. Default: JSON lines at info on stdout. */
  logger?: Logger;
  /**
   * What pg_stat_activity shows for this process's connections. Default `docket (pid N)`, so an
   * operator can tell which process holds which connection; an application_name in the URL wins.
   */
  applicationName?: string;
}

/** PostgreSQL through a `pg` pool, with a dedicated connection for LISTEN. */
export class PgDatabase implements Database {
  readonly kind = 'pg' as const;
  readonly #pool: pg.Pool;
  readonly #options: PgDatabaseOptions & { logger: Logger; applicationName: string };
  #listener: pg.Client | undefined;
  #connecting: Promise<pg.Client> | undefined;
  readonly #listenerTurns = new Turns();
  readonly #channels = new Map<string, Set<(payload: string) => void>>();
  readonly #reconnectHandlers = new Set<() => void>();
  #closed = false;

  /** Where this pool connects; the lease keeper's thread opens its own connection there. */
  get connectionString(): string {
    return this.#options.connectionString;
  }

  keepLeases(options: HeartbeatOptions): LeaseKeeper {
    return new ThreadLeaseKeeper(options, this.connectionString, this.#options.applicationName);
  }

  constructor(settings: PgDatabaseOptions) {
    const options = { ...settings, logger: settings.logger ?? defaultLogger(), applicationName: settings.applicationName ?? `docket (pid ${process.pid})` };
    this.#options = options;
    this.#pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.maxConnections ?? 10,
      // A server that accepts TCP but never answers must not hang a step or a request forever.
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      application_name: options.applicationName,
      options: `-c idle_in_transaction_session_timeout=${options.idleInTransactionTimeoutMs ?? 10_000}`,
    });
    // An idle client that errors (server restart) is removed by the pool; without a handler the
    // error event would crash the process.
    this.#pool.on('error', (error) => options.logger.warn({ err: error }, 'idle database connection failed'));
  }

  async query<R>(text: string, values?: readonly unknown[]): Promise<QueryResult<R>> {
    const result = await this.#pool.query(text, values as unknown[]);
    return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
  }

  async transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    // A checked-out client has no listener of the pool's: when the server ends the connection
    // (a restart: 57P01) pg emits 'error', which without a listener ends the process. The query in
    // flight fails on its own; this only keeps the error from being thrown at the process.
    let lost: Error | undefined;
    const onError = (error: Error) => {
      lost = error;
      this.#options.logger.warn({ err: error }, 'database connection lost in a transaction');
    };
    client.on('error', onError);
    const tx: Transaction = {
      exec: async (sql: string) => {
        await client.query(sql);
      },
      query: async <R>(text: string, values?: readonly unknown[]) => {
        const result = await client.query(text, values as unknown[]);
        return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
      },
    };
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const value = await fn(tx);
      await client.query('COMMIT');
      return value;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackError) {
        // The connection is unusable (server gone, socket closed): do not hand it to the next caller.
        broken = rollbackError as Error;
      }
      throw error;
    } finally {
      client.off('error', onError);
      client.release(broken ?? lost);
    }
  }

  async listen(channel: string, onNotify: (payload: string) => void, onReconnect?: () => void) {
    let handlers = this.#channels.get(channel);
    const fresh = !handlers;
    if (!handlers) {
      handlers = new Set();
      this.#channels.set(channel, handlers);
    }
    handlers.add(onNotify);
    if (onReconnect) this.#reconnectHandlers.add(onReconnect);
    const client = await this.#listenerClient();
    if (fresh) await this.#onListener(client, `LISTEN "${channel}"`);
    return async () => {
      handlers.delete(onNotify);
      if (onReconnect) this.#reconnectHandlers.delete(onReconnect);
      if (handlers.size === 0 && this.#channels.get(channel) === handlers) {
        this.#channels.delete(channel);
        if (this.#listener && !this.#closed) await this.#onListener(this.#listener, `UNLISTEN "${channel}"`).catch(() => {});
      }
    };
  }

  /**
   * LISTEN and UNLISTEN one at a time: runtimes subscribe to several channels at once, and pg runs
   * one query at a time on a client (it queues a second, deprecated; pg 9 refuses it).
   */
  #onListener(client: pg.Client, sql: string): Promise<void> {
    return this.#listenerTurns.run(async () => {
      await client.query(sql);
    });
  }

  #listenerClient(): Promise<pg.Client> {
    if (this.#listener) return Promise.resolve(this.#listener);
    this.#connecting ??= this.#connectListener().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #connectListener(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.#options.connectionString, application_name: this.#options.applicationName });
    client.on('notification', (message) => {
      for (const handler of this.#channels.get(message.channel) ?? []) handler(message.payload ?? '');
    });
    client.on('error', (error) => {
      this.#options.logger.warn({ err: error }, 'listen connection lost; reconnecting');
      if (this.#listener === client) this.#listener = undefined;
      client.end().catch(() => {});
      void this.#reconnect();
    });
    await client.connect();
    for (const channel of this.#channels.keys()) await client.query(`LISTEN "${channel}"`);
    this.#listener = client;
    return client;
  }

  async #reconnect(): Promise<void> {
    for (let delay = 100; !this.#closed; delay = Math.min(delay * 2, 5_000)) {
      try {
        await this.#listenerClient();
        for (const handler of this.#reconnectHandlers) handler();
        return;
      } catch (error) {
        this.#options.logger.warn({ err: error, retry_in_ms: delay }, 'listen reconnect failed');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const listener = this.#listener ?? (await this.#connecting?.catch(() => undefined));
    this.#listener = undefined;
    await listener?.end().catch(() => {});
    await this.#pool.end();
  }
}

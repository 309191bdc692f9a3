import { PGlite, type PGliteOptions } from '@electric-sql/pglite';
import type { Database, QueryResult, Transaction } from './database.js';
import { Turns } from './turns.js';

/**
 * PGlite (WASM Postgres) in this process: the zero-set-up default. It serves one connection, so
 * transactions run one at a time; the SQL is the same as on PostgreSQL.
 */
export class PgliteDatabase implements Database {
  readonly kind = 'pglite' as const;
  readonly #db: PGlite;
  readonly #owned: boolean;
  /** Queries and transactions, one at a time in the order asked for (see #inTurn). */
  readonly #turns = new Turns();

  private constructor(db: PGlite, owned: boolean) {
    this.#db = db;
    this.#owned = owned;
  }

  /**
   * Opens a PGlite database in `dataDir` (a folder, or `idb://name` in a browser), or in memory when
   * `dataDir` is undefined. `options` as PGlite takes them, e.g. `extensions: { vector }` from
   * `@electric-sql/pglite-pgvector`. `loadDataDir` starts a new database from a dump (`dumpDataDir()`
   * of another PGlite) instead of creating one: a seeded database, or a fresh one without initdb's
   * seconds. (PGlite replays a dump as after a crash and may leave that recovery's timer armed,
   * keeping the process alive until close(); a dump made after `ALTER SYSTEM SET
   * log_startup_progress_interval = 0` and a CHECKPOINT leaves none.) A program opening many may
   * compile PGlite's WASM once and pass it as `pgliteWasmModule`.
   */
  static async open(dataDir?: string, options: Omit<PGliteOptions, 'dataDir'> = {}): Promise<PgliteDatabase> {
    if (dataDir && !/^[a-z]+:\/\//.test(dataDir)) makeFolder(dataDir);
    const db = await PGlite.create(dataDir, options);
    return new PgliteDatabase(db, true);
  }

  /** Wraps a PGlite instance the caller owns; close() leaves it open. */
  static wrap(db: PGlite): PgliteDatabase {
    return new PgliteDatabase(db, false);
  }

  query<R>(text: string, values?: readonly unknown[]): Promise<QueryResult<R>> {
    return this.#inTurn(async () => {
      const result = await this.#db.query<R>(text, values as unknown[]);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    });
  }

  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    return this.#inTurn(() => this.#transaction(fn));
  }

  /**
   * PGlite runs one query or transaction at a time, in the order they were asked for. Queueing them
   * here, in the same order, lets the thread breathe as each one begins, not as it was asked for: a
   * burst asked for at once passed its checks together and then ran end to end without a turn.
   */
  #inTurn<T>(run: () => Promise<T>): Promise<T> {
    return this.#turns.run(async () => {
      await breathe();
      return run();
    });
  }

  #transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    return this.#db.transaction(async (tx) =>
      fn({
        exec: async (sql: string) => {
          await breathe();
          await tx.exec(sql);
        },
        query: async <R>(text: string, values?: readonly unknown[]) => {
          await breathe();
          const result = await tx.query<R>(text, values as unknown[]);
          return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
        },
      }),
    );
  }

  async listen(channel: string, onNotify: (payload: string) => void) {
    const unlisten = await this.#db.listen(channel, onNotify);
    return async () => {
      if (!this.#db.closed) await unlisten();
    };
  }

  async close(): Promise<void> {
    if (this.#owned && !this.#db.closed) await this.#db.close();
  }
}

/**
 * PGlite runs each query synchronously, and a query's result resolves the next caller's query as a
 * microtask: under load (fifty uploads at once) the chain of queries never returned to the event
 * loop, and timers, sockets and HTTP requests waited seconds (measured: 2.6 s alone, 8 s on a loaded
 * machine, enough for keep-alive sockets to be reset). Every query first checks how long the
 * thread has gone without a turn of the event loop, and past SLICE_MS gives it one.
 */
const SLICE_MS = 10;
let sliceStart = performance.now();
const nextTurn = turnOfTheLoop();

/** setImmediate in Node, Bun and Deno; a MessageChannel in a browser, where setTimeout(0) waits 4 ms once nested. */
function turnOfTheLoop(): (resume: () => void) => void {
  const immediate = (globalThis as { setImmediate?: (fn: () => void) => void }).setImmediate;
  if (immediate) return (resume) => immediate(resume);
  if (typeof MessageChannel === 'undefined') return (resume) => setTimeout(resume, 0);
  const waiting: (() => void)[] = [];
  let channel: MessageChannel | undefined;
  return (resume) => {
    if (!channel) {
      channel = new MessageChannel();
      channel.port1.onmessage = () => waiting.shift()?.();
    }
    waiting.push(resume);
    channel.port2.postMessage(null);
  };
}

async function breathe(): Promise<void> {
  if (performance.now() - sliceStart < SLICE_MS) return;
  await new Promise<void>((resume) => nextTurn(resume));
  sliceStart = performance.now();
}

/**
 * PGlite creates its folder but not the folders above it. Reached through getBuiltinModule rather
 * than an import, so a browser bundle of this store holds no `node:fs`.
 */
function makeFolder(dir: string): void {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const fs = proc?.getBuiltinModule?.('node:fs') as typeof import('node:fs') | undefined;
  fs?.mkdirSync(dir, { recursive: true });
}

import { PGlite, type Extensions } from '@electric-sql/pglite';
import type { Database, QueryResult, Transaction } from './database.js';

/**
 * PGlite (WASM Postgres) in this process: the zero-set-up default. It serves one connection, so
 * transactions run one at a time; the SQL is the same as on PostgreSQL.
 */
export class PgliteDatabase implements Database {
  readonly kind = 'pglite' as const;
  readonly #db: PGlite;
  readonly #owned: boolean;

  private constructor(db: PGlite, owned: boolean) {
    this.#db = db;
    this.#owned = owned;
  }

  /**
   * Opens a PGlite database in `dataDir` (a folder, or `idb://name` in a browser), or in memory when
   * `dataDir` is undefined. `extensions` as PGlite takes them, e.g. `{ vector }` from `@electric-sql/pglite-pgvector`.
   */
  static async open(dataDir?: string, options: { extensions?: Extensions } = {}): Promise<PgliteDatabase> {
    if (dataDir && !/^[a-z]+:\/\//.test(dataDir)) makeFolder(dataDir);
    const db = await PGlite.create(dataDir, options.extensions ? { extensions: options.extensions } : {});
    return new PgliteDatabase(db, true);
  }

  /** Wraps a PGlite instance the caller owns; close() leaves it open. */
  static wrap(db: PGlite): PgliteDatabase {
    return new PgliteDatabase(db, false);
  }

  async query<R>(text: string, values?: readonly unknown[]): Promise<QueryResult<R>> {
    const result = await this.#db.query<R>(text, values as unknown[]);
    return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
  }

  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    return this.#db.transaction(async (tx) =>
      fn({
        exec: async (sql: string) => {
          await tx.exec(sql);
        },
        query: async <R>(text: string, values?: readonly unknown[]) => {
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
 * PGlite creates its folder but not the folders above it. Reached through getBuiltinModule rather
 * than an import, so a browser bundle of this store holds no `node:fs`.
 */
function makeFolder(dir: string): void {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const fs = proc?.getBuiltinModule?.('node:fs') as typeof import('node:fs') | undefined;
  fs?.mkdirSync(dir, { recursive: true });
}

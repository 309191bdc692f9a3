import type { Logger } from 'pino';
import { ConfigError } from '../errors.js';
import type { Database } from './database.js';
import type * as PgStore from './pg.js';
import type * as PgliteStore from './pglite.js';

/** Where the embedded default keeps its files when no database is named. */
export const DEFAULT_PGLITE_DIR = './data';

export interface OpenOptions {
  maxConnections?: number;
  idleInTransactionTimeoutMs?: number;
  logger: Logger;
  /** PGlite extensions to load (e.g. `{ vector }` from `@electric-sql/pglite-pgvector`); ignored on PostgreSQL. */
  pgliteExtensions?: Record<string, unknown>;
}

/**
 * Opens the database a runtime was pointed at:
 * - `postgres://…` or `postgresql://…`: PostgreSQL through `pg`;
 * - `pglite:<dir>`: PGlite with its files in `<dir>`;
 * - `idb://<name>`: PGlite in the browser's IndexedDB;
 * - `memory`: PGlite in memory, gone when the process ends;
 * - undefined: PGlite under ./data.
 *
 * Each store is loaded only when named, so `pg` and PGlite are optional: install the one you use.
 */
export async function openDatabase(spec: string | undefined, options: OpenOptions): Promise<Database> {
  const target = spec ?? `pglite:${DEFAULT_PGLITE_DIR}`;
  if (/^postgres(ql)?:\/\//.test(target)) {
    const { PgDatabase } = await loadStore<typeof PgStore>('pg', 'pg');
    return new PgDatabase({ connectionString: target, ...options });
  }
  const pglite = async () => (await loadStore<typeof PgliteStore>('pglite', '@electric-sql/pglite')).PgliteDatabase;
  const extensions = (options.pgliteExtensions ? { extensions: options.pgliteExtensions } : {}) as Parameters<typeof PgliteStore.PgliteDatabase.open>[1];
  if (target === 'memory') return (await pglite()).open(undefined, extensions);
  if (target.startsWith('idb://')) return (await pglite()).open(target, extensions);
  if (target.startsWith('pglite:')) {
    const dir = target.slice('pglite:'.length);
    if (!dir) throw new ConfigError('database "pglite:" needs a directory, e.g. "pglite:./data"');
    return (await pglite()).open(dir, extensions);
  }
  throw new ConfigError(`database must be a postgres:// URL, "pglite:<dir>", "idb://<name>" or "memory"; got "${maskUrl(target)}"`);
}

// The specifier is a variable on purpose: bundlers then leave the store out of a bundle that never
// names it (a browser bundle holds no `pg`). Such a bundle passes an open Database instead of a URL.
const STORES = { pg: './pg.js', pglite: './pglite.js' } as const;

async function loadStore<T>(store: keyof typeof STORES, pkg: string): Promise<T> {
  const specifier: string = STORES[store];
  try {
    return (await import(specifier)) as T;
  } catch (error) {
    const missing = (error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && String((error as Error).message).includes(pkg);
    if (missing) throw new ConfigError(`the ${store} store needs the package "${pkg}": npm install ${store === 'pglite' ? '@electric-sql/pglite' : 'pg'}`, { cause: error });
    throw new ConfigError(
      `could not load the ${store} store (${(error as Error).message}); in a bundle, open the database yourself and pass it: ` +
        `createRuntime({ database: await PgliteDatabase.open('idb://name') }) with PgliteDatabase from 'docket/pglite'`,
      { cause: error },
    );
  }
}

/** Hides the password of a connection URL so it can be logged. */
export function maskUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@');
}

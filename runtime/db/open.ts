import { mkdirSync } from 'node:fs';
import type { Logger } from 'pino';
import { ConfigError } from '../errors.js';
import type { Database } from './database.js';
import { PgDatabase } from './pg.js';
import { PgliteDatabase } from './pglite.js';

/** Where the embedded default keeps its files when no database is named. */
export const DEFAULT_PGLITE_DIR = './data';

export interface OpenOptions {
  maxConnections?: number;
  idleInTransactionTimeoutMs?: number;
  logger: Logger;
}

/**
 * Opens the database a runtime was pointed at:
 * - `postgres://…` or `postgresql://…`: PostgreSQL through `pg`;
 * - `pglite:<dir>`: PGlite with its files in `<dir>`;
 * - `memory`: PGlite in memory, gone when the process ends;
 * - undefined: PGlite under ./data.
 */
export async function openDatabase(spec: string | undefined, options: OpenOptions): Promise<Database> {
  const target = spec ?? `pglite:${DEFAULT_PGLITE_DIR}`;
  if (/^postgres(ql)?:\/\//.test(target)) {
    return new PgDatabase({ connectionString: target, ...options });
  }
  if (target === 'memory') return PgliteDatabase.open();
  if (target.startsWith('pglite:')) {
    const dir = target.slice('pglite:'.length);
    if (!dir) throw new ConfigError('database "pglite:" needs a directory, e.g. "pglite:./data"');
    mkdirSync(dir, { recursive: true });
    return PgliteDatabase.open(dir);
  }
  throw new ConfigError(
    `database must be a postgres:// URL, "pglite:<dir>" or "memory"; got "${maskUrl(target)}"`,
  );
}

/** Hides the password of a connection URL so it can be logged. */
export function maskUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@');
}

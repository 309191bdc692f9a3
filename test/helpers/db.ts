import { randomBytes } from 'node:crypto';
import pg from 'pg';
import pino, { type Logger } from 'pino';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedPgliteDir, templatePglite } from './pglite-template.js';
import type { Database } from '../../runtime/db/database.js';

/**
 * Which back end this run of the suite tests: `DOCKET_TEST_BACKEND=postgres` with DATABASE_URL
 * (default postgres://postgres@127.0.0.1:5432/docket_test), otherwise in-process PGlite.
 */
export const backend: 'pglite' | 'postgres' = process.env.DOCKET_TEST_BACKEND === 'postgres' ? 'postgres' : 'pglite';
export const postgresUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/docket_test';

/** A fresh schema name per test, so tests never see each other's rows. */
export function freshSchema(prefix = 't'): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

export interface TestDatabase {
  /** What to pass as `database`: a URL on PostgreSQL, a shared PGlite on PGlite. */
  database: string | Database;
  schema: string;
  /** Runs SQL against the test database from outside any runtime. */
  query<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<R[]>;
  /** The first row of a query that must return one. */
  one<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<R>;
  close(): Promise<void>;
}

/**
 * One database per test: a new schema on PostgreSQL, a new in-memory PGlite otherwise. Runtimes
 * made from it in one test share it, as processes share one database.
 */
export async function testDatabase(): Promise<TestDatabase> {
  const base = await openTestDatabase();
  return {
    ...base,
    async one(text, values) {
      const rows = await base.query(text, values);
      if (rows.length === 0) throw new Error(`no row from: ${text}`);
      return rows[0] as never;
    },
  };
}

async function openTestDatabase(): Promise<Omit<TestDatabase, 'one'>> {
  const schema = freshSchema();
  if (backend === 'postgres') {
    const pool = new pg.Pool({ connectionString: postgresUrl, max: 2 });
    return {
      database: postgresUrl,
      schema,
      query: async (text, values) => (await pool.query(text, values)).rows,
      close: async () => {
        await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await pool.end();
      },
    };
  }
  // A test file shares one PGlite and each test gets its own schema, exactly as on PostgreSQL.
  const db = await sharedPglite();
  return {
    database: db,
    schema,
    query: async (text, values) => (await db.query(text, values)).rows as never,
    close: async () => {
      await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    },
  };
}

let pglite: Promise<Database> | undefined;
function sharedPglite(): Promise<Database> {
  pglite ??= templatePglite();
  return pglite;
}

/**
 * A whole database of this test's own, for code that opens its own by URL (the pipeline, with its
 * fixed schema names): a new PostgreSQL database, or a new in-memory PGlite from the template,
 * passed as `database` beside DATABASE_URL `memory`. Dropped or closed when the test ends. A URL the
 * test names (`given`) is used as it is.
 */
export async function ownDatabase(t: { teardown(fn: () => Promise<void>): void }, given?: string): Promise<{ DATABASE_URL: string; database?: Database }> {
  if (given) return { DATABASE_URL: given };
  if (backend === 'postgres') return { DATABASE_URL: await freshDatabase(t) };
  const database = await templatePglite();
  t.teardown(() => database.close());
  return { DATABASE_URL: 'memory', database };
}

/**
 * A new folder for a process of its own opening `pglite:<folder>` (the CLI), seeded from the
 * template; removed when the test ends. Returns the folder.
 */
export async function pgliteFolder(t: { teardown(fn: () => Promise<void>): void }, prefix = 'docket-'): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(async () => rmSync(dir, { recursive: true, force: true }));
  await seedPgliteDir(dir);
  return dir;
}

export const silent: Logger = pino({ level: 'silent' });

/** A logger whose lines the test can read back as objects. */
export function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

/**
 * A PostgreSQL database of its own (created now, dropped when the test ends), for code that uses
 * fixed schema names: the pipeline's tables, the example's default schema.
 */
export async function freshDatabase(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const name = freshSchema('docket_db');
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  t.teardown(async () => {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.end();
  });
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

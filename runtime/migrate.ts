import type { Logger } from 'pino';
import type { Database } from './db/database.js';
import { ConfigError, DocketError } from './errors.js';
import type { SchemaName } from './schema.js';

export interface Migration {
  id: number;
  name: string;
  sql: string;
  /**
   * Code older than this migration cannot run against the schema it leaves (a column dropped, a
   * meaning changed). Marked by a first line `-- docket: breaking` in the file.
   */
  breaking: boolean;
}

/** The database holds a breaking migration this code does not know: a newer version must run it. */
export class SchemaTooNewError extends DocketError {
  constructor(readonly unknown: { id: number; name: string }[]) {
    super(
      'SCHEMA_TOO_NEW',
      `the database has breaking migration(s) ${unknown.map((m) => `${String(m.id).padStart(4, '0')}_${m.name}`).join(', ')} that this code does not know; ` +
        'run a version of docket that has them',
    );
  }
}

const FILE_NAME = /^\d{4}_[a-z0-9_]+\.sql$/;

/** Migrations from numbered `NNNN_name.sql` files and their text, in order; other names are skipped. */
export function parseMigrations(files: readonly { file: string; sql: string }[]): Migration[] {
  return files
    .filter(({ file }) => FILE_NAME.test(file))
    .sort((a, b) => (a.file < b.file ? -1 : 1))
    .map(({ file, sql }) => ({ id: Number(file.slice(0, 4)), name: file.slice(5, -4), sql, breaking: /^--\s*docket:\s*breaking\b/.test(sql) }));
}

/**
 * Reads numbered `NNNN_name.sql` files from a folder, in order: for an application's own migrations
 * on a server runtime (Node, Bun, Deno). The engine's own are embedded in the code instead, so that
 * bundles carry them. The file system is reached only here, so the engine stays loadable in a browser.
 */
export function loadMigrations(dir: string | URL): Migration[] {
  const fs = builtin<typeof import('node:fs')>('node:fs');
  const path = dir instanceof URL ? builtin<typeof import('node:url')>('node:url').fileURLToPath(dir) : dir;
  return parseMigrations(fs.readdirSync(path).map((file) => ({ file, sql: FILE_NAME.test(file) ? fs.readFileSync(`${path}/${file}`, 'utf8') : '' })));
}

function builtin<T>(name: string): T {
  const load = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule;
  if (!load) throw new ConfigError(`loadMigrations needs ${name}, which this runtime does not have; pass parseMigrations([{ file, sql }]) instead`);
  return load(name) as T;
}

/**
 * Applies the migrations not yet recorded in `<schema>.migrations`, in one transaction. An advisory
 * lock keyed by the schema serialises processes that start at once: the second waits, then finds
 * everything applied. Forward-only: a database newer than this code is left alone, with a warning;
 * one with a newer breaking migration refuses this code (SchemaTooNewError).
 *
 * `:SCHEMA` in a migration's text is replaced by the quoted schema name.
 */
export async function migrate(db: Database, schema: SchemaName, migrations: Migration[], scope = 'engine', logger?: Logger): Promise<number[]> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`docket:${schema.name}:migrate`]);
    await tx.query(`CREATE SCHEMA IF NOT EXISTS ${schema.quoted}`);
    await tx.query(
      `CREATE TABLE IF NOT EXISTS ${schema.table('migrations')} (
         scope text NOT NULL, id integer NOT NULL, name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (scope, id))`,
    );
    await tx.query(`ALTER TABLE ${schema.table('migrations')} ADD COLUMN IF NOT EXISTS breaking boolean NOT NULL DEFAULT false`);
    const { rows } = await tx.query<{ id: number; name: string; breaking: boolean }>(
      `SELECT id, name, breaking FROM ${schema.table('migrations')} WHERE scope = $1`,
      [scope],
    );
    const known = new Set(migrations.map((m) => m.id));
    const newer = rows.filter((row) => !known.has(row.id));
    if (newer.some((row) => row.breaking)) throw new SchemaTooNewError(newer.filter((row) => row.breaking));
    if (newer.length > 0) {
      logger?.warn({ scope, schema: schema.name, migrations: newer.map((m) => `${m.id}_${m.name}`) }, 'the database has migrations this code does not know (none breaking); running anyway');
    }
    const applied = new Set(rows.map((row) => row.id));
    const done: number[] = [];
    for (const migration of migrations) {
      if (applied.has(migration.id)) continue;
      await tx.query(`INSERT INTO ${schema.table('migrations')} (scope, id, name, breaking) VALUES ($1, $2, $3, $4)`, [
        scope,
        migration.id,
        migration.name,
        migration.breaking,
      ]);
      await tx.exec(migration.sql.replaceAll(':SCHEMA', schema.quoted));
      done.push(migration.id);
    }
    return done;
  });
}

import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Database } from './db/database.js';
import type { SchemaName } from './schema.js';

export interface Migration {
  id: number;
  name: string;
  sql: string;
}

/** Reads numbered `NNNN_name.sql` files from a folder, in order. */
export function loadMigrations(dir: string | URL): Migration[] {
  const path = dir instanceof URL ? fileURLToPath(dir) : dir;
  return readdirSync(path)
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      id: Number(file.slice(0, 4)),
      name: file.slice(5, -4),
      sql: readFileSync(`${path}/${file}`, 'utf8'),
    }));
}

export const ENGINE_MIGRATIONS = new URL('./sql/migrations/', import.meta.url);

/**
 * Applies the migrations not yet recorded in `<schema>.migrations`, in one transaction. An advisory
 * lock keyed by the schema serialises processes that start at once: the second waits, then finds
 * everything applied. Forward-only: a database newer than this code is left alone.
 *
 * `:SCHEMA` in a migration's text is replaced by the quoted schema name.
 */
export async function migrate(db: Database, schema: SchemaName, migrations: Migration[], scope = 'engine'): Promise<number[]> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`docket:${schema.name}:migrate`]);
    await tx.query(`CREATE SCHEMA IF NOT EXISTS ${schema.quoted}`);
    await tx.query(
      `CREATE TABLE IF NOT EXISTS ${schema.table('migrations')} (
         scope text NOT NULL, id integer NOT NULL, name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (scope, id))`,
    );
    const { rows } = await tx.query<{ id: number }>(
      `SELECT id FROM ${schema.table('migrations')} WHERE scope = $1`,
      [scope],
    );
    const applied = new Set(rows.map((row) => row.id));
    const done: number[] = [];
    for (const migration of migrations) {
      if (applied.has(migration.id)) continue;
      await tx.query(`INSERT INTO ${schema.table('migrations')} (scope, id, name) VALUES ($1, $2, $3)`, [
        scope,
        migration.id,
        migration.name,
      ]);
      await tx.exec(migration.sql.replaceAll(':SCHEMA', schema.quoted));
      done.push(migration.id);
    }
    return done;
  });
}

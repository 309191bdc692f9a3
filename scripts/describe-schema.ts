import type { Queryable } from '../runtime/db/database.js';

/**
 * A deterministic text description of an engine schema (tables, columns, constraints, indexes,
 * triggers, functions) with the schema name replaced by `:SCHEMA`, so a dump from PGlite or
 * PostgreSQL, under any schema name, compares equal when the structure is equal.
 */
export async function describeSchema(db: Queryable, schema: string): Promise<string> {
  const lines: string[] = [];
  const columns = await db.query<{ table_name: string; column_name: string; data_type: string; is_nullable: string; column_default: string | null }>(
    `SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns
     WHERE table_schema = $1 ORDER BY table_name, ordinal_position`,
    [schema],
  );
  let table = '';
  for (const c of columns.rows) {
    if (c.table_name !== table) {
      table = c.table_name;
      lines.push(`table ${table}`);
    }
    const nullable = c.is_nullable === 'YES' ? '' : ' not null';
    const fallback = c.column_default ? ` default ${c.column_default}` : '';
    lines.push(`  ${c.column_name} ${c.data_type}${nullable}${fallback}`);
  }
  // Newer servers (PGlite) also list NOT NULL as constraints; the columns above already say it.
  const constraints = await db.query<{ conrelid: string; conname: string; def: string }>(
    `SELECT conrelid::regclass::text AS conrelid, conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
     WHERE connamespace = $1::regnamespace AND contype <> 'n' ORDER BY conrelid::regclass::text, conname`,
    [schema],
  );
  for (const c of constraints.rows) lines.push(`constraint ${c.conrelid} ${c.conname} ${c.def}`);
  const indexes = await db.query<{ indexdef: string }>(`SELECT indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname`, [schema]);
  for (const i of indexes.rows) lines.push(`index ${i.indexdef}`);
  const triggers = await db.query<{ def: string }>(
    `SELECT pg_get_triggerdef(t.oid) AS def FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
     WHERE c.relnamespace = $1::regnamespace AND NOT t.tgisinternal ORDER BY t.tgname`,
    [schema],
  );
  for (const tr of triggers.rows) lines.push(`trigger ${tr.def}`);
  const functions = await db.query<{ proname: string }>(`SELECT proname FROM pg_proc WHERE pronamespace = $1::regnamespace ORDER BY proname`, [schema]);
  for (const f of functions.rows) lines.push(`function ${f.proname}`);
  const text = lines.join('\n').replaceAll(`"${schema}".`, ':SCHEMA.').replaceAll(`${schema}.`, ':SCHEMA.');
  return `${text}\n`;
}

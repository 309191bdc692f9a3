import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMigrations, SchemaTooNewError } from '../../runtime/migrate.js';
import { createRuntime } from '../../runtime/runtime.js';
import { MIGRATIONS } from '../../runtime/sql/migrations.js';
import { DatabaseUnavailableError } from '../../runtime/errors.js';
import { describeSchema } from '../../scripts/describe-schema.js';
import { backend, capturingLogger, freshSchema, postgresUrl, silent, testDatabase } from '../helpers/db.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { recorder } from '../helpers/machines.js';
import { harness } from '../helpers/runtime.js';
import { inRepo } from '../helpers/repo.js';

failOnLeakedRuntimes();

test('runtimes starting at once on a fresh schema migrate it once', async (t) => {
  const db = await testDatabase();
  t.teardown(() => db.close());
  const runtimes = await Promise.all(
    [1, 2, 3].map(() => createRuntime({ database: db.database, schema: db.schema, machines: { recorder }, logger: silent, worker: false })),
  );
  t.teardown(async () => {
    for (const rt of runtimes) await rt.close();
  });
  const rows = await db.query<{ id: number }>(`SELECT id FROM "${db.schema}".migrations ORDER BY id`);
  t.deepEqual(rows.map((r) => r.id), MIGRATIONS.map((m) => m.id), 'each migration recorded once');
  const id = await runtimes[2]!.start('recorder');
  t.truthy(await runtimes[0]!.get(id));
});

test('the schema name is configurable and two engines in one database stay apart', async (t) => {
  const h = await harness(t);
  const a = await h.runtime({ machines: { recorder } });
  const otherSchema = freshSchema('other');
  const b = await h.runtime({ machines: { recorder }, schema: otherSchema });
  const id = await a.start('recorder');
  t.truthy(await a.get(id));
  t.is(await b.get(id), null);
});

test('the migrated schema matches test/schema.sql (run `npm run schema:dump` after a migration)', async (t) => {
  const h = await harness(t);
  await h.runtime({ machines: { recorder }, worker: false });
  const actual = await describeSchema({ query: async (text, values) => ({ rows: await h.db.query(text, values as unknown[]), rowCount: 0 }) }, h.db.schema);
  const expected = readFileSync(inRepo('test/schema.sql'), 'utf8');
  t.is(actual, expected);
});

test('an unreachable database fails fast with the URL masked', async (t) => {
  if (backend !== 'postgres') return t.pass('PostgreSQL only');
  const url = postgresUrl.replace('127.0.0.1:5432', '127.0.0.1:1').replace('postgres@', 'postgres:secret@');
  const error = await t.throwsAsync(createRuntime({ database: url, machines: { recorder }, logger: silent }), { instanceOf: DatabaseUnavailableError });
  t.regex(error!.message, /could not prepare the database/);
  t.notRegex(error!.message, /secret/);
});

test('a database with migrations this code does not know: a warning, or a refusal when one is breaking', async (t) => {
  const h = await harness(t);
  await h.runtime({ machines: { recorder }, worker: false });
  const table = `"${h.db.schema}".migrations`;
  await h.db.query(`INSERT INTO ${table} (scope, id, name, breaking) VALUES ('engine', 9998, 'from_a_newer_version', false)`);
  const { logger, lines } = capturingLogger();
  const rt = await h.runtime({ machines: { recorder }, worker: false, logger });
  t.truthy(await rt.start('recorder'), 'it still runs');
  const warning = lines.find((line) => line.msg === 'the database has migrations this code does not know (none breaking); running anyway');
  t.like(warning, { level: 40, scope: 'engine', migrations: ['9998_from_a_newer_version'] });

  await h.db.query(`INSERT INTO ${table} (scope, id, name, breaking) VALUES ('engine', 9999, 'drops_a_column', true)`);
  const error = await t.throwsAsync(createRuntime({ database: h.db.database, schema: h.db.schema, machines: { recorder }, logger: silent }), { instanceOf: SchemaTooNewError });
  t.is(error!.code, 'SCHEMA_TOO_NEW');
  t.regex(error!.message, /9999_drops_a_column/);
});

test('a migration file marks itself breaking with its first line', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'docket-migrations-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, '0001_plain.sql'), 'CREATE TABLE :SCHEMA.a (id int);');
  writeFileSync(join(dir, '0002_drop.sql'), '-- docket: breaking\nALTER TABLE :SCHEMA.a DROP COLUMN id;');
  t.deepEqual(loadMigrations(dir).map(({ id, name, breaking }) => ({ id, name, breaking })), [
    { id: 1, name: 'plain', breaking: false },
    { id: 2, name: 'drop', breaking: true },
  ]);
});

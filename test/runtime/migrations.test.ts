import test from 'ava';
import { readFileSync } from 'node:fs';
import { createRuntime } from '../../runtime/runtime.js';
import { DatabaseUnavailableError } from '../../runtime/errors.js';
import { describeSchema } from '../../scripts/describe-schema.js';
import { backend, freshSchema, postgresUrl, silent, testDatabase } from '../helpers/db.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { recorder } from '../helpers/machines.js';
import { harness } from '../helpers/runtime.js';

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
  t.deepEqual(rows.map((r) => r.id), [1]);
  const id = await runtimes[2]!.start('recorder');
  t.truthy(await runtimes[0]!.get(id));
});

test('the schema name is configurable and two engines in one database stay apart', async (t) => {
  const h = await harness(t);
  const a = await h.runtime({ machines: { recorder } });
  const otherSchema = freshSchema('other');
  const b = await h.runtime({ machines: { recorder }, schema: otherSchema });
  t.teardown(() => h.db.query(`DROP SCHEMA IF EXISTS "${otherSchema}" CASCADE`).then(() => {}));
  const id = await a.start('recorder');
  t.truthy(await a.get(id));
  t.is(await b.get(id), null);
});

test('the migrated schema matches test/schema.sql (run `npm run schema:dump` after a migration)', async (t) => {
  const h = await harness(t);
  await h.runtime({ machines: { recorder }, worker: false });
  const actual = await describeSchema({ query: async (text, values) => ({ rows: await h.db.query(text, values as unknown[]), rowCount: 0 }) }, h.db.schema);
  const expected = readFileSync(new URL('../schema.sql', import.meta.url), 'utf8');
  t.is(actual, expected);
});

test('an unreachable database fails fast with the URL masked', async (t) => {
  if (backend !== 'postgres') return t.pass('PostgreSQL only');
  const url = postgresUrl.replace('127.0.0.1:5432', '127.0.0.1:1').replace('postgres@', 'postgres:secret@');
  const error = await t.throwsAsync(createRuntime({ database: url, machines: { recorder }, logger: silent }), { instanceOf: DatabaseUnavailableError });
  t.regex(error!.message, /could not prepare the database/);
  t.notRegex(error!.message, /secret/);
});

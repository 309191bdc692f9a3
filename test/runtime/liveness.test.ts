import test from 'ava';
import { ManualClock } from '../../runtime/clock.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { invoker, recorder } from '../helpers/machines.js';
import { eventually, harness } from '../helpers/runtime.js';

failOnLeakedRuntimes();

// A worker known only by its heartbeat (no backend to check): how PGlite and manual clocks record
// workers, and what a process that crashed leaves behind for the next one on the same database.
test('a running effect moves at once when its worker stops beating, and stays while the worker beats', async (t) => {
  const h = await harness(t);
  const clock = new ManualClock();
  const client = await h.runtime({ machines: { invoker, recorder }, worker: false, clock });
  const id = await client.start('invoker', { input: 'payload' });
  const [effect] = await h.db.query<{ idempotency_key: string }>(`SELECT idempotency_key FROM "${h.db.schema}".effects`);
  // Another worker holds the effect under a lease of an hour and says it lives for an hour more.
  await h.db.query(`INSERT INTO "${h.db.schema}".workers (id, alive_until) VALUES ('elsewhere', clock_timestamp() + interval '1 hour')`);
  await h.db.query(`UPDATE "${h.db.schema}".effects SET status = 'running', attempts = 1, lease_owner = 'elsewhere', due_at = $1`, [new Date(clock.now() + 3_600_000)]);

  const calls: number[] = [];
  const worker = await h.runtime({ machines: { invoker, recorder }, clock, services: { work: async ({ attempt }) => (calls.push(attempt), 'recovered') } });
  const beats = async () => {
    const [row] = await h.db.query<{ alive_until: Date }>(`SELECT alive_until FROM "${h.db.schema}".workers WHERE id = $1`, [worker.workerId]);
    return row ? new Date(row.alive_until).getTime() : 0;
  };
  await eventually(async () => (await beats()) > 0, 10_000, 'the first beat');
  const first = await beats();
  await eventually(async () => (await beats()) > first, 10_000, 'a second beat, and its sweep');
  t.deepEqual(calls, [], 'a worker that beats keeps its effect');

  await h.db.query(`UPDATE "${h.db.schema}".workers SET alive_until = clock_timestamp() - interval '1 second' WHERE id = 'elsewhere'`);
  const state = await worker.waitFor(id, (s) => s.status === 'done', { timeoutMs: 10_000 });
  t.like(state, { value: 'ok', context: { output: 'recovered' } });
  t.deepEqual(calls, [2], 'taken over long before its lease ends, the lost attempt counted');
  const [ended] = await h.db.query<{ status: string; attempt_log: { code: string }[] }>(
    `SELECT status, attempt_log FROM "${h.db.schema}".effects WHERE idempotency_key = $1`,
    [effect!.idempotency_key],
  );
  t.is(ended!.status, 'done');
  t.deepEqual(ended!.attempt_log.map((e) => e.code), ['LEASE_EXPIRED']);
  await eventually(async () => (await h.db.query(`SELECT 1 FROM "${h.db.schema}".workers WHERE id = 'elsewhere'`)).length === 0, 10_000, "the dead worker's row to go");
});

test('a closed runtime removes its worker row', async (t) => {
  const h = await harness(t);
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const rt = await h.runtime({ machines: { invoker, recorder }, services: { work: async () => (await finished, 'ok') } });
  // On PostgreSQL a worker has a row once it holds a lease: run an effect until the row is there.
  const id = await rt.start('invoker', { input: 'x' });
  const rows = () => h.db.query(`SELECT 1 FROM "${h.db.schema}".workers WHERE id = $1`, [rt.workerId]);
  await eventually(async () => (await rows()).length === 1, 10_000, 'the worker row');
  finish();
  await rt.waitFor(id, (s) => s.status === 'done');
  await rt.close();
  t.is((await rows()).length, 0);
});

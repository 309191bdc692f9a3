import test from 'ava';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { recorder } from '../helpers/machines.js';
import { harness } from '../helpers/runtime.js';

failOnLeakedRuntimes();

const SENDERS = 4;
const PER_SENDER = 40;

test('concurrent senders, three runtimes: every event applied exactly once, each sender in order', async (t) => {
  const h = await harness(t);
  const runtimes = await Promise.all([1, 2, 3].map(() => h.runtime({ machines: { recorder }, stepConcurrency: 2, stepBatchSize: 5 })));
  const ids = await Promise.all([0, 1].map(() => runtimes[0]!.start('recorder')));
  // Each sender writes its own sequence through a different runtime, to both instances.
  await Promise.all(
    Array.from({ length: SENDERS }, async (_, sender) => {
      const rt = runtimes[sender % runtimes.length]!;
      for (let n = 0; n < PER_SENDER; n++) {
        for (const id of ids) await rt.send(id, { type: 'NOTE', value: `${sender}:${n}` });
      }
    }),
  );
  for (const id of ids) {
    const state = await runtimes[1]!.waitFor<{ log: string[] }>(id, (s) => s.context.log.length >= SENDERS * PER_SENDER, { timeoutMs: 30_000 });
    const log = state.context.log;
    t.is(log.length, SENDERS * PER_SENDER, 'no event lost, none applied twice');
    t.is(new Set(log).size, log.length);
    for (let sender = 0; sender < SENDERS; sender++) {
      const mine = log.filter((entry) => entry.startsWith(`${sender}:`)).map((entry) => Number(entry.split(':')[1]));
      t.deepEqual(mine, Array.from({ length: PER_SENDER }, (_, n) => n), `sender ${sender} in order`);
    }
    const history = await runtimes[2]!.history(id);
    t.deepEqual(history.map((entry) => entry.seq), Array.from({ length: SENDERS * PER_SENDER + 1 }, (_, i) => i), 'journal has one row per event');
  }
  const { left } = await h.db.one<{ left: number }>(`SELECT count(*)::int AS left FROM "${h.db.schema}".events`);
  t.is(left, 0, 'inbox drained');
  const applied = runtimes.reduce((sum, rt) => sum + rt.metrics().eventsApplied, 0);
  t.is(applied, 2 * SENDERS * PER_SENDER);
});

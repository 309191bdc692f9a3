import test from 'ava';
import { assign, setup, type AnyMachineSnapshot } from 'xstate';
import { SnapshotCache } from '../../runtime/snapshot-cache.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { recorder } from '../helpers/machines.js';
import { harness } from '../helpers/runtime.js';

failOnLeakedRuntimes();

const fake = (name: string) => ({ value: name }) as unknown as AnyMachineSnapshot;

test('an entry serves only the row it was written as, and the least recently used goes first', (t) => {
  const cache = new SnapshotCache(2);
  const row = { createdAt: 1_000, version: 3, machineVersion: 1 };
  cache.set('a', SnapshotCache.key(row), fake('a3'));
  t.is(cache.get('a', SnapshotCache.key(row))?.value, 'a3');
  t.is(cache.get('a', SnapshotCache.key({ ...row, version: 4 })), undefined, 'stepped elsewhere since');
  t.is(cache.get('a', SnapshotCache.key({ ...row, machineVersion: 2 })), undefined, 'another machine version');
  t.is(cache.get('a', SnapshotCache.key({ ...row, createdAt: 2_000 })), undefined, 'deleted and created again under the same id');
  cache.set('b', 'k', fake('b'));
  cache.get('a', SnapshotCache.key(row));
  cache.set('c', 'k', fake('c'));
  t.is(cache.size, 2);
  t.is(cache.get('b', 'k'), undefined, 'b was used least recently');
  t.truthy(cache.get('a', SnapshotCache.key(row)));
  const off = new SnapshotCache(0);
  off.set('a', 'k', fake('a'));
  t.is(off.get('a', 'k'), undefined);
});

// Stamps a Date into context, then records what type the next step finds there.
const stamper = setup({ types: { context: {} as { at: unknown; seen: string[] }, events: {} as { type: 'STAMP' } | { type: 'LOOK' } } }).createMachine({
  id: 'stamper',
  context: { at: null, seen: [] },
  on: {
    STAMP: { actions: assign({ at: () => new Date(0) }) },
    LOOK: { actions: assign({ seen: ({ context }) => [...context.seen, context.at instanceof Date ? 'Date' : typeof context.at] }) },
  },
});

for (const snapshotCache of [1000, 0]) {
  test(`the next step sees the context as stored, whether it starts from memory or from the row (snapshotCache ${snapshotCache})`, async (t) => {
    const h = await harness(t);
    const rt = await h.runtime({ machines: { stamper }, snapshotCache });
    const id = await rt.start('stamper');
    // Separate steps: each send is applied before the next is sent.
    await rt.send(id, { type: 'STAMP' });
    await rt.waitFor(id, (s) => s.version === 1);
    await rt.send(id, { type: 'LOOK' });
    const state = await rt.waitFor(id, (s) => s.version === 2);
    t.deepEqual((state.context as { seen: string[] }).seen, ['string'], 'a Date in context is a string on the next step, as it is after a restart');
  });
}

test('steps from memory, steps from the row and steps by another runtime interleave into one history', async (t) => {
  const h = await harness(t);
  const first = await h.runtime({ machines: { recorder } });
  const id = await first.start('recorder');
  for (const value of ['a', 'b']) {
    await first.send(id, { type: 'NOTE', value });
    await first.waitFor(id, (s) => (s.context as { log: string[] }).log.includes(value));
  }
  // A second runtime (its own cache, empty) takes part from here; whichever steps, none may start
  // from a snapshot older than the row.
  const second = await h.runtime({ machines: { recorder } });
  for (const value of ['c', 'd', 'e', 'f']) {
    await (value < 'e' ? second : first).send(id, { type: 'NOTE', value });
    await first.waitFor(id, (s) => (s.context as { log: string[] }).log.includes(value));
  }
  const state = await first.waitFor(id, (s) => s.version === 6);
  t.deepEqual((state.context as { log: string[] }).log, ['a', 'b', 'c', 'd', 'e', 'f']);

  // Deleted and started again under the same id: the new instance starts from its own initial state.
  await first.remove(id);
  await first.start('recorder', undefined, { id });
  await first.send(id, { type: 'NOTE', value: 'z' });
  const again = await first.waitFor(id, (s) => s.version === 1);
  t.deepEqual((again.context as { log: string[] }).log, ['z']);
});

import test from 'ava';
import { assign, setup } from 'xstate';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { harness } from '../helpers/runtime.js';
import type { PersistedSnapshot } from '../../runtime/types.js';

failOnLeakedRuntimes();

// Version 1 counts in `count`; version 2 renamed it `total` and needs a migration.
const v1 = setup({ types: { context: {} as { count: number } } }).createMachine({
  id: 'counter',
  context: { count: 0 },
  initial: 'on',
  states: { on: { on: { INC: { actions: assign({ count: ({ context }) => context.count + 1 }) } } } },
});
const v2 = setup({ types: { context: {} as { total: number } } }).createMachine({
  id: 'counter',
  context: { total: 0 },
  initial: 'on',
  states: { on: { on: { INC: { actions: assign({ total: ({ context }) => context.total + 10 }) } } } },
});

test('an instance of a version the runtime does not know moves to error and is not stepped', async (t) => {
  const h = await harness(t);
  const old = await h.runtime({ machines: { counter: { machine: v1, version: 1 } } });
  const id = await old.start('counter');
  await old.close();

  const next = await h.runtime({ machines: { counter: { machine: v2, version: 2 } } });
  await next.send(id, { type: 'INC' });
  const state = await next.waitFor(id, (s) => s.status === 'error');
  t.is(state.error!.code, 'MACHINE_VERSION_UNKNOWN');
  t.regex(state.error!.message, /version 1; this runtime runs version 2/);
  t.deepEqual(state.context, { count: 0 }, 'never stepped with the wrong logic');
  t.is(state.machineVersion, 1);
  const { count } = await h.db.one<{ count: number }>(`SELECT count(*)::int AS count FROM "${h.db.schema}".events`);
  t.is(count, 1, 'the event is kept for a fixed deploy');
});

test('a migration upgrades old snapshots before they are stepped', async (t) => {
  const h = await harness(t);
  const old = await h.runtime({ machines: { counter: v1 } });
  const id = await old.start('counter');
  await old.send(id, { type: 'INC' });
  await old.waitFor(id, (s) => s.version === 1);
  await old.close();

  const migrations: number[] = [];
  const next = await h.runtime({
    machines: {
      counter: {
        machine: v2,
        version: 2,
        migrate: (snapshot: PersistedSnapshot, from) => {
          migrations.push(from);
          const { count } = snapshot.context as { count: number };
          return { ...snapshot, context: { total: count * 10 } };
        },
      },
    },
  });
  await next.send(id, { type: 'INC' });
  const state = await next.waitFor(id, (s) => s.version === 2);
  t.deepEqual(state.context, { total: 20 });
  t.is(state.machineVersion, 2, 'stamped with the version that wrote it');
  t.deepEqual(migrations, [1]);
});

test('declared-compatible versions step as they are; newer versions wait for a newer worker', async (t) => {
  const h = await harness(t);
  const first = await h.runtime({ machines: { counter: { machine: v1, version: 1 } } });
  const id = await first.start('counter');
  await first.close();
  const compatible = await h.runtime({ machines: { counter: { machine: v1, version: 3, compatibleVersions: [1] } } });
  await compatible.send(id, { type: 'INC' });
  t.like(await compatible.waitFor(id, (s) => s.version === 1), { machineVersion: 3, context: { count: 1 } });
  await compatible.close();

  // A worker still on version 1 during a rolling deploy leaves version 3 alone.
  const stale = await h.runtime({ machines: { counter: { machine: v1, version: 1 } } });
  await stale.send(id, { type: 'INC' });
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.like(await stale.get(id), { status: 'active', version: 1, machineVersion: 3 });
});

import test from 'ava';
import { randomUUID } from 'node:crypto';
import { createMachine } from 'xstate';
import { ConfigError, InstanceNotFoundError } from '../../runtime/errors.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { invoker, recorder } from '../helpers/machines.js';
import { eventually, harness } from '../helpers/runtime.js';

failOnLeakedRuntimes();

test('start, send, get and history describe one instance', async (t) => {
  const h = await harness(t);
  const rt = await h.runtime({ machines: { recorder } });
  const id = await rt.start('recorder');
  t.regex(id, /^[0-9a-f-]{36}$/);
  await rt.send(id, { type: 'NOTE', value: 'a' });
  await rt.send(id, { type: 'STOP' });
  const state = await rt.waitFor(id, (s) => s.status === 'done');
  t.like(state, { id, machine: 'recorder', machineVersion: 1, value: 'closed', status: 'done', version: 2, error: null });
  t.deepEqual(state.context, { log: ['a'] });
  t.true(state.createdAt instanceof Date && state.updatedAt >= state.createdAt);
  const history = await rt.history(id);
  t.deepEqual(
    history.map(({ seq, event, from, to }) => ({ seq, type: event.type, from, to })),
    [
      { seq: 0, type: 'xstate.init', from: null, to: 'open' },
      { seq: 1, type: 'NOTE', from: 'open', to: 'open' },
      { seq: 2, type: 'STOP', from: 'open', to: 'closed' },
    ],
  );
});

test('the same idempotency key or id starts one instance', async (t) => {
  const h = await harness(t);
  const rt = await h.runtime({ machines: { recorder } });
  const first = await rt.start('recorder', undefined, { idempotencyKey: 'upload-1' });
  const again = await rt.start('recorder', undefined, { idempotencyKey: 'upload-1' });
  t.is(again, first);
  const chosen = randomUUID();
  t.is(await rt.start('recorder', undefined, { id: chosen }), chosen);
  t.is(await rt.start('recorder', undefined, { id: chosen }), chosen);
  const { count } = await h.db.one<{ count: number }>(`SELECT count(*)::int AS count FROM "${h.db.schema}".instances`);
  t.is(count, 2);
});

test('a repeated dedupe key is a no-op', async (t) => {
  const h = await harness(t);
  const rt = await h.runtime({ machines: { recorder } });
  const id = await rt.start('recorder');
  t.deepEqual(await rt.send(id, { type: 'NOTE', value: 'x' }, { dedupeKey: 'k1' }), { accepted: true });
  t.deepEqual(await rt.send(id, { type: 'NOTE', value: 'x' }, { dedupeKey: 'k1' }), { accepted: false, reason: 'duplicate' });
  await rt.send(id, { type: 'NOTE', value: 'y' }, { dedupeKey: 'k2' });
  const state = await rt.waitFor<{ log: string[] }>(id, (s) => s.context.log.length === 2);
  t.deepEqual(state.context.log, ['x', 'y']);
});

test('send resolves when committed, before a worker applies it', async (t) => {
  const h = await harness(t);
  const client = await h.runtime({ machines: { recorder }, worker: false });
  const id = await client.start('recorder');
  await client.send(id, { type: 'NOTE', value: 'queued' });
  t.deepEqual((await client.get<{ log: string[] }>(id))!.context.log, [], 'no worker: committed, not applied');
  const { count } = await h.db.one<{ count: number }>(`SELECT count(*)::int AS count FROM "${h.db.schema}".events`);
  t.is(count, 1);
  const worker = await h.runtime({ machines: { recorder } });
  const state = await worker.waitFor<{ log: string[] }>(id, (s) => s.context.log.length === 1);
  t.deepEqual(state.context.log, ['queued']);
});

test('bad calls get typed errors', async (t) => {
  const h = await harness(t);
  const rt = await h.runtime({ machines: { recorder } });
  await t.throwsAsync(rt.start('nope'), { instanceOf: ConfigError, message: /unknown machine "nope"/ });
  await t.throwsAsync(rt.send(randomUUID(), { type: 'NOTE' }), { instanceOf: InstanceNotFoundError });
  await t.throwsAsync(rt.send('not-a-uuid', { type: 'NOTE' }), { instanceOf: InstanceNotFoundError });
  const id = await rt.start('recorder');
  await t.throwsAsync(rt.send(id, { nope: 1 } as never), { instanceOf: ConfigError, message: /string "type"/ });
  t.is(await rt.get(randomUUID()), null);
  await rt.send(id, { type: 'STOP' });
  await rt.waitFor(id, (s) => s.status === 'done');
  t.deepEqual(await rt.send(id, { type: 'NOTE', value: 'late' }), { accepted: false, reason: 'instance_not_active' });
});

test('invalid options name every bad field', async (t) => {
  const h = await harness(t);
  const error = await t.throwsAsync(h.runtime({ machines: { recorder }, leaseMs: -1, stepConcurrency: 0 }), { instanceOf: ConfigError });
  t.regex(error!.message, /leaseMs/);
  t.regex(error!.message, /stepConcurrency/);
  await t.throwsAsync(h.runtime({ machines: { recorder }, schema: 'Bad-Name' }), { instanceOf: ConfigError, message: /schema must match/ });
});

test('subscribe delivers each step once, in order', async (t) => {
  const h = await harness(t);
  const rt = await h.runtime({ machines: { recorder } });
  const id = await rt.start('recorder');
  const seen: number[] = [];
  const unsubscribe = rt.subscribe(id, (state) => seen.push(state.version));
  for (const value of ['a', 'b', 'c']) await rt.send(id, { type: 'NOTE', value });
  await rt.waitFor(id, (s) => s.version === 3);
  // Delivery follows the commit; a loaded machine can take longer than any fixed wait.
  await eventually(() => seen.at(-1) === 3, 10_000, 'the last step delivered');
  await new Promise((resolve) => setTimeout(resolve, 50));
  unsubscribe();
  t.true(seen.length >= 1 && seen.length <= 3);
  t.deepEqual([...seen].sort((a, b) => a - b), seen, 'versions only go up');
  t.is(seen.at(-1), 3);
  t.is(new Set(seen).size, seen.length, 'no state twice');
});

test('one listener subscribed to several instances gets each instance\'s steps (it missed those below another\'s version)', async (t) => {
  const h = await harness(t);
  const rt = await h.runtime({ machines: { recorder } });
  const [ahead, behind] = [await rt.start('recorder'), await rt.start('recorder')];
  const seen = new Map<string, number[]>([[ahead, []], [behind, []]]);
  const show = (state: { id: string; version: number }) => seen.get(state.id)!.push(state.version);
  const unsubscribe = [rt.subscribe(ahead, show), rt.subscribe(behind, show)];
  // The same subscription twice to one instance is two subscriptions: ending one leaves the other.
  const twice: number[] = [];
  const again = (state: { version: number }) => twice.push(state.version);
  const [first] = [rt.subscribe(behind, again), rt.subscribe(behind, again)];
  first!();
  for (const value of ['a', 'b', 'c']) await rt.send(ahead, { type: 'NOTE', value });
  await eventually(() => seen.get(ahead)!.at(-1) === 3, 10_000, 'the first instance at version 3');
  await rt.send(behind, { type: 'NOTE', value: 'x' });
  await eventually(() => seen.get(behind)!.at(-1) === 1, 10_000, 'the second instance\'s version 1 delivered after the first\'s 3');
  await eventually(() => twice.at(-1) === 1, 10_000, 'the subscription left after the other ended');
  for (const end of unsubscribe) end();
  // The start's own notification may or may not come after the subscribe: version 0 is allowed first.
  t.deepEqual(seen.get(behind)!.filter((v) => v > 0), [1]);
  t.deepEqual(twice.filter((v) => v > 0), [1], 'once, not once per subscribe() of the same function');
});

test('start and send inside the caller transaction commit with it, or not at all', async (t) => {
  const h = await harness(t);
  const rt = await h.runtime({ machines: { recorder, invoker }, services: { work: async ({ input }) => `did ${String(input)}` } });
  const table = `"${h.db.schema}".instances`;

  // Rolled back: no instance, no journal, no effect.
  const doomed = randomUUID();
  await t.throwsAsync(
    rt.database.transaction(async (tx) => {
      await rt.start('invoker', { input: 'never' }, { id: doomed, tx });
      throw new Error('the caller changes its mind');
    }),
    { message: 'the caller changes its mind' },
  );
  t.is(await rt.get(doomed), null);
  t.is((await h.db.query(`SELECT 1 FROM "${h.db.schema}".effects`)).length, 0);

  // Committed: the instance runs, its invoke served by any runner after the commit.
  const id = await rt.database.transaction((tx) => rt.start('invoker', { input: 'x' }, { tx, idempotencyKey: 'k' }));
  t.like(await rt.waitFor(id, (s) => s.status === 'done'), { value: 'ok', context: { input: 'x', output: 'did x' } });
  t.is(await rt.database.transaction((tx) => rt.start('invoker', { input: 'x' }, { tx, idempotencyKey: 'k' })), id);

  // An event sent in a rolled-back transaction never arrives; one sent in a committed one does.
  const open = await rt.start('recorder');
  await t.throwsAsync(
    rt.database.transaction(async (tx) => {
      t.deepEqual(await rt.send(open, { type: 'NOTE', value: 'lost' }, { tx }), { accepted: true });
      throw new Error('rollback');
    }),
  );
  await rt.database.transaction((tx) => rt.send(open, { type: 'NOTE', value: 'kept' }, { tx }));
  await rt.send(open, { type: 'STOP' });
  t.deepEqual((await rt.waitFor<{ log: string[] }>(open, (s) => s.status === 'done')).context.log, ['kept']);
  t.is((await h.db.one<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).n, 2);
});

test('a machine may invoke a src only the services provide; a src found nowhere is refused at start', async (t) => {
  const bare = createMachine({
    id: 'bare',
    initial: 'working',
    states: { working: { invoke: { src: 'onlyInServices', onDone: 'done' } }, done: { type: 'final' } },
  });
  const h = await harness(t);
  // Pinned: the first step failed at persist ("reading 'getPersistedSnapshot'") until the instance was parked.
  const rt = await h.runtime({ machines: { bare }, services: { onlyInServices: async () => 'served' } });
  const id = await rt.start('bare');
  t.is((await rt.waitFor(id, (s) => s.status !== 'active')).value, 'done');
  await t.throwsAsync(h.runtime({ machines: { bare } }), { instanceOf: ConfigError, message: /invokes "onlyInServices", found neither in its setup\(\{ actors \}\) nor in the runtime's services/ });
});

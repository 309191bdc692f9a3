import test from 'ava';
import { randomUUID } from 'node:crypto';
import { ConfigError, InstanceNotFoundError, InstanceStateError } from '../../runtime/errors.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { delayed, invoker, recorder } from '../helpers/machines.js';
import { eventually, harness } from '../helpers/runtime.js';

failOnLeakedRuntimes();

test('list pages through instances newest first, by machine and status', async (t) => {
  const h = await harness(t);
  const rt = await h.runtime({ machines: { recorder, delayed } });
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push(await rt.start('recorder'));
  const other = await rt.start('delayed');
  await rt.send(ids[0]!, { type: 'STOP' });
  await rt.waitFor(ids[0]!, (s) => s.status === 'done');

  const first = await rt.list({ machine: 'recorder', limit: 3 });
  t.is(first.instances.length, 3);
  t.truthy(first.nextCursor);
  const second = await rt.list({ machine: 'recorder', limit: 3, cursor: first.nextCursor! });
  t.is(second.instances.length, 2);
  t.is(second.nextCursor, null);
  const all = [...first.instances, ...second.instances];
  t.deepEqual(all.map((i) => i.id).sort(), [...ids].sort(), 'every recorder once, the other machine not');
  const times = all.map((i) => i.createdAt.getTime());
  t.deepEqual(times, [...times].sort((a, b) => b - a), 'newest first');

  t.deepEqual((await rt.list({ status: 'done' })).instances.map((i) => i.id), [ids[0]]);
  t.deepEqual((await rt.list({ machine: 'delayed' })).instances.map((i) => ({ id: i.id, value: i.value })), [{ id: other, value: 'waiting' }]);
  await t.throwsAsync(rt.list({ cursor: 'not-a-cursor' }), { instanceOf: ConfigError });
  await t.throwsAsync(rt.list({ limit: 0 }), { instanceOf: ConfigError });
});

test('resume applies the kept inbox of an instance parked in error once its cause is fixed', async (t) => {
  const h = await harness(t);
  let broken = true;
  const rt = await h.runtime({
    maxStepFailures: 2,
    machines: {
      recorder: {
        machine: recorder,
        onStep: async (_tx, step) => {
          if (broken && step.events.some((e) => e.type === 'NOTE')) throw new Error('projection table is missing');
        },
      },
    },
  });
  const id = await rt.start('recorder');
  await rt.send(id, { type: 'NOTE', value: 'kept' });
  const parked = await rt.waitFor(id, (s) => s.status === 'error', { timeoutMs: 15_000 });
  t.is(parked.error!.code, 'STEP_FAILED');
  await t.throwsAsync(rt.send(id, { type: 'NOTE', value: 'refused' }).then((r) => (r.accepted ? null : Promise.reject(new Error(r.reason)))), {
    message: 'instance_not_active',
  });

  broken = false;
  await rt.resume(id);
  const resumed = await rt.waitFor<{ log: string[] }>(id, (s) => s.status === 'active' && s.version === 1);
  t.deepEqual(resumed.context.log, ['kept'], 'the event kept while parked was applied once');
  t.is(resumed.error, null);
  await t.throwsAsync(rt.resume(id), { instanceOf: InstanceStateError, message: /is active/ });
  await t.throwsAsync(rt.resume(randomUUID()), { instanceOf: InstanceNotFoundError });
});

test('cancel aborts the running attempt, drops its late result and tells the machine EFFECT_CANCELED', async (t) => {
  const h = await harness(t);
  let aborted: unknown;
  let finish!: () => void;
  const late = new Promise<void>((resolve) => (finish = resolve));
  const rt = await h.runtime({
    machines: { invoker },
    services: {
      work: async ({ signal }) => {
        signal.addEventListener('abort', () => (aborted = signal.reason));
        await late; // ignores its signal: the runtime must still drop what it returns
        return 'too late';
      },
    },
  });
  const id = await rt.start('invoker', { input: 'x' });
  await eventually(async () => (await h.db.query(`SELECT 1 FROM "${h.db.schema}".effects WHERE status = 'running'`)).length === 1);
  t.deepEqual(await rt.cancel(id, 'the user changed their mind'), { canceled: 1 });
  const state = await rt.waitFor<{ error: { code: string; message: string } }>(id, (s) => s.status === 'done');
  t.is(state.value, 'failed', "the machine's onError decided");
  t.like(state.context.error, { code: 'EFFECT_CANCELED', message: 'the user changed their mind' });
  await eventually(() => aborted !== undefined);
  t.is((aborted as { code: string }).code, 'EFFECT_CANCELED');
  finish();
  await new Promise((resolve) => setTimeout(resolve, 100));
  const history = await rt.history(id);
  t.deepEqual(history.map((e) => e.event.type), ['xstate.init', 'xstate.error.actor.job'], 'the late result never applied');
  const [effect] = await h.db.query<{ status: string }>(`SELECT status FROM "${h.db.schema}".effects`);
  t.is(effect!.status, 'canceled');
  t.is(rt.metrics().effectsCanceledInFlight, 1);
  await t.throwsAsync(rt.cancel(id), { instanceOf: InstanceStateError });
});

test('stop ends the instance where it is: timers dropped, effects cancelled, no more steps', async (t) => {
  const h = await harness(t);
  const rt = await h.runtime({ machines: { delayed, invoker }, services: { work: () => new Promise(() => {}) } });
  const waiting = await rt.start('delayed');
  const working = await rt.start('invoker', { input: 'x' });
  await eventually(async () => (await h.db.query(`SELECT 1 FROM "${h.db.schema}".effects WHERE status = 'running'`)).length === 1);
  await rt.stop(waiting, 'no longer needed');
  await rt.stop(working);
  t.like(await rt.get(waiting), { status: 'stopped', value: 'waiting', version: 1 });
  t.like(await rt.get(working), { status: 'stopped', value: 'working' });
  t.is((await h.db.query(`SELECT 1 FROM "${h.db.schema}".events`)).length, 0, 'the 60 s timer is gone');
  t.deepEqual(await h.db.query(`SELECT status FROM "${h.db.schema}".effects`), [{ status: 'canceled' }]);
  const history = await rt.history(waiting);
  t.deepEqual(history.map((e) => e.event.type), ['xstate.init', 'docket.stop'], 'the stop is in the history');
  t.like(history[1], { seq: 1, from: 'waiting', to: 'waiting', event: { reason: 'no longer needed' } });
  t.deepEqual(await rt.send(waiting, { type: 'SKIP' }), { accepted: false, reason: 'instance_not_active' });
  await t.throwsAsync(rt.stop(waiting), { instanceOf: InstanceStateError, message: /already stopped/ });
});

test('cancel from another runtime (a client, another process) reaches the attempt through NOTIFY', async (t) => {
  const h = await harness(t);
  let aborted = false;
  const worker = await h.runtime({
    machines: { invoker },
    services: { work: ({ signal }) => new Promise((_resolve, reject) => signal.addEventListener('abort', () => ((aborted = true), reject(signal.reason)))) },
  });
  const client = await h.runtime({ machines: { invoker }, worker: false });
  const id = await client.start('invoker', { input: 'x' });
  await eventually(async () => (await h.db.query(`SELECT 1 FROM "${h.db.schema}".effects WHERE status = 'running'`)).length === 1);
  await client.cancel(id);
  await eventually(() => aborted, 10_000, 'the attempt in the worker runtime to be aborted');
  t.like(await worker.waitFor(id, (s) => s.status === 'done'), { value: 'failed', context: { error: { code: 'EFFECT_CANCELED' } } });
});

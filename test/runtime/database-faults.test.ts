import test, { type ExecutionContext } from 'ava';
import type { Runtime } from '../../runtime/types.js';
import { backend } from '../helpers/db.js';
import { injectFault, type Fault } from '../helpers/faults.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { invoker, recorder } from '../helpers/machines.js';
import { harness, type Harness } from '../helpers/runtime.js';

failOnLeakedRuntimes();

/** Connection loss needs connections: PGlite lives in this process and has none to lose. */
const pgOnly = backend === 'postgres' ? test : test.skip;

/** Every event applied exactly once, in order, with nothing counted against the instance. */
async function assertAppliedOnce(t: ExecutionContext, h: Harness, rt: Runtime, id: string, types: string[]) {
  const history = await rt.history(id);
  t.deepEqual(history.map((e) => e.seq), [...history.keys()], 'journal seq contiguous: nothing applied twice');
  t.deepEqual(history.map((e) => e.event.type), types);
  const [row] = await h.db.query<{ status: string; step_failures: number }>(`SELECT status, step_failures FROM "${h.db.schema}".instances WHERE id = $1`, [id]);
  t.like(row, { status: 'done', step_failures: 0 });
}

/** A step whose write fails `fault.times` times is retried with backoff and applies each event once. */
async function stepThrough(t: ExecutionContext, fault: Omit<Fault, 'times'>, times: number) {
  const h = await harness(t);
  // Events are committed first by a client; the worker starts once the database is failing.
  const client = await h.runtime({ machines: { recorder }, worker: false });
  const id = await client.start('recorder');
  await client.send(id, { type: 'NOTE', value: 'a' });
  await client.send(id, { type: 'NOTE', value: 'b' });
  await client.send(id, { type: 'STOP' });
  const injected = await injectFault(h.db, { ...fault, times });
  const rt = await h.runtime({ machines: { recorder }, maxStepFailures: 2 });
  const done = await rt.waitFor<{ log: string[] }>(id, (s) => s.status !== 'active', { timeoutMs: 30_000 });
  t.deepEqual(done.context.log, ['a', 'b']);
  t.is(await injected.fired(), times, 'the fault really fired');
  // More failures than maxStepFailures, yet the instance is not parked in error: not its fault.
  await assertAppliedOnce(t, h, rt, id, ['xstate.init', 'NOTE', 'NOTE', 'STOP']);
  t.true(rt.metrics().stepFailures === 0);
}

test('a serialization failure in a step is retried and loses nothing', (t) => stepThrough(t, { table: 'instances', on: 'UPDATE', error: '40001' }, 4));
test('a statement timeout in a step is retried and loses nothing', (t) => stepThrough(t, { table: 'journal', on: 'INSERT', error: '57014' }, 4));
test('a failing INSERT, as from a full disk, is retried and loses nothing', (t) => stepThrough(t, { table: 'journal', on: 'INSERT', error: '53100' }, 4));
pgOnly('a connection lost mid-step is retried and loses nothing (and does not end the process)', (t) =>
  stepThrough(t, { table: 'instances', on: 'UPDATE', error: 'terminate' }, 3),
);

/** An effect whose result cannot be recorded at first: the result waits, and the service runs once. */
async function effectThrough(t: ExecutionContext, fault: Omit<Fault, 'times'>, times: number) {
  const h = await harness(t);
  let calls = 0;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  const rt = await h.runtime({
    machines: { invoker },
    leaseMs: 5_000,
    services: {
      work: async () => {
        calls += 1;
        started();
        await gate;
        return 'result';
      },
    },
  });
  const id = await rt.start('invoker', { input: 'x' });
  await running;
  // Every statement that would record the result fails for a while (the step write ends the effect).
  const injected = await injectFault(h.db, { ...fault, times });
  release();
  const done = await rt.waitFor(id, (s) => s.status !== 'active', { timeoutMs: 30_000 });
  t.like(done, { value: 'ok', context: { output: 'result' } });
  t.is(await injected.fired(), times, 'the fault really fired');
  t.is(calls, 1, 'the service ran once: its result was kept and recorded, not redone after the lease');
  await assertAppliedOnce(t, h, rt, id, ['xstate.init', 'xstate.done.actor.job']);
  const [effect] = await h.db.query<{ status: string; attempts: number }>(`SELECT status, attempts FROM "${h.db.schema}".effects`);
  t.like(effect, { status: 'done', attempts: 1 });
}

test('an effect result that meets a full disk is recorded once the disk has room', (t) => effectThrough(t, { table: 'effects', on: 'UPDATE', error: '53100' }, 4));
test('an effect result that meets a serialization failure is recorded on retry', (t) => effectThrough(t, { table: 'journal', on: 'INSERT', error: '40001' }, 3));
pgOnly('a connection lost while recording an effect result: retried, the service not run again', (t) =>
  effectThrough(t, { table: 'effects', on: 'UPDATE', error: 'terminate' }, 3),
);

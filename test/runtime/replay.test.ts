import test from 'ava';
import { randomUUID } from 'node:crypto';
import { createMachine, setup, type AnyStateMachine } from 'xstate';
import { ManualClock } from '../../runtime/clock.js';
import { durable } from '../../runtime/durable.js';
import { ConfigError, InstanceNotFoundError, PermanentError, RuntimeClosedError } from '../../runtime/errors.js';
import { checkDeploy, formatStateValue, replay, replayJournal, type ReplayResult } from '../../runtime/replay.js';
import type { RecordedInstance } from '../../runtime/queries/journal.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { delayed, recorder } from '../helpers/machines.js';
import { harness } from '../helpers/runtime.js';

failOnLeakedRuntimes();

/** `delayed` with one edit to its states. */
function delayedWith(edit: (states: Record<string, any>) => Record<string, any>): AnyStateMachine {
  return createMachine({ ...delayed.config, states: edit({ ...delayed.config.states }) } as never, delayed.implementations as never) as unknown as AnyStateMachine;
}
/** `parked` renamed `paused`; BACK still leads to `waiting`, so the paths meet again after it. */
const pausedNotParked = delayedWith(({ parked, ...states }) => ({ ...states, waiting: { ...states.waiting, on: { ...states.waiting.on, CANCEL: 'paused' } }, paused: parked }));
/** The inline delay halved: `after: { 30000 }` is another event id than `after: { 60000 }`. */
const halfTheWait = delayedWith((states) => ({ ...states, waiting: { ...states.waiting, after: { 30_000: 'fired' } } }));

const divergentSeqs = (result: ReplayResult) => result.steps.filter((step) => step.divergence).map((step) => step.seq);

test('a journal replayed through its own machine matches at every step; a renamed state diverges exactly where the paths part', async (t) => {
  const h = await harness(t);
  const rt = await h.runtime({ machines: { delayed } });
  const id = await rt.start('delayed');
  for (const type of ['CANCEL', 'BACK', 'SKIP']) await rt.send(id, { type });
  await rt.waitFor(id, (s) => s.status === 'done');

  const same = await replay(rt, id);
  t.false(same.diverged);
  t.is(same.firstDivergence, undefined);
  t.like(same, { instanceId: id, machine: 'delayed', machineVersion: 1, status: 'done', value: 'fired', divergentSteps: 0 });
  t.deepEqual(
    same.steps.map((s) => [s.seq, s.event.type, s.kind, s.recorded.from, s.recorded.to, s.recorded.status, s.replayed?.value, s.replayed?.status, s.replayed?.accepted]),
    [
      [0, 'xstate.init', 'machine', null, 'waiting', 'active', 'waiting', 'active', true],
      [1, 'CANCEL', 'machine', 'waiting', 'parked', 'active', 'parked', 'active', true],
      [2, 'BACK', 'machine', 'parked', 'waiting', 'active', 'waiting', 'active', true],
      [3, 'SKIP', 'machine', 'waiting', 'fired', 'done', 'fired', 'done', true],
    ],
  );

  const renamed = await replay(rt, id, { machine: pausedNotParked });
  t.deepEqual(divergentSeqs(renamed), [1], 'BACK leads both machines to waiting again');
  t.like(renamed.firstDivergence, { seq: 1, replayed: { value: 'paused' }, divergence: { reasons: ['value'], message: 'replayed paused, recorded parked' } });
});

test('a timer event names its delay: an inline delay changed is an event the new machine does not take', async (t) => {
  const h = await harness(t);
  const clock = new ManualClock(Date.parse('2030-01-01T00:00:00Z'));
  const rt = await h.runtime({ machines: { delayed }, clock });
  const id = await rt.start('delayed');
  clock.advance(60_000);
  rt.wake();
  await rt.waitFor(id, (s) => s.status === 'done');
  t.deepEqual((await rt.history(id)).map((h) => h.event.type), ['xstate.init', 'xstate.after.60000.delayed.waiting']);

  t.false((await replay(rt, id)).diverged);
  const halved = await replay(rt, id, { machine: halfTheWait });
  t.deepEqual(divergentSeqs(halved), [1]);
  t.deepEqual(halved.firstDivergence!.divergence, {
    reasons: ['not_accepted', 'value', 'status'],
    message: 'no transition on xstate.after.60000.delayed.waiting in waiting; replayed waiting, recorded fired; replayed status active, recorded done',
  });
});

test('a named delay is part of the event id, its value is not: another value replays the same path', async (t) => {
  const named = setup({ delays: { wait: 60_000 } }).createMachine({
    id: 'named',
    initial: 'waiting',
    states: { waiting: { after: { wait: 'fired' } }, fired: { type: 'final' } },
  });
  const h = await harness(t);
  const clock = new ManualClock(Date.parse('2030-01-01T00:00:00Z'));
  const rt = await h.runtime({ machines: { named }, clock });
  const id = await rt.start('named');
  clock.advance(60_000);
  rt.wake();
  await rt.waitFor(id, (s) => s.status === 'done');
  t.is((await rt.history(id))[1]!.event.type, 'xstate.after.wait.named.waiting');
  t.false((await replay(rt, id, { machine: named.provide({ delays: { wait: 5_000 } }) })).diverged);
});

test("an operator's docket.stop is shown as the engine's entry and never replayed", async (t) => {
  const h = await harness(t);
  const rt = await h.runtime({ machines: { delayed } });
  const id = await rt.start('delayed');
  await rt.send(id, { type: 'CANCEL' });
  await rt.waitFor(id, (s) => s.value === 'parked');
  await rt.stop(id, 'maintenance');

  const result = await replay(rt, id);
  t.false(result.diverged);
  t.like(result.steps[2], {
    seq: 2,
    kind: 'engine',
    event: { type: 'docket.stop', reason: 'maintenance' },
    recorded: { from: 'parked', to: 'parked', status: 'stopped' },
    replayed: null,
    divergence: null,
  });
  t.like(result.steps[1], { recorded: { status: 'active' }, replayed: { value: 'parked', status: 'active' } }, 'the last machine step left the snapshot active');
  t.deepEqual(divergentSeqs(await replay(rt, id, { machine: pausedNotParked })), [1]);
});

// An invoke without onError: a failed service puts the snapshot itself in XState's `error` status.
const careless = setup({ actors: { work: durable<unknown, unknown>(async () => null) } }).createMachine({
  id: 'careless',
  initial: 'working',
  states: { working: { invoke: { id: 'job', src: 'work', onDone: 'ok' } }, ok: { type: 'final' } },
});
const careful = setup({ actors: { work: durable<unknown, unknown>(async () => null) } }).createMachine({
  id: 'careless',
  initial: 'working',
  states: { working: { invoke: { id: 'job', src: 'work', onDone: 'ok', onError: 'failed' } }, ok: { type: 'final' }, failed: { type: 'final' } },
});

test('the recorded status comes from the stored snapshot: an XState error replays as one, a parked instance as active; check-deploy looks at both', async (t) => {
  const h = await harness(t);
  const rt = await h.runtime({
    maxStepFailures: 1,
    machines: {
      careless,
      recorder: {
        machine: recorder,
        onStep: async (_tx, step) => {
          if (step.events.some((e) => e.type === 'NOTE')) throw new Error('projection table is missing');
        },
      },
    },
    services: { work: async () => Promise.reject(new PermanentError('no', { code: 'NOPE' })) },
  });
  const erred = await rt.start('careless');
  await rt.waitFor(erred, (s) => s.status === 'error');
  const parked = await rt.start('recorder');
  await rt.send(parked, { type: 'NOTE', value: 'x' });
  await rt.waitFor(parked, (s) => s.status === 'error', { timeoutMs: 15_000 });

  const own = await replay(rt, erred);
  t.false(own.diverged);
  t.like(own.steps[1], { event: { type: 'xstate.error.actor.job' }, recorded: { status: 'error' }, replayed: { status: 'error', accepted: false } });
  const handled = await replay(rt, erred, { machine: careful });
  t.deepEqual(handled.firstDivergence?.divergence?.reasons, ['value', 'status']);

  const parkedReplay = await replay(rt, parked);
  t.false(parkedReplay.diverged);
  t.like(parkedReplay, { status: 'error', steps: [{ seq: 0, recorded: { status: 'active' } }] });

  t.like(await checkDeploy(rt, { machine: 'careless' }), { statuses: ['active', 'error'], checked: 1, diverging: [] });
  const check = await checkDeploy(rt, { machine: 'careless', candidate: careful });
  t.deepEqual(check.diverging.map((d) => [d.instanceId, d.status, d.firstDivergence.seq]), [[erred, 'error', 1]]);
  t.like(await checkDeploy(rt, { machine: 'recorder' }), { checked: 1, diverging: [] });
});

test('checkDeploy pages through every in-flight instance and lists exactly those whose path would diverge', async (t) => {
  const h = await harness(t);
  const rt = await h.runtime({ machines: { delayed, recorder } });
  const ids = [];
  for (let i = 0; i < 12; i++) ids.push(await rt.start('delayed'));
  await rt.start('recorder');
  const canceled = ids.filter((_, i) => i % 3 === 0);
  for (const id of canceled) await rt.send(id, { type: 'CANCEL' });
  const skipped = ids[1]!;
  await rt.send(skipped, { type: 'CANCEL' });
  await rt.send(skipped, { type: 'BACK' });
  await rt.send(skipped, { type: 'SKIP' });
  for (const id of [...canceled, skipped]) await rt.waitFor(id, (s) => s.value !== 'waiting' || s.version === 2);

  for (const pageSize of [1, 5, 100]) {
    const check = await checkDeploy(rt, { machine: 'delayed', candidate: pausedNotParked, pageSize });
    t.is(check.checked, 11, `pageSize ${pageSize}: every active instance once, the done one not`);
    t.deepEqual(check.diverging.map((d) => d.instanceId).sort(), [...canceled].sort(), `pageSize ${pageSize}`);
    t.true(check.diverging.every((d) => d.value === 'parked' && d.firstDivergence.seq === 1 && d.divergentSteps === 1));
  }
  const done = await checkDeploy(rt, { machine: 'delayed', candidate: pausedNotParked, statuses: ['done'] });
  t.like(done, { checked: 1, diverging: [{ instanceId: skipped, status: 'done', divergentSteps: 1 }] });
  t.like(await checkDeploy(rt, { machine: 'delayed' }), { checked: 11, diverging: [] }, 'the registered machine: nothing diverges');
});

test('replay and checkDeploy refuse what they cannot do', async (t) => {
  const h = await harness(t);
  const rt = await h.runtime({ machines: { delayed } });
  const id = await rt.start('delayed');
  const other = await h.runtime({ machines: { recorder } });
  await t.throwsAsync(replay(rt, randomUUID()), { instanceOf: InstanceNotFoundError });
  await t.throwsAsync(replay(rt, 'not-a-uuid'), { instanceOf: InstanceNotFoundError });
  await t.throwsAsync(replay(other, id), { instanceOf: ConfigError, message: /no machine "delayed" is registered/ });
  t.false((await replay(other, id, { machine: delayed })).diverged, 'any runtime on the database replays with the machine it is given');
  await t.throwsAsync(checkDeploy(other, { machine: 'delayed' }), { instanceOf: ConfigError });
  await t.throwsAsync(replay({} as never, id), { instanceOf: TypeError });
  await other.close();
  await t.throwsAsync(replay(other, id, { machine: delayed }), { instanceOf: RuntimeClosedError });
});

test('replayJournal is pure: a machine that throws on an event diverges with the reason, and state values print as paths', (t) => {
  const throwing = setup({}).createMachine({
    id: 'm',
    initial: 'a',
    states: {
      a: {
        on: {
          GO: {
            guard: () => {
              throw new Error('guard broke');
            },
            target: 'b',
          },
        },
      },
      b: {},
    },
  });
  const at = new Date();
  const recorded: RecordedInstance = {
    id: randomUUID(),
    machine: 'm',
    machineVersion: 1,
    status: 'active',
    snapshotStatus: 'active',
    entries: [
      { seq: 0, event: { type: 'xstate.init' }, from: null, to: 'a', at },
      { seq: 1, event: { type: 'GO' }, from: 'a', to: 'b', at },
    ],
  };
  const result = replayJournal(throwing, recorded);
  t.deepEqual(divergentSeqs(result), [1]);
  t.deepEqual(result.firstDivergence!.divergence!.reasons, ['threw']);
  t.regex(result.firstDivergence!.divergence!.message, /threw on GO: .*guard broke/);

  t.is(formatStateValue('idle'), 'idle');
  t.is(formatStateValue({ parsing: 'waiting' }), 'parsing.waiting');
  t.is(formatStateValue({ a: { b: 'c' } }), 'a.b.c');
  t.is(formatStateValue({ left: 'x', right: {} }), '{left.x, right}');
  t.is(formatStateValue(null), '·');
});

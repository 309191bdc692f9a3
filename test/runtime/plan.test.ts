import test from 'ava';
import { initialTransition, setup, transition, sendTo, raise } from 'xstate';
import pino from 'pino';
import { ActionPlan, type ResolvedAction } from '../../runtime/plan.js';
import { computeStep } from '../../runtime/transition.js';

const logger = pino({ level: 'silent' });

// Pure: no database. How XState's actions become rows.
const machine = setup({ actors: {} }).createMachine({
  id: 'm',
  initial: 'a',
  states: {
    a: {
      after: { 1000: 'b' },
      on: {
        GO: 'b',
        PING: { actions: [sendTo(({ self }) => self, { type: 'PONG' }), raise({ type: 'LATER' }, { delay: 50, id: 'later' })] },
        SELF: { target: 'a', reenter: true },
      },
    },
    b: {},
  },
});

const family = { machineName: 'm', invocations: {}, parentId: null, parentRef: null };

test('after becomes a timer row at now + delay; leaving the state deletes it', (t) => {
  const [s0, a0] = initialTransition(machine);
  const plan = new ActionPlan(machine, 'i', logger, family);
  plan.add(a0 as ResolvedAction[], 0, 1_000, s0.context, { type: 'xstate.init' });
  t.deepEqual([...plan.timers.values()].map((r) => [r.timer_id, r.available_at]), [['xstate.after.1000.m.a', new Date(2_000).toISOString()]]);
  const [, a1] = transition(machine, s0, { type: 'GO' });
  const exit = new ActionPlan(machine, 'i', logger, family);
  exit.add(a1 as ResolvedAction[], 1, 5_000, {}, { type: 'GO' });
  t.deepEqual([...exit.timerDeletes], ['xstate.after.1000.m.a']);
  t.is(exit.timers.size, 0);
});

test('re-entering a state replaces its timer: the old row deleted, one new row', (t) => {
  const [s0] = initialTransition(machine);
  const [, actions] = transition(machine, s0, { type: 'SELF' });
  const plan = new ActionPlan(machine, 'i', logger, family);
  plan.add(actions as ResolvedAction[], 1, 10_000, {}, { type: 'SELF' });
  t.deepEqual([...plan.timerDeletes], ['xstate.after.1000.m.a']);
  t.deepEqual([...plan.timers.values()].map((r) => r.available_at), [new Date(11_000).toISOString()]);
});

test('sendTo self becomes an inbox row now; a delayed raise a timer with its id', (t) => {
  const [s0] = initialTransition(machine);
  const [, actions] = transition(machine, s0, { type: 'PING' });
  const plan = new ActionPlan(machine, 'i', logger, family);
  plan.add(actions as ResolvedAction[], 1, 0, {}, { type: 'PING' });
  t.deepEqual(plan.selfEvents.map((e) => e.event), [{ type: 'PONG' }]);
  t.deepEqual(plan.timers.get('later')?.event, { type: 'LATER' });
  t.is(plan.timers.get('later')?.available_at, new Date(50).toISOString());
});

test('a due timer cancelled or re-armed earlier in the same batch does not fire', (t) => {
  // The worker is late: SELF (sent at 900) re-enters `a` and re-arms its timer; the old timer's row
  // (due at 1000) comes next in the same batch and must not fire in the re-entered state.
  const reg = { name: 'm', machine, version: 1, compatibleVersions: new Set<number>(), migrate: undefined, onStep: undefined };
  const [s0] = initialTransition(machine);
  const snapshot = JSON.parse(JSON.stringify(machine.getPersistedSnapshot(s0)));
  const at = new Date(2_000);
  const outcome = computeStep(
    reg,
    { id: 'i', machine: 'm', machineVersion: 1, snapshot, status: 'active', version: 0, invocations: {}, stepFailures: 0, parent: null, createdAt: 0 },
    [
      { id: '1', event: { type: 'SELF' }, timerId: null, sourceEffect: null, availableAt: new Date(900), createdAt: new Date(900) },
      { id: '2', event: { type: 'xstate.after.1000.m.a' }, timerId: 'xstate.after.1000.m.a', sourceEffect: null, availableAt: new Date(1_000), createdAt: new Date(0) },
    ],
    false,
    at.getTime(),
    logger,
  );
  t.is(outcome.value, 'a', 'still waiting in a: the stale timer did not move it to b');
  t.deepEqual(outcome.applied.map((e) => e.type), ['SELF']);
  t.is(outcome.dropped, 1);
  t.deepEqual(outcome.consumedEventIds.sort(), ['1', '2'], 'the stale row is consumed all the same');
});

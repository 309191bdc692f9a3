import test from 'ava';
import { assign, createActor, raise, sendTo, setup } from 'xstate';
import { ManualClock } from '../../runtime/clock.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { delayed } from '../helpers/machines.js';
import { harness } from '../helpers/runtime.js';

failOnLeakedRuntimes();

async function timerRows(h: Awaited<ReturnType<typeof harness>>) {
  return h.db.query<{ timer_id: string; available_at: Date }>(`SELECT timer_id, available_at FROM "${h.db.schema}".events WHERE timer_id IS NOT NULL`);
}

test('an after timer is a row with a due time and fires once when it falls due', async (t) => {
  const h = await harness(t);
  const clock = new ManualClock();
  const rt = await h.runtime({ machines: { delayed }, clock });
  const started = clock.now();
  const id = await rt.start('delayed');
  const rows = await timerRows(h);
  t.is(rows.length, 1);
  t.is(new Date(rows[0]!.available_at).getTime(), started + 60_000);

  clock.advance(59_999);
  // An event the state ignores: once it is applied, the worker has looked since the clock moved.
  await rt.send(id, { type: 'BACK' });
  let state = await rt.waitFor(id, (s) => s.version === 1);
  t.is(state.value, 'waiting', 'not due yet');

  clock.advance(1);
  state = await rt.waitFor(id, (s) => s.status === 'done');
  t.like(state, { value: 'fired', context: { fired: 1 } });
  t.is((await timerRows(h)).length, 0);
  t.is(rt.metrics().timersFired, 1);
  const afterEvents = (await rt.history(id)).filter((entry) => entry.event.type.startsWith('xstate.after'));
  t.is(afterEvents.length, 1);
});

test('a timer survives the runtime closing; overdue at restart, it fires at once', async (t) => {
  const h = await harness(t);
  const clock = new ManualClock();
  const first = await h.runtime({ machines: { delayed }, clock });
  const id = await first.start('delayed');
  await first.close();

  clock.advance(5 * 60_000); // the process is down past the due time
  const second = await h.runtime({ machines: { delayed }, clock });
  const state = await second.waitFor(id, (s) => s.status === 'done');
  t.like(state, { value: 'fired', context: { fired: 1 } });
  const lateness = second.metrics().timerLatenessMs;
  t.is(lateness.count, 1);
  t.is(lateness.max, 4 * 60_000, 'it knows how late it fired');
});

test('leaving the state cancels its timer; re-entering arms a new one', async (t) => {
  const h = await harness(t);
  const clock = new ManualClock();
  const rt = await h.runtime({ machines: { delayed }, clock });
  const id = await rt.start('delayed');
  await rt.send(id, { type: 'CANCEL' });
  await rt.waitFor(id, (s) => s.value === 'parked');
  t.is((await timerRows(h)).length, 0, 'cancelled on exit');

  clock.advance(120_000);
  await rt.send(id, { type: 'BACK' });
  await rt.waitFor(id, (s) => s.value === 'waiting');
  const rows = await timerRows(h);
  t.is(rows.length, 1);
  t.is(new Date(rows[0]!.available_at).getTime(), clock.now() + 60_000, 'a fresh delay from re-entry');

  clock.advance(60_000);
  const state = await rt.waitFor(id, (s) => s.status === 'done');
  t.is((state.context as { fired: number }).fired, 1, 'the cancelled timer never fired');
});

// statelyai/xstate#5331: a restored actor never fires an `after` that was pending when persisted.
const reminder = setup({}).createMachine({
  id: 'reminder',
  initial: 'waiting',
  states: { waiting: { after: { 30: 'reminded' } }, reminded: { type: 'final' } },
});

test('xstate#5331: plain XState loses the delay on restore; docket fires it', async (t) => {
  const actor = createActor(reminder).start();
  const persisted = actor.getPersistedSnapshot();
  actor.stop();
  const restored = createActor(reminder, { snapshot: persisted }).start();
  await new Promise((resolve) => setTimeout(resolve, 150));
  t.is(restored.getSnapshot().value, 'waiting', 'the bug: plain XState waits forever');
  restored.stop();

  const h = await harness(t);
  const clock = new ManualClock();
  const before = await h.runtime({ machines: { reminder }, clock });
  const id = await before.start('reminder');
  await before.close();
  const after = await h.runtime({ machines: { reminder }, clock });
  clock.advance(30);
  const state = await after.waitFor(id, (s) => s.status === 'done');
  t.is(state.value, 'reminded');
});

const pinger = setup({ types: { context: {} as { pongs: number } } }).createMachine({
  id: 'pinger',
  context: { pongs: 0 },
  initial: 'idle',
  states: {
    idle: {
      on: {
        PING: { actions: raise({ type: 'PONG' }, { delay: 5_000, id: 'pong' }) },
        PING_SELF: { actions: sendTo(({ self }) => self, { type: 'PONG' }, { delay: 10_000 }) },
        PONG: { actions: assign({ pongs: ({ context }) => context.pongs + 1 }) },
        STOP: 'stopped',
      },
    },
    stopped: { type: 'final' },
  },
});

test('delayed raise and sendTo to self are durable timers too', async (t) => {
  const h = await harness(t);
  const clock = new ManualClock();
  const rt = await h.runtime({ machines: { pinger }, clock });
  const id = await rt.start('pinger');
  await rt.send(id, { type: 'PING' });
  await rt.send(id, { type: 'PING_SELF' });
  await rt.waitFor(id, (s) => s.version === 2);
  t.is((await timerRows(h)).length, 2);
  clock.advance(5_000);
  t.is(((await rt.waitFor(id, (s) => s.version === 3)).context as { pongs: number }).pongs, 1);
  clock.advance(5_000);
  t.is(((await rt.waitFor(id, (s) => s.version === 4)).context as { pongs: number }).pongs, 2);
  t.is((await timerRows(h)).length, 0);
});

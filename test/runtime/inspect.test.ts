import test from 'ava';
import type { AnyEventObject, InspectionEvent } from 'xstate';
import { backend, postgresUrl } from '../helpers/db.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { ManualClock } from '../../runtime/clock.js';
import { delayed, invoker, recorder } from '../helpers/machines.js';
import { forkWorker } from '../helpers/processes.js';
import { eventually, harness } from '../helpers/runtime.js';
import type { HistoryEntry, PersistedSnapshot, Runtime } from '../../runtime/types.js';

failOnLeakedRuntimes();

/** What an inspector received, in the order it received it, reduced to what the tests compare. */
interface Seen {
  type: InspectionEvent['type'];
  session: string;
  root: string;
  event?: AnyEventObject;
  source?: string;
  snapshot?: PersistedSnapshot;
}

function recording(): { events: Seen[]; inspect: (event: InspectionEvent) => void } {
  const events: Seen[] = [];
  return {
    events,
    inspect: (e) => {
      const seen: Seen = { type: e.type, session: e.actorRef.sessionId, root: e.rootId };
      if (e.type === '@xstate.event') Object.assign(seen, { event: e.event, source: e.sourceRef?.sessionId });
      if (e.type === '@xstate.snapshot') Object.assign(seen, { event: e.event, snapshot: e.snapshot });
      if (e.type === '@xstate.actor') Object.assign(seen, { snapshot: e.actorRef.getSnapshot() });
      events.push(seen);
    },
  };
}

/** The inspection events the journal of `id` calls for: its actor, then an event and a snapshot per entry. */
function expected(id: string, history: HistoryEntry[]) {
  return [
    { type: '@xstate.actor', session: id },
    ...history.flatMap((entry) => [
      { type: '@xstate.event', session: id, event: entry.event.type },
      { type: '@xstate.snapshot', session: id, event: entry.event.type, value: entry.to },
    ]),
  ];
}

function received(events: Seen[], id: string) {
  return events
    .filter((e) => e.session === id)
    .map((e) =>
      e.type === '@xstate.actor'
        ? { type: e.type, session: e.session }
        : e.type === '@xstate.event'
          ? { type: e.type, session: e.session, event: e.event!.type }
          : { type: e.type, session: e.session, event: e.event!.type, value: e.snapshot!.value },
    );
}

async function reportedUntil(events: Seen[], id: string, status: string): Promise<void> {
  await eventually(() => events.some((e) => e.session === id && e.type === '@xstate.snapshot' && e.snapshot?.status === status), 10_000, `an inspected ${status} snapshot`);
}

const logs = (events: Seen[], id: string) =>
  events.filter((e) => e.session === id && e.type === '@xstate.snapshot').map((e) => (e.snapshot!.context as { log: string[] }).log.join(''));

test('each step is reported as XState inspection events, in journal order, with the persisted snapshots', async (t) => {
  const h = await harness(t);
  const { events, inspect } = recording();
  const rt = await h.runtime({ machines: { recorder }, inspect });
  const id = await rt.start('recorder');
  await rt.send(id, { type: 'NOTE', value: 'a' });
  await rt.waitFor(id, (s) => s.version === 1);
  await rt.send(id, { type: 'NOTE', value: 'b' });
  await rt.waitFor(id, (s) => s.version === 2);
  await rt.send(id, { type: 'STOP' });
  await reportedUntil(events, id, 'done');

  const history = await rt.history(id);
  t.deepEqual(received(events, id), expected(id, history));
  t.true(events.every((e) => e.root === id), 'the instance is the root of its own events');
  t.deepEqual(events[0]!.snapshot, { value: 'open', status: 'active', context: { log: [] }, children: {}, historyValue: {} });
  t.deepEqual(logs(events, id), ['', 'a', 'ab', 'ab']);
  const last = events.at(-1)!;
  const stored = await h.db.one<{ snapshot: PersistedSnapshot }>(`SELECT snapshot FROM "${h.db.schema}".instances WHERE id = $1`, [id]);
  t.deepEqual(last.snapshot, stored.snapshot, 'the snapshot after a step is the one persisted');
  t.true(events.filter((e) => e.type === '@xstate.event').every((e) => e.source === undefined), 'sent from outside');
});

test('steps made by another runtime are reported, one event and snapshot each, also when one step applied several', async (t) => {
  const h = await harness(t);
  const { events, inspect } = recording();
  // The inspecting runtime steps nothing: every step is another worker's.
  const watcher = await h.runtime({ machines: { recorder }, worker: false, inspect });
  const id = await watcher.start('recorder');
  for (const value of ['a', 'b', 'c']) await watcher.send(id, { type: 'NOTE', value });
  await watcher.send(id, { type: 'STOP' });
  const worker = await h.runtime({ machines: { recorder } });
  await worker.waitFor(id, (s) => s.status === 'done');
  await reportedUntil(events, id, 'done');

  const history = await watcher.history(id);
  t.deepEqual(received(events, id), expected(id, history));
  // The four events were applied in one step, which persisted only the last snapshot; the ones in
  // between are recomputed, so each shows its own context.
  t.deepEqual(logs(events, id), ['', 'a', 'ab', 'abc', 'abc']);
});

test('steps in quick succession are reported once each and in order', async (t) => {
  const h = await harness(t);
  const { events, inspect } = recording();
  const rt = await h.runtime({ machines: { recorder }, inspect, stepBatchSize: 3 });
  const id = await rt.start('recorder');
  const values = Array.from({ length: 40 }, (_, i) => String.fromCharCode(97 + (i % 26)));
  await Promise.all(values.map((value) => rt.send(id, { type: 'NOTE', value })));
  await rt.send(id, { type: 'STOP' });
  await reportedUntil(events, id, 'done');
  const history = await rt.history(id);
  t.is(history.length, 42);
  t.deepEqual(received(events, id), expected(id, history));
  const applied = history.filter((e) => e.event.type === 'NOTE').map((e) => (e.event as unknown as { value: string }).value);
  t.deepEqual(logs(events, id).slice(1, -1), applied.map((_, i) => applied.slice(0, i + 1).join('')));
});

test('an invoked child is announced, and its result comes from it; a timer comes from the instance itself', async (t) => {
  const h = await harness(t);
  const { events, inspect } = recording();
  const rt = await h.runtime({ machines: { invoker }, inspect, services: { work: async () => 'done' } });
  const id = await rt.start('invoker', { input: 1 });
  await reportedUntil(events, id, 'done');
  const child = events.find((e) => e.type === '@xstate.actor' && e.session !== id);
  t.is(child?.session, `${id}/job`);
  t.is(child?.root, id);
  const result = events.find((e) => e.type === '@xstate.event' && e.event?.type === 'xstate.done.actor.job');
  t.is(result?.source, `${id}/job`);
  t.true(events.indexOf(child!) < events.indexOf(result!), 'announced before it answers');

  const clock = new ManualClock();
  const timed = await h.runtime({ machines: { delayed }, inspect, clock });
  const waiting = await timed.start('delayed');
  await timed.waitFor(waiting, (s) => s.version === 0);
  clock.advance(60_000);
  await reportedUntil(events, waiting, 'done');
  const fired = events.find((e) => e.session === waiting && e.type === '@xstate.event' && e.event?.type.startsWith('xstate.after.'));
  t.is(fired?.source, waiting);
});

test('a step that rolls back is never reported; parking the instance in error is', async (t) => {
  const h = await harness(t);
  const { events, inspect } = recording();
  const rt = await h.runtime({
    machines: {
      recorder: {
        machine: recorder,
        onStep: async (_tx, step) => {
          if (step.events.some((e) => e.type === 'NOTE' && e.value === 'boom')) throw new Error('hook failed');
        },
      },
    },
    inspect,
    maxStepFailures: 2,
  });
  const id = await rt.start('recorder');
  await rt.send(id, { type: 'NOTE', value: 'boom' });
  await reportedUntil(events, id, 'error');
  t.deepEqual(
    events.map((e) => `${e.type} ${e.event?.type ?? ''}`.trim()),
    ['@xstate.actor', '@xstate.event xstate.init', '@xstate.snapshot xstate.init', '@xstate.snapshot docket.error'],
  );
  t.like(events.at(-1)!.snapshot, { status: 'error', value: 'open', error: { code: 'STEP_FAILED' } });
});

test('stopping an instance is reported as the entry docket.stop, with status stopped', async (t) => {
  const h = await harness(t);
  const { events, inspect } = recording();
  const rt = await h.runtime({ machines: { recorder }, inspect });
  const id = await rt.start('recorder');
  await rt.send(id, { type: 'NOTE', value: 'a' });
  await rt.waitFor(id, (s) => s.version === 1);
  await rt.stop(id, 'enough');
  await reportedUntil(events, id, 'stopped');
  t.deepEqual(received(events, id), expected(id, await rt.history(id)));
  t.like(events.at(-1), { type: '@xstate.snapshot', event: { type: 'docket.stop', reason: 'enough' }, snapshot: { status: 'stopped', value: 'open', context: { log: ['a'] } } });
});

test('inspectors as XState takes them: a function, an observer, an @statelyai/inspect-like object; one that throws harms nothing', async (t) => {
  const h = await harness(t);
  const byFunction: string[] = [];
  const byObserver: string[] = [];
  const byInspector: string[] = [];
  const runtimes: Runtime[] = [
    await h.runtime({ machines: { recorder }, inspect: (e) => void byFunction.push(e.type) }),
    await h.runtime({ machines: { recorder }, worker: false, inspect: { next: (e) => void byObserver.push(e.type) } }),
    await h.runtime({ machines: { recorder }, worker: false, inspect: { inspect: { next: (e) => void byInspector.push(e.type) } } }),
    await h.runtime({
      machines: { recorder },
      worker: false,
      inspect: () => {
        throw new Error('a broken inspector');
      },
    }),
  ];
  const id = await runtimes[0]!.start('recorder');
  await runtimes[0]!.send(id, { type: 'STOP' });
  await runtimes[0]!.waitFor(id, (s) => s.status === 'done');
  const all = ['@xstate.actor', '@xstate.event', '@xstate.snapshot', '@xstate.event', '@xstate.snapshot'];
  await eventually(() => byFunction.length === 5 && byObserver.length === 5 && byInspector.length === 5);
  t.deepEqual([byFunction, byObserver, byInspector], [all, all, all]);
});

// Several processes on one database need a server: PGlite lives inside one process.
const multiProcess = backend === 'postgres' ? test : test.skip;

multiProcess('steps made in another worker process are reported by the inspecting one', async (t) => {
  const h = await harness(t);
  const worker = forkWorker(t, { scenario: 'hang-effect', database: postgresUrl, schema: h.db.schema });
  await worker.next('ready');
  const { events, inspect } = recording();
  const watcher = await h.runtime({ machines: { invoker, recorder }, worker: false, inspect });
  const id = await watcher.start('recorder');
  await watcher.send(id, { type: 'NOTE', value: 'x' });
  await watcher.waitFor(id, (s) => s.version === 1);
  await watcher.send(id, { type: 'STOP' });
  await reportedUntil(events, id, 'done');
  t.deepEqual(received(events, id), expected(id, await watcher.history(id)));
  t.deepEqual(logs(events, id), ['', 'x', 'x']);
});

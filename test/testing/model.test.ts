import test from 'ava';
import { assign, fromPromise, setup } from 'xstate';
import { ConfigError, PermanentError, TransientError } from 'docket';
import { CoverageError, ModelPathError, modelPaths, testMachine } from 'docket/testing';
import { testDatabase } from '../helpers/db.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';

// docket/testing on machines of its own (imported through the package's `./testing` export, as
// users import it), so the helper is proven apart from the upload machine.

failOnLeakedRuntimes();

/** The README's example: a cooling-off period, then a charge that may fail or hang. */
const order = setup({
  types: {
    context: {} as { item: string; receipt: string | null; reason: string | null },
    input: {} as { item: string },
    events: {} as { type: 'CANCEL' },
  },
  actors: {
    charge: fromPromise<{ receipt: string }, { item: string }>(async ({ input }) => ({ receipt: `paid for ${input.item}` })),
  },
}).createMachine({
  id: 'order',
  context: ({ input }) => ({ item: input.item, receipt: null, reason: null }),
  initial: 'coolingOff',
  states: {
    coolingOff: { after: { 2000: 'charging' }, on: { CANCEL: 'canceled' } },
    charging: {
      invoke: {
        src: 'charge',
        input: ({ context }) => ({ item: context.item }),
        onDone: { target: 'paid', actions: assign({ receipt: ({ event }) => event.output.receipt }) },
        onError: { target: 'declined', actions: assign({ reason: ({ event }) => (event.error as { code: string }).code }) },
      },
      after: { 60_000: { target: 'declined', actions: assign({ reason: 'CHARGE_TIMEOUT' }) } },
    },
    paid: { type: 'final' },
    declined: { type: 'final' },
    canceled: { type: 'final' },
  },
});

const declined = new PermanentError('card declined', { code: 'CARD_DECLINED' });

/**
 * Polls `check` every second under an overall 4.5 s limit (a timer of the parent state while the
 * child's own timer runs), can be nudged to check at once, and settles through an eventless choice.
 */
const watch = setup({
  types: {
    context: {} as { polls: number; result: string | null },
    events: {} as { type: 'NUDGE' } | { type: 'STOP'; reason: string },
  },
  actors: {
    check: fromPromise<{ ready: boolean; result?: string }>(async () => ({ ready: true, result: 'x' })),
  },
}).createMachine({
  id: 'watch',
  context: { polls: 0, result: null },
  initial: 'watching',
  states: {
    watching: {
      initial: 'idle',
      after: { 4500: '#watch.gaveUp' },
      on: { NUDGE: '.checking', STOP: 'stopped' },
      states: {
        idle: { after: { 1000: 'checking' } },
        checking: {
          invoke: {
            src: 'check',
            onDone: [
              { guard: ({ event }) => event.output.ready, target: '#watch.ready', actions: assign({ result: ({ event }) => event.output.result ?? '' }) },
              { target: 'idle', actions: assign({ polls: ({ context }) => context.polls + 1 }) },
            ],
            onError: '#watch.gaveUp',
          },
        },
      },
    },
    ready: { always: [{ guard: ({ context }) => context.result === '', target: 'empty' }, { target: 'done' }] },
    empty: { type: 'final' },
    done: { type: 'final' },
    gaveUp: { type: 'final' },
    stopped: { type: 'final' },
  },
});

const watchOptions = {
  services: { check: { done: [{ ready: false }, { ready: true, result: 'x' }, { ready: true, result: '' }] } },
  events: [{ type: 'STOP' as const, reason: 'enough' }],
  // NUDGE loops through checking without time passing: the poll counter would grow for ever.
  stateKey: (s: { value: unknown; context: { result: string | null } }) => ({ value: s.value, result: s.context.result }),
};

test('the README example: every state and transition of a machine with an invoke and after, on the runtime', async (t) => {
  const db = await testDatabase();
  t.teardown(() => db.close());
  const report = await testMachine(order, {
    database: db.database,
    schema: db.schema,
    input: { item: 'a teapot' },
    services: { charge: { done: [{ receipt: 'r-1' }], error: [declined] } },
    context: (actual, expected) => actual.receipt === expected.receipt && actual.reason === expected.reason,
  });
  t.log(report.text);
  t.deepEqual(report.uncovered, { states: [], transitions: [] });
  t.deepEqual(
    report.paths.map((p) => p.description),
    ['CANCEL', 'after 2000 ms → after 60000 ms', 'after 2000 ms → done charge', 'after 2000 ms → error charge'],
  );
  t.deepEqual(report.transitions.map((i) => [i.name, i.count]), [
    ['coolingOff → canceled  CANCEL', 1],
    ['coolingOff → charging  after 2000 ms', 3],
    ['charging → paid  done charge', 1],
    ['charging → declined  error charge', 1],
    ['charging → declined  after 60000 ms', 1],
  ]);
  t.regex(report.text, /^order: 5\/5 states, 5\/5 transitions covered by 4 paths \(7 steps\) on the runtime in [\d.]+ s/);
  t.is(new Set(report.paths.map((p) => p.instanceId)).size, 4, 'one instance per path');
});

test('a transition no path can take fails the test, naming it', async (t) => {
  const db = await testDatabase();
  t.teardown(() => db.close());
  // No error outcome for `charge`: nothing can take charging's onError.
  const options = { database: db.database, schema: db.schema, input: { item: 'a kettle' }, services: { charge: { done: [{ receipt: 'r-2' }], error: [] } } };
  const error = await t.throwsAsync(testMachine(order, options), { instanceOf: CoverageError });
  t.regex(error!.message, /^1 not covered:\n {2}transition charging → declined {2}error charge\n/);
  t.regex(error!.message, /0 {2}charging → declined {2}error charge {3}<- not covered/);
  t.deepEqual(error!.report.uncovered, { states: [], transitions: ['charging → declined  error charge'] });

  const report = await testMachine(order, { ...options, failOnUncovered: false });
  t.deepEqual(report.uncovered.transitions, ['charging → declined  error charge']);
  t.regex(report.text, /4\/5 transitions/);
});

test('nested timers, a guarded onDone, eventless transitions and example events: all covered on the runtime', async (t) => {
  const db = await testDatabase();
  t.teardown(() => db.close());
  const report = await testMachine(watch, { database: db.database, schema: db.schema, ...watchOptions, context: (a, e) => a.polls === e.polls && a.result === e.result });
  t.log(report.text);
  t.deepEqual(report.uncovered, { states: [], transitions: [] });
  const taken = Object.fromEntries(report.transitions.map((i) => [i.name, i.count]));
  t.true(taken['ready → empty  always [1/2, guarded]']! > 0, 'eventless transitions are counted');
  t.true(report.paths.some((p) => p.steps.some((s) => s.label === 'STOP')));
});

test('paths never fire a timer while an earlier one is pending, and due timers are automatic steps', (t) => {
  const paths = modelPaths(watch, { ...watchOptions, strategy: 'shortest' });
  t.true(paths.length > 0);
  for (const path of paths) {
    path.steps.forEach((step, i) => {
      const before = i === 0 ? { watching: 'idle' } : path.steps[i - 1]!.value;
      // In idle the child's 1 s timer is due long before the parent's 4.5 s one.
      if (step.label === 'after 4500 ms') t.notDeepEqual(before, { watching: 'idle' }, path.description);
    });
  }
  const timeouts = paths.filter((p) => p.steps.some((s) => s.label === 'after 4500 ms'));
  t.true(timeouts.length > 0);
  for (const path of timeouts) t.deepEqual(path.steps.at(-2)!.value, { watching: 'checking' }, 'the parent timer fires while check runs');

  const [first] = modelPaths(order, { input: { item: 'x' }, services: { charge: { done: [{ receipt: 'r' }] } } }).filter((p) => p.description.includes('done'));
  t.deepEqual(first!.steps.map((s) => [s.label, s.value, s.status]), [
    ['after 2000 ms', 'charging', 'active'],
    ['done charge', 'paid', 'done'],
  ]);

  const zero = setup({}).createMachine({ id: 'zero', initial: 'a', states: { a: { after: { 0: 'b' } }, b: { on: { GO: 'c' } }, c: { type: 'final' } } });
  t.deepEqual(modelPaths(zero).map((p) => p.steps.map((s) => [s.label, s.automatic])), [[['after 0 ms', true], ['GO', false]]]);
});

test('a counter without a stateKey: the exploration stops and says what to do', (t) => {
  const error = t.throws(() => modelPaths(watch, { ...watchOptions, stateKey: undefined, maxStates: 200 }));
  t.regex(error!.message, /more than 200 distinct states.*pass a stateKey/);
});

test('a step the runtime does not match fails the path with its history', async (t) => {
  const db = await testDatabase();
  t.teardown(() => db.close());
  const error = await t.throwsAsync(
    testMachine(order, {
      database: db.database,
      schema: db.schema,
      input: { item: 'a lamp' },
      services: { charge: { done: [{ receipt: 'r-3' }], error: [declined] } },
      context: (actual) => actual.reason !== 'CARD_DECLINED',
    }),
    { instanceOf: ModelPathError },
  );
  t.regex(error!.message, /^model path 4 of 4 failed at step 2 of 2 \(error charge\): context check failed/);
  t.regex(error!.message, /path: after 2000 ms → error charge/);
  t.regex(error!.message, /history:\n {4}0: xstate\.init → "coolingOff"\n {4}1: xstate\.after\.2000\.order\.coolingOff → "charging"\n {4}2: xstate\.error\.actor\.\S+ → "declined"/);
});

test('bad service options are refused before anything runs', (t) => {
  t.throws(() => modelPaths(order, { services: { chrage: {} } as never }), { instanceOf: ConfigError, message: /services\.chrage: the machine invokes no service "chrage" \(it invokes: charge\)/ });
  t.throws(() => modelPaths(order, { services: { charge: { error: [new TransientError('503')] } } }), { instanceOf: ConfigError, message: /transient/ });
  t.throws(() => modelPaths(order, { input: { item: 'x' } }), { message: /the machine threw on done charge in "charging".*services\.charge/ });
  t.throws(() => modelPaths(order), { message: /the machine threw while starting with input undefined: .*options\.input/ });
});

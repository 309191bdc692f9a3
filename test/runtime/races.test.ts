import test from 'ava';
import { assign, setup } from 'xstate';
import { durable } from '../../runtime/durable.js';
import { backend } from '../helpers/db.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { eventually, harness } from '../helpers/runtime.js';

failOnLeakedRuntimes();

/** Notes while its invocation runs; done when it returns. */
const noter = setup({
  types: { context: {} as { log: string[] }, events: {} as { type: 'NOTE'; value: string } },
  actors: { work: durable<string, void>(async () => 'unused: the test gives `work`') },
}).createMachine({
  id: 'noter',
  context: { log: [] },
  initial: 'working',
  states: {
    working: {
      invoke: { id: 'job', src: 'work', onDone: 'done' },
      on: { NOTE: { actions: assign({ log: ({ context, event }) => [...context.log, event.value] }) } },
    },
    done: { type: 'final' },
  },
});

// PGlite runs one transaction at a time, so the two steps below cannot overlap there.
const concurrent = backend === 'postgres' ? test : test.skip;

concurrent('an effect result applied while another step holds the instance does not re-apply that step\'s events', async (t) => {
  // Pinned by the chaos suite: 115 of 1,000 jobs applied one PARSE_CALLBACK twice. The result
  // path waited for the instance's lock and then read the inbox from before the other step's commit.
  const h = await harness(t);
  let releaseService!: () => void;
  const serviceGate = new Promise<void>((resolve) => (releaseService = resolve));
  let releaseStep!: () => void;
  const stepGate = new Promise<void>((resolve) => (releaseStep = resolve));
  let serviceRunning = false;
  let stepHeld = false;
  const rt = await h.runtime({
    machines: {
      noter: {
        machine: noter,
        onStep: async (_tx, step) => {
          if (step.events.some((e) => e.type === 'NOTE')) {
            stepHeld = true;
            await stepGate;
          }
        },
      },
    },
    services: { work: async () => ((serviceRunning = true), await serviceGate) },
  });
  const id = await rt.start('noter');
  await eventually(() => serviceRunning);
  await rt.send(id, { type: 'NOTE', value: 'once' });
  await eventually(() => stepHeld); // the NOTE step holds the instance, its event consumed but not committed
  releaseService(); // the result path now waits for the instance's lock
  await eventually(async () => {
    const rows = await h.db.query(`SELECT 1 FROM pg_locks WHERE NOT granted AND locktype IN ('transactionid', 'tuple')`);
    return rows.length > 0;
  });
  releaseStep();
  const done = await rt.waitFor<{ log: string[] }>(id, (s) => s.status === 'done');
  t.deepEqual(done.context.log, ['once']);
  t.deepEqual((await rt.history(id)).map((e) => e.event.type), ['xstate.init', 'NOTE', 'xstate.done.actor.job']);
});

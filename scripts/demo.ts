/**
 * The main job until the upload server lands: a durable runtime on the embedded default (PGlite
 * under ./data) running a small order machine with an `after` timer and an invoked service. Stop it
 * with Ctrl-C at any point and start it again: instances resume where they were.
 */
import pino from 'pino';
import { assign, setup } from 'xstate';
import { createRuntime, durable } from '../index.js';

const logger = pino({ name: 'docket-demo' });

const order = setup({
  types: { context: {} as { item: string; receipt?: string }, input: {} as { item: string } },
  actors: {
    charge: durable<string, { item: string }>(async ({ input, idempotencyKey }) => {
      await new Promise((resolve) => setTimeout(resolve, 200));
      return `receipt for ${input.item} (${idempotencyKey.slice(0, 8)}…)`;
    }),
  },
}).createMachine({
  id: 'order',
  context: ({ input }) => ({ item: input.item }),
  initial: 'cooling_off',
  states: {
    // A durable delay: survives restarts, fires once.
    cooling_off: { after: { 3000: 'charging' }, on: { CANCEL: 'canceled' } },
    charging: {
      invoke: { src: 'charge', input: ({ context }) => ({ item: context.item }), onDone: { target: 'paid', actions: assign({ receipt: ({ event }) => event.output }) } },
    },
    paid: { type: 'final' },
    canceled: { type: 'final' },
  },
});

const rt = await createRuntime({ machines: { order }, logger });
const id = await rt.start('order', { item: 'a teapot' }, { idempotencyKey: `demo-${new Date().toISOString().slice(0, 16)}` });
logger.info({ instance_id: id }, 'order started; it charges after a 3 s cooling-off period');
const unsubscribe = rt.subscribe(id, (state) => logger.info({ instance_id: id, state: state.value, context: state.context }, 'step'));
const done = await rt.waitFor(id, (s) => s.status !== 'active', { timeoutMs: 60_000 });
unsubscribe();
logger.info({ instance_id: id, state: done.value, receipt: (done.context as { receipt?: string }).receipt }, 'order finished');
for (const entry of await rt.history(id)) logger.info({ seq: entry.seq, event: entry.event.type, from: entry.from, to: entry.to }, 'history');
await rt.close();

/**
 * A custom machine with a durable delay and an invoked service, surviving a restart.
 *
 *   node --import tsx examples/restart.ts start    # starts an order, then the process exits
 *   node --import tsx examples/restart.ts resume   # a new process finishes it
 *
 * Run `start`, then `resume` a few seconds later (or at once: the timer then fires on time).
 * DOCKET_DATABASE picks the database (default: PGlite in ./data/example).
 */
import { assign, setup } from 'xstate';
import pino from 'pino';
import { createRuntime, durable } from 'docket';

const order = setup({
  types: {
    context: {} as { item: string; receipt?: string },
    input: {} as { item: string },
    events: {} as { type: 'CANCEL' },
  },
  actors: {
    // Runs as a durable effect: retried on transient errors, given a stable idempotency key.
    charge: durable<string, { item: string }>(async ({ input, idempotencyKey }) => `charged for ${input.item} (key ${idempotencyKey})`),
  },
}).createMachine({
  id: 'order',
  context: ({ input }) => ({ item: input.item }),
  initial: 'coolingOff',
  states: {
    coolingOff: {
      after: { 2000: 'charging' }, // a row with a due time, not a setTimeout
      on: { CANCEL: 'canceled' },
    },
    charging: {
      invoke: {
        src: 'charge',
        input: ({ context }) => ({ item: context.item }),
        onDone: { target: 'paid', actions: assign({ receipt: ({ event }) => event.output }) },
      },
    },
    paid: { type: 'final' },
    canceled: { type: 'final' },
  },
});

const phase = process.argv[2] ?? 'start';
const rt = await createRuntime({
  database: process.env.DOCKET_DATABASE ?? 'pglite:./data/example',
  machines: { order },
  logger: pino({ level: 'warn' }),
});

// The idempotency key makes `start` safe to repeat: both phases find the same instance.
const id = await rt.start('order', { item: 'a teapot' }, { idempotencyKey: 'example-order-1' });
if (phase === 'start') {
  const state = await rt.get(id);
  process.stdout.write(`started ${id} in ${JSON.stringify(state?.value)}; exiting before the timer fires\n`);
} else {
  const done = await rt.waitFor(id, (s) => s.status === 'done', { timeoutMs: 10_000 });
  process.stdout.write(`resumed ${id}: ${JSON.stringify(done.value)}, ${JSON.stringify(done.context)}\n`);
  for (const step of await rt.history(id)) process.stdout.write(`  ${step.seq}: ${step.event.type} ${JSON.stringify(step.from)} -> ${JSON.stringify(step.to)}\n`);
}
await rt.close();

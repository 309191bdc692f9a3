/**
 * A machine of our own: an order with a cooling-off period (a durable `after`) and a charge (an
 * invoked service, run as a durable effect). Plain XState plus `durable` from docket, so it runs
 * the same in Node, Bun, Deno and a browser tab (examples/browser).
 */
import { assign, setup } from 'xstate';
import { durable } from 'docket';

export const COOLING_OFF_MS = 2000;

export const order = setup({
  types: {
    context: {} as { item: string; receipt?: string },
    input: {} as { item: string },
    events: {} as { type: 'CANCEL' },
  },
  // Named, so an embedder can give it another length with `order.provide({ delays: { coolingOff } })`.
  delays: { coolingOff: COOLING_OFF_MS },
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
      after: { coolingOff: 'charging' }, // a row with a due time, not a setTimeout
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

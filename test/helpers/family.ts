import { assign, sendParent, sendTo, setup } from 'xstate';
import { durable } from '../../runtime/durable.js';

/** A payment that waits for approval (or expires after a minute), telling its parent it started. */
export const payment = setup({
  types: {
    input: {} as { amount: number },
    context: {} as { amount: number; approved: boolean },
    events: {} as { type: 'APPROVE' } | { type: 'DECLINE' },
    output: {} as { amount: number; approved: boolean },
  },
}).createMachine({
  id: 'payment',
  context: ({ input }) => ({ amount: input.amount, approved: false }),
  entry: sendParent({ type: 'PAYMENT_STARTED' }),
  initial: 'pending',
  states: {
    pending: { after: { 60_000: 'expired' }, on: { APPROVE: { target: 'approved', actions: assign({ approved: true }) }, DECLINE: 'declined' } },
    approved: { type: 'final' },
    declined: { type: 'final' },
    expired: { type: 'final' },
  },
  output: ({ context }) => ({ amount: context.amount, approved: context.approved }),
});

/** A shipment that prints its label through a durable effect of its own. */
export const shipping = setup({
  types: { output: {} as { label: string }, context: {} as { label: string } },
  actors: {
    label: durable<string, void>(async () => {
      throw new Error('the test gives `label` through services');
    }),
  },
}).createMachine({
  id: 'shipping',
  context: { label: '' },
  initial: 'printing',
  states: {
    printing: { invoke: { src: 'label', onDone: { target: 'ready', actions: assign({ label: ({ event }) => event.output }) } } },
    ready: { type: 'final' },
  },
  output: ({ context }) => ({ label: context.label }),
});

/** An order running a payment and a shipment at once, each a child machine. */
export const order = setup({
  types: {
    context: {} as { paid: { amount: number; approved: boolean } | null; label: string | null; started: number },
    events: {} as { type: 'PAYMENT_STARTED' } | { type: 'NUDGE' } | { type: 'ABANDON' },
  },
  actors: { payment, shipping },
}).createMachine({
  id: 'order',
  context: { paid: null, label: null, started: 0 },
  initial: 'working',
  on: { ABANDON: '.abandoned' },
  states: {
    working: {
      type: 'parallel',
      on: {
        PAYMENT_STARTED: { actions: assign({ started: ({ context }) => context.started + 1 }) },
        NUDGE: { actions: sendTo('payment', { type: 'APPROVE' }) },
      },
      onDone: 'complete',
      states: {
        pay: {
          initial: 'running',
          states: {
            running: {
              invoke: { id: 'payment', src: 'payment', input: { amount: 42 }, onDone: { target: 'done', actions: assign({ paid: ({ event }) => event.output }) } },
            },
            done: { type: 'final' },
          },
        },
        ship: {
          initial: 'running',
          states: {
            running: { invoke: { id: 'shipping', src: 'shipping', onDone: { target: 'done', actions: assign({ label: ({ event }) => event.output.label }) } } },
            done: { type: 'final' },
          },
        },
      },
    },
    complete: { type: 'final' },
    abandoned: { type: 'final' },
  },
});

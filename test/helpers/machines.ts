import { assign, setup } from 'xstate';
import { durable } from '../../runtime/durable.js';

/** Appends every NOTE event's payload to context.log: order and count are visible. */
export const recorder = setup({
  types: {
    context: {} as { log: string[] },
    events: {} as { type: 'NOTE'; value: string } | { type: 'STOP' },
  },
}).createMachine({
  id: 'recorder',
  context: { log: [] },
  initial: 'open',
  states: {
    open: {
      on: {
        NOTE: { actions: assign({ log: ({ context, event }) => [...context.log, event.value] }) },
        STOP: 'closed',
      },
    },
    closed: { type: 'final' },
  },
});

/** Waits 60 s in `waiting` (or until SKIP), then `fired`. Leaving via CANCEL must cancel the timer. */
export const delayed = setup({
  types: { context: {} as { fired: number }, events: {} as { type: 'SKIP' } | { type: 'CANCEL' } | { type: 'BACK' } },
}).createMachine({
  id: 'delayed',
  context: { fired: 0 },
  initial: 'waiting',
  states: {
    waiting: {
      after: { 60_000: { target: 'fired', actions: assign({ fired: ({ context }) => context.fired + 1 }) } },
      on: { SKIP: 'fired', CANCEL: 'parked' },
    },
    parked: { on: { BACK: 'waiting' } },
    fired: { type: 'final' },
  },
});

/** Invokes `work` with the context's input; done -> ok, error -> failed, LEAVE -> left. */
export const invoker = setup({
  types: {
    context: {} as { input: unknown; output?: unknown; error?: unknown },
    input: {} as { input?: unknown } | undefined,
    events: {} as { type: 'LEAVE' },
  },
  actors: {
    work: durable<unknown, unknown>(async () => {
      throw new Error('the test gives `work` through services');
    }),
  },
}).createMachine({
  id: 'invoker',
  context: ({ input }) => ({ input: input?.input ?? null }),
  initial: 'working',
  states: {
    working: {
      invoke: {
        id: 'job',
        src: 'work',
        input: ({ context }: { context: { input: unknown } }) => context.input,
        onDone: { target: 'ok', actions: assign({ output: ({ event }) => event.output }) },
        onError: { target: 'failed', actions: assign({ error: ({ event }) => event.error }) },
      },
      on: { LEAVE: 'left' },
    },
    ok: { type: 'final' },
    failed: { type: 'final' },
    left: { type: 'final' },
  },
});

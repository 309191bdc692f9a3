import { fromPromise, setup, type AnyStateMachine } from 'xstate';

/** Invokes `hold` once and finishes when it returns: the instance moves only once its effect ran. */
export const holder = setup({ actors: { hold: fromPromise(async () => null) } }).createMachine({
  id: 'holder',
  initial: 'holding',
  states: { holding: { invoke: { src: 'hold', onDone: 'done' } }, done: { type: 'final' } },
}) as unknown as AnyStateMachine;

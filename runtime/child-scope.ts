import { createActor, createMachine, initialTransition, transition, type AnyActorRef, type AnyEventObject, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate';

/**
 * Stands for the parent in a child instance's transitions. XState resolves `sendParent` through the
 * actor's `_parent`; a durable child is stepped on its own, so this inert ref takes that place and
 * the runtime turns what is sent to it into a row in the parent's inbox.
 */
export const PARENT_REF: AnyActorRef = createActor(createMachine({ id: 'docket.parent' }));

type Step = [AnyMachineSnapshot, unknown[]];

/**
 * XState's pure `initialTransition` / `transition`, for a machine that runs as the child of another
 * instance: the same inert actor scope, whose `self` has PARENT_REF for a parent. (A child's own
 * children may not use `systemId`: this scope does not renew the actor system as XState's does.)
 */
function scope(machine: AnyStateMachine, actions: unknown[]) {
  const self = createActor(machine, { parent: PARENT_REF });
  return { self, defer: () => {}, id: '', logger: () => {}, sessionId: '', stopChild: () => {}, system: self.system, emit: () => {}, actionExecutor: (action: unknown) => actions.push(action) };
}

export function initialStep(machine: AnyStateMachine, input: unknown, asChild: boolean): Step {
  if (!asChild) return initialTransition(machine, input) as Step;
  const actions: unknown[] = [];
  const snapshot = machine.getInitialSnapshot(scope(machine, actions) as never, input) as AnyMachineSnapshot;
  return [snapshot, actions];
}

export function nextStep(machine: AnyStateMachine, snapshot: AnyMachineSnapshot, event: AnyEventObject, asChild: boolean): Step {
  if (!asChild) return transition(machine, snapshot, event) as Step;
  const actions: unknown[] = [];
  const next = machine.transition(snapshot, event, scope(machine, actions) as never) as AnyMachineSnapshot;
  return [next, actions];
}

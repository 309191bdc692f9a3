import { createActor, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate';
import { toErrorInfo, type ErrorInfo } from './errors.js';
import type { InstanceStatus, PersistedSnapshot } from './types.js';

/**
 * Rebuilds a machine snapshot from its stored JSON without starting anything: the actor is created
 * only to run XState's own restore (children, history), never started, so no invoke re-runs.
 */
export function restoreSnapshot(machine: AnyStateMachine, persisted: PersistedSnapshot): AnyMachineSnapshot {
  return createActor(machine, { snapshot: persisted as never }).getSnapshot() as AnyMachineSnapshot;
}

/** The JSON to store: XState's persisted snapshot, with an error made serialisable. */
export function persistSnapshot(machine: AnyStateMachine, snapshot: AnyMachineSnapshot): PersistedSnapshot {
  const persisted = machine.getPersistedSnapshot(snapshot) as PersistedSnapshot;
  if (persisted.error !== undefined) persisted.error = toErrorInfo(persisted.error);
  return JSON.parse(JSON.stringify(persisted)) as PersistedSnapshot;
}

export function snapshotError(snapshot: AnyMachineSnapshot): ErrorInfo | null {
  return snapshot.status === 'error' ? toErrorInfo(snapshot.error) : null;
}

export function snapshotStatus(snapshot: AnyMachineSnapshot): InstanceStatus {
  return snapshot.status as InstanceStatus;
}

import type { AnyEventObject, AnyMachineSnapshot, StateValue } from 'xstate';
import { initialStep, nextStep, PARENT_REF } from './child-scope.js';
import type { Logger } from 'pino';
import { ActionPlan, CHILD_MARKER, type NewChild, type NewEffect, type NewEvent, type ResolvedAction } from './plan.js';
import type { RegisteredMachine } from './registry.js';
import { persistSnapshot, restoreSnapshot, snapshotError, snapshotStatus } from './snapshot.js';
import type { ErrorInfo } from './errors.js';
import type { InstanceStatus, PersistedSnapshot } from './types.js';

/** An instance row as the step worker claims it. */
export interface ClaimedInstance {
  id: string;
  machine: string;
  machineVersion: number;
  snapshot: PersistedSnapshot;
  status: InstanceStatus;
  version: number;
  invocations: Record<string, string>;
  stepFailures: number;
  /** The parent instance and the invocation id it knows this one by, when this is a child machine. */
  parent: Parent | null;
  /** The row's creation time, epoch ms: with the versions, it tells a cached snapshot is this row's. */
  createdAt: number;
}

export interface Parent {
  id: string;
  childId: string;
}

/** An inbox row, or (id null) an event applied the moment it arrives without touching the inbox. */
export interface InboxEvent {
  id: string | null;
  event: AnyEventObject;
  timerId: string | null;
  sourceEffect: string | null;
  /** For an effect's result: the attempts the effect took, failed ones included. */
  attempts?: number | null;
  availableAt: Date;
  createdAt: Date;
}

export interface JournalRow {
  seq: number;
  event_type: string;
  event: AnyEventObject;
  from_value: StateValue | null;
  to_value: StateValue;
}

/** Everything one step writes. Computed without I/O; StepQueries.write turns it into SQL. */
export interface StepOutcome {
  snapshot: PersistedSnapshot;
  status: InstanceStatus;
  error: ErrorInfo | null;
  machineVersion: number;
  version: number;
  invocations: Record<string, string>;
  consumedEventIds: string[];
  timerDeletes: string[];
  newEvents: NewEvent[];
  newEffects: NewEffect[];
  canceledEffects: string[];
  /** Events for other instances: sendTo a child, sendParent, and a child's result to its parent. */
  crossEvents: NewEvent[];
  /** Child machine instances to create in the same transaction. */
  newChildren: NewChild[];
  /** Child instances whose invocation ended (their state exited): to stop, with their own children. */
  stoppedChildren: string[];
  journal: JournalRow[];
  wakeAt: Date | null;
  applied: AnyEventObject[];
  dropped: number;
  /** When each applied timer fell due (epoch ms); its lateness is measured to the step's commit. */
  timersDue: number[];
  /** When each applied event became applicable (epoch ms): sent, or its timer due. */
  appliedSince: number[];
  /** The effect results among the applied events, with the attempts each effect took. */
  results: { childId: string; attempts: number }[];
  previous: { value: StateValue; status: InstanceStatus; context: unknown } | null;
  context: unknown;
  value: StateValue;
  /** The machine snapshot `snapshot` persists, for the next step to start from (never stored). */
  resolved: AnyMachineSnapshot;
}

/** The first step of a new instance: XState's initial transition and the rows its entry actions ask for. */
export function computeStart(reg: RegisteredMachine, instanceId: string, input: unknown, now: number, logger: Logger, parent: Parent | null = null): StepOutcome {
  const [snapshot, actions] = initialStep(reg.machine, input, parent !== null);
  const plan = new ActionPlan(reg.machine, instanceId, logger, familyOf(reg, {}, parent));
  const init = { type: 'xstate.init', input } as AnyEventObject;
  plan.add(actions as ResolvedAction[], 0, now, snapshot.context, init);
  return finish(reg, snapshot as AnyMachineSnapshot, plan, {
    version: 0,
    invocations: {},
    consumed: [],
    journal: [{ seq: 0, event_type: init.type, event: init, from_value: null, to_value: snapshot.value }],
    applied: [init],
    dropped: 0,
    timersDue: [],
    appliedSince: [],
    results: [],
    pending: [],
    inboxMayContinue: false,
    previous: null,
    parent,
    instanceId,
    now,
  });
}

function familyOf(reg: RegisteredMachine, invocations: Record<string, string>, parent: Parent | null) {
  return { machineName: reg.name, invocations, parentId: parent?.id ?? null, parentRef: PARENT_REF };
}

/**
 * Applies the due events of a claimed instance in order, then `arrivals`. `inbox` holds the
 * instance's inbox rows sorted by (available_at, id), due or not, at most `batchSize` of them;
 * `inboxFull` says more may follow (and then there must be no arrivals: they would jump the queue).
 */
export function computeStep(
  reg: RegisteredMachine,
  instance: ClaimedInstance,
  inbox: InboxEvent[],
  inboxFull: boolean,
  now: number,
  logger: Logger,
  arrivals: InboxEvent[] = [],
  /** The snapshot this row holds, already restored (the one the last step here produced), if known. */
  restored?: AnyMachineSnapshot,
): StepOutcome {
  let snapshot = restored ?? restoreSnapshot(reg.machine, instance.snapshot);
  const previous = { value: snapshot.value, status: instance.status, context: snapshot.context };
  const plan = new ActionPlan(reg.machine, instance.id, logger, familyOf(reg, instance.invocations, instance.parent));
  const invocations = { ...instance.invocations };
  const journal: JournalRow[] = [];
  const applied: AnyEventObject[] = [];
  const consumed: string[] = [];
  const timersDue: number[] = [];
  const appliedSince: number[] = [];
  const results: StepOutcome['results'] = [];
  let version = instance.version;
  let dropped = 0;

  const due = inbox.filter((row) => row.availableAt.getTime() <= now);
  for (const row of [...due, ...arrivals]) {
    if (row.id !== null) consumed.push(row.id);
    // A timer cancelled or re-armed by an earlier event of this batch must not fire: after a
    // re-entry its event type is the new timer's too, and it would fire early.
    const cancelled = row.timerId !== null && plan.timerDeletes.has(row.timerId);
    if (snapshot.status !== 'active' || isStale(row, invocations) || cancelled) {
      dropped += 1;
      logger.debug({ instance_id: instance.id, event_type: row.event.type }, 'event dropped');
      continue;
    }
    if (row.timerId) timersDue.push(row.availableAt.getTime());
    const before = snapshot;
    const [next, actions] = nextStep(reg.machine, snapshot, row.event, instance.parent !== null);
    version += 1;
    plan.add(actions as ResolvedAction[], version, now, next.context, row.event);
    journal.push({ seq: version, event_type: row.event.type, event: row.event, from_value: before.value, to_value: next.value });
    applied.push(row.event);
    appliedSince.push(Math.max(row.createdAt.getTime(), row.availableAt.getTime()));
    if (row.sourceEffect) {
      delete invocations[childOf(row.event)];
      results.push({ childId: childOf(row.event), attempts: row.attempts ?? 1 });
    }
    snapshot = next as AnyMachineSnapshot;
  }
  const consumedSet = new Set(consumed);
  const pending = inbox.filter((row) => !consumedSet.has(row.id!) && !(row.timerId && plan.timerDeletes.has(row.timerId)));
  return finish(reg, snapshot, plan, {
    version,
    invocations,
    consumed,
    journal,
    applied,
    dropped,
    timersDue,
    appliedSince,
    results,
    pending,
    inboxMayContinue: inboxFull ? inbox[inbox.length - 1]!.availableAt : false,
    previous,
    parent: instance.parent,
    instanceId: instance.id,
    now,
  });
}

interface Progress {
  version: number;
  invocations: Record<string, string>;
  consumed: string[];
  journal: JournalRow[];
  applied: AnyEventObject[];
  dropped: number;
  timersDue: number[];
  appliedSince: number[];
  results: StepOutcome['results'];
  /** Inbox rows that stay after this step. */
  pending: InboxEvent[];
  /** When the inbox was read only in part: the due time of its last row read, a lower bound for the rest. */
  inboxMayContinue: Date | false;
  previous: StepOutcome['previous'];
  parent: Parent | null;
  instanceId: string;
  now: number;
}

function finish(reg: RegisteredMachine, snapshot: AnyMachineSnapshot, plan: ActionPlan, progress: Progress): StepOutcome {
  // Children alive after the step decide which effects live: a new spawn starts one, a child that is
  // gone (its state exited) cancels its effect.
  const alive = new Set(Object.keys(snapshot.children ?? {}));
  const invocations: Record<string, string> = {};
  const canceled: string[] = [];
  const stoppedChildren: string[] = [];
  for (const [childId, key] of Object.entries(progress.invocations)) {
    if (alive.has(childId) && !plan.spawns.has(childId) && !plan.childSpawns.has(childId)) invocations[childId] = key;
    else if (key.startsWith(CHILD_MARKER)) stoppedChildren.push(key.slice(CHILD_MARKER.length));
    else canceled.push(key);
  }
  const newEffects: NewEffect[] = [...plan.outbox];
  for (const [childId, effect] of plan.spawns) {
    if (!alive.has(childId)) continue;
    invocations[childId] = effect.idempotency_key;
    newEffects.push(effect);
  }
  const newChildren: NewChild[] = [];
  for (const [childId, child] of plan.childSpawns) {
    if (!alive.has(childId)) continue;
    invocations[childId] = `${CHILD_MARKER}${child.instance_id}`;
    newChildren.push(child);
  }
  const newEvents = snapshot.status === 'active' ? plan.newEvents : [];
  const wakeCandidates = [
    ...progress.pending.map((row) => row.availableAt.getTime()),
    ...newEvents.map((row) => Date.parse(row.available_at)),
  ];
  if (progress.inboxMayContinue) wakeCandidates.push(progress.inboxMayContinue.getTime());
  const status = snapshotStatus(snapshot);
  const persisted = persistSnapshot(reg.machine, snapshot);
  return {
    snapshot: persisted,
    status,
    error: snapshotError(snapshot),
    machineVersion: reg.version,
    version: progress.version,
    invocations,
    consumedEventIds: progress.consumed,
    // A finished instance keeps no timers.
    timerDeletes: [...plan.timerDeletes],
    newEvents,
    newEffects,
    canceledEffects: canceled,
    crossEvents: [...plan.crossEvents, ...resultForParent(snapshot, progress)],
    newChildren,
    stoppedChildren,
    journal: progress.journal,
    wakeAt: wakeCandidates.length ? new Date(Math.min(...wakeCandidates)) : null,
    applied: progress.applied,
    dropped: progress.dropped,
    timersDue: progress.timersDue,
    appliedSince: progress.appliedSince,
    results: progress.results,
    previous: progress.previous,
    context: snapshot.context,
    value: snapshot.value,
    // The next step from here sees the context as stored (JSON), exactly as if it had restored the
    // row: a Date in context is a string either way, whichever process takes the next step.
    resolved: { ...snapshot, context: persisted.context } as AnyMachineSnapshot,
  };
}

/** A child machine that just finished answers its parent, as an invoked promise would: done with its output, or error. */
function resultForParent(snapshot: AnyMachineSnapshot, progress: Progress): NewEvent[] {
  const { parent } = progress;
  const wasActive = progress.previous === null || progress.previous.status === 'active';
  if (!parent || !wasActive || (snapshot.status !== 'done' && snapshot.status !== 'error')) return [];
  const event =
    snapshot.status === 'done'
      ? { type: `xstate.done.actor.${parent.childId}`, output: snapshot.output ?? null }
      : { type: `xstate.error.actor.${parent.childId}`, error: snapshotError(snapshot) };
  return [{ event, timer_id: null, available_at: new Date(progress.now).toISOString(), target_id: parent.id, source_effect: `${CHILD_MARKER}${progress.instanceId}` }];
}

/** A result of an effect that no longer serves the child (the state was exited, or re-entered since). */
function isStale(row: InboxEvent, invocations: Record<string, string>): boolean {
  if (!row.sourceEffect) return false;
  return invocations[childOf(row.event)] !== row.sourceEffect;
}

function childOf(event: AnyEventObject): string {
  const match = /^xstate\.(?:done|error)\.actor\.(.+)$/.exec(event.type);
  return match ? match[1]! : '';
}

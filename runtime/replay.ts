/**
 * Replay: an instance's journal run again through a machine with XState's pure functions, step by
 * step, compared with what was recorded. Nothing runs: the journal holds every applied event,
 * effect results with their outputs and fired timers included, so the machine needs no services.
 *
 * It answers one question before a deploy: would this machine have taken the path the instance
 * took? A step where it would not is a divergence; `checkDeploy` asks it of every in-flight instance.
 */
import { initialTransition, transition, type AnyEventObject, type AnyMachineSnapshot, type AnyStateMachine, type StateValue } from 'xstate';
import { z } from 'zod';
import { ConfigError, InstanceNotFoundError } from './errors.js';
import { internalsOf } from './internals.js';
import { JournalQueries, type RecordedInstance } from './queries/journal.js';
import type { InstanceStatus, Runtime } from './types.js';

/** Why a replayed step differs from the recorded one. */
export type DivergenceReason =
  /** The machine reaches another state value than the one recorded. */
  | 'value'
  /** The machine's status (active, done, error) differs from the recorded one. */
  | 'status'
  /** The machine takes no transition on the event (or has already finished) where the recorded step moved. */
  | 'not_accepted'
  /** A guard, action or context factory of the machine threw on this event. */
  | 'threw';

export interface StepDivergence {
  reasons: DivergenceReason[];
  /** One line for people: `replayed embedded, recorded embedding`. */
  message: string;
}

/** One journal entry, as recorded and as replayed. */
export interface ReplayStep {
  /** The journal's sequence number: 0 for `xstate.init`, then one per applied event. */
  seq: number;
  event: AnyEventObject;
  /** When the recorded step was committed. */
  at: Date;
  /**
   * `machine`: an event the machine applied, replayed through the machine. `engine`: an entry the
   * engine wrote itself (an event type in the `docket.` namespace, such as `docket.stop` from
   * `rt.stop`), shown and never replayed.
   */
  kind: 'machine' | 'engine';
  recorded: {
    /** The state value before the step; null for `xstate.init`. */
    from: StateValue | null;
    to: StateValue;
    /**
     * The status after the step. The journal does not store it; it follows from the engine's rules:
     * only an active snapshot receives events, so every machine step but the last left `active`, the
     * last left the stored snapshot's status, and an engine entry shows the instance's status.
     */
    status: InstanceStatus;
  };
  /** What the replayed machine reached; null for an engine entry, or when the machine could not start (its init threw). */
  replayed: {
    value: StateValue;
    status: InstanceStatus;
    /** Whether the machine took a transition on the event (XState's `snapshot.can(event)`). */
    accepted: boolean;
  } | null;
  /** Null when the replayed step matches the recorded one. */
  divergence: StepDivergence | null;
}

/** What `replay()` returns. */
export interface ReplayResult {
  instanceId: string;
  /** The name the instance's machine is registered under. */
  machine: string;
  /** The machine version that wrote the instance's snapshot. */
  machineVersion: number;
  /** The instance's status now. */
  status: InstanceStatus;
  /** The instance's state value now: the last recorded `to`. */
  value: StateValue;
  /** Every journal entry in order, machine and engine entries alike. */
  steps: ReplayStep[];
  /** True when at least one step diverges. */
  diverged: boolean;
  /** Steps that diverge. Once the paths part, later steps usually diverge too: the first one is the cause. */
  divergentSteps: number;
  /** The earliest divergent step; absent when none diverges. */
  firstDivergence?: ReplayStep;
}

export interface ReplayOptions {
  /**
   * The machine to replay through, e.g. the version about to be deployed. Default: the machine this
   * runtime registers under the instance's machine name.
   */
  machine?: AnyStateMachine;
}

/** The instances `checkDeploy` looks at by default: the ones new code would step. */
export const IN_FLIGHT_STATUSES: readonly InstanceStatus[] = ['active', 'error'];

export interface CheckDeployOptions {
  /** The registered name of the machine whose instances to check. */
  machine: string;
  /** The machine about to be deployed. Default: the one this runtime registers under `machine`. */
  candidate?: AnyStateMachine;
  /**
   * Statuses of the instances to check. Default `['active', 'error']`: in flight, and parked by the
   * engine until `resume`; both will be stepped by the new code.
   */
  statuses?: readonly InstanceStatus[];
  /** Instances read and replayed per page, 1–1000. Default 100. */
  pageSize?: number;
}

/** One instance whose recorded path the candidate machine would not take. */
export interface DivergingInstance {
  instanceId: string;
  status: InstanceStatus;
  /** Its state value now. */
  value: StateValue;
  machineVersion: number;
  /** Where the paths part. */
  firstDivergence: ReplayStep;
  /** Steps that diverge in all. */
  divergentSteps: number;
}

/** What `checkDeploy()` returns. */
export interface DeployCheck {
  machine: string;
  statuses: InstanceStatus[];
  /** Instances replayed. */
  checked: number;
  /** The instances whose path would diverge, newest first (the order of `rt.list`). */
  diverging: DivergingInstance[];
}

const uuidSchema = z.uuid();

/** Event types the engine writes to a journal itself; never replayed through a machine. */
const ENGINE_EVENT_PREFIX = 'docket.';

/**
 * Replays the journal of instance `instanceId` through a machine with XState's pure functions:
 * `initialTransition(machine, input)` for seq 0 (`xstate.init` carries the input), then
 * `transition(machine, snapshot, event)` for each later event in order. Runs no service, writes
 * nothing, and reads the journal in one statement.
 *
 * A step diverges when the machine reaches another state value or status than the one recorded,
 * takes no transition on an event where the recorded step moved, or throws. Replay goes on along
 * the machine's own path after a divergence, so later steps show where it leads.
 *
 * Throws InstanceNotFoundError for an unknown id, and ConfigError when no machine is given and the
 * runtime registers none under the instance's machine name.
 */
export async function replay(runtime: Runtime, instanceId: string, options: ReplayOptions = {}): Promise<ReplayResult> {
  const { db, schema, registry } = internalsOf(runtime);
  // A malformed id names no instance, as in `rt.get`; SQL's uuid cast would refuse it otherwise.
  if (!uuidSchema.safeParse(instanceId).success) throw new InstanceNotFoundError(instanceId);
  const recorded = (await new JournalQueries(schema).read(db, [instanceId])).get(instanceId);
  if (!recorded) throw new InstanceNotFoundError(instanceId);
  const machine = options.machine ?? registry.machine(recorded.machine)?.machine;
  if (!machine) throw new ConfigError(`replay: no machine "${recorded.machine}" is registered; pass one as { machine }`);
  return replayJournal(machine, recorded);
}

/**
 * Replays every instance of `machine` in the given statuses (by default the in-flight ones: active,
 * and error) through `candidate`, a page at a time, and reports each whose recorded path the
 * candidate would not take: run it before the new code steps them.
 */
export async function checkDeploy(runtime: Runtime, options: CheckDeployOptions): Promise<DeployCheck> {
  const { db, schema, registry } = internalsOf(runtime);
  const candidate = options.candidate ?? registry.machine(options.machine)?.machine;
  if (!candidate) throw new ConfigError(`checkDeploy: no machine "${options.machine}" is registered; pass the new one as { candidate }`);
  const statuses = [...new Set(options.statuses ?? IN_FLIGHT_STATUSES)];
  const pageSize = options.pageSize ?? 100;
  const journals = new JournalQueries(schema);
  const report: DeployCheck = { machine: options.machine, statuses, checked: 0, diverging: [] };
  for (const status of statuses) {
    let cursor: string | undefined;
    do {
      const page = await runtime.list({ machine: options.machine, status, limit: pageSize, cursor });
      const recorded = await journals.read(db, page.instances.map((instance) => instance.id));
      for (const instance of page.instances) {
        const found = recorded.get(instance.id);
        if (!found) continue; // deleted since the page was read
        report.checked += 1;
        const result = replayJournal(candidate, found);
        if (result.firstDivergence) {
          report.diverging.push({
            instanceId: result.instanceId,
            status: result.status,
            value: result.value,
            machineVersion: result.machineVersion,
            firstDivergence: result.firstDivergence,
            divergentSteps: result.divergentSteps,
          });
        }
      }
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }
  return report;
}

/** The pure part of `replay`: a recorded journal through `machine`, no I/O. */
export function replayJournal(machine: AnyStateMachine, recorded: RecordedInstance): ReplayResult {
  const lastMachineSeq = recorded.entries.filter((entry) => !isEngineEntry(entry.event)).at(-1)?.seq;
  const steps: ReplayStep[] = [];
  let snapshot: AnyMachineSnapshot | null = null;
  for (const entry of recorded.entries) {
    const isLast = entry === recorded.entries.at(-1);
    if (isEngineEntry(entry.event)) {
      steps.push({
        seq: entry.seq,
        event: entry.event,
        at: entry.at,
        kind: 'engine',
        recorded: { from: entry.from, to: entry.to, status: isLast ? recorded.status : 'active' },
        replayed: null,
        divergence: null,
      });
      continue;
    }
    const status = entry.seq === lastMachineSeq ? recorded.snapshotStatus : 'active';
    const step = applyEntry(machine, snapshot, entry.event);
    snapshot = step.snapshot;
    const replayed = snapshot ? { value: snapshot.value, status: snapshot.status as InstanceStatus, accepted: step.accepted } : null;
    const recordedStep = { from: entry.from, to: entry.to, status };
    steps.push({
      seq: entry.seq,
      event: entry.event,
      at: entry.at,
      kind: 'machine',
      recorded: recordedStep,
      replayed,
      divergence: compare(recordedStep, replayed, step.threw, entry.event),
    });
  }
  const divergent = steps.filter((step) => step.divergence !== null);
  const last = recorded.entries.at(-1);
  return {
    instanceId: recorded.id,
    machine: recorded.machine,
    machineVersion: recorded.machineVersion,
    status: recorded.status,
    value: last?.to ?? {},
    steps,
    diverged: divergent.length > 0,
    divergentSteps: divergent.length,
    ...(divergent[0] ? { firstDivergence: divergent[0] } : {}),
  };
}

interface Applied {
  snapshot: AnyMachineSnapshot | null;
  accepted: boolean;
  threw: string | null;
}

/** One event through the machine, as the engine applies it: `xstate.init` starts, anything else steps. */
function applyEntry(machine: AnyStateMachine, snapshot: AnyMachineSnapshot | null, event: AnyEventObject): Applied {
  try {
    if (event.type === 'xstate.init') {
      const [initial] = initialTransition(machine, (event as { input?: unknown }).input);
      return { snapshot: initial as AnyMachineSnapshot, accepted: true, threw: null };
    }
    if (!snapshot) return { snapshot, accepted: false, threw: 'the journal does not begin with xstate.init' };
    // The engine applies nothing to a finished snapshot (XState itself would still take a
    // root-level `on`, such as CANCEL after complete), so neither does replay.
    if (snapshot.status !== 'active') return { snapshot, accepted: false, threw: null };
    const accepted = snapshot.can(event);
    const [next] = transition(machine, snapshot, event);
    return { snapshot: next as AnyMachineSnapshot, accepted, threw: null };
  } catch (error) {
    // XState's messages span lines ("Unable to evaluate guard …:\n<cause>"); a divergence is one line.
    const message = (error as Error)?.message ?? String(error);
    return { snapshot, accepted: false, threw: message.replace(/\s*\n\s*/g, ' ') };
  }
}

function compare(
  recorded: { from: StateValue | null; to: StateValue; status: InstanceStatus },
  replayed: { value: StateValue; status: InstanceStatus; accepted: boolean } | null,
  threw: string | null,
  event: AnyEventObject,
): StepDivergence | null {
  if (threw !== null || !replayed) {
    return { reasons: ['threw'], message: `the machine threw on ${event.type}: ${threw ?? 'no snapshot'}` };
  }
  const reasons: DivergenceReason[] = [];
  const parts: string[] = [];
  if (!replayed.accepted && recorded.from !== null && !sameValue(recorded.from, recorded.to)) {
    reasons.push('not_accepted');
    const where = replayed.status === 'active' ? `in ${formatStateValue(replayed.value)}` : `once ${replayed.status}`;
    parts.push(`no transition on ${event.type} ${where}`);
  }
  if (!sameValue(replayed.value, recorded.to)) {
    reasons.push('value');
    parts.push(`replayed ${formatStateValue(replayed.value)}, recorded ${formatStateValue(recorded.to)}`);
  }
  if (replayed.status !== recorded.status) {
    reasons.push('status');
    parts.push(`replayed status ${replayed.status}, recorded ${recorded.status}`);
  }
  return reasons.length ? { reasons, message: parts.join('; ') } : null;
}

function isEngineEntry(event: AnyEventObject): boolean {
  return event.type.startsWith(ENGINE_EVENT_PREFIX);
}

/** Equality of state values as JSON, whatever the key order (jsonb sorts keys its own way). */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const keysA = Object.keys(a);
  if (keysA.length !== Object.keys(b).length) return false;
  return keysA.every((key) => Object.hasOwn(b, key) && sameValue((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}

/** A state value as a path: `parsing.waiting`; parallel regions in braces: `{a.x, b.y}`. */
export function formatStateValue(value: StateValue | null): string {
  if (value === null) return '·';
  if (typeof value === 'string') return value;
  const regions = Object.entries(value).map(([key, child]) => (child === undefined || (typeof child === 'object' && Object.keys(child).length === 0) ? key : `${key}.${formatStateValue(child as StateValue)}`));
  return regions.length === 1 ? regions[0]! : `{${regions.join(', ')}}`;
}

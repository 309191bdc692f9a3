import type { AnyEventObject, AnyMachineSnapshot } from 'xstate';
import type { Logger } from 'pino';
import type { Transaction } from './db/database.js';
import { isTransientDatabaseError } from './db/errors.js';
import { DocketError, toErrorInfo } from './errors.js';
import type { ClaimedEffect, EffectQueries } from './queries/effects.js';
import type { Claimed, EffectEnd, StepQueries, StepWrite } from './queries/steps.js';
import type { Registry, RegisteredMachine } from './registry.js';
import type { ControlQueries } from './queries/control.js';
import type { FamilyQueries } from './queries/family.js';
import type { InstanceQueries } from './queries/instances.js';
import { SnapshotCache } from './snapshot-cache.js';
import { computeStart, computeStep, type ClaimedInstance, type InboxEvent, type StepOutcome } from './transition.js';

/**
 * What a step transaction leaves to do once it commits. Nothing in it has happened yet: effects are
 * claimed in the rows but not started, steps are written but not counted. The caller commits, then
 * acts on it; a rollback simply discards it.
 */
export interface AfterCommit {
  /** Effects claimed for this worker by the transaction: start them after the commit. */
  adopt: ClaimedEffect[];
  /** The steps applied (instance creations not included), for the metrics. */
  stepped: StepOutcome[];
  /** Step transactions that failed and were counted against their instances. */
  failures: number;
  /** Snapshots to keep for the instances' next steps, once (and only if) the transaction commits. */
  snapshots: { id: string; key: string; snapshot: AnyMachineSnapshot }[];
}

/** One instance to step: its locked row and inbox, and events arriving right now. */
export interface StepItem {
  claimed: Claimed;
  /** Events applied after the due inbox without passing through it (an effect's result). */
  arrivals?: InboxEvent[];
}

/** Effect results to record even when the step that applies them fails: ended, their events queued. */
export interface FailureWrites {
  ended: EffectEnd[];
  replies: { effect: ClaimedEffect; event: AnyEventObject }[];
}

/** Free run slots of this worker's effect runner, which a step may fill with the effects it claims. */
export interface Slots {
  /** Takes up to `wanted` slots; returns how many it got. */
  take(wanted: number): number;
}

/** Slots held by one transaction: after it commits, start what it claimed; after a rollback, give all back. */
export interface SlotLease extends Slots {
  commit(adopt: ClaimedEffect[]): void;
  abort(): void;
}

/** For transactions that claim nothing: their effects wait for any runner's claim after commit. */
export const NO_SLOTS: Slots = { take: () => 0 };

export interface ApplyOptions {
  /** Slots this transaction may fill with new effects claimed for this worker. */
  slots: Slots;
  /** Effects whose results the arrivals are, ended in the same statement. */
  ended?: EffectEnd[];
  /**
   * Step under a savepoint: a failure (a hook throws, a constraint breaks) rolls back only the steps,
   * writes `onFailure` instead and counts the failure against each instance while the locks still
   * hold. Without it a failure throws, and the caller retries its items one at a time with isolation.
   * A transient database error always throws: it is nobody's fault and the whole transaction is retried.
   */
  isolate?: boolean;
  onFailure?: FailureWrites;
}

export interface ApplierOptions {
  queries: StepQueries;
  effectQueries: EffectQueries;
  instances: InstanceQueries;
  family: FamilyQueries;
  control: ControlQueries;
  registry: Registry;
  logger: Logger;
  /** Inbox rows read per instance. */
  batchSize: number;
  maxStepFailures: number;
  workerId: string;
  leaseMs: number;
  /** Instances whose last snapshot is kept in memory for their next step; 0 restores every time. */
  snapshotCache?: number;
}

/**
 * Applies steps inside a transaction its caller opened: computes each instance's transition (pure),
 * writes every step in one statement, runs the machines' step hooks, and returns what must happen
 * after the commit. It never commits, starts or counts anything itself.
 */
export class StepApplier {
  readonly #snapshots: SnapshotCache;

  constructor(private readonly options: ApplierOptions) {
    this.#snapshots = new SnapshotCache(options.snapshotCache ?? 0);
  }

  /** After the transaction that returned `work` committed: its snapshots are the rows' now. */
  committed(work: AfterCommit): void {
    for (const { id, key, snapshot } of work.snapshots) this.#snapshots.set(id, key, snapshot);
  }

  /** Whether this runtime can step an instance written by `version` of the machine (as is, or migrated). */
  canStep(reg: RegisteredMachine, version: number): boolean {
    return version === reg.version || reg.compatibleVersions.has(version) || (reg.migrate !== undefined && version < reg.version);
  }

  /** Applies due events (and arrivals) to instances the transaction has locked. */
  async apply(tx: Transaction, items: StepItem[], now: number, options: ApplyOptions): Promise<AfterCommit> {
    const work: AfterCommit = { adopt: [], stepped: [], failures: 0, snapshots: [] };
    if (!options.isolate) {
      await this.#applyAll(tx, items, now, options, work);
      return work;
    }
    await tx.query('SAVEPOINT step');
    try {
      await this.#applyAll(tx, items, now, options, work);
      return work;
    } catch (error) {
      await tx.query('ROLLBACK TO SAVEPOINT step');
      if (isTransientDatabaseError(error)) throw error;
      const at = new Date(now);
      if (options.onFailure) await this.#writeFailure(tx, options.onFailure, at);
      for (const item of items) await this.#recordFailure(tx, item.claimed.instance.id, error, at);
      return { adopt: [], stepped: [], failures: items.length, snapshots: [] };
    }
  }

  /** Writes the side records of instances just inserted (rows by InstanceQueries.insert) from their initial transitions. */
  async create(tx: Transaction, items: StepWrite[], now: number, slots: Slots): Promise<AfterCommit> {
    const at = new Date(now);
    const work: AfterCommit = { adopt: [], stepped: [], failures: 0, snapshots: [] };
    for (const item of items) this.#claimEffects(item, now, slots, work.adopt);
    await this.options.queries.writeStart(tx, items, at);
    await this.#afterWrite(tx, items, at);
    await this.#family(tx, items, now, slots, work);
    return work;
  }

  /**
   * What steps asked of other instances of their tree, in the same transaction: child machines are
   * created (with their own initial steps, and theirs in turn), children whose invocation ended are
   * stopped with their descendants, and events go to parents and children. After the steps' own
   * write, in statements of their own, so no row is written twice by one statement.
   */
  async #family(tx: Transaction, writes: StepWrite[], now: number, slots: Slots, work: AfterCommit): Promise<void> {
    const { instances, family, control, registry, logger, queries } = this.options;
    const at = new Date(now);
    const cross = writes.flatMap((write) => write.outcome.crossEvents);
    const stopped = writes.flatMap((write) => write.outcome.stoppedChildren);
    let births = writes.flatMap((write) => write.outcome.newChildren.map((child) => ({ child, parent: write.instanceId })));
    while (births.length > 0) {
      const created = births.map(({ child, parent }) => {
        const reg = registry.machine(child.machine)!;
        const outcome = computeStart(reg, child.instance_id, child.input, now, logger, { id: parent, childId: child.child_id });
        return { instanceId: child.instance_id, machine: child.machine, outcome, parent: { id: parent, childId: child.child_id } };
      });
      await instances.insert(tx, created.map((c) => ({ id: c.instanceId, machine: c.machine, idempotencyKey: null, outcome: c.outcome, parent: c.parent })), at);
      for (const child of created) this.#claimEffects(child, now, slots, work.adopt);
      await queries.writeStart(tx, created, at);
      await this.#afterWrite(tx, created, at);
      cross.push(...created.flatMap((child) => child.outcome.crossEvents));
      births = created.flatMap((child) => child.outcome.newChildren.map((grandchild) => ({ child: grandchild, parent: child.instanceId })));
    }
    if (stopped.length > 0) {
      const keys = await family.stopTree(tx, stopped, 'its parent left the state that invoked it', at);
      await control.announceCancel(tx, keys);
    }
    await family.deliver(tx, cross, at);
  }

  async #applyAll(tx: Transaction, items: StepItem[], now: number, options: ApplyOptions, work: AfterCommit): Promise<void> {
    const { queries, registry, logger, batchSize } = this.options;
    const at = new Date(now);
    const writes: StepWrite[] = [];
    for (const { claimed, arrivals } of items) {
      const reg = registry.machine(claimed.instance.machine)!;
      const instance = this.#upgrade(reg, claimed.instance);
      if (!instance) {
        await queries.markError(tx, claimed.instance.id, versionError(reg, claimed.instance), at);
        logger.error(
          { instance_id: claimed.instance.id, machine: reg.name, machine_version: claimed.instance.machineVersion },
          'instance written by an unknown machine version; not stepped',
        );
        continue;
      }
      const restored = this.#snapshots.enabled && instance === claimed.instance ? this.#snapshots.get(instance.id, SnapshotCache.key(instance)) : undefined;
      const outcome = computeStep(reg, instance, claimed.inbox, claimed.inbox.length === batchSize, now, logger, arrivals, restored);
      const write = { instanceId: instance.id, machine: reg.name, outcome };
      if (this.#snapshots.enabled && outcome.status === 'active') {
        work.snapshots.push({ id: instance.id, key: SnapshotCache.key({ createdAt: instance.createdAt, version: outcome.version, machineVersion: outcome.machineVersion }), snapshot: outcome.resolved });
      }
      this.#claimEffects(write, now, options.slots, work.adopt);
      writes.push(write);
      work.stepped.push(outcome);
    }
    const ended = options.ended ?? [];
    if (writes.length === 0 && ended.length === 0) return;
    await queries.write(tx, writes, ended, at);
    // An invocation whose state was left (a CANCEL, a timeout) is cancelled in the write; its attempt,
    // wherever it runs, is told to stop once this commits. One statement, only when there are any.
    const canceled = writes.flatMap((write) => write.outcome.canceledEffects);
    if (canceled.length > 0) await this.options.control.announceCancel(tx, canceled);
    await this.#afterWrite(tx, writes, at);
    await this.#family(tx, writes, now, options.slots, work);
  }

  /** Runs the machines' step hooks in the transaction, after the writes they may read. */
  async #afterWrite(tx: Transaction, writes: StepWrite[], at: Date): Promise<void> {
    for (const { instanceId, machine, outcome } of writes) {
      const reg = this.options.registry.machine(machine)!;
      if (reg.onStep && outcome.applied.length > 0) {
        await reg.onStep(tx, {
          instanceId,
          machine,
          previous: outcome.previous,
          current: { value: outcome.value, status: outcome.status, context: outcome.context, error: outcome.error },
          events: outcome.applied,
          results: outcome.results,
          version: outcome.version,
          at,
        });
      }
      this.options.logger.debug(
        { instance_id: instanceId, machine, events: outcome.applied.map((e) => e.type), to: outcome.value, version: outcome.version },
        'step applied',
      );
    }
  }

  /**
   * Claims the step's new effects for this worker in the same write, as far as `slots` go: they
   * start right after commit, with no NOTIFY or claim query in between. A crash after commit leaves
   * them to lease expiry, like any claimed effect.
   */
  #claimEffects({ instanceId, machine, outcome }: StepWrite, now: number, slots: Slots, adopt: ClaimedEffect[]): void {
    if (outcome.newEffects.length === 0) return;
    const claim = { lease_owner: this.options.workerId, due_at: new Date(now + this.options.leaseMs).toISOString() };
    const claimed = outcome.newEffects.slice(0, slots.take(outcome.newEffects.length));
    for (const effect of claimed) {
      effect.claim = claim;
      adopt.push({
        instanceId,
        machine,
        kind: effect.kind,
        childId: effect.child_id,
        service: effect.service,
        input: effect.input,
        idempotencyKey: effect.idempotency_key,
        attempts: 1,
        tookOver: false,
      });
    }
  }

  /** The instance ready for this machine version: as is, declared compatible, or migrated. Null if none. */
  #upgrade(reg: RegisteredMachine, instance: ClaimedInstance): ClaimedInstance | null {
    if (instance.machineVersion === reg.version || reg.compatibleVersions.has(instance.machineVersion)) return instance;
    if (reg.migrate && instance.machineVersion < reg.version) {
      const snapshot = reg.migrate(instance.snapshot, instance.machineVersion);
      this.options.logger.info({ instance_id: instance.id, machine: reg.name, from: instance.machineVersion, to: reg.version }, 'snapshot migrated');
      return { ...instance, snapshot, machineVersion: reg.version };
    }
    return null;
  }

  async #writeFailure(tx: Transaction, writes: FailureWrites, at: Date): Promise<void> {
    await this.options.queries.write(tx, [], writes.ended, at);
    for (const { effect, event } of writes.replies) await this.options.effectQueries.reply(tx, effect, event, at);
  }

  /** Counts a failed step; the instance retries with backoff and, after maxStepFailures in a row, moves to `error`. */
  async #recordFailure(tx: Transaction, instanceId: string, error: unknown, at: Date): Promise<void> {
    const { queries, logger, maxStepFailures } = this.options;
    const failures = await queries.recordFailure(tx, instanceId, at);
    if (failures >= maxStepFailures) {
      const info = toErrorInfo(new DocketError('STEP_FAILED', `step failed ${failures} times in a row: ${toErrorInfo(error).message}`));
      await queries.markError(tx, instanceId, info, at);
      logger.error({ err: error, instance_id: instanceId, failures }, 'step failed too often; instance moved to error');
      return;
    }
    logger.warn({ err: error, instance_id: instanceId, failures }, 'step failed; will retry with backoff');
  }
}

function versionError(reg: RegisteredMachine, instance: ClaimedInstance) {
  return toErrorInfo(
    new DocketError(
      'MACHINE_VERSION_UNKNOWN',
      `instance was written by machine "${reg.name}" version ${instance.machineVersion}; this runtime runs version ${reg.version} ` +
        'with no migration or compatibility declared for it',
    ),
  );
}

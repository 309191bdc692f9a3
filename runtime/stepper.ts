import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { Database, Transaction } from './db/database.js';
import { isTransientDatabaseError } from './db/errors.js';
import { DocketError, toErrorInfo } from './errors.js';
import type { Metrics } from './metrics.js';
import type { ClaimedEffect } from './queries/effects.js';
import type { Claimed, EffectEnd, StepQueries, StepWrite } from './queries/steps.js';
import type { Registry, RegisteredMachine } from './registry.js';
import { computeStep, type ClaimedInstance, type InboxEvent, type StepOutcome } from './step.js';

/** Where effects claimed inside a step go after commit: this process's effect runner. */
export interface EffectSink {
  /** Reserves up to `wanted` run slots; returns how many it granted. */
  reserve(wanted: number): number;
  unreserve(count: number): void;
  /** Runs effects whose claim committed with the step; they fill slots reserved earlier. */
  adopt(effects: ClaimedEffect[]): void;
}

export interface StepperOptions {
  queries: StepQueries;
  registry: Registry;
  clock: Clock;
  metrics: Metrics;
  logger: Logger;
  batchSize: number;
  maxStepFailures: number;
  workerId: string;
  leaseMs: number;
}

/** One instance to step: its locked row and inbox, and events arriving right now. */
export interface StepItem {
  claimed: Claimed;
  /** Events applied after the due inbox without passing through it (an effect's result). */
  arrivals?: InboxEvent[];
}

export interface StepOptions {
  /** Effects whose results the arrivals are, ended in the same statement. */
  ended?: EffectEnd[];
  /**
   * Step under a savepoint: a failure (a hook throws, a constraint breaks) rolls back only the step,
   * runs `onFailure` and counts the failure while the locks still hold. Without it a failure throws,
   * and the caller retries its items one at a time with isolation.
   */
  isolate?: boolean;
  onFailure?: (tx: Transaction) => Promise<void>;
}

export type StepFn = (items: StepItem[], now: number, options?: StepOptions) => Promise<void>;

/** Writes the side records of instances just inserted, from their initial transitions. */
export type CreateFn = (items: StepWrite[], now: number) => Promise<void>;

interface Pending {
  outcome: StepOutcome;
  machine: string;
  reserved: number;
  adopted: ClaimedEffect[];
  /** Steps count in the metrics; the creation of an instance does not. */
  counted: boolean;
}

/**
 * Applies events to locked instances and writes the results, any number of instances in one
 * statement: shared by the step worker (which claims instances with due events) and the effect
 * runner (which applies results the moment it records them). Metrics and effects claimed for this
 * worker take effect only once the transaction commits.
 */
export class Stepper {
  sink: EffectSink | undefined;

  constructor(private readonly options: StepperOptions) {}

  /**
   * Runs `fn` in one transaction; `step` applies events to instances `fn` has locked, `create`
   * writes what new instances' initial transitions asked for.
   */
  async transact<T>(db: Database, fn: (tx: Transaction, step: StepFn, create: CreateFn) => Promise<T>): Promise<T> {
    const pending: Pending[] = [];
    try {
      const value = await db.transaction((tx) =>
        fn(
          tx,
          (items, now, options) => this.#step(tx, items, now, options ?? {}, pending),
          (items, now) => this.#create(tx, items, now, pending),
        ),
      );
      for (const p of pending) this.#committed(p);
      return value;
    } catch (error) {
      for (const p of pending) this.sink?.unreserve(p.reserved);
      throw error;
    }
  }

  /**
   * Writes the side records of instances just inserted in a transaction the caller owns and commits
   * (`start({ tx })`). Their effects are left pending, not claimed: this runtime cannot know when, or
   * whether, that transaction commits; the effects trigger's NOTIFY wakes a runner once it does.
   */
  async createIn(tx: Transaction, items: StepWrite[], now: number): Promise<void> {
    const at = new Date(now);
    await this.options.queries.writeStart(tx, items, at);
    await this.#afterWrite(tx, items, at);
  }

  /** Whether this runtime can step an instance written by `version` of the machine (as is, or migrated). */
  canStep(reg: RegisteredMachine, version: number): boolean {
    return version === reg.version || reg.compatibleVersions.has(version) || (reg.migrate !== undefined && version < reg.version);
  }

  async #step(tx: Transaction, items: StepItem[], now: number, options: StepOptions, pending: Pending[]): Promise<void> {
    if (!options.isolate) return this.#stepAll(tx, items, now, options.ended ?? [], pending);
    await tx.query('SAVEPOINT step');
    const mark = pending.length;
    try {
      await this.#stepAll(tx, items, now, options.ended ?? [], pending);
    } catch (error) {
      await tx.query('ROLLBACK TO SAVEPOINT step');
      for (const p of pending.splice(mark)) this.sink?.unreserve(p.reserved);
      // The database's trouble (a lost race, a statement timeout, a full disk), not the instance's:
      // the whole transaction is retried later and nothing counts against the instance.
      if (isTransientDatabaseError(error)) throw error;
      await options.onFailure?.(tx);
      for (const item of items) await this.#recordFailure(tx, item.claimed.instance.id, error, now);
    }
  }

  async #stepAll(tx: Transaction, items: StepItem[], now: number, ended: EffectEnd[], pending: Pending[]): Promise<void> {
    const { queries, registry, logger } = this.options;
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
      const full = claimed.inbox.length === this.options.batchSize;
      const outcome = computeStep(reg, instance, claimed.inbox, full, now, logger, arrivals);
      const entry: Pending = { outcome, machine: reg.name, reserved: 0, adopted: [], counted: true };
      pending.push(entry);
      this.#claimEffects(entry, instance.id, now);
      writes.push({ instanceId: instance.id, machine: reg.name, outcome });
    }
    if (writes.length === 0 && ended.length === 0) return;
    await queries.write(tx, writes, ended, at);
    await this.#afterWrite(tx, writes, at);
  }

  async #create(tx: Transaction, items: StepWrite[], now: number, pending: Pending[]): Promise<void> {
    const at = new Date(now);
    for (const item of items) {
      const entry: Pending = { outcome: item.outcome, machine: item.machine, reserved: 0, adopted: [], counted: false };
      pending.push(entry);
      this.#claimEffects(entry, item.instanceId, now);
    }
    await this.options.queries.writeStart(tx, items, at);
    await this.#afterWrite(tx, items, at);
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
   * Claims the step's new effects for this worker in the same write, as far as its runner has free
   * slots: they start right after commit, with no NOTIFY or claim query in between. A crash after
   * commit leaves them to lease expiry, like any claimed effect.
   */
  #claimEffects(entry: Pending, instanceId: string, now: number): void {
    const effects = entry.outcome.newEffects;
    entry.reserved = effects.length ? (this.sink?.reserve(effects.length) ?? 0) : 0;
    const claim = { lease_owner: this.options.workerId, due_at: new Date(now + this.options.leaseMs).toISOString() };
    for (const effect of effects.slice(0, entry.reserved)) {
      effect.claim = claim;
      entry.adopted.push({
        instanceId,
        machine: entry.machine,
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

  #committed(p: Pending): void {
    if (p.reserved > 0) this.sink?.adopt(p.adopted);
    if (!p.counted) return;
    const { metrics } = this.options;
    const committed = this.options.clock.now();
    metrics.inc('steps');
    metrics.inc('eventsApplied', p.outcome.applied.length);
    metrics.inc('eventsDropped', p.outcome.dropped);
    for (const ms of p.outcome.timerLateness) metrics.timerFired(ms);
    for (const since of p.outcome.appliedSince) metrics.eventApplied(committed - since);
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

  /** Counts a failed step; the instance retries with backoff and, after maxStepFailures in a row, moves to `error`. */
  async #recordFailure(tx: Transaction, instanceId: string, error: unknown, now: number): Promise<void> {
    const { queries, metrics, logger } = this.options;
    metrics.inc('stepFailures');
    const failures = await queries.recordFailure(tx, instanceId, new Date(now));
    if (failures >= this.options.maxStepFailures) {
      const info = toErrorInfo(new DocketError('STEP_FAILED', `step failed ${failures} times in a row: ${toErrorInfo(error).message}`));
      await queries.markError(tx, instanceId, info, new Date(now));
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

import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { Database, Transaction } from './db/database.js';
import { DocketError, toErrorInfo } from './errors.js';
import type { Metrics } from './metrics.js';
import type { ClaimedEffect } from './queries/effects.js';
import type { Claimed, StepQueries } from './queries/steps.js';
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

export interface StepOptions {
  /** Events applied after the due inbox, without passing through it (an effect's result). */
  arrivals?: InboxEvent[];
  /** Runs in the transaction when the step fails, before the failure is recorded: keep arrivals safe. */
  onFailure?: (tx: Transaction) => Promise<void>;
}

export type StepFn = (claimed: Claimed, now: number, options?: StepOptions) => Promise<StepOutcome | null>;

interface Pending {
  outcome: StepOutcome;
  machine: string;
  reserved: number;
  adopted: ClaimedEffect[];
}

/**
 * Applies events to a locked instance and writes the result: shared by the step worker (which
 * claims instances with due events) and the effect runner (which applies a result the moment it
 * commits it). Metrics and claimed effects take effect only once the transaction commits.
 */
export class Stepper {
  sink: EffectSink | undefined;

  constructor(private readonly options: StepperOptions) {}

  /** Runs `fn` in one transaction; `step` applies events to instances `fn` has locked. */
  async transact<T>(db: Database, fn: (tx: Transaction, step: StepFn) => Promise<T>): Promise<T> {
    const pending: Pending[] = [];
    try {
      const value = await db.transaction((tx) => fn(tx, (claimed, now, options) => this.#step(tx, claimed, now, options ?? {}, pending)));
      for (const p of pending) this.#committed(p);
      return value;
    } catch (error) {
      for (const p of pending) this.sink?.unreserve(p.reserved);
      throw error;
    }
  }

  async #step(tx: Transaction, claimed: Claimed, now: number, options: StepOptions, pending: Pending[]): Promise<StepOutcome | null> {
    // Under a savepoint: when the step fails (a hook throws, a constraint breaks) its writes roll
    // back but the lock holds, so the failure is counted before anyone else retries.
    await tx.query('SAVEPOINT step');
    let entry: Pending | undefined;
    try {
      const reg = this.options.registry.machine(claimed.instance.machine)!;
      const instance = this.#upgrade(reg, claimed.instance);
      const at = new Date(now);
      if (!instance) {
        await this.options.queries.markError(tx, claimed.instance.id, versionError(reg, claimed.instance), at);
        this.options.logger.error(
          { instance_id: claimed.instance.id, machine: reg.name, machine_version: claimed.instance.machineVersion },
          'instance written by an unknown machine version; not stepped',
        );
        return null;
      }
      const full = claimed.inbox.length === this.options.batchSize;
      const outcome = computeStep(reg, instance, claimed.inbox, full, now, this.options.logger, options.arrivals);
      entry = { outcome, machine: reg.name, reserved: 0, adopted: [] };
      pending.push(entry);
      this.#claimEffects(entry, instance.id, now);
      await this.options.queries.write(tx, instance.id, reg.name, outcome, at);
      if (reg.onStep && outcome.applied.length > 0) {
        await reg.onStep(tx, {
          instanceId: instance.id,
          machine: reg.name,
          previous: outcome.previous,
          current: { value: outcome.value, status: outcome.status, context: outcome.context, error: outcome.error },
          events: outcome.applied,
          version: outcome.version,
          at,
        });
      }
      this.options.logger.debug(
        { instance_id: instance.id, machine: reg.name, events: outcome.applied.map((e) => e.type), to: outcome.value, version: outcome.version },
        'step applied',
      );
      return outcome;
    } catch (error) {
      await tx.query('ROLLBACK TO SAVEPOINT step');
      if (entry) {
        pending.splice(pending.indexOf(entry), 1);
        this.sink?.unreserve(entry.reserved);
      }
      await options.onFailure?.(tx);
      await this.#recordFailure(tx, claimed.instance.id, error, now);
      return null;
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
    const { metrics } = this.options;
    const committed = this.options.clock.now();
    metrics.inc('steps');
    metrics.inc('eventsApplied', p.outcome.applied.length);
    metrics.inc('eventsDropped', p.outcome.dropped);
    for (const ms of p.outcome.timerLateness) metrics.timerFired(ms);
    for (const since of p.outcome.appliedSince) metrics.eventApplied(committed - since);
    if (p.reserved > 0) this.sink?.adopt(p.adopted);
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

import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { Database, Transaction } from './db/database.js';
import { DocketError, toErrorInfo } from './errors.js';
import { Loop } from './loop.js';
import type { Metrics } from './metrics.js';
import type { StepQueries } from './queries/steps.js';
import type { Registry, RegisteredMachine } from './registry.js';
import { computeStep, type ClaimedInstance, type InboxEvent } from './step.js';

/** How soon to look again at an instance that was due but locked by another worker. */
const LOCKED_RETRY_MS = 200;

export interface StepWorkerOptions {
  db: Database;
  queries: StepQueries;
  registry: Registry;
  clock: Clock;
  metrics: Metrics;
  logger: Logger;
  batchSize: number;
  pollIntervalMs: number;
  maxStepFailures: number;
}

/**
 * Claims an instance with due events, applies them with transition() and commits the new snapshot,
 * its side records and the consumption of the events in one transaction.
 */
export class StepWorker extends Loop {
  protected readonly pollIntervalMs: number;

  constructor(private readonly options: StepWorkerOptions) {
    super(options.logger);
    this.pollIntervalMs = options.pollIntervalMs;
  }

  protected now(): number {
    return this.options.clock.now();
  }

  protected async turn(): Promise<Date | 'again' | null> {
    const { db, queries, registry } = this.options;
    const stepped = await db.transaction(async (tx) => {
      const now = this.now();
      const claimed = await queries.claim(tx, new Date(now), registry.claimFilter, this.options.batchSize);
      if (!claimed) return false;
      // The step runs under a savepoint: when it fails (a hook throws, a constraint breaks) its
      // writes roll back but the claim holds, so the failure is counted before anyone else retries.
      await tx.query('SAVEPOINT step');
      try {
        await this.#apply(tx, claimed, now);
      } catch (error) {
        await tx.query('ROLLBACK TO SAVEPOINT step');
        await this.#recordFailure(tx, claimed.instance.id, error, now);
      }
      return true;
    });
    if (stepped) return 'again';
    const next = await queries.nextWake(db, registry.claimFilter);
    // Due but not claimed: another worker holds it. Look again shortly rather than spin; if that
    // worker dies mid-step its transaction ends and we pick the instance up on this retry.
    const now = this.now();
    return next && next.getTime() <= now ? new Date(now + LOCKED_RETRY_MS) : next;
  }

  async #apply(tx: Transaction, claimed: { instance: ClaimedInstance; inbox: InboxEvent[] }, now: number): Promise<void> {
    const { queries, registry } = this.options;
    const reg = registry.machine(claimed.instance.machine)!;
    const instance = this.#upgrade(reg, claimed.instance);
    const at = new Date(now);
    if (!instance) {
      await queries.markError(tx, claimed.instance.id, versionError(reg, claimed.instance), at);
      this.logger.error(
        { instance_id: claimed.instance.id, machine: reg.name, machine_version: claimed.instance.machineVersion },
        'instance written by an unknown machine version; not stepped',
      );
      return;
    }
    const full = claimed.inbox.length === this.options.batchSize;
    const outcome = computeStep(reg, instance, claimed.inbox, full, now, this.logger);
    await queries.write(tx, instance.id, reg.name, outcome, at);
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
    this.#count(outcome.applied.length, outcome.dropped, outcome.timerLateness);
    this.logger.debug(
      { instance_id: instance.id, machine: reg.name, events: outcome.applied.map((e) => e.type), to: outcome.value, version: outcome.version },
      'step applied',
    );
  }

  /** The instance ready for this machine version: as is, declared compatible, or migrated. Null if none. */
  #upgrade(reg: RegisteredMachine, instance: ClaimedInstance): ClaimedInstance | null {
    if (instance.machineVersion === reg.version || reg.compatibleVersions.has(instance.machineVersion)) return instance;
    if (reg.migrate && instance.machineVersion < reg.version) {
      const snapshot = reg.migrate(instance.snapshot, instance.machineVersion);
      this.logger.info({ instance_id: instance.id, machine: reg.name, from: instance.machineVersion, to: reg.version }, 'snapshot migrated');
      return { ...instance, snapshot, machineVersion: reg.version };
    }
    return null;
  }

  #count(applied: number, dropped: number, lateness: number[]): void {
    const { metrics } = this.options;
    metrics.inc('steps');
    metrics.inc('eventsApplied', applied);
    metrics.inc('eventsDropped', dropped);
    for (const ms of lateness) metrics.timerFired(ms);
  }

  /**
   * A step failed after claiming. Its events stay; the instance is retried with backoff and, after
   * maxStepFailures in a row, parked in `error`.
   */
  async #recordFailure(tx: Transaction, instanceId: string, error: unknown, now: number): Promise<void> {
    const { queries, metrics } = this.options;
    metrics.inc('stepFailures');
    const failures = await queries.recordFailure(tx, instanceId, new Date(now));
    if (failures >= this.options.maxStepFailures) {
      const info = toErrorInfo(new DocketError('STEP_FAILED', `step failed ${failures} times in a row: ${toErrorInfo(error).message}`));
      await queries.markError(tx, instanceId, info, new Date(now));
      this.logger.error({ err: error, instance_id: instanceId, failures }, 'step failed too often; instance moved to error');
      return;
    }
    this.logger.warn({ err: error, instance_id: instanceId, failures }, 'step failed; will retry with backoff');
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

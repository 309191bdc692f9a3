import type { AnyEventObject } from 'xstate';
import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { Database, Transaction } from './db/database.js';
import { isTransientDatabaseError } from './db/errors.js';
import { databaseBackoffMs, retryTransient, sleep } from './db/retry.js';
import type { AttemptLogEntry, ClaimedEffect, EffectQueries } from './queries/effects.js';
import type { EffectEnd, StepQueries } from './queries/steps.js';
import type { Registry } from './registry.js';
import type { AfterCommit, SlotLease, Slots, StepApplier } from './apply.js';
import { Batcher } from './batcher.js';
import type { Metrics } from './metrics.js';
import type { InboxEvent } from './transition.js';

/** Results applied per transaction at most, and transactions applying them at once. */
const MAX_BATCH = 100;
const CONCURRENCY = 2;

export interface EffectResultsOptions {
  db: Database;
  queries: EffectQueries;
  stepQueries: StepQueries;
  applier: StepApplier;
  /** This worker's runner: the steps that apply results claim the effects they start for it. */
  runner: { slots(): SlotLease };
  registry: Registry;
  metrics: Metrics;
  clock: Clock;
  logger: Logger;
  workerId: string;
  /** Inbox rows read per instance. */
  batchSize: number;
  /** While true, writes that fail on a transient database error are retried with backoff. */
  keepTrying: () => boolean;
}

export interface EffectResult {
  status: 'done' | 'failed';
  output?: unknown;
  error?: object;
  log?: AttemptLogEntry;
}

/** An invocation's result waiting to be recorded and applied. */
interface Ending {
  effect: ClaimedEffect;
  end: EffectEnd;
  reply: AnyEventObject;
  resolve: (finished: boolean) => void;
  reject: (error: unknown) => void;
}

/**
 * Records how effect attempts ended. An invocation's result is applied to its instance in the
 * transaction that records it, batched with whatever else finished meanwhile (no inbox round trip).
 * A database outage does not lose a result: the write waits and is retried with backoff, so the
 * service is not run again when the database comes back.
 */
export class EffectResults {
  readonly #batcher = new Batcher<Ending>({ maxBatch: MAX_BATCH, concurrency: CONCURRENCY, run: (batch) => this.#settle(batch) });
  /** Transient database failures in a row while applying results. */
  #outage = 0;

  constructor(private readonly options: EffectResultsOptions) {}

  /** Records an effect's end. Resolves false when the lease was lost or it was cancelled: the result is dropped. */
  record(effect: ClaimedEffect, result: EffectResult, reply: AnyEventObject | null): Promise<boolean> {
    const { db, queries, workerId, clock } = this.options;
    if (!reply) return this.#persist('recording an effect result', () => queries.finish(db, effect, workerId, new Date(clock.now()), result));
    return new Promise((resolve, reject) => {
      const end: EffectEnd = {
        key: effect.idempotencyKey,
        owner: workerId,
        status: result.status,
        output: result.output ?? null,
        error: result.error ?? null,
        log: result.log ? [result.log] : null,
      };
      this.#batcher.push({ effect, end, reply, resolve, reject });
    });
  }

  /** Puts a failed attempt back as pending until `retryAt`. False when the lease was lost. */
  retry(effect: ClaimedEffect, retryAt: Date, error: object, log: AttemptLogEntry): Promise<boolean> {
    const { db, queries, workerId, clock } = this.options;
    return this.#persist('scheduling an effect retry', () => queries.retry(db, effect, workerId, new Date(clock.now()), retryAt, error, log));
  }

  #persist<T>(what: string, write: () => Promise<T>): Promise<T> {
    return retryTransient(write, { keepTrying: this.options.keepTrying, logger: this.options.logger, what });
  }

  async #settle(batch: Ending[]): Promise<void> {
    try {
      await this.#apply(batch, false);
      this.#outage = 0;
      return;
    } catch (error) {
      if (isTransientDatabaseError(error)) return this.#later(batch, error);
      // A hook or statement failed: one at a time, each under a savepoint, to find it.
      this.options.logger.warn({ err: error, batch: batch.length }, 'applying effect results failed; retrying one at a time');
    }
    for (const ending of batch) {
      try {
        await this.#apply([ending], true);
      } catch (error) {
        if (isTransientDatabaseError(error)) await this.#later([ending], error);
        else ending.reject(error);
      }
    }
  }

  /** Puts results back at the head of the queue after a backoff; gives up (the lease will expire) once closing. */
  async #later(batch: Ending[], error: unknown): Promise<void> {
    if (!this.options.keepTrying()) {
      for (const ending of batch) ending.reject(error);
      return;
    }
    this.#outage += 1;
    const delay = databaseBackoffMs(this.#outage);
    this.options.logger.warn({ err: error, results: batch.length, retry_in_ms: delay }, 'database error while recording effect results; retrying');
    await sleep(delay);
    this.#batcher.pushFront(batch);
  }

  /** One transaction: lock the instances, apply the results that this worker still owns, after commit start what they spawned. */
  async #apply(batch: Ending[], isolate: boolean): Promise<void> {
    const { db, clock, metrics, runner } = this.options;
    const slots = runner.slots();
    let outcome: { owned: Set<string>; work: AfterCommit };
    const began = performance.now();
    try {
      outcome = await db.transaction((tx) => this.#applyIn(tx, batch, isolate, clock.now(), slots));
    } catch (error) {
      slots.abort();
      throw error;
    }
    slots.commit(outcome.work.adopt);
    this.options.applier.committed(outcome.work);
    metrics.committed(outcome.work, clock.now(), performance.now() - began);
    for (const ending of batch) ending.resolve(outcome.owned.has(ending.effect.idempotencyKey));
  }

  async #applyIn(tx: Transaction, batch: Ending[], isolate: boolean, now: number, slots: Slots): Promise<{ owned: Set<string>; work: AfterCommit }> {
    const { queries, stepQueries, applier, registry, workerId, batchSize } = this.options;
    const at = new Date(now);
    // Instances first, then effects: the order a step takes them in, so no deadlock.
    const claimed = await stepQueries.lock(tx, [...new Set(batch.map((e) => e.effect.instanceId))], batchSize);
    const owned = await stepQueries.owned(tx, batch.map((e) => e.effect.idempotencyKey), workerId);
    const items = new Map(claimed.map((c) => [c.instance.id, { claimed: c, arrivals: [] as InboxEvent[] }]));
    const mine = batch.filter((e) => owned.has(e.effect.idempotencyKey));
    const queued: Ending[] = [];
    for (const ending of mine) {
      const item = items.get(ending.effect.instanceId);
      if (!item) continue; // the instance is gone
      const reg = registry.machine(item.claimed.instance.machine)!;
      // A full inbox must be applied first; a version this runtime cannot step waits for one that can.
      if (item.claimed.inbox.length === batchSize || !applier.canStep(reg, item.claimed.instance.machineVersion)) queued.push(ending);
      else item.arrivals.push({ id: null, event: ending.reply, timerId: null, sourceEffect: ending.effect.idempotencyKey, attempts: ending.effect.attempts, availableAt: at, createdAt: at });
    }
    for (const e of queued) await queries.reply(tx, e.effect, e.reply, at);
    const ended = mine.map((e) => e.end);
    const replies = mine.filter((e) => !queued.includes(e) && items.has(e.effect.instanceId)).map((e) => ({ effect: e.effect, event: e.reply }));
    const work = await applier.apply(tx, [...items.values()].filter((item) => item.arrivals.length > 0), now, {
      slots,
      ended,
      isolate,
      // Should the step fail, the effects still end and their results wait in the inbox.
      onFailure: { ended, replies },
    });
    return { owned, work };
  }
}

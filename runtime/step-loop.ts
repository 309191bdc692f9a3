import type { Logger } from 'pino';
import type { AfterCommit, StepApplier } from './apply.js';
import type { Clock } from './clock.js';
import type { Database } from './db/database.js';
import { isTransientDatabaseError } from './db/errors.js';
import type { EffectRunner } from './effect-runner.js';
import { Loop } from './loop.js';
import type { Metrics } from './metrics.js';
import type { StepQueries } from './queries/steps.js';
import type { Registry } from './registry.js';
import { NO_SLOTS } from './apply.js';

/** How soon to look again at an instance that was due but locked by another worker. */
const LOCKED_RETRY_MS = 200;
/**
 * The most instances the claims of one process's step loops grow to together while every claim
 * comes back full (a backlog, a burst of timers): a transaction's cost is mostly round trips, so
 * under a backlog more steps per commit is more steps per second. Each loop's claims start at
 * `claimBatchSize` and double per full claim up to its share of this (256 with the default 2 loops),
 * so that one loop does not take the whole backlog and leave the others idle.
 */
export const MAX_CLAIM = 512;

export interface StepLoopOptions {
  db: Database;
  queries: StepQueries;
  applier: StepApplier;
  /** This process's effect runner, which starts the effects a step claims; none for a client. */
  effects: EffectRunner | undefined;
  registry: Registry;
  metrics: Metrics;
  clock: Clock;
  logger: Logger;
  /** Inbox rows read per instance. */
  batchSize: number;
  /** Instances claimed per transaction when there is no backlog; a backlog grows it up to this loop's share of MAX_CLAIM. */
  claimLimit: number;
  /** Step loops in this process, sharing MAX_CLAIM. */
  loops: number;
  pollIntervalMs: number;
}

/**
 * One turn: claim instances with due events (skipping ones other workers hold), apply them with
 * transition() and commit the new snapshots, their side records and the consumption of the events
 * in one transaction; then start the effects the steps claimed and count what was done.
 */
export class StepLoop extends Loop {
  protected readonly pollIntervalMs: number;
  #isolatedTurns = 0;
  /** Instances the next claim asks for: doubled after a full claim, back to claimLimit after one that was not. */
  #claimSize: number;

  constructor(private readonly options: StepLoopOptions) {
    super(options.logger);
    this.pollIntervalMs = options.pollIntervalMs;
    this.#claimSize = options.claimLimit;
  }

  protected now(): number {
    return this.options.clock.now();
  }

  protected async turn(): Promise<Date | 'again' | null> {
    // Normally a batch of instances per transaction. After a batch failed, one at a time under a
    // savepoint for a while, so the failing instance is found, counted and backed off.
    const isolate = this.#isolatedTurns > 0;
    let work: AfterCommit | null;
    const began = performance.now();
    try {
      work = await this.#step(isolate);
    } catch (error) {
      // An outage or a lost race is no instance's fault: back off and try the same batch again.
      if (isolate || isTransientDatabaseError(error)) throw error;
      this.logger.warn({ err: error }, 'batch step failed; stepping one instance at a time for a while');
      // As many single turns as the batch that failed held, so the failing instance is among them.
      this.#isolatedTurns = this.#claimSize;
      this.#claimSize = this.options.claimLimit;
      return 'again';
    }
    if (isolate) this.#isolatedTurns -= 1;
    if (work) return 'again';
    const { db, queries, registry } = this.options;
    const next = await queries.nextWake(db, registry.claimFilter);
    // Due but not claimed: another worker holds it. Look again shortly rather than spin; if that
    // worker dies mid-step its transaction ends and we pick the instance up on this retry.
    const now = this.now();
    return next && next.getTime() <= now ? new Date(now + LOCKED_RETRY_MS) : next;
  }

  /** Compute and write in one transaction, then act on what it returned. Null when nothing was due. */
  async #step(isolate: boolean): Promise<AfterCommit | null> {
    const { db, queries, applier, registry, effects, metrics, clock, claimLimit, batchSize } = this.options;
    const slots = effects?.slots();
    let work: AfterCommit | null;
    const began = performance.now();
    const size = isolate ? 1 : this.#claimSize;
    let got = 0;
    try {
      work = await db.transaction(async (tx) => {
        const now = clock.now();
        const claimed = await queries.claim(tx, new Date(now), registry.claimFilter, size, batchSize);
        got = claimed.length;
        if (claimed.length === 0) return null;
        return applier.apply(tx, claimed.map((c) => ({ claimed: c })), now, { slots: slots ?? NO_SLOTS, isolate });
      });
    } catch (error) {
      slots?.abort();
      throw error;
    }
    slots?.commit(work?.adopt ?? []);
    if (!isolate) this.#claimSize = got === size ? Math.min(size * 2, Math.max(Math.floor(MAX_CLAIM / this.options.loops), claimLimit)) : claimLimit;
    if (work) {
      applier.committed(work);
      metrics.committed(work, clock.now(), performance.now() - began);
    }
    return work;
  }
}

import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { Database } from './db/database.js';
import { isTransientDatabaseError } from './db/errors.js';
import { Loop } from './loop.js';
import type { StepQueries } from './queries/steps.js';
import type { Registry } from './registry.js';
import type { Stepper } from './stepper.js';

/** How soon to look again at an instance that was due but locked by another worker. */
const LOCKED_RETRY_MS = 200;

export interface StepWorkerOptions {
  db: Database;
  queries: StepQueries;
  stepper: Stepper;
  registry: Registry;
  clock: Clock;
  logger: Logger;
  /** Inbox rows read per instance. */
  batchSize: number;
  /** Instances claimed per transaction. */
  claimLimit: number;
  pollIntervalMs: number;
}

/**
 * Claims an instance with due events (skipping ones other workers hold), applies them with
 * transition() and commits the new snapshot, its side records and the consumption of the events
 * in one transaction.
 */
export class StepWorker extends Loop {
  protected readonly pollIntervalMs: number;
  #isolatedTurns = 0;

  constructor(private readonly options: StepWorkerOptions) {
    super(options.logger);
    this.pollIntervalMs = options.pollIntervalMs;
  }

  protected now(): number {
    return this.options.clock.now();
  }

  protected async turn(): Promise<Date | 'again' | null> {
    const { db, queries, registry, stepper } = this.options;
    // Normally a batch of instances per transaction. After a batch failed, one at a time under a
    // savepoint for a while, so the failing instance is found, counted and backed off.
    const isolate = this.#isolatedTurns > 0;
    let stepped: boolean;
    try {
      stepped = await stepper.transact(db, async (tx, step) => {
        const now = this.now();
        const claimed = await queries.claim(tx, new Date(now), registry.claimFilter, isolate ? 1 : this.options.claimLimit, this.options.batchSize);
        if (claimed.length === 0) return false;
        await step(claimed.map((c) => ({ claimed: c })), now, { isolate });
        return true;
      });
    } catch (error) {
      // An outage or a lost race is no instance's fault: back off and try the same batch again.
      if (isolate || isTransientDatabaseError(error)) throw error;
      this.logger.warn({ err: error }, 'batch step failed; stepping one instance at a time for a while');
      this.#isolatedTurns = this.options.claimLimit;
      return 'again';
    }
    if (isolate) this.#isolatedTurns -= 1;
    if (stepped) return 'again';
    const next = await queries.nextWake(db, registry.claimFilter);
    // Due but not claimed: another worker holds it. Look again shortly rather than spin; if that
    // worker dies mid-step its transaction ends and we pick the instance up on this retry.
    const now = this.now();
    return next && next.getTime() <= now ? new Date(now + LOCKED_RETRY_MS) : next;
  }
}

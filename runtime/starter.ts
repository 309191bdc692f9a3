import type { Logger } from 'pino';
import { z } from 'zod';
import { NO_SLOTS, type AfterCommit, type StepApplier } from './apply.js';
import { Batcher } from './batcher.js';
import type { Clock } from './clock.js';
import type { Database, Transaction } from './db/database.js';
import type { EffectRunner } from './effect-runner.js';
import { ConfigError, DocketError } from './errors.js';
import type { InstanceQueries, NewInstance } from './queries/instances.js';
import type { Registry } from './registry.js';
import { computeStart } from './transition.js';
import type { StartOptions } from './types.js';

const uuidSchema = z.uuid();
/** Instances created per transaction at most, and transactions creating them at once. */
const MAX_BATCH = 100;
const CONCURRENCY = 2;

interface Request extends NewInstance {
  resolve: (id: string) => void;
  reject: (error: unknown) => void;
}

export interface StarterOptions {
  db: Database;
  instances: InstanceQueries;
  applier: StepApplier;
  /** This process's effect runner, which starts the effects a new instance invokes; none for a client. */
  effects: EffectRunner | undefined;
  registry: Registry;
  clock: Clock;
  logger: Logger;
}

/**
 * Creates instances. Starts that arrive together are inserted together, in one transaction, with
 * the effects their initial states invoke claimed for this process's runner: a burst of uploads
 * costs a few transactions, not one each.
 */
export class Starter {
  readonly #batcher = new Batcher<Request>({ maxBatch: MAX_BATCH, concurrency: CONCURRENCY, run: (batch) => this.#settle(batch) });

  constructor(private readonly options: StarterOptions) {}

  start(name: string, input: unknown, startOptions: StartOptions): Promise<string> {
    const request = this.#prepare(name, input, startOptions);
    if (startOptions.tx) return this.#insertIn(startOptions.tx, request);
    return new Promise((resolve, reject) => this.#batcher.push({ ...request, resolve, reject }));
  }

  #prepare(name: string, input: unknown, startOptions: StartOptions): NewInstance {
    const reg = this.options.registry.machine(name);
    if (!reg) throw new ConfigError(`unknown machine "${name}"; this runtime knows ${this.options.registry.machineNames.join(', ')}`);
    const id = startOptions.id ?? crypto.randomUUID();
    if (!uuidSchema.safeParse(id).success) throw new ConfigError(`start: id must be a uuid; got "${id}"`);
    const outcome = computeStart(reg, id, input, this.options.clock.now(), this.options.logger);
    return { id, machine: name, idempotencyKey: startOptions.idempotencyKey ?? null, outcome };
  }

  /** A start inside the caller's transaction: committed (or rolled back) with the caller's own writes. */
  async #insertIn(tx: Transaction, request: NewInstance): Promise<string> {
    const { instances, applier, clock } = this.options;
    const now = clock.now();
    const inserted = await instances.insert(tx, [request], new Date(now));
    if (inserted.has(request.id)) {
      // No claims: this runtime cannot know when, or whether, that transaction commits; the
      // effects trigger's NOTIFY wakes a runner once it does.
      await applier.create(tx, [{ instanceId: request.id, machine: request.machine, outcome: request.outcome }], now, NO_SLOTS);
      return request.id;
    }
    const existing = await instances.findExisting(tx, request.id, request.idempotencyKey);
    if (!existing) throw new DocketError('START_CONFLICT', `instance insert for ${request.id} conflicted but no row was found`);
    return existing;
  }

  async #settle(batch: Request[]): Promise<void> {
    try {
      await this.#insert(batch);
    } catch (error) {
      if (batch.length === 1) return batch[0]!.reject(error);
      // One bad start (a hook throwing, say) must not fail the others: one at a time.
      this.options.logger.warn({ err: error, batch: batch.length }, 'batched start failed; starting one at a time');
      for (const request of batch) await this.#insert([request]).catch(request.reject);
    }
  }

  async #insert(batch: Request[]): Promise<void> {
    const { db, instances, applier, effects, clock, logger } = this.options;
    const now = clock.now();
    const slots = effects?.slots();
    let inserted: Set<string>;
    let work: AfterCommit | undefined;
    try {
      [inserted, work] = await db.transaction(async (tx) => {
        const inserted = await instances.insert(tx, batch, new Date(now));
        const created = batch.filter((request) => inserted.has(request.id));
        if (created.length === 0) return [inserted, undefined] as const;
        const items = created.map(({ id, machine, outcome }) => ({ instanceId: id, machine, outcome }));
        return [inserted, await applier.create(tx, items, now, slots ?? NO_SLOTS)] as const;
      });
    } catch (error) {
      slots?.abort();
      throw error;
    }
    slots?.commit(work?.adopt ?? []);
    for (const request of batch) {
      if (inserted.has(request.id)) {
        logger.debug({ instance_id: request.id, machine: request.machine, to: request.outcome.value }, 'instance started');
        request.resolve(request.id);
        continue;
      }
      const existing = await instances.findExisting(db, request.id, request.idempotencyKey);
      if (existing) request.resolve(existing);
      else request.reject(new DocketError('START_CONFLICT', `instance insert for ${request.id} conflicted but no row was found`));
    }
  }
}

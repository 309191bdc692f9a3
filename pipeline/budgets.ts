import type { Logger } from 'pino';
import { AdapterError } from '../adapters/errors.js';
import type { Database } from '../index.js';
import { BudgetCounters, type BudgetMetrics } from './budget-metrics.js';
import { BUDGET_CHANNEL, budgetQueries as q, type Rate, type WaitReason } from './budget-queries.js';

export type { Rate } from './budget-queries.js';

/** One provider's limits; each unset is unlimited. */
export interface ProviderLimits {
  /** Calls in flight at once, across every process. */
  concurrency?: number;
  /** Tokens the calls starting in any window may carry (the embedder's: the chunks' cl100k counts). */
  tokens?: Rate;
  /** Calls starting in any window. */
  requests?: Rate;
}

export type ProviderRole = 'embedder' | 'parser';

export interface BudgetSettings {
  /** Uploads per tenant in any window. Unset: unlimited. */
  upload?: Rate;
  embedder?: ProviderLimits;
  parser?: ProviderLimits;
  /** How long a provider's 429 without Retry-After pauses it, milliseconds. */
  pauseMs: number;
  /**
   * Longest a call waits in its process for its budget, milliseconds; past it the attempt fails
   * transiently and the runtime retries it later. Default 120000 (the runtime aborts an attempt at 300000).
   */
  maxWaitMs?: number;
  /** A call's lease while in flight, renewed every third of it, milliseconds. Default 15000. */
  leaseMs?: number;
}

const DEFAULT_MAX_WAIT_MS = 120_000;
const DEFAULT_LEASE_MS = 15_000;
/** A call waiting for a slot asks again after this, growing by half each time up to the ceiling. */
const POLL_FIRST_MS = 20;
const POLL_MAX_MS = 1000;

/**
 * The shared budgets of this pipeline: per-tenant upload admission and, per provider role, a
 * budget its calls run under. A role without limits has no budget at all: its calls go straight
 * to the provider, with no database round trip.
 */
export class Budgets {
  readonly #counters = new BudgetCounters();
  readonly #leases: GrantLeases;
  readonly #wakeups = new Wakeups();
  #unlisten: (() => Promise<void>) | undefined;
  readonly providers: Partial<Record<ProviderRole, ProviderBudget>> = {};

  private constructor(
    private readonly db: Database,
    private readonly settings: BudgetSettings,
    logger: Logger,
  ) {
    const leaseMs = settings.leaseMs ?? DEFAULT_LEASE_MS;
    this.#leases = new GrantLeases(db, leaseMs, logger);
    for (const role of ['embedder', 'parser'] as const) {
      const limits = settings[role];
      if (limits && (limits.concurrency !== undefined || limits.tokens || limits.requests)) {
        this.providers[role] = new ProviderBudget(db, role, limits, settings, this.#leases, this.#counters, this.#wakeups, logger);
      }
    }
  }

  /**
   * The budgets of `settings`. Where a provider has a concurrency limit, this process listens for
   * calls ending anywhere, so a call waiting for a slot takes it at once rather than at its next poll.
   */
  static async open(db: Database, settings: BudgetSettings, logger: Logger): Promise<Budgets> {
    const budgets = new Budgets(db, settings, logger);
    if (Object.values(budgets.providers).some((budget) => budget.limits.concurrency !== undefined)) {
      budgets.#unlisten = await db.listen(BUDGET_CHANNEL, (key) => budgets.#wakeups.wake(key), () => budgets.#wakeups.wakeAll());
    }
    return budgets;
  }

  /**
   * Whether `tenant` may upload now; if not, how long until it may, milliseconds. An admitted
   * upload counts whatever becomes of it (a duplicate, a 400), as every request takes the server's work.
   */
  async admitUpload(tenant: string): Promise<{ admitted: true } | { admitted: false; retryAfterMs: number }> {
    const rate = this.settings.upload;
    if (!rate) return { admitted: true };
    const acquired = await q.acquire(this.db, `upload:${tenant}`, { tokens: 0, requestRate: rate, inFlight: false, leaseMs: 0, pausable: false });
    if (acquired.grantId !== null) return { admitted: true };
    this.#counters.uploadRefused();
    return { admitted: false, retryAfterMs: 'waitMs' in acquired ? acquired.waitMs : rate.windowMs };
  }

  metrics(): BudgetMetrics {
    return this.#counters.snapshot();
  }

  async close(): Promise<void> {
    this.#leases.close();
    await this.#unlisten?.();
  }
}

/**
 * One provider's budget, shared by every process on the database. A call waits until the provider
 * is not paused, has a free slot and room in every rate window, is granted in the same statement
 * that checked, runs, and is released. A 429 from the provider pauses it for everyone.
 *
 * Waits happen here, in the attempt, rather than by failing it transiently for the runtime to retry
 * later: a wait is not a failure, and each retry would spend one of the effect's few attempts (5 by
 * default), so a busy budget would fail jobs that did nothing wrong. The effect's lease is renewed
 * while it waits and its signal ends the wait (a timeout, a cancel, a shutdown). Only a wait longer
 * than `maxWaitMs` is handed back to the runtime, as a transient BUDGET_WAIT with its Retry-After.
 * Grants are made now, never reserved ahead: a call reserved for later could start later still
 * (a busy event loop, a slow connection) and land in a window with calls granted after it.
 */
export class ProviderBudget {
  constructor(
    private readonly db: Database,
    readonly role: ProviderRole,
    readonly limits: ProviderLimits,
    private readonly settings: BudgetSettings,
    private readonly leases: GrantLeases,
    private readonly counters: BudgetCounters,
    private readonly wakeups: Wakeups,
    private readonly logger: Logger,
  ) {}

  /** The most tokens one call may carry: the token limit, if any. */
  get maxTokensPerCall(): number | undefined {
    return this.limits.tokens?.limit;
  }

  /** Runs `call` within the budget: `tokens` is what it carries (0 for the parser). */
  async run<T>(tokens: number, signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> {
    const grantId = await this.#acquire(tokens, signal);
    try {
      return await call();
    } catch (error) {
      if (error instanceof AdapterError && error.status === 429) await this.#pause(error);
      throw error;
    } finally {
      await this.leases.release(grantId, this.limits.concurrency !== undefined);
    }
  }

  async #acquire(tokens: number, signal: AbortSignal | undefined): Promise<string> {
    const waited: Record<WaitReason, number> = { pause: 0, concurrency: 0, rate: 0 };
    const { concurrency, tokens: tokenRate, requests: requestRate } = this.limits;
    const maxWaitMs = this.settings.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
    const began = performance.now();
    let poll = POLL_FIRST_MS;
    for (;;) {
      const acquired = await q.acquire(this.db, this.role, { tokens, tokenRate, requestRate, concurrency, inFlight: true, leaseMs: this.leases.leaseMs, pausable: true });
      if ('tooLarge' in acquired) {
        throw new AdapterError('BUDGET_TOO_SMALL', `a ${this.role} call of ${tokens} tokens is more than its token limit allows in a window (${tokenRate?.limit})`);
      }
      if (acquired.grantId !== null) {
        this.leases.hold(acquired.grantId);
        this.counters.waited(this.role, 'pause', waited.pause);
        if (concurrency !== undefined) this.counters.waited(this.role, 'concurrency', waited.concurrency);
        if (tokenRate || requestRate) this.counters.waited(this.role, 'rate', waited.rate);
        return acquired.grantId;
      }
      // A pause's end is known, and so is a full window's when its calls have ended (the estimate
      // supposes the ones in flight end now, and is asked again then); a slot frees only when a call
      // ends, at any moment: it is asked for again soon, less often the longer it takes (with jitter).
      const sleepMs = acquired.reason === 'concurrency' ? poll * (0.75 + Math.random() / 2) : acquired.waitMs;
      if (acquired.reason === 'concurrency') poll = Math.min(poll * 1.5, POLL_MAX_MS);
      const total = performance.now() - began + sleepMs;
      if (total > maxWaitMs) {
        throw new AdapterError('BUDGET_WAIT', `the ${this.role} call would wait ${Math.round(total)} ms (${acquired.reason}), more than ${maxWaitMs} ms; retrying later`, {
          transient: true,
          retryAfterMs: Math.min(sleepMs, maxWaitMs),
        });
      }
      const slept = performance.now();
      await sleep(sleepMs, signal, acquired.reason === 'concurrency' ? this.wakeups.of(this.role) : undefined).catch((reason: unknown) => {
        // Ended by the attempt's signal (a timeout, a cancel, a shutdown), which the runtime judges
        // by the signal itself; an AdapterError keeps it out of the unexpected-failure log.
        throw new AdapterError('BUDGET_WAIT_ABORTED', `the wait for the ${this.role} budget was ended: ${(reason as Error)?.message ?? String(reason)}`, { transient: true, cause: reason });
      });
      waited[acquired.reason] += performance.now() - slept;
    }
  }

  async #pause(error: AdapterError): Promise<void> {
    const ms = error.retryAfterMs ?? this.settings.pauseMs;
    try {
      await q.pause(this.db, this.role, ms);
      this.counters.paused(this.role);
      this.logger.warn({ provider: this.role, pause_ms: ms }, 'provider answered 429; paused for every worker');
    } catch (e) {
      // The call's own error matters more; the next 429 records the pause.
      this.logger.warn({ err: e, provider: this.role }, 'could not record a provider pause');
    }
  }
}

/** The grants of this process's calls in flight, their leases renewed every third of a lease. */
class GrantLeases {
  readonly #held = new Set<string>();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly db: Database,
    readonly leaseMs: number,
    private readonly logger: Logger,
  ) {}

  hold(grantId: string): void {
    this.#held.add(grantId);
    this.#timer ??= setInterval(() => void this.#renew(), this.leaseMs / 3).unref();
  }

  async release(grantId: string, notify: boolean): Promise<void> {
    this.#held.delete(grantId);
    // A failed release leaves the call in flight until its lease lapses: slower, never over the limits.
    await q.release(this.db, grantId, notify).catch((error: unknown) => this.logger.warn({ err: error, grant: grantId }, 'could not release a budget grant; its lease will lapse'));
  }

  async #renew(): Promise<void> {
    if (this.#held.size === 0) return;
    await q.renew(this.db, [...this.#held], this.leaseMs).catch((error: unknown) => this.logger.warn({ err: error }, 'could not renew budget grant leases'));
  }

  close(): void {
    clearInterval(this.#timer);
  }
}

/** Sleepers by budget key, woken when a call of that budget ends in any process. */
class Wakeups {
  readonly #sleepers = new Map<string, Set<() => void>>();

  of(key: string): Set<() => void> {
    let set = this.#sleepers.get(key);
    if (!set) this.#sleepers.set(key, (set = new Set()));
    return set;
  }

  wake(key: string): void {
    for (const wake of this.#sleepers.get(key) ?? []) wake();
  }

  /** After the listening connection was lost: any notice may have been missed. */
  wakeAll(): void {
    for (const key of this.#sleepers.keys()) this.wake(key);
  }
}

/** Resolves after `ms` or when woken through `wakeups`, or rejects with the signal's reason when it aborts first. */
function sleep(ms: number, signal: AbortSignal | undefined, wakeups?: Set<() => void>): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      wakeups?.delete(woken);
    };
    const woken = () => {
      done();
      resolve();
    };
    const onAbort = () => {
      done();
      reject(signal!.reason);
    };
    const timer = setTimeout(woken, ms);
    wakeups?.add(woken);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

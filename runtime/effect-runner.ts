import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { Database } from './db/database.js';
import { DocketError, isTransient, retryAfterOf, toErrorInfo, TransientError } from './errors.js';
import { EffectResults } from './effect-results.js';
import type { LeaseKeeper } from './lease-keeper.js';
import { Loop } from './loop.js';
import type { Metrics } from './metrics.js';
import type { AttemptLogEntry, ClaimedEffect, EffectQueries } from './queries/effects.js';
import type { StepQueries } from './queries/steps.js';
import type { Registry, RegisteredService } from './registry.js';
import type { SlotLease } from './apply.js';
import type { StepApplier } from './apply.js';
import { DEFAULT_RETRY, retryDelayMs } from './retry.js';
import type { RetryPolicy, RuntimeOptions } from './types.js';

export interface EffectRunnerOptions {
  db: Database;
  queries: EffectQueries;
  stepQueries: StepQueries;
  applier: StepApplier;
  batchSize: number;
  registry: Registry;
  clock: Clock;
  metrics: Metrics;
  logger: Logger;
  workerId: string;
  concurrency: number;
  leaseMs: number;
  pollIntervalMs: number;
  retry: Partial<RetryPolicy> | undefined;
  onEmit: RuntimeOptions['onEmit'];
  shutdownGraceMs: number;
  leases: LeaseKeeper;
}

const DEFAULT_TIMEOUT_MS = 300_000;

interface Running {
  effect: ClaimedEffect;
  controller: AbortController;
  done: Promise<void>;
}

/**
 * Runs effects outside the step transaction: claims due ones under a lease (or adopts the ones a
 * step claimed for it), heartbeats while they run, and commits each result or schedules a retry.
 * An invocation's result is applied to its instance in the transaction that records it.
 */
export class EffectRunner extends Loop {
  protected readonly pollIntervalMs: number;
  /** Running effects by idempotency key. */
  readonly #running = new Map<string, Running>();
  /** Slots promised to steps whose transactions have not committed yet. */
  #reserved = 0;
  readonly #results: EffectResults;

  constructor(private readonly options: EffectRunnerOptions) {
    super(options.logger);
    this.pollIntervalMs = options.pollIntervalMs;
    this.#results = new EffectResults({ ...options, runner: this, keepTrying: () => this.running });
  }

  protected now(): number {
    return this.options.clock.now();
  }

  /**
   * Slots for one step transaction to fill with the effects it claims, taken as its steps need them.
   * After the commit, `commit()` starts what was claimed and gives back the rest; after a rollback,
   * `abort()` gives back everything.
   */
  slots(): SlotLease {
    let taken = 0;
    return {
      take: (wanted) => {
        if (!this.running) return 0;
        const granted = Math.max(0, Math.min(wanted, this.options.concurrency - this.#running.size - this.#reserved));
        this.#reserved += granted;
        taken += granted;
        return granted;
      },
      commit: (adopt) => {
        this.#reserved -= taken;
        for (const effect of adopt) this.#launch(effect);
        if (adopt.length < taken) this.notify();
      },
      abort: () => {
        this.#reserved -= taken;
        if (taken > 0) this.notify();
      },
    };
  }

  /** Aborts the attempts of these effects if they run here (cancelled or stopped by an operator). */
  abort(keys: string[]): void {
    for (const key of keys) {
      const running = this.#running.get(key);
      if (!running) continue;
      this.logger.info(fields(running.effect), 'effect cancelled; aborting its attempt');
      this.options.metrics.effect(running.effect.service, 'canceled');
      running.controller.abort(new DocketError('EFFECT_CANCELED', 'the effect was cancelled'));
    }
  }

  protected async turn(): Promise<Date | 'again' | null> {
    const { db, queries, registry, workerId, leaseMs, concurrency } = this.options;
    const free = concurrency - this.#running.size - this.#reserved;
    if (free <= 0) return null; // a finishing effect notifies the loop
    const now = this.now();
    const claimed = await queries.claim(db, workerId, new Date(now), new Date(now + leaseMs), free, registry.machineNames, [...this.#running.keys()]);
    for (const effect of claimed) this.#launch(effect);
    if (claimed.length === free) return 'again';
    return queries.nextDue(db, registry.machineNames);
  }

  #launch(effect: ClaimedEffect): void {
    const controller = new AbortController();
    const done = this.#execute(effect, controller.signal)
      .catch((error) => this.logger.error({ err: error, ...fields(effect) }, 'effect bookkeeping failed; the lease will expire and another worker retries'))
      .finally(() => {
        this.options.leases.drop(effect.idempotencyKey);
        this.#running.delete(effect.idempotencyKey);
        this.notify();
      });
    this.#running.set(effect.idempotencyKey, { effect, controller, done });
  }

  async #execute(effect: ClaimedEffect, stop: AbortSignal): Promise<void> {
    const { metrics, registry } = this.options;
    const log = this.logger.child(fields(effect));
    metrics.effect(effect.service, 'started');
    if (effect.tookOver) log.warn('took over an effect whose lease expired');
    const service = registry.effectService(effect, this.options.onEmit);
    if (!service) {
      return this.#fail(effect, new DocketError('SERVICE_NOT_FOUND', `no service "${effect.service}" in the runtime's services or the machine's actors`), log);
    }
    const timeoutMs = service.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const policy = { ...DEFAULT_RETRY, ...this.options.retry, ...service.retry };
    if (effect.tookOver && effect.attempts > policy.maxAttempts) {
      // Each attempt's worker died, hung or was killed before recording anything: running it again
      // would only take the next worker down too. The attempt log holds one LEASE_EXPIRED per loss.
      const lost = effect.attempts - 1;
      return this.#fail(effect, new DocketError('EFFECT_ABANDONED', `the worker running this effect stopped (crashed, killed or hung) ${lost} times in a row`), log);
    }
    // Held past the attempt's own timeout by one lease, so a hung attempt's lease lapses and another
    // worker may try, but a live one's never does.
    await this.options.leases.hold(effect.idempotencyKey, this.now() + timeoutMs + this.options.leaseMs);
    if (stop.aborted) return; // closed or cancelled while the hold was sent
    // Our own controller and timer rather than AbortSignal.any/timeout: on Node 20 the timeout signal
    // inside any() can be garbage-collected before it fires, and a plain timer can be cleared.
    const attempt = new AbortController();
    const onStop = () => attempt.abort(stop.reason);
    stop.addEventListener('abort', onStop, { once: true });
    const timer = setTimeout(() => attempt.abort(new DocketError('EFFECT_TIMEOUT', `attempt timed out after ${timeoutMs} ms`)), timeoutMs);
    const signal = attempt.signal;
    let output: unknown;
    const began = performance.now();
    try {
      output = await abortable(
        service.handler({
          input: effect.input,
          idempotencyKey: effect.idempotencyKey,
          attempt: effect.attempts,
          signal,
          instanceId: effect.instanceId,
          childId: effect.childId ?? '',
          logger: log,
        }),
        signal,
      );
      metrics.attempt(effect.service, true, performance.now() - began);
    } catch (error) {
      metrics.attempt(effect.service, false, performance.now() - began);
      if (stop.aborted) return; // closing (the lease is released) or cancelled (the row says so): not a failed attempt
      const reason = signal.aborted ? new TransientError(`attempt timed out after ${timeoutMs} ms`, { code: 'EFFECT_TIMEOUT', cause: error }) : error;
      return this.#failOrRetry(effect, service, reason, log);
    } finally {
      clearTimeout(timer);
      stop.removeEventListener('abort', onStop);
    }
    const finished = await this.#results.record(
      effect,
      { status: 'done', output: output ?? null },
      effect.kind === 'invoke' ? { type: `xstate.done.actor.${effect.childId}`, output: output ?? null } : null,
    );
    this.#settled(effect, finished, 'succeeded', log, 'effect done');
  }

  async #failOrRetry(effect: ClaimedEffect, service: RegisteredService, error: unknown, log: Logger): Promise<void> {
    const policy = { ...DEFAULT_RETRY, ...this.options.retry, ...service.retry };
    const transient = isTransient(error);
    if (!transient || effect.attempts >= policy.maxAttempts) return this.#fail(effect, error, log);
    const retryAfterMs = retryAfterOf(error);
    const delay = retryDelayMs(policy, effect.attempts, retryAfterMs);
    const now = this.now();
    const info = toErrorInfo(error);
    const kept = await this.#results.retry(effect, new Date(now + delay), info, {
      ...attemptLog(effect, info, now, true),
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    });
    if (kept) this.options.metrics.effect(effect.service, 'retries');
    log.warn({ err: error, attempt: effect.attempts, retry_in_ms: delay, lease_lost: !kept }, 'effect attempt failed; will retry');
  }

  async #fail(effect: ClaimedEffect, error: unknown, log: Logger): Promise<void> {
    const info = toErrorInfo(error);
    const finished = await this.#results.record(
      effect,
      { status: 'failed', error: info, log: attemptLog(effect, info, this.now(), isTransient(error)) },
      effect.kind === 'invoke' ? { type: `xstate.error.actor.${effect.childId}`, error: { ...info, attempts: effect.attempts } } : null,
    );
    this.#settled(effect, finished, 'failed', log, 'effect failed', error);
  }

  #settled(effect: ClaimedEffect, finished: boolean, outcome: 'succeeded' | 'failed', log: Logger, message: string, error?: unknown): void {
    if (finished) {
      this.options.metrics.effect(effect.service, outcome);
      if (error) log.warn({ err: error }, message);
      else log.debug(message);
    } else {
      this.options.metrics.effect(effect.service, 'canceled');
      log.info('effect result dropped: cancelled meanwhile or lease lost');
    }
  }

  /** Stops claiming, lets running effects finish within the grace period, then aborts and releases the rest. */
  override async stop(): Promise<void> {
    await super.stop();
    // Steps that reserved slots before we stopped adopt their effects when they commit: wait for them.
    while (this.#reserved > 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const running = [...this.#running.values()];
    if (running.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise((resolve) => (timer = setTimeout(resolve, this.options.shutdownGraceMs)));
      await Promise.race([Promise.all(running.map((r) => r.done)), grace]);
      clearTimeout(timer);
      const left = [...this.#running.values()];
      for (const r of left) r.controller.abort(new DocketError('RUNTIME_CLOSING', 'runtime closing'));
      const released = await this.options.queries
        .release(this.options.db, this.options.workerId, left.map((r) => r.effect.idempotencyKey), new Date(this.now()))
        .catch((error) => {
          this.logger.warn({ err: error }, 'could not release leases; they will expire');
          return 0;
        });
      if (released) this.logger.info({ released }, 'released effect leases');
      await Promise.all(left.map((r) => r.done));
    }
    await this.options.leases.close();
  }
}

function fields(effect: ClaimedEffect) {
  return { instance_id: effect.instanceId, machine: effect.machine, effect_key: effect.idempotencyKey, service: effect.service, child_id: effect.childId, attempt: effect.attempts };
}

function attemptLog(effect: ClaimedEffect, info: { code: string; message: string }, now: number, transient: boolean): AttemptLogEntry {
  return { attempt: effect.attempts, at: new Date(now).toISOString(), code: info.code, message: info.message, transient };
}

/** Settles with the promise, or rejects as soon as the signal aborts (a handler that ignores its signal cannot hold us). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

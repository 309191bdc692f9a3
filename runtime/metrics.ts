import type { AfterCommit } from './apply.js';
import type { EffectMetrics, HistogramSnapshot, LatencySummary, RuntimeMetrics } from './types.js';

/** Recent samples kept for percentiles; older ones are overwritten. */
const RESERVOIR = 8192;

/**
 * Bucket bounds of every histogram, milliseconds: from a 1 ms step transaction to the 300 s an
 * effect attempt may run (effect-runner's default timeout).
 */
export const HISTOGRAM_BOUNDS_MS: readonly number[] = Object.freeze([1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000]);

/**
 * Percentile buckets: 16 to each doubling from 0.1 ms (each about 4.4% wider than the one below), so
 * a percentile read from them is within 4.4% of the true one, over every observation since start.
 */
const FINE_PER_DOUBLING = 16;
const FINE_FLOOR_MS = 0.1;

/** A histogram with fixed bounds; plain numbers, so the engine stays free of any metrics library. */
class Histogram {
  readonly #counts = new Array<number>(HISTOGRAM_BOUNDS_MS.length).fill(0);
  /** Counts by fine bucket, for percentiles; grown as larger values arrive. */
  readonly #fine: number[] = [];
  #count = 0;
  #sum = 0;
  #max = 0;

  observe(value: number): void {
    // Per bucket, not cumulative, so an observation touches one slot; snapshot() sums them up.
    const bucket = HISTOGRAM_BOUNDS_MS.findIndex((bound) => value <= bound);
    if (bucket >= 0) this.#counts[bucket]! += 1;
    const fine = value <= FINE_FLOOR_MS ? 0 : Math.ceil(FINE_PER_DOUBLING * Math.log2(value / FINE_FLOOR_MS));
    while (this.#fine.length <= fine) this.#fine.push(0);
    this.#fine[fine]! += 1;
    this.#count += 1;
    this.#sum += value;
    this.#max = Math.max(this.#max, value);
  }

  snapshot(): HistogramSnapshot {
    let running = 0;
    const counts = this.#counts.map((n) => (running += n));
    return { bounds: HISTOGRAM_BOUNDS_MS, counts, count: this.#count, sum: this.#sum, max: this.#max, p50: this.#percentile(0.5), p99: this.#percentile(0.99) };
  }

  /** The upper bound of the bucket holding the q-th observation (never above the largest seen); 0 when empty. */
  #percentile(q: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.ceil(q * this.#count);
    let seen = 0;
    for (let i = 0; i < this.#fine.length; i++) {
      seen += this.#fine[i]!;
      if (seen >= rank) return Math.min(this.#max, FINE_FLOOR_MS * 2 ** (i / FINE_PER_DOUBLING));
    }
    return this.#max;
  }
}

type EffectCounter = Exclude<keyof EffectMetrics, 'attemptMs'>;
const EFFECT_COUNTERS = {
  started: 'effectsStarted',
  succeeded: 'effectsSucceeded',
  failed: 'effectsFailed',
  retries: 'effectRetries',
  canceled: 'effectsCanceledInFlight',
} as const satisfies Record<EffectCounter, keyof RuntimeMetrics>;

class ServiceMetrics {
  readonly counts: Record<EffectCounter, number> = { started: 0, succeeded: 0, failed: 0, retries: 0, canceled: 0 };
  readonly ok = new Histogram();
  readonly error = new Histogram();

  snapshot(): EffectMetrics {
    return { ...this.counts, attemptMs: { ok: this.ok.snapshot(), error: this.error.snapshot() } };
  }
}

type Counter = 'steps' | 'eventsApplied' | 'eventsDropped' | 'stepFailures' | 'timersFired' | (typeof EFFECT_COUNTERS)[EffectCounter];

/** In-memory counters of one runtime, read by rt.metrics() (and mapped to Prometheus by the server). */
export class Metrics {
  readonly #counters: Record<Counter, number> = {
    steps: 0,
    eventsApplied: 0,
    eventsDropped: 0,
    stepFailures: 0,
    effectsStarted: 0,
    effectsSucceeded: 0,
    effectsFailed: 0,
    effectRetries: 0,
    effectsCanceledInFlight: 0,
    timersFired: 0,
  };
  readonly #timerLateness = new Histogram();
  readonly #stepTransaction = new Histogram();
  readonly #services = new Map<string, ServiceMetrics>();
  readonly #lag = { count: 0, sum: 0, max: 0 };
  readonly #lagSamples: number[] = [];

  /**
   * Counts what a step transaction did, once it committed at `committedAt` (epoch ms, the runtime's
   * clock); `elapsedMs` is its wall time (performance.now(), which a manual clock does not move).
   */
  committed(work: AfterCommit, committedAt: number, elapsedMs?: number): void {
    // Timers are late by the time from their due time to this commit, when their effect became
    // visible, not to the clock the step read before its claim.
    this.#counters.stepFailures += work.failures;
    if (elapsedMs !== undefined && work.stepped.length > 0) this.#stepTransaction.observe(elapsedMs);
    for (const outcome of work.stepped) {
      this.#counters.steps += 1;
      this.#counters.eventsApplied += outcome.applied.length;
      this.#counters.eventsDropped += outcome.dropped;
      for (const due of outcome.timersDue) this.timerFired(committedAt - due);
      for (const since of outcome.appliedSince) this.eventApplied(committedAt - since);
    }
  }

  /** One of `service`'s effects started, succeeded, failed, was retried or cancelled. */
  effect(service: string, what: EffectCounter): void {
    this.#service(service).counts[what] += 1;
    this.#counters[EFFECT_COUNTERS[what]] += 1;
  }

  /** An attempt of `service` ended after `ms` milliseconds of wall time, returning or throwing. */
  attempt(service: string, ok: boolean, ms: number): void {
    const metrics = this.#service(service);
    (ok ? metrics.ok : metrics.error).observe(ms);
  }

  timerFired(latenessMs: number): void {
    this.#counters.timersFired += 1;
    this.#timerLateness.observe(latenessMs);
  }

  /** An event became applicable (sent, or its timer fell due) `ms` milliseconds before its step committed. */
  eventApplied(ms: number): void {
    const lag = this.#lag;
    this.#lagSamples[lag.count % RESERVOIR] = ms;
    lag.count += 1;
    lag.sum += ms;
    lag.max = Math.max(lag.max, ms);
  }

  snapshot(): Omit<RuntimeMetrics, 'subscriptions'> {
    return {
      ...this.#counters,
      timerLatenessMs: this.#timerLateness.snapshot(),
      stepTransactionMs: this.#stepTransaction.snapshot(),
      effects: Object.fromEntries([...this.#services].map(([name, metrics]) => [name, metrics.snapshot()])),
      eventLagMs: { ...this.#lag, ...percentiles(this.#lagSamples) },
    };
  }

  #service(name: string): ServiceMetrics {
    let metrics = this.#services.get(name);
    if (!metrics) this.#services.set(name, (metrics = new ServiceMetrics()));
    return metrics;
  }
}

function percentiles(samples: number[]): Pick<LatencySummary, 'p50' | 'p99'> {
  if (samples.length === 0) return { p50: 0, p99: 0 };
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { p50: at(0.5), p99: at(0.99) };
}

import type { AfterCommit } from './apply.js';
import type { LatencySummary, RuntimeMetrics } from './types.js';

/** Recent samples kept for percentiles; older ones are overwritten. */
const RESERVOIR = 8192;

/** In-memory counters of one runtime, read by rt.metrics() and, later, the Prometheus endpoint. */
export class Metrics {
  readonly #counters: Omit<RuntimeMetrics, 'subscriptions'> = {
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
    timerLatenessMs: { count: 0, sum: 0, max: 0 },
    eventLagMs: { count: 0, sum: 0, max: 0, p50: 0, p99: 0 },
  };
  readonly #lagSamples: number[] = [];

  inc(name: Exclude<keyof RuntimeMetrics, 'timerLatenessMs' | 'eventLagMs' | 'subscriptions'>, by = 1): void {
    this.#counters[name] += by;
  }

  /** Counts what a step transaction did, once it committed at `committedAt` (epoch ms). */
  committed(work: AfterCommit, committedAt: number): void {
    this.#counters.stepFailures += work.failures;
    for (const outcome of work.stepped) {
      this.#counters.steps += 1;
      this.#counters.eventsApplied += outcome.applied.length;
      this.#counters.eventsDropped += outcome.dropped;
      for (const ms of outcome.timerLateness) this.timerFired(ms);
      for (const since of outcome.appliedSince) this.eventApplied(committedAt - since);
    }
  }

  timerFired(latenessMs: number): void {
    this.#counters.timersFired += 1;
    const lateness = this.#counters.timerLatenessMs;
    lateness.count += 1;
    lateness.sum += latenessMs;
    lateness.max = Math.max(lateness.max, latenessMs);
  }

  /** An event became applicable (sent, or its timer fell due) `ms` milliseconds before its step committed. */
  eventApplied(ms: number): void {
    const lag = this.#counters.eventLagMs;
    this.#lagSamples[lag.count % RESERVOIR] = ms;
    lag.count += 1;
    lag.sum += ms;
    lag.max = Math.max(lag.max, ms);
  }

  snapshot(): Omit<RuntimeMetrics, 'subscriptions'> {
    return {
      ...this.#counters,
      timerLatenessMs: { ...this.#counters.timerLatenessMs },
      eventLagMs: { ...this.#counters.eventLagMs, ...percentiles(this.#lagSamples) },
    };
  }
}

function percentiles(samples: number[]): Pick<LatencySummary, 'p50' | 'p99'> {
  if (samples.length === 0) return { p50: 0, p99: 0 };
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { p50: at(0.5), p99: at(0.99) };
}

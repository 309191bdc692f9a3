import type { RuntimeMetrics } from './types.js';

/** In-memory counters of one runtime, read by rt.metrics() and, later, the Prometheus endpoint. */
export class Metrics {
  readonly #counters: RuntimeMetrics = {
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
  };

  inc(name: Exclude<keyof RuntimeMetrics, 'timerLatenessMs'>, by = 1): void {
    this.#counters[name] += by;
  }

  timerFired(latenessMs: number): void {
    this.#counters.timersFired += 1;
    const lateness = this.#counters.timerLatenessMs;
    lateness.count += 1;
    lateness.sum += latenessMs;
    lateness.max = Math.max(lateness.max, latenessMs);
  }

  snapshot(): RuntimeMetrics {
    return { ...this.#counters, timerLatenessMs: { ...this.#counters.timerLatenessMs } };
  }
}

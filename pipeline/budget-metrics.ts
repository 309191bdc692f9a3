/**
 * The budgets' numbers in one process, plain, as the engine keeps its own (the server maps them to
 * Prometheus at each scrape): how long calls waited on each budget, the pauses this process
 * recorded after a provider's 429, and the uploads refused by the rate limit.
 */

/** Bucket bounds of the wait histograms, milliseconds: from no wait to a window of a minute and more. */
export const WAIT_BOUNDS_MS: readonly number[] = Object.freeze([0, 5, 25, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 120_000]);

/** A histogram as the server's metrics read it (the shape of the engine's HistogramSnapshot). */
export interface WaitHistogram {
  bounds: readonly number[];
  /** Cumulative counts per bound. */
  counts: number[];
  count: number;
  sum: number;
}

export interface BudgetMetrics {
  /** Waits by provider role (`embedder`, `parser`) and budget (`concurrency`, `rate`, `pause`), milliseconds. */
  waitMs: { provider: string; budget: string; histogram: WaitHistogram }[];
  /** 429s from a provider that paused it for every worker, by provider role. */
  pauses: Record<string, number>;
  /** Uploads answered 429 by the per-tenant rate limit. */
  uploadsRateLimited: number;
}

class Waits {
  readonly #counts = new Array<number>(WAIT_BOUNDS_MS.length).fill(0);
  #count = 0;
  #sum = 0;

  observe(ms: number): void {
    const bucket = WAIT_BOUNDS_MS.findIndex((bound) => ms <= bound);
    if (bucket >= 0) this.#counts[bucket]! += 1;
    this.#count += 1;
    this.#sum += ms;
  }

  snapshot(): WaitHistogram {
    let running = 0;
    return { bounds: WAIT_BOUNDS_MS, counts: this.#counts.map((n) => (running += n)), count: this.#count, sum: this.#sum };
  }
}

export class BudgetCounters {
  readonly #waits = new Map<string, { provider: string; budget: string; waits: Waits }>();
  readonly #pauses: Record<string, number> = {};
  #uploadsRateLimited = 0;

  waited(provider: string, budget: 'concurrency' | 'rate' | 'pause', ms: number): void {
    const key = `${provider}\u0000${budget}`;
    let entry = this.#waits.get(key);
    if (!entry) this.#waits.set(key, (entry = { provider, budget, waits: new Waits() }));
    entry.waits.observe(ms);
  }

  paused(provider: string): void {
    this.#pauses[provider] = (this.#pauses[provider] ?? 0) + 1;
  }

  uploadRefused(): void {
    this.#uploadsRateLimited += 1;
  }

  snapshot(): BudgetMetrics {
    return {
      waitMs: [...this.#waits.values()].map(({ provider, budget, waits }) => ({ provider, budget, histogram: waits.snapshot() })),
      pauses: { ...this.#pauses },
      uploadsRateLimited: this.#uploadsRateLimited,
    };
  }
}

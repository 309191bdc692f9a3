/** What every contender runs, so the figures compare like with like. */
export interface Workload {
  url: string;
  /** Pool size given to the contender (and its concurrency). */
  connections: number;
  /** Chains run at once for throughput. */
  chains: number;
  /** Steps (jobs) per chain. */
  steps: number;
  /** Chains run one at a time, on an idle system, for latency. */
  latencyChains: number;
}

export interface Result {
  /** Persisted steps (or jobs) per second under load. */
  stepsPerSec: number;
  /** Event (or job) committed -> applied (or started), idle system, milliseconds. */
  p50Ms: number | null;
  p99Ms: number | null;
  note?: string;
}

/** Chains run before measuring, so the JIT and the connection pools are warm for every contender. */
export const WARMUP_CHAINS = 20;

export function percentile(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

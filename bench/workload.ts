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
  /** Every latency sample of the idle phase, milliseconds, for the distribution plot. */
  samples?: number[];
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

export interface ChainPayload {
  chain: number;
  /** 1 for the first job of the chain. */
  n: number;
  /** Date.now() just before the job was enqueued. */
  at: number;
  phase: 'warmup' | 'latency' | 'load';
}

/**
 * The chain workload for a job queue: each job enqueues the next until the chain has `steps` jobs.
 * The peer wires `handle` as its job body and gives `enqueue`; `measure` runs the phases.
 */
export class JobChains {
  readonly lags: number[] = [];
  #remaining = 0;
  #finish: (() => void) | undefined;

  constructor(
    private readonly w: Workload,
    private readonly enqueue: (payload: ChainPayload) => Promise<unknown>,
  ) {}

  /** The job body: records the latency, enqueues the next job or ends the chain. */
  async handle(payload: ChainPayload): Promise<void> {
    if (payload.phase === 'latency') this.lags.push(Date.now() - payload.at);
    if (payload.n < this.w.steps) await this.enqueue({ ...payload, n: payload.n + 1, at: Date.now() });
    else if (--this.#remaining === 0) this.#finish?.();
  }

  async measure(): Promise<Result> {
    for (let i = 0; i < WARMUP_CHAINS; i++) await this.#run(1, 'warmup');
    for (let i = 0; i < this.w.latencyChains; i++) await this.#run(1, 'latency');
    const started = performance.now();
    await this.#run(this.w.chains, 'load');
    const seconds = (performance.now() - started) / 1000;
    return { stepsPerSec: (this.w.chains * this.w.steps) / seconds, p50Ms: percentile(this.lags, 0.5), p99Ms: percentile(this.lags, 0.99), samples: this.lags };
  }

  #run(count: number, phase: ChainPayload['phase']): Promise<void> {
    return new Promise((resolve) => {
      this.#remaining = count;
      this.#finish = resolve;
      for (let chain = 0; chain < count; chain++) void this.enqueue({ chain, n: 1, at: Date.now(), phase });
    });
  }
}

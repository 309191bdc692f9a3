import { run, type Runner } from 'graphile-worker';
import { percentile, WARMUP_CHAINS, type Result, type Workload } from './workload.js';

interface StepPayload {
  chain: number;
  n: number;
  /** Date.now() just before the job was added. */
  at: number;
  phase: 'warmup' | 'latency' | 'load';
}

/** graphile-worker 0.17: a chain of `steps` jobs, each job adding the next. */
export async function runGraphile(w: Workload, schema: string): Promise<Result> {
  const lags: number[] = [];
  let finish: (() => void) | undefined;
  let remaining = 0;
  const runner: Runner = await run({
    connectionString: w.url,
    schema,
    concurrency: w.connections,
    // One more than the concurrency: graphile-worker holds a pool client for LISTEN (docket's
    // listener is outside its pool), and with no spare the first addJob inside a task deadlocks.
    maxPoolSize: w.connections + 1,
    pollInterval: 2_000,
    noHandleSignals: true,
    logger: silentLogger(),
    taskList: {
      step: async (raw, helpers) => {
        const payload = raw as StepPayload;
        if (payload.phase === 'latency') lags.push(Date.now() - payload.at);
        if (payload.n < w.steps) {
          await helpers.addJob('step', { ...payload, n: payload.n + 1, at: Date.now() });
        } else if (--remaining === 0) {
          finish?.();
        }
      },
    },
  });
  try {
    const chains = (count: number, phase: StepPayload['phase']) =>
      new Promise<void>((resolve) => {
        remaining = count;
        finish = resolve;
        for (let chain = 0; chain < count; chain++) void runner.addJob('step', { chain, n: 1, at: Date.now(), phase });
      });
    for (let i = 0; i < WARMUP_CHAINS; i++) await chains(1, 'warmup');
    for (let i = 0; i < w.latencyChains; i++) await chains(1, 'latency');
    const started = performance.now();
    await chains(w.chains, 'load');
    const seconds = (performance.now() - started) / 1000;
    return { stepsPerSec: (w.chains * w.steps) / seconds, p50Ms: percentile(lags, 0.5), p99Ms: percentile(lags, 0.99) };
  } finally {
    await runner.stop();
  }
}

function silentLogger() {
  // graphile-worker's Logger takes a factory of log functions.
  return new (class {
    scope() {
      return this;
    }
    error() {}
    warn() {}
    info() {}
    debug() {}
  })() as never;
}

import PgBoss from 'pg-boss';
import { percentile, type Result, type Workload } from './workload.js';

interface StepPayload {
  chain: number;
  n: number;
  at: number;
  phase: 'latency' | 'load';
}

/**
 * pg-boss 10: a chain of `steps` jobs, each job sending the next. Concurrency is `connections`
 * workers of batch size 1 (v10 removed teamSize); they poll every 0.5 s, pg-boss's minimum, as
 * v10 has no LISTEN/NOTIFY.
 */
export async function runPgBoss(w: Workload, schema: string): Promise<Result> {
  const boss = new PgBoss({ connectionString: w.url, schema, max: w.connections, supervise: false, schedule: false, migrate: true });
  boss.on('error', () => {});
  await boss.start();
  const lags: number[] = [];
  let finish: (() => void) | undefined;
  let remaining = 0;
  try {
    await boss.createQueue('step');
    for (let i = 0; i < w.connections; i++) {
      await boss.work<StepPayload>('step', { batchSize: 1, pollingIntervalSeconds: 0.5 }, async ([job]) => {
        const payload = job!.data;
        if (payload.phase === 'latency') lags.push(Date.now() - payload.at);
        if (payload.n < w.steps) {
          await boss.send('step', { ...payload, n: payload.n + 1, at: Date.now() });
        } else if (--remaining === 0) {
          finish?.();
        }
      });
    }
    const chains = (count: number, phase: StepPayload['phase']) =>
      new Promise<void>((resolve) => {
        remaining = count;
        finish = resolve;
        for (let chain = 0; chain < count; chain++) void boss.send('step', { chain, n: 1, at: Date.now(), phase });
      });
    for (let i = 0; i < w.latencyChains; i++) await chains(1, 'latency');
    const started = performance.now();
    await chains(w.chains, 'load');
    const seconds = (performance.now() - started) / 1000;
    return { stepsPerSec: (w.chains * w.steps) / seconds, p50Ms: percentile(lags, 0.5), p99Ms: percentile(lags, 0.99) };
  } finally {
    await boss.stop({ graceful: false, wait: true });
  }
}

import PgBoss from 'pg-boss';
import { percentile, WARMUP_CHAINS, type Result, type Workload } from './workload.js';

/** Jobs a pg-boss worker fetches at once: with 1 its throughput is far lower (10 steps/s at 1 connection here). */
const BATCH = 20;

interface StepPayload {
  chain: number;
  n: number;
  at: number;
  phase: 'warmup' | 'latency' | 'load';
}

/**
 * pg-boss 10: a chain of `steps` jobs, each job sending the next. Concurrency is `connections`
 * workers fetching up to BATCH jobs at a time (v10 removed teamSize). v10 has no LISTEN/NOTIFY and a worker sleeps its
 * polling interval (0.5 s at least) after every fetch, so each send also calls notifyWorker() on
 * this process's workers: pg-boss's own in-process wake-up, its best case on one process.
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
    const workers: string[] = [];
    const send = async (payload: StepPayload) => {
      await boss.send('step', payload);
      for (const id of workers) boss.notifyWorker(id);
    };
    for (let i = 0; i < w.connections; i++) {
      const id = await boss.work<StepPayload>('step', { batchSize: BATCH, pollingIntervalSeconds: 0.5 }, async (jobs) => {
        for (const job of jobs) {
          const payload = job.data;
          if (payload.phase === 'latency') lags.push(Date.now() - payload.at);
          if (payload.n < w.steps) {
            await send({ ...payload, n: payload.n + 1, at: Date.now() });
          } else if (--remaining === 0) {
            finish?.();
          }
        }
      });
      workers.push(id);
    }
    const chains = (count: number, phase: StepPayload['phase']) =>
      new Promise<void>((resolve) => {
        remaining = count;
        finish = resolve;
        for (let chain = 0; chain < count; chain++) void send({ chain, n: 1, at: Date.now(), phase });
      });
    for (let i = 0; i < WARMUP_CHAINS; i++) await chains(1, 'warmup');
    for (let i = 0; i < w.latencyChains; i++) await chains(1, 'latency');
    const started = performance.now();
    await chains(w.chains, 'load');
    const seconds = (performance.now() - started) / 1000;
    return { stepsPerSec: (w.chains * w.steps) / seconds, p50Ms: percentile(lags, 0.5), p99Ms: percentile(lags, 0.99) };
  } finally {
    await boss.stop({ graceful: false, wait: true });
  }
}

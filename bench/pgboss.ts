import PgBoss from 'pg-boss';
import { JobChains, type ChainPayload, type Result, type Workload } from './workload.js';

/** Jobs a pg-boss worker fetches at once: with 1 its throughput is far lower (10 steps/s at 1 connection here). */
const BATCH = 20;

/**
 * pg-boss 10: a chain of `steps` jobs, each job sending the next. Concurrency is `connections`
 * workers fetching up to BATCH jobs at a time (v10 removed teamSize). v10 has no LISTEN/NOTIFY and
 * a worker sleeps its polling interval (0.5 s at least) after every fetch, so each send also calls
 * notifyWorker() on this process's workers: pg-boss's own in-process wake-up, its best case on one
 * process.
 */
export async function runPgBoss(w: Workload, schema: string): Promise<Result> {
  const boss = new PgBoss({ connectionString: w.url, schema, max: w.connections, supervise: false, schedule: false, migrate: true });
  boss.on('error', () => {});
  await boss.start();
  try {
    await boss.createQueue('step');
    const workers: string[] = [];
    const chains = new JobChains(w, async (payload) => {
      await boss.send('step', payload);
      for (const id of workers) boss.notifyWorker(id);
    });
    for (let i = 0; i < w.connections; i++) {
      workers.push(
        await boss.work<ChainPayload>('step', { batchSize: BATCH, pollingIntervalSeconds: 0.5 }, async (jobs) => {
          for (const job of jobs) await chains.handle(job.data);
        }),
      );
    }
    return await chains.measure();
  } finally {
    await boss.stop({ graceful: false, wait: true });
  }
}

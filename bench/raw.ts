import pg from 'pg';
import type { Result, Workload } from './workload.js';

/**
 * The ceiling: `connections` clients each committing single-row UPDATEs (autocommit, one row per
 * client so they never wait on each other's locks) for `seconds`.
 */
export async function runRaw(w: Workload, schema: string, seconds = 3): Promise<Result> {
  const setupClient = new pg.Client({ connectionString: w.url });
  await setupClient.connect();
  await setupClient.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  await setupClient.query(`CREATE TABLE "${schema}".counters (id int PRIMARY KEY, v bigint NOT NULL DEFAULT 0)`);
  await setupClient.query(`INSERT INTO "${schema}".counters (id) SELECT generate_series(1, $1)`, [w.connections]);
  const clients = await Promise.all(
    Array.from({ length: w.connections }, async () => {
      const client = new pg.Client({ connectionString: w.url });
      await client.connect();
      return client;
    }),
  );
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  const counts = await Promise.all(
    clients.map(async (client, i) => {
      let n = 0;
      while (performance.now() < deadline) {
        await client.query(`UPDATE "${schema}".counters SET v = v + 1 WHERE id = $1`, [i + 1]);
        n++;
      }
      return n;
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  await Promise.all(clients.map((c) => c.end()));
  await setupClient.end();
  return { stepsPerSec: counts.reduce((a, b) => a + b, 0) / elapsed, p50Ms: null, p99Ms: null };
}

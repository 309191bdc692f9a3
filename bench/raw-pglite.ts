import { PGlite } from '@electric-sql/pglite';
import type { Result } from './workload.js';

/** The ceiling on PGlite: single-row UPDATEs, each its own transaction, on its one connection. */
export async function runRawPglite(dir: string, seconds = 3): Promise<Result> {
  const db = await PGlite.create(dir);
  try {
    await db.exec('CREATE TABLE counters (id int PRIMARY KEY, v bigint NOT NULL DEFAULT 0); INSERT INTO counters (id) VALUES (1)');
    const deadline = performance.now() + seconds * 1000;
    const started = performance.now();
    let n = 0;
    while (performance.now() < deadline) {
      await db.query('UPDATE counters SET v = v + 1 WHERE id = $1', [1]);
      n++;
    }
    return { stepsPerSec: n / ((performance.now() - started) / 1000), p50Ms: null, p99Ms: null };
  } finally {
    await db.close();
  }
}

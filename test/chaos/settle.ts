import type { Sql } from './sql.js';
import type { Timeline } from './timeline.js';

export interface Settled {
  /** `settled`: every job terminal; `stalled`: no step for `stallMs`; `deadline`: out of time. */
  outcome: 'settled' | 'stalled' | 'deadline';
  ms: number;
  byStage: Record<string, number>;
}

const TERMINAL = ['complete', 'failed', 'canceled'];

/**
 * Waits until every accepted job is terminal. Gives up at `timeoutMs`, or earlier when the journal
 * has not grown for `stallMs` (nothing is being applied, so waiting longer cannot help).
 */
export async function settle(sql: Sql, jobIds: string[], options: { timeoutMs: number; stallMs: number; timeline: Timeline }): Promise<Settled> {
  const start = Date.now();
  let journal = -1;
  let progressAt = start;
  let byStage: Record<string, number> = {};
  for (;;) {
    const state = await snapshot(sql, jobIds).catch(() => null);
    if (state) {
      byStage = state.byStage;
      const open = jobIds.length - TERMINAL.reduce((sum, stage) => sum + (byStage[stage] ?? 0), 0);
      if (open === 0) return done('settled');
      if (state.journal !== journal) [journal, progressAt] = [state.journal, Date.now()];
      if (Date.now() - progressAt > options.stallMs) return done('stalled');
    }
    if (Date.now() - start > options.timeoutMs) return done('deadline');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }

  function done(outcome: Settled['outcome']): Settled {
    options.timeline.add('settle', `${outcome} after ${Date.now() - start} ms: ${JSON.stringify(byStage)}`);
    return { outcome, ms: Date.now() - start, byStage };
  }
}

async function snapshot(sql: Sql, jobIds: string[]): Promise<{ byStage: Record<string, number>; journal: number }> {
  const stages = await sql.rows<{ stage: string; n: number }>(
    'SELECT stage, count(*)::int AS n FROM upload_pipeline.upload_jobs WHERE job_id = ANY($1::uuid[]) GROUP BY stage',
    [jobIds],
  );
  const journal = await sql.count('SELECT count(*)::int AS n FROM docket.journal');
  return { byStage: Object.fromEntries(stages.map((s) => [s.stage, s.n])), journal };
}

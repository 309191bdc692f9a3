import type { Queryable } from '../index.js';
import { UPLOAD_STAGES } from '../machines/upload.js';
import { PIPELINE_SCHEMA } from './store.js';

/**
 * Jobs by stage, for the metrics endpoint (every tenant's) and GET /v1/stats (one tenant's). Read
 * each time: the projection is updated in each step's transaction, so the counts are exact, and
 * upload_jobs_stage_idx makes the all-tenants count an index-only scan, not a read of the rows.
 * Every stage is listed, with 0 when no job is in it, so a stage's series never vanishes from a
 * dashboard.
 */
export async function jobsByStage(db: Queryable, tenant?: string): Promise<Map<string, number>> {
  const { rows } =
    tenant === undefined
      ? await db.query<{ stage: string; jobs: number }>(`SELECT stage, count(*)::int AS jobs FROM "${PIPELINE_SCHEMA}".upload_jobs GROUP BY stage`)
      : await db.query<{ stage: string; jobs: number }>(`SELECT stage, count(*)::int AS jobs FROM "${PIPELINE_SCHEMA}".upload_jobs WHERE tenant = $1 GROUP BY stage`, [tenant]);
  const counts = new Map<string, number>(UPLOAD_STAGES.map((stage) => [stage, 0]));
  for (const row of rows) counts.set(row.stage, row.jobs);
  return counts;
}

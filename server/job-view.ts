import { stageOf } from '../machines/upload.js';
import type { Pipeline } from '../pipeline/index.js';
import { jobView } from '../pipeline/job-view.js';

// The view lives in the pipeline, which sends it to client callbacks too.
export { jobView } from '../pipeline/job-view.js';

/**
 * The job with its stage history, `[{ stage, at, event }]`, or null when there is no such job (or,
 * given `tenant`, none of that tenant's: the CLI, an operator's tool, sees every tenant's).
 */
export async function jobWithHistory(pipeline: Pipeline, id: string, tenant?: string) {
  const job = tenant === undefined ? await pipeline.store.job(id) : await pipeline.store.jobFor(tenant, id);
  if (!job) return null;
  const history = (await pipeline.runtime.history(id)).map((entry) => ({ stage: stageOf(entry.to), at: entry.at.toISOString(), event: entry.event.type }));
  return { ...jobView(job), history };
}

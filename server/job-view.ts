import { stageOf } from '../machines/upload.js';
import type { Pipeline } from '../pipeline/index.js';
import type { JobRow } from '../pipeline/store.js';

/** A job as the API and the CLI show it. */
export function jobView(job: JobRow) {
  return {
    job_id: job.job_id,
    stage: job.stage,
    status: job.status,
    filename: job.filename,
    bytes: Number(job.bytes),
    sha256: job.sha256,
    media_type: job.media_type,
    metadata: job.metadata,
    attempts: job.attempts,
    chunks: job.chunks,
    embedded: job.embedded,
    warnings: job.warnings,
    error: job.error,
    created_at: new Date(job.created_at).toISOString(),
    updated_at: new Date(job.updated_at).toISOString(),
    links: { self: `/v1/jobs/${job.job_id}`, chunks: `/v1/jobs/${job.job_id}/chunks` },
  };
}

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

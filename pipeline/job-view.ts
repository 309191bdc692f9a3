import type { JobRow } from './store.js';

/** A job as the API, the CLI and client callbacks show it. */
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

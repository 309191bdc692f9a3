import type { StepHook } from '../index.js';
import { stageOf, type UploadContext } from '../machines/upload.js';
import { DEFAULT_TENANT, PIPELINE_SCHEMA } from './store.js';

/**
 * Keeps upload_pipeline.upload_jobs true: runs in every step's transaction of the upload machine,
 * so the projection never disagrees with the snapshot. `attempts` adds up the failed attempts of the
 * services whose results the steps applied, as the step record reports them: the engine's tables
 * stay the engine's.
 */
export function uploadProjection(): StepHook {
  const sql = `
    INSERT INTO "${PIPELINE_SCHEMA}".upload_jobs AS j (job_id, stage, status, filename, bytes, sha256, media_type, metadata,
      error, warnings, attempts, chunks, embedded, created_at, updated_at, parse_job_id, tenant)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $15, $11, $12, $13, $13, $14, $16)
    ON CONFLICT (job_id) DO UPDATE SET stage = excluded.stage, status = excluded.status, media_type = excluded.media_type,
      parse_job_id = excluded.parse_job_id,
      error = excluded.error, warnings = excluded.warnings, attempts = j.attempts + excluded.attempts, chunks = excluded.chunks,
      embedded = excluded.embedded, updated_at = excluded.updated_at`;
  return async (tx, step) => {
    const context = step.current.context as UploadContext;
    await tx.query(sql, [
      step.instanceId,
      stageOf(step.current.value),
      step.current.status,
      context.filename,
      context.bytes,
      context.sha256,
      context.mediaType ?? null,
      JSON.stringify(context.metadata ?? {}),
      context.error ? JSON.stringify(context.error) : null,
      JSON.stringify(context.warnings),
      context.chunks,
      context.embedded,
      step.at,
      context.parse.remoteJobId,
      step.results.reduce((failed, result) => failed + Math.max(result.attempts - 1, 0), 0),
      context.tenant ?? DEFAULT_TENANT,
    ]);
  };
}

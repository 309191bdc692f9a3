import { Router } from 'express';
import { stageOf } from '../../machines/upload.js';
import { HttpError } from '../errors.js';
import type { Pipeline } from '../pipeline/index.js';
import type { JobRow } from '../pipeline/store.js';
import { cursorParam, jobIdParam, listQuery, parseInput as parse } from '../schemas.js';

function view(job: JobRow) {
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

const encodeCursor = (job: JobRow) => Buffer.from(`${new Date(job.created_at).toISOString()}|${job.job_id}`).toString('base64url');

/** GET /v1/jobs, /v1/jobs/:id (with its stage history) and /v1/jobs/:id/chunks. */
export function jobRoutes(pipeline: Pipeline): Router {
  const router = Router();

  router.get('/v1/jobs', async (req, res) => {
    const query = parse(listQuery, req.query, 'INVALID_QUERY');
    const cursor = query.cursor === undefined ? undefined : parse(cursorParam, query.cursor, 'INVALID_CURSOR');
    const jobs = await pipeline.store.jobs({ stage: query.stage, limit: query.limit, cursor });
    res.json({ jobs: jobs.map(view), next_cursor: jobs.length === query.limit ? encodeCursor(jobs.at(-1)!) : null });
  });

  router.get('/v1/jobs/:id', async (req, res) => {
    const { id } = parse(jobIdParam, req.params, 'INVALID_JOB_ID');
    const job = await pipeline.store.job(id);
    if (!job) throw new HttpError(404, 'JOB_NOT_FOUND', `no job ${id}`);
    const history = (await pipeline.runtime.history(id)).map((entry) => ({ stage: stageOf(entry.to), at: entry.at.toISOString(), event: entry.event.type }));
    res.json({ ...view(job), history });
  });

  router.get('/v1/jobs/:id/chunks', async (req, res) => {
    const { id } = parse(jobIdParam, req.params, 'INVALID_JOB_ID');
    if (!(await pipeline.store.job(id))) throw new HttpError(404, 'JOB_NOT_FOUND', `no job ${id}`);
    const chunks = await pipeline.store.chunks(id);
    res.json({ chunks: chunks.map(({ index, text, tokens, headers }) => ({ index, text, tokens, headers })) });
  });

  return router;
}


import { Router } from 'express';
import { tenantOf } from '../auth.js';
import { HttpError } from '../errors.js';
import { jobView, jobWithHistory } from '../job-view.js';
import type { Pipeline } from '../../pipeline/index.js';
import type { JobRow } from '../../pipeline/store.js';
import { cursorParam, jobIdParam, listQuery, parseInput as parse } from '../schemas.js';

const encodeCursor = (job: JobRow) => Buffer.from(`${new Date(job.created_at).toISOString()}|${job.job_id}`).toString('base64url');

/** GET /v1/jobs, /v1/jobs/:id (with its stage history) and /v1/jobs/:id/chunks. */
export function jobRoutes(pipeline: Pipeline): Router {
  const router = Router();

  router.get('/v1/jobs', async (req, res) => {
    const query = parse(listQuery, req.query, 'INVALID_QUERY');
    const cursor = query.cursor === undefined ? undefined : parse(cursorParam, query.cursor, 'INVALID_CURSOR');
    const jobs = await pipeline.store.jobs({ tenant: tenantOf(res), stage: query.stage, limit: query.limit, cursor });
    res.json({ jobs: jobs.map(jobView), next_cursor: jobs.length === query.limit ? encodeCursor(jobs.at(-1)!) : null });
  });

  router.get('/v1/jobs/:id', async (req, res) => {
    const { id } = parse(jobIdParam, req.params, 'INVALID_JOB_ID');
    const job = await jobWithHistory(pipeline, id, tenantOf(res));
    if (!job) throw new HttpError(404, 'JOB_NOT_FOUND', `no job ${id}`);
    res.json(job);
  });

  router.get('/v1/jobs/:id/chunks', async (req, res) => {
    const { id } = parse(jobIdParam, req.params, 'INVALID_JOB_ID');
    if (!(await pipeline.store.jobFor(tenantOf(res), id))) throw new HttpError(404, 'JOB_NOT_FOUND', `no job ${id}`);
    const chunks = await pipeline.store.chunks(id);
    res.json({ chunks: chunks.map(({ index, text, tokens, headers }) => ({ index, text, tokens, headers })) });
  });

  return router;
}


import { Router, type Response } from 'express';
import { tenantOf } from '../auth.js';
import { HttpError } from '../errors.js';
import { cancelJob, deleteJob, JobNotFoundError, JobStateError, retryJob } from '../../pipeline/control.js';
import type { Pipeline } from '../../pipeline/index.js';
import { jobIdParam, parseInput as parse } from '../schemas.js';

/** The pipeline's control errors as HTTP answers: 404 for no job, 409 with the reason for a stage that forbids it. */
async function answering<T>(action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof JobNotFoundError) throw new HttpError(404, 'JOB_NOT_FOUND', error.message);
    if (error instanceof JobStateError) throw new HttpError(409, error.code, error.message);
    throw error;
  }
}

/** The job's id when it belongs to the request's tenant; another tenant's job is 404, as a missing one is. */
async function ownJob(pipeline: Pipeline, res: Response, id: string): Promise<string> {
  if (!(await pipeline.store.jobFor(tenantOf(res), id))) throw new HttpError(404, 'JOB_NOT_FOUND', `no job ${id}`);
  return id;
}

const links = (id: string) => ({ self: `/v1/jobs/${id}`, events: `/v1/jobs/${id}/events` });

/** POST /v1/jobs/:id/cancel, POST /v1/jobs/:id/retry, DELETE /v1/jobs/:id. */
export function controlRoutes(pipeline: Pipeline): Router {
  const router = Router();

  router.post('/v1/jobs/:id/cancel', async (req, res) => {
    const { id } = parse(jobIdParam, req.params, 'INVALID_JOB_ID');
    const { stage } = await answering(async () => cancelJob(pipeline, await ownJob(pipeline, res, id)));
    res.status(202).json({ job_id: id, stage, requested: 'cancel', links: links(id) });
  });

  router.post('/v1/jobs/:id/retry', async (req, res) => {
    const { id } = parse(jobIdParam, req.params, 'INVALID_JOB_ID');
    const { stage, from } = await answering(async () => retryJob(pipeline, await ownJob(pipeline, res, id)));
    res.status(202).json({ job_id: id, stage, requested: 'retry', retry_from: from, links: links(id) });
  });

  router.delete('/v1/jobs/:id', async (req, res) => {
    const { id } = parse(jobIdParam, req.params, 'INVALID_JOB_ID');
    const { stage, bytesDeleted } = await answering(async () => deleteJob(pipeline, await ownJob(pipeline, res, id)));
    res.json({ job_id: id, deleted: true, stage, bytes_deleted: bytesDeleted });
  });

  return router;
}

import express, { Router } from 'express';
import { HttpError } from '../errors.js';
import type { Pipeline } from '../../pipeline/index.js';
import { readLlamaParseWebhook, WEBHOOK_EXPECTED, WEBHOOK_LIMITS, WebhookError, type LlamaParseNotice } from '../../adapters/llamaparse/webhook.js';
import { parseInput, webhookQuery } from '../schemas.js';

const WHERE = 'posted to /webhooks/llamaparse?job_id=<docket job id>';

/**
 * POST /webhooks/llamaparse: LlamaParse says a parse changed. It only commits a PARSE_CALLBACK event
 * (the machine then checks the parse at once instead of at its next poll), so it answers fast. A
 * repeated delivery is a no-op, answered 200 all the same. Reading the body is the adapter's job;
 * this route maps it to a job and to HTTP.
 */
export function webhookRoutes(pipeline: Pipeline): Router {
  const router = Router();
  // Raw bytes: the adapter checks the nesting before it parses.
  router.post('/webhooks/llamaparse', express.raw({ type: 'application/json', limit: WEBHOOK_LIMITS.maxBytes }), async (req, res) => {
    const query = parseInput(webhookQuery, req.query, 'INVALID_QUERY');
    if (!Buffer.isBuffer(req.body)) throw new HttpError(400, 'INVALID_WEBHOOK', `the body is not JSON (send content-type application/json); ${WEBHOOK_EXPECTED} ${WHERE}`);
    const notice = read(req.body, req.headers['content-type']);
    const job = await jobOf(pipeline, notice, query.job_id);
    if (!job) throw new HttpError(404, 'JOB_NOT_FOUND', `no job for this callback (${query.job_id ?? (notice.kind === 'event' ? notice.remoteJobId : '')})`);
    const remoteJobId = notice.kind === 'event' ? notice.remoteJobId : (job.parse_job_id ?? '');
    const status = notice.kind === 'event' ? { status: notice.status } : {};
    const sent = await pipeline.runtime.send(job.job_id, { type: 'PARSE_CALLBACK', remoteJobId, ...status }, { dedupeKey: notice.dedupeKey });
    res.status(200).json({ received: true, job_id: job.job_id, ...(sent.accepted ? {} : { ignored: sent.reason }) });
  });
  return router;
}

function read(body: Buffer, contentType: string | undefined): LlamaParseNotice {
  try {
    return readLlamaParseWebhook(body, contentType);
  } catch (error) {
    if (!(error instanceof WebhookError)) throw error;
    throw new HttpError(error.code === 'UNSUPPORTED_CHARSET' ? 415 : 400, error.code, error.code === 'INVALID_WEBHOOK' && error.message.includes(WEBHOOK_EXPECTED) ? `${error.message} ${WHERE}` : error.message);
  }
}

/** The job a notice is about: named in our callback URL, or found by LlamaParse's job id. */
async function jobOf(pipeline: Pipeline, notice: LlamaParseNotice, jobId: string | undefined) {
  if (jobId) return pipeline.store.job(jobId);
  if (notice.kind === 'push') throw new HttpError(400, 'INVALID_WEBHOOK', `a v1 result push names no job: post it to /webhooks/llamaparse?job_id=<docket job id>`);
  return pipeline.store.jobByParseId(notice.remoteJobId);
}

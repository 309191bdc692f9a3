import express, { Router } from 'express';
import { HttpError } from '../errors.js';
import type { Pipeline } from '../../pipeline/index.js';
import type { JobRow } from '../../pipeline/store.js';
import { webhookTokenMatches } from '../../pipeline/webhook-tokens.js';
import {
  checkFresh,
  readLlamaParseWebhook,
  SIGNATURE_HEADER,
  verifyLlamaCloudSignature,
  WEBHOOK_EXPECTED,
  WEBHOOK_LIMITS,
  WebhookAuthError,
  WebhookError,
  type LlamaParseNotice,
} from '../../adapters/llamaparse/webhook.js';
import { parseInput, webhookQuery } from '../schemas.js';

const WHERE = 'posted to /webhooks/llamaparse?job_id=<docket job id>';
const PUSH_WITHOUT_JOB = 'a v1 result push names no job: post it to /webhooks/llamaparse?job_id=<docket job id>';
const ENDED = new Set(['complete', 'failed', 'canceled']);

/**
 * POST /webhooks/llamaparse: LlamaParse says a parse changed. It only commits a PARSE_CALLBACK event
 * (the machine then checks the parse at once instead of at its next poll), so it answers fast. A
 * repeated delivery is a no-op, answered 200 all the same. Reading the body and checking its
 * signature are the adapter's job; this route maps them to a job and to HTTP.
 *
 * Authenticity, before anything is written: with `signingSecret`, the body must carry LlamaCloud's
 * signature (LC-Signature) and, for an event, a timestamp within 5 minutes; without one, the URL
 * must carry the job's own token (`&token=`, made when the job was submitted to LlamaParse). Either
 * way, a webhook for a job that has ended is a replay. Each failure is 401 and changes nothing.
 */
export function webhookRoutes(pipeline: Pipeline, options: { signingSecret?: string; now?: () => number } = {}): Router {
  const router = Router();
  const now = options.now ?? Date.now;
  // Raw bytes: the signature is over them, and the adapter checks the nesting before it parses.
  router.post('/webhooks/llamaparse', express.raw({ type: 'application/json', limit: WEBHOOK_LIMITS.maxBytes }), async (req, res) => {
    const query = parseInput(webhookQuery, req.query, 'INVALID_QUERY');
    if (!Buffer.isBuffer(req.body)) throw new HttpError(400, 'INVALID_WEBHOOK', `the body is not JSON (send content-type application/json); ${WEBHOOK_EXPECTED} ${WHERE}`);
    const notice = read(req.body, req.headers['content-type']);
    let job: JobRow | null;
    if (options.signingSecret) {
      authentic(() => {
        verifyLlamaCloudSignature(req.body as Buffer, req.headers[SIGNATURE_HEADER], options.signingSecret!);
        checkFresh(notice, now());
      });
      job = await jobOf(pipeline, notice, query.job_id);
    } else {
      // The token names its job: without job_id and token there is nothing to check it against.
      if (!query.job_id && notice.kind === 'push') throw new HttpError(400, 'INVALID_WEBHOOK', PUSH_WITHOUT_JOB);
      job = query.job_id ? await pipeline.store.job(query.job_id) : null;
      if (!job || !webhookTokenMatches(query.token, job.webhook_token_sha256)) {
        throw new HttpError(401, 'WEBHOOK_TOKEN_INVALID', 'the callback URL\'s token is missing or wrong: post to the URL given to LlamaParse (job_id and token)');
      }
    }
    if (!job) throw new HttpError(404, 'JOB_NOT_FOUND', `no job for this callback (${query.job_id ?? (notice.kind === 'event' ? notice.remoteJobId : '')})`);
    if (ENDED.has(job.stage)) throw new HttpError(401, 'WEBHOOK_REPLAYED', `job ${job.job_id} has ended (${job.stage}); its callbacks are spent`);
    const remoteJobId = notice.kind === 'event' ? notice.remoteJobId : (job.parse_job_id ?? '');
    const status = notice.kind === 'event' ? { status: notice.status } : {};
    const sent = await pipeline.runtime.send(job.job_id, { type: 'PARSE_CALLBACK', remoteJobId, ...status }, { dedupeKey: notice.dedupeKey });
    res.status(200).json({ received: true, job_id: job.job_id, ...(sent.accepted ? {} : { ignored: sent.reason }) });
  });
  return router;
}

function authentic(check: () => void): void {
  try {
    check();
  } catch (error) {
    if (error instanceof WebhookAuthError) throw new HttpError(401, error.code, error.message);
    throw error;
  }
}

function read(body: Buffer, contentType: string | undefined): LlamaParseNotice {
  try {
    return readLlamaParseWebhook(body, contentType);
  } catch (error) {
    if (!(error instanceof WebhookError)) throw error;
    throw new HttpError(error.code === 'UNSUPPORTED_CHARSET' ? 415 : 400, error.code, error.code === 'INVALID_WEBHOOK' && error.message.includes(WEBHOOK_EXPECTED) ? `${error.message} ${WHERE}` : error.message);
  }
}

/** The job a signed notice is about: named in our callback URL, or found by LlamaParse's job id. */
async function jobOf(pipeline: Pipeline, notice: LlamaParseNotice, jobId: string | undefined) {
  if (jobId) return pipeline.store.job(jobId);
  if (notice.kind === 'push') throw new HttpError(400, 'INVALID_WEBHOOK', PUSH_WITHOUT_JOB);
  return pipeline.store.jobByParseId(notice.remoteJobId);
}

import { createHash } from 'node:crypto';
import express, { Router } from 'express';
import { HttpError } from '../errors.js';
import type { Pipeline } from '../../pipeline/index.js';
import type { JobRow } from '../../pipeline/store.js';
import { nestedDeeperThan } from '../json-limits.js';
import { llamaParseEvent, llamaParseV1Push, parseInput, WEBHOOK_LIMITS, webhookQuery } from '../schemas.js';

const EXPECTED =
  'expected a LlamaCloud event {event_id, event_type: "parse.*", data: {job_id}} or a v1 result push {md | txt | json} ' +
  'posted to /webhooks/llamaparse?job_id=<docket job id>';

/**
 * POST /webhooks/llamaparse: LlamaParse says a parse changed. It only commits a PARSE_CALLBACK event
 * (the machine then checks the parse at once instead of at its next poll), so it answers fast. A
 * repeated delivery is a no-op, answered 200 all the same.
 */
export function webhookRoutes(pipeline: Pipeline): Router {
  const router = Router();
  // Raw bytes, parsed here: the nesting is checked before JSON.parse, and the event may come as a
  // JSON-encoded string (LlamaCloud's "string" output format).
  router.post('/webhooks/llamaparse', express.raw({ type: 'application/json', limit: WEBHOOK_LIMITS.maxBytes }), async (req, res) => {
    const query = parseInput(webhookQuery, req.query, 'INVALID_QUERY');
    const body = readBody(req.body, req.headers['content-type']);
    if (body === undefined || body === null || typeof body !== 'object') throw new HttpError(400, 'INVALID_WEBHOOK', `the body is not a JSON object; ${EXPECTED}`);
    const { job, remoteJobId, status, dedupeKey } = await callback(pipeline, body as Record<string, unknown>, query.job_id);
    if (!job) throw new HttpError(404, 'JOB_NOT_FOUND', `no job for this callback (${query.job_id ?? remoteJobId})`);
    const sent = await pipeline.runtime.send(job.job_id, { type: 'PARSE_CALLBACK', remoteJobId, ...(status ? { status } : {}) }, { dedupeKey });
    res.status(200).json({ received: true, job_id: job.job_id, ...(sent.accepted ? {} : { ignored: sent.reason }) });
  });
  return router;
}

interface Callback {
  job: JobRow | null;
  remoteJobId: string;
  status?: string;
  dedupeKey: string;
}

/** Which job a webhook body is about, and the event to commit; 400 naming what is wrong otherwise. */
async function callback(pipeline: Pipeline, body: Record<string, unknown>, jobId: string | undefined): Promise<Callback> {
  if ('event_id' in body || 'event_type' in body) {
    const event = parseInput(llamaParseEvent, body, 'INVALID_WEBHOOK');
    return {
      job: jobId ? await pipeline.store.job(jobId) : await pipeline.store.jobByParseId(event.data.job_id),
      remoteJobId: event.data.job_id,
      status: event.event_type.slice('parse.'.length).toUpperCase(),
      dedupeKey: `llamaparse:event:${event.event_id}`,
    };
  }
  if (llamaParseV1Push.safeParse(body).success) {
    if (!jobId) throw new HttpError(400, 'INVALID_WEBHOOK', `a v1 result push names no job: post it to /webhooks/llamaparse?job_id=<docket job id>`);
    const job = await pipeline.store.job(jobId);
    return { job, remoteJobId: job?.parse_job_id ?? '', dedupeKey: `llamaparse:push:${createHash('sha256').update(JSON.stringify(body)).digest('hex')}` };
  }
  const fields = Object.keys(body).slice(0, 5).map((key) => (/^\w{1,40}$/.test(key) ? key : JSON.stringify(key.slice(0, 40)))).join(', ') || 'none';
  throw new HttpError(400, 'INVALID_WEBHOOK', `not a LlamaParse webhook (fields: ${fields}); ${EXPECTED}`);
}

/** The JSON value of a webhook body, or of the JSON text it encodes as a string; 4xx when it is not JSON, too deep, or not UTF-8. */
function readBody(raw: unknown, contentType: string | undefined): unknown {
  if (!Buffer.isBuffer(raw)) throw new HttpError(400, 'INVALID_WEBHOOK', `the body is not JSON (send content-type application/json); ${EXPECTED}`);
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType ?? '')?.[1]?.toLowerCase();
  if (charset && charset !== 'utf-8' && charset !== 'utf8') throw new HttpError(415, 'UNSUPPORTED_CHARSET', 'send the webhook body in UTF-8');
  const value = parseJson(raw);
  return typeof value === 'string' ? parseJson(value) : value;
}

function parseJson(text: Buffer | string): unknown {
  if (nestedDeeperThan(text, WEBHOOK_LIMITS.maxDepth)) {
    throw new HttpError(400, 'INVALID_WEBHOOK', `the body nests deeper than ${WEBHOOK_LIMITS.maxDepth} levels`);
  }
  try {
    return JSON.parse(typeof text === 'string' ? text : text.toString('utf8'));
  } catch {
    throw new HttpError(400, 'INVALID_WEBHOOK', 'the body is not JSON');
  }
}

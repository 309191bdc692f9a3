import { createHash } from 'node:crypto';
import express, { Router } from 'express';
import { HttpError } from '../errors.js';
import type { Pipeline } from '../../pipeline/index.js';
import type { JobRow } from '../../pipeline/store.js';
import { llamaParseEvent, llamaParseV1Push, parseInput, webhookQuery } from '../schemas.js';

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
  // strict: false, because LlamaCloud may send the event as a JSON-encoded string.
  router.post('/webhooks/llamaparse', express.json({ limit: '50mb', strict: false }), async (req, res) => {
    const query = parseInput(webhookQuery, req.query, 'INVALID_QUERY');
    const body: unknown = typeof req.body === 'string' ? parseJson(req.body) : req.body;
    if (body === undefined || body === null || typeof body !== 'object') throw new HttpError(400, 'INVALID_WEBHOOK', `the body is not a JSON object; ${EXPECTED}`);
    let job: JobRow | null;
    let remoteJobId: string;
    let status: string | undefined;
    let dedupeKey: string;
    const event = llamaParseEvent.safeParse(body);
    if (event.success) {
      job = query.job_id ? await pipeline.store.job(query.job_id) : await pipeline.store.jobByParseId(event.data.data.job_id);
      remoteJobId = event.data.data.job_id;
      status = event.data.event_type.slice('parse.'.length).toUpperCase();
      dedupeKey = `llamaparse:event:${event.data.event_id}`;
    } else if (llamaParseV1Push.safeParse(body).success) {
      if (!query.job_id) throw new HttpError(400, 'INVALID_WEBHOOK', `a v1 result push names no job: post it to /webhooks/llamaparse?job_id=<docket job id>`);
      job = await pipeline.store.job(query.job_id);
      remoteJobId = job?.parse_job_id ?? '';
      dedupeKey = `llamaparse:push:${createHash('sha256').update(JSON.stringify(body)).digest('hex')}`;
    } else {
      const fields = Object.keys(body).slice(0, 5).join(', ') || 'none';
      throw new HttpError(400, 'INVALID_WEBHOOK', `not a LlamaParse webhook (fields: ${fields}); ${EXPECTED}`);
    }
    if (!job) throw new HttpError(404, 'JOB_NOT_FOUND', `no job for this callback (${query.job_id ?? remoteJobId})`);
    const sent = await pipeline.runtime.send(job.job_id, { type: 'PARSE_CALLBACK', remoteJobId, ...(status ? { status } : {}) }, { dedupeKey });
    res.status(200).json({ received: true, job_id: job.job_id, ...(sent.accepted ? {} : { ignored: sent.reason }) });
  });
  return router;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'INVALID_WEBHOOK', 'the body is a string that is not JSON');
  }
}

import { Router, type Response } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import { tenantOf } from '../auth.js';
import { HttpError } from '../errors.js';
import { jobView } from '../job-view.js';
import { followJob, stageChanges } from '../../pipeline/events.js';
import type { Pipeline } from '../../pipeline/index.js';
import { isSettled } from '../../machines/upload.js';
import { jobIdParam, parseInput as parse } from '../schemas.js';

/** `Last-Event-ID`: an id this stream sent, a journal sequence number. */
const lastEventId = z.object({ 'last-event-id': z.string().regex(/^\d{1,9}$/, 'Last-Event-ID must be an event id this stream sent').transform(Number).optional() });

export interface EventRouteOptions {
  /** A comment line is sent after this long without a change, milliseconds. Default 15000. */
  heartbeatMs?: number;
}

function write(res: Response, fields: { event: string; id?: number; data: unknown }): void {
  res.write(`event: ${fields.event}\n${fields.id === undefined ? '' : `id: ${fields.id}\n`}data: ${JSON.stringify(fields.data)}\n\n`);
}

/**
 * GET /v1/jobs/:id/events: Server-Sent Events of the job's stage changes. The backlog after
 * `Last-Event-ID` first, then each change as any process commits it; `event: end` with the job once
 * it has settled, and the stream ends. A reconnect to a settled job with nothing new gets 204, which
 * tells an EventSource to stop reconnecting.
 */
export function eventRoutes(pipeline: Pipeline, logger: Logger, options: EventRouteOptions = {}): Router {
  const router = Router();

  router.get('/v1/jobs/:id/events', async (req, res) => {
    const { id } = parse(jobIdParam, req.params, 'INVALID_JOB_ID');
    const after = parse(lastEventId, { 'last-event-id': req.get('last-event-id') }, 'INVALID_LAST_EVENT_ID')['last-event-id'] ?? -1;
    const [job, state] = await Promise.all([pipeline.store.jobFor(tenantOf(res), id), pipeline.runtime.get(id)]);
    if (!job || !state) throw new HttpError(404, 'JOB_NOT_FOUND', `no job ${id}`);
    if (isSettled(state) && after >= 0) {
      const changes = stageChanges(id, await pipeline.runtime.history(id));
      if ((changes.at(-1)?.seq ?? -1) <= after) return void res.status(204).end();
    }

    res.status(200).set({ 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
    res.flushHeaders();
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    const log = logger.child({ job_id: id });
    try {
      const follow = followJob(pipeline.runtime, id, { after, signal: gone.signal, idleMs: options.heartbeatMs });
      let next = await follow.next();
      while (!next.done) {
        if (next.value.kind === 'stage') write(res, { event: 'stage', id: next.value.change.seq, data: next.value.change });
        else res.write(': heartbeat\n\n');
        next = await follow.next();
      }
      if (next.value === 'settled') {
        const settled = await pipeline.store.job(id);
        if (settled) write(res, { event: 'end', data: jobView(settled) });
      }
      if (next.value === 'gone') write(res, { event: 'end', data: { job_id: id, deleted: true } });
      log.debug({ ended: next.value }, 'event stream ended');
    } catch (error) {
      // Headers are out: the stream can only be cut, and the client reconnects with Last-Event-ID.
      log.warn({ err: error }, 'event stream failed');
      res.destroy();
      return;
    }
    res.end();
  });

  return router;
}

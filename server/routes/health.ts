import { Router } from 'express';
import type { Logger } from 'pino';
import { RETRY_AFTER_SECONDS } from '../errors.js';
import type { Pipeline } from '../../pipeline/index.js';

/** A database that takes longer than this to answer `SELECT 1` is reported unavailable, in milliseconds. */
const HEALTH_TIMEOUT_MS = 3000;

/**
 * GET /health: 200 when the database answers, 503 when it does not. The body says only the status,
 * the database's kind and the latency; the error itself, which names hosts and ports, goes to the log.
 */
export function healthRoutes(pipeline: Pipeline, logger: Logger): Router {
  const router = Router();
  router.get('/health', async (_req, res) => {
    const started = performance.now();
    const latency = () => Math.round(performance.now() - started);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        pipeline.db.query('SELECT 1'),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${HEALTH_TIMEOUT_MS} ms`)), HEALTH_TIMEOUT_MS))),
      ]);
      res.json({ status: 'ok', database: { status: 'ok', kind: pipeline.db.kind, latency_ms: latency() }, search: pipeline.search.mode });
    } catch (error) {
      logger.warn({ err: error }, 'health check: the database does not answer');
      res
        .status(503)
        .set('Retry-After', String(RETRY_AFTER_SECONDS))
        .json({ status: 'unavailable', database: { status: 'error', kind: pipeline.db.kind, latency_ms: latency() } });
    } finally {
      clearTimeout(timer);
    }
  });
  return router;
}

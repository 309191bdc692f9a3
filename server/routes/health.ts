import { Router } from 'express';
import type { Pipeline } from '../../pipeline/index.js';

/** GET /health: 200 when the database answers, 503 when it does not. */
export function healthRoutes(pipeline: Pipeline): Router {
  const router = Router();
  router.get('/health', async (_req, res) => {
    const started = performance.now();
    try {
      await pipeline.db.query('SELECT 1');
      res.json({ status: 'ok', database: { status: 'ok', kind: pipeline.db.kind, latency_ms: Math.round(performance.now() - started) } });
    } catch (error) {
      res.status(503).json({ status: 'unavailable', database: { status: 'error', kind: pipeline.db.kind, message: (error as Error).message } });
    }
  });
  return router;
}

import { Router } from 'express';
import type { ProcessMetrics } from '../metrics.js';

/**
 * GET /metrics: the Prometheus text format. Like /health it carries no job's data (counts by stage
 * and service only) and needs no key; keep the port off the public network or behind your proxy's
 * own rule if even counts are private.
 */
export function metricsRoutes(metrics: ProcessMetrics): Router {
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    const { contentType, body } = await metrics.scrape();
    res.set('Content-Type', contentType).send(body);
  });
  return router;
}

import { Router } from 'express';
import { z } from 'zod';
import { tenantOf } from '../auth.js';
import type { Pipeline } from '../../pipeline/index.js';
import { jobsByStage } from '../../pipeline/stats.js';
import { parseInput as parse } from '../schemas.js';

/** GET /v1/stats takes no parameters; one it does not know is refused rather than ignored. */
const statsQuery = z.strictObject({});

/**
 * GET /v1/stats: the caller's jobs by stage, every stage listed (0 when empty), in the machine's
 * order, and their total. What the dashboard's stage bar shows; GET /metrics has every tenant's.
 */
export function statsRoutes(pipeline: Pipeline): Router {
  const router = Router();
  router.get('/v1/stats', async (req, res) => {
    parse(statsQuery, req.query, 'INVALID_QUERY');
    const counts = await jobsByStage(pipeline.db, tenantOf(res));
    const stages = Object.fromEntries(counts);
    res.set('Cache-Control', 'no-store').json({ jobs: [...counts.values()].reduce((sum, n) => sum + n, 0), stages });
  });
  return router;
}

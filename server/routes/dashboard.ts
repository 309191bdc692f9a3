import { Router, type RequestHandler } from 'express';
import { DASHBOARD_ASSETS } from '../dashboard/assets.js';

/**
 * The page may load its own script and stylesheet and talk to this origin's API, and nothing else:
 * no inline script or style (the diagram's styles are moved out at build: scripts/embed-dashboard.mjs),
 * no framing, no plugins, no form posts elsewhere.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const HEADERS = {
  'Content-Security-Policy': DASHBOARD_CSP,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  // Revalidated each time (the ETag makes that a 304): a new build shows at once.
  'Cache-Control': 'no-cache',
};

/**
 * GET /dashboard: jobs by stage, a job's timeline and the machine's diagram with its state, live.
 * The page is public (it holds no data); what it shows comes from the /v1 API, with the key the
 * user gives it when the server has keys. Its files are strings built into the package
 * (server/dashboard/assets.ts), so `npm start` from dist/ serves them with no file beside it.
 */
export function dashboardRoutes(): Router {
  const router = Router({ strict: false });
  const serve: RequestHandler = (req, res, next) => {
    const asset = DASHBOARD_ASSETS[req.path.replace(/\/$/, '')];
    if (!asset) return next();
    res.set({ ...HEADERS, 'Content-Type': asset.type, ETag: asset.etag });
    if (req.fresh) return void res.status(304).end();
    res.send(asset.body);
  };
  // Two routes, not one with an array: the metrics label each by its pattern.
  router.get('/dashboard', serve);
  router.get('/dashboard/:file', serve);
  return router;
}

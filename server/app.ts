import type { Server } from 'node:http';
import express from 'express';
import { pinoHttp } from 'pino-http';
import type { Logger } from 'pino';
import { tenantAuth } from './auth.js';
import type { Config } from './config.js';
import { errorHandler, HttpError } from './errors.js';
import { hostGuard, hostPolicy, originGuard } from './guards.js';
import { answerClientErrors } from './http-server.js';
import type { Pipeline } from '../pipeline/index.js';
import { processMetrics } from './metrics.js';
import { logSerializers } from './redact.js';
import { healthRoutes } from './routes/health.js';
import { controlRoutes } from './routes/control.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { eventRoutes } from './routes/events.js';
import { jobRoutes } from './routes/jobs.js';
import { metricsRoutes } from './routes/metrics.js';
import { searchRoutes } from './routes/search.js';
import { statsRoutes } from './routes/stats.js';
import { uploadRoutes } from './routes/uploads.js';
import { webhookRoutes } from './routes/webhooks.js';

export interface AppOptions {
  /** Refuse `/v1` requests while no API key exists (a server listening beyond loopback). Default false. */
  requireKey?: boolean;
}

/**
 * The HTTP API, built without listening so tests can mount it on port 0. Its `listen()` gives a
 * server that answers unparsable requests with the API's JSON errors (server/http-server.ts).
 */
export function createApp(pipeline: Pipeline, config: Config, logger: Logger, options: AppOptions = {}): express.Express {
  const app = express();
  app.disable('x-powered-by');
  const policy = hostPolicy(config);
  if (policy.any && !config.ALLOWED_HOSTS) {
    logger.warn({ HOST: config.HOST }, 'HOST is not a loopback address and ALLOWED_HOSTS is unset: any Host header is accepted; set ALLOWED_HOSTS to the names clients use');
  }
  app.use(
    pinoHttp({
      logger,
      serializers: logSerializers,
      customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
    }),
  );
  const metrics = processMetrics(pipeline, logger);
  app.use(metrics.http);
  app.use(hostGuard(policy));
  app.use(originGuard(policy));
  app.use(healthRoutes(pipeline, logger));
  app.use(metricsRoutes(metrics));
  app.use(dashboardRoutes());
  app.use('/v1', tenantAuth(pipeline, { requireKey: options.requireKey }));
  app.use(uploadRoutes(pipeline, { maxFileBytes: config.MAX_UPLOAD_BYTES, idleTimeoutMs: config.UPLOAD_IDLE_TIMEOUT_MS }));
  app.use(jobRoutes(pipeline), statsRoutes(pipeline));
  app.use(eventRoutes(pipeline, logger), controlRoutes(pipeline));
  app.use(searchRoutes(pipeline));
  app.use(webhookRoutes(pipeline, { signingSecret: config.LLAMA_CLOUD_WEBHOOK_SECRET }));
  app.use((req, _res, next) => next(new HttpError(404, 'NOT_FOUND', `no route for ${req.method} ${JSON.stringify(req.path.slice(0, 200))}`)));
  app.use(errorHandler(logger));
  const listen = app.listen.bind(app) as (...args: unknown[]) => Server;
  app.listen = ((...args: unknown[]) => answerClientErrors(listen(...args))) as typeof app.listen;
  return app;
}

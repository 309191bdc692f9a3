import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import type { ProcessMetrics } from './metrics.js';

/**
 * The metrics of a process that serves no API (`docket worker` with METRICS_PORT): GET /metrics and
 * nothing else, on plain node:http, so a worker stays small. Resolves once it listens.
 */
export async function listenForMetrics(metrics: ProcessMetrics, port: number, host: string, logger: Logger): Promise<Server> {
  const server = createServer((req, res) => {
    const answer = (status: number, code: string, message: string) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code, message } }));
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') return answer(404, 'NOT_FOUND', 'this port serves GET /metrics only');
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(405, 'METHOD_NOT_ALLOWED', 'GET /metrics');
    metrics.scrape().then(
      ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(req.method === 'HEAD' ? undefined : body),
      (error: unknown) => {
        logger.error({ err: error }, 'metrics scrape failed');
        answer(500, 'INTERNAL', 'the metrics could not be collected');
      },
    );
  });
  server.listen(port, host);
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  return server;
}

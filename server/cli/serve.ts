import { createApp } from '../app.js';
import type { Logger } from 'pino';
import { describeConfig, type Config } from '../config.js';
import { isLoopback } from '../guards.js';
import { processMetrics } from '../metrics.js';
import { listenForMetrics } from '../metrics-server.js';
import type { Pipeline } from '../../pipeline/index.js';
import { EXIT } from './exit.js';
import { guardProcess, openPipeline, runUntilSignal, stopRequested, type CommandContext } from './run.js';

/** `docket serve`: the HTTP API and its workers, until SIGINT or SIGTERM. */
export async function serve({ config, logger }: CommandContext): Promise<number> {
  guardProcess(logger);
  const stop = stopRequested();
  const pipeline = await openPipeline(config, logger, true, stop);
  if (stop.aborted) {
    await pipeline.close();
    return EXIT.ok;
  }
  const host = await listenAddress(pipeline, config, logger);
  const server = createApp(pipeline, { ...config, HOST: host }, logger, { requireKey: !isLoopback(host) }).listen(config.PORT, host);
  try {
    await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  } catch (error) {
    await pipeline.close();
    throw error;
  }
  logger.info({ config: describeConfig(config), url: `http://${host.includes(':') ? `[${host}]` : host}:${config.PORT}`, address: server.address() }, 'docket serving');
  return runUntilSignal(pipeline, logger, stop, server);
}

/**
 * Where `serve` listens: HOST when an API key exists; without one the API is open to whoever
 * reaches it, so loopback only (127.0.0.1), whatever HOST says, with a warning.
 */
export async function listenAddress(pipeline: Pipeline, config: Config, logger: Logger): Promise<string> {
  if (await pipeline.keys.any()) return config.HOST;
  const host = isLoopback(config.HOST) ? config.HOST : '127.0.0.1';
  logger.warn(
    { HOST: config.HOST, listening_on: host },
    `no API key is configured: the API is open to anyone who reaches it, so it listens on ${host} only; set DOCKET_API_KEYS or run \`docket keys create <tenant>\` to require keys and listen on HOST`,
  );
  return host;
}

/** `docket worker`: workers only, no HTTP; run as many as you like against one PostgreSQL. */
export async function worker({ config, logger }: CommandContext): Promise<number> {
  guardProcess(logger);
  const stop = stopRequested();
  const pipeline = await openPipeline(config, logger, true, stop);
  if (stop.aborted) {
    await pipeline.close();
    return EXIT.ok;
  }
  let metrics;
  if (config.METRICS_PORT !== undefined) {
    try {
      metrics = await listenForMetrics(processMetrics(pipeline, logger), config.METRICS_PORT, config.HOST, logger);
    } catch (error) {
      await pipeline.close();
      throw error;
    }
  }
  const address = metrics?.address();
  const metricsUrl = address && typeof address === 'object' ? `http://${config.HOST}:${address.port}/metrics` : undefined;
  logger.info({ config: describeConfig(config), ...(metricsUrl ? { metrics: metricsUrl } : {}) }, 'docket worker running');
  return runUntilSignal(pipeline, logger, stop, metrics);
}

import { createApp } from '../app.js';
import { describeConfig } from '../config.js';
import { processMetrics } from '../metrics.js';
import { listenForMetrics } from '../metrics-server.js';
import { guardProcess, openPipeline, runUntilSignal, type CommandContext } from './run.js';

/** `docket serve`: the HTTP API and its workers, until SIGINT or SIGTERM. */
export async function serve({ config, logger }: CommandContext): Promise<number> {
  guardProcess(logger);
  const pipeline = await openPipeline(config, logger);
  const server = createApp(pipeline, config, logger).listen(config.PORT, config.HOST);
  try {
    await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  } catch (error) {
    await pipeline.close();
    throw error;
  }
  logger.info({ config: describeConfig(config), url: `http://${config.HOST}:${config.PORT}` }, 'docket serving');
  return runUntilSignal(pipeline, logger, server);
}

/** `docket worker`: workers only, no HTTP; run as many as you like against one PostgreSQL. */
export async function worker({ config, logger }: CommandContext): Promise<number> {
  guardProcess(logger);
  const pipeline = await openPipeline(config, logger);
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
  return runUntilSignal(pipeline, logger, metrics);
}

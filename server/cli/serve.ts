import { createApp } from '../app.js';
import { describeConfig } from '../config.js';
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
  logger.info({ config: describeConfig(config) }, 'docket worker running');
  return runUntilSignal(pipeline, logger);
}

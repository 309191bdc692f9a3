/**
 * The docket command line: `docket serve | worker | ingest <files…> | status <job_id>`.
 * Configuration comes from the environment (server/config.ts); see the README's table.
 */
import type { Server } from 'node:http';
import pino, { type Logger } from 'pino';
import { createApp } from './app.js';
import { ingest } from './cli/ingest.js';
import { describeConfig, loadConfig, type Config } from './config.js';
import { createPipeline, type Pipeline } from '../pipeline/index.js';
import { isDatabaseUnavailable } from '../index.js';

const USAGE = `usage: docket <command>

  serve               the HTTP API and its workers (PORT, default 8000)
  worker              workers only, no HTTP (run as many as you like against one PostgreSQL)
  ingest <files…>     run the pipeline on files here, with a progress bar per file
  status <job_id>     a job's state as JSON
`;

/** Runs until SIGINT/SIGTERM, then closes the server (if any) and the pipeline gracefully. */
async function runUntilSignal(pipeline: Pipeline, logger: Logger, server?: Server): Promise<number> {
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  logger.info('shutting down');
  if (server) await new Promise((resolve) => server.close(resolve));
  await pipeline.close();
  return 0;
}

/**
 * The pipeline, once the database answers: a worker restarted while PostgreSQL restarts waits for
 * it (up to DATABASE_WAIT_MS) rather than exiting. A wrong URL or password fails at once.
 */
async function openPipeline(config: Config, logger: Logger, worker = true): Promise<Pipeline> {
  const deadline = Date.now() + config.DATABASE_WAIT_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await createPipeline(config, { logger, worker });
    } catch (error) {
      const unavailable = isDatabaseUnavailable(error) || isDatabaseUnavailable((error as Error).cause);
      if (!unavailable || Date.now() >= deadline) throw error;
      const delay = Math.min(250 * attempt, 2_000);
      logger.warn({ err: error, retry_in_ms: delay }, 'database unavailable; waiting for it');
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/**
 * Last resort: a promise nobody awaited, or an error event nobody listened for, is logged with its
 * context and the process keeps serving. Each is a bug to fix; none may take every job down.
 */
function guardProcess(logger: Logger): void {
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled promise rejection (a bug); still serving'));
  process.on('uncaughtException', (error) => logger.error({ err: error }, 'uncaught exception (a bug); still serving'));
}

async function serve(config: Config, logger: Logger): Promise<number> {
  guardProcess(logger);
  const pipeline = await openPipeline(config, logger);
  const server = createApp(pipeline, config, logger).listen(config.PORT, config.HOST);
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  logger.info({ config: describeConfig(config), url: `http://${config.HOST}:${config.PORT}` }, 'docket serving');
  return runUntilSignal(pipeline, logger, server);
}

async function worker(config: Config, logger: Logger): Promise<number> {
  guardProcess(logger);
  const pipeline = await openPipeline(config, logger);
  logger.info({ config: describeConfig(config) }, 'docket worker running');
  return runUntilSignal(pipeline, logger);
}

async function status(jobId: string | undefined, config: Config, logger: Logger): Promise<number> {
  if (!jobId) {
    process.stderr.write('usage: docket status <job_id>\n');
    return 2;
  }
  const pipeline = await createPipeline(config, { logger, worker: false });
  try {
    const job = /^[0-9a-f-]{36}$/i.test(jobId) ? await pipeline.store.job(jobId) : null;
    if (!job) {
      process.stderr.write(`no job ${jobId}\n`);
      return 1;
    }
    const history = (await pipeline.runtime.history(jobId)).map((h) => ({ at: h.at.toISOString(), event: h.event.type, to: h.to }));
    process.stdout.write(`${JSON.stringify({ ...job, history }, null, 2)}\n`);
    return 0;
  } finally {
    await pipeline.close();
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }
  // The CLI's own output is the progress on stdout; logs go to stderr, quieter while ingesting.
  const level = command === 'ingest' || command === 'status' ? (config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL) : config.LOG_LEVEL;
  const logger = pino({ name: 'docket', level }, pino.destination(2));
  switch (command) {
    case 'serve':
      return serve(config, logger);
    case 'worker':
      return worker(config, logger);
    case 'ingest':
      return ingest(rest, config, logger);
    case 'status':
      return status(rest[0], config, logger);
    default:
      process.stderr.write(command && command !== 'help' && command !== '--help' ? `unknown command "${command}"\n\n${USAGE}` : USAGE);
      return command && command !== 'help' && command !== '--help' ? 2 : 0;
  }
}

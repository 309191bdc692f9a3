/**
 * How the CLI runs a command: one line on stderr for any failure (never a stack trace), and exit
 * codes scripts can branch on.
 */
import type { Server } from 'node:http';
import pino, { type Logger } from 'pino';
import { ConfigError, DocketError, isDatabaseUnavailable } from '../../index.js';
import { createPipeline, type Pipeline } from '../../pipeline/index.js';
import { loadConfig, maskSecrets, type Config } from '../config.js';

/** 0 done; 1 the work failed (a job failed, no such job); 2 bad usage or configuration; 3 the database is out of reach. */
export const EXIT = { ok: 0, failed: 1, usage: 2, database: 3 } as const;

/** A failure the user can act on: printed as one line, with its exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export interface CommandContext {
  config: Config;
  logger: Logger;
}

/**
 * Loads the configuration, makes the logger (stderr; quieter for commands whose stdout is their
 * answer) and runs `command`, turning every error into one line and an exit code.
 */
export async function runCommand(command: (context: CommandContext) => Promise<number>, options: { quiet?: boolean } = {}): Promise<number> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    return fail((error as Error).message, EXIT.usage);
  }
  const level = options.quiet && config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL;
  const logger = pino({ name: 'docket', level }, pino.destination(2));
  try {
    return await command({ config, logger });
  } catch (error) {
    logger.debug({ err: error }, 'command failed');
    return fail(...describe(error, config));
  }
}

function describe(error: unknown, config: Config): [string, number] {
  if (error instanceof CliError) return [error.message, error.exitCode];
  const cause = (error as Error).cause;
  if (isDatabaseUnavailable(error) || isDatabaseUnavailable(cause)) {
    const why = (isDatabaseUnavailable(cause) ? (cause as Error) : (error as Error)).message;
    return [`cannot reach the database at ${maskSecrets(config.DATABASE_URL)}: ${why}. Is it running? Check DATABASE_URL.`, EXIT.database];
  }
  if (error instanceof ConfigError) return [error.message, EXIT.usage];
  if (error instanceof DocketError) return [`${error.code}: ${error.message}`, EXIT.failed];
  return [`unexpected error: ${(error as Error).message ?? String(error)} (LOG_LEVEL=debug shows the details)`, EXIT.failed];
}

function fail(message: string, code: number): number {
  process.stderr.write(`docket: ${message}\n`);
  return code;
}

/**
 * The pipeline, once the database answers: a worker restarted while PostgreSQL restarts waits for
 * it (up to DATABASE_WAIT_MS) rather than exiting. A wrong URL or password fails at once.
 */
export async function openPipeline(config: Config, logger: Logger, worker = true): Promise<Pipeline> {
  const deadline = Date.now() + config.DATABASE_WAIT_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await createPipeline(config, { logger, worker, warmWorkers: worker });
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
 * Last resort for long-running commands: a promise nobody awaited, or an error event nobody
 * listened for, is logged with its context and the process keeps serving. Each is a bug to fix;
 * none may take every job down.
 */
export function guardProcess(logger: Logger): void {
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled promise rejection (a bug); still serving'));
  process.on('uncaughtException', (error) => logger.error({ err: error }, 'uncaught exception (a bug); still serving'));
}

/** Runs until SIGINT/SIGTERM, then closes the server (if any) and the pipeline gracefully. */
export async function runUntilSignal(pipeline: Pipeline, logger: Logger, server?: Server): Promise<number> {
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
    // One of `docket worker --processes N`'s children (processes.ts): it stops when its parent does,
    // however the parent ended, SIGKILL included.
    if (process.connected) process.once('disconnect', resolve);
  });
  logger.info('shutting down');
  if (server) await new Promise((resolve) => server.close(resolve));
  await pipeline.close();
  // An open IPC channel would keep a forked worker alive after its work is closed.
  if (process.connected) process.disconnect();
  return EXIT.ok;
}

/**
 * How the CLI runs a command: one line on stderr for any failure (never a stack trace), and exit
 * codes scripts can branch on.
 */
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import pino, { type Logger } from 'pino';
import { ConfigError, DocketError, isDatabaseUnavailable } from '../../index.js';
import { createPipeline, type Pipeline } from '../../pipeline/index.js';
import { loadConfig, maskSecrets, type Config } from '../config.js';
import { EXIT } from './exit.js';

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
export async function openPipeline(config: Config, logger: Logger, worker = true, stop?: AbortSignal): Promise<Pipeline> {
  const deadline = Date.now() + config.DATABASE_WAIT_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await createPipeline(config, { logger, worker, warmWorkers: worker });
    } catch (error) {
      const unavailable = isDatabaseUnavailable(error) || isDatabaseUnavailable((error as Error).cause);
      if (!unavailable || Date.now() >= deadline) throw error;
      const delay = Math.min(250 * attempt, 2_000);
      if (!stop?.aborted) logger.warn({ err: error, retry_in_ms: delay }, 'database unavailable; waiting for it');
      await sleep(delay, undefined, { signal: stop }).catch(() => {});
      if (stop?.aborted) throw new CliError('stopped while waiting for the database', EXIT.ok);
    }
  }
}

/**
 * The first SIGINT or SIGTERM (or, for one of `docket worker --processes N`'s children, its parent
 * going away), listened for from this call on. Called first thing, so a signal while the process is
 * still starting (waiting for the database, migrating) stops it cleanly once it can, rather than
 * killing it by the signal's default action.
 */
export function stopRequested(): AbortSignal {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  if (process.connected) process.once('disconnect', stop);
  // A signal that arrived while bin/docket.js was still loading the CLI.
  if ((globalThis as Record<symbol, unknown>)[Symbol.for('docket.early-signal')]) stop();
  return controller.signal;
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

/** Runs until `stop` (stopRequested()), then closes the server (if any) and the pipeline gracefully. */
export async function runUntilSignal(pipeline: Pipeline, logger: Logger, stop: AbortSignal, server?: Server): Promise<number> {
  if (!stop.aborted) await new Promise((resolve) => stop.addEventListener('abort', resolve, { once: true }));
  logger.info('shutting down');
  if (server) await new Promise((resolve) => server.close(resolve));
  await pipeline.close();
  // An open IPC channel would keep a forked worker alive after its work is closed.
  if (process.connected) process.disconnect();
  return EXIT.ok;
}

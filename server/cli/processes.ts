import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { childEnvironment } from '../config.js';
import { EXIT } from './exit.js';
import { CliError, type CommandContext } from './run.js';

/** A worker that exits on its own is started again after this long, milliseconds (a crash loop stays slow). */
const RESTART_DELAY_MS = 1_000;

/**
 * `docket worker --processes N`: N `docket worker` processes from one command, each with its own
 * main thread (step loops, LISTEN, the services' SQL and JSON) and its own document threads.
 * Document threads are shared out (DOCUMENT_WORKERS = cores / N, at least 1, unless set), and with
 * METRICS_PORT set, process i serves its metrics on METRICS_PORT + i. A process that exits on its
 * own is started again; SIGINT or SIGTERM stops them all gracefully. Needs PostgreSQL: a PGlite
 * store lives inside one process.
 */
export async function workerProcesses(count: number, { config, logger }: CommandContext): Promise<number> {
  if (!/^postgres(ql)?:\/\//.test(config.DATABASE_URL)) {
    throw new CliError('--processes needs PostgreSQL (DATABASE_URL=postgres://…): the embedded PGlite store lives inside one process', EXIT.usage);
  }
  const share = String(Math.max(1, Math.floor(availableParallelism() / count)));
  const children = new Map<number, ChildProcess>();
  let stopping = false;
  /** A child's exit code that restarting cannot fix (bad configuration, no database): all stop with it. */
  let fatal: number | undefined;
  const start = (i: number) => {
    const metrics: Record<string, string> = config.METRICS_PORT !== undefined && config.METRICS_PORT !== 0 ? { METRICS_PORT: String(config.METRICS_PORT + i) } : {};
    // A DOCUMENT_WORKERS the user set is kept; otherwise the cores are shared out.
    const childEnv = childEnvironment({ DOCUMENT_WORKERS: share, ...metrics }, ['DOCUMENT_WORKERS']);
    // The same entry and Node flags as this process (bin/docket.js, or tsx's loader in a checkout).
    // Its own process group (detached), so a terminal's Ctrl-C reaches this process alone and each
    // child gets one SIGTERM from it; a child also stops when this process's IPC channel closes.
    const child = fork(process.argv[1]!, ['worker'], { env: childEnv, execArgv: process.execArgv, stdio: 'inherit', detached: true });
    children.set(i, child);
    child.once('exit', (code, signal) => {
      children.delete(i);
      if (stopping) return;
      logger.warn({ process: i, pid: child.pid, code, signal, restart_in_ms: RESTART_DELAY_MS }, 'a worker process exited; starting it again');
      if (code === EXIT.usage || code === EXIT.database) {
        fatal = code;
        return void stop();
      }
      setTimeout(() => !stopping && start(i), RESTART_DELAY_MS);
    });
  };
  let stop: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    stop = () => {
      stopping = true;
      for (const child of children.values()) child.kill('SIGTERM');
      const check = () => (children.size === 0 ? resolve() : setTimeout(check, 50));
      check();
    };
  });
  process.once('SIGINT', () => stop());
  process.once('SIGTERM', () => stop());
  for (let i = 0; i < count; i++) start(i);
  logger.info({ processes: count, document_workers_each: Number(childEnvironment({ DOCUMENT_WORKERS: share }, ['DOCUMENT_WORKERS']).DOCUMENT_WORKERS) }, 'docket worker processes started');
  await done;
  return fatal ?? EXIT.ok;
}

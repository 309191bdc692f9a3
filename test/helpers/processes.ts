import { fork, type ChildProcess } from 'node:child_process';
import type { ExecutionContext } from 'ava';
import { testProgram } from './repo.js';

export interface WorkerProcess {
  child: ChildProcess;
  /** Resolves with the first message of this type. */
  next(type: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** Forks test/helpers/worker-process.ts; killed when the test ends if still alive. */
export function forkWorker(t: ExecutionContext, args: Record<string, unknown>): WorkerProcess {
  const program = testProgram('test/helpers/worker-process');
  const child = fork(program.script, [JSON.stringify(args)], {
    execArgv: program.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const messages: Record<string, unknown>[] = [];
  const waiters: { type: string; resolve: (m: Record<string, unknown>) => void }[] = [];
  child.on('message', (message: Record<string, unknown>) => {
    messages.push(message);
    for (const waiter of waiters.filter((w) => w.type === message.type)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(message);
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  return {
    child,
    next(type, timeoutMs = 20_000) {
      const seen = messages.find((m) => m.type === type);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`worker process sent no "${type}" within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({ type, resolve: (m) => (clearTimeout(timer), resolve(m)) });
        child.once('exit', (code, signal) => reject(new Error(`worker process exited (${code ?? signal}) before "${type}"`)));
      });
    },
    async kill(signal) {
      child.kill(signal);
      await exited;
    },
  };
}

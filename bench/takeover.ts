/**
 * Takeover after SIGKILL: a worker process with default settings holds the effects of `instances`
 * instances (its service never returns) and is killed; a second worker, already running, takes them
 * over. The figure is the time from the kill to the commit of the last of those instances' next step.
 */
import { fork } from 'node:child_process';
import pg from 'pg';
import pino from 'pino';
import { createRuntime } from '../index.js';
import { holder } from './takeover-machine.js';
import { round } from './workload.js';

export interface TakeoverResult {
  instances: number;
  /** Milliseconds from the SIGKILL to the first and to the last instance moving again. */
  firstMs: number;
  lastMs: number;
  /** The lease the victim held, milliseconds (the default): what a takeover used to wait out. */
  leaseMs: number;
}

export async function runTakeover(url: string, schema: string, options: { instances?: number } = {}): Promise<TakeoverResult> {
  const count = options.instances ?? 20;
  // 'error': every takeover logs a warning, which is the point here.
  const logger = pino({ level: 'error' });
  const client = await createRuntime({ database: url, schema, machines: { holder }, logger, worker: false });
  const victim = fork(new URL('./takeover-worker.ts', import.meta.url), [JSON.stringify({ url, schema })], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => victim.once('exit', () => resolve()));
  const message = (done: (m: { type: string; count?: number }) => boolean) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the victim worker did not get ready within 60 s')), 60_000);
      victim.on('message', (m: { type: string; count?: number }) => done(m) && (clearTimeout(timer), resolve()));
    });
  const listener = new pg.Client({ connectionString: url });
  let survivor: Awaited<ReturnType<typeof createRuntime>> | undefined;
  try {
    await message((m) => m.type === 'ready');
    const running = message((m) => m.type === 'running' && m.count === count);
    const ids = new Set(await Promise.all(Array.from({ length: count }, () => client.start('holder'))));
    await running;
    // The survivor is up and idle before the kill: the figure is the takeover, not a start-up.
    survivor = await createRuntime({ database: url, schema, machines: { holder }, logger, services: { hold: async () => null } });
    await listener.connect();
    const moved: number[] = [];
    let killedAt = 0;
    listener.on('notification', (n) => {
      const [id, version] = (n.payload ?? '').split(':');
      if (id && Number(version) >= 1 && ids.delete(id)) moved.push(Date.now() - killedAt);
    });
    await listener.query(`LISTEN "${schema}_steps"`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    killedAt = Date.now();
    victim.kill('SIGKILL');
    await exited;
    const deadline = Date.now() + 60_000;
    while (ids.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    if (ids.size > 0) throw new Error(`${ids.size} instances did not move within 60 s of the kill`);
    return { instances: count, firstMs: round(Math.min(...moved), 0), lastMs: round(Math.max(...moved), 0), leaseMs: 10_000 };
  } finally {
    if (victim.exitCode === null && victim.signalCode === null) victim.kill('SIGKILL');
    await survivor?.close();
    await client.close();
    await listener.end().catch(() => {});
  }
}

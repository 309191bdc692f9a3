/**
 * The docket processes under test: `node bin/docket.js serve` and N `node bin/docket.js worker`,
 * each a child process with its stdout and stderr appended to `<name>.log` in the run's folder.
 * Every exit is recorded; one the harness did not cause is an invariant failure, and the process is
 * started again (once the database is back) so the rest of the run still means something.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Timeline } from './timeline.js';
import { inRepo } from '../helpers/repo.js';

const CLI = inRepo('bin/docket.js');
/** What each command logs once it works (server/cli/serve.ts). */
const READY_LINE = { serve: 'docket serving', worker: 'docket worker running' };

export interface FleetOptions {
  /** Environment of every process (DATABASE_URL, providers, tuning), on top of PATH and HOME. */
  env: Record<string, string>;
  /** The server's port. */
  port: number;
  workers: number;
  logDir: string;
  /** Resolves when processes may start (the database accepts connections). */
  ready: () => Promise<void>;
  timeline: Timeline;
}

export interface ExitRecord {
  name: string;
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Milliseconds since the run started. */
  t: number;
  /** The harness killed or stopped it. */
  expected: boolean;
  /** For an unexpected exit: what the process printed outside its JSON log lines (the crash). */
  cause?: string;
}

interface Proc {
  name: string;
  role: 'serve' | 'worker';
  child: ChildProcess;
  /** Where this generation's output starts in the log file, bytes. */
  logOffset: number;
  /** It logged READY_LINE. */
  ready: boolean;
  expectExit: boolean;
  exited: Promise<void>;
  /** Date.now() at spawn. */
  spawnedAt: number;
}

/**
 * No program can handle a signal before Node has booted and run its first line (0.1 s on a quiet
 * machine, several times that under the suite's load); bin/docket.js covers everything after that,
 * and test/server/cli-usage.test.ts tests it. A process younger than this gets its SIGTERM once it is
 * this old, so the check sees how docket stops rather than how Node boots.
 */
const BOOT_MS = 3_000;

export class Fleet {
  readonly exits: ExitRecord[] = [];
  readonly #procs = new Map<string, Proc>();
  #stopping = false;

  constructor(private readonly options: FleetOptions) {}

  get url(): string {
    return `http://127.0.0.1:${this.options.port}`;
  }

  get workerNames(): string[] {
    return Array.from({ length: this.options.workers }, (_, i) => `worker-${i + 1}`);
  }

  logFile(name: string): string {
    return join(this.options.logDir, `${name}.log`);
  }

  /** Starts the server and the workers; resolves when the server answers /health and every worker logged that it runs. */
  async start(timeoutMs = 60_000): Promise<void> {
    this.#spawn('server', 'serve');
    for (const name of this.workerNames) this.#spawn(name, 'worker');
    const deadline = Date.now() + timeoutMs;
    await until(deadline, 'the server answering /health', async () => (await fetch(`${this.url}/health`).catch(() => null))?.status === 200);
    for (const name of this.workerNames) await until(deadline, `${name} running`, async () => this.ready(name));
  }

  alive(name: string): boolean {
    const proc = this.#procs.get(name);
    return !!proc && proc.child.exitCode === null && proc.child.signalCode === null;
  }

  /** Alive, and past its start (it logged that it serves or works): a kill now hits a working process. */
  ready(name: string): boolean {
    const proc = this.#procs.get(name);
    if (!proc || !this.alive(name)) return false;
    proc.ready ||= logSince(this.logFile(name), proc.logOffset).includes(READY_LINE[proc.role]);
    return proc.ready;
  }

  /** Processes alive but still starting (opening the database, migrating). */
  starting(): string[] {
    return [...this.#procs.keys()].filter((name) => this.alive(name) && !this.ready(name));
  }

  /** SIGKILLs a process (an expected exit) and waits until it is gone. */
  async kill(name: string): Promise<void> {
    const proc = this.#procs.get(name);
    if (!proc || !this.alive(name)) return;
    proc.expectExit = true;
    proc.child.kill('SIGKILL');
    await proc.exited;
  }

  /** Starts a process again under its name, once the database accepts connections. */
  async respawn(name: string): Promise<void> {
    if (this.#stopping || this.alive(name)) return;
    await this.options.ready();
    if (this.#stopping || this.alive(name)) return;
    this.#spawn(name, name === 'server' ? 'serve' : 'worker');
  }

  /** SIGTERM to every process; those still running after `graceMs` are SIGKILLed. Returns how each ended. */
  async stopAll(graceMs = 15_000): Promise<{ name: string; graceful: boolean; code: number | null }[]> {
    this.#stopping = true;
    return Promise.all(
      [...this.#procs.values()].map(async (proc) => {
        if (!this.alive(proc.name)) return { name: proc.name, graceful: true, code: proc.child.exitCode };
        proc.expectExit = true;
        const age = Date.now() - proc.spawnedAt;
        if (age < BOOT_MS) await new Promise((resolve) => setTimeout(resolve, BOOT_MS - age));
        proc.child.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const graceful = await Promise.race([proc.exited.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs)))]);
        clearTimeout(timer);
        if (!graceful) {
          proc.child.kill('SIGKILL');
          await proc.exited;
        }
        return { name: proc.name, graceful, code: proc.child.exitCode };
      }),
    );
  }

  #spawn(name: string, role: Proc['role']): void {
    const { env, port, timeline } = this.options;
    const log = openSync(this.logFile(name), 'a');
    writeSync(log, `--- ${name} (${role}) starting at ${new Date().toISOString()}\n`);
    const logOffset = fstatSync(log).size;
    const child = spawn(process.execPath, [CLI, role], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, ...(role === 'serve' ? { PORT: String(port) } : {}) },
      // The IPC channel ties each process to this one: should the harness die (a suite stopped
      // midway), the channel closes and the process stops, instead of working on against the next
      // run's database with this run's dead mock URLs.
      stdio: ['ignore', log, log, 'ipc'],
    });
    closeSync(log);
    const proc: Proc = { name, role, child, logOffset, ready: false, expectExit: false, spawnedAt: Date.now(), exited: new Promise((resolve) => child.once('exit', () => resolve())) };
    this.#procs.set(name, proc);
    timeline.add('spawn', `${name} pid ${child.pid}`);
    child.once('exit', (code, signal) => this.#onExit(proc, code, signal));
  }

  #onExit(proc: Proc, code: number | null, signal: NodeJS.Signals | null): void {
    const { timeline } = this.options;
    const record: ExitRecord = { name: proc.name, pid: proc.child.pid ?? 0, code, signal, t: Date.now() - timeline.t0, expected: proc.expectExit };
    if (!proc.expectExit) record.cause = crashCause(this.logFile(proc.name), proc.logOffset);
    this.exits.push(record);
    const why = record.cause ? `: ${record.cause}` : '';
    timeline.add(proc.expectExit ? 'exit' : 'UNEXPECTED-EXIT', `${proc.name} pid ${record.pid} code ${code} signal ${signal} (log ${this.logFile(proc.name)})${why}`);
    if (!proc.expectExit && !this.#stopping) {
      setTimeout(() => void this.respawn(proc.name).catch((error) => timeline.add('respawn-failed', `${proc.name}: ${(error as Error).message}`)), 1_000);
    }
  }
}

/** The first lines a process printed outside pino's JSON in its last 64 KiB since `offset`, stack frames left out: an uncaught error. */
function crashCause(file: string, offset: number): string {
  const from = Math.max(offset, statSync(file).size - LOG_WINDOW);
  const lines = logSince(file, from)
    .split('\n')
    .slice(from > offset ? 1 : 0) // a window that starts mid-line
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('{') && !line.startsWith('at ') && !/^(\^+|node:[\w:]+|Node\.js v[\d.]+|\[\.\.\..*\])$/.test(line));
  return lines.slice(0, 4).join(' | ').slice(0, 400);
}

const LOG_WINDOW = 64 * 1024;

/** Up to 64 KiB of a log file from `offset`. */
function logSince(file: string, offset: number): string {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(LOG_WINDOW);
    return buffer.subarray(0, readSync(fd, buffer, 0, buffer.length, offset)).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

async function until(deadline: number, what: string, check: () => Promise<boolean>): Promise<void> {
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

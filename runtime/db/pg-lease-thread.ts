import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { HeartbeatOptions, LeaseKeeper } from '../lease-keeper.js';

/**
 * The renewal loop of a worker thread with its own PostgreSQL connection: a main thread kept busy
 * by a synchronous service (or a long garbage collection) cannot starve it. Plain JavaScript in a
 * string, so it runs the same under tsx, plain node and a bundle.
 */
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const pg = require(workerData.pgPath);
const leases = new Map();
let client = null;
let connecting = null;
// One connection for renewals and beats, however many ask for it at once.
function connection() {
  if (client) return Promise.resolve(client);
  connecting = connecting || (async () => {
    const next = new pg.Client({ connectionString: workerData.connectionString, connectionTimeoutMillis: workerData.leaseMs, application_name: workerData.applicationName });
    next.on('error', () => { if (client === next) client = null; });
    await next.connect();
    client = next;
    return client;
  })().finally(() => { connecting = null; });
  return connecting;
}
async function renew() {
  const now = Date.now();
  const keys = [...leases].filter(([, deadline]) => deadline > now).map(([key]) => key);
  if (keys.length === 0) return;
  try {
    const db = await connection();
    await db.query(workerData.sql, [keys, workerData.workerId, new Date(now + workerData.leaseMs)]);
  } catch (error) {
    if (client) client.end().catch(() => {});
    client = null;
    parentPort.postMessage({ type: 'error', message: String(error && error.message), code: error && error.code });
  }
}
// Liveness: this connection's backend, recorded in the worker's row, dies with the process; other
// workers' sweeps make the running effects of a worker whose backend is gone due at once. Beats only
// while leases are held, each recording the backend anew (a reconnect changes it), so a worker that
// runs no effect opens no connection here.
let beating = null;
let beaten = null;
async function beat() {
  if (leases.size === 0) return;
  try {
    const db = await connection();
    await db.query(workerData.liveness.beat, [workerData.workerId, workerData.leaseMs, true]);
    beaten = db;
  } catch (error) {
    if (client) client.end().catch(() => {});
    client = null;
    parentPort.postMessage({ type: 'error', message: String(error && error.message), code: error && error.code });
  }
}
// One query at a time on the connection (pg queues a second, deprecated, and pg 9 refuses it): a
// renewal slowed past its interval by a loaded machine would otherwise overlap the next, or a beat.
// (Turns in ./turns.ts, written again: this thread's code is a string and imports only pg.)
let turn = Promise.resolve();
function inTurn(task) {
  const done = turn.then(task);
  turn = done.catch(() => {});
  return done;
}
let renewing = null;
const timers = [
  setInterval(() => { renewing = renewing || inTurn(renew).finally(() => { renewing = null; }); }, Math.max(workerData.leaseMs / 3, 50)),
  setInterval(() => { beating = beating || inTurn(beat).finally(() => { beating = null; }); }, workerData.heartbeatMs),
];
async function leave() {
  await turn;
  if (client && beaten) await client.query(workerData.liveness.leave, [workerData.workerId]);
}
parentPort.on('message', (m) => {
  if (m.type === 'changes') {
    for (const [key, deadline] of m.changes) {
      if (deadline === null) leases.delete(key);
      else leases.set(key, deadline);
    }
    // The first lease on this connection: say whose it is before the effect has run long.
    if (leases.size > 0 && beaten !== client) beating = beating || inTurn(beat).finally(() => { beating = null; });
  } else if (m.type === 'close') {
    timers.forEach(clearInterval);
    leave().catch(() => {}).then(() => client && client.end()).catch(() => {}).finally(() => parentPort.close());
  }
});
`;

/**
 * The thread is started by the first lease, not with the runtime: it is a second V8 isolate with its
 * own copy of `pg` (about 13 MB resident), which a worker whose machines invoke no service never needs.
 * Once started it stays, so a busy worker does not pay its start-up again and again.
 */
export class ThreadLeaseKeeper implements LeaseKeeper {
  #worker: Worker | undefined;
  readonly #leases = new Map<string, number>();
  /** Holds and drops not yet sent: key -> deadline, or null for a drop. */
  #changes = new Map<string, number | null>();
  #sent: Promise<void> | null = null;
  #closed = false;

  constructor(
    private readonly options: HeartbeatOptions,
    private readonly connectionString: string,
    private readonly applicationName?: string,
  ) {}

  #spawn(): Worker {
    const { workerId, leaseMs, sql, liveness, heartbeatMs, logger } = this.options;
    const pgPath = createRequire(import.meta.url).resolve('pg');
    const workerData = { pgPath, connectionString: this.connectionString, applicationName: this.applicationName, workerId, leaseMs, sql, liveness, heartbeatMs };
    // A renewal allocates a few kilobytes: a small young generation is plenty, and caps what the
    // thread's heap grows to over a long run (V8's default lets it reach tens of megabytes).
    const worker = new Worker(THREAD, { eval: true, workerData, resourceLimits: { maxYoungGenerationSizeMb: 4 } });
    worker.unref();
    worker.on('message', (message: { type: string; message?: string; code?: string }) => {
      if (message.type === 'error') logger.warn({ err: { message: message.message, code: message.code } }, 'lease heartbeat failed');
    });
    worker.on('error', (error) => logger.error({ err: error }, 'lease keeper thread failed; restarting it'));
    worker.on('exit', () => {
      if (this.#closed) return;
      // Respawn and hand it the leases held so far.
      this.#worker = this.#spawn();
      this.#worker.postMessage({ type: 'changes', changes: [...this.#leases] });
    });
    return worker;
  }

  hold(key: string, deadline: number): Promise<void> {
    this.#leases.set(key, deadline);
    return this.#change(key, deadline);
  }

  drop(key: string): void {
    this.#leases.delete(key);
    void this.#change(key, null);
  }

  /**
   * One message per burst rather than one per effect: a claim starts many effects at once, and each
   * postMessage costs tens of microseconds of this thread. Sent from a microtask, which runs before
   * the services whose holds it carries (the runner awaits hold() first).
   */
  #change(key: string, deadline: number | null): Promise<void> {
    this.#changes.set(key, deadline);
    this.#sent ??= Promise.resolve().then(() => {
      this.#sent = null;
      const changes = [...this.#changes];
      this.#changes = new Map();
      if (this.#closed) return;
      // Nothing held and no thread: these were drops of holds it never saw.
      if (!this.#worker && this.#leases.size === 0) return;
      this.#worker ??= this.#spawn();
      this.#worker.postMessage({ type: 'changes', changes });
    });
    return this.#sent;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    if (!worker) return;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.postMessage({ type: 'close' });
    const timer = setTimeout(() => void worker.terminate(), 2_000);
    await exited;
    clearTimeout(timer);
  }
}

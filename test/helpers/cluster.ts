/**
 * A PostgreSQL cluster of a test's own, for tests that stop, crash and restart the database server:
 * never the shared one on port 5432, which other tests and people use. It is managed with Debian's
 * postgresql-common tools (pg_createcluster, pg_ctlcluster, pg_dropcluster, pg_isready), run as root;
 * they run initdb and the server as the postgres user. Every method is idempotent, so a test can call
 * `start()` on a fresh machine or on a cluster a previous run left running.
 *
 * ```ts
 * const cluster = new PgCluster({ name: 'docket_restart', port: 5498 });
 * const url = await cluster.freshDatabase('restart_test');   // creates and starts the cluster if needed
 * await cluster.restart({ downMs: 3_000 });                   // down for three seconds, then ready again
 * await cluster.stop();
 * ```
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export interface ClusterOptions {
  /** Cluster name. Default `$DOCKET_TEST_CLUSTER`, else `docket_chaos`. Two suites at once need two names. */
  name?: string;
  /** TCP port on 127.0.0.1. Default `$DOCKET_TEST_CLUSTER_PORT`, else 5499. */
  port?: number;
  /** PostgreSQL major version. Default the highest in /etc/postgresql, else 15. */
  version?: string;
}

/** How the server is stopped: `fast` ends sessions cleanly (clients see 57P01); `immediate` kills it like a crash. */
export type StopMode = 'fast' | 'immediate';

/** Timestamps (epoch milliseconds) of one restart. */
export interface Restart {
  /** When the server was down (the stop command returned). */
  downAt: number;
  /** When the start command was issued. */
  startAt: number;
  /** When it accepted connections again. */
  readyAt: number;
}

export class PgCluster {
  readonly name: string;
  readonly port: number;
  readonly version: string;

  constructor(options: ClusterOptions = {}) {
    this.name = options.name ?? process.env.DOCKET_TEST_CLUSTER ?? 'docket_chaos';
    this.port = options.port ?? Number(process.env.DOCKET_TEST_CLUSTER_PORT ?? 5499);
    this.version = options.version ?? installedVersion();
    if (!/^[a-z_][a-z0-9_]*$/.test(this.name)) throw new Error(`cluster name ${this.name}: use lower-case letters, digits and _`);
  }

  /** Whether this machine has the tools (Debian's postgresql-common) and the server binaries. */
  static available(): boolean {
    try {
      return readdirSync('/etc/postgresql').length > 0 && readdirSync('/usr/bin').includes('pg_createcluster');
    } catch {
      return false;
    }
  }

  /** A connection string for `database` as user postgres (trust authentication on 127.0.0.1). */
  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** `missing`, `down` or `online`, as pg_lsclusters reports it. */
  async status(): Promise<'missing' | 'down' | 'online'> {
    const { stdout } = await run('pg_lsclusters', ['--no-header']);
    const line = stdout.split('\n').find((l) => l.split(/\s+/)[0] === this.version && l.split(/\s+/)[1] === this.name);
    if (!line) return 'missing';
    return line.split(/\s+/)[3] === 'online' ? 'online' : 'down';
  }

  /** Creates the cluster (initdb, trust authentication, started by hand only) unless it exists. */
  async create(): Promise<void> {
    if ((await this.status()) !== 'missing') return;
    await run('pg_createcluster', [this.version, this.name, '--port', String(this.port), '--start-conf', 'manual', '--', '--auth=trust']);
  }

  /** Creates the cluster if missing, starts it unless running, and waits until it accepts connections. */
  async start(timeoutMs = 30_000): Promise<void> {
    await this.create();
    if ((await this.status()) !== 'online') await this.#ctl('start');
    await this.waitReady(timeoutMs);
  }

  /** Stops the server (no-op when down or missing); returns once it is down. */
  async stop(mode: StopMode = 'fast'): Promise<void> {
    if ((await this.status()) !== 'online') return;
    await this.#ctl('stop', ['-m', mode]);
  }

  /** Stops the server, keeps it down for `downMs` milliseconds (default 0), starts it and waits until ready. */
  async restart(options: { downMs?: number; mode?: StopMode } = {}): Promise<Restart> {
    await this.stop(options.mode);
    const downAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, options.downMs ?? 0));
    const startAt = Date.now();
    await this.start();
    return { downAt, startAt, readyAt: Date.now() };
  }

  /** Whether the server accepts connections now (pg_isready). */
  async isReady(): Promise<boolean> {
    try {
      await run('pg_isready', ['-q', '-h', '127.0.0.1', '-p', String(this.port), '-t', '2']);
      return true;
    } catch {
      return false;
    }
  }

  /** Waits until the server accepts connections; throws after `timeoutMs` milliseconds (default 30000). */
  async waitReady(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await this.isReady())) {
      if (Date.now() > deadline) throw new Error(`cluster ${this.version}/${this.name} on port ${this.port} not ready within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Starts the cluster if needed and (re)creates an empty database `name`; returns its URL. */
  async freshDatabase(name: string): Promise<string> {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`database name ${name}: use lower-case letters, digits and _`);
    await this.start();
    await this.#admin(async (client) => {
      await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await client.query(`CREATE DATABASE "${name}"`);
    });
    return this.url(name);
  }

  /** Drops database `name` if the cluster is running and has it. */
  async dropDatabase(name: string): Promise<void> {
    if ((await this.status()) !== 'online') return;
    await this.#admin((client) => client.query(`DROP DATABASE IF EXISTS "${name.replaceAll('"', '')}" WITH (FORCE)`));
  }

  /**
   * Takes this cluster for the caller alone (a lock file naming this process), waiting up to
   * `timeoutMs` milliseconds (default 15 minutes) while another live process holds it: two suites
   * restarting one cluster would break each other. Returns the release function.
   */
  async lock(timeoutMs = 15 * 60_000): Promise<() => void> {
    const file = join(tmpdir(), `docket-cluster-${this.version}-${this.name}.lock`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        writeFileSync(file, String(process.pid), { flag: 'wx' });
        return () => rmSync(file, { force: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      if (!alive(Number(readFileSync(file, 'utf8').trim()))) rmSync(file, { force: true });
      else if (Date.now() > deadline) throw new Error(`cluster ${this.name} is locked by process ${readFileSync(file, 'utf8').trim()} (${file})`);
      else await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }

  /** Stops and deletes the cluster with its data (no-op when missing). */
  async drop(): Promise<void> {
    if ((await this.status()) === 'missing') return;
    await run('pg_dropcluster', [this.version, this.name, '--stop']);
  }

  async #ctl(action: 'start' | 'stop', extra: string[] = []): Promise<void> {
    await run('pg_ctlcluster', ['--skip-systemctl-redirect', this.version, this.name, action, ...extra]);
  }

  async #admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: this.url(), connectionTimeoutMillis: 5_000 });
    client.on('error', () => {}); // the server may be stopped while we hold this client
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end().catch(() => {});
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function installedVersion(): string {
  try {
    const versions = readdirSync('/etc/postgresql').filter((v) => /^\d+$/.test(v));
    return versions.sort((a, b) => Number(b) - Number(a))[0] ?? '15';
  } catch {
    return '15';
  }
}

/**
 * GET /health every 100 ms for the whole run, one request at a time, each sample with its start,
 * end and status; then sorted into the windows the database was up or down.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { testProgram } from '../helpers/repo.js';

/**
 * A probe with no answer after this long counts as `timeout`, milliseconds. Generous: on two shared
 * cores answers of one or two seconds happen under load (they show in the p99); five seconds
 * without one is a hung server.
 */
export const PROBE_TIMEOUT_MS = 5_000;

export interface HealthSample {
  start: number;
  end: number;
  /** The HTTP status, or what went wrong before one came back: `refused`, `timeout`, or the socket error's code. */
  status: number | string;
}

/** One database outage, epoch milliseconds: stop issued, down, start issued, accepting connections. */
export interface Outage {
  stopAt: number;
  downAt: number;
  startAt: number;
  readyAt: number;
  mode: string;
}

/** Runs health-probe.ts as a child process for the run; `samples` holds its results once stopped. */
export class HealthPoller {
  samples: HealthSample[] = [];
  #child: ChildProcess | undefined;
  #exited: Promise<void> | undefined;

  constructor(
    private readonly url: string,
    private readonly file: string,
    private readonly intervalMs = 100,
  ) {}

  start(): void {
    const { script, execArgv } = testProgram('test/chaos/health-probe');
    const child = spawn(process.execPath, [...execArgv, script, this.url, this.file, String(this.intervalMs)], { stdio: ['ignore', 'ignore', 'inherit'] });
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    this.#child = child;
  }

  /** Stops the probe (its request in flight finishes first) and reads its samples. */
  async stop(): Promise<void> {
    if (!this.#child) return;
    this.#child.kill('SIGTERM');
    await this.#exited;
    this.#child = undefined;
    const text = existsSync(this.file) ? readFileSync(this.file, 'utf8') : '';
    this.samples = text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as HealthSample);
  }
}

/** One GET: its status, or what happened instead. */
export async function probe(url: string): Promise<HealthSample['status']> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    await response.arrayBuffer();
    return response.status;
  } catch (error) {
    const code = (error as { cause?: { code?: string } }).cause?.code;
    if ((error as Error).name === 'TimeoutError') return 'timeout';
    return code === 'ECONNREFUSED' ? 'refused' : (code ?? (error as Error).name);
  }
}

export interface HealthWindows {
  /** Samples taken wholly while the database was down. */
  down: HealthSample[];
  /** Samples taken wholly while it was up, `settleMs` after each outage excluded. */
  up: HealthSample[];
  /** Per outage: milliseconds from ready to the first 200, or null when none came. */
  recoveryMs: (number | null)[];
}

/** Sorts samples into down and up windows; samples overlapping a stop or start are left out of both. */
export function healthWindows(samples: HealthSample[], outages: Outage[], settleMs: number): HealthWindows {
  const down = samples.filter((s) => outages.some((o) => s.start >= o.downAt && s.end <= o.startAt));
  const up = samples.filter((s) => outages.every((o) => s.end < o.stopAt || s.start > o.readyAt + settleMs));
  const recoveryMs = outages.map((o) => {
    const first = samples.find((s) => s.start >= o.readyAt && s.status === 200);
    return first ? first.end - o.readyAt : null;
  });
  return { down, up, recoveryMs };
}

/** Count by status, and latency percentiles (milliseconds). */
export function healthStats(samples: HealthSample[]): { count: number; byStatus: Record<string, number>; p50: number; p99: number } {
  const byStatus: Record<string, number> = {};
  for (const s of samples) byStatus[String(s.status)] = (byStatus[String(s.status)] ?? 0) + 1;
  const latencies = samples.map((s) => s.end - s.start).sort((a, b) => a - b);
  return { count: samples.length, byStatus, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
}

export function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

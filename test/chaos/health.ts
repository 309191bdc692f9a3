/**
 * GET /health every 100 ms for the whole run, one request at a time, each sample with its start,
 * end and status; then sorted into the windows the database was up or down.
 */

/**
 * A probe with no answer after this long counts as `timeout`, milliseconds. Generous: on two shared
 * cores answers of one or two seconds happen under load (they show in the p99); five seconds
 * without one is a hung server.
 */
export const PROBE_TIMEOUT_MS = 5_000;

export interface HealthSample {
  start: number;
  end: number;
  /** The HTTP status, or what went wrong before one came back. */
  status: number | 'refused' | 'timeout' | 'error';
}

/** One database outage, epoch milliseconds: stop issued, down, start issued, accepting connections. */
export interface Outage {
  stopAt: number;
  downAt: number;
  startAt: number;
  readyAt: number;
  mode: string;
}

export class HealthPoller {
  readonly samples: HealthSample[] = [];
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(
    private readonly url: string,
    private readonly intervalMs = 100,
  ) {}

  start(): void {
    this.#running = this.#loop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running;
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      const start = Date.now();
      this.samples.push({ start, status: await probe(`${this.url}/health`), end: Date.now() });
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, start + this.intervalMs - Date.now())));
    }
  }
}

async function probe(url: string): Promise<HealthSample['status']> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    await response.arrayBuffer();
    return response.status;
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    if ((error as Error).name === 'TimeoutError') return 'timeout';
    return cause?.code === 'ECONNREFUSED' ? 'refused' : 'error';
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

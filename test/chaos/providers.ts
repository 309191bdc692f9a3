/**
 * The LlamaParse and OpenAI mocks, served from the harness's process so it can script them and read
 * what they saw: faults (429 with Retry-After, 500/503, latency) on about one request in ten for the
 * whole run, webhooks switched between delivered, dropped and duplicated, and scripted job ERRORs
 * (during the chaos) that fail their jobs legitimately.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import { createLlamaParseMock } from '../../adapters/llamaparse/mock.js';
import { parseLocally } from '../../adapters/local/parser.js';
import { cl100k } from '../../adapters/local/tokens.js';
import { createOpenAIMock } from '../../adapters/openai/mock.js';
import type { Fault, FaultQueue } from '../../adapters/mock/faults.js';
import { textPdf } from './pdf.js';
import type { Timeline } from './timeline.js';

/** Job ERRORs the harness scripts on the LlamaParse mock; jobs failing with these are explained. */
export const SCRIPTED_PARSE_ERRORS = ['ERROR_DURING_PROCESSING', 'PDF_IS_BROKEN'] as const;

/** Faults a request may meet, by name (the names appear in the summary). */
// No path filters: a fault waiting for one kind of request would meet every such request in turn
// and exhaust the retries of the few effects that make it.
const LLAMAPARSE_FAULTS: [string, (rand: () => number) => Fault][] = [
  ['429', (r) => ({ status: 429, retryAfterMs: 500 + Math.round(r() * 1_000) })],
  ['503', () => ({ status: 503 })],
  ['500', () => ({ status: 500 })],
  ['latency', (r) => ({ delayMs: 200 + Math.round(r() * 1_000) })],
];
const OPENAI_FAULTS: [string, (rand: () => number) => Fault][] = [
  ['429', (r) => ({ status: 429, retryAfterMs: 300 + Math.round(r() * 1_200), times: 1 + Math.floor(r() * 2) })],
  ['500', () => ({ status: 500 })],
  ['latency', (r) => ({ delayMs: 300 + Math.round(r() * 900) })],
];

/**
 * Faults follow the traffic: one is queued (when none waits) while fewer than this share of a mock's
 * requests met one. A lone effect retrying then meets a fault one time in ten, not at every attempt,
 * so faults can run until the very end without exhausting retries (five in a row: 1 in 100,000).
 */
const FAULT_RATE = 0.1;
/** How often the fault loop looks at the traffic, milliseconds. */
const FAULT_TICK_MS = 100;

type WebhookMode = 'deliver' | 'drop' | 'duplicate';

export class Providers {
  readonly llamaparse = createLlamaParseMock({ processingMs: 150 });
  readonly openai = createOpenAIMock();
  /** What was injected, by kind, for the summary. */
  readonly injected = { llamaparse: {} as Record<string, number>, openai: {} as Record<string, number>, webhookSwitches: {} as Record<string, number>, parseErrors: 0 };
  readonly #requests = { llamaparse: 0, openai: 0 };
  #servers: Server[] = [];
  #queued = { llamaparse: 0, openai: 0 };
  #ticker: NodeJS.Timeout | undefined;
  llamaparseUrl = '';
  openaiUrl = '';

  constructor(
    private readonly rand: () => number,
    private readonly timeline: Timeline,
  ) {}

  async start(): Promise<void> {
    // The mocks parse with PDF.js and tokenize with cl100k in this process; loading either stalls the
    // event loop for a second or more, so it happens before the run, not in the middle of it.
    await parseLocally(textPdf([['warm-up']]), 'application/pdf');
    cl100k().encode('warm-up');
    this.llamaparseUrl = await this.#listen(this.#counting('llamaparse', this.llamaparse.app));
    this.openaiUrl = `${await this.#listen(this.#counting('openai', this.openai.app))}/v1`;
  }

  /** Starts injecting faults in proportion to the traffic, and switching the webhook mode now and then. */
  startFaults(): void {
    let ticks = 0;
    this.#ticker = setInterval(() => {
      this.#topUp('llamaparse', this.llamaparse.faults, LLAMAPARSE_FAULTS);
      this.#topUp('openai', this.openai.faults, OPENAI_FAULTS);
      if (++ticks % 20 === 0 && this.rand() < 0.5) this.#switchWebhooks();
    }, FAULT_TICK_MS);
  }

  /** Stops the faults: none queued, webhooks delivered. */
  stopFaults(): void {
    clearInterval(this.#ticker);
    this.llamaparse.faults.clear();
    this.openai.faults.clear();
    this.llamaparse.script.webhook = 'deliver';
  }

  /** Requests each mock answered (faulted ones included). */
  requests(): { llamaparse: number; openai: number } {
    return { ...this.#requests };
  }

  #switchWebhooks(): void {
    const roll = this.rand();
    const mode: WebhookMode = roll < 0.5 ? 'deliver' : roll < 0.75 ? 'drop' : 'duplicate';
    this.llamaparse.script.webhook = mode;
    this.injected.webhookSwitches[mode] = (this.injected.webhookSwitches[mode] ?? 0) + 1;
  }

  /** The next LlamaParse job to finish ends in ERROR with one of SCRIPTED_PARSE_ERRORS. */
  scriptParseError(): void {
    const code = SCRIPTED_PARSE_ERRORS[Math.floor(this.rand() * SCRIPTED_PARSE_ERRORS.length)]!;
    const pending = this.llamaparse.script.fail?.times ?? 0;
    this.llamaparse.script.fail = { times: pending + 1, error_code: code, error_message: `chaos: scripted ${code}` };
    this.injected.parseErrors += 1;
    this.timeline.add('parse-error', `next LlamaParse job ends ERROR ${code}`);
  }

  /** No more scripted job ERRORs (one scripted but not yet used is dropped). */
  calm(): void {
    this.llamaparse.script.fail = undefined;
  }

  /** LlamaParse uploads that reached the mock (not refused by a fault), per docket job id. */
  submissionsByJob(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const job of this.llamaparse.jobs.values()) {
      const jobId = job.webhookUrl ? new URL(job.webhookUrl).searchParams.get('job_id') : null;
      if (jobId) counts.set(jobId, (counts.get(jobId) ?? 0) + 1);
    }
    return counts;
  }

  /** Webhook deliveries per docket job id. */
  deliveriesByJob(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const delivery of this.llamaparse.deliveries) {
      const jobId = new URL(delivery.url).searchParams.get('job_id');
      if (jobId) counts.set(jobId, (counts.get(jobId) ?? 0) + 1);
    }
    return counts;
  }

  /** Faults served so far by each mock. */
  served(): { llamaparse: number; openai: number } {
    return { llamaparse: this.llamaparse.faults.served, openai: this.openai.faults.served };
  }

  async close(): Promise<void> {
    await Promise.all(
      this.#servers.map((server) => {
        const closed = new Promise((resolve) => server.close(resolve));
        server.closeAllConnections();
        return closed;
      }),
    );
  }

  #topUp(which: 'llamaparse' | 'openai', queue: FaultQueue, menu: [string, (rand: () => number) => Fault][]): void {
    const injected = Object.values(this.injected[which]).reduce((a, b) => a + b, 0);
    if (this.#queued[which] - queue.served > 0 || injected >= FAULT_RATE * this.#requests[which]) return;
    const [name, make] = menu[Math.floor(this.rand() * menu.length)]!;
    const fault = make(this.rand);
    queue.add(fault);
    this.#queued[which] += fault.times ?? 1;
    this.injected[which][name] = (this.injected[which][name] ?? 0) + 1;
  }

  /** The mock behind a counter of its API requests (health and control routes left out). */
  #counting(which: 'llamaparse' | 'openai', app: Express): Express {
    const outer = express();
    outer.use((req, _res, next) => {
      if (!req.path.startsWith('/mock') && req.path !== '/health') this.#requests[which] += 1;
      next();
    });
    outer.use(app);
    return outer;
  }

  async #listen(app: Express): Promise<string> {
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    this.#servers.push(server);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
}

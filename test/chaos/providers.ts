/**
 * The LlamaParse and OpenAI mocks, served from the harness's process so it can script them and read
 * what they saw: faults (429 with Retry-After, 500/503, latency) queued a few at a time throughout
 * the chaos phase, webhooks switched between delivered, dropped and duplicated, and scripted job
 * ERRORs that fail their jobs legitimately.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { createLlamaParseMock } from '../../adapters/llamaparse/mock.js';
import { createOpenAIMock } from '../../adapters/openai/mock.js';
import type { Fault, FaultQueue } from '../../adapters/mock/faults.js';
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
 * A fault is queued only when none waits, and then with this probability per round: at most one
 * per round (400-500 ms), about one request in ten under load, so five failures in a row for one
 * effect (its retries exhausted) stay rare.
 */
const FAULT_CHANCE = 0.6;

type WebhookMode = 'deliver' | 'drop' | 'duplicate';

export class Providers {
  readonly llamaparse = createLlamaParseMock({ processingMs: 150 });
  readonly openai = createOpenAIMock();
  /** What was injected, by kind, for the summary. */
  readonly injected = { llamaparse: {} as Record<string, number>, openai: {} as Record<string, number>, webhookSwitches: {} as Record<string, number>, parseErrors: 0 };
  #servers: Server[] = [];
  #queued = { llamaparse: 0, openai: 0 };
  llamaparseUrl = '';
  openaiUrl = '';

  constructor(
    private readonly rand: () => number,
    private readonly timeline: Timeline,
  ) {}

  async start(): Promise<void> {
    this.llamaparseUrl = await this.#listen(this.llamaparse.app);
    this.openaiUrl = `${await this.#listen(this.openai.app)}/v1`;
  }

  /** One round of chaos at the providers: tops up each fault queue, sometimes switches the webhook mode. */
  injectRound(): void {
    this.#topUp('llamaparse', this.llamaparse.faults, LLAMAPARSE_FAULTS);
    this.#topUp('openai', this.openai.faults, OPENAI_FAULTS);
    if (this.rand() < 0.15) {
      const roll = this.rand();
      const mode: WebhookMode = roll < 0.5 ? 'deliver' : roll < 0.75 ? 'drop' : 'duplicate';
      this.llamaparse.script.webhook = mode;
      this.injected.webhookSwitches[mode] = (this.injected.webhookSwitches[mode] ?? 0) + 1;
    }
  }

  /** The next LlamaParse job to finish ends in ERROR with one of SCRIPTED_PARSE_ERRORS. */
  scriptParseError(): void {
    const code = SCRIPTED_PARSE_ERRORS[Math.floor(this.rand() * SCRIPTED_PARSE_ERRORS.length)]!;
    const pending = this.llamaparse.script.fail?.times ?? 0;
    this.llamaparse.script.fail = { times: pending + 1, error_code: code, error_message: `chaos: scripted ${code}` };
    this.injected.parseErrors += 1;
    this.timeline.add('parse-error', `next LlamaParse job ends ERROR ${code}`);
  }

  /** Ends the chaos at the providers: no queued faults, webhooks delivered, no more scripted ERRORs. */
  calm(): void {
    this.llamaparse.faults.clear();
    this.openai.faults.clear();
    this.llamaparse.script.webhook = 'deliver';
    this.llamaparse.script.fail = undefined;
    this.timeline.add('calm', 'providers: faults cleared, webhooks delivered');
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
    if (this.#queued[which] - queue.served > 0 || this.rand() > FAULT_CHANCE) return;
    const [name, make] = menu[Math.floor(this.rand() * menu.length)]!;
    const fault = make(this.rand);
    queue.add(fault);
    this.#queued[which] += fault.times ?? 1;
    this.injected[which][name] = (this.injected[which][name] ?? 0) + 1;
  }

  async #listen(app: Express): Promise<string> {
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    this.#servers.push(server);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
}

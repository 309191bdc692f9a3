import { randomUUID } from 'node:crypto';
import busboy from 'busboy';
import express, { type Express, type Request } from 'express';
import { detectType } from '../local/file-type.js';
import { parseLocally } from '../local/parser.js';
import { z } from 'zod';
import { FaultQueue, faultList, retryHeaders } from '../mock/faults.js';
import type { JobStatus } from './client.js';
import { signLlamaCloudWebhook } from './webhook.js';


interface Job {
  id: string;
  status: JobStatus;
  error_code: string | null;
  error_message: string | null;
  pages: string[];
  webhookUrl: string | null;
  /** From `webhook_configurations` (LlamaCloud event webhooks): signed with its secret when it has one. */
  webhook: WebhookConfiguration | null;
}

interface WebhookConfiguration {
  webhook_url: string;
  webhook_events?: string[];
  webhook_output_format?: 'string' | 'json';
  webhook_signing_secret?: string;
}

const webhookConfigurations = z.array(
  z.object({
    webhook_url: z.string(),
    webhook_events: z.array(z.string()).optional(),
    webhook_output_format: z.enum(['string', 'json']).optional(),
    webhook_signing_secret: z.string().optional(),
  }),
);

export interface LlamaParseMockOptions {
  /** Keys accepted as `Authorization: Bearer <key>`; empty accepts any non-empty key. */
  apiKeys?: string[];
  /** How long a job stays PENDING, milliseconds. Default 100. */
  processingMs?: number;
}

/** What happens to the next jobs' outcomes and webhooks; tests and POST /mock/jobs set it. */
export interface JobScript {
  /** ERROR for the next n jobs. */
  fail?: { times: number; error_code: string; error_message: string };
  /** PARTIAL_SUCCESS for the next n jobs. */
  partial?: number;
  /** `drop`: no webhook; `duplicate`: delivered twice. Applies to every job until changed. */
  webhook?: 'deliver' | 'drop' | 'duplicate';
}

const jobScript = z.object({
  fail: z.object({ times: z.number().int().nonnegative(), error_code: z.string(), error_message: z.string() }).optional(),
  partial: z.number().int().nonnegative().optional(),
  webhook: z.enum(['deliver', 'drop', 'duplicate']).optional(),
});

/**
 * A local stand-in for LlamaParse's v1 parsing API: upload (multipart `file`, `webhook_url`), job
 * status, markdown/text/json results, FastAPI `{detail}` errors, and the legacy v1 result push to
 * `webhook_url`, or LlamaCloud event webhooks (`webhook_configurations`, signed with LC-Signature
 * when the configuration has a `webhook_signing_secret`). It really parses, with the local parser, so results match the document. Faults:
 * HTTP 429/5xx through `faults`, job ERROR / PARTIAL_SUCCESS and dropped or duplicated webhooks
 * through `script`.
 */
export function createLlamaParseMock(options: LlamaParseMockOptions = {}) {
  const app: Express = express();
  const faults = new FaultQueue();
  const jobs = new Map<string, Job>();
  const script: Required<Pick<JobScript, 'webhook'>> & JobScript = { webhook: 'deliver' };
  const deliveries: { url: string; status: number | 'error' }[] = [];
  /** Every API request, in order of arrival (epoch milliseconds), and the most in flight at once. */
  const requests: { at: number; method: string; path: string }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;

  app.get('/health', (_req, res) => void res.json({ status: 'ok', service: 'llamaparse-mock' }));
  app.post('/mock/faults', express.json(), (req, res) => {
    const parsed = faultList.safeParse(req.body);
    if (!parsed.success) return void res.status(422).json({ detail: parsed.error.message });
    faults.add(...parsed.data);
    res.json({ queued: true });
  });
  app.post('/mock/jobs', express.json(), (req, res) => {
    const parsed = jobScript.safeParse(req.body);
    if (!parsed.success) return void res.status(422).json({ detail: parsed.error.message });
    Object.assign(script, parsed.data);
    res.json(script);
  });

  // Every API route: auth, then any scripted fault, in FastAPI's error shape.
  app.use('/api', async (req, res, next) => {
    requests.push({ at: Date.now(), method: req.method, path: req.path });
    maxInFlight = Math.max(maxInFlight, (inFlight += 1));
    res.once('close', () => (inFlight -= 1));
    const key = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!key || (options.apiKeys?.length && !options.apiKeys.includes(key))) return void res.status(401).json({ detail: 'Invalid authentication credentials' });
    const fault = faults.take(req.path);
    if (fault?.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    if (fault?.status) {
      const detail = fault.status === 429 ? 'Too Many Requests' : 'Internal Server Error';
      return void res.status(fault.status).set(retryHeaders(fault)).json({ detail });
    }
    next();
  });

  const upload = async (req: Request, res: express.Response) => {
    const form = await readForm(req);
    if (!form.file) return void res.status(422).json({ detail: [{ loc: ['body', 'file'], msg: 'Field required', type: 'missing' }] });
    let webhook: WebhookConfiguration | null = null;
    if (form.fields.webhook_configurations) {
      const parsed = webhookConfigurations.safeParse(JSON.parse(form.fields.webhook_configurations));
      if (!parsed.success) return void res.status(422).json({ detail: parsed.error.message });
      // "Currently only the first webhook configuration in the array is used."
      webhook = parsed.data[0] ?? null;
    }
    const job: Job = { id: randomUUID(), status: 'PENDING', error_code: null, error_message: null, pages: [], webhookUrl: form.fields.webhook_url || null, webhook };
    jobs.set(job.id, job);
    setTimeout(() => void finish(job, form.file!), options.processingMs ?? 100);
    res.json({ id: job.id, status: job.status, error_code: null, error_message: null });
  };
  app.post('/api/v1/parsing/upload', upload);
  app.post('/api/parsing/upload', upload);

  async function finish(job: Job, file: { filename: string; content: Uint8Array }) {
    const type = detectType(file.content, file.filename);
    if (script.fail && script.fail.times > 0) {
      script.fail.times -= 1;
      Object.assign(job, { status: 'ERROR', error_code: script.fail.error_code, error_message: script.fail.error_message });
    } else if (!type) {
      Object.assign(job, { status: 'ERROR', error_code: 'UNSUPPORTED_FILE_TYPE', error_message: 'Unsupported file type.' });
    } else {
      try {
        const parsed = await parseLocally(file.content, type);
        job.pages = parsed.markdown.split('\n\n---\n\n');
        job.status = script.partial && script.partial > 0 ? 'PARTIAL_SUCCESS' : 'SUCCESS';
        if (job.status === 'PARTIAL_SUCCESS') script.partial! -= 1;
      } catch (error) {
        Object.assign(job, { status: 'ERROR', error_code: (error as { code?: string }).code ?? 'ERROR_DURING_PROCESSING', error_message: (error as Error).message });
      }
    }
    if (job.webhookUrl && job.status !== 'ERROR' && script.webhook !== 'drop') {
      for (let i = 0; i < (script.webhook === 'duplicate' ? 2 : 1); i++) await deliver(job);
    }
    if (job.webhook && script.webhook !== 'drop') {
      const event = `parse.${job.status.toLowerCase()}`;
      if (!job.webhook.webhook_events || job.webhook.webhook_events.includes(event)) {
        // A duplicate is a retry of the same delivery: the same event, body and signature.
        const body = eventBody(job, event);
        for (let i = 0; i < (script.webhook === 'duplicate' ? 2 : 1); i++) await deliverEvent(job.webhook, event, body);
      }
    }
  }

  /** A LlamaCloud event webhook: as an object ("json") or a JSON-encoded string (the default). */
  function eventBody(job: Job, event: string): string {
    const payload = { event_id: randomUUID(), event_type: event, timestamp: Date.now() / 1000, data: { id: job.id, job_id: job.id } };
    return JSON.stringify(job.webhook!.webhook_output_format === 'json' ? payload : JSON.stringify(payload));
  }

  async function deliverEvent(webhook: WebhookConfiguration, event: string, body: string) {
    const eventId = (JSON.parse(webhook.webhook_output_format === 'json' ? body : JSON.parse(body)) as { event_id: string }).event_id;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'llamaindex-webhook-service/1.0',
      'x-webhook-event-id': eventId,
      'x-webhook-event-type': event,
      ...(webhook.webhook_signing_secret ? { 'lc-signature': signLlamaCloudWebhook(body, webhook.webhook_signing_secret) } : {}),
    };
    try {
      const response = await fetch(webhook.webhook_url, { method: 'POST', headers, body });
      deliveries.push({ url: webhook.webhook_url, status: response.status });
    } catch {
      deliveries.push({ url: webhook.webhook_url, status: 'error' });
    }
  }

  async function deliver(job: Job) {
    const body = { txt: job.pages.join('\n\n'), md: job.pages.join('\n---\n'), json: pagesJson(job), images: [] };
    try {
      const response = await fetch(job.webhookUrl!, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      deliveries.push({ url: job.webhookUrl!, status: response.status });
    } catch {
      deliveries.push({ url: job.webhookUrl!, status: 'error' });
    }
  }

  const found = (req: Request, res: express.Response): Job | undefined => {
    const job = jobs.get(String(req.params.id));
    if (!job) res.status(404).json({ detail: `Job not found: ${req.params.id}` });
    return job;
  };
  const finished = (req: Request, res: express.Response): Job | undefined => {
    const job = found(req, res);
    if (job && job.status !== 'SUCCESS' && job.status !== 'PARTIAL_SUCCESS') {
      res.status(404).json({ detail: `Result for Parsing Job ${job.id} not found. Check job status to see if it has completed.` });
      return undefined;
    }
    return job;
  };
  const metadata = (job: Job) => ({ credits_used: job.pages.length, job_credits_usage: job.pages.length, job_pages: job.pages.length, job_auto_mode_triggered_pages: 0, job_is_cache_hit: false });

  for (const prefix of ['/api/v1/parsing', '/api/parsing']) {
    app.get(`${prefix}/job/:id`, (req, res) => {
      const job = found(req, res);
      if (job) res.json({ id: job.id, status: job.status, error_code: job.error_code, error_message: job.error_message });
    });
    app.get(`${prefix}/job/:id/result/markdown`, (req, res) => {
      const job = finished(req, res);
      if (job) res.json({ markdown: job.pages.join('\n---\n'), job_metadata: metadata(job) });
    });
    app.get(`${prefix}/job/:id/result/text`, (req, res) => {
      const job = finished(req, res);
      if (job) res.json({ text: job.pages.join('\n\n'), job_metadata: metadata(job) });
    });
    app.get(`${prefix}/job/:id/result/json`, (req, res) => {
      const job = finished(req, res);
      if (job) res.json({ pages: pagesJson(job), job_metadata: metadata(job) });
    });
  }

  return { app, faults, script, jobs, deliveries, requests: () => [...requests], maxInFlight: () => maxInFlight };
}

function pagesJson(job: Job) {
  return job.pages.map((md, i) => ({ page: i + 1, text: md, md, images: [], items: [{ type: 'text', value: md, md }], status: 'OK', width: 612, height: 792 }));
}

function readForm(req: Request): Promise<{ file: { filename: string; content: Uint8Array } | null; fields: Record<string, string> }> {
  return new Promise((resolve, reject) => {
    const form: { file: { filename: string; content: Uint8Array } | null; fields: Record<string, string> } = { file: null, fields: {} };
    const parser = busboy({ headers: req.headers });
    parser.on('file', (name, stream, info) => {
      const parts: Buffer[] = [];
      stream.on('data', (part: Buffer) => parts.push(part));
      stream.on('end', () => {
        if (name === 'file') form.file = { filename: info.filename ?? 'upload', content: new Uint8Array(Buffer.concat(parts)) };
      });
    });
    parser.on('field', (name, value) => (form.fields[name] = value));
    parser.on('close', () => resolve(form));
    parser.on('error', reject);
    req.pipe(parser);
  });
}

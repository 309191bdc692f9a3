import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { nestedDeeperThan, textProblem } from '../json-limits.js';

/**
 * What a LlamaParse webhook says, read from its raw body. LlamaCloud sends two shapes: an event
 * (`{event_id, event_type: "parse.*", data: {job_id}}`, sometimes as a JSON-encoded string) and, from
 * the v1 API, the parse result itself pushed to the URL we gave it (which carries our job id).
 */
export type LlamaParseNotice =
  | { kind: 'event'; remoteJobId: string; status: string; dedupeKey: string; /** When LlamaCloud made the event, Unix seconds. */ timestamp?: number }
  | { kind: 'push'; dedupeKey: string };

/** A webhook body can carry a whole parse result (a v1 push), so it may be large, but never deep. */
export const WEBHOOK_LIMITS = { maxDepth: 64, maxBytes: 50 * 1024 * 1024 } as const;

export const WEBHOOK_EXPECTED =
  'expected a LlamaCloud event {event_id, event_type: "parse.*", data: {job_id}} or a v1 result push {md | txt | json}';

/** A body that is not a LlamaParse webhook; `code` is stable, the message says what is wrong. */
export class WebhookError extends Error {
  constructor(
    readonly code: 'INVALID_WEBHOOK' | 'UNSUPPORTED_CHARSET',
    message: string,
  ) {
    super(message);
    this.name = 'WebhookError';
  }
}

/** Its ids reach the database (a dedupe key, a lookup by parse job id), so they must be storable. */
const storable = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .superRefine((text, ctx) => {
      const problem = textProblem(text);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });

const llamaParseEvent = z.object({
  event_id: storable(256),
  event_type: storable(64).pipe(z.string().regex(/^parse\.[A-Za-z0-9_.-]+$/, 'event_type must be a parse.* event')),
  timestamp: z.number().optional(),
  data: z.object({ job_id: storable(256) }).loose(),
});

const llamaParseV1Push = z
  .object({
    md: z.string().optional(),
    txt: z.string().optional(),
    json: z.array(z.unknown()).optional(),
    jsonOutput: z.array(z.unknown()).optional(),
    images: z.array(z.unknown()).optional(),
  })
  .refine((body) => body.md !== undefined || body.txt !== undefined || body.json !== undefined || body.jsonOutput !== undefined, {
    message: 'a result push carries md, txt or json',
  });

/** Reads a webhook's raw body (bytes as received, and its Content-Type); throws WebhookError when it is not one. */
export function readLlamaParseWebhook(raw: Uint8Array, contentType: string | undefined): LlamaParseNotice {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType ?? '')?.[1]?.toLowerCase();
  if (charset && charset !== 'utf-8' && charset !== 'utf8') throw new WebhookError('UNSUPPORTED_CHARSET', 'send the webhook body in UTF-8');
  const parsed = parseJson(raw);
  const body = typeof parsed === 'string' ? parseJson(parsed) : parsed;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new WebhookError('INVALID_WEBHOOK', `the body is not a JSON object; ${WEBHOOK_EXPECTED}`);

  if ('event_id' in body || 'event_type' in body) {
    const result = llamaParseEvent.safeParse(body);
    if (!result.success) throw new WebhookError('INVALID_WEBHOOK', firstIssue(result.error));
    const event = result.data;
    return {
      kind: 'event',
      remoteJobId: event.data.job_id,
      status: event.event_type.slice('parse.'.length).toUpperCase(),
      dedupeKey: `llamaparse:event:${event.event_id}`,
      ...(event.timestamp === undefined ? {} : { timestamp: event.timestamp }),
    };
  }
  // A push has no id of its own: the same result delivered twice is the same notice.
  if (llamaParseV1Push.safeParse(body).success) {
    return { kind: 'push', dedupeKey: `llamaparse:push:${createHash('sha256').update(JSON.stringify(body)).digest('hex')}` };
  }
  // Field names go into the message only when they are plain words: they are the sender's input.
  const fields = Object.keys(body).slice(0, 5).map((key) => (/^\w{1,40}$/.test(key) ? key : JSON.stringify(key.slice(0, 40)))).join(', ') || 'none';
  throw new WebhookError('INVALID_WEBHOOK', `not a LlamaParse webhook (fields: ${fields}); ${WEBHOOK_EXPECTED}`);
}

/** The header LlamaCloud signs webhooks in: `LC-Signature: sha256=<hex>`. */
export const SIGNATURE_HEADER = 'lc-signature';

/**
 * How far a signed event's `timestamp` may be from now, milliseconds: 5 minutes. LlamaCloud makes
 * at most 3 attempts, 1, 2 and 4 s apart, each timing out after 30 s, so its last retry leaves
 * within about 100 s of the event; the rest is room for clock skew.
 */
export const SIGNATURE_TOLERANCE_MS = 5 * 60_000;

/** A webhook that is not provably LlamaCloud's, or not fresh: the route answers 401 and changes nothing. */
export class WebhookAuthError extends Error {
  constructor(
    readonly code: 'WEBHOOK_SIGNATURE_MISSING' | 'WEBHOOK_SIGNATURE_INVALID' | 'WEBHOOK_REPLAYED',
    message: string,
  ) {
    super(message);
    this.name = 'WebhookAuthError';
  }
}

/** `sha256=<hex>`: HMAC-SHA256 of `raw` under `secret`, as LlamaCloud sends it in LC-Signature. */
export function signLlamaCloudWebhook(raw: Uint8Array | string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;
}

/**
 * Checks LlamaCloud's signature of a webhook as the vendor documents it: `LC-Signature:
 * sha256=<hex>`, the HMAC-SHA256 of the raw body (the bytes as received, before any parsing) under
 * the webhook's signing secret, compared in constant time. Throws WebhookAuthError when it is
 * missing or wrong.
 */
export function verifyLlamaCloudSignature(raw: Uint8Array, header: string | string[] | undefined, secret: string): void {
  if (header === undefined || header === '') throw new WebhookAuthError('WEBHOOK_SIGNATURE_MISSING', 'the webhook is not signed (no LC-Signature header)');
  const given = /^sha256=([0-9a-f]{64})$/i.exec(Array.isArray(header) ? (header.length === 1 ? header[0]! : '') : header.trim())?.[1];
  const expected = createHmac('sha256', secret).update(raw).digest();
  if (!given || !timingSafeEqual(Buffer.from(given, 'hex'), expected)) throw new WebhookAuthError('WEBHOOK_SIGNATURE_INVALID', 'the webhook signature (LC-Signature) does not match its body');
}

/**
 * Refuses a signed event made outside the tolerance window: the signature covers the body and so
 * its `timestamp`, so an old delivery replayed word for word is refused here. A signed event must
 * carry one; a v1 result push has none (its replays are refused once the job has ended).
 */
export function checkFresh(notice: LlamaParseNotice, nowMs: number, toleranceMs = SIGNATURE_TOLERANCE_MS): void {
  if (notice.kind !== 'event') return;
  if (notice.timestamp === undefined) throw new WebhookAuthError('WEBHOOK_REPLAYED', 'a signed event must carry its timestamp');
  const age = nowMs - notice.timestamp * 1000;
  if (Math.abs(age) > toleranceMs) {
    throw new WebhookAuthError('WEBHOOK_REPLAYED', `the event was made ${Math.round(age / 1000)} s from now; at most ${toleranceMs / 1000} s either way is accepted`);
  }
}

function parseJson(text: Uint8Array | string): unknown {
  // Checked before JSON.parse, which recurses per level of nesting.
  if (nestedDeeperThan(text, WEBHOOK_LIMITS.maxDepth)) throw new WebhookError('INVALID_WEBHOOK', `the body nests deeper than ${WEBHOOK_LIMITS.maxDepth} levels`);
  try {
    return JSON.parse(typeof text === 'string' ? text : new TextDecoder().decode(text));
  } catch {
    throw new WebhookError('INVALID_WEBHOOK', 'the body is not JSON');
  }
}

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0]!;
  return `${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`;
}

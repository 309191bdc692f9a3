import { checkCallbackUrl } from '../adapters/callback/address.js';
import { postCallback } from '../adapters/callback/client.js';
import type { Clock, RetryPolicy, ServiceHandler, ServiceRegistration } from '../index.js';
import type { UploadContext } from '../machines/upload.js';
import { jobView } from './job-view.js';
import { guarded } from './service-errors.js';
import type { PipelineStore } from './store.js';

export interface CallbackSettings {
  /** HMAC-SHA256 key of the signature; unset, uploads with a callback URL are refused. */
  secret: string | undefined;
  /** Allow loopback and private addresses. */
  allowPrivate: boolean;
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** Delay before the first retry, milliseconds; it doubles each time, up to 10 minutes. */
  backoffMs: number;
}

/** One attempt's limit, milliseconds. */
const CALLBACK_TIMEOUT_MS = 10_000;
const MAX_BACKOFF_MS = 10 * 60_000;

/** Why an upload's callback URL is refused, as the upload route reports it. */
export class CallbacksDisabledError extends Error {
  readonly code = 'CALLBACKS_DISABLED';
}

/** Checks a callback URL at upload: callbacks configured, the URL's form, where its host resolves. */
export async function acceptCallbackUrl(settings: CallbackSettings, url: string): Promise<string> {
  if (!settings.secret) throw new CallbacksDisabledError('this server sends no callbacks: set DOCKET_CALLBACK_SECRET to sign them');
  return checkCallbackUrl(url, settings);
}

/**
 * The service behind the upload machine's `notifyClient` action: POSTs the job, in the API's job
 * view, to its callback URL, signed. It runs as an outbox effect written in the step that ended the
 * job, so a crash cannot lose it, and the runtime retries it with backoff; its idempotency key is
 * the delivery id a receiver can use to drop repeats (delivery is at least once).
 */
export function callbackService(store: PipelineStore, settings: CallbackSettings, clock: Clock): ServiceRegistration {
  const retry: Partial<RetryPolicy> = { maxAttempts: settings.maxAttempts, baseDelayMs: settings.backoffMs, maxDelayMs: Math.max(MAX_BACKOFF_MS, settings.backoffMs), factor: 2 };
  const notifyClient: ServiceHandler<{ context: UploadContext }> = async ({ input, idempotencyKey, signal, logger }) => {
    const { jobId, callbackUrl } = input.context;
    if (!callbackUrl) return;
    const job = await store.job(jobId);
    if (!job) return; // deleted since: nothing to tell
    if (!settings.secret) {
      logger.warn({ job_id: jobId }, 'a callback is due but DOCKET_CALLBACK_SECRET is unset; not sent');
      return;
    }
    const delivery = { url: callbackUrl, body: JSON.stringify(jobView(job)), deliveryId: idempotencyKey, event: `job.${job.stage}` };
    const { status } = await postCallback(delivery, { ...settings, secret: settings.secret, timeoutMs: CALLBACK_TIMEOUT_MS, now: () => Math.floor(clock.now() / 1000) }, signal);
    logger.info({ job_id: jobId, status, delivery: idempotencyKey }, 'callback delivered');
  };
  return { handler: guarded('notifyClient', notifyClient as ServiceHandler), retry, timeoutMs: CALLBACK_TIMEOUT_MS + 5_000 };
}

import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { AdapterError } from '../errors.js';
import { retryAfterMs } from '../retry-after.js';
import { parseCallbackUrl, resolveAllowed, type CallbackPolicy } from './address.js';
import { signCallback } from './signature.js';

export interface CallbackDelivery {
  url: string;
  /** The JSON body, sent as is and signed over these exact bytes. */
  body: string;
  /** Names the delivery: the same on every retry, so a receiver can drop repeats. */
  deliveryId: string;
  /** `job.complete`, `job.failed`, `job.canceled`. */
  event: string;
}

export interface CallbackClientOptions extends CallbackPolicy {
  secret: string;
  /** One attempt's limit, milliseconds. */
  timeoutMs: number;
  /** Unix time in seconds, for the signature. */
  now: () => number;
}

/**
 * POSTs a signed callback. The connection goes only to addresses checked against the policy at
 * this moment (the request's own DNS lookup is the checked one), and redirects are not followed.
 * Outcomes in the ServiceFailure contract: 2xx done; 408, 425, 429, 5xx, timeouts and network
 * errors transient (retried, honouring Retry-After); any other answer permanent.
 */
export async function postCallback(delivery: CallbackDelivery, options: CallbackClientOptions, signal?: AbortSignal): Promise<{ status: number }> {
  const url = parseCallbackUrl(delivery.url);
  // Resolved and checked before connecting; the lookup below hands the connection these addresses only.
  const addresses = await resolveAllowed(url.hostname, options);
  const pinned: LookupFunction = (_hostname, lookupOptions, callback) => {
    if ((lookupOptions as { all?: boolean }).all) return (callback as (error: null, addresses: { address: string; family: number }[]) => void)(null, addresses);
    callback(null, addresses[0]!.address, addresses[0]!.family);
  };
  const body = Buffer.from(delivery.body);
  const headers = {
    'content-type': 'application/json',
    'content-length': String(body.byteLength),
    'user-agent': 'docket-callback/1',
    'x-docket-event': delivery.event,
    'x-docket-delivery': delivery.deliveryId,
    'x-docket-signature': signCallback(options.secret, delivery.body, options.now()),
  };
  const status = await new Promise<{ status: number; retryAfter: string | undefined }>((resolve, reject) => {
    const request = (url.protocol === 'https:' ? https : http).request(url, { method: 'POST', headers, lookup: pinned, timeout: options.timeoutMs, signal }, (response) => {
      response.resume(); // the answer's body is not read, only its status
      resolve({ status: response.statusCode ?? 0, retryAfter: response.headers['retry-after'] });
    });
    request.on('timeout', () => request.destroy(new AdapterError('CALLBACK_TIMEOUT', `the callback receiver did not answer within ${options.timeoutMs} ms`, { transient: true })));
    request.on('error', (error) =>
      reject(error instanceof AdapterError ? error : new AdapterError('CALLBACK_UNREACHABLE', `the callback receiver cannot be reached: ${(error as { code?: string }).code ?? error.message}`, { transient: true, cause: error })),
    );
    request.end(body);
  });
  if (status.status >= 200 && status.status < 300) return { status: status.status };
  const transient = status.status === 408 || status.status === 425 || status.status === 429 || status.status >= 500;
  const why = status.status >= 300 && status.status < 400 ? ' (redirects are not followed)' : '';
  throw new AdapterError(transient ? 'CALLBACK_RECEIVER_UNAVAILABLE' : 'CALLBACK_REJECTED', `the callback receiver answered ${status.status}${why}`, {
    transient,
    status: status.status,
    retryAfterMs: transient ? retryAfterMs({ 'retry-after': status.retryAfter }) : undefined,
  });
}

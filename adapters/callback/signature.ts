import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Client callbacks are signed like Stripe's webhooks: `X-Docket-Signature: t=<unix seconds>,v1=<hex>`,
 * where the hex is HMAC-SHA256, keyed with DOCKET_CALLBACK_SECRET, of `<t>.<raw body>`. A receiver
 * recomputes it over the bytes it received, compares in constant time, and refuses a `t` too far from
 * its clock (a replay); `verifyCallbackSignature` does all three.
 */
export const SIGNATURE_HEADER = 'x-docket-signature';

/** Default tolerance between the signature's time and the receiver's clock, seconds. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

export function signCallback(secret: string, body: string, unixSeconds: number): string {
  return `t=${unixSeconds},v1=${createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex')}`;
}

/** Whether `header` signs `body` with `secret`, within `toleranceSeconds` of `nowSeconds`. */
export function verifyCallbackSignature(
  secret: string,
  header: string | undefined,
  body: string | Uint8Array,
  options: { nowSeconds?: number; toleranceSeconds?: number } = {},
): boolean {
  const match = /^t=(\d{1,12}),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!match) return false;
  const t = Number(match[1]);
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - t) > (options.toleranceSeconds ?? SIGNATURE_TOLERANCE_SECONDS)) return false;
  const expected = createHmac('sha256', secret).update(`${t}.`).update(body).digest();
  return timingSafeEqual(expected, Buffer.from(match[2]!, 'hex'));
}

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The per-job token in a LlamaParse callback URL, when no signing secret is configured: 32 random
 * bytes, so it cannot be guessed, and only its sha256 is stored (a database reader learns nothing
 * that would let them post a callback). A fast hash is enough for a random 256-bit value.
 */
export function newWebhookToken(): string {
  return randomBytes(32).toString('base64url');
}

export function webhookTokenDigest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Whether `token` is the one whose digest was stored, compared in constant time. */
export function webhookTokenMatches(token: string | undefined, storedSha256: string | null): boolean {
  if (token === undefined || storedSha256 === null) return false;
  const stored = Buffer.from(storedSha256, 'hex');
  const given = createHash('sha256').update(token, 'utf8').digest();
  return stored.length === given.length && timingSafeEqual(stored, given);
}

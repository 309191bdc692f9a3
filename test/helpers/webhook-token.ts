import type { Pipeline } from '../../pipeline/index.js';
import { newWebhookToken, webhookTokenDigest } from '../../pipeline/webhook-tokens.js';

/**
 * Gives a job a callback token, as its submission to LlamaParse does, and returns it: tests of a
 * local job (never submitted) post webhooks with it.
 */
export async function webhookToken(pipeline: Pipeline, jobId: string): Promise<string> {
  const token = newWebhookToken();
  await pipeline.store.setWebhookToken(jobId, webhookTokenDigest(token));
  return token;
}

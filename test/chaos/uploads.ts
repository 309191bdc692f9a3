/**
 * The run's uploads through the HTTP API (`POST /v1/uploads`, multipart `file`), spread evenly over
 * a period, a few in flight at once. An upload refused by the chaos (5xx, server unreachable while
 * the database or the server is down) is retried until accepted: the bytes decide the job, so a
 * retry of an upload that was in fact stored comes back as the same job (200, duplicate).
 */
import { makeDocument } from './documents.js';

export interface UploadPlan {
  url: string;
  count: number;
  seed: number;
  /** Milliseconds over which the uploads are spread. */
  spreadMs: number;
  /** Uploads in flight at once. */
  concurrency: number;
  /** Give up on one upload after this long, milliseconds. */
  giveUpMs: number;
}

export interface UploadResult {
  index: number;
  name: string;
  jobId: string | null;
  /** Attempts made, and the statuses of those refused. */
  attempts: number;
  refusals: string[];
}

export async function uploadAll(plan: UploadPlan): Promise<UploadResult[]> {
  const results: UploadResult[] = [];
  const started = Date.now();
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < plan.count; i = next++) {
      const due = started + (i * plan.spreadMs) / plan.count;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
      results.push(await uploadOne(plan, i));
    }
  };
  await Promise.all(Array.from({ length: plan.concurrency }, lane));
  return results.sort((a, b) => a.index - b.index);
}

async function uploadOne(plan: UploadPlan, index: number): Promise<UploadResult> {
  const doc = makeDocument(index, plan.seed);
  const result: UploadResult = { index, name: doc.name, jobId: null, attempts: 0, refusals: [] };
  const deadline = Date.now() + plan.giveUpMs;
  while (Date.now() < deadline) {
    result.attempts += 1;
    const form = new FormData();
    form.append('file', new Blob([Buffer.from(doc.content)], { type: doc.type }), doc.name);
    try {
      const response = await fetch(`${plan.url}/v1/uploads`, { method: 'POST', body: form, signal: AbortSignal.timeout(10_000) });
      const body = (await response.json().catch(() => ({}))) as { job_id?: string; error?: { code?: string } };
      if ((response.status === 202 || response.status === 200) && body.job_id) {
        result.jobId = body.job_id;
        return result;
      }
      result.refusals.push(`${response.status}${body.error?.code ? ` ${body.error.code}` : ''}`);
    } catch (error) {
      result.refusals.push((error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return result;
}

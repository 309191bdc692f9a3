import { Router } from 'express';
import { CallbackUrlError } from '../../adapters/callback/address.js';
import { detectType } from '../../adapters/local/file-type.js';
import { tenantOf } from '../auth.js';
import { CallbacksDisabledError } from '../../pipeline/callbacks.js';
import { HttpError } from '../errors.js';
import { readUploadForm, type UploadLimits } from '../multipart.js';
import type { Pipeline } from '../../pipeline/index.js';
import { metadataField, parseInput } from '../schemas.js';

/** The upload's callback URL, checked (form, and where its host resolves), or a 400 saying why not. */
async function acceptCallbackUrl(pipeline: Pipeline, url: string): Promise<string> {
  try {
    return await pipeline.acceptCallbackUrl(url);
  } catch (error) {
    if (error instanceof CallbacksDisabledError || error instanceof CallbackUrlError) throw new HttpError(400, error.code, error.message);
    if ((error as { code?: unknown }).code === 'CALLBACK_DNS_FAILED') throw new HttpError(400, 'CALLBACK_URL_REFUSED', (error as Error).message);
    throw error;
  }
}

/**
 * A 429 when the tenant has used its upload rate (UPLOAD_RATE_LIMIT), decided before a byte of the
 * body is read: the body is left unread and the connection closes after the answer, as a refused
 * key's does (server/auth.ts), so a client sending 50 MiB learns at once and nothing is stored.
 */
async function admit(pipeline: Pipeline, tenant: string, hasBody: boolean): Promise<void> {
  const admission = await pipeline.budgets.admitUpload(tenant);
  if (admission.admitted) return;
  const seconds = Math.max(1, Math.ceil(admission.retryAfterMs / 1000));
  throw new HttpError(429, 'RATE_LIMITED', `too many uploads for this tenant; try again in ${seconds} s`, {
    'Retry-After': String(seconds),
    ...(hasBody ? { Connection: 'close' } : {}),
  });
}

/** POST /v1/uploads: multipart `file` (+ optional `metadata` JSON object, `callback_url`) -> 202 with the job, or 200 for a duplicate. */
export function uploadRoutes(pipeline: Pipeline, limits: UploadLimits): Router {
  const router = Router();
  router.post('/v1/uploads', async (req, res) => {
    const tenant = tenantOf(res);
    await admit(pipeline, tenant, req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined);
    const form = await readUploadForm(req, limits);
    if (!form.file) throw new HttpError(400, 'NO_FILE', 'no file: send it in the multipart field "file"');
    const filename = JSON.stringify(form.file.filename);
    if (form.file.content.byteLength === 0) throw new HttpError(400, 'EMPTY_FILE', `the file ${filename} is empty`);
    const metadata = form.fields.metadata === undefined ? undefined : parseInput(metadataField, form.fields.metadata, 'INVALID_METADATA');
    // Decided from the bytes; nothing is stored for a file we cannot read.
    if (!detectType(form.file.content, form.file.filename)) {
      throw new HttpError(415, 'UNSUPPORTED_TYPE', `${filename} is not a PDF, HTML, Markdown or plain-text file (judged by its content)`);
    }
    const callbackUrl = form.fields.callback_url === undefined ? undefined : await acceptCallbackUrl(pipeline, form.fields.callback_url);
    const { jobId, duplicate } = await pipeline.submit({ content: form.file.content, filename: form.file.filename, metadata, tenant, callbackUrl });
    const job = await pipeline.store.jobFor(tenant, jobId);
    res
      .status(duplicate ? 200 : 202)
      .location(`/v1/jobs/${jobId}`)
      .json({ job_id: jobId, stage: job?.stage ?? 'queued', ...(duplicate ? { duplicate: true } : {}), links: { self: `/v1/jobs/${jobId}` } });
  });
  return router;
}

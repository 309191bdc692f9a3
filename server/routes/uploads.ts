import { Router } from 'express';
import { detectType } from '../../adapters/local/file-type.js';
import { HttpError } from '../errors.js';
import { readUploadForm } from '../multipart.js';
import type { Pipeline } from '../../pipeline/index.js';
import { metadataField } from '../schemas.js';

/** POST /v1/uploads: multipart `file` (+ optional `metadata` JSON object) -> 202 with the job, or 200 for a duplicate. */
export function uploadRoutes(pipeline: Pipeline, maxBytes: number): Router {
  const router = Router();
  router.post('/v1/uploads', async (req, res) => {
    const form = await readUploadForm(req, maxBytes);
    if (!form.file) throw new HttpError(400, 'NO_FILE', 'no file: send it in the multipart field "file"');
    if (form.file.content.byteLength === 0) throw new HttpError(400, 'EMPTY_FILE', `the file "${form.file.filename}" is empty`);
    let metadata: Record<string, unknown> | undefined;
    if (form.fields.metadata !== undefined) {
      const parsed = metadataField.safeParse(form.fields.metadata);
      if (!parsed.success) throw new HttpError(400, 'INVALID_METADATA', parsed.error.issues[0]!.message);
      metadata = parsed.data;
    }
    // Decided from the bytes; nothing is stored for a file we cannot read.
    if (!detectType(form.file.content, form.file.filename)) {
      throw new HttpError(415, 'UNSUPPORTED_TYPE', `"${form.file.filename}" is not a PDF, HTML, Markdown or plain-text file (judged by its content)`);
    }
    const { jobId, duplicate } = await pipeline.submit({ content: form.file.content, filename: form.file.filename, metadata });
    const job = await pipeline.store.job(jobId);
    res
      .status(duplicate ? 200 : 202)
      .location(`/v1/jobs/${jobId}`)
      .json({ job_id: jobId, stage: job?.stage ?? 'queued', ...(duplicate ? { duplicate: true } : {}), links: { self: `/v1/jobs/${jobId}` } });
  });
  return router;
}

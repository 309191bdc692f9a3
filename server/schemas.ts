import { z } from 'zod';
import { HttpError } from './errors.js';
import { UPLOAD_STAGES } from '../machines/upload.js';

/** The wire formats the server accepts, parsed at the edge. */

export const metadataField = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'metadata must be JSON' });
      return z.NEVER;
    }
  })
  .pipe(z.record(z.string(), z.unknown(), { error: 'metadata must be a JSON object' }));

export const jobIdParam = z.object({ id: z.uuid({ error: 'job id must be a uuid' }) });

export const listQuery = z.object({
  stage: z.enum(UPLOAD_STAGES).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().optional(),
});

/** LlamaParse v1 result push: the result itself; we put our job id in the webhook URL. */
export const llamaParseV1Push = z
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

/** LlamaCloud event webhook: names the parse job; sometimes delivered as a JSON-encoded string. */
export const llamaParseEvent = z.object({
  event_id: z.string().min(1),
  event_type: z.string().regex(/^parse\./, 'event_type must be a parse.* event'),
  timestamp: z.number().optional(),
  data: z.object({ job_id: z.string().min(1) }).loose(),
});

export const webhookQuery = z.object({ job_id: z.uuid({ error: 'job_id must be a uuid' }).optional() });

/** Parses request input or throws a 400 naming the first bad field. */
export function parseInput<T>(schema: z.ZodType<T>, value: unknown, code: string): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new HttpError(400, code, `${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`);
  }
  return result.data;
}

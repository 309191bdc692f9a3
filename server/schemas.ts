import { z } from 'zod';
import { HttpError } from './errors.js';
import { findBadText, nestedDeeperThan, textProblem } from '../adapters/json-limits.js';
import { UPLOAD_STAGES } from '../machines/upload.js';

/**
 * The wire formats the server accepts, parsed at the edge: whatever passes here can be stored
 * (no NUL, no lone surrogates, bounded depth and size), so input never reaches the database as a 500.
 */

/** Limits of the upload's `metadata` field: JSON nesting levels, and bytes (UTF-8). */
export const METADATA_LIMITS = { maxDepth: 32, maxBytes: 64 * 1024 } as const;

/** Text that PostgreSQL can store: no NUL, no lone surrogate. */
export const storableText = z.string().superRefine((text, ctx) => {
  const problem = textProblem(text);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const metadataField = z
  .string()
  .refine((text) => Buffer.byteLength(text) <= METADATA_LIMITS.maxBytes, { message: `metadata is larger than ${METADATA_LIMITS.maxBytes} bytes`, abort: true })
  .refine((text) => !nestedDeeperThan(text, METADATA_LIMITS.maxDepth), { message: `metadata nests deeper than ${METADATA_LIMITS.maxDepth} levels`, abort: true })
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'metadata must be JSON' });
      return z.NEVER;
    }
  })
  .transform((value, ctx) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      ctx.addIssue({ code: 'custom', message: 'metadata must be a JSON object' });
      return z.NEVER;
    }
    const bad = findBadText(value);
    if (bad) {
      ctx.addIssue({ code: 'custom', message: `metadata${bad.path ? ` at ${bad.path}` : ''} ${bad.problem}` });
      return z.NEVER;
    }
    return value as Record<string, unknown>;
  });

export const jobIdParam = z.object({ id: z.uuid({ error: 'job id must be a uuid' }) });

export const listQuery = z.object({
  stage: z.enum(UPLOAD_STAGES).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().optional(),
});

const CURSOR_TEXT = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)\|([0-9a-f-]{36})$/;
const uuid = z.uuid();

/**
 * A list cursor as the API makes them: base64url of `<ISO time>|<job uuid>`. Checked in full, since
 * its parts go to the database as a timestamptz and a uuid: a real date from 1970 to 9999, a real uuid.
 */
export const cursorParam = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,200}$/, 'cursor is not one this API returned')
  .transform((cursor, ctx) => {
    const match = CURSOR_TEXT.exec(Buffer.from(cursor, 'base64url').toString('latin1'));
    const createdAt = new Date(match?.[1] ?? '');
    const valid =
      match !== null &&
      !Number.isNaN(createdAt.getTime()) &&
      createdAt.toISOString() === match[1] && // no 2024-02-30 rolled over into March
      createdAt.getUTCFullYear() >= 1970 &&
      uuid.safeParse(match[2]).success;
    if (!valid) {
      ctx.addIssue({ code: 'custom', message: 'cursor is not one this API returned' });
      return z.NEVER;
    }
    return { createdAt, jobId: match[2]! };
  });

export const webhookQuery = z.object({
  job_id: z.uuid({ error: 'job_id must be a uuid' }).optional(),
  /** The per-job token of the callback URL (base64url of 32 bytes) when no signing secret is set. */
  token: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'token is not one this server made').optional(),
});

/** Parses request input or throws a 400 naming the first bad field. */
export function parseInput<T>(schema: z.ZodType<T>, value: unknown, code: string): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new HttpError(400, code, `${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`);
  }
  return result.data;
}

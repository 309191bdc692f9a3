import express, { Router } from 'express';
import { z } from 'zod';
import { AdapterError } from '../../adapters/errors.js';
import { textProblem } from '../../adapters/json-limits.js';
import { tenantOf } from '../auth.js';
import { HttpError } from '../errors.js';
import type { Pipeline } from '../../pipeline/index.js';
import { SearchTimeoutError, type SearchHit, type SearchRequest } from '../../pipeline/search.js';
import { parseInput } from '../schemas.js';
import { SEARCH_LIMITS } from '../search-limits.js';

const storable = (max: number) =>
  z
    .string()
    .max(max)
    .superRefine((text, ctx) => {
      const problem = textProblem(text);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });

/** POST /v1/search's body. Unknown fields are refused, so a misspelt `filter` is not silently ignored. */
export const searchBody = z.strictObject({
  query: storable(SEARCH_LIMITS.maxQueryChars).refine((text) => text.trim().length > 0, 'query must not be empty'),
  k: z.number().int().min(1).max(SEARCH_LIMITS.maxK).default(SEARCH_LIMITS.defaultK),
  filter: z
    .strictObject({
      job_id: z.uuid({ error: 'job_id must be a uuid' }).optional(),
      metadata: z
        .record(storable(200), z.union([storable(SEARCH_LIMITS.maxValueChars), z.number(), z.boolean(), z.null()]))
        .refine((fields) => Object.keys(fields).length <= SEARCH_LIMITS.maxMetadataFields, `metadata filters at most ${SEARCH_LIMITS.maxMetadataFields} fields`)
        .optional(),
    })
    .optional(),
});

/** A hit as the API shows it. */
export function hitView(hit: SearchHit) {
  return { score: hit.score, job_id: hit.job_id, chunk_index: hit.index, text: hit.text, tokens: hit.tokens, headers: hit.headers, filename: hit.filename, links: { job: `/v1/jobs/${hit.job_id}` } };
}

/** The request as the pipeline takes it. */
export function searchRequest(body: z.infer<typeof searchBody>): SearchRequest {
  return { query: body.query, k: body.k, filter: { jobId: body.filter?.job_id, metadata: body.filter?.metadata } };
}

/** Runs a search, turning its failures into HTTP answers. */
export async function runSearch(pipeline: Pipeline, request: SearchRequest) {
  try {
    return { mode: pipeline.search.mode, results: (await pipeline.search.search(request)).map(hitView) };
  } catch (error) {
    if (error instanceof SearchTimeoutError) throw new HttpError(503, error.code, error.message, { 'Retry-After': '5' });
    if (error instanceof AdapterError) {
      // The embedder (OpenAI) refused or is away: not the client's fault, and not a bug of ours.
      throw new HttpError(error.transient ? 503 : 502, 'EMBEDDING_FAILED', `the query could not be embedded: ${error.code}`, error.transient ? { 'Retry-After': String(Math.ceil((error.retryAfterMs ?? 5000) / 1000)) } : {});
    }
    throw error;
  }
}

/** POST /v1/search { query, k?, filter? }: the nearest embedded chunks of complete jobs. */
export function searchRoutes(pipeline: Pipeline): Router {
  const router = Router();
  router.post('/v1/search', express.json({ limit: '64kb', strict: true }), async (req, res) => {
    if (!req.is('application/json')) throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the search as application/json');
    const body = parseInput(searchBody, req.body, 'INVALID_SEARCH');
    // Only the caller's tenant's jobs: another tenant's chunks are never a hit.
    res.json(await runSearch(pipeline, { ...searchRequest(body), tenant: tenantOf(res) }));
  });
  return router;
}

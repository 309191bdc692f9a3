import type { Queryable } from '../index.js';
import type { Chunk } from '../adapters/local/chunker.js';

export const PIPELINE_SCHEMA = 'upload_pipeline';
/** The tenant of every job on a server without API keys, and of jobs from before tenants. */
export const DEFAULT_TENANT = 'default';
const t = (name: string) => `"${PIPELINE_SCHEMA}".${name}`;

/** A job as the API shows it. */
export interface JobRow {
  job_id: string;
  /** Whose job it is: the tenant of the API key that uploaded it. */
  tenant: string;
  stage: string;
  status: string;
  filename: string;
  bytes: number;
  sha256: string;
  media_type: string | null;
  parse_job_id: string | null;
  metadata: Record<string, unknown>;
  error: { stage: string; code: string; message: string } | null;
  warnings: string[];
  attempts: number;
  chunks: number;
  embedded: number;
  created_at: Date;
  updated_at: Date;
  /** sha256 (hex) of the token in the job's LlamaParse callback URL; never shown. */
  webhook_token_sha256: string | null;
}

export interface ChunkRow {
  index: number;
  text: string;
  tokens: number;
  headers: string[];
}

/** The upload pipeline's own tables: files, parsed documents, chunks, and the job projection. */
export class PipelineStore {
  /** Whether chunks.embedding is a pgvector `vector` (else a real[]). */
  #vector: boolean | undefined;

  constructor(private readonly db: Queryable) {}

  /** The same store on an open transaction, so its writes commit with the caller's. */
  within(tx: Queryable): PipelineStore {
    return new PipelineStore(tx);
  }

  /** Stores uploaded bytes once per content hash. */
  // Bytes cross the wire as base64 text, decoded and encoded by the server: PGlite's own bytea
  // parameter and result handling run byte by byte on the main thread (20 MiB: 15 s to store,
  // 5 s to read, the event loop blocked throughout); as base64 the same file takes 1.1 s and 0.35 s.
  async putFile(sha256: string, content: Uint8Array, now: Date): Promise<void> {
    await this.db.query(`INSERT INTO ${t('files')} (sha256, content, created_at) VALUES ($1, decode($2, 'base64'), $3) ON CONFLICT DO NOTHING`, [
      sha256,
      Buffer.from(content.buffer, content.byteOffset, content.byteLength).toString('base64'),
      now,
    ]);
  }

  async file(sha256: string): Promise<Uint8Array | null> {
    const { rows } = await this.db.query<{ content: string }>(`SELECT encode(content, 'base64') AS content FROM ${t('files')} WHERE sha256 = $1`, [sha256]);
    return rows[0] ? new Uint8Array(Buffer.from(rows[0].content, 'base64')) : null;
  }

  async jobBySha(tenant: string, sha256: string): Promise<JobRow | null> {
    const { rows } = await this.db.query<JobRow>(`SELECT * FROM ${t('upload_jobs')} WHERE tenant = $1 AND sha256 = $2`, [tenant, sha256]);
    return rows[0] ?? null;
  }

  /** The job whose parse runs under the parser's job id `parseJobId`. */
  async jobByParseId(parseJobId: string): Promise<JobRow | null> {
    const { rows } = await this.db.query<JobRow>(`SELECT * FROM ${t('upload_jobs')} WHERE parse_job_id = $1`, [parseJobId]);
    return rows[0] ?? null;
  }

  /** Any tenant's job: for the workers, the webhook and operator commands. Routes use `jobFor`. */
  async job(jobId: string): Promise<JobRow | null> {
    const { rows } = await this.db.query<JobRow>(`SELECT * FROM ${t('upload_jobs')} WHERE job_id = $1`, [jobId]);
    return rows[0] ?? null;
  }

  /**
   * The job `jobId` if it belongs to `tenant`, else null: the one way a route reads a job. Null for
   * another tenant's job exactly as for no job at all, so both answer 404 and a tenant cannot learn
   * that another's job id exists.
   */
  async jobFor(tenant: string, jobId: string): Promise<JobRow | null> {
    const { rows } = await this.db.query<JobRow>(`SELECT * FROM ${t('upload_jobs')} WHERE job_id = $1 AND tenant = $2`, [jobId, tenant]);
    return rows[0] ?? null;
  }

  /**
   * Jobs newest first, optionally of one stage; `cursor` is the last job of the previous page.
   * With `tenant`, only that tenant's jobs (every route passes it); without, every tenant's.
   */
  async jobs(options: { tenant?: string; stage?: string; limit: number; cursor?: { createdAt: Date; jobId: string } }): Promise<JobRow[]> {
    const { rows } = await this.db.query<JobRow>(
      `SELECT * FROM ${t('upload_jobs')}
       WHERE ($1::text IS NULL OR stage = $1)
         AND ($2::timestamptz IS NULL OR (created_at, job_id) < ($2, $3::uuid))
         AND ($5::text IS NULL OR tenant = $5)
       ORDER BY created_at DESC, job_id DESC LIMIT $4`,
      [options.stage ?? null, options.cursor?.createdAt ?? null, options.cursor?.jobId ?? null, options.limit, options.tenant ?? null],
    );
    return rows;
  }

  /** Records the digest of the token a job's next LlamaParse callback URL carries (replacing any earlier one). */
  async setWebhookToken(jobId: string, tokenSha256: string): Promise<void> {
    await this.db.query(`UPDATE ${t('upload_jobs')} SET webhook_token_sha256 = $2 WHERE job_id = $1`, [jobId, tokenSha256]);
  }

  /**
   * Deletes a job's rows: its chunks, parsed document, parse submissions, the job itself, and its
   * bytes unless another job holds the same content. Says whether the bytes went.
   */
  async deleteJob(jobId: string, sha256: string): Promise<{ bytesDeleted: boolean }> {
    const { rows } = await this.db.query<{ bytes_deleted: boolean }>(
      `WITH c AS (DELETE FROM ${t('chunks')} WHERE job_id = $1),
       d AS (DELETE FROM ${t('documents')} WHERE job_id = $1),
       p AS (DELETE FROM ${t('parse_submissions')} WHERE job_id = $1),
       j AS (DELETE FROM ${t('upload_jobs')} WHERE job_id = $1),
       f AS (
         DELETE FROM ${t('files')} WHERE sha256 = $2
           AND NOT EXISTS (SELECT 1 FROM ${t('upload_jobs')} WHERE sha256 = $2 AND job_id <> $1)
         RETURNING 1
       )
       SELECT EXISTS (SELECT 1 FROM f) AS bytes_deleted`,
      [jobId, sha256],
    );
    return { bytesDeleted: rows[0]?.bytes_deleted ?? false };
  }

  /** The remote parse job a submission with this key already made, if any. */
  async submission(idempotencyKey: string): Promise<string | null> {
    const { rows } = await this.db.query<{ remote_job_id: string }>(`SELECT remote_job_id FROM ${t('parse_submissions')} WHERE idempotency_key = $1`, [idempotencyKey]);
    return rows[0]?.remote_job_id ?? null;
  }

  async putSubmission(idempotencyKey: string, jobId: string, remoteJobId: string, now: Date): Promise<void> {
    await this.db.query(
      `INSERT INTO ${t('parse_submissions')} (idempotency_key, job_id, remote_job_id, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
      [idempotencyKey, jobId, remoteJobId, now],
    );
  }

  async putDocument(jobId: string, markdown: string, pages: number, now: Date): Promise<void> {
    await this.db.query(
      `INSERT INTO ${t('documents')} (job_id, markdown, pages, created_at)
       SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM ${t('upload_jobs')} WHERE job_id = $1)
       ON CONFLICT (job_id) DO UPDATE SET markdown = excluded.markdown, pages = excluded.pages`,
      [jobId, markdown, pages, now],
    );
  }

  async document(jobId: string): Promise<{ markdown: string; pages: number } | null> {
    const { rows } = await this.db.query<{ markdown: string; pages: number }>(`SELECT markdown, pages FROM ${t('documents')} WHERE job_id = $1`, [jobId]);
    return rows[0] ?? null;
  }

  /**
   * Makes a job's chunks exactly `chunks`, however often it runs: rows are upserted by (job, index)
   * and rows past the new end deleted, in one statement whose two parts touch disjoint rows (a
   * delete-then-insert of the same keys in one statement cannot see its own delete: 23505). A chunk
   * whose text is unchanged keeps its embedding, so a late duplicate run cannot undo embedding.
   */
  async putChunks(jobId: string, chunks: Chunk[], now: Date): Promise<void> {
    await this.db.query(
      `WITH extra AS (DELETE FROM ${t('chunks')} WHERE job_id = $1 AND index >= $4)
       INSERT INTO ${t('chunks')} AS c (job_id, index, text, tokens, headers, "offset", created_at)
       SELECT $1, n.index, n.text, n.tokens, n.headers, n.offset, $3
       FROM jsonb_to_recordset($2::jsonb) AS n(index int, text text, tokens int, headers jsonb, "offset" int)
       WHERE EXISTS (SELECT 1 FROM ${t('upload_jobs')} WHERE job_id = $1) -- a late attempt of a deleted job writes nothing
       ON CONFLICT (job_id, index) DO UPDATE SET text = excluded.text, tokens = excluded.tokens, headers = excluded.headers,
         "offset" = excluded."offset",
         embedding = CASE WHEN c.text = excluded.text THEN c.embedding END`,
      [jobId, JSON.stringify(chunks), now, chunks.length],
    );
  }

  async chunks(jobId: string): Promise<ChunkRow[]> {
    const { rows } = await this.db.query<ChunkRow>(`SELECT index, text, tokens, headers FROM ${t('chunks')} WHERE job_id = $1 ORDER BY index`, [jobId]);
    return rows;
  }

  /** How many of a job's chunks have an embedding, and how many do not: counted from the rows. */
  async embeddingCounts(jobId: string): Promise<{ embedded: number; remaining: number }> {
    const { rows } = await this.db.query<{ embedded: number; remaining: number }>(
      `SELECT count(embedding)::int AS embedded, (count(*) - count(embedding))::int AS remaining FROM ${t('chunks')} WHERE job_id = $1`,
      [jobId],
    );
    return rows[0] ?? { embedded: 0, remaining: 0 };
  }

  /** The next chunks without an embedding, in order, and how many lack one in all. */
  async unembedded(jobId: string, limit: number): Promise<{ chunks: { index: number; text: string; tokens: number }[]; total: number }> {
    const { rows } = await this.db.query<{ index: number; text: string; tokens: number; total: number }>(
      `SELECT index, text, tokens, count(*) OVER ()::int AS total FROM ${t('chunks')}
       WHERE job_id = $1 AND embedding IS NULL ORDER BY index LIMIT $2`,
      [jobId, limit],
    );
    return { chunks: rows, total: rows[0]?.total ?? 0 };
  }

  async putEmbeddings(jobId: string, embeddings: { index: number; vector: number[] }[]): Promise<void> {
    const vector = await this.#isVector();
    // Both column types take a text literal; only the brackets differ.
    const literal = (v: number[]) => (vector ? `[${v.join(',')}]` : `{${v.join(',')}}`);
    await this.db.query(
      `UPDATE ${t('chunks')} c SET embedding = e.embedding::${vector ? 'vector' : 'real[]'}
       FROM jsonb_to_recordset($2::jsonb) AS e(index int, embedding text)
       WHERE c.job_id = $1 AND c.index = e.index`,
      [jobId, JSON.stringify(embeddings.map((e) => ({ index: e.index, embedding: literal(e.vector) })))],
    );
  }

  async #isVector(): Promise<boolean> {
    if (this.#vector === undefined) {
      const { rows } = await this.db.query<{ udt_name: string }>(
        `SELECT udt_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'chunks' AND column_name = 'embedding'`,
        [PIPELINE_SCHEMA],
      );
      this.#vector = rows[0]?.udt_name === 'vector';
    }
    return this.#vector;
  }
}

import type { Embedder } from '../adapters/contracts.js';
import { DocketError, type Database, type Queryable } from '../index.js';
import { PIPELINE_SCHEMA } from './store.js';

const t = (name: string) => `"${PIPELINE_SCHEMA}".${name}`;

/**
 * How search finds the nearest chunks: `hnsw`, pgvector's approximate index (where the extension
 * exists and the configured size is at most 2000 dimensions); `exact`, a scan of every embedded
 * chunk in scope computing cosine similarity in SQL (pgvector's `<=>` without an index, or, with
 * no pgvector, a sum over the float arrays).
 */
export type SearchMode = 'hnsw' | 'exact';

export interface SearchRequest {
  /** The text to look for; embedded with the pipeline's embedder. */
  query: string;
  /** How many chunks at most. */
  k: number;
  filter?: {
    /** Only this job's chunks. */
    jobId?: string;
    /** Only jobs whose metadata contains these fields (jsonb `@>`). */
    metadata?: Record<string, unknown>;
  };
  /** Only this tenant's jobs (the API passes the caller's); undefined searches every job (the CLI, an operator's tool). */
  tenant?: string;
}

export interface SearchHit {
  job_id: string;
  index: number;
  /** Cosine similarity, 1 for the same direction, 0 for unrelated. */
  score: number;
  text: string;
  tokens: number;
  headers: string[];
  filename: string;
}

/** SEARCH_INDEX: whether to keep an HNSW index (where pgvector exists). */
export type SearchIndexSetting = 'auto' | 'hnsw' | 'none';

/** A search that ran past its time limit: the exact scan over too many chunks. */
export class SearchTimeoutError extends DocketError {
  constructor(timeoutMs: number, cause: unknown) {
    super('SEARCH_TIMEOUT', `the search took longer than ${timeoutMs} ms; narrow it with a filter`, { cause });
  }
}

/** Nearest chunks to a query, through pgvector's HNSW index where it can, else an exact scan. */
export class ChunkSearch {
  private constructor(
    private readonly db: Database,
    private readonly embedder: Embedder,
    private readonly dimensions: number,
    private readonly timeoutMs: number,
    /** The column is a pgvector `vector` (else `real[]`). */
    private readonly vector: boolean,
    readonly mode: SearchMode,
  ) {}

  /**
   * Finds out the mode, making the HNSW index for the configured size when `index` asks for it.
   * `auto` indexes on PostgreSQL only: the index is kept up on every chunk written, and PGlite does
   * that work on the server's own thread (a 10,000-chunk document held /health for seconds), while
   * its exact scan with pgvector's operator stays fast at an embedded deployment's size.
   */
  static async open(db: Database, embedder: Embedder, options: { dimensions: number; timeoutMs: number; index: SearchIndexSetting }): Promise<ChunkSearch> {
    const { rows } = await db.query<{ udt_name: string }>(
      `SELECT udt_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'chunks' AND column_name = 'embedding'`,
      [PIPELINE_SCHEMA],
    );
    const vector = rows[0]?.udt_name === 'vector';
    const wanted = options.index === 'hnsw' || (options.index === 'auto' && db.kind === 'pg');
    if (vector && wanted) await db.query(`SELECT ${t('ensure_search_index')}($1)`, [options.dimensions]);
    // Whatever made it (an earlier setting included), an index that exists is used and kept up.
    const { rows: found } = await db.query(`SELECT 1 FROM pg_indexes WHERE schemaname = $1 AND indexname = $2`, [PIPELINE_SCHEMA, `chunks_embedding_hnsw_${options.dimensions}`]);
    const indexed = vector && found.length > 0;
    return new ChunkSearch(db, embedder, options.dimensions, options.timeoutMs, vector, indexed ? 'hnsw' : 'exact');
  }

  async search(request: SearchRequest, options: { signal?: AbortSignal } = {}): Promise<SearchHit[]> {
    // Each token is at least one byte, so the byte length is a safe bound for the vendor's limits.
    const [embedding] = await this.embedder.embed([{ text: request.query, tokens: Buffer.byteLength(request.query) }], options);
    const query = this.#statement(normalised(embedding!), request);
    try {
      return await this.db.transaction(async (tx) => {
        await this.#bound(tx);
        const { rows } = await tx.query<SearchHit>(query.text, query.values);
        return rows.map((row) => ({ ...row, score: Number(row.score) }));
      });
    } catch (error) {
      if ((error as { code?: unknown }).code === '57014') throw new SearchTimeoutError(this.timeoutMs, error);
      throw error;
    }
  }

  /** The cost bound: a time limit on the statement; with HNSW, an iterative scan so filters still find k. */
  async #bound(tx: Queryable): Promise<void> {
    await tx.query(`SELECT set_config('statement_timeout', $1, true)`, [String(this.timeoutMs)]);
    if (this.mode === 'hnsw') {
      await tx.query(`SELECT set_config('hnsw.iterative_scan', 'strict_order', true), set_config('hnsw.ef_search', '100', true)`);
    }
  }

  #statement(embedding: number[], request: SearchRequest): { text: string; values: unknown[] } {
    const values: unknown[] = [];
    const param = (value: unknown) => `$${values.push(value)}`;
    const dims = this.dimensions; // a validated integer: typmods and the index predicate need a literal
    const q = param(this.vector ? `[${embedding.join(',')}]` : `{${embedding.join(',')}}`);
    const where = [...this.#scope(request, param), this.vector ? `vector_dims(c.embedding) = ${dims}` : `cardinality(c.embedding) = ${dims}`];
    const columns = `c.job_id, c.index, c.text, c.tokens, c.headers, j.filename`;
    const from = `${t('chunks')} c JOIN ${t('upload_jobs')} j ON j.job_id = c.job_id`;
    const k = param(request.k);
    if (this.vector) {
      // The same expression as the partial index's, so the planner can use it (mode hnsw) or sort
      // every row in scope by it (exact).
      const distance = `c.embedding::vector(${dims}) <=> ${q}::vector(${dims})`;
      return { text: `SELECT ${columns}, 1 - (${distance}) AS score FROM ${from} WHERE ${where.join(' AND ')} ORDER BY ${distance} LIMIT ${k}`, values };
    }
    // No pgvector: cosine similarity over the float arrays (the query is unit length).
    const score = `(SELECT sum(e * q) / nullif(sqrt(sum(e * e)), 0) FROM unnest(c.embedding, ${q}::real[]) AS u(e, q))`;
    return {
      text: `SELECT * FROM (SELECT ${columns}, ${score} AS score FROM ${from} WHERE ${where.join(' AND ')}) s
             WHERE score IS NOT NULL ORDER BY score DESC, job_id, index LIMIT ${k}`,
      values,
    };
  }

  /** Which chunks a search may return: embedded, of complete jobs, within the filter and the tenant. */
  #scope(request: SearchRequest, param: (value: unknown) => string): string[] {
    const where = ['c.embedding IS NOT NULL', `j.stage = 'complete'`];
    if (request.filter?.jobId !== undefined) where.push(`c.job_id = ${param(request.filter.jobId)}::uuid`);
    if (request.filter?.metadata !== undefined) where.push(`j.metadata @> ${param(JSON.stringify(request.filter.metadata))}::jsonb`);
    if (request.tenant !== undefined) where.push(`j.tenant = ${param(request.tenant)}`);
    return where;
  }
}

function normalised(vector: number[]): number[] {
  const norm = Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0));
  return norm > 0 ? vector.map((x) => x / norm) : vector;
}

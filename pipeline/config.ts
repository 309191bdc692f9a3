import type { Rate } from './budgets.js';

/**
 * The settings the pipeline reads, named after the environment variables that set them in the
 * server (server/config.ts parses and validates them; its Config is a superset of this).
 */
export interface PipelineConfig {
  /** `postgres://…`, `pglite:<dir>` or `memory`. */
  DATABASE_URL: string;
  /** Schema of the engine's tables. */
  DOCKET_SCHEMA: string;
  /** Largest accepted upload, bytes. */
  MAX_UPLOAD_BYTES: number;
  /** Target chunk size, cl100k tokens. */
  CHUNK_TOKENS: number;
  /** Vector size. */
  EMBEDDING_DIMENSIONS: number;
  /** Chunks per embedding batch (one durable effect each). */
  EMBED_BATCH_SIZE: number;
  /**
   * How long an embedding call waits for concurrent ones to share its request, milliseconds; 0
   * never merges. Unset: 20 for OpenAI, 0 for the local embedder.
   */
  EMBED_COALESCE_WINDOW_MS?: number;
  /** Most chunks one merged embedding request carries. */
  EMBED_COALESCE_MAX_INPUTS: number;
  /** Worker threads for parsing, chunking and local embedding. */
  DOCUMENT_WORKERS: number;
  /** Longest one document task may run, milliseconds. */
  DOCUMENT_TIME_LIMIT_MS: number;
  /** Heap of each document thread, MB. */
  DOCUMENT_MEMORY_MB: number;
  /** A PDF with more pages fails with PAGE_LIMIT. */
  MAX_PDF_PAGES: number;
  /** Step loops per process. */
  WORKER_CONCURRENCY: number;
  /** Set to parse with LlamaParse. */
  LLAMA_CLOUD_API_KEY?: string;
  LLAMA_CLOUD_BASE_URL: string;
  /** Set to embed with OpenAI. */
  OPENAI_API_KEY?: string;
  OPENAI_BASE_URL: string;
  OPENAI_EMBEDDING_MODEL: string;
  /** Longest a search statement may run, milliseconds (the exact scan's cost bound). */
  SEARCH_TIMEOUT_MS: number;
  /** Keep an HNSW index for search: `auto` (on PostgreSQL with pgvector), `hnsw` (wherever pgvector is), `none`. */
  SEARCH_INDEX: 'auto' | 'hnsw' | 'none';
  /** Signs client callbacks; unset, uploads with a callback URL are refused. */
  DOCKET_CALLBACK_SECRET?: string;
  /** Allow callback URLs on loopback and private addresses. */
  DOCKET_CALLBACK_ALLOW_PRIVATE: boolean;
  /** Attempts to deliver a callback. */
  DOCKET_CALLBACK_ATTEMPTS: number;
  /** Delay before a callback's first retry, milliseconds. */
  DOCKET_CALLBACK_BACKOFF_MS: number;
  /** This server's address as LlamaParse can reach it, for webhooks. */
  PUBLIC_URL?: string;
  /**
   * Signs LlamaParse's webhooks (LC-Signature, HMAC-SHA256 of the body); unset, each job's callback
   * URL carries a random token instead.
   */
  LLAMA_CLOUD_WEBHOOK_SECRET?: string;
  /** API keys from the configuration, with their tenants; more live in the api_keys table. */
  DOCKET_API_KEYS?: { tenant: string; key: string }[];
  /** Uploads per tenant in any window (`60/1m`); past it, 429 with Retry-After. Unset: unlimited. */
  UPLOAD_RATE_LIMIT?: Rate;
  /** Embedding calls in flight at once, across every process. Unset: unlimited. */
  EMBEDDER_CONCURRENCY?: number;
  /** cl100k tokens the embedding calls starting in any window may carry, across every process. */
  EMBEDDER_TOKEN_LIMIT?: Rate;
  /** Embedding requests starting in any window, across every process. */
  EMBEDDER_REQUEST_LIMIT?: Rate;
  /** Parser calls (submissions and status checks) in flight at once, across every process. */
  PARSER_CONCURRENCY?: number;
  /** Parser calls starting in any window, across every process. */
  PARSER_REQUEST_LIMIT?: Rate;
  /** How long a provider's 429 without Retry-After pauses a budgeted provider for every worker, milliseconds. */
  PROVIDER_PAUSE_MS: number;
}

import { availableParallelism } from 'node:os';
import { z } from 'zod';

/** `<count>/<window>`: `60/1m`, `1000000/60s`, `5/500ms`, `100/h`; a window without a number is one unit. */
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 } as const;
const rate = z
  .string()
  .trim()
  .regex(/^\d+\s*\/\s*(\d+)?\s*(ms|s|m|min|h)$/, 'a rate is <count>/<window>, e.g. 60/1m, 1000000/60s, 10/500ms (units ms, s, m or min, h)')
  .transform((value) => {
    const [, count, amount, unit] = /^(\d+)\s*\/\s*(\d+)?\s*(ms|s|m|min|h)$/.exec(value)!;
    return { limit: Number(count), windowMs: Number(amount ?? 1) * UNIT_MS[unit as keyof typeof UNIT_MS] };
  })
  .pipe(
    z.object({
      limit: z.number().int().min(1, 'the count is at least 1').max(1e12),
      windowMs: z.number().int().min(10, 'the window is at least 10ms').max(86_400_000, 'the window is at most 24h'),
    }),
  );
const concurrency = z.coerce.number().int().min(1).max(10_000);

/**
 * The server's and CLI's configuration: the one place that reads the environment. Every variable
 * is parsed here, and a bad one fails at start naming the variable.
 */
const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8000),
  HOST: z.string().default('127.0.0.1'),
  /** postgres://… for PostgreSQL; pglite:<dir> or memory for the embedded database. */
  DATABASE_URL: z.string().default('pglite:./data'),
  DOCKET_SCHEMA: z.string().default('docket'),
  MAX_UPLOAD_BYTES: z.coerce.number().int().positive().default(50 * 1024 * 1024),
  CHUNK_TOKENS: z.coerce.number().int().min(32).max(8191).default(512),
  EMBEDDING_DIMENSIONS: z.coerce.number().int().min(8).max(3072).default(1536),
  EMBED_BATCH_SIZE: z.coerce.number().int().min(1).max(2048).default(64),
  /**
   * How long an embedding call waits for concurrent ones (other jobs') to share its request,
   * milliseconds; 0 never merges. Unset: 20 for OpenAI, 0 for the local embedder.
   */
  EMBED_COALESCE_WINDOW_MS: z.coerce.number().int().min(0).max(10_000).optional(),
  /** Most chunks one merged embedding request carries (OpenAI takes 2048). */
  EMBED_COALESCE_MAX_INPUTS: z.coerce.number().int().min(1).max(2048).default(2048),
  /** Set to parse with LlamaParse; unset, documents are parsed locally. */
  LLAMA_CLOUD_API_KEY: z.string().min(1).optional(),
  LLAMA_CLOUD_BASE_URL: z.url().default('https://api.cloud.llamaindex.ai'),
  /** Set to embed with OpenAI; unset, the local hashing embedder is used. */
  OPENAI_API_KEY: z.string().min(1).optional(),
  OPENAI_BASE_URL: z.url().default('https://api.openai.com/v1'),
  OPENAI_EMBEDDING_MODEL: z.string().default('text-embedding-3-small'),
  /** The server's address as LlamaParse can reach it, for webhooks; unset, jobs are only polled. */
  PUBLIC_URL: z.url().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  WORKER_CONCURRENCY: z.coerce.number().int().positive().default(2),
  /** `docket worker` serves GET /metrics on this port (at HOST) when set; `serve` has it on PORT. */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /** How long `serve` and `worker` wait for an unreachable database at start, milliseconds. */
  DATABASE_WAIT_MS: z.coerce.number().int().nonnegative().default(60_000),
  /** Worker threads that parse, chunk and embed locally, off the main thread; default one a core. */
  DOCUMENT_WORKERS: z.coerce.number().int().min(1).max(256).default(() => availableParallelism()),
  /**
   * Longest a document may parse or chunk (or a batch embed) in its thread, milliseconds; then
   * PARSE_TIMEOUT. At most 240000: the runtime aborts any effect after 300000 as a transient failure.
   */
  DOCUMENT_TIME_LIMIT_MS: z.coerce.number().int().min(100).max(240_000).default(120_000),
  /** Heap of each document thread, MB; a document needing more fails with DOCUMENT_TOO_COMPLEX. */
  DOCUMENT_MEMORY_MB: z.coerce.number().int().min(32).max(65_536).default(1024),
  /** PDFs with more pages fail with PAGE_LIMIT before any text is extracted. */
  MAX_PDF_PAGES: z.coerce.number().int().min(1).default(2000),
  /**
   * Hosts the API answers to (the Host header), comma-separated, each with or without a port; `*`
   * for any. Unset: localhost, 127.0.0.1, [::1] and PUBLIC_URL's host when HOST is a loopback
   * address; any host (with a warning at start) otherwise.
   */
  ALLOWED_HOSTS: z
    .string()
    .optional()
    .transform((value) => value?.split(',').map((host) => host.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^(\*|(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+)(:\d{1,5})?)$/, 'each host is name[:port], [ipv6][:port] or *')).optional()),
  /** Longest a search statement may run, milliseconds; past it, 503 SEARCH_TIMEOUT. */
  SEARCH_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  /**
   * Keep pgvector's HNSW index over the embeddings: `auto` on PostgreSQL (where the extension exists),
   * not on PGlite, which maintains it on the server's own thread; `hnsw` wherever pgvector is; `none`.
   */
  SEARCH_INDEX: z.enum(['auto', 'hnsw', 'none']).default('auto'),
  /** HMAC-SHA256 key that signs client callbacks; unset, uploads with a callback_url are refused. */
  DOCKET_CALLBACK_SECRET: z.string().min(16, 'at least 16 characters').optional(),
  /** Allow callback URLs that resolve to loopback, private or reserved addresses. */
  DOCKET_CALLBACK_ALLOW_PRIVATE: z.enum(['true', 'false', '1', '0']).default('false').transform((value) => value === 'true' || value === '1'),
  /** Attempts to deliver a callback, the first included. */
  DOCKET_CALLBACK_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(10),
  /** Delay before a callback's first retry, milliseconds; doubles each time, up to 10 minutes. */
  DOCKET_CALLBACK_BACKOFF_MS: z.coerce.number().int().min(10).max(600_000).default(5_000),
  /** How long an upload's body may send nothing before it is refused (408), in milliseconds. Default 30000. */
  UPLOAD_IDLE_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
  /**
   * API keys, `tenant:key,…`: each key (at least 20 characters, no comma) is accepted as `Authorization:
   * Bearer <key>` for its tenant. Unset (and no key made by `docket keys create`): the API is open, on loopback only.
   */
  DOCKET_API_KEYS: z
    .string()
    .optional()
    .transform((value) => value?.split(',').map((entry) => entry.trim()).filter(Boolean))
    .pipe(
      z
        .array(
          z
            .string()
            .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}:[^\s,]{20,}$/, 'each entry is tenant:key, the tenant 1-64 letters, digits, _ . -, the key at least 20 characters without spaces')
            .transform((entry) => ({ tenant: entry.slice(0, entry.indexOf(':')), key: entry.slice(entry.indexOf(':') + 1) })),
        )
        .optional(),
    ),
  /** Uploads per tenant in any window, e.g. `60/1m`; past it POST /v1/uploads answers 429 with Retry-After. Unset: unlimited. */
  UPLOAD_RATE_LIMIT: rate.optional(),
  /** Embedding calls in flight at once across every process on the database. Unset: unlimited. */
  EMBEDDER_CONCURRENCY: concurrency.optional(),
  /** cl100k tokens the embedding calls starting in any window may carry, across every process, e.g. `1000000/1m` (OpenAI's TPM). */
  EMBEDDER_TOKEN_LIMIT: rate.optional(),
  /** Embedding requests starting in any window, across every process, e.g. `3000/1m` (OpenAI's RPM). */
  EMBEDDER_REQUEST_LIMIT: rate.optional(),
  /** Parser calls (LlamaParse uploads and status checks) in flight at once across every process. */
  PARSER_CONCURRENCY: concurrency.optional(),
  /** Parser calls starting in any window, across every process, e.g. `60/1m`. */
  PARSER_REQUEST_LIMIT: rate.optional(),
  /** How long a 429 without Retry-After pauses a provider that has a budget, for every worker; milliseconds. */
  PROVIDER_PAUSE_MS: z.coerce.number().int().min(0).max(600_000).default(1000),
  /** LlamaCloud's webhook signing secret; set, every webhook must carry a valid LC-Signature. */
  LLAMA_CLOUD_WEBHOOK_SECRET: z.string().min(16).optional(),
});

export type Config = z.infer<typeof checked>;

// A chunk is embedded in one call: a token limit below the chunk size could never let one through.
const checked = schema.superRefine((config, context) => {
  if (config.EMBEDDER_TOKEN_LIMIT && config.EMBEDDER_TOKEN_LIMIT.limit < config.CHUNK_TOKENS) {
    context.addIssue({
      code: 'custom',
      path: ['EMBEDDER_TOKEN_LIMIT'],
      message: `allows ${config.EMBEDDER_TOKEN_LIMIT.limit} tokens per window, fewer than one chunk may hold (CHUNK_TOKENS=${config.CHUNK_TOKENS})`,
    });
  }
});

/** Parses `env` (process.env by default); throws one error naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = checked.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`invalid configuration: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/** A URL with its password hidden: `postgres://user:***@host/db`. */
/**
 * The environment for a child process of this one (`docket worker --processes`): this process's,
 * with `overrides` on top except for variables the environment already sets (`keep` lists which
 * of them a user's own value beats).
 */
export function childEnvironment(overrides: Record<string, string>, keep: readonly string[] = []): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const [name, value] of Object.entries(overrides)) if (!(keep.includes(name) && env[name] !== undefined)) env[name] = value;
  return env;
}

export function maskSecrets(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@');
}

/** The configuration with secrets and passwords hidden, for logs. */
export function describeConfig(config: Config): Record<string, unknown> {
  const secret = (value: string | undefined) => (value ? `${value.slice(0, 4)}***` : undefined);
  return {
    ...config,
    DATABASE_URL: maskSecrets(config.DATABASE_URL),
    LLAMA_CLOUD_API_KEY: secret(config.LLAMA_CLOUD_API_KEY),
    OPENAI_API_KEY: secret(config.OPENAI_API_KEY),
    DOCKET_API_KEYS: config.DOCKET_API_KEYS?.map(({ tenant }) => `${tenant}:***`),
    LLAMA_CLOUD_WEBHOOK_SECRET: config.LLAMA_CLOUD_WEBHOOK_SECRET ? '***' : undefined,
    DOCKET_CALLBACK_SECRET: config.DOCKET_CALLBACK_SECRET ? '***' : undefined,
    parser: config.LLAMA_CLOUD_API_KEY ? 'llamaparse' : 'local',
    embedder: config.OPENAI_API_KEY ? 'openai' : 'local',
  };
}

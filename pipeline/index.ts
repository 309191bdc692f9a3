import { createHash, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AnyStateMachine } from 'xstate';
import { uploadMachine } from '../machines/upload.js';
import {
  ConfigError,
  createRuntime,
  migrate,
  openDatabase,
  SchemaName,
  systemClock,
  type Clock,
  type Database,
  type Runtime,
  type RuntimeOptions,
  type ServiceHandler,
} from '../index.js';
import type { PipelineConfig } from './config.js';
import type { Embedder } from '../adapters/contracts.js';
import { MIGRATIONS as PIPELINE_MIGRATIONS } from './sql/migrations.js';
import { uploadProjection } from './projection.js';
import { LlamaParseClient } from '../adapters/llamaparse/client.js';
import { LlamaParseParser } from '../adapters/llamaparse/parser.js';
import { LocalEmbedder, LocalParser } from '../adapters/local/providers.js';
import { LIMITS as OPENAI_LIMITS, OpenAIEmbedder } from '../adapters/openai/embedder.js';
import { CoalescingEmbedder } from '../adapters/coalescing-embedder.js';
import { DocumentWorkers } from '../adapters/local/workers.js';
import { acceptCallbackUrl, callbackService, type CallbackSettings } from './callbacks.js';
import { ChunkSearch } from './search.js';
import { pipelineServices, type Providers } from './services.js';
import { DEFAULT_TENANT, PIPELINE_SCHEMA, PipelineStore } from './store.js';
import { ApiKeys, keyDigest } from './api-keys.js';
import { BudgetedEmbedder, BudgetedParser } from './budgeted-providers.js';
import { Budgets } from './budgets.js';

/**
 * The runtime's idempotency key of an upload: its content hash within its tenant. The default
 * tenant keeps the key it had before tenants existed, so jobs from then still dedupe.
 */
const uploadKey = (tenant: string, sha256: string) => (tenant === DEFAULT_TENANT ? `sha256:${sha256}` : `tenant:${tenant}:sha256:${sha256}`);

export interface Pipeline {
  runtime: Runtime;
  store: PipelineStore;
  db: Database;
  /** The API keys: configured and in the table. */
  keys: ApiKeys;
  /** Nearest chunks to a query (pipeline/search.ts); `search.mode` says how. */
  search: ChunkSearch;
  /** The shared budgets: upload admission per tenant, provider limits, and their metrics. */
  budgets: Budgets;
  /**
   * Stores the bytes and starts a job for `tenant` (default 'default'); the same bytes again from
   * the same tenant return that tenant's existing job (whose callback URL, if any, stays the first
   * upload's). Another tenant's same bytes are a job of its own.
   */
  submit(upload: {
    content: Uint8Array;
    filename: string;
    metadata?: Record<string, unknown>;
    tenant?: string;
    callbackUrl?: string;
  }): Promise<{ jobId: string; duplicate: boolean }>;
  /** A callback URL checked for an upload (pipeline/callbacks.ts); throws CallbacksDisabledError or CallbackUrlError. */
  acceptCallbackUrl(url: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * Version 3: `failed` is no longer final; RETRY goes back to the stage that failed. Version 2
 * counts embedded chunks from the rows (version 1 summed batch outputs). Snapshots of versions 1 and
 * 2 have the same shape and state names, so version 3 steps them as they are; but one that reached
 * `failed` under them is done (a final state then) and cannot be retried.
 */
const UPLOAD_MACHINE_VERSION = { version: 3, compatibleVersions: [1, 2] };

export { MIGRATIONS as PIPELINE_MIGRATIONS } from './sql/migrations.js';

export interface PipelineOptions {
  logger: Logger;
  clock?: Clock;
  /** Run the runtime's workers in this process. Default true. */
  worker?: boolean;
  /** Engine tuning beyond what the configuration sets (lease, retry policy, …). */
  tuning?: Pick<RuntimeOptions, 'leaseMs' | 'retry' | 'pollIntervalMs' | 'effectConcurrency'>;
  /** Wraps each service's handler by name: for tracing, or for fault injection in tests. */
  instrument?: (name: string, handler: ServiceHandler) => ServiceHandler;
  /** The upload machine to run. Default machines/upload.ts; tests of replay run a changed one. */
  machine?: AnyStateMachine;
  /**
   * An open database to use instead of opening DATABASE_URL; close() leaves it open. Tests run two
   * pipelines on one PGlite this way, as two processes share one PostgreSQL.
   */
  database?: Database;
  /**
   * Start the document threads at once with their modules loaded, and keep them (DocumentWorkers'
   * `warm`): for processes that run documents (`serve`, `worker`, `ingest`). Default false.
   */
  warmWorkers?: boolean;
}

/**
 * pgvector for the embeddings when the store is PGlite (PostgreSQL has the extension installed, or
 * not). Loaded only then, since PGlite and its extension are optional packages.
 */
async function pgliteExtensions(url: string | undefined): Promise<{ pgliteExtensions?: Record<string, unknown> }> {
  if (url && /^postgres(ql)?:\/\//.test(url)) return {};
  const { vector } = await import('@electric-sql/pglite-pgvector').catch((error: unknown) => {
    throw new ConfigError('the embedded database needs @electric-sql/pglite and @electric-sql/pglite-pgvector: npm install them, or set DATABASE_URL to a postgres:// URL', { cause: error });
  });
  return { pgliteExtensions: { vector } };
}

/** Opens the database, migrates the engine and pipeline schemas, and starts the runtime (workers unless `worker: false`). */
export async function createPipeline(config: PipelineConfig, options: PipelineOptions): Promise<Pipeline> {
  const clock = options.clock ?? systemClock;
  const db = options.database ?? (await openDatabase(config.DATABASE_URL, { logger: options.logger, ...(await pgliteExtensions(config.DATABASE_URL)) }));
  const closeDb = () => (options.database ? Promise.resolve() : db.close());
  // Threads start on first use, unless warmed: a process that never parses (`docket status`) starts none.
  const workers = new DocumentWorkers({
    warm: options.warmWorkers === true && (options.worker ?? true),
    threads: config.DOCUMENT_WORKERS,
    timeLimitMs: config.DOCUMENT_TIME_LIMIT_MS,
    memoryMb: config.DOCUMENT_MEMORY_MB,
    maxPdfPages: config.MAX_PDF_PAGES,
    logger: options.logger,
  });
  let budgets: Budgets | undefined;
  try {
    await migrate(db, new SchemaName(PIPELINE_SCHEMA), PIPELINE_MIGRATIONS, 'upload_pipeline', options.logger);
    const store = new PipelineStore(db);
    const shared = await Budgets.open(db, budgetSettings(config), options.logger);
    budgets = shared;
    const chosen = withBudgets(providers(config, workers), shared);
    const search = await ChunkSearch.open(db, chosen.embedder, { dimensions: config.EMBEDDING_DIMENSIONS, timeoutMs: config.SEARCH_TIMEOUT_MS, index: config.SEARCH_INDEX });
    const services = pipelineServices(
      store,
      {
        maxUploadBytes: config.MAX_UPLOAD_BYTES,
        chunkTokens: config.CHUNK_TOKENS,
        dimensions: config.EMBEDDING_DIMENSIONS,
        embedBatchSize: config.EMBED_BATCH_SIZE,
      },
      { ...chosen, embedder: coalesced(config, chosen.embedder, shared) },
      clock,
    );
    const callbacks: CallbackSettings = {
      secret: config.DOCKET_CALLBACK_SECRET,
      allowPrivate: config.DOCKET_CALLBACK_ALLOW_PRIVATE,
      maxAttempts: config.DOCKET_CALLBACK_ATTEMPTS,
      backoffMs: config.DOCKET_CALLBACK_BACKOFF_MS,
    };
    const notify = callbackService(store, callbacks, clock);
    const instrument = options.instrument;
    const runtime = await createRuntime({
      ...options.tuning,
      database: db,
      schema: config.DOCKET_SCHEMA,
      logger: options.logger,
      clock,
      worker: options.worker ?? true,
      stepConcurrency: config.WORKER_CONCURRENCY,
      machines: { upload: { machine: options.machine ?? uploadMachine, ...UPLOAD_MACHINE_VERSION, onStep: uploadProjection() } },
      services: {
        ...(instrument ? Object.fromEntries(Object.entries(services).map(([name, handler]) => [name, instrument(name, handler)])) : services),
        notifyClient: instrument ? { ...notify, handler: instrument('notifyClient', notify.handler) } : notify,
      },
    });
    const keys = new ApiKeys(db, (config.DOCKET_API_KEYS ?? []).map(({ tenant, key }) => ({ tenant, sha256: keyDigest(key) })));
    return {
      runtime,
      store,
      db,
      keys,
      search,
      budgets: shared,
      acceptCallbackUrl: (url) => acceptCallbackUrl(callbacks, url),
      async submit({ content, filename, metadata, tenant = DEFAULT_TENANT, callbackUrl }) {
        const sha256 = createHash('sha256').update(content).digest('hex');
        const proposed = randomUUID();
        // The bytes and the job commit together: a start that fails leaves no file behind. The
        // content hash is the idempotency key: the same bytes again are the same job.
        const jobId = await db.transaction(async (tx) => {
          await store.within(tx).putFile(sha256, content, new Date(clock.now()));
          return runtime.start(
            'upload',
            {
              jobId: proposed,
              filename,
              bytes: content.byteLength,
              sha256,
              ...(metadata ? { metadata } : {}),
              ...(tenant === DEFAULT_TENANT ? {} : { tenant }),
              ...(callbackUrl ? { callbackUrl } : {}),
            },
            { id: proposed, idempotencyKey: uploadKey(tenant, sha256), tx },
          );
        });
        return { jobId, duplicate: jobId !== proposed };
      },
      async close() {
        // The runtime first: it stops its effects, whose tasks then leave the threads.
        await runtime.close();
        await shared.close();
        await workers.close();
        await closeDb();
      },
    };
  } catch (error) {
    await budgets?.close();
    await workers.close();
    await closeDb();
    throw error;
  }
}

/** LlamaParse and OpenAI when their keys are set; otherwise the local parser and embedder. */
function providers(config: PipelineConfig, workers: DocumentWorkers): Providers {
  const { LLAMA_CLOUD_API_KEY, OPENAI_API_KEY } = config;
  return {
    parser: LLAMA_CLOUD_API_KEY
      ? new LlamaParseParser(new LlamaParseClient({ apiKey: LLAMA_CLOUD_API_KEY, baseUrl: config.LLAMA_CLOUD_BASE_URL }))
      : new LocalParser(workers),
    embedder: OPENAI_API_KEY
      ? new OpenAIEmbedder({ apiKey: OPENAI_API_KEY, baseURL: config.OPENAI_BASE_URL, model: config.OPENAI_EMBEDDING_MODEL, dimensions: config.EMBEDDING_DIMENSIONS })
      : new LocalEmbedder(workers, config.EMBEDDING_DIMENSIONS),
    chunker: workers,
    publicUrl: config.PUBLIC_URL,
    webhookSecret: config.LLAMA_CLOUD_WEBHOOK_SECRET,
  };
}

/**
 * The embedder the upload jobs share: concurrent batches of different jobs merged into one request
 * (adapters/coalescing-embedder.ts), above the budget so a merged request takes one grant of its
 * size. On by default for OpenAI only, which bills and rate-limits by request; the local embedder
 * costs nothing per call and runs each call in one of the document threads, so merging would put
 * work the threads could share onto one of them. Search keeps the embedder unmerged: one query, a
 * person waiting, nothing to gain from waiting for others.
 */
function coalesced(config: PipelineConfig, embedder: Embedder, budgets: Budgets): Embedder {
  // 400 ms: a job already waits seconds on parsing, and at a few documents a second (2 cores) a
  // 20 ms window merged almost nothing (1/15 → 1/17 requests per chunk), 200 ms reached 1/58 and
  // 1 s 1/64 or better.
  const windowMs = config.EMBED_COALESCE_WINDOW_MS ?? (config.OPENAI_API_KEY ? 400 : 0);
  if (windowMs === 0) return embedder;
  return new CoalescingEmbedder(embedder, {
    windowMs,
    maxInputs: Math.min(config.EMBED_COALESCE_MAX_INPUTS, OPENAI_LIMITS.inputs),
    // Within the token budget's per-call cap too: the budget wrapper then never splits a merged request.
    maxTokens: Math.min(OPENAI_LIMITS.requestTokens, budgets.providers.embedder?.maxTokensPerCall ?? Infinity),
    maxInputTokens: OPENAI_LIMITS.inputTokens,
  });
}

/** The budgets the configuration sets; each unset limit is no limit. */
function budgetSettings(config: PipelineConfig) {
  return {
    upload: config.UPLOAD_RATE_LIMIT,
    embedder: { concurrency: config.EMBEDDER_CONCURRENCY, tokens: config.EMBEDDER_TOKEN_LIMIT, requests: config.EMBEDDER_REQUEST_LIMIT },
    parser: { concurrency: config.PARSER_CONCURRENCY, requests: config.PARSER_REQUEST_LIMIT },
    pauseMs: config.PROVIDER_PAUSE_MS,
  };
}

/** The providers, each with a budget wrapped around it when its role has one (search's embedder too). */
function withBudgets(chosen: Providers, budgets: Budgets): Providers {
  const { embedder, parser } = budgets.providers;
  return {
    ...chosen,
    ...(embedder ? { embedder: new BudgetedEmbedder(chosen.embedder, embedder) } : {}),
    ...(parser ? { parser: new BudgetedParser(chosen.parser, parser) } : {}),
  };
}

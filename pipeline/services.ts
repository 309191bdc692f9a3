import { createHash } from 'node:crypto';
import { AdapterError } from '../adapters/errors.js';
import type { Embedder, Parser } from '../adapters/contracts.js';
import { detectType, type DocumentType } from '../adapters/local/file-type.js';
import type { DocumentWorkers } from '../adapters/local/workers.js';
import type { Clock, ServiceHandler } from '../index.js';
import type { ChunkOutput, EmbedBatchOutput, PollParseOutput, SubmitParseOutput, ValidateOutput } from '../machines/upload.js';
import { guarded } from './service-errors.js';
import type { PipelineStore } from './store.js';
import { newWebhookToken, webhookTokenDigest } from './webhook-tokens.js';

export interface PipelineSettings {
  /** Largest accepted upload, bytes. */
  maxUploadBytes: number;
  /** Target chunk size, cl100k tokens. */
  chunkTokens: number;
  /** Embedding dimensions. */
  dimensions: number;
  /** Chunks embedded per batch (per durable effect). */
  embedBatchSize: number;
}

/** What the services parse, chunk and embed with: local or remote, behind the adapters' contracts. */
export interface Providers {
  parser: Parser;
  embedder: Embedder;
  /** Chunking is always local, in the document worker threads. */
  chunker: DocumentWorkers;
  /** Where the parser posts its webhooks; without it jobs are polled only. */
  publicUrl?: string;
  /** The secret LlamaCloud signs webhooks with; unset, the callback URL carries a per-job token. */
  webhookSecret?: string;
}

/**
 * The upload machine's services. Each reads and writes through the store idempotently, so a retried
 * or taken-over attempt does the same thing again harmlessly; a remote upload is recorded under the
 * effect's idempotency key so a retry does not upload (and bill) twice.
 */
export function pipelineServices(store: PipelineStore, settings: PipelineSettings, providers: Providers, clock: Clock): Record<string, ServiceHandler> {
  const now = () => new Date(clock.now());

  const fileOf = async (jobId: string) => {
    const job = await store.job(jobId);
    const content = job && (await store.file(job.sha256));
    if (!job || !content) throw new AdapterError('FILE_MISSING', `no stored bytes for job ${jobId}`);
    return { job, content };
  };

  const validateUpload: ServiceHandler<{ filename: string; sha256: string }, ValidateOutput> = async ({ input }) => {
    const content = await store.file(input.sha256);
    if (!content) throw new AdapterError('FILE_MISSING', `no stored bytes for sha256 ${input.sha256}`);
    if (content.byteLength === 0) throw new AdapterError('EMPTY_FILE', 'the file is empty');
    if (content.byteLength > settings.maxUploadBytes) {
      throw new AdapterError('FILE_TOO_LARGE', `the file is ${content.byteLength} bytes; the limit is ${settings.maxUploadBytes}`);
    }
    const actual = createHash('sha256').update(content).digest('hex');
    if (actual !== input.sha256) throw new AdapterError('CHECKSUM_MISMATCH', `stored bytes hash to ${actual}, not ${input.sha256}`);
    const mediaType = detectType(content, input.filename);
    if (!mediaType) throw new AdapterError('UNSUPPORTED_TYPE', 'the content is not a PDF, HTML, Markdown or plain-text file');
    return { mediaType };
  };

  /**
   * Where LlamaParse is to post about a job. Signed (a secret configured): the plain URL, and the
   * secret for the webhook configuration. Otherwise the URL carries a fresh random token, whose
   * digest is stored before the upload, so the callback can never arrive before it; a retried
   * submission that uploads again replaces it (the earlier remote job's callbacks are then refused
   * and polling finds its result).
   */
  const callback = async (jobId: string): Promise<{ webhookUrl?: string; webhookSecret?: string }> => {
    if (!providers.publicUrl) return {};
    const url = `${providers.publicUrl.replace(/\/+$/, '')}/webhooks/llamaparse?job_id=${jobId}`;
    if (providers.webhookSecret) return { webhookUrl: url, webhookSecret: providers.webhookSecret };
    const token = newWebhookToken();
    await store.setWebhookToken(jobId, webhookTokenDigest(token));
    return { webhookUrl: `${url}&token=${token}` };
  };

  const submitParse: ServiceHandler<{ jobId: string; mediaType: string }, SubmitParseOutput> = async ({ input, idempotencyKey, signal }) => {
    // A retried submission reuses the remote job its first attempt started: one upload, one bill.
    const existing = await store.submission(idempotencyKey);
    if (existing) return { remoteJobId: existing };
    const { job, content } = await fileOf(input.jobId);
    const webhook = await callback(input.jobId);
    // `content` was read for this call alone: the local parser may move it to its thread uncopied.
    const request = { content, filename: job.filename, mediaType: input.mediaType as DocumentType, handOver: true };
    const submitted = await providers.parser.submit(request, { ...webhook, signal });
    if (submitted.kind === 'pending') {
      await store.putSubmission(idempotencyKey, input.jobId, submitted.jobId, now());
      return { remoteJobId: submitted.jobId };
    }
    const { markdown, pages, warnings } = submitted.document;
    await store.putDocument(input.jobId, markdown, pages, now());
    return { remoteJobId: null, result: { pages, warnings } };
  };

  const pollParse: ServiceHandler<{ jobId: string; remoteJobId: string }, PollParseOutput> = async ({ input, signal }) => {
    const polled = await providers.parser.poll(input.remoteJobId, { signal });
    if (polled.kind === 'pending') return { status: 'pending' };
    const { markdown, pages, warnings } = polled.document;
    await store.putDocument(input.jobId, markdown, pages, now());
    return { status: 'done', result: { pages, warnings } };
  };

  const chunkDocument: ServiceHandler<{ jobId: string }, ChunkOutput> = async ({ input, signal }) => {
    const document = await store.document(input.jobId);
    if (!document) throw new AdapterError('DOCUMENT_MISSING', `job ${input.jobId} has no parsed document`);
    const chunks = await providers.chunker.chunk(document.markdown, { maxTokens: settings.chunkTokens }, { signal });
    await store.putChunks(input.jobId, chunks, now());
    return { chunks: chunks.length, warnings: [] };
  };

  // Counts come from the rows after the write, never from what this attempt did: a retried batch
  // may find its vectors already stored and embed nothing, and the job must still say all are in.
  const embedBatch: ServiceHandler<{ jobId: string }, EmbedBatchOutput> = async ({ input, signal }) => {
    const { chunks } = await store.unembedded(input.jobId, settings.embedBatchSize);
    if (chunks.length > 0) {
      const vectors = await providers.embedder.embed(chunks, { signal });
      await store.putEmbeddings(input.jobId, chunks.map((chunk, i) => ({ index: chunk.index, vector: vectors[i]! })));
    }
    return store.embeddingCounts(input.jobId);
  };

  const services = { validateUpload, submitParse, pollParse, chunkDocument, embedBatch } as Record<string, ServiceHandler>;
  return Object.fromEntries(Object.entries(services).map(([name, handler]) => [name, guarded(name, handler)]));
}

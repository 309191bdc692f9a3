import { createHash } from 'node:crypto';
import { AdapterError } from '../../adapters/errors.js';
import { chunkMarkdown } from '../../adapters/local/chunker.js';
import { hashEmbedding } from '../../adapters/local/embedder.js';
import { detectType, type DocumentType } from '../../adapters/local/file-type.js';
import { parseLocally } from '../../adapters/local/parser.js';
import type { Clock } from '../../runtime/clock.js';
import type { ServiceHandler } from '../../runtime/types.js';
import type { ChunkOutput, EmbedBatchOutput, PollParseOutput, SubmitParseOutput, ValidateOutput } from '../../machines/upload.js';
import type { PipelineStore } from './store.js';

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

/**
 * The upload machine's services on the local providers: every one reads and writes through the
 * store, idempotently, so a retried or taken-over attempt does the same thing again harmlessly.
 */
export function localServices(store: PipelineStore, settings: PipelineSettings, clock: Clock): Record<string, ServiceHandler> {
  const now = () => new Date(clock.now());

  const validateUpload: ServiceHandler<{ filename: string; bytes: number; sha256: string }, ValidateOutput> = async ({ input }) => {
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

  const submitParse: ServiceHandler<{ jobId: string; mediaType: string }, SubmitParseOutput> = async ({ input }) => {
    const job = await store.job(input.jobId);
    const content = job && (await store.file(job.sha256));
    if (!content) throw new AdapterError('FILE_MISSING', `no stored bytes for job ${input.jobId}`);
    const parsed = await parseLocally(content, input.mediaType as DocumentType);
    await store.putDocument(input.jobId, parsed.markdown, parsed.pages, now());
    return { remoteJobId: null, result: { pages: parsed.pages, warnings: parsed.warnings } };
  };

  const pollParse: ServiceHandler<{ remoteJobId: string }, PollParseOutput> = async ({ input }) => {
    throw new AdapterError('NO_REMOTE_PARSER', `the local parser finishes at submission; nothing to poll for ${input.remoteJobId}`);
  };

  const chunkDocument: ServiceHandler<{ jobId: string }, ChunkOutput> = async ({ input }) => {
    const document = await store.document(input.jobId);
    if (!document) throw new AdapterError('DOCUMENT_MISSING', `job ${input.jobId} has no parsed document`);
    const chunks = chunkMarkdown(document.markdown, { maxTokens: settings.chunkTokens });
    await store.putChunks(input.jobId, chunks, now());
    return { chunks: chunks.length, warnings: [] };
  };

  const embedBatch: ServiceHandler<{ jobId: string }, EmbedBatchOutput> = async ({ input }) => {
    const { chunks, total } = await store.unembedded(input.jobId, settings.embedBatchSize);
    await store.putEmbeddings(
      input.jobId,
      chunks.map((chunk) => ({ index: chunk.index, vector: hashEmbedding(chunk.text, settings.dimensions) })),
    );
    return { embedded: chunks.length, remaining: total - chunks.length };
  };

  return { validateUpload, submitParse, pollParse, chunkDocument, embedBatch } as Record<string, ServiceHandler>;
}

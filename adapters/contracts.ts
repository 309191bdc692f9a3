import type { DocumentType } from './local/file-type.js';

/**
 * The contracts the pipeline's services program against. Each has a local implementation (the
 * embedded default, in worker threads) and a remote one (LlamaParse, OpenAI); the services never
 * branch on which is configured. Failures are AdapterErrors: a stable code, transient or not.
 */

export interface ParsedDocument {
  /** The document as Markdown; PDF pages are separated by a horizontal rule. */
  markdown: string;
  pages: number;
  /** Why the result may be incomplete: NO_TEXT (an image-only PDF), EMPTY_PAGES, PARTIAL_SUCCESS … */
  warnings: string[];
}

export interface ParseRequest {
  content: Uint8Array;
  filename: string;
  /** The type validation found from the content. */
  mediaType: DocumentType;
  /**
   * The caller's own copy of the bytes, not used after the call: a local parser moves its buffer to
   * a worker thread instead of copying it (the caller's view is then empty).
   */
  handOver?: boolean;
}

/** A submission either finished at once (a local parse) or started a remote job to poll. */
export type Submitted = { kind: 'done'; document: ParsedDocument } | { kind: 'pending'; jobId: string };

export type Polled = { kind: 'pending' } | { kind: 'done'; document: ParsedDocument };

export interface Parser {
  /**
   * Starts parsing. A remote parser posts to `webhookUrl` when the job changes, where it can, signed
   * with `webhookSecret` when one is given.
   */
  submit(request: ParseRequest, options: { webhookUrl?: string; webhookSecret?: string; signal?: AbortSignal }): Promise<Submitted>;
  /** The state of a job `submit` started; its text is safe for a Postgres text column. */
  poll(jobId: string, options: { signal?: AbortSignal }): Promise<Polled>;
}

export interface EmbedInput {
  text: string;
  /** Its cl100k token count, for batching within a vendor's limits. */
  tokens: number;
}

export interface Embedder {
  /** One vector per input, in order, of the configured dimensions. */
  embed(inputs: EmbedInput[], options: { signal?: AbortSignal }): Promise<number[][]>;
}

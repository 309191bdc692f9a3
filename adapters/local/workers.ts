import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { AdapterError } from '../errors.js';
import type { Chunk, ChunkerOptions } from './chunker.js';
import type { DocumentType } from './file-type.js';
import type { ParsedDocument } from './parser.js';
import { STARTED, type TaskInput, type WorkerOutcome, type WorkerTask } from './worker.js';

export interface DocumentWorkerOptions {
  /** Worker threads, each running one document at a time. Default `os.availableParallelism()`. */
  threads?: number;
  /**
   * Longest one task may run in its thread (parsing a document, chunking it, or embedding one
   * batch), milliseconds, default 120000. Past it the thread is terminated and the task fails with
   * PARSE_TIMEOUT. Time spent waiting for a free thread, or starting one and loading its modules,
   * does not count.
   */
  timeLimitMs?: number;
  /** Heap of each thread (V8's old generation), MB, default 1024. Past it: DOCUMENT_TOO_COMPLEX. */
  memoryMb?: number;
  /** A PDF with more pages fails with PAGE_LIMIT before its text is extracted. Default 2000. */
  maxPdfPages?: number;
  /** Told about a thread that failed while it had no task (it is replaced); pino's `warn` fits. */
  logger?: { warn(object: object, message: string): void };
  /**
   * Start every thread now, load the parser, chunker, embedder and cl100k's ranks in each (about
   * 0.3 s of PDF.js and 0.4–0.8 s of tokenizer tables per thread), and keep the threads for the life
   * of the pool, so no document pays for them. For processes that run the pipeline (`serve`,
   * `worker`, `ingest`); default false: threads start on demand and stop after a minute idle, so a
   * process that never parses (`docket status`, most tests) starts none.
   */
  warm?: boolean;
}

export interface TaskOptions {
  /** Aborting stops the task (its thread is terminated) and rejects with a transient ABORTED error. */
  signal?: AbortSignal;
}

export interface ParseTaskOptions extends TaskOptions {
  /**
   * Move the bytes' buffer to the thread instead of copying it: the caller's view is emptied
   * (detached). Only for bytes the caller owns and no longer needs; ignored when the view is part
   * of a larger buffer (Node's pooled Buffers are), which would lose the rest.
   */
  transfer?: boolean;
}

/** Tasks that finish in milliseconds go ahead of parses waiting for a thread (see #acquire). */
const PRIORITY: Record<TaskInput['kind'], number> = { embed: 0, chunk: 1, warm: 1, parse: 2 };

/**
 * How long a thread may take to start and load the modules of a task before the task fails with a
 * transient WORKER_START_TIMEOUT (an overloaded machine, not the document; retried later).
 */
const STARTUP_MS = 60_000;

/**
 * The thread's entry, beside this module: worker.js once compiled to JavaScript; from TypeScript
 * sources (under tsx), a small bootstrap that registers tsx in the thread and loads worker.ts.
 */
const ENTRY = extname(fileURLToPath(import.meta.url)) === '.ts' ? new URL('./worker-tsx.mjs', import.meta.url) : new URL('./worker.js', import.meta.url);

/**
 * The local parser, chunker and embedder in a pool of worker threads (piscina), so a CPU-heavy
 * document never blocks the event loop that serves requests, steps machines and renews leases.
 * Each task runs under a time limit and a memory limit; a document over one fails with a stable,
 * permanent code, since retrying the same bytes cannot help:
 * - PARSE_TIMEOUT: over `timeLimitMs` (the thread is terminated, so it stops using the CPU);
 * - DOCUMENT_TOO_COMPLEX: over `memoryMb`, or its thread died otherwise;
 * - PAGE_LIMIT: a PDF with more than `maxPdfPages` pages.
 */
export class DocumentWorkers {
  readonly threads: number;
  readonly timeLimitMs: number;
  readonly memoryMb: number;
  readonly maxPdfPages: number;
  readonly #pool: Piscina<WorkerTask, WorkerOutcome>;
  #running = 0;
  #nextId = 0;
  /** Tasks waiting for a thread, by priority (PRIORITY), each in arrival order. */
  readonly #waiting: Set<() => void>[] = [new Set(), new Set(), new Set()];
  /** Called when the thread running task `id` has loaded its modules and begins. */
  readonly #starting = new Map<number, () => void>();
  #closed = false;

  constructor(options: DocumentWorkerOptions = {}) {
    this.threads = options.threads ?? availableParallelism();
    this.timeLimitMs = options.timeLimitMs ?? 120_000;
    this.memoryMb = options.memoryMb ?? 1024;
    this.maxPdfPages = options.maxPdfPages ?? 2000;
    this.#pool = new Piscina<WorkerTask, WorkerOutcome>({
      filename: ENTRY.href,
      // Threads start on demand and stop after a minute idle, so a process that never parses
      // (`docket status`, a test) starts none.
      minThreads: options.warm ? this.threads : 0,
      maxThreads: this.threads,
      idleTimeout: options.warm ? 2 ** 31 - 1 : 60_000,
      resourceLimits: { maxOldGenerationSizeMb: this.memoryMb },
    });
    // Without a listener, a thread failing between tasks would throw in the main thread.
    this.#pool.on('error', (error: unknown) => options.logger?.warn({ err: error }, 'a document worker thread failed between tasks; it is replaced'));
    this.#pool.on('message', (message: { [STARTED]?: number }) => {
      if (typeof message?.[STARTED] === 'number') this.#starting.get(message[STARTED])?.();
    });
    if (options.warm) this.#warm(options.logger);
  }

  /** One warm-up task per thread, all at once, so each thread takes one (piscina runs one task a thread). */
  #warm(logger: DocumentWorkerOptions['logger']): void {
    for (let i = 0; i < this.threads; i++) {
      this.#run({ kind: 'warm' }, 'warming a worker thread', undefined).catch((error: unknown) => {
        if (!this.#closed) logger?.warn({ err: error }, 'a document worker thread failed to warm up; it loads its modules on first use instead');
      });
    }
  }

  /** The threads alive now (they start on demand), so tests can watch one end. */
  get liveThreads(): readonly Worker[] {
    return this.#pool.threads;
  }

  /** Parses a document (PDF, HTML, Markdown, text) to Markdown in a worker thread. */
  parse(bytes: Uint8Array, type: DocumentType, options: ParseTaskOptions = {}): Promise<ParsedDocument> {
    const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
    const transferList = options.transfer && whole ? [bytes.buffer as ArrayBuffer] : undefined;
    return this.#run({ kind: 'parse', bytes, type, maxPages: this.maxPdfPages }, 'parsing the document', options.signal, transferList);
  }

  /** Splits Markdown into chunks in a worker thread. */
  chunk(markdown: string, chunkerOptions: Omit<ChunkerOptions, 'tokenizer'> = {}, options: TaskOptions = {}): Promise<Chunk[]> {
    return this.#run({ kind: 'chunk', markdown, options: chunkerOptions }, 'chunking the document', options.signal);
  }

  /** Embeds texts with the local hashing embedder in a worker thread. */
  async embed(texts: string[], dimensions: number, options: TaskOptions = {}): Promise<number[][]> {
    // The vectors come back as one Float64Array moved out of the thread, not cloned as nested arrays.
    const flat = await this.#run<Float64Array>({ kind: 'embed', texts, dimensions }, 'embedding the batch', options.signal);
    return texts.map((_, i) => Array.from(flat.subarray(i * dimensions, (i + 1) * dimensions)));
  }

  /** Terminates every thread; tasks still waiting or running fail with a transient WORKERS_CLOSED. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const queue of this.#waiting) for (const wake of queue) wake();
    await this.#pool.destroy();
  }

  async #run<T>(task: TaskInput, what: string, signal: AbortSignal | undefined, transferList?: ArrayBuffer[]): Promise<T> {
    await this.#acquire(signal, PRIORITY[task.kind]);
    const id = (this.#nextId += 1);
    // The limit starts when the thread begins the work, not while the task waits for a thread or
    // the thread starts and loads its modules (allowed STARTUP_MS for that).
    const limit = new AbortController();
    let timer = setTimeout(() => limit.abort('startup'), STARTUP_MS);
    this.#starting.set(id, () => {
      clearTimeout(timer);
      timer = setTimeout(() => limit.abort('time limit'), this.timeLimitMs);
    });
    const stop = () => limit.abort('caller');
    signal?.addEventListener('abort', stop, { once: true });
    let outcome: WorkerOutcome;
    try {
      outcome = await this.#pool.run({ ...task, id }, { signal: limit.signal, ...(transferList ? { transferList } : {}) });
    } catch (error) {
      throw this.#classify(error, what, limit.signal.reason);
    } finally {
      clearTimeout(timer);
      this.#starting.delete(id);
      signal?.removeEventListener('abort', stop);
      this.#release();
    }
    if (!outcome.ok) throw new AdapterError(outcome.code, outcome.message, { transient: outcome.transient });
    return outcome.value as T;
  }

  #classify(error: unknown, what: string, aborted: unknown): AdapterError {
    if (aborted === 'caller') return new AdapterError('ABORTED', `${what} was stopped`, { transient: true, cause: error });
    if (this.#closed) return closedError(error);
    if (aborted === 'startup') {
      return new AdapterError('WORKER_START_TIMEOUT', `no worker thread could start ${what} within ${STARTUP_MS} ms`, { transient: true, cause: error });
    }
    if (aborted === 'time limit') {
      return new AdapterError('PARSE_TIMEOUT', `${what} took longer than the limit of ${this.timeLimitMs} ms; it was stopped`, { cause: error });
    }
    if ((error as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY') {
      return new AdapterError('DOCUMENT_TOO_COMPLEX', `${what} needed more than the limit of ${this.memoryMb} MB of memory; it was stopped`, { cause: error });
    }
    return new AdapterError('DOCUMENT_TOO_COMPLEX', `${what} stopped its worker thread: ${(error as Error).message}`, { cause: error });
  }

  /**
   * Waits for a free thread, so that the time limit measures running time only. A free thread goes
   * to the most urgent waiting task: chunking and embedding take milliseconds and finish a job that
   * was already parsed, where a parse takes tens to hundreds; behind 50 queued parses, a chunking
   * task would otherwise wait for all of them.
   */
  async #acquire(signal: AbortSignal | undefined, priority: number): Promise<void> {
    while (this.#running >= this.threads && !this.#closed) {
      if (signal?.aborted) throw new AdapterError('ABORTED', 'stopped while waiting for a worker thread', { transient: true });
      await new Promise<void>((resolve) => {
        const queue = this.#waiting[priority]!;
        const wake = () => {
          queue.delete(wake);
          signal?.removeEventListener('abort', wake);
          resolve();
        };
        queue.add(wake);
        signal?.addEventListener('abort', wake, { once: true });
      });
    }
    if (this.#closed) throw closedError();
    if (signal?.aborted) throw new AdapterError('ABORTED', 'stopped while waiting for a worker thread', { transient: true });
    this.#running += 1;
  }

  #release(): void {
    this.#running -= 1;
    const next = this.#waiting.find((queue) => queue.size > 0);
    if (next) [...next][0]!();
  }
}

function closedError(cause?: unknown): AdapterError {
  return new AdapterError('WORKERS_CLOSED', 'the document worker threads were closed', { transient: true, cause });
}

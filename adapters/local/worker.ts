/**
 * The entry of a document worker thread (workers.ts starts them through piscina). Each task is one
 * CPU-bound call of the local adapters; modules load on first use, so a thread that only embeds
 * never loads PDF.js.
 */
import { parentPort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { ChunkerOptions } from './chunker.js';
import type { DocumentType } from './file-type.js';

export type TaskInput =
  | { kind: 'parse'; bytes: Uint8Array; type: DocumentType; maxPages: number }
  | { kind: 'chunk'; markdown: string; options: Omit<ChunkerOptions, 'tokenizer'> }
  | { kind: 'embed'; texts: string[]; dimensions: number }
  /** Loads every module a task needs, and cl100k's tables, so the first document does not wait for them. */
  | { kind: 'warm' };

/** `id` names the task in the STARTED message the thread posts once its modules are loaded. */
export type WorkerTask = TaskInput & { id: number };

/** The key of the message `{ [STARTED]: id }` a thread posts when the work itself begins. */
export const STARTED = 'docketTaskStarted';

/**
 * What a task returns. Errors travel as fields because structured cloning, which carries a result
 * between threads, keeps an Error's message but drops its `code` and `transient`.
 */
export type WorkerOutcome = { ok: true; value: unknown } | { ok: false; code: string; message: string; transient: boolean };

export default async function run(task: WorkerTask): Promise<WorkerOutcome | ReturnType<typeof Piscina.move>> {
  // The time limit starts when the modules are loaded: loading PDF.js in a cold thread is not the document's doing.
  const started = () => parentPort?.postMessage({ [STARTED]: task.id });
  try {
    const value = await perform(task, started);
    const outcome: WorkerOutcome = { ok: true, value };
    // Vectors leave the thread by moving their buffer, not by copying.
    if (value instanceof Float64Array) return Piscina.move({ [Piscina.transferableSymbol]: [value.buffer], [Piscina.valueSymbol]: outcome } as never);
    return outcome;
  } catch (error) {
    const { code, transient } = error as { code?: unknown; transient?: unknown };
    return {
      ok: false,
      code: typeof code === 'string' ? code : 'ERROR',
      message: error instanceof Error ? error.message : String(error),
      transient: transient === true,
    };
  }
}

async function perform(task: WorkerTask, started: () => void): Promise<unknown> {
  switch (task.kind) {
    case 'parse': {
      const { parseLocally } = await import('./parser.js');
      started();
      // The bytes arrived cloned or moved: this thread's own, so PDF.js may keep them without a copy.
      return parseLocally(task.bytes, task.type, { maxPages: task.maxPages, owned: true });
    }
    case 'chunk': {
      const { chunkMarkdown } = await import('./chunker.js');
      started();
      return chunkMarkdown(task.markdown, task.options);
    }
    case 'embed': {
      const { hashEmbedding } = await import('./embedder.js');
      started();
      const flat = new Float64Array(task.texts.length * task.dimensions);
      task.texts.forEach((text, i) => flat.set(hashEmbedding(text, task.dimensions), i * task.dimensions));
      return flat;
    }
    case 'warm': {
      const [, , , tokens] = await Promise.all([import('./parser.js'), import('./chunker.js'), import('./embedder.js'), import('./tokens.js')]);
      tokens.cl100kTokenizer.encode('warm');
      started();
      return null;
    }
  }
}

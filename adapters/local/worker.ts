/**
 * The entry of a document worker thread (workers.ts starts them through piscina). Each task is one
 * CPU-bound call of the local adapters; modules load on first use, so a thread that only embeds
 * never loads PDF.js.
 */
import { parentPort } from 'node:worker_threads';
import type { ChunkerOptions } from './chunker.js';
import type { DocumentType } from './file-type.js';

export type TaskInput =
  | { kind: 'parse'; bytes: Uint8Array; type: DocumentType; maxPages: number }
  | { kind: 'chunk'; markdown: string; options: Omit<ChunkerOptions, 'tokenizer'> }
  | { kind: 'embed'; texts: string[]; dimensions: number };

/** `id` names the task in the STARTED message the thread posts once its modules are loaded. */
export type WorkerTask = TaskInput & { id: number };

/** The key of the message `{ [STARTED]: id }` a thread posts when the work itself begins. */
export const STARTED = 'docketTaskStarted';

/**
 * What a task returns. Errors travel as fields because structured cloning, which carries a result
 * between threads, keeps an Error's message but drops its `code` and `transient`.
 */
export type WorkerOutcome = { ok: true; value: unknown } | { ok: false; code: string; message: string; transient: boolean };

export default async function run(task: WorkerTask): Promise<WorkerOutcome> {
  // The time limit starts when the modules are loaded: loading PDF.js in a cold thread is not the document's doing.
  const started = () => parentPort?.postMessage({ [STARTED]: task.id });
  try {
    return { ok: true, value: await perform(task, started) };
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
      return parseLocally(task.bytes, task.type, { maxPages: task.maxPages });
    }
    case 'chunk': {
      const { chunkMarkdown } = await import('./chunker.js');
      started();
      return chunkMarkdown(task.markdown, task.options);
    }
    case 'embed': {
      const { hashEmbedding } = await import('./embedder.js');
      started();
      return task.texts.map((text) => hashEmbedding(text, task.dimensions));
    }
  }
}

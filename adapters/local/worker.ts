/**
 * The entry of a document worker thread (workers.ts starts them through piscina). Each task is one
 * CPU-bound call of the local adapters; modules load on first use, so a thread that only embeds
 * never loads PDF.js.
 */
import type { ChunkerOptions } from './chunker.js';
import type { DocumentType } from './file-type.js';

export type WorkerTask =
  | { kind: 'parse'; bytes: Uint8Array; type: DocumentType; maxPages: number }
  | { kind: 'chunk'; markdown: string; options: Omit<ChunkerOptions, 'tokenizer'> }
  | { kind: 'embed'; texts: string[]; dimensions: number };

/**
 * What a task returns. Errors travel as fields because structured cloning, which carries a result
 * between threads, keeps an Error's message but drops its `code` and `transient`.
 */
export type WorkerOutcome = { ok: true; value: unknown } | { ok: false; code: string; message: string; transient: boolean };

export default async function run(task: WorkerTask): Promise<WorkerOutcome> {
  try {
    return { ok: true, value: await perform(task) };
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

async function perform(task: WorkerTask): Promise<unknown> {
  switch (task.kind) {
    case 'parse': {
      const { parseLocally } = await import('./parser.js');
      return parseLocally(task.bytes, task.type, { maxPages: task.maxPages });
    }
    case 'chunk': {
      const { chunkMarkdown } = await import('./chunker.js');
      return chunkMarkdown(task.markdown, task.options);
    }
    case 'embed': {
      const { hashEmbedding } = await import('./embedder.js');
      return task.texts.map((text) => hashEmbedding(text, task.dimensions));
    }
  }
}

import type { AddressInfo } from 'node:net';
import type { ExecutionContext } from 'ava';
import { createApp } from '../../server/app.js';
import { loadConfig } from '../../server/config.js';
import { createPipeline, type PipelineOptions } from '../../pipeline/index.js';
import { paragraph } from '../fixtures/documents.js';
import { ownDatabase, silent } from './db.js';
import type { TestServer } from './server.js';

/** Like startServer, with pipeline options (a fault or a gate through `instrument`) and the database URL it used. */
export async function serverWith(
  t: ExecutionContext,
  options: { env?: Record<string, string>; pipeline?: Partial<PipelineOptions> } = {},
): Promise<TestServer & { databaseUrl: string }> {
  const own = await ownDatabase(t, options.env?.DATABASE_URL);
  // One document thread: a test's documents are small, and every thread started costs its start-up.
  const config = loadConfig({ EMBEDDING_DIMENSIONS: '64', DOCUMENT_WORKERS: '1', ...options.env, DATABASE_URL: own.DATABASE_URL });
  const pipeline = await createPipeline(config, { logger: silent, database: own.database, ...options.pipeline });
  const server = createApp(pipeline, config, silent).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  t.teardown(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await pipeline.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, pipeline, config, databaseUrl: config.DATABASE_URL };
}

/** A promise the test resolves by hand. */
export function gate<T = void>(): { promise: Promise<T>; open(value: T): void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

/** Markdown of several sections: several chunks at CHUNK_TOKENS=64, so several embedding batches at a small EMBED_BATCH_SIZE. */
export const sections = (seed: number) => Array.from({ length: 5 }, (_, i) => `## Part ${seed}.${i}\n\n${paragraph(seed * 10 + i, 3)}\n`).join('\n');

export interface SseEvent {
  event: string;
  id?: string;
  data: any;
}

export interface SseStream {
  status: number;
  /** The next event (comments skipped); null when the stream ended. */
  next(): Promise<SseEvent | null>;
  /** Every event until the stream ends. */
  rest(): Promise<SseEvent[]>;
  /** The raw text received so far, comments included. */
  raw(): string;
  close(): void;
}

/** Opens an SSE stream with fetch, as a client without EventSource would. */
export async function openEvents(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const controller = new AbortController();
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  const reader = response.body?.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let raw = '';
  let ended = !reader;
  const next = async (): Promise<SseEvent | null> => {
    for (;;) {
      const cut = buffer.indexOf('\n\n');
      if (cut >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const fields = new Map<string, string>();
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          fields.set(line.slice(0, colon), line.slice(colon + 1).trimStart());
        }
        if (!fields.has('data')) continue;
        return { event: fields.get('event') ?? 'message', id: fields.get('id'), data: JSON.parse(fields.get('data')!) };
      }
      if (ended) return null;
      const { done, value } = await reader!.read();
      if (done) ended = true;
      else {
        const text = decoder.decode(value, { stream: true });
        raw += text;
        buffer += text;
      }
    }
  };
  return {
    status: response.status,
    next,
    async rest() {
      const events: SseEvent[] = [];
      for (let e = await next(); e; e = await next()) events.push(e);
      return events;
    },
    raw: () => raw,
    close: () => controller.abort(),
  };
}

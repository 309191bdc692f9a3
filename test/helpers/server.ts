import { createServer, type AddressInfo } from 'node:net';
import type { ExecutionContext } from 'ava';
import { createApp } from '../../server/app.js';
import { loadConfig, type Config } from '../../server/config.js';
import { createPipeline, type Pipeline } from '../../pipeline/index.js';
import { ownDatabase, silent } from './db.js';

export interface TestServer {
  url: string;
  pipeline: Pipeline;
  config: Config;
}

/** The real app on a real port (0: any free one), over a fresh database; closed when the test ends. */
export async function startServer(t: ExecutionContext, env: Record<string, string> = {}, options: { worker?: boolean; port?: number } = {}): Promise<TestServer> {
  const own = await ownDatabase(t, env.DATABASE_URL);
  // One document thread: a test's documents are small, and every thread started costs its start-up.
  const config = loadConfig({ EMBEDDING_DIMENSIONS: '64', DOCUMENT_WORKERS: '1', ...env, DATABASE_URL: own.DATABASE_URL });
  const pipeline = await createPipeline(config, { logger: silent, worker: options.worker, database: own.database });
  const server = createApp(pipeline, config, silent).listen(options.port ?? 0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  t.teardown(async () => {
    await new Promise((resolve) => server.close(resolve));
    await pipeline.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, pipeline, config };
}

/** A real multipart upload, as a browser or curl -F sends it. */
export async function upload(url: string, file: { name: string; content: Uint8Array | string; type?: string } | null, fields: Record<string, string> = {}) {
  const form = new FormData();
  if (file) form.append('file', new Blob([typeof file.content === 'string' ? file.content : Buffer.from(file.content)], { type: file.type ?? 'application/octet-stream' }), file.name);
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  const response = await fetch(`${url}/v1/uploads`, { method: 'POST', body: form });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

export async function getJson(url: string) {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

/** A port free right now on loopback, for a server that must know its address before it listens. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Polls a JSON endpoint until `done` holds for its body; fails with the last body after `timeoutMs`. */
export async function until(url: string, done: (body: Record<string, any>) => boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await getJson(url);
    if (done(body)) return body;
    if (Date.now() > deadline) throw new Error(`timed out; last: ${JSON.stringify(body)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

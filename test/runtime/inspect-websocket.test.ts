import test from 'ava';
import { createServer, type AddressInfo } from 'node:net';
import { createWebSocketInspector, type StatelyInspectionEvent } from '@statelyai/inspect';
import { createInspectorServer } from '@statelyai/inspect/server';
import { WebSocket, WebSocketServer } from 'ws';
import { uploadMachine, UPLOAD_STAGES, type UploadInput } from '../../machines/upload.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { eventually, harness } from '../helpers/runtime.js';

failOnLeakedRuntimes();

/** A WebSocket server standing in for the Stately inspector's: it keeps every message it receives. */
async function inspectorServer(t: { teardown(fn: () => Promise<void>): void }) {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const received: StatelyInspectionEvent[] = [];
  server.on('connection', (socket) => socket.on('message', (data) => received.push(JSON.parse(String(data)) as StatelyInspectionEvent)));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

const services = {
  validateUpload: async () => ({ mediaType: 'text/plain' }),
  submitParse: async () => ({ remoteJobId: null, result: { pages: 1, warnings: [] } }),
  chunkDocument: async () => ({ chunks: 3, warnings: [] }),
  embedBatch: async () => ({ embedded: 3, remaining: 0 }),
};
const input: UploadInput = { jobId: '00000000-0000-4000-8000-000000000001', filename: 'a.txt', bytes: 5, sha256: 'ab' };

test('createWebSocketInspector() receives the upload machine, every event and every snapshot over a real WebSocket', async (t) => {
  const h = await harness(t);
  const { url, received } = await inspectorServer(t);
  const inspector = createWebSocketInspector({ url });
  t.teardown(async () => inspector.stop());
  const rt = await h.runtime({ machines: { upload: uploadMachine }, services, inspect: inspector });
  const id = await rt.start('upload', input);
  await rt.waitFor(id, (s) => s.status === 'done');
  const history = await rt.history(id);
  const mine = () => received.filter((e) => e.sessionId === id);
  await eventually(() => mine().filter((e) => e.type === '@xstate.snapshot').length === history.length, 10_000, 'every snapshot over the socket');

  // The instance: one actor, named and defined as the Stately inspector draws it.
  const actors = mine().filter((e) => e.type === '@xstate.actor');
  t.is(actors.length, 1);
  const actor = actors[0]!;
  t.is(received.indexOf(actor), 0, 'announced first');
  t.like(actor, { type: '@xstate.actor', name: 'upload', rootId: id, snapshot: { status: 'active', value: 'queued' } });
  t.is(typeof actor._version, 'string');
  const definition = JSON.parse(actor.definition!) as { id: string; states: Record<string, unknown> };
  t.is(definition.id, 'upload');
  t.deepEqual(Object.keys(definition.states).sort(), [...UPLOAD_STAGES].sort());

  // Then an event and a snapshot per journal entry, in its order, through the machine's stages.
  const steps = mine().filter((e) => e.type !== '@xstate.actor');
  t.deepEqual(
    steps.map((e) => `${e.type} ${'event' in e ? e.event.type : ''}`),
    history.flatMap((entry) => [`@xstate.event ${entry.event.type}`, `@xstate.snapshot ${entry.event.type}`]),
  );
  const values = steps.flatMap((e) => (e.type === '@xstate.snapshot' ? [(e.snapshot as { value?: unknown }).value] : []));
  t.deepEqual(values, ['queued', 'job_validated', 'parsed', 'chunking', 'chunked', 'embedding', 'embedded', 'complete']);
  t.deepEqual(values, history.map((entry) => entry.to));
  t.like(steps.at(-1), { type: '@xstate.snapshot', snapshot: { status: 'done', context: { chunks: 3, embedded: 3, mediaType: 'text/plain' } } });

  // Each service result comes from the invoked child that produced it, announced under the instance.
  const children = received.filter((e) => e.type === '@xstate.actor' && e.parentId === id);
  t.deepEqual(children.map((c) => c.type === '@xstate.actor' && c.name), ['0.upload.queued', '0.upload.job_validated', '0.upload.chunking', '0.upload.embedding']);
  for (const done of steps.filter((e) => e.type === '@xstate.event' && e.event.type.startsWith('xstate.done.actor.'))) {
    const child = done.type === '@xstate.event' ? done.event.type.slice('xstate.done.actor.'.length) : '';
    t.is(done.type === '@xstate.event' ? done.sourceId : undefined, `${id}/${child}`);
    t.true(received.indexOf(children.find((c) => c.sessionId === `${id}/${child}`)!) < received.indexOf(done));
  }
});

test('the inspecting runtime reports over the WebSocket what a second runtime steps', async (t) => {
  const h = await harness(t);
  const { url, received } = await inspectorServer(t);
  const inspector = createWebSocketInspector({ url });
  t.teardown(async () => inspector.stop());
  const watcher = await h.runtime({ machines: { upload: uploadMachine }, worker: false, inspect: inspector });
  const id = await watcher.start('upload', input);
  await h.runtime({ machines: { upload: uploadMachine }, services });
  await watcher.waitFor(id, (s) => s.status === 'done');
  await eventually(() => received.some((e) => e.type === '@xstate.snapshot' && e.sessionId === id && e.snapshot.status === 'done'), 10_000, 'the done snapshot');
  const values = received.flatMap((e) => (e.type === '@xstate.snapshot' && e.sessionId === id ? [(e.snapshot as { value?: unknown }).value] : []));
  t.deepEqual(values, (await watcher.history(id)).map((entry) => entry.to));
  t.is(values.at(-1), 'complete');
});

async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => probe.once('listening', () => resolve()));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

test("through @statelyai/inspect's own server, a client in the browser's place receives the steps", async (t) => {
  const h = await harness(t);
  const port = await freePort();
  // The relay `createInspectorServer()` runs for the Stately inspector page; no browser opened here.
  const relay = createInspectorServer({ port, autoOpen: false });
  t.teardown(async () => relay.stop());
  const page = new WebSocket(`ws://127.0.0.1:${port}`);
  const received: StatelyInspectionEvent[] = [];
  page.on('message', (data) => received.push(JSON.parse(String(data)) as StatelyInspectionEvent));
  await new Promise<void>((resolve, reject) => page.once('open', () => resolve()).once('error', reject));
  t.teardown(async () => page.close());
  const inspector = createWebSocketInspector({ url: `ws://127.0.0.1:${port}` });
  t.teardown(async () => inspector.stop());

  const rt = await h.runtime({ machines: { upload: uploadMachine }, services, inspect: inspector });
  const id = await rt.start('upload', input);
  await eventually(() => received.some((e) => e.type === '@xstate.snapshot' && e.sessionId === id && e.snapshot.status === 'done'), 15_000, 'the done snapshot');
  t.like(received[0], { type: '@xstate.actor', sessionId: id, name: 'upload' });
  const values = received.flatMap((e) => (e.type === '@xstate.snapshot' && e.sessionId === id ? [(e.snapshot as { value?: unknown }).value] : []));
  t.deepEqual(values, (await rt.history(id)).map((entry) => entry.to));
});

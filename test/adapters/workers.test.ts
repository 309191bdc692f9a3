// The document worker pool: results equal the in-process adapters, and each limit fails the task
// with its code while the pool (and the process) carry on.
import test from 'ava';
import { once } from 'node:events';
import { AdapterError } from '../../adapters/errors.js';
import { chunkMarkdown } from '../../adapters/local/chunker.js';
import { hashEmbedding } from '../../adapters/local/embedder.js';
import { cleanText } from '../../adapters/local/text.js';
import { DocumentWorkers, type DocumentWorkerOptions } from '../../adapters/local/workers.js';
import { textPdf } from '../fixtures/documents.js';
import { decompressionBombPdf, largeText, manyPagesPdf, nulGlyphPdf } from '../helpers/hostile.js';

function pool(t: { teardown(fn: () => Promise<void>): void }, options: DocumentWorkerOptions = {}): DocumentWorkers {
  const workers = new DocumentWorkers({ threads: 1, ...options });
  t.teardown(async () => {
    await workers.close();
  });
  return workers;
}

const bytes = (text: string) => new TextEncoder().encode(text);
let bombCache: Uint8Array | undefined;
/** The 64 MiB decompression bomb, made once (deflating it takes a moment). */
const bomb = () => (bombCache ??= new Uint8Array(decompressionBombPdf(64)));

// One at a time: the CPU figure logged after a timeout should be this file's alone, and each test
// starts its own threads.
const serial = test.serial;

serial('parse, chunk and embed in a thread give what the adapters give in process', async (t) => {
  const workers = pool(t);
  const markdown = `# Title\n\n${largeText(20_000)}`;
  t.deepEqual(await workers.parse(bytes(markdown), 'text/markdown'), { markdown, pages: 1, warnings: [] });
  t.deepEqual(await workers.chunk(markdown, { maxTokens: 128 }), chunkMarkdown(markdown, { maxTokens: 128 }));
  t.deepEqual(await workers.embed(['one text', 'another'], 32), [hashEmbedding('one text', 32), hashEmbedding('another', 32)]);
  t.is(workers.liveThreads.length, 1, 'one thread, started on demand and reused');
});

serial('a warm pool starts every thread before any task; moved bytes leave the caller empty, a view on a larger buffer is copied', async (t) => {
  const workers = pool(t, { threads: 2, warm: true });
  const deadline = Date.now() + 60_000;
  while (workers.liveThreads.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  t.is(workers.liveThreads.length, 2, 'both threads started with no task asked of them');
  const pdf = await textPdf();
  const own = new Uint8Array(pdf);
  const moved = await workers.parse(own, 'application/pdf', { transfer: true });
  t.is(own.byteLength, 0, 'the buffer went to the thread');
  t.deepEqual(moved, await workers.parse(new Uint8Array(pdf), 'application/pdf'), 'and parsed the same as a copy');
  // Half of a buffer: moving it would take the other half from its owner too.
  const shared = new Uint8Array(pdf.byteLength * 2);
  shared.set(pdf);
  const view = shared.subarray(0, pdf.byteLength);
  await workers.parse(view, 'application/pdf', { transfer: true });
  t.is(view.byteLength, pdf.byteLength);
});

serial('a free thread takes waiting chunking and embedding before waiting parses', async (t) => {
  const workers = pool(t);
  const pdf = await textPdf({ pages: 40 });
  const finished: string[] = [];
  const track = (name: string, task: Promise<unknown>) => task.then(() => finished.push(name));
  // The first parse holds the only thread; the rest queue behind it in this order.
  await Promise.all([
    track('parse 1', workers.parse(new Uint8Array(pdf), 'application/pdf')),
    track('parse 2', workers.parse(new Uint8Array(pdf), 'application/pdf')),
    track('chunk', workers.chunk('# A\n\nsome text', {})),
    track('embed', workers.embed(['some text'], 8)),
  ]);
  t.deepEqual(finished, ['parse 1', 'embed', 'chunk', 'parse 2']);
});

serial('parsed text has no U+0000 and no lone surrogate (a NUL glyph failed with SQLSTATE 22021)', async (t) => {
  const workers = pool(t);
  const parsed = await workers.parse(new Uint8Array(nulGlyphPdf()), 'application/pdf');
  t.is(parsed.markdown, 'AA');
  t.is((await workers.parse(bytes('a\u0000b'), 'text/plain')).markdown, 'ab');
  t.is(cleanText('x\uD800y\uDC00'), 'x\uFFFDy\uFFFD');
  t.is(cleanText('\uD83D\uDE00'), '\uD83D\uDE00', 'a valid pair stays');
});

serial('a PDF over the page limit fails with PAGE_LIMIT, from its page count', async (t) => {
  const workers = pool(t, { maxPdfPages: 2000 });
  const error = await t.throwsAsync(workers.parse(new Uint8Array(manyPagesPdf(20_000)), 'application/pdf'), { instanceOf: AdapterError });
  t.like(error, { code: 'PAGE_LIMIT', transient: false, message: 'the PDF has 20000 pages; the limit is 2000' });
  const small = pool(t, { maxPdfPages: 3 });
  t.is((await small.parse(new Uint8Array(manyPagesPdf(3)), 'application/pdf')).pages, 3, 'at the limit is fine');
});

serial('a task over the time limit fails with PARSE_TIMEOUT and its thread is terminated', async (t) => {
  // The bomb runs for tens of seconds in 2 GB; stopped after 1.5 s.
  const workers = pool(t, { timeLimitMs: 1500, memoryMb: 2048 });
  const parsing = workers.parse(bomb(), 'application/pdf');
  while (workers.liveThreads.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  const [thread] = workers.liveThreads;
  const exited = once(thread!, 'exit');
  const error = await t.throwsAsync(parsing, { instanceOf: AdapterError });
  t.like(error, { code: 'PARSE_TIMEOUT', transient: false });
  t.regex(error!.message, /^parsing the document took longer than the limit of 1500 ms/);
  // The proof that it stopped burning CPU: the thread that ran it has exited.
  await exited;
  t.false(workers.liveThreads.includes(thread!));
  const cpu = process.cpuUsage();
  await new Promise((resolve) => setTimeout(resolve, 500));
  const used = process.cpuUsage(cpu);
  t.log(`process CPU in the 500 ms after the timeout: ${Math.round((used.user + used.system) / 1000)} ms`);
  t.deepEqual(await workers.embed(['the pool carries on'], 8), [hashEmbedding('the pool carries on', 8)]);
});

serial('a task over the memory limit fails with DOCUMENT_TOO_COMPLEX; the pool carries on', async (t) => {
  // 24 MB, well under the 64 MiB the bomb inflates to: PDF.js inflates in JavaScript, and each MB is CPU time.
  const workers = pool(t, { timeLimitMs: 60_000, memoryMb: 24 });
  const error = await t.throwsAsync(workers.parse(bomb(), 'application/pdf'), { instanceOf: AdapterError });
  t.like(error, { code: 'DOCUMENT_TOO_COMPLEX', transient: false });
  t.regex(error!.message, /needed more than the limit of 24 MB of memory/);
  t.is((await workers.parse(bytes('# fine'), 'text/markdown')).markdown, '# fine');
});

serial('errors from the adapters keep their code across the thread boundary', async (t) => {
  const workers = pool(t);
  const error = await t.throwsAsync(workers.parse(bytes('%PDF-1.4 nothing else'), 'application/pdf'), { instanceOf: AdapterError });
  t.like(error, { code: 'PDF_INVALID', transient: false });
});

serial('a caller abort stops the task with a transient ABORTED; close() fails waiting tasks and ends every thread', async (t) => {
  const workers = new DocumentWorkers({ threads: 1, timeLimitMs: 60_000, memoryMb: 2048 });
  const controller = new AbortController();
  const running = workers.parse(bomb(), 'application/pdf', { signal: controller.signal });
  const waiting = workers.chunk('# queued behind it');
  setTimeout(() => controller.abort(), 300);
  t.like(await t.throwsAsync(running, { instanceOf: AdapterError }), { code: 'ABORTED', transient: true });
  t.is((await waiting).length, 1, 'the next task got the thread');
  const blocked = workers.parse(bomb(), 'application/pdf');
  const queued = workers.embed(['never runs'], 8);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const threads = [...workers.liveThreads];
  await workers.close();
  t.like(await t.throwsAsync(blocked, { instanceOf: AdapterError }), { code: 'WORKERS_CLOSED', transient: true });
  t.like(await t.throwsAsync(queued, { instanceOf: AdapterError }), { code: 'WORKERS_CLOSED', transient: true });
  t.is(workers.liveThreads.length, 0);
  for (const thread of threads) t.is(thread.threadId, -1, 'the thread has exited');
});

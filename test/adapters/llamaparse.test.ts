import test from 'ava';
import express from 'express';
import { LlamaParseReader } from 'llama-cloud-services';
import { AdapterError } from '../../adapters/errors.js';
import { LlamaParseClient } from '../../adapters/llamaparse/client.js';
import { createLlamaParseMock } from '../../adapters/llamaparse/mock.js';
import { listen } from '../helpers/listen.js';
import { corpusTest, corpusDocuments } from '../helpers/corpus.js';
import { encryptedPdf, imageOnlyPdf, OPENING, textPdf, writeDocuments } from '../fixtures/documents.js';

// The mock is driven by LlamaIndex's own npm reader (llama-cloud-services 0.5.4, LlamaParse v1).

const escape = (text: string) => new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("LlamaIndex's LlamaParseReader parses a PDF through the mock", async (t) => {
  const mock = createLlamaParseMock({ processingMs: 20 });
  const baseUrl = await listen(t, mock.app);
  const reader = new LlamaParseReader({ apiKey: 'llx-test', baseUrl, resultType: 'markdown', checkInterval: 0.05, verbose: false });
  const [fourPages, threePages] = writeDocuments(t, [
    { name: 'four-pages.pdf', content: await textPdf() },
    { name: 'three-pages.pdf', content: await textPdf({ pages: 3 }) },
  ]);
  const documents = await reader.loadData(fourPages!);
  t.true(documents.length >= 1);
  t.regex(documents.map((d) => d.text).join('\n'), escape(OPENING));
  const json = await reader.loadJson(threePages!);
  t.is((json[0] as { pages: unknown[] }).pages.length, 3, 'three pages, as the PDF has');
});

test('the reader surfaces a job ERROR the way the real API reports it: scripted, and for an encrypted PDF', async (t) => {
  const mock = createLlamaParseMock({ processingMs: 10 });
  mock.script.fail = { times: 1, error_code: 'ERROR_DURING_PROCESSING', error_message: 'boom' };
  const reader = new LlamaParseReader({ apiKey: 'llx-test', baseUrl: await listen(t, mock.app), resultType: 'markdown', checkInterval: 0.05, verbose: false, ignoreErrors: false });
  const [one, locked] = writeDocuments(t, [
    { name: 'one-page.pdf', content: await textPdf({ pages: 1 }) },
    { name: 'locked.pdf', content: await encryptedPdf() },
  ]);
  await t.throwsAsync(reader.loadData(one!), { message: /status: ERROR/ });
  await t.throwsAsync(reader.loadData(locked!), { message: /status: ERROR/ });
});

test('the mock parses for real: an encrypted PDF is a job ERROR PDF_ENCRYPTED, a 6-page scan is SUCCESS with no text', async (t) => {
  const mock = createLlamaParseMock({ processingMs: 10 });
  const client = new LlamaParseClient({ apiKey: 'llx-test', baseUrl: await listen(t, mock.app) });
  const settled = async (id: string) => {
    for (let i = 0; i < 500 && (await client.status(id)).status === 'PENDING'; i++) await pause(10);
    return client.status(id);
  };
  const locked = await client.upload(await encryptedPdf(), 'locked.pdf');
  t.like(await settled(locked.id), { status: 'ERROR', error_code: 'PDF_ENCRYPTED' });
  const scan = await client.upload(await imageOnlyPdf(6), 'scan.pdf');
  t.like(await settled(scan.id), { status: 'SUCCESS', error_code: null });
  t.is((await client.markdown(scan.id)).markdown.trim(), '', 'no text, not even page rules');
});

test('our client: upload, status, result; webhooks delivered, dropped or duplicated as scripted', async (t) => {
  const received: unknown[] = [];
  const hook = express().use(express.json({ limit: '10mb' })).post('/hook', (req, res) => void (received.push(req.body), res.sendStatus(200)));
  const hookUrl = await listen(t, hook);
  // Long enough that the result is still missing when asked for at once, on loaded cores too.
  const mock = createLlamaParseMock({ processingMs: 1000, apiKeys: ['llx-good'] });
  const client = new LlamaParseClient({ apiKey: 'llx-good', baseUrl: await listen(t, mock.app) });
  const pdf = await textPdf({ pages: 1 });

  mock.script.webhook = 'duplicate';
  const job = await client.upload(pdf, 'minimal.pdf', { webhookUrl: `${hookUrl}/hook` });
  t.is(job.status, 'PENDING');
  const early = await t.throwsAsync(client.markdown(job.id), { instanceOf: AdapterError });
  t.like(early, { status: 404, transient: false });
  t.regex(early!.message, /Result for Parsing Job .* not found/);
  for (let i = 0; (await client.status(job.id)).status === 'PENDING'; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  t.like(await client.status(job.id), { status: 'SUCCESS', error_code: null });
  t.regex((await client.markdown(job.id)).markdown, escape(OPENING));
  t.is(await client.pages(job.id), 1);
  for (let i = 0; received.length < 2 && i < 100; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  t.is(received.length, 2, 'delivered twice');
  t.like(received[0], { md: (await client.markdown(job.id)).markdown });

  mock.script.webhook = 'drop';
  const dropped = await client.upload(pdf, 'again.pdf', { webhookUrl: `${hookUrl}/hook` });
  for (let i = 0; (await client.status(dropped.id)).status === 'PENDING'; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.is(received.length, 2, 'none for the dropped one');
});

test('our client classifies failures: 429 and 5xx transient with Retry-After, 401 and 404 permanent', async (t) => {
  const mock = createLlamaParseMock({ apiKeys: ['llx-good'] });
  const baseUrl = await listen(t, mock.app);
  const client = new LlamaParseClient({ apiKey: 'llx-good', baseUrl });
  mock.faults.add({ status: 429, retryAfterMs: 3000 }, { status: 503 });
  t.like(await t.throwsAsync(client.status('x'), { instanceOf: AdapterError }), { code: 'LLAMAPARSE_RATE_LIMITED', transient: true, retryAfterMs: 3000 });
  t.like(await t.throwsAsync(client.status('x')), { status: 503, transient: true });
  t.like(await t.throwsAsync(client.status('x')), { status: 404, transient: false });
  t.like(await t.throwsAsync(new LlamaParseClient({ apiKey: 'llx-bad', baseUrl }).status('x')), { status: 401, transient: false });
  t.like(await t.throwsAsync(new LlamaParseClient({ apiKey: 'k', baseUrl: 'http://127.0.0.1:9' }).status('x')), { code: 'LLAMAPARSE_UNREACHABLE', transient: true });
});

corpusTest("LlamaIndex's LlamaParseReader parses corpus PDFs through the mock", async (t) => {
  const mock = createLlamaParseMock({ processingMs: 20 });
  const reader = new LlamaParseReader({ apiKey: 'llx-test', baseUrl: await listen(t, mock.app), resultType: 'markdown', checkInterval: 0.05, verbose: false });
  const path = (name: string) => corpusDocuments().find((d) => d.name === name)!.path;
  const documents = await reader.loadData(path('pdflatex-4-pages.pdf'));
  t.true(documents.length >= 1);
  t.regex(documents.map((d) => d.text).join('\n'), /Hello, here is some text without a meaning/);
  const json = await reader.loadJson(path('multicolumn.pdf'));
  t.is((json[0] as { pages: unknown[] }).pages.length, 3, 'three pages, as the PDF has');
  t.regex((await reader.loadData(path('minimal-document.pdf'))).map((d) => d.text).join('\n'), /Lorem ipsum/);
});

import test from 'ava';
import { readFileSync } from 'node:fs';
import express from 'express';
import { LlamaParseReader } from 'llama-cloud-services';
import { AdapterError } from '../../adapters/errors.js';
import { LlamaParseClient } from '../../adapters/llamaparse/client.js';
import { createLlamaParseMock } from '../../adapters/llamaparse/mock.js';
import { listen } from '../helpers/listen.js';

const corpus = new URL('../../../shared/corpus/', import.meta.url);

// The mock is driven by LlamaIndex's own npm reader (llama-cloud-services 0.5.4, LlamaParse v1).

test("LlamaIndex's LlamaParseReader parses a PDF through the mock", async (t) => {
  const mock = createLlamaParseMock({ processingMs: 20 });
  const baseUrl = await listen(t, mock.app);
  const reader = new LlamaParseReader({ apiKey: 'llx-test', baseUrl, resultType: 'markdown', checkInterval: 0.05, verbose: false });
  const documents = await reader.loadData(new URL('pdflatex-4-pages.pdf', corpus).pathname);
  t.true(documents.length >= 1);
  t.regex(documents.map((d) => d.text).join('\n'), /Hello, here is some text without a meaning/);
  const json = await reader.loadJson(new URL('multicolumn.pdf', corpus).pathname);
  t.is((json[0] as { pages: unknown[] }).pages.length, 3, 'three pages, as the PDF has');
});

test('the reader surfaces a job ERROR the way the real API reports it', async (t) => {
  const mock = createLlamaParseMock({ processingMs: 10 });
  mock.script.fail = { times: 1, error_code: 'ERROR_DURING_PROCESSING', error_message: 'boom' };
  const reader = new LlamaParseReader({ apiKey: 'llx-test', baseUrl: await listen(t, mock.app), resultType: 'markdown', checkInterval: 0.05, verbose: false, ignoreErrors: false });
  await t.throwsAsync(reader.loadData(new URL('minimal-document.pdf', corpus).pathname), { message: /status: ERROR/ });
});

test('our client: upload, status, result; webhooks delivered, dropped or duplicated as scripted', async (t) => {
  const received: unknown[] = [];
  const hook = express().use(express.json({ limit: '10mb' })).post('/hook', (req, res) => void (received.push(req.body), res.sendStatus(200)));
  const hookUrl = await listen(t, hook);
  const mock = createLlamaParseMock({ processingMs: 10, apiKeys: ['llx-good'] });
  const client = new LlamaParseClient({ apiKey: 'llx-good', baseUrl: await listen(t, mock.app) });
  const pdf = new Uint8Array(readFileSync(new URL('minimal-document.pdf', corpus)));

  mock.script.webhook = 'duplicate';
  const job = await client.upload(pdf, 'minimal.pdf', { webhookUrl: `${hookUrl}/hook` });
  t.is(job.status, 'PENDING');
  const early = await t.throwsAsync(client.markdown(job.id), { instanceOf: AdapterError });
  t.like(early, { status: 404, transient: false });
  t.regex(early!.message, /Result for Parsing Job .* not found/);
  for (let i = 0; (await client.status(job.id)).status === 'PENDING'; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  t.like(await client.status(job.id), { status: 'SUCCESS', error_code: null });
  t.regex((await client.markdown(job.id)).markdown, /Lorem ipsum/);
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

import test, { type ExecutionContext } from 'ava';
import { UPLOAD_STAGES } from '../../machines/upload.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { corpusDocuments, corpusSerial } from '../helpers/corpus.js';
import { everyKind, imageOnlyPdf, textPdf, type DocumentCase } from '../fixtures/documents.js';
import { getJson, startServer, until, upload } from '../helpers/server.js';
import { webhookToken } from '../helpers/webhook-token.js';

failOnLeakedRuntimes();

// One at a time: each test opens its own database, and several PGlite instances starting at once in
// one process block its event loop long enough to time out the tests' own HTTP requests.
const serial = test.serial;

serial('a PDF uploaded over HTTP reaches complete with chunks; the job shows its history', async (t) => {
  const { url } = await startServer(t);
  const pdf = await textPdf();
  const created = await upload(url, { name: 'paper.pdf', content: pdf, type: 'application/pdf' }, { metadata: '{"source":"test"}' });
  t.is(created.status, 202);
  t.regex(created.body.job_id, /^[0-9a-f-]{36}$/);
  // The stage when the answer was written: queued, or later when this process's worker was quicker.
  t.true((UPLOAD_STAGES as readonly string[]).includes(created.body.stage), created.body.stage);
  t.deepEqual(created.body.links, { self: `/v1/jobs/${created.body.job_id}` });
  const job = await until(`${url}/v1/jobs/${created.body.job_id}`, (body) => body.stage === 'complete' || body.stage === 'failed');
  t.like(job, { stage: 'complete', status: 'done', filename: 'paper.pdf', bytes: pdf.byteLength, media_type: 'application/pdf', metadata: { source: 'test' }, attempts: 0, error: null });
  t.regex(job.sha256, /^[0-9a-f]{64}$/);
  t.deepEqual(
    job.history.map((h: { stage: string }) => h.stage),
    ['queued', 'job_validated', 'parsed', 'chunking', 'chunked', 'embedding', 'embedded', 'complete'],
  );
  t.true(job.history.every((h: { at: string; event: string }) => !Number.isNaN(Date.parse(h.at)) && h.event.length > 0));
  const { body } = await getJson(`${url}/v1/jobs/${created.body.job_id}/chunks`);
  t.is(body.chunks.length, job.chunks);
  t.true(body.chunks.length > 0);
  t.like(body.chunks[0], { index: 0 });
  t.true(body.chunks.every((c: { tokens: number; text: string; headers: unknown }) => c.tokens > 0 && c.text.length > 0 && Array.isArray(c.headers)));

  const again = await upload(url, { name: 'copy.pdf', content: pdf });
  t.is(again.status, 200);
  t.like(again.body, { job_id: created.body.job_id, duplicate: true });
});

serial('bad uploads get the right status and a JSON body that says what is wrong', async (t) => {
  const { url } = await startServer(t, { MAX_UPLOAD_BYTES: '1000' });
  const cases: [string, Awaited<ReturnType<typeof upload>>, number, string][] = [
    ['no file', await upload(url, null, { metadata: '{}' }), 400, 'NO_FILE'],
    ['empty file', await upload(url, { name: 'empty.txt', content: '' }), 400, 'EMPTY_FILE'],
    ['too large', await upload(url, { name: 'big.pdf', content: await textPdf() }), 413, 'FILE_TOO_LARGE'],
    ['a PNG', await upload(url, { name: 'pic.pdf', content: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]) }), 415, 'UNSUPPORTED_TYPE'],
    ['metadata not JSON', await upload(url, { name: 'a.txt', content: 'hi' }, { metadata: '{oops' }), 400, 'INVALID_METADATA'],
    ['metadata not an object', await upload(url, { name: 'a.txt', content: 'hi' }, { metadata: '[1,2]' }), 400, 'INVALID_METADATA'],
  ];
  for (const [what, response, status, code] of cases) {
    t.is(response.status, status, what);
    t.is(response.body.error.code, code, what);
    t.true(response.body.error.message.length > 10, `${what}: ${response.body.error.message}`);
  }
  const notMultipart = await fetch(`${url}/v1/uploads`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  t.is(notMultipart.status, 400);
  t.is(((await notMultipart.json()) as any).error.code, 'NOT_MULTIPART');
  const { body } = await getJson(`${url}/v1/jobs`);
  t.deepEqual(body.jobs, [], 'nothing was stored for a refused upload');
});

serial('job lookups: 404 for unknown, 400 for malformed ids and queries, pages by cursor', async (t) => {
  const { url } = await startServer(t);
  t.like(await getJson(`${url}/v1/jobs/6f1c1d57-9a54-4a44-8a8e-6d2f0e1f4e70`), { status: 404, body: { error: { code: 'JOB_NOT_FOUND' } } });
  t.like(await getJson(`${url}/v1/jobs/nope`), { status: 400, body: { error: { code: 'INVALID_JOB_ID' } } });
  t.like(await getJson(`${url}/v1/jobs?stage=dancing`), { status: 400, body: { error: { code: 'INVALID_QUERY' } } });
  t.like(await getJson(`${url}/v1/jobs?cursor=garbage`), { status: 400, body: { error: { code: 'INVALID_CURSOR' } } });
  t.like(await getJson(`${url}/v1/nothing`), { status: 404, body: { error: { code: 'NOT_FOUND' } } });
  const ids = [];
  for (const n of [1, 2, 3]) ids.push((await upload(url, { name: `${n}.txt`, content: `document ${n}` })).body.job_id);
  const first = await getJson(`${url}/v1/jobs?limit=2`);
  t.is(first.body.jobs.length, 2);
  const second = await getJson(`${url}/v1/jobs?limit=2&cursor=${first.body.next_cursor}`);
  t.is(second.body.jobs.length, 1);
  t.deepEqual([...first.body.jobs, ...second.body.jobs].map((j: { job_id: string }) => j.job_id).sort(), [...ids].sort());
  await until(`${url}/v1/jobs?stage=complete`, (body) => body.jobs.length === 3);
});

serial('the LlamaParse webhook: 400 for a malformed body, 401 without the job\'s token, duplicates applied once', async (t) => {
  // No workers: the job waits in queued, so the callback events stay visible in the inbox.
  const { url, pipeline } = await startServer(t, {}, { worker: false });
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  };
  const seed = await post('/webhooks/llamaparse', { test: 'webhook' });
  t.is(seed.status, 400);
  t.is(seed.body.error.code, 'INVALID_WEBHOOK');
  t.regex(seed.body.error.message, /not a LlamaParse webhook \(fields: test\)/);
  t.like(await post('/webhooks/llamaparse', { event_id: 'e1', event_type: 'parse.success', data: { job_id: 'lp-unknown' } }), { status: 401, body: { error: { code: 'WEBHOOK_TOKEN_INVALID' } } });
  t.like(await post('/webhooks/llamaparse', { md: '# result' }), { status: 400, body: { error: { code: 'INVALID_WEBHOOK' } } });

  const { body: created } = await upload(url, { name: 'a.md', content: '# hello' });
  const event = { event_id: 'evt-1', event_type: 'parse.success', timestamp: 1753985275.1, data: { id: 'lp-1', job_id: 'lp-1' } };
  t.like(await post(`/webhooks/llamaparse?job_id=${created.job_id}`, event), { status: 401 }, 'a local job was never given a token');
  const token = await webhookToken(pipeline, created.job_id);
  const hook = `/webhooks/llamaparse?job_id=${created.job_id}&token=${token}`;
  const first = await post(hook, event);
  const again = await post(hook, event);
  t.like(first, { status: 200, body: { received: true, job_id: created.job_id } });
  t.like(again, { status: 200, body: { received: true, ignored: 'duplicate' } });
  // The event as a JSON-encoded string (LlamaCloud's "string" output format) is read the same way.
  const asString = await post(hook, JSON.stringify({ ...event, event_id: 'evt-2' }));
  t.is(asString.status, 200);
  const pushed = await post(hook, { md: '# result', txt: 'result', json: [] });
  t.is(pushed.status, 200);
  const { rows } = await pipeline.db.query<{ type: string }>(`SELECT event->>'type' AS type FROM docket.events WHERE instance_id = $1`, [created.job_id]);
  t.deepEqual(rows.map((r) => r.type), ['PARSE_CALLBACK', 'PARSE_CALLBACK', 'PARSE_CALLBACK']);
});

serial('health answers 200 with the database status, 503 when the database is gone', async (t) => {
  const { url, pipeline } = await startServer(t);
  const ok = await getJson(`${url}/health`);
  t.like(ok, { status: 200, body: { status: 'ok', database: { status: 'ok' } } });
  await pipeline.runtime.close();
  await pipeline.db.close();
  const down = await getJson(`${url}/health`);
  t.like(down, { status: 503, body: { status: 'unavailable', database: { status: 'error' } } });
});

/** Uploads every document over HTTP and checks each job's documented outcome. */
async function everyDocument(t: ExecutionContext, documents: DocumentCase[]) {
  const { url } = await startServer(t);
  const created = await Promise.all(documents.map(async ({ name, content, outcome }) => ({ name, outcome, job_id: (await upload(url, { name, content })).body.job_id as string })));
  for (const { name, outcome, job_id } of created) {
    const job = await until(`${url}/v1/jobs/${job_id}`, (body) => ['complete', 'failed'].includes(body.stage));
    if (outcome === 'encrypted') t.like(job, { stage: 'failed', error: { code: 'PDF_ENCRYPTED' } }, name);
    else if (outcome === 'no-text') {
      t.like(job, { stage: 'complete', chunks: 0 }, name);
      t.true(job.warnings.some((w: string) => w.startsWith('NO_TEXT')), name);
    } else t.true(job.stage === 'complete' && job.chunks > 0, `${name}: ${JSON.stringify(job.error)}`);
  }
}

serial('a document of every kind goes through the HTTP API on the local providers', async (t) => {
  await everyDocument(t, await everyKind());
});

// Regression: a 6-page image-only PDF gave "---" page rules as its text, and they were chunked.
serial('a scan of 6 pages uploaded over HTTP ends complete with 0 chunks and a NO_TEXT warning', async (t) => {
  const { url } = await startServer(t);
  const created = await upload(url, { name: 'scan.pdf', content: await imageOnlyPdf(6), type: 'application/pdf' });
  t.is(created.status, 202);
  const job = await until(`${url}/v1/jobs/${created.body.job_id}`, (body) => body.stage === 'complete' || body.stage === 'failed');
  t.like(job, { stage: 'complete', status: 'done', chunks: 0, embedded: 0, error: null });
  t.is(job.warnings.length, 1);
  t.regex(job.warnings[0], /^NO_TEXT: /);
  t.deepEqual((await getJson(`${url}/v1/jobs/${created.body.job_id}/chunks`)).body, { chunks: [] });
});

corpusSerial('every corpus document goes through the HTTP API on the local providers', async (t) => {
  await everyDocument(t, corpusDocuments());
});

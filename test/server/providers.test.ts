import test, { type ExecutionContext } from 'ava';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { startServerWithMocks } from '../helpers/mocked-server.js';
import { until, upload } from '../helpers/server.js';
import { corpusDocuments, corpusSerial } from '../helpers/corpus.js';
import { everyKind, imageOnlyPdf, type DocumentCase } from '../fixtures/documents.js';

failOnLeakedRuntimes();

// One at a time: each test opens its own database, and several PGlite instances starting at once in
// one process block its event loop long enough to time out the tests' own HTTP requests.
const serial = test.serial;

const settled = (url: string, jobId: string) => until(`${url}/v1/jobs/${jobId}`, (body) => ['complete', 'failed', 'canceled'].includes(body.stage));

/** Uploads every document over HTTP, parsed by the LlamaParse mock and embedded by the OpenAI mock. */
async function everyDocument(t: ExecutionContext, documents: DocumentCase[]) {
  const { url, llamaparse, openai } = await startServerWithMocks(t);
  const jobs = await Promise.all(documents.map(async ({ name, content, outcome }) => ({ name, outcome, job_id: (await upload(url, { name, content })).body.job_id as string })));
  for (const { name, outcome, job_id } of jobs) {
    const job = await settled(url, job_id);
    if (outcome === 'encrypted') t.like(job, { stage: 'failed', error: { stage: 'parsing', code: 'LLAMAPARSE_PDF_ENCRYPTED' } }, name);
    else if (outcome === 'no-text') {
      t.like(job, { stage: 'complete', chunks: 0 }, name);
      t.true(job.warnings.some((w: string) => w.startsWith('NO_TEXT')), name);
    } else {
      t.like(job, { stage: 'complete', error: null }, name);
      t.true(job.chunks > 0 && job.embedded === job.chunks, name);
    }
  }
  t.true(llamaparse.deliveries.length >= documents.length - 1, 'LlamaParse called back');
  t.true(llamaparse.deliveries.every((d) => d.status === 200));
  t.true(openai.requests() > 0);
}

serial('a document of every kind goes through the HTTP API on the LlamaParse and OpenAI mocks', async (t) => {
  await everyDocument(t, await everyKind());
});

// Regression: a 6-page image-only PDF gave "---" page rules as its text, and they were chunked.
serial('a scan of 6 pages through the LlamaParse mock ends complete with 0 chunks and a NO_TEXT warning', async (t) => {
  const { url } = await startServerWithMocks(t);
  const created = await upload(url, { name: 'scan.pdf', content: await imageOnlyPdf(6) });
  const job = await settled(url, created.body.job_id);
  t.like(job, { stage: 'complete', chunks: 0, embedded: 0, error: null });
  t.true(job.warnings.some((w: string) => w.startsWith('NO_TEXT')));
});

corpusSerial('every corpus document goes through the HTTP API on the LlamaParse and OpenAI mocks', async (t) => {
  await everyDocument(t, corpusDocuments());
});

serial('faults: 429s, 5xx and latency are retried or waited out to completion; a job ERROR fails the job in parsing', async (t) => {
  const { url, llamaparse, openai } = await startServerWithMocks(t);
  llamaparse.faults.add({ status: 503, path: '/upload' }, { delayMs: 300, path: '/job/' });
  openai.faults.add({ status: 429, retryAfterMs: 100, times: 2 }, { delayMs: 300 });
  const ok = await upload(url, { name: 'a.md', content: '# Retried\n\nthrough an outage' });
  const done = await settled(url, ok.body.job_id);
  t.like(done, { stage: 'complete', error: null });
  t.is(done.attempts, 3, 'one LlamaParse retry and two OpenAI retries, recorded');

  llamaparse.script.fail = { times: 1, error_code: 'ERROR_DURING_PROCESSING', error_message: 'the parser fell over' };
  const bad = await upload(url, { name: 'b.md', content: '# Doomed' });
  t.like(await settled(url, bad.body.job_id), { stage: 'failed', error: { stage: 'parsing', code: 'LLAMAPARSE_ERROR_DURING_PROCESSING', message: 'the parser fell over' } });

  llamaparse.script.partial = 1;
  const partial = await upload(url, { name: 'c.md', content: '# Partly\n\nparsed' });
  const partialJob = await settled(url, partial.body.job_id);
  t.is(partialJob.stage, 'complete');
  t.true(partialJob.warnings.some((w: string) => w.startsWith('PARTIAL_SUCCESS')));
});

serial('webhooks dropped or duplicated: polling finishes the job, a duplicate is applied once', async (t) => {
  const { url, llamaparse, pipeline } = await startServerWithMocks(t);
  llamaparse.script.webhook = 'drop';
  const dropped = await upload(url, { name: 'dropped.md', content: '# no callback' });
  t.is((await settled(url, dropped.body.job_id)).stage, 'complete', 'found by polling');
  llamaparse.script.webhook = 'duplicate';
  const twice = await upload(url, { name: 'twice.md', content: '# two callbacks' });
  t.is((await settled(url, twice.body.job_id)).stage, 'complete');
  const callbacks = (await pipeline.runtime.history(twice.body.job_id)).filter((h) => h.event.type === 'PARSE_CALLBACK');
  t.true(callbacks.length <= 1, `applied ${callbacks.length} times`);
  t.is(llamaparse.deliveries.filter((d) => d.url.includes(twice.body.job_id)).length, 2, 'both deliveries answered');
});

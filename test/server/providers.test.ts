import test, { type ExecutionContext } from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { createLlamaParseMock } from '../../adapters/llamaparse/mock.js';
import { createOpenAIMock } from '../../adapters/openai/mock.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { listen } from '../helpers/listen.js';
import { freePort, startServer, until, upload } from '../helpers/server.js';

failOnLeakedRuntimes();

// One at a time: each test opens its own database, and several PGlite instances starting at once in
// one process block its event loop long enough to time out the tests' own HTTP requests.
const serial = test.serial;

const corpus = new URL('../../../shared/corpus/', import.meta.url);

/** The server pointed at both mocks, with LlamaParse's webhooks coming back to it. */
async function withMocks(t: ExecutionContext) {
  const llamaparse = createLlamaParseMock({ processingMs: 30 });
  const openai = createOpenAIMock();
  const port = await freePort();
  const server = await startServer(
    t,
    {
      LLAMA_CLOUD_API_KEY: 'llx-test',
      LLAMA_CLOUD_BASE_URL: await listen(t, llamaparse.app),
      OPENAI_API_KEY: 'sk-test',
      OPENAI_BASE_URL: `${await listen(t, openai.app)}/v1`,
      PUBLIC_URL: `http://127.0.0.1:${port}`,
    },
    { port },
  );
  return { ...server, llamaparse, openai };
}

const settled = (url: string, jobId: string) => until(`${url}/v1/jobs/${jobId}`, (body) => ['complete', 'failed', 'canceled'].includes(body.stage));

serial('every corpus document goes through the HTTP API on the LlamaParse and OpenAI mocks', async (t) => {
  const { url, llamaparse, openai } = await withMocks(t);
  const files = readdirSync(corpus).filter((f) => /\.(pdf|md|html)$/.test(f));
  const jobs = await Promise.all(
    files.map(async (file) => ({ file, job_id: (await upload(url, { name: file, content: new Uint8Array(readFileSync(new URL(file, corpus))) })).body.job_id as string })),
  );
  for (const { file, job_id } of jobs) {
    const job = await settled(url, job_id);
    if (file === 'libreoffice-writer-password.pdf') t.like(job, { stage: 'failed', error: { stage: 'parsing', code: 'LLAMAPARSE_PDF_ENCRYPTED' } }, file);
    else if (file === 'imagemagick-lzw.pdf') {
      t.like(job, { stage: 'complete', chunks: 0 }, file);
      t.true(job.warnings.some((w: string) => w.startsWith('NO_TEXT')), file);
    } else {
      t.like(job, { stage: 'complete', error: null }, file);
      t.true(job.chunks > 0 && job.embedded === job.chunks, file);
    }
  }
  t.true(llamaparse.deliveries.length >= files.length - 1, 'LlamaParse called back');
  t.true(llamaparse.deliveries.every((d) => d.status === 200));
  t.true(openai.requests() > 0);
});

serial('faults: 429s, 5xx and latency are retried or waited out to completion; a job ERROR fails the job in parsing', async (t) => {
  const { url, llamaparse, openai } = await withMocks(t);
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
  const { url, llamaparse, pipeline } = await withMocks(t);
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

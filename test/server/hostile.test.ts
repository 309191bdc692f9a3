// Hostile documents against the real server. Before the worker threads, a 50 KB one-word file froze
// every worker (quadratic BPE on the main thread; leases lapsed, other workers took the job and froze
// too; /health unanswered for 100 s), a 196 KB PDF bomb blocked /health for ~190 s, a 20,000-page
// PDF took 126 s and 4.2 GB, and a valid 20 MiB Markdown file blocked the API for ~16 s.
import test from 'ava';
import { get } from 'node:http';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { decompressionBombPdf, largeText, manyPagesPdf, nulGlyphPdf, oneWord } from '../helpers/hostile.js';
import { startServer, until, upload } from '../helpers/server.js';

failOnLeakedRuntimes();

const serial = test.serial;

// Small limits keep the test short: the bomb is stopped after 15 s at most. Alone, each text
// document needs under a second of thread time (chunking 20 MB: 0.6 s, about 120 MB of heap); with
// the machine shared (load average 14 on 2 cores) 5 s was once not enough, hence 15 s.
const env = {
  DOCUMENT_WORKERS: '2',
  DOCUMENT_TIME_LIMIT_MS: '15000',
  DOCUMENT_MEMORY_MB: '256',
  MAX_PDF_PAGES: '2000',
  EMBED_BATCH_SIZE: '2048',
};

const ended = (body: Record<string, any>) => ['complete', 'failed', 'canceled'].includes(body.stage);

/**
 * GET on a fresh connection, resolving with the status. Not fetch's keep-alive pool: a loop held
 * past the server's 5 s keepAliveTimeout (PGlite stores a 20 MB upload on the main thread) closes
 * the idle socket just as the next request goes out on it, and fetch fails on that race instead of
 * waiting for the answer, which is what this test measures.
 */
function status(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = get(url, { agent: false, timeout: 60_000 }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.on('timeout', () => request.destroy(new Error('no answer within 60 s')));
    request.on('error', reject);
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

serial('while a 20 MB text, a one-word file, a PDF bomb and a 20,000-page PDF are processed, /health always answers', async (t) => {
  // About 15 s on PostgreSQL; on PGlite over a minute, because PGlite stores and reads the 20 MB
  // upload's bytea on the main thread (10 s to insert, 5 s per read), which also lets leases lapse.
  t.timeout(300_000);
  const { url } = await startServer(t, env);
  const documents = [
    { name: 'large.md', content: largeText(20 * 1024 * 1024), expect: 'complete' },
    { name: 'one-word.txt', content: oneWord(50 * 1024), expect: 'complete' },
    { name: 'bomb.pdf', content: new Uint8Array(decompressionBombPdf(64)), expect: ['DOCUMENT_TOO_COMPLEX', 'PARSE_TIMEOUT'] },
    { name: 'pages.pdf', content: new Uint8Array(manyPagesPdf(20_000)), expect: ['PAGE_LIMIT'] },
  ] as const;

  let polling = true;
  const latencies: number[] = [];
  const failures: string[] = [];
  const poller = (async () => {
    while (polling) {
      const started = performance.now();
      try {
        const code = await status(`${url}/health`);
        if (code !== 200) failures.push(`status ${code}`);
      } catch (error) {
        failures.push((error as Error).message);
      }
      latencies.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();

  const started = performance.now();
  const jobs = await Promise.all(documents.map((doc) => upload(url, { name: doc.name, content: doc.content })));
  for (const [i, job] of jobs.entries()) t.is(job.status, 202, documents[i]!.name);
  const results = await Promise.all(jobs.map((job) => until(`${url}/v1/jobs/${job.body.job_id}`, ended, 240_000)));
  const elapsed = performance.now() - started;
  polling = false;
  await poller;

  for (const [i, doc] of documents.entries()) {
    const job = results[i]!;
    if (doc.expect === 'complete') {
      t.is(job.stage, 'complete', `${doc.name}: ${JSON.stringify(job.error)}`);
      t.true(job.chunks > 0, doc.name);
      t.is(job.embedded, job.chunks, doc.name);
    } else {
      t.is(job.stage, 'failed', doc.name);
      t.true((doc.expect as readonly string[]).includes(job.error?.code), `${doc.name}: ${JSON.stringify(job.error)}`);
      t.is(job.error.stage, 'job_validated', `${doc.name} fails where it is parsed`);
    }
  }
  t.deepEqual(failures, [], 'every /health request answered 200');
  const sorted = [...latencies].sort((a, b) => a - b);
  const ms = (value: number) => `${Math.round(value)} ms`;
  t.log(`jobs ended after ${ms(elapsed)}; ${results.map((job, i) => `${documents[i]!.name}: ${job.stage}${job.error ? ` ${job.error.code}` : ` (${job.chunks} chunks)`}`).join(', ')}`);
  t.log(`/health latency over ${sorted.length} requests: p50 ${ms(percentile(sorted, 50))}, p99 ${ms(percentile(sorted, 99))}, max ${ms(sorted.at(-1)!)}`);
});

serial('a PDF whose font maps a glyph to U+0000 completes (it failed with SQLSTATE 22021)', async (t) => {
  const { url } = await startServer(t, env);
  const created = await upload(url, { name: 'nul.pdf', content: new Uint8Array(nulGlyphPdf()) });
  const job = await until(`${url}/v1/jobs/${created.body.job_id}`, ended);
  t.like(job, { stage: 'complete', chunks: 1, error: null });
});

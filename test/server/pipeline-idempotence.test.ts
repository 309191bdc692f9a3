import { isSettled } from '../../machines/upload.js';
import test, { type ExecutionContext } from 'ava';
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { createLlamaParseMock } from '../../adapters/llamaparse/mock.js';
import { LlamaParseClient } from '../../adapters/llamaparse/client.js';
import { LlamaParseParser } from '../../adapters/llamaparse/parser.js';
import { LocalEmbedder, LocalParser } from '../../adapters/local/providers.js';
import { DocumentWorkers } from '../../adapters/local/workers.js';
import { loadConfig, type Config } from '../../server/config.js';
import { createPipeline, type Pipeline } from '../../pipeline/index.js';
import { pipelineServices } from '../../pipeline/services.js';
import { systemClock } from '../../runtime/clock.js';
import type { EffectContext } from '../../runtime/types.js';
import { backend, freshDatabase, pgliteFolder, silent } from '../helpers/db.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { listen } from '../helpers/listen.js';
import { testProgram } from '../helpers/repo.js';

failOnLeakedRuntimes();

// One at a time: each test opens its own database (see pipeline.test.ts).
const serial = test.serial;

/** A document with several sections, so chunking makes several chunks and embedding several batches. */
const DOCUMENT = Array.from({ length: 12 }, (_, i) => `## Section ${i}\n\n${`Sentence ${i} about durable workflows and retries. `.repeat(40)}`).join('\n\n');

async function databaseUrl(t: ExecutionContext): Promise<string> {
  if (backend === 'postgres') return freshDatabase(t);
  // A file-backed PGlite outlives the killed process, as a PostgreSQL database would.
  return `pglite:${await pgliteFolder(t, 'docket-idem-')}`;
}

function settings(config: Config) {
  return { maxUploadBytes: config.MAX_UPLOAD_BYTES, chunkTokens: config.CHUNK_TOKENS, dimensions: config.EMBEDDING_DIMENSIONS, embedBatchSize: config.EMBED_BATCH_SIZE };
}

/** The embedded default: the local parser, embedder and chunker on one pool of threads. */
function localProviders(workers: DocumentWorkers) {
  return { parser: new LocalParser(workers), embedder: new LocalEmbedder(workers, 16), chunker: workers };
}

function effectContext<T>(input: T, idempotencyKey: string): EffectContext<T> {
  return { input, idempotencyKey, attempt: 1, signal: new AbortController().signal, instanceId: 'test', childId: 'test', logger: silent };
}

async function rowsOf(p: Pipeline, jobId: string) {
  const { rows } = await p.db.query<{ index: number; text: string; embedded: boolean }>(
    'SELECT index, text, embedding IS NOT NULL AS embedded FROM upload_pipeline.chunks WHERE job_id = $1 ORDER BY index',
    [jobId],
  );
  return rows;
}

serial('each service run twice leaves the same rows and reports the same counts', async (t) => {
  const llamaparse = createLlamaParseMock({ processingMs: 0 });
  const env = { DATABASE_URL: await databaseUrl(t), EMBEDDING_DIMENSIONS: '16', CHUNK_TOKENS: '128', EMBED_BATCH_SIZE: '4' };
  const config = loadConfig(env);
  // Workers off: the test is the only one running the services.
  const p = await createPipeline(config, { logger: silent, worker: false });
  t.teardown(() => p.close());
  const { jobId } = await p.submit({ filename: 'doc.md', content: new TextEncoder().encode(DOCUMENT) });
  const job = (await p.store.job(jobId))!;
  const workers = new DocumentWorkers({ threads: 1 });
  t.teardown(() => workers.close());
  const local = pipelineServices(p.store, settings(config), localProviders(workers), systemClock);
  const twice = async <T>(name: string, services: typeof local, input: T, key = `${jobId}/${name}`) => {
    const first = await services[name]!(effectContext(input, key));
    const second = await services[name]!(effectContext(input, key));
    t.deepEqual(second, first, `${name} answers the same the second time`);
    return first;
  };

  t.deepEqual(await twice('validateUpload', local, { filename: 'doc.md', sha256: job.sha256 }), { mediaType: 'text/markdown' });
  await twice('submitParse', local, { jobId, mediaType: 'text/markdown' });
  t.is((await p.db.query('SELECT 1 FROM upload_pipeline.documents WHERE job_id = $1', [jobId])).rows.length, 1);

  // Pinned: a retried chunking failed its job with 23505 duplicate key (chunks_pkey).
  const chunked = (await twice('chunkDocument', local, { jobId })) as { chunks: number };
  t.true(chunked.chunks > 4, `several chunks (${chunked.chunks})`);
  const afterChunking = await rowsOf(p, jobId);
  t.deepEqual(afterChunking.map((r) => r.index), [...Array(chunked.chunks).keys()], 'one row per chunk, no duplicates, no gaps');

  // Pinned: a retried batch that found its vectors stored reported embedded: 0. A batch takes the
  // next chunks without a vector, so a second run makes progress; either way it reports the rows.
  const embed = local.embedBatch!;
  for (let run = 1; run <= 2; run++) {
    const batch = await embed(effectContext({ jobId }, `${jobId}/embed`));
    const stored = (await rowsOf(p, jobId)).filter((r) => r.embedded).length;
    t.deepEqual(batch, { embedded: stored, remaining: chunked.chunks - stored });
    t.is(stored, 4 * run);
  }
  // Chunking again after embedding started keeps the vectors of unchanged chunks.
  await local.chunkDocument!(effectContext({ jobId }, 'late'));
  t.is((await rowsOf(p, jobId)).filter((r) => r.embedded).length, 8);

  // A remote submission retried under its idempotency key uploads once.
  const parserUrl = await listen(t, llamaparse.app);
  const remote = pipelineServices(p.store, settings(config), { ...localProviders(workers), parser: new LlamaParseParser(new LlamaParseClient({ apiKey: 'llx-test', baseUrl: parserUrl })) }, systemClock);
  const submitted = (await twice('submitParse', remote, { jobId, mediaType: 'text/markdown' }, `${jobId}/remote-submit`)) as { remoteJobId: string };
  t.is(llamaparse.jobs.size, 1, 'one upload to LlamaParse');
  await new Promise((resolve) => setTimeout(resolve, 20));
  await twice('pollParse', remote, { jobId, remoteJobId: submitted.remoteJobId });
  t.is((await p.db.query('SELECT 1 FROM upload_pipeline.documents WHERE job_id = $1', [jobId])).rows.length, 1);
});

/** Runs the pipeline in a child that dies right after `service`'s side effect; returns the job id. */
async function crashAfter(t: ExecutionContext, service: string, env: Record<string, string>): Promise<string> {
  const program = testProgram('test/helpers/pipeline-process');
  const child = fork(program.script, [
    JSON.stringify({ env, crashAfter: service, leaseMs: 500, document: { filename: 'doc.md', content: DOCUMENT } }),
  ], { execArgv: program.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let jobId: string | undefined;
  let sideEffect = false;
  child.on('message', (message: { type: string; jobId?: string }) => {
    if (message.type === 'submitted') jobId = message.jobId;
    if (message.type === 'side-effect-done') sideEffect = true;
  });
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, s) => resolve(s)));
  t.is(signal, 'SIGKILL', `the child died by its own SIGKILL after ${service}`);
  t.true(sideEffect, `${service} did its side effect before the crash`);
  t.truthy(jobId);
  return jobId!;
}

for (const service of ['validateUpload', 'submitParse', 'pollParse', 'chunkDocument', 'embedBatch']) {
  serial(`killed between ${service}'s side effect and its result, the job completes once another process takes over`, async (t) => {
    const remoteParse = service === 'pollParse' || service === 'submitParse';
    const llamaparse = createLlamaParseMock({ processingMs: 10 });
    const env: Record<string, string> = { DATABASE_URL: await databaseUrl(t), EMBEDDING_DIMENSIONS: '16', CHUNK_TOKENS: '128', EMBED_BATCH_SIZE: '4' };
    if (remoteParse) Object.assign(env, { LLAMA_CLOUD_API_KEY: 'llx-test', LLAMA_CLOUD_BASE_URL: await listen(t, llamaparse.app) });
    const jobId = await crashAfter(t, service, env);

    const p = await createPipeline(loadConfig(env), { logger: silent, tuning: { leaseMs: 500 } });
    t.teardown(() => p.close());
    const done = await p.runtime.waitFor(jobId, isSettled, { timeoutMs: 30_000 });
    const job = (await p.store.job(jobId))!;
    t.is(done.value, 'complete', JSON.stringify(job.error));
    const rows = await rowsOf(p, jobId);
    t.true(rows.length > 4);
    t.deepEqual(rows.map((r) => r.index), [...Array(rows.length).keys()], 'no chunk written twice');
    t.like(job, { stage: 'complete', chunks: rows.length, embedded: rows.length }, 'counters equal the rows');
    t.true(rows.every((r) => r.embedded));
    if (remoteParse) t.is(llamaparse.jobs.size, 1, 'LlamaParse got one upload');
    const { rows: effects } = await p.db.query<{ attempts: number; attempt_log: unknown }>(
      `SELECT attempts, attempt_log FROM docket.effects WHERE instance_id = $1 AND service = $2 ORDER BY id LIMIT 1`,
      [jobId, service],
    );
    t.is(effects[0]?.attempts, 2, `${service} ran again after the crash: ${JSON.stringify(effects)}`);
  });
}

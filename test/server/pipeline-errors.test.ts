import { isSettled } from '../../machines/upload.js';
import test, { type ExecutionContext } from 'ava';
import { loadConfig } from '../../server/config.js';
import { createPipeline, type Pipeline } from '../../pipeline/index.js';
import type { LlamaParseClient } from '../../adapters/llamaparse/client.js';
import { LlamaParseParser } from '../../adapters/llamaparse/parser.js';
import { LocalEmbedder } from '../../adapters/local/providers.js';
import { DocumentWorkers } from '../../adapters/local/workers.js';
import { pipelineServices } from '../../pipeline/services.js';
import { systemClock } from '../../runtime/clock.js';
import { capturingLogger, ownDatabase, silent, type TestDatabase } from '../helpers/db.js';
import { injectFault } from '../helpers/faults.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';

failOnLeakedRuntimes();

const serial = test.serial;

async function pipeline(t: ExecutionContext) {
  const { DATABASE_URL, database } = await ownDatabase(t);
  const { logger, lines } = capturingLogger();
  const p = await createPipeline(loadConfig({ DATABASE_URL, EMBEDDING_DIMENSIONS: '16' }), { logger, database, tuning: { retry: { baseDelayMs: 20, maxDelayMs: 100 } } });
  t.teardown(() => p.close());
  // The pipeline's own tables, in the shape the fault helper takes.
  const tables: TestDatabase = {
    database: p.db,
    schema: 'upload_pipeline',
    query: async (text, values) => (await p.db.query(text, values)).rows as never,
    one: async () => {
      throw new Error('unused');
    },
    close: async () => {},
  };
  return { p, lines, tables };
}

const settle = (p: Pipeline, jobId: string) => p.runtime.waitFor(jobId, isSettled, { timeoutMs: 30_000 });

serial('an internal failure gives the job a plain INTERNAL_ERROR with a reference; the details go to the log', async (t) => {
  const { p, lines, tables } = await pipeline(t);
  // A raw database error the pipeline does not expect: 22021, as a NUL in text once caused.
  await injectFault(tables, { table: 'chunks', on: 'INSERT', error: '22021', times: 100 });
  const { jobId } = await p.submit({ filename: 'a.md', content: new TextEncoder().encode('# Title\n\nSome text to chunk.') });
  await settle(p, jobId);
  const job = (await p.store.job(jobId))!;
  t.is(job.stage, 'failed');
  t.is(job.error!.code, 'INTERNAL_ERROR');
  t.regex(job.error!.message, /^chunkDocument failed unexpectedly \(reference [0-9a-f]{8}; the server log has the details\)$/);
  t.notRegex(JSON.stringify(job.error), /22021|SQLSTATE|injected|upload_pipeline|\.ts:/);
  const ref = /reference ([0-9a-f]{8})/.exec(job.error!.message)![1];
  const logged = lines.find((line) => line.ref === ref);
  t.truthy(logged, 'the log line carries the same reference');
  t.like(logged, { service: 'chunkDocument', instance_id: jobId, err: { code: '22021' } });
});

serial('a database error inside a service is transient: the attempt is retried and the job completes', async (t) => {
  const { p, tables } = await pipeline(t);
  const fault = await injectFault(tables, { table: 'chunks', on: 'INSERT', error: '53100', times: 2 });
  const { jobId } = await p.submit({ filename: 'b.md', content: new TextEncoder().encode('# Title\n\nSome other text to chunk.') });
  await settle(p, jobId);
  const job = (await p.store.job(jobId))!;
  t.is(job.stage, 'complete', JSON.stringify(job.error));
  t.is(await fault.fired(), 2);
  t.is(job.attempts, 2, 'two failed attempts were retried');
});

serial("a remote parser's text with NUL and lone surrogates is stored clean", async (t) => {
  const { p } = await pipeline(t);
  const { jobId } = await p.submit({ filename: 'c.md', content: new TextEncoder().encode('# C') });
  await settle(p, jobId);
  // A parser client whose result carries what Postgres text refuses (22021) or UTF-8 cannot encode.
  const client = {
    status: async () => ({ status: 'SUCCESS' }),
    markdown: async () => ({ markdown: 'before\u0000after \ud800 end', job_metadata: { job_pages: 1 } }),
  } as unknown as LlamaParseClient;
  const parser = new LlamaParseParser(client);
  const workers = new DocumentWorkers({ threads: 1 });
  t.teardown(() => workers.close());
  const services = pipelineServices(p.store, { maxUploadBytes: 1e6, chunkTokens: 128, dimensions: 16, embedBatchSize: 4 }, { parser, embedder: new LocalEmbedder(workers, 16), chunker: workers }, systemClock);
  const output = await services.pollParse!({ input: { jobId, remoteJobId: 'r' }, idempotencyKey: 'k', attempt: 1, signal: new AbortController().signal, instanceId: jobId, childId: 'c', logger: silent });
  t.like(output, { status: 'done' });
  t.is((await p.store.document(jobId))!.markdown, 'beforeafter \ufffd end');
});

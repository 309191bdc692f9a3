import test, { type ExecutionContext } from 'ava';
import { hashEmbedding } from '../../adapters/local/embedder.js';
import { createOpenAIMock } from '../../adapters/openai/mock.js';
import { createPipeline, type Pipeline } from '../../pipeline/index.js';
import { settle } from '../helpers/upload-jobs.js';
import type { ServiceHandler } from '../../index.js';
import { loadConfig } from '../../server/config.js';
import { ownDatabase, silent } from '../helpers/db.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { listen } from '../helpers/listen.js';

failOnLeakedRuntimes();

const JOBS = 6;
const DIMENSIONS = 64;

/** A Markdown document in short sections, several chunks at CHUNK_TOKENS=64, each text its own. */
const document = (seed: string) =>
  Array.from({ length: 4 }, (_, i) => `## ${seed} part ${i}\n\n${`The ${seed} section ${i} is embedded in a request it shares with other jobs. `.repeat(3)}`).join('\n\n');

/**
 * Holds each job's embedding effect until every job's has started, then lets them all go: the jobs
 * then embed at the same moment, as jobs parsed side by side do, without the test depending on how
 * fast each got there.
 */
function barrier(count: number) {
  let arrived = 0;
  let open!: () => void;
  const all = new Promise<void>((resolve) => (open = resolve));
  return (name: string, handler: ServiceHandler): ServiceHandler =>
    name !== 'embedBatch'
      ? handler
      : async (context) => {
          if ((arrived += 1) === count) open();
          await all;
          return handler(context);
        };
}

async function pipelineOnMock(t: ExecutionContext) {
  const openai = createOpenAIMock();
  const { DATABASE_URL, database } = await ownDatabase(t);
  const config = loadConfig({
    DATABASE_URL,
    EMBEDDING_DIMENSIONS: String(DIMENSIONS),
    CHUNK_TOKENS: '64',
    DOCUMENT_WORKERS: '1',
    OPENAI_API_KEY: 'sk-test',
    OPENAI_BASE_URL: `${await listen(t, openai.app)}/v1`,
    // Wide, so the jobs' first queries after the barrier all land in the window on a busy machine.
    EMBED_COALESCE_WINDOW_MS: '500',
  });
  const pipeline = await createPipeline(config, { logger: silent, database, instrument: barrier(JOBS) });
  t.teardown(() => pipeline.close());
  return { openai, pipeline };
}

test('concurrent jobs share embedding requests at OpenAI, and every chunk gets the vector of its own text', async (t) => {
  const { openai, pipeline } = await pipelineOnMock(t);
  const jobIds = await Promise.all(
    Array.from({ length: JOBS }, async (_, i) => (await pipeline.submit({ filename: `doc${i}.md`, content: new TextEncoder().encode(document(`doc${i}`)) })).jobId),
  );
  const jobs = await settle(pipeline, jobIds);
  t.true(jobs.every((job) => job!.stage === 'complete' && job!.chunks > 1 && job!.embedded === job!.chunks), JSON.stringify(jobs.map((j) => [j?.stage, j?.chunks, j?.embedded])));

  const chunks = jobs.reduce((sum, job) => sum + job!.chunks, 0);
  const requests = openai.log().filter((r) => r.status === 200).length;
  // Alone, each job (one batch of at most EMBED_BATCH_SIZE=64 chunks) would have made a request of its own.
  t.true(requests <= JOBS / 2, `${requests} requests for ${JOBS} jobs' ${chunks} chunks`);
  t.is(openai.requests(), requests, 'no request failed');

  const rows = (await pipeline.db.query(`SELECT job_id, index, text, embedding::text AS embedding FROM upload_pipeline.chunks WHERE job_id = ANY($1)`, [jobIds])).rows as {
    job_id: string;
    index: number;
    text: string;
    embedding: string;
  }[];
  t.is(rows.length, chunks);
  for (const row of rows) {
    const stored = row.embedding.replace(/^[[{]|[\]}]$/g, '').split(',').map(Number);
    const own = hashEmbedding(row.text, DIMENSIONS);
    t.is(stored.length, DIMENSIONS);
    // Stored as float4: equal to the mock's vector of this very text to float4 precision.
    t.true(stored.every((value, i) => Math.abs(value - own[i]!) < 1e-6), `chunk ${row.index} of job ${row.job_id} has its own vector`);
  }
});

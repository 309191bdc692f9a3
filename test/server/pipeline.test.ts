import { isSettled } from '../../machines/upload.js';
import test, { type ExecutionContext } from 'ava';
import { readFileSync } from 'node:fs';
import { createPipeline, type Pipeline } from '../../pipeline/index.js';
import { loadConfig } from '../../server/config.js';
import { describeSchema } from '../../scripts/describe-schema.js';
import { freshDatabase, ownDatabase, silent } from '../helpers/db.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { corpusDocuments, corpusSerial } from '../helpers/corpus.js';
import { everyKind, imageOnlyPdf, type DocumentCase } from '../fixtures/documents.js';
import { inRepo } from '../helpers/repo.js';

failOnLeakedRuntimes();

// One at a time: each test opens its own database, and several PGlite instances starting at once in
// one process block its event loop long enough to time out the tests' own HTTP requests.
const serial = test.serial;

async function pipeline(t: Parameters<typeof freshDatabase>[0] & { teardown(fn: () => Promise<void>): void }): Promise<Pipeline> {
  const { DATABASE_URL, database } = await ownDatabase(t);
  const p = await createPipeline(loadConfig({ DATABASE_URL, EMBEDDING_DIMENSIONS: '64', CHUNK_TOKENS: '256' }), { logger: silent, database });
  t.teardown(() => p.close());
  return p;
}

/** Submits every document, waits for each, and checks its documented outcome and the projection. */
async function everyDocument(t: ExecutionContext, documents: DocumentCase[]) {
  const p = await pipeline(t);
  const jobs = await Promise.all(documents.map(async ({ name, content, outcome }) => ({ name, outcome, ...(await p.submit({ content, filename: name })) })));
  for (const { name, outcome, jobId } of jobs) {
    const state = await p.runtime.waitFor(jobId, isSettled, { timeoutMs: 60_000 });
    const row = (await p.store.job(jobId))!;
    t.is(row.stage, state.value as string, `${name}: the projection matches the snapshot`);
    if (outcome === 'encrypted') {
      t.like(row, { stage: 'failed', error: { stage: 'job_validated', code: 'PDF_ENCRYPTED' } }, name);
    } else if (outcome === 'no-text') {
      t.like(row, { stage: 'complete', chunks: 0 }, name);
      t.regex(row.warnings[0]!, /^NO_TEXT/);
    } else {
      t.is(row.stage, 'complete', `${name}: ${JSON.stringify(row.error)}`);
      t.true(row.chunks > 0, name);
      t.is(row.embedded, row.chunks, name);
      const chunks = await p.store.chunks(jobId);
      t.is(chunks.length, row.chunks);
    }
  }
  const counts = await p.db.query<{ stage: string; count: number }>('SELECT stage, count(*)::int AS count FROM upload_pipeline.upload_jobs GROUP BY stage ORDER BY stage');
  t.deepEqual(counts.rows, [
    { stage: 'complete', count: documents.length - 1 },
    { stage: 'failed', count: 1 },
  ]);
}

serial('a document of every kind goes through the pipeline on the local providers', async (t) => {
  const documents = await everyKind();
  t.is(documents.filter((d) => d.outcome === 'encrypted').length, 1, 'one failure, as the counts below expect');
  await everyDocument(t, documents);
});

// Regression: a 6-page image-only PDF gave "---" page rules as its text, and they were chunked.
serial('a scan of 6 pages ends complete with 0 chunks and a NO_TEXT warning', async (t) => {
  const p = await pipeline(t);
  const { jobId } = await p.submit({ content: await imageOnlyPdf(6), filename: 'scan.pdf' });
  await p.runtime.waitFor(jobId, isSettled, { timeoutMs: 30_000 });
  const row = (await p.store.job(jobId))!;
  t.like(row, { stage: 'complete', chunks: 0, embedded: 0, error: null });
  t.is(row.warnings.length, 1);
  t.regex(row.warnings[0]!, /^NO_TEXT: /);
  t.deepEqual(await p.store.chunks(jobId), []);
  t.deepEqual(await p.store.document(jobId), { markdown: '', pages: 6 }, 'six pages counted, no text stored');
});

corpusSerial('every corpus document goes through the pipeline on the local providers', async (t) => {
  await everyDocument(t, corpusDocuments());
});

serial('the same bytes again are the same job', async (t) => {
  const p = await pipeline(t);
  const content = new TextEncoder().encode('# Notes\n\nSome text.');
  const first = await p.submit({ content, filename: 'notes.md', metadata: { owner: 'ana' } });
  const again = await p.submit({ content, filename: 'renamed.md' });
  t.false(first.duplicate);
  t.deepEqual(again, { jobId: first.jobId, duplicate: true });
  const row = await p.store.job(first.jobId);
  t.like(row, { filename: 'notes.md', metadata: { owner: 'ana' } });
});

serial('the stage history shows every checkpoint', async (t) => {
  const p = await pipeline(t);
  const { jobId } = await p.submit({ content: new TextEncoder().encode('# A\n\ntext\n\n## B\n\nmore'), filename: 'a.md' });
  await p.runtime.waitFor(jobId, (s) => s.status === 'done', { timeoutMs: 30_000 });
  const stages = (await p.runtime.history(jobId)).map((h) => (typeof h.to === 'string' ? h.to : Object.keys(h.to)[0]));
  t.deepEqual(stages, ['queued', 'job_validated', 'parsed', 'chunking', 'chunked', 'embedding', 'embedded', 'complete']);
});

serial('embeddings are pgvector vectors where the extension exists, float arrays where it does not', async (t) => {
  const p = await pipeline(t);
  const { jobId } = await p.submit({ content: new TextEncoder().encode('vectors or arrays'), filename: 'v.txt' });
  await p.runtime.waitFor(jobId, (s) => s.status === 'done', { timeoutMs: 30_000 });
  const { rows: available } = await p.db.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'vector'`);
  const { rows } = await p.db.query<{ udt_name: string; dims: number }>(
    `SELECT (SELECT udt_name FROM information_schema.columns WHERE table_schema = 'upload_pipeline' AND table_name = 'chunks' AND column_name = 'embedding') AS udt_name,
            (SELECT array_length(string_to_array(trim(both '[]{}' from embedding::text), ','), 1) FROM upload_pipeline.chunks WHERE job_id = $1 LIMIT 1) AS dims`,
    [jobId],
  );
  t.is(rows[0]!.udt_name, available.length ? 'vector' : '_float4');
  t.is(rows[0]!.dims, 64);
});

serial('the migrated pipeline schema matches test/schema-upload-pipeline.sql (run `npm run schema:dump` after a migration)', async (t) => {
  const p = await pipeline(t);
  // The pipeline makes the HNSW index for its configured size at start (pipeline/search.ts); the dump has the default size's.
  const actual = (await describeSchema(p.db, 'upload_pipeline')).replace(/^index CREATE INDEX chunks_embedding_hnsw_(?!1536 )\d+ .*\n/gm, '');
  let expected = readFileSync(inRepo('test/schema-upload-pipeline.sql'), 'utf8');
  const { rows } = await p.db.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'vector'`);
  // By design the embedding is a pgvector vector where the extension exists, else a float array.
  // Without pgvector there is no search index and no function to make one (0004_search.sql).
  if (rows.length === 0) {
    expected = expected
      .replace('  embedding USER-DEFINED\n', '  embedding ARRAY\n')
      .replace(/^index CREATE INDEX chunks_embedding_hnsw_.*\n/gm, '')
      .replace(/^function ensure_search_index\n/m, '');
  }
  t.is(actual, expected);
});

import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { backend, freshDatabase, pgliteFolder } from '../helpers/db.js';
import { getJson, startServer, until, upload } from '../helpers/server.js';
import { inRepo } from '../helpers/repo.js';

failOnLeakedRuntimes();

const serial = test.serial;
const run = promisify(execFile);
const cli = inRepo('bin/docket.js');

/** Three documents about unrelated things; each query below has one right answer. */
const DOCUMENTS = {
  bees: '# Apiculture\n\n## Hive care\n\nHoneybee colonies need the beekeeper to inspect brood frames, check the queen, and harvest honey from the supers in late summer.\n',
  rockets: '# Propulsion\n\n## Engines\n\nLiquid rocket engines burn kerosene with liquid oxygen; the turbopump feeds the combustion chamber and the nozzle expands the exhaust.\n',
  bread: '# Baking\n\n## Sourdough\n\nA sourdough starter ferments flour and water; the dough is folded, proofed overnight and baked in a hot dutch oven for a crisp crust.\n',
};

async function post(url: string, body: unknown, contentType = 'application/json') {
  const response = await fetch(`${url}/v1/search`, { method: 'POST', headers: { 'content-type': contentType }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

async function uploadAll(url: string): Promise<Record<keyof typeof DOCUMENTS, string>> {
  const ids: Record<string, string> = {};
  for (const [name, text] of Object.entries(DOCUMENTS)) {
    const created = await upload(url, { name: `${name}.md`, content: text }, { metadata: JSON.stringify({ topic: name, shelf: name === 'bread' ? 'kitchen' : 'science' }) });
    ids[name] = created.body.job_id;
  }
  await until(`${url}/v1/jobs?stage=complete`, (body) => body.jobs.length === 3);
  return ids as Record<keyof typeof DOCUMENTS, string>;
}

serial('search finds the right document first, with scores, job ids, chunk index, text and header paths', async (t) => {
  // 512 dimensions: the local embedder hashes words into them, and 64 collide too often for short texts.
  // SEARCH_INDEX=hnsw: PGlite keeps no index by default (auto), but has pgvector to build one.
  const { url, pipeline } = await startServer(t, { EMBEDDING_DIMENSIONS: '512', SEARCH_INDEX: 'hnsw' });
  const ids = await uploadAll(url);
  const expected = backend === 'pglite' ? 'hnsw' : 'exact';
  t.is((await getJson(`${url}/health`)).body.search, expected, 'PGlite has pgvector; Debian PostgreSQL 15 does not');
  if (backend === 'pglite') {
    const plan = await pipeline.db.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN SELECT job_id FROM upload_pipeline.chunks c WHERE vector_dims(c.embedding) = 512 ORDER BY c.embedding::vector(512) <=> $1::vector(512) LIMIT 3`,
      [`[${Array.from({ length: 512 }, (_, i) => (i === 0 ? 1 : 0)).join(',')}]`],
    );
    t.regex(plan.rows.map((row) => row['QUERY PLAN']).join('\n'), /chunks_embedding_hnsw_512/, 'the configured size has its HNSW index');
  }

  for (const [name, query] of [
    ['bees', 'honeybee queen brood frames beekeeper'],
    ['rockets', 'kerosene turbopump combustion chamber nozzle'],
    ['bread', 'sourdough starter dough proofed dutch oven'],
  ] as const) {
    const { status, body } = await post(url, { query });
    t.is(status, 200);
    t.is(body.mode, expected);
    t.is(body.results.length, 6, 'two chunks per document (title, section), all returned under the default k of 10');
    const [first, second] = body.results;
    t.like(first, { job_id: ids[name], chunk_index: 1, filename: `${name}.md` }, query);
    t.true(first.score > second.score, `${query}: the right chunk scores highest`);
    t.true(first.score > 0 && first.score <= 1.000001);
    t.true(first.text.includes(DOCUMENTS[name].split('\n')[4]!.slice(0, 20)));
    t.is(first.headers.length, 2, 'the header path: document title and section');
    t.true(body.results.every((hit: { score: number }, i: number) => i === 0 || hit.score <= body.results[i - 1].score), 'best first');
  }

  const one = await post(url, { query: 'rocket engines', k: 1 });
  t.is(one.body.results.length, 1, 'k is respected');
  t.is(one.body.results[0].job_id, ids.rockets);
  const onlyBread = await post(url, { query: 'rocket engines', filter: { job_id: ids.bread } });
  t.deepEqual(onlyBread.body.results.map((r: { job_id: string }) => r.job_id), [ids.bread, ids.bread], 'the job filter');
  const science = await post(url, { query: 'sourdough', filter: { metadata: { shelf: 'science' } } });
  t.deepEqual([...new Set(science.body.results.map((r: { job_id: string }) => r.job_id))].sort(), [ids.bees, ids.rockets].sort(), 'the metadata filter');
  t.is(science.body.results.length, 4);
  const nothing = await post(url, { query: 'sourdough', filter: { metadata: { shelf: 'garage' } } });
  t.deepEqual(nothing.body.results, []);
});

serial('bad search bodies get 400 (415 for a body that is not JSON), with a JSON error', async (t) => {
  const { url } = await startServer(t, {}, { worker: false });
  const cases: [string, Awaited<ReturnType<typeof post>>, number, string][] = [
    ['no query', await post(url, {}), 400, 'INVALID_SEARCH'],
    ['empty query', await post(url, { query: '   ' }), 400, 'INVALID_SEARCH'],
    ['query not a string', await post(url, { query: 42 }), 400, 'INVALID_SEARCH'],
    ['query too long', await post(url, { query: 'x'.repeat(2001) }), 400, 'INVALID_SEARCH'],
    ['NUL in the query', await post(url, { query: 'a\u0000b' }), 400, 'INVALID_SEARCH'],
    ['k zero', await post(url, { query: 'a', k: 0 }), 400, 'INVALID_SEARCH'],
    ['k too large', await post(url, { query: 'a', k: 101 }), 400, 'INVALID_SEARCH'],
    ['k fractional', await post(url, { query: 'a', k: 1.5 }), 400, 'INVALID_SEARCH'],
    ['unknown field', await post(url, { query: 'a', filters: {} }), 400, 'INVALID_SEARCH'],
    ['unknown filter', await post(url, { query: 'a', filter: { stage: 'complete' } }), 400, 'INVALID_SEARCH'],
    ['job_id not a uuid', await post(url, { query: 'a', filter: { job_id: 'nope' } }), 400, 'INVALID_SEARCH'],
    ['nested metadata value', await post(url, { query: 'a', filter: { metadata: { a: { b: 1 } } } }), 400, 'INVALID_SEARCH'],
    ['an array body', await post(url, [1, 2]), 400, 'INVALID_SEARCH'],
    ['not JSON', await post(url, '{oops'), 400, 'INVALID_JSON'],
    ['not application/json', await post(url, 'query=a', 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
  ];
  for (const [what, response, status, code] of cases) {
    t.is(response.status, status, what);
    t.is(response.body.error?.code, code, what);
  }
  t.deepEqual((await post(url, { query: 'anything', k: 5 })).body.results, [], 'an empty database answers no results');
});

serial('docket search prints the nearest chunks; --k and --json', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'docket-search-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const DATABASE_URL = backend === 'postgres' ? await freshDatabase(t) : `pglite:${await pgliteFolder(t, 'docket-search-db-')}`;
  const env = { ...process.env, DATABASE_URL, EMBEDDING_DIMENSIONS: '512' };
  const files = Object.entries(DOCUMENTS).map(([name, text]) => {
    const file = join(dir, `${name}.md`);
    writeFileSync(file, text);
    return file;
  });
  await run('node', [cli, 'ingest', ...files], { env });
  const text = await run('node', [cli, 'search', 'kerosene turbopump nozzle', '--k', '2'], { env });
  const lines = text.stdout.split('\n').filter((line) => /^\d\.\d{4} /.test(line));
  t.is(lines.length, 2);
  t.regex(lines[0]!, /rockets\.md > Propulsion > Engines/);
  const json = JSON.parse((await run('node', [cli, 'search', 'sourdough starter', '--json'], { env })).stdout);
  t.is(json.results[0].filename, 'bread.md');
  const bad = await t.throwsAsync(run('node', [cli, 'search', 'x', '--k', '0'], { env }));
  t.is((bad as unknown as { code: number }).code, 2);
});

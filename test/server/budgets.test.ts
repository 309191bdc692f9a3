import test, { type ExecutionContext } from 'ava';
import { createLlamaParseMock } from '../../adapters/llamaparse/mock.js';
import { createOpenAIMock } from '../../adapters/openai/mock.js';
import { createPipeline, PIPELINE_MIGRATIONS, type Pipeline } from '../../pipeline/index.js';
import { settle } from '../helpers/upload-jobs.js';
import { Budgets } from '../../pipeline/budgets.js';
import { migrate, openDatabase, SchemaName } from '../../index.js';
import { loadConfig } from '../../server/config.js';
import { processMetrics } from '../../server/metrics.js';
import type { Database } from '../../runtime/db/database.js';
import { backend, freshDatabase, silent } from '../helpers/db.js';
import { templatePglite } from '../helpers/pglite-template.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { listen } from '../helpers/listen.js';
import { parseExposition } from '../helpers/prometheus.js';
import { startServer } from '../helpers/server.js';
import { rawExchange } from './raw-http.js';

failOnLeakedRuntimes();

// One at a time: each test opens databases and runs two pipelines with their workers.
const serial = test.serial;

const ALPHA = 'alpha-key-0123456789abcdef';
const BETA = 'beta-key-0123456789abcdefgh';

async function uploadAs(url: string, key: string, name: string, content: string) {
  const form = new FormData();
  form.append('file', new Blob([content], { type: 'text/markdown' }), name);
  const response = await fetch(`${url}/v1/uploads`, { method: 'POST', body: form, headers: { authorization: `Bearer ${key}` } });
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as Record<string, any> };
}

serial('upload rate limit: past UPLOAD_RATE_LIMIT a tenant gets 429 RATE_LIMITED with Retry-After, nothing stored, the body unread; another tenant is unaffected', async (t) => {
  const { url, pipeline } = await startServer(t, { UPLOAD_RATE_LIMIT: '2/1m', DOCKET_API_KEYS: `alpha:${ALPHA},beta:${BETA}` }, { worker: false });
  t.is((await uploadAs(url, ALPHA, 'a1.md', '# one')).status, 202);
  t.is((await uploadAs(url, ALPHA, 'a2.md', '# two')).status, 202);
  const refused = await uploadAs(url, ALPHA, 'a3.md', '# three');
  t.like(refused, { status: 429, body: { error: { code: 'RATE_LIMITED' } } });
  const seconds = Number(refused.retryAfter);
  t.true(Number.isInteger(seconds) && seconds >= 1 && seconds <= 60, `Retry-After ${refused.retryAfter}`);
  t.is((await pipeline.store.jobs({ tenant: 'alpha', limit: 10 })).length, 2, 'the refused upload made no job');
  t.is((await pipeline.db.query(`SELECT 1 FROM upload_pipeline.files`)).rows.length, 2, 'and stored no bytes');

  t.is((await uploadAs(url, BETA, 'b1.md', '# beta one')).status, 202, "another tenant's uploads count on their own");

  // Refused before the body is read: a request announcing 10 MB and sending a few bytes still gets
  // its answer (a server that waited for the body would answer only at its idle timeout).
  const host = new URL(url).host;
  const head = [`POST /v1/uploads HTTP/1.1`, `Host: ${host}`, `Authorization: Bearer ${ALPHA}`, 'Content-Type: multipart/form-data; boundary=x', 'Content-Length: 10000000', '', '--x\r\n'].join('\r\n');
  const raw = await rawExchange(url, head, { timeoutMs: 5000 });
  t.not(raw.ended, 'timeout');
  t.like(raw.responses[0], { status: 429, headers: { connection: 'close' } });
  t.is(JSON.parse(raw.responses[0]!.body).error.code, 'RATE_LIMITED');

  const metrics = parseExposition((await (await fetch(`${url}/metrics`)).text()));
  t.is(metrics.value('docket_uploads_rate_limited_total'), 2);
});

/** Two pipelines on one database, as two worker processes: on PGlite one open database, on PostgreSQL one URL. */
async function fleet(t: ExecutionContext, env: Record<string, string>, count = 2, openaiLatencyMs = 100) {
  const openai = createOpenAIMock({ latencyMs: openaiLatencyMs });
  const base = await listen(t, openai.app);
  const llamaparse = createLlamaParseMock({ processingMs: 20 });
  const parser = env.LLAMA_CLOUD_API_KEY ? { LLAMA_CLOUD_BASE_URL: await listen(t, llamaparse.app) } : {};
  let shared: Database | undefined;
  let DATABASE_URL = 'memory';
  if (backend === 'postgres') DATABASE_URL = await freshDatabase(t);
  else shared = await templatePglite();
  const config = loadConfig({ DATABASE_URL, EMBEDDING_DIMENSIONS: '64', CHUNK_TOKENS: '64', DOCUMENT_WORKERS: '1', OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: `${base}/v1`, ...parser, ...env });
  const pipelines: Pipeline[] = [];
  const start = async () => {
    const pipeline = await createPipeline(config, { logger: silent, ...(shared ? { database: shared } : {}) });
    pipelines.push(pipeline);
    return pipeline;
  };
  for (let i = 0; i < count; i += 1) await start();
  t.teardown(async () => {
    for (const pipeline of pipelines) await pipeline.close();
    await shared?.close();
  });
  return { openai, llamaparse, pipelines, start };
}

/** A Markdown document of about `tokens` cl100k tokens in short sections, so it makes several chunks. */
function document(seed: string, sections: number): string {
  return Array.from({ length: sections }, (_, i) => `## ${seed} part ${i}\n\n${`The ${seed} section ${i} talks about budgets shared by workers through Postgres. `.repeat(3)}`).join('\n\n');
}

const waits = (pipelines: Pipeline[], provider: string, budget: string) =>
  pipelines.flatMap((p) => p.budgets.metrics().waitMs.filter((w) => w.provider === provider && w.budget === budget)).reduce((sum, w) => ({ count: sum.count + w.histogram.count, ms: sum.ms + w.histogram.sum }), { count: 0, ms: 0 });

serial('EMBEDDER_CONCURRENCY holds across two workers on one database: never more calls in flight at OpenAI than the limit', async (t) => {
  // Unmerged (EMBED_COALESCE_WINDOW_MS=0): one request per chunk, so there are many calls to hold back.
  // Each job embeds one chunk at a time; six jobs whose calls take 400 ms each overlap in embedding
  // for seconds, so more than two want a slot at once even when a loaded machine staggers them.
  const { openai, pipelines } = await fleet(t, { EMBEDDER_CONCURRENCY: '2', EMBED_BATCH_SIZE: '1', EMBED_COALESCE_WINDOW_MS: '0' }, 2, 400);
  const [a, b] = pipelines as [Pipeline, Pipeline];
  const jobs = await Promise.all([a, b, a, b, a, b].map(async (p, i) => (await p.submit({ filename: `c${i}.md`, content: new TextEncoder().encode(document(`doc${i}`, 4)) })).jobId));
  const settled = await settle(a, jobs);
  t.true(settled.every((job) => job!.stage === 'complete' && job!.embedded === job!.chunks && job!.chunks > 1), JSON.stringify(settled.map((j) => [j?.stage, j?.chunks])));
  const calls = settled.reduce((sum, job) => sum + job!.chunks, 0);
  t.true(openai.requests() >= calls, 'one call per chunk (EMBED_BATCH_SIZE=1)');
  t.true(openai.maxInFlight() <= 2, `at most 2 in flight, saw ${openai.maxInFlight()}`);
  const concurrency = waits(pipelines, 'embedder', 'concurrency');
  t.is(concurrency.count, openai.requests(), 'every call took a slot, and its wait was recorded');
  t.true(concurrency.ms > 0, 'calls waited for a slot');
  t.is((await a.db.query(`SELECT 1 FROM upload_pipeline.budget_grants WHERE NOT done`)).rows.length, 0, 'no call is left in flight');
});

serial('EMBEDDER_TOKEN_LIMIT and EMBEDDER_REQUEST_LIMIT hold across two workers: no window at OpenAI carries more than either limit', async (t) => {
  const limit = { tokens: 128, requests: 3, windowMs: 1000 };
  const { openai, pipelines } = await fleet(t, { EMBEDDER_TOKEN_LIMIT: `${limit.tokens}/1s`, EMBEDDER_REQUEST_LIMIT: `${limit.requests}/1s`, EMBED_BATCH_SIZE: '2' });
  const [a, b] = pipelines as [Pipeline, Pipeline];
  const jobs = await Promise.all([a, b, a, b].map(async (p, i) => (await p.submit({ filename: `t${i}.md`, content: new TextEncoder().encode(document(`tok${i}`, 2)) })).jobId));
  const settled = await settle(a, jobs);
  t.true(settled.every((job) => job!.stage === 'complete' && job!.embedded === job!.chunks), JSON.stringify(settled.map((j) => j?.stage)));
  const log = openai.log().filter((r) => r.status === 200);
  const total = log.reduce((sum, r) => sum + r.tokens, 0);
  t.true(total > 2 * limit.tokens, `the test spans several windows (${total} tokens)`);
  // Every window at the vendor, by the times it saw the requests arrive.
  const span = limit.windowMs;
  for (const request of log) {
    const inWindow = log.filter((r) => r.at > request.at - span && r.at <= request.at);
    t.true(inWindow.reduce((sum, r) => sum + r.tokens, 0) <= limit.tokens, `tokens in the window ending ${request.at}`);
    t.true(inWindow.length <= limit.requests, `requests in the window ending ${request.at}`);
  }
  t.true(waits(pipelines, 'embedder', 'rate').ms > 0, 'calls waited for the rate');
});

serial('a 429 from OpenAI to one worker pauses the others: no call reaches OpenAI before the pause ends', async (t) => {
  const { openai, pipelines, start } = await fleet(t, { EMBEDDER_CONCURRENCY: '8' }, 1);
  const a = pipelines[0]!;
  const pauseMs = 4000;
  openai.faults.add({ status: 429, retryAfterMs: pauseMs, path: '/embeddings' });
  const first = await a.submit({ filename: 'p1.md', content: new TextEncoder().encode(document('paused', 1)) });
  const paused = await until(
    async () => (await a.db.query<{ until: number }>(`SELECT extract(epoch FROM paused_until) * 1000 AS until FROM upload_pipeline.budgets WHERE key = 'embedder' AND paused_until IS NOT NULL`)).rows[0],
    90_000,
  );
  const rejected = openai.log().find((r) => r.status === 429)!;
  t.truthy(rejected);
  t.is(a.budgets.metrics().pauses.embedder, 1, 'worker A recorded the pause');
  // Worker A goes away with its retry pending; worker B, which never saw a 429, starts and at once
  // embeds a search query (the search's embedder shares the budget), then finishes A's job.
  await a.close();
  pipelines.splice(0, 1);
  const b = await start();
  await b.search.search({ query: 'budgets shared by workers', k: 1 });
  const [job] = await settle(b, [first.jobId]);
  t.is(job!.stage, 'complete');
  const after = openai.log().filter((r) => r.at > rejected.at);
  t.true(after.length >= 2, 'the search and the job embedded after the 429');
  const pausedUntil = Math.floor(Number(paused.until));
  for (const request of after) t.true(request.at >= pausedUntil, `a request at ${request.at} came ${pausedUntil - request.at} ms before the pause ended`);
  t.true(waits([b], 'embedder', 'pause').ms > 0, 'worker B waited out the pause');
  const exposition = parseExposition(await processMetrics(b, silent).scrape().then((s) => s.body));
  t.true(exposition.value('docket_budget_wait_seconds_sum', { provider: 'embedder', budget: 'pause' })! > 0);
  t.true(exposition.value('docket_budget_wait_seconds_count', { provider: 'embedder', budget: 'concurrency' })! >= 2);
});

serial('PARSER_CONCURRENCY and PARSER_REQUEST_LIMIT hold across two workers at LlamaParse: one call in flight, at most 2 uploads and status checks a second', async (t) => {
  const { llamaparse, pipelines } = await fleet(t, { LLAMA_CLOUD_API_KEY: 'llx-test', PARSER_CONCURRENCY: '1', PARSER_REQUEST_LIMIT: '2/1s' });
  const [a, b] = pipelines as [Pipeline, Pipeline];
  const jobs = await Promise.all([a, b, a, b].map(async (p, i) => (await p.submit({ filename: `p${i}.md`, content: new TextEncoder().encode(document(`parse${i}`, 1)) })).jobId));
  const settled = await settle(a, jobs);
  t.true(settled.every((job) => job!.stage === 'complete'), JSON.stringify(settled.map((j) => j?.stage)));
  t.is(llamaparse.maxInFlight(), 1, 'one request at LlamaParse at a time, from either worker');
  // A call is an upload or a status check; a finished job's result download rides on its check's grant.
  const calls = llamaparse.requests().filter((r) => r.path.endsWith('/upload') || /\/job\/[^/]+$/.test(r.path));
  t.true(calls.length >= 2 * jobs.length, 'an upload and at least one status check a job');
  for (const call of calls) t.true(calls.filter((r) => r.at > call.at - 1000 && r.at <= call.at).length <= 2, `calls in the second ending ${call.at}`);
  t.true(waits(pipelines, 'parser', 'rate').ms > 0, 'calls waited for the rate');
});

serial("a dead worker's call stops holding its concurrency slot when its lease lapses; a live one's is renewed and kept", async (t) => {
  const db = backend === 'postgres' ? await openDatabase(await freshDatabase(t), { logger: silent }) : await templatePglite();
  t.teardown(() => db.close());
  await migrate(db, new SchemaName('upload_pipeline'), PIPELINE_MIGRATIONS, 'upload_pipeline', silent);
  const settings = { embedder: { concurrency: 1 }, pauseMs: 1000, leaseMs: 300 };
  const a = await Budgets.open(db, settings, silent);
  const b = await Budgets.open(db, settings, silent);
  t.teardown(() => Promise.all([a.close(), b.close()]));
  // Worker A's call hangs holding the one slot.
  void a.providers.embedder!.run(0, undefined, () => new Promise(() => {}));
  await until(async () => ((await db.query(`SELECT 1 FROM upload_pipeline.budget_grants WHERE NOT done`)).rows.length === 1 ? true : undefined));
  // While A lives and renews, B waits past three leases and gives up when its own signal ends the wait.
  const kept = await t.throwsAsync(b.providers.embedder!.run(0, AbortSignal.timeout(1000), async () => 'ran'));
  t.like(kept, { code: 'BUDGET_WAIT_ABORTED', transient: true, cause: { name: 'TimeoutError' } });
  // A dies (its renewals stop): its lease lapses and B's call goes through.
  await a.close();
  t.is(await b.providers.embedder!.run(0, AbortSignal.timeout(10_000), async () => 'ran'), 'ran');
  const waited = b.metrics().waitMs.find((w) => w.budget === 'concurrency')!;
  t.is(waited.histogram.count, 1, 'one call of B got its slot');
  t.true(waited.histogram.sum > 0);
});

async function until<T>(read: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

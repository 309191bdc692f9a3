import test, { type ExecutionContext } from 'ava';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { backend, freshDatabase, pgliteFolder } from '../helpers/db.js';
import { createLlamaParseMock } from '../../adapters/llamaparse/mock.js';
import { createOpenAIMock } from '../../adapters/openai/mock.js';
import { listen } from '../helpers/listen.js';
import { freePort, upload } from '../helpers/server.js';
import { corpusDocuments, corpusTest } from '../helpers/corpus.js';
import { encryptedPdf, everyKind, imageOnlyPdf, markdown, textPdf, writeDocuments, type Outcome } from '../fixtures/documents.js';
import { inRepo } from '../helpers/repo.js';

const run = promisify(execFile);
const cli = inRepo('bin/docket.js');

async function databaseFor(t: Parameters<typeof freshDatabase>[0]): Promise<string> {
  if (backend === 'postgres') return freshDatabase(t);
  return `pglite:${await pgliteFolder(t, 'docket-cli-')}`;
}

test('docket ingest runs every file, shows progress, and exits 1 when one failed', async (t) => {
  const DATABASE_URL = await databaseFor(t);
  const files = writeDocuments(t, [
    { name: 'minimal.pdf', content: await textPdf({ pages: 1 }) },
    { name: 'notes.md', content: new TextEncoder().encode(markdown) },
    { name: 'scan.pdf', content: await imageOnlyPdf(6) },
    { name: 'locked.pdf', content: await encryptedPdf() },
  ]);
  const error = await t.throwsAsync(run('node', [cli, 'ingest', ...files], { env: { ...process.env, DATABASE_URL, EMBEDDING_DIMENSIONS: '64' } }));
  const { code, stdout } = error as unknown as { code: number; stdout: string };
  t.is(code, 1);
  t.regex(stdout, /\[#{24}\] complete\s+\S*minimal\.pdf\s+\(\d+ chunks?; job /);
  t.regex(stdout, /\[#{24}\] complete\s+\S*notes\.md/);
  t.regex(stdout, /complete\s+\S*scan\.pdf\s+\(0 chunks; NO_TEXT/);
  t.regex(stdout, /failed\s+\S*locked\.pdf\s+\(PDF_ENCRYPTED: /);
  t.regex(stdout, /3 of 4 files complete/);

  const ok = await run('node', [cli, 'ingest', files[0]!], { env: { ...process.env, DATABASE_URL } });
  t.regex(ok.stdout, /seen before/, 'the same bytes are the same job');
  t.regex(ok.stdout, /1 of 1 files complete/);
  const jobId = /job ([0-9a-f-]{36})/.exec(ok.stdout)![1]!;
  const status = await run('node', [cli, 'status', jobId], { env: { ...process.env, DATABASE_URL } });
  const job = JSON.parse(status.stdout);
  t.like(job, { job_id: jobId, stage: 'complete', filename: 'minimal.pdf' });
  t.is(job.history.at(-1).stage, 'complete', 'the history in the API\'s shape');
});

test('docket with a bad command or configuration says so and exits 2', async (t) => {
  const bad = await t.throwsAsync(run('node', [cli, 'dance'], { env: process.env }));
  t.is((bad as unknown as { code: number }).code, 2);
  t.regex((bad as unknown as { stderr: string }).stderr, /^docket: unknown command 'dance'/);
  const config = await t.throwsAsync(run('node', [cli, 'serve'], { env: { ...process.env, PORT: 'eighty' } }));
  t.regex((config as unknown as { stderr: string }).stderr, /invalid configuration: PORT: /);
});

test('docket serve answers HTTP and shuts down cleanly on SIGTERM', async (t) => {
  const DATABASE_URL = await databaseFor(t);
  const port = await freePort();
  const server = spawn('node', [cli, 'serve'], { env: { ...process.env, DATABASE_URL, PORT: String(port), LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  server.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
  t.teardown(() => void server.kill('SIGKILL'));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      // About two minutes: a bound for a hang (start-up took over a minute on 2 loaded cores), not a speed check.
      if (i > 1200 || server.exitCode !== null) throw new Error(`server did not come up (exit ${server.exitCode}); stderr:\n${stderr.slice(-3000)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const created = await upload(url, { name: 'note.md', content: '# note\n\nserved' });
  t.is(created.status, 202);
  server.kill('SIGTERM');
  t.is(await exited, 0);
});

/** Runs `docket ingest` on the files and checks each file's documented outcome from its last progress line. */
async function ingestAll(t: ExecutionContext, files: { path: string; outcome: Outcome }[], env: Record<string, string>) {
  const error = await t.throwsAsync(run('node', [cli, 'ingest', ...files.map((f) => f.path)], { env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024 }));
  const { code, stdout, stderr } = error as unknown as { code: number; stdout: string; stderr: string };
  t.is(code, 1, 'the encrypted PDF fails, so the exit code is 1');
  t.regex(stdout, new RegExp(`${files.length - 1} of ${files.length} files complete`), `ingest ended early; stderr:\n${stderr.slice(-3000)}`);
  const last = (file: string) => stdout.split('\n').filter((line) => line.includes(`/${file}`)).at(-1) ?? '';
  for (const { path, outcome } of files) {
    const file = path.split('/').at(-1)!;
    if (outcome === 'encrypted') t.regex(last(file), /failed .*PDF_ENCRYPTED/, file);
    else if (outcome === 'no-text') t.regex(last(file), /complete .*\(0 chunks; NO_TEXT/, file);
    else t.regex(last(file), /\[#{24}\] complete .*\([1-9]\d* chunks?/, file);
  }
}

/** The environment that sends `docket ingest` to the LlamaParse and OpenAI mocks, and the mocks. */
async function mocks(t: ExecutionContext) {
  const llamaparse = createLlamaParseMock({ processingMs: 20 });
  const openai = createOpenAIMock();
  const env = {
    DATABASE_URL: await databaseFor(t),
    EMBEDDING_DIMENSIONS: '64',
    LLAMA_CLOUD_API_KEY: 'llx-test',
    LLAMA_CLOUD_BASE_URL: await listen(t, llamaparse.app),
    OPENAI_API_KEY: 'sk-test',
    OPENAI_BASE_URL: `${await listen(t, openai.app)}/v1`,
  };
  return { env, llamaparse, openai };
}

// The remote providers' path through the CLI does not depend on the store: it runs once, in the
// PostgreSQL pass, where a CLI process starts fastest (the local path runs on both back ends).
const providerTest = backend === 'postgres' ? test : test.skip;
const providerCorpusTest: typeof corpusTest = backend === 'postgres' ? corpusTest : test.skip;

providerTest('docket ingest: a document of every kind on the LlamaParse and OpenAI mocks', async (t) => {
  const documents = await everyKind();
  const paths = writeDocuments(t, documents);
  const { env, llamaparse, openai } = await mocks(t);
  await ingestAll(t, documents.map((d, i) => ({ path: paths[i]!, outcome: d.outcome })), env);
  t.true(llamaparse.jobs.size >= documents.length, 'every file went to LlamaParse');
  t.true(openai.requests() > 0, 'and was embedded by OpenAI');
});

corpusTest('docket ingest: the whole corpus on the local providers', async (t) => {
  await ingestAll(t, corpusDocuments(), { DATABASE_URL: await databaseFor(t), EMBEDDING_DIMENSIONS: '64' });
});

providerCorpusTest('docket ingest: the whole corpus on the LlamaParse and OpenAI mocks', async (t) => {
  const { env, llamaparse, openai } = await mocks(t);
  const documents = corpusDocuments();
  await ingestAll(t, documents, env);
  t.true(llamaparse.jobs.size >= documents.length, 'every file went to LlamaParse');
  t.true(openai.requests() > 0, 'and was embedded by OpenAI');
});

test('the mocks run on their own and answer /health', async (t) => {
  for (const which of ['llamaparse', 'openai']) {
    const port = await freePort();
    const mock = spawn('node', ['--import', 'tsx', inRepo('adapters/mock/serve.ts'), which, String(port)], { stdio: 'ignore' });
    t.teardown(() => void mock.kill('SIGKILL'));
    let health: Record<string, unknown> | undefined;
    for (let i = 0; i < 300 && !health; i++) {
      health = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.json() as Promise<Record<string, unknown>>, () => undefined);
      if (!health) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    t.like(health, { status: 'ok', service: `${which}-mock` });
    // Faults are scripted over HTTP, validated, then served.
    const post = (path: string, body: unknown) => fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    t.true((await post('/mock/faults', [{ status: 'soon' }])).status >= 400, 'a bad fault list is refused');
    t.is((await post('/mock/faults', [{ status: 503 }])).status, 200);
    const path = which === 'openai' ? '/v1/embeddings' : '/api/v1/parsing/job/x';
    const faulted = await fetch(`http://127.0.0.1:${port}${path}`, {
      method: which === 'openai' ? 'POST' : 'GET',
      headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
      body: which === 'openai' ? JSON.stringify({ model: 'text-embedding-3-small', input: 'x' }) : undefined,
    });
    t.is(faulted.status, 503);
  }
});

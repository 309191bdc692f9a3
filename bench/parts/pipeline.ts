/**
 * The pipeline part of the bench: distinct text PDFs through `docket ingest` and through the HTTP API
 * (all uploads at once), with the local parser and embedder, and once more with the embeddings sent
 * to the OpenAI mock (zero latency) to count embedding requests per chunk. Each run is a child
 * process of the real CLI (bin/docket.js: dist/ when built, else the sources through tsx), so the
 * figures are what a user gets, minus the process's start-up: the clock starts at the first file's
 * first progress line (ingest) or the first upload (HTTP), and stops when every job is complete.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import PDFDocument from 'pdfkit';
import { createOpenAIMock } from '../../adapters/openai/mock.js';
import { definePart, type BenchContext } from '../part.js';
import { round } from '../workload.js';

export interface PipelineBenchOptions {
  /** Distinct documents, default 50. */
  docs?: number;
  /** Pages each, default 10. */
  pages?: number;
  /** Where the PDFs and PGlite stores go. */
  dir: string;
  /** `pglite` (a fresh directory per run, the CLI's default kind of store) or a postgres:// URL (its docket and upload_pipeline schemas are dropped first). */
  database: string;
  /** Which runs, default all three. */
  modes?: ('ingest' | 'http' | 'openai')[];
}

export interface PipelineRow {
  /** `ingest`, `http` (50 concurrent uploads) or `ingest+openai-mock`. */
  mode: string;
  backend: 'pglite' | 'postgres';
  docs: number;
  pages: number;
  chunks: number;
  seconds: number;
  /** CPU seconds of the docket process (every thread) per document: steadier than docs/s on a shared machine. */
  cpuMsPerDoc: number;
  docsPerSec: number;
  pagesPerSec: number;
  /** Requests the OpenAI mock served over chunks embedded; null when embedding locally. */
  embedRequestsPerChunk: number | null;
}

// DOCKET_BENCH_BIN runs another build of the CLI (a before/after comparison in one window).
const BIN = process.env.DOCKET_BENCH_BIN ?? new URL('../../bin/docket.js', import.meta.url).pathname;
const WORDS = ('durable machine step snapshot timer lease worker claim effect journal inbox event retry backoff parser chunk token embedding ' +
  'vector search tenant webhook callback migration schema transaction commit index query batch pool thread document page header section').split(' ');

/** Prose that differs per document and page (a seeded word walk), about 3,000 characters a page: a dense text page. */
function pageText(doc: number, page: number): string[] {
  let seed = (doc * 7919 + page * 104729) >>> 0;
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  const paragraphs: string[] = [];
  for (let p = 0; p < 5; p++) {
    const sentences: string[] = [];
    for (let s = 0; s < 5; s++) {
      const words = Array.from({ length: 10 + (next() % 8) }, () => WORDS[next() % WORDS.length]!);
      sentences.push(`${words.join(' ').replace(/^./, (c) => c.toUpperCase())} ${doc}-${page}-${p}-${s}.`);
    }
    paragraphs.push(sentences.join(' '));
  }
  return paragraphs;
}

function makePdf(doc: number, pages: number): Promise<Buffer> {
  const pdf = new PDFDocument({ autoFirstPage: false, info: { CreationDate: new Date(Date.UTC(2024, 0, 1)) } });
  const parts: Buffer[] = [];
  pdf.on('data', (part: Buffer) => parts.push(part));
  const done = new Promise<Buffer>((resolve) => pdf.on('end', () => resolve(Buffer.concat(parts))));
  for (let page = 1; page <= pages; page++) {
    pdf.addPage({ size: 'LETTER', margin: 54 });
    pdf.font('Helvetica-Bold').fontSize(14).text(`Document ${doc}, part ${page}`);
    for (const paragraph of pageText(doc, page)) pdf.moveDown(0.5).font('Helvetica').fontSize(9).text(paragraph);
  }
  pdf.end();
  return done;
}

export async function makePdfs(dir: string, docs: number, pages: number): Promise<string[]> {
  const files: string[] = [];
  for (let doc = 0; doc < docs; doc++) {
    const path = join(dir, `doc-${String(doc).padStart(3, '0')}.pdf`);
    writeFileSync(path, await makePdf(doc, pages));
    files.push(path);
  }
  return files;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe: Server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * The pipeline's tables live in fixed schemas (docket, upload_pipeline): a database of its own
 * beside the bench's, so a run never drops another program's tables. Created when missing.
 */
async function ownDatabase(url: string): Promise<string> {
  const own = new URL(url);
  own.pathname = `${own.pathname}_pipeline`;
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const name = own.pathname.slice(1);
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) await client.query(`CREATE DATABASE "${name.replaceAll('"', '')}"`);
  } finally {
    await client.end();
  }
  return own.toString();
}

async function resetPostgres(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('DROP SCHEMA IF EXISTS docket CASCADE; DROP SCHEMA IF EXISTS upload_pipeline CASCADE');
  await client.end();
}

/** A database for one run: a fresh PGlite directory, or the PostgreSQL database emptied. */
async function freshDatabase(database: string, dir: string, run: number): Promise<string> {
  if (database === 'pglite') return `pglite:${join(dir, `db-${run}`)}`;
  await resetPostgres(database);
  return database;
}

/**
 * CPU seconds (user + system, every thread) the process has used so far, from /proc: on a machine
 * shared with other work, a steadier figure than the wall clock. NaN where /proc is missing.
 */
function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

function spawnCli(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { env: { ...process.env, LOG_LEVEL: 'warn', EMBEDDING_DIMENSIONS: '1536', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
}

interface Measured {
  seconds: number;
  /** CPU seconds of the docket process over the same span. */
  cpu: number;
  chunks: number;
}

async function ingestRun(files: string[], env: Record<string, string>): Promise<Measured> {
  const child = spawnCli(['ingest', ...files], env);
  let first = 0;
  let cpuFirst = 0;
  let seconds = 0;
  let cpu = 0;
  let chunks = 0;
  for await (const line of createInterface({ input: child.stdout! })) {
    if (!first) [first, cpuFirst] = [performance.now(), cpuSeconds(child.pid)];
    const done = /^\[[#-]+\] complete .*\((\d+) chunks?[;)]/.exec(line);
    if (done) chunks += Number(done[1]);
    if (/ files complete$/.test(line)) [seconds, cpu] = [(performance.now() - first) / 1000, cpuSeconds(child.pid) - cpuFirst];
  }
  const code = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve)));
  if (code !== 0) throw new Error(`docket ingest exited ${code}`);
  return { seconds, cpu, chunks };
}

async function httpRun(files: string[], env: Record<string, string>): Promise<Measured> {
  const port = await freePort();
  const child = spawnCli(['serve'], { ...env, PORT: String(port) });
  const base = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      const ok = await fetch(`${base}/health`).then((r) => r.ok, () => false);
      if (ok) break;
      if (i > 600 || child.exitCode !== null) throw new Error('docket serve did not start');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const bodies = files.map((path) => readFileSync(path));
    const started = performance.now();
    const cpuStarted = cpuSeconds(child.pid);
    await Promise.all(
      bodies.map(async (content, i) => {
        const form = new FormData();
        form.append('file', new Blob([content], { type: 'application/pdf' }), `doc-${i}.pdf`);
        const response = await fetch(`${base}/v1/uploads`, { method: 'POST', body: form });
        if (response.status !== 202) throw new Error(`upload answered ${response.status}: ${await response.text()}`);
      }),
    );
    for (;;) {
      const { jobs } = (await (await fetch(`${base}/v1/jobs?limit=200`)).json()) as { jobs: { stage: string; chunks: number }[] };
      if (jobs.some((job) => job.stage === 'failed')) throw new Error('a job failed');
      if (jobs.length === files.length && jobs.every((job) => job.stage === 'complete')) {
        const seconds = (performance.now() - started) / 1000;
        return { seconds, cpu: cpuSeconds(child.pid) - cpuStarted, chunks: jobs.reduce((sum, job) => sum + job.chunks, 0) };
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
  }
}

/** Runs the three pipeline measurements on one back end. */
export async function runPipeline(options: PipelineBenchOptions): Promise<PipelineRow[]> {
  const docs = options.docs ?? 50;
  const pages = options.pages ?? 10;
  const backend = options.database === 'pglite' ? 'pglite' : 'postgres';
  const dir = options.dir;
  const mock = createOpenAIMock();
  const mockServer = mock.app.listen(0, '127.0.0.1');
  await new Promise((resolve) => mockServer.once('listening', resolve));
  const rows: PipelineRow[] = [];
  try {
    const files = await makePdfs(dir, docs, pages);
    const row = (mode: string, { seconds, cpu, chunks }: Measured, requests: number | null): PipelineRow => ({
      mode,
      backend,
      docs,
      pages: docs * pages,
      chunks,
      seconds: round(seconds, 2),
      cpuMsPerDoc: round((1000 * cpu) / docs, 0),
      docsPerSec: round(docs / seconds, 1),
      pagesPerSec: round((docs * pages) / seconds, 0),
      embedRequestsPerChunk: requests === null ? null : round(requests / chunks, 4),
    });
    const modes = options.modes ?? ['ingest', 'http', 'openai'];
    if (modes.includes('ingest')) {
      rows.push(row('ingest', await ingestRun(files, { DATABASE_URL: await freshDatabase(options.database, dir, 1) }), null));
    }
    if (modes.includes('http')) {
      rows.push(row(`http (${docs} concurrent uploads)`, await httpRun(files, { DATABASE_URL: await freshDatabase(options.database, dir, 2) }), null));
    }
    if (modes.includes('openai')) {
      const before = mock.requests();
      const openai = {
        DATABASE_URL: await freshDatabase(options.database, dir, 3),
        OPENAI_API_KEY: 'sk-bench',
        OPENAI_BASE_URL: `http://127.0.0.1:${(mockServer.address() as AddressInfo).port}/v1`,
      };
      const measured = await ingestRun(files, openai);
      rows.push(row('ingest, OpenAI mock', measured, mock.requests() - before));
    }
  } finally {
    await new Promise((resolve) => mockServer.close(resolve));
    if (backend === 'postgres') await resetPostgres(options.database);
  }
  return rows;
}

/** A plain-text table of the rows. */
export function renderPipelineTable(rows: PipelineRow[]): string {
  const header = ['pipeline', 'store', 'docs', 'pages', 'chunks', 's', 'CPU ms/doc', 'docs/s', 'pages/s', 'embed req/chunk'];
  const body = [
    header,
    ...rows.map((r) => [r.mode, r.backend, String(r.docs), String(r.pages), String(r.chunks), String(r.seconds), String(r.cpuMsPerDoc), String(r.docsPerSec), String(r.pagesPerSec), r.embedRequestsPerChunk === null ? '–' : String(r.embedRequestsPerChunk)]),
  ];
  const widths = header.map((_, i) => Math.max(...body.map((r) => r[i]!.length)));
  return body.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')).join('\n');
}

export interface PipelineResult {
  docs: number;
  pages: number;
  rows: PipelineRow[];
}

const isTarget = (row: PipelineRow) => row.mode === 'ingest' || row.mode.startsWith('http');

export const pipeline = definePart<PipelineResult>({
  name: 'pipeline',
  title: 'Pipeline: 10-page text PDFs through docket ingest and the HTTP API',
  async run(ctx: BenchContext) {
    // The CLI runs from dist/ when it is there: build it, so the figures are this code's.
    execFileSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
    const docs = ctx.quick ? 10 : 50;
    const pages = 10;
    const rows: PipelineRow[] = [];
    for (const database of ['pglite', await ownDatabase(ctx.url)]) {
      const result = await runPipeline({ docs, pages, database, dir: await ctx.tempDir('pipeline') });
      for (const row of result) ctx.log(`${row.backend} ${row.mode}: ${row.docsPerSec} docs/s`);
      rows.push(...result);
    }
    return { docs, pages, rows };
  },
  summary: (r) => renderPipelineTable(r.rows),
  markdown: (r) => `${r.docs} distinct text PDFs of ${r.pages} pages (about 3,000 characters a page, 15 chunks of 512 tokens
each) through the real CLI in a child process, local parser and embedder, on a fresh store each run:
\`docket ingest\` with every file, and \`docket serve\` with all ${r.docs} uploads sent at once. The clock runs from
the first file's first progress line (ingest) or the first upload (HTTP) to the last job complete; the
process's start-up and migrations are not in it. A third run sends the embeddings to the OpenAI mock
(zero latency) and counts its requests per chunk.

"CPU ms/doc" is the docket process's CPU time (all its threads; not PostgreSQL's) over the same span, per
document: on a machine shared with other work it moves less than the wall clock.

| pipeline | store | docs | pages | chunks | seconds | CPU ms/doc | docs/s | pages/s | embedding requests per chunk |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${r.rows.map((row) => `| ${row.mode} | ${row.backend} | ${row.docs} | ${row.pages} | ${row.chunks} | ${row.seconds} | ${row.cpuMsPerDoc} | ${row.docsPerSec} | ${row.pagesPerSec} | ${row.embedRequestsPerChunk ?? '–'} |`).join('\n')}
`,
  targets: (r) => [
    ...r.rows.filter(isTarget).map((row) => ({ what: `pipeline docs/s, ${row.mode}, ${row.backend}`, measured: `${row.docsPerSec}`, target: '≥ 50', met: row.docsPerSec >= 50 })),
    ...r.rows
      .filter((row) => row.embedRequestsPerChunk !== null)
      .map((row) => ({ what: `embedding requests per chunk, ${row.backend}`, measured: `${row.embedRequestsPerChunk}`, target: '≤ 1/64 (0.0156)', met: row.embedRequestsPerChunk! <= 1 / 64 })),
  ],
});

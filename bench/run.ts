/**
 * npm run bench [-- --parts throughput,scale,… --quick --render-only]
 *
 * Every part of the benchmark suite in one run, side by side on one PostgreSQL (DATABASE_URL,
 * default postgres://postgres@127.0.0.1:5432/docket_bench, created when missing) and on PGlite.
 * Writes bench/results.json, docs/benchmarks.md and its plots (docs/bench-*.svg). A run of some
 * parts replaces only theirs; `--quick` shrinks the workloads and writes nothing.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { BenchContext, Part } from './part.js';
import { renderSvg } from './plot.js';
import { renderMarkdown, renderTargets, type Results } from './report.js';
import { pipeline } from './parts/pipeline.js';
import { rss } from './parts/rss.js';
import { scale } from './parts/scale.js';
import { send } from './parts/send.js';
import { takeover } from './parts/takeover.js';
import { timers } from './parts/timers.js';
import { throughput } from './parts/throughput.js';
import { round } from './workload.js';

const PARTS: Part<never>[] = [throughput, send, timers, takeover, scale, rss, pipeline] as Part<never>[];

const { values } = parseArgs({
  options: {
    parts: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'render-only': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(`npm run bench [-- --parts ${PARTS.map((p) => p.name).join(',')}] [--quick] [--render-only]\n\n${PARTS.map((p) => `  ${p.name.padEnd(12)} ${p.title}`).join('\n')}\n`);
  process.exit(0);
}

const resultsFile = new URL('./results.json', import.meta.url);
const docsDir = new URL('../docs/', import.meta.url);

function load(): Results {
  if (!existsSync(resultsFile)) return { machine: '', parts: {} };
  const saved = JSON.parse(readFileSync(resultsFile, 'utf8')) as Partial<Results>;
  // Results from before the suite had parts hold one table and no `parts`: start afresh.
  return { machine: saved.machine ?? '', parts: saved.parts ?? {} };
}

async function writeDocs(results: Results): Promise<void> {
  writeFileSync(new URL('benchmarks.md', docsDir), renderMarkdown(results, PARTS));
  for (const part of PARTS) {
    const record = results.parts[part.name];
    if (!record || !part.plots) continue;
    for (const plot of part.plots(record.result as never)) writeFileSync(new URL(`bench-${plot.name}.svg`, docsDir), `${await renderSvg(plot.spec)}\n`);
  }
}

if (values['render-only']) {
  await writeDocs(load());
  process.stdout.write('wrote docs/benchmarks.md and its plots from bench/results.json\n');
  process.exit(0);
}

const wanted = values.parts?.split(',').map((name) => name.trim()) ?? PARTS.map((p) => p.name);
const unknown = wanted.filter((name) => !PARTS.some((p) => p.name === name));
if (unknown.length > 0) {
  process.stderr.write(`unknown part(s): ${unknown.join(', ')}; the parts are ${PARTS.map((p) => p.name).join(', ')}\n`);
  process.exit(2);
}

const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/docket_bench';

async function withClient<T>(target: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: target });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function ensureDatabase(): Promise<string> {
  const admin = new URL(url);
  const name = admin.pathname.slice(1);
  admin.pathname = '/postgres';
  await withClient(admin.toString(), async (client) => {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) await client.query(`CREATE DATABASE "${name.replaceAll('"', '')}"`);
  });
  const { version, sync } = await withClient(url, async (client) => (await client.query<{ version: string; sync: string }>(`SELECT version(), current_setting('synchronous_commit') AS sync`)).rows[0]!);
  return `${version.split(' on ')[0]} (synchronous_commit=${sync})`;
}

const dropSchema = (schema: string) => withClient(url, (client) => client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));

// A contender that deadlocks leaves nothing on the event loop and node would exit 0 mid-run;
// this keeps the process alive so a hang shows as one.
const keepAlive = setInterval(() => {}, 60_000);
const postgres = await ensureDatabase();
// The worker-memory part runs the compiled package, as users do.
if (wanted.includes('rss')) execFileSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });

const results = load();
results.machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${round(totalmem() / 2 ** 30, 0)} GiB, Node ${process.version}, ${postgres} on the same host`;
const runStarted = performance.now();
for (const part of PARTS.filter((p) => wanted.includes(p.name))) {
  const schemas: string[] = [];
  const dirs: string[] = [];
  const ctx: BenchContext = {
    url,
    quick: values.quick,
    log: (message) => process.stderr.write(`[${part.name}] ${message}\n`),
    async schema(name) {
      await dropSchema(name);
      schemas.push(name);
      return name;
    },
    async tempDir(name) {
      const dir = mkdtempSync(join(tmpdir(), `docket-bench-${name}-`));
      dirs.push(dir);
      return dir;
    },
  };
  process.stderr.write(`\n== ${part.name}: ${part.title}\n`);
  const started = performance.now();
  try {
    const result = await part.run(ctx);
    const seconds = (performance.now() - started) / 1000;
    results.parts[part.name] = { date: new Date().toISOString(), seconds, result };
    process.stdout.write(`\n## ${part.title} (${round(seconds, 0)} s)\n${part.summary(result)}\n`);
    const targets = part.targets?.(result) ?? [];
    if (targets.length > 0) process.stdout.write(`${renderTargets(targets)}\n`);
  } finally {
    for (const schema of schemas) await dropSchema(schema);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}
clearInterval(keepAlive);
process.stdout.write(`\nmachine: ${results.machine}\nall parts in ${round((performance.now() - runStarted) / 1000, 0)} s\n`);
if (values.quick) {
  process.stdout.write('--quick: nothing written\n');
} else {
  writeFileSync(resultsFile, `${JSON.stringify(results)}\n`);
  await writeDocs(results);
  process.stdout.write('wrote bench/results.json, docs/benchmarks.md and docs/bench-*.svg\n');
}

/**
 * npm run bench [-- --chains N --latency-chains N --connections 1,8]
 *
 * docket against graphile-worker 0.17, pg-boss 10 and a raw `pg` UPDATE loop, side by side on one
 * PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/docket_bench, created when
 * missing). Prints a table with ratios, writes bench/results.json and docs/benchmarks.md.
 */
import { cpus, totalmem } from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { runDocket } from './docket.js';
import { runGraphile } from './graphile.js';
import { runPgBoss } from './pgboss.js';
import { runRaw } from './raw.js';
import { runTakeover } from './takeover.js';
import { runTimerBurst } from './timers.js';
import { round, type Result, type Workload } from './workload.js';
import { renderMarkdown, renderParts, renderTable, type Row } from './report.js';

const { values } = parseArgs({
  options: {
    chains: { type: 'string', default: '1000' },
    'latency-chains': { type: 'string', default: '100' },
    connections: { type: 'string', default: '1,8' },
    only: { type: 'string' },
    // Comma-separated parts besides the contenders (timers, takeover); `none` skips them.
    parts: { type: 'string', default: 'timers,takeover' },
    // Rewrites docs/benchmarks.md from bench/results.json without running anything.
    'render-only': { type: 'boolean', default: false },
  },
});
if (values['render-only']) {
  const saved = JSON.parse(readFileSync(new URL('./results.json', import.meta.url), 'utf8'));
  writeFileSync(new URL('../docs/benchmarks.md', import.meta.url), renderMarkdown(saved));
  process.stdout.write(`${renderTable(saved.rows)}\n`);
  process.exit(0);
}
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/docket_bench';

const contenders: Record<string, (w: Workload, schema: string) => Promise<Result>> = {
  'raw pg UPDATE (ceiling)': runRaw,
  docket: runDocket,
  'graphile-worker 0.17': runGraphile,
  'pg-boss 10': runPgBoss,
};

async function ensureDatabase(): Promise<string> {
  const admin = new URL(url);
  const name = admin.pathname.slice(1);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  if (rowCount === 0) await client.query(`CREATE DATABASE "${name.replaceAll('"', '')}"`);
  await client.end();
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const { rows } = await db.query<{ version: string; sync: string }>(`SELECT version(), current_setting('synchronous_commit') AS sync`);
  await db.end();
  return `${rows[0]!.version.split(' on ')[0]} (synchronous_commit=${rows[0]!.sync})`;
}

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
}

// A contender that deadlocks leaves nothing on the event loop and node would exit 0 mid-run;
// this keeps the process alive so a hang shows as one.
const keepAlive = setInterval(() => {}, 60_000);
const postgres = await ensureDatabase();
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${round(totalmem() / 2 ** 30, 0)} GiB, Node ${process.version}, ${postgres} on the same host`;
const rows: Row[] = [];
for (const connections of values.connections.split(',').map(Number)) {
  const workload: Workload = { url, connections, chains: Number(values.chains), steps: 5, latencyChains: Number(values['latency-chains']) };
  for (const [name, run] of Object.entries(contenders)) {
    if (values.only && !name.startsWith(values.only)) continue;
    const schema = `bench_${name.split(/\W/)[0]!.replace(/-/g, '_')}_${connections}`;
    await dropSchema(schema);
    process.stderr.write(`${name} @ ${connections} connection(s)… `);
    const result = await run(workload, schema);
    process.stderr.write(`${round(result.stepsPerSec, 0)} steps/s\n`);
    rows.push({ contender: name, connections, ...result });
    await dropSchema(schema);
  }
}

// Parts measured beside the contenders, each a module exporting one function of (url, schema).
const partRunners: Record<string, (url: string, schema: string) => Promise<object>> = { timers: runTimerBurst, takeover: runTakeover };
const parts: Record<string, object> = {};
for (const name of values.parts.split(',').filter((part) => part in partRunners)) {
  const schema = `bench_part_${name}`;
  await dropSchema(schema);
  process.stderr.write(`${name}… `);
  parts[name] = await partRunners[name]!(url, schema);
  process.stderr.write(`${JSON.stringify(parts[name])}\n`);
  await dropSchema(schema);
}

clearInterval(keepAlive);
process.stdout.write(`${renderTable(rows)}\n\n${renderParts(parts)}\nmachine: ${machine}\n`);
// A partial run (--only) prints its figures but does not replace the recorded side-by-side run.
if (!values.only) {
  const results = { date: new Date().toISOString(), machine, workload: { chains: Number(values.chains), steps: 5, latencyChains: Number(values['latency-chains']) }, rows, parts };
  writeFileSync(new URL('./results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(new URL('../docs/benchmarks.md', import.meta.url), renderMarkdown(results));
  process.stdout.write('wrote bench/results.json and docs/benchmarks.md\n');
}

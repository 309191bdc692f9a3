import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { createRuntime } from '../../index.js';
import { definePart } from '../part.js';
import { seedWaiting, waiterMachine } from '../waiting.js';
import { round } from '../workload.js';

export interface RssRow {
  waiting: number;
  /** After start-up and 2 s idle, after a GC. */
  idleMb: number;
  /** Highest sampled while `stepped` of them received their event and ended. */
  peakMb: number;
  /** After that work, after a GC. */
  afterMb: number;
  stepped: number;
}

export interface RssResult {
  rows: RssRow[];
}

const MB = 2 ** 20;
const worker = fileURLToPath(new URL('../rss-worker.mjs', import.meta.url));

interface Report {
  phase: string;
  rss: number;
  peak: number;
}

/** Runs the compiled worker beside `waiting` instances, wakes `stepped` of them, and reads its memory. */
async function measure(url: string, schema: string, waiting: number, stepped: number): Promise<RssRow> {
  const ids = waiting > 0 ? await seedWaiting(url, schema, waiting, stepped) : [];
  const child = spawn(process.execPath, ['--expose-gc', worker, url, schema], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async (): Promise<Report> => {
    const { value, done } = await lines.next();
    if (done) throw new Error('the worker exited before reporting');
    return JSON.parse(value as string) as Report;
  };
  try {
    const idle = await next();
    if (ids.length > 0) {
      // A client runtime (no workers) sends the events; the child's loops apply them.
      const client = await createRuntime({ database: url, schema, machines: { waiter: waiterMachine }, logger: pino({ level: 'warn' }), worker: false });
      await Promise.all(ids.map((id) => client.send(id, { type: 'GO' })));
      await Promise.all(ids.map((id) => client.waitFor(id, (s) => s.status === 'done', { timeoutMs: 120_000 })));
      await client.close();
    }
    child.stdin!.write('report\n');
    const report = await next();
    return { waiting, idleMb: idle.rss / MB, peakMb: report.peak / MB, afterMb: report.rss / MB, stepped: ids.length };
  } finally {
    child.stdin!.end();
    await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
  }
}

export const rss = definePart<RssResult>({
  name: 'rss',
  title: 'Worker memory beside 100 thousand waiting instances',
  async run(ctx) {
    const rows: RssRow[] = [];
    for (const waiting of [0, ctx.quick ? 20_000 : 100_000]) {
      const row = await measure(ctx.url, await ctx.schema(`bench_rss_${waiting}`), waiting, waiting > 0 ? 1000 : 0);
      ctx.log(`worker beside ${waiting} waiting: idle ${round(row.idleMb, 0)} MB, peak ${round(row.peakMb, 0)} MB`);
      rows.push(row);
    }
    return { rows };
  },
  summary: (r) => r.rows.map((row) => `${row.waiting} waiting: idle ${round(row.idleMb, 0)} MB, peak ${round(row.peakMb, 0)} MB, after ${round(row.afterMb, 0)} MB`).join('\n'),
  markdown: (r) => `A worker process as users run it (\`node\` on the compiled package, the engine only, no tsx), on
PostgreSQL, with N instances waiting for an event in its schema. Resident set size after start-up and
2 s idle; then ${r.rows.at(-1)?.stepped ?? 0} of them get their event and end, and the peak during that
work and the size after it are read (sizes after a GC).

| waiting instances | idle | peak while stepping | after |
| --- | --- | --- | --- |
${r.rows.map((row) => `| ${row.waiting.toLocaleString('en')} | ${round(row.idleMb, 0)} MB | ${row.stepped > 0 ? `${round(row.peakMb, 0)} MB` : '–'} | ${round(row.afterMb, 0)} MB |`).join('\n')}
`,
  targets: (r) => {
    const big = r.rows.at(-1);
    if (!big || big.waiting === 0) return [];
    const worst = Math.max(big.idleMb, big.peakMb);
    return [{ what: `worker RSS with ${big.waiting.toLocaleString('en')} waiting instances (peak)`, measured: `${round(worst, 0)} MB`, target: '≤ 100 MB', met: worst <= 100 }];
  },
});

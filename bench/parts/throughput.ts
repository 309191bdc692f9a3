import { runDocket } from '../docket.js';
import { runGraphile } from '../graphile.js';
import { definePart, type Target } from '../part.js';
import { runPgBoss } from '../pgboss.js';
import { cdfSpec, lineSpec } from '../plot.js';
import { runRaw } from '../raw.js';
import { runRawPglite } from '../raw-pglite.js';
import { round, type Result, type Workload } from '../workload.js';

export interface ThroughputRow {
  backend: 'PostgreSQL' | 'PGlite';
  contender: string;
  connections: number;
  stepsPerSec: number;
  p50Ms: number | null;
  p99Ms: number | null;
  samples?: number[];
}

export interface ThroughputResult {
  workload: { chains: number; steps: number; latencyChains: number; connections: number[] };
  rows: ThroughputRow[];
}

const CONTENDERS: Record<string, (w: Workload, schema: string) => Promise<Result>> = {
  'raw UPDATE (ceiling)': runRaw,
  docket: runDocket,
  'graphile-worker 0.17': runGraphile,
  'pg-boss 10': runPgBoss,
};

const find = (rows: ThroughputRow[], backend: string, contender: string, connections: number) =>
  rows.find((r) => r.backend === backend && r.contender.startsWith(contender) && r.connections === connections);

function table(rows: ThroughputRow[]): string[][] {
  return rows.map((row) => {
    const docket = find(rows, row.backend, 'docket', row.connections);
    // PGlite has one connection whatever the step loops: its ceiling is the 1-connection one.
    const ceiling = find(rows, row.backend, 'raw', row.backend === 'PGlite' ? 1 : row.connections);
    return [
      row.backend,
      row.contender,
      String(row.connections),
      String(round(row.stepsPerSec, 0)),
      row.p50Ms === null ? '–' : String(round(row.p50Ms, 1)),
      row.p99Ms === null ? '–' : String(round(row.p99Ms, 1)),
      row.contender === 'docket' || row.contender.startsWith('raw') || !docket ? '–' : `${round(docket.stepsPerSec / row.stepsPerSec, 2)}×`,
      ceiling ? `${round((100 * row.stepsPerSec) / ceiling.stepsPerSec, 0)}%` : '–',
    ];
  });
}

const HEADER = ['store', 'contender', 'conns', 'steps/s', 'p50 ms', 'p99 ms', 'docket ×', '% of ceiling'];

export const throughput = definePart<ThroughputResult>({
  name: 'throughput',
  title: 'Steps per second and latency against graphile-worker, pg-boss and raw UPDATE',
  async run(ctx) {
    const connections = ctx.quick ? [1, 8] : [1, 4, 8];
    const base = { chains: ctx.quick ? 300 : 1000, steps: 5, latencyChains: ctx.quick ? 30 : 100 };
    const rows: ThroughputRow[] = [];
    const record = (backend: ThroughputRow['backend'], contender: string, conns: number, result: Result) => {
      ctx.log(`${backend} ${contender} @ ${conns}: ${round(result.stepsPerSec, 0)} steps/s, idle p99 ${result.p99Ms === null ? '–' : round(result.p99Ms, 1)} ms`);
      rows.push({ backend, contender, connections: conns, stepsPerSec: result.stepsPerSec, p50Ms: result.p50Ms, p99Ms: result.p99Ms, ...(result.samples ? { samples: result.samples } : {}) });
    };
    for (const conns of connections) {
      for (const [name, run] of Object.entries(CONTENDERS)) {
        const schema = await ctx.schema(`bench_${name.split(/\W/)[0]!.replace(/-/g, '_')}_${conns}`);
        record('PostgreSQL', name, conns, await run({ url: ctx.url, connections: conns, ...base }, schema));
      }
    }
    // PGlite is one connection in this process: "conns" is the number of step loops sharing it.
    record('PGlite', 'raw UPDATE (ceiling)', 1, await runRawPglite(await ctx.tempDir('raw')));
    for (const conns of connections) {
      record('PGlite', 'docket', conns, await runDocket({ url: `pglite:${await ctx.tempDir(`docket-${conns}`)}`, connections: conns, ...base }, 'docket'));
    }
    return { workload: { ...base, connections }, rows };
  },
  summary: (result) => {
    const body = [HEADER, ...table(result.rows)];
    const widths = HEADER.map((_, i) => Math.max(...body.map((r) => r[i]!.length)));
    return body.map((r) => r.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')).join('\n');
  },
  markdown: (result) => {
    const { chains, steps, latencyChains } = result.workload;
    return `**Workload:** ${chains} chains of ${steps} steps started at once, for throughput; before that, for latency,
${latencyChains} chains one at a time on an otherwise idle system, after a warm-up of 20 chains.

- **docket:** a machine of ${steps} states, each invoking a no-op service. A step is one applied event, persisted:
  the service's result recorded and applied, the new snapshot, journal row and next effect committed. Step
  loops = connections; up to 256 effects in flight (a running effect holds no connection).
- **graphile-worker 0.17:** a chain of ${steps} jobs, each job adding the next; concurrency = connections, pool =
  connections + 1 (it keeps a pool client for LISTEN; with no spare, the first \`addJob\` inside a task
  deadlocks).
- **pg-boss 10:** the same chain; one worker per connection fetching up to 20 jobs at a time. v10 has no
  LISTEN/NOTIFY and sleeps its polling interval (0.5 s at least) after each fetch, so every send also
  calls \`notifyWorker()\` on the process's workers, its best case in one process.
- **raw UPDATE:** each connection commits single-row UPDATEs in a loop: the ceiling for one commit per
  step. docket writes several rows per step but batches many steps into one commit under load.
- **Latency** is the same for all: from the moment one job (service) ends to the moment the next one
  starts, on an idle system. For docket that spans the result's commit, the step that applies it, and
  the claim of the next effect.
- **PGlite** is the embedded store: one connection inside this process, so only docket and the raw
  loop run there (the peers need a PostgreSQL server); "conns" is docket's step loops sharing it, and
  its ceiling is the one raw loop.

Each contender gets the same pool size ("conns"). "docket ×" is docket's steps/s over the row's; "% of
ceiling" is the row's steps/s over the raw UPDATE rate of the same store and connections. Everything
runs in one Node process beside PostgreSQL on the same two cores, so at 8 connections the client's
CPU, not the database, is often the limit, and figures move by ±15% between runs.

${[HEADER, HEADER.map(() => '---'), ...table(result.rows)].map((r) => `| ${r.join(' | ')} |`).join('\n')}

![steps/s against connections](bench-throughput.svg)

![latency distribution, idle, 8 connections](bench-latency.svg)
`;
  },
  targets: (result) => {
    const targets: Target[] = [];
    const docket8 = find(result.rows, 'PostgreSQL', 'docket', 8);
    const raw8 = find(result.rows, 'PostgreSQL', 'raw', 8);
    const graphile8 = find(result.rows, 'PostgreSQL', 'graphile', 8);
    if (docket8 && raw8) {
      const share = docket8.stepsPerSec / raw8.stepsPerSec;
      targets.push({ what: 'steps/s at 8 connections, share of the raw UPDATE ceiling', measured: `${round(100 * share, 0)}% (${round(docket8.stepsPerSec, 0)} of ${round(raw8.stepsPerSec, 0)})`, target: '≥ 50%', met: share >= 0.5 });
    }
    if (docket8 && graphile8) {
      const ratio = docket8.stepsPerSec / graphile8.stepsPerSec;
      targets.push({ what: 'steps/s against graphile-worker, 8 connections', measured: `${round(ratio, 2)}×`, target: '≥ 1.5×', met: ratio >= 1.5 });
    }
    const idle = find(result.rows, 'PostgreSQL', 'docket', 1);
    if (idle?.p99Ms != null) targets.push({ what: 'one step → the next service started, idle, p99', measured: `${round(idle.p99Ms, 1)} ms`, target: '≤ 10 ms', met: idle.p99Ms <= 10 });
    return targets;
  },
  plots: (result) => [
    {
      name: 'throughput',
      title: 'steps/s against connections',
      spec: lineSpec({
        values: result.rows.filter((r) => !(r.backend === 'PGlite' && r.contender.startsWith('raw'))).map((r) => ({ series: `${r.contender} (${r.backend})`, connections: r.connections, stepsPerSec: Math.round(r.stepsPerSec) })),
        x: 'connections',
        y: 'stepsPerSec',
        series: 'series',
        xTitle: 'connections (PGlite: step loops)',
        yTitle: 'steps/s',
      }),
    },
    {
      name: 'latency',
      title: 'latency distribution, idle',
      spec: cdfSpec({
        samples: Object.fromEntries(result.rows.filter((r) => r.samples && r.connections === Math.max(...result.workload.connections)).map((r) => [`${r.contender} (${r.backend})`, r.samples!])),
        xTitle: 'one job ends → the next starts, ms (log)',
        logX: true,
      }),
    },
  ],
});

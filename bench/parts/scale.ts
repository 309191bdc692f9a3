import { runDocket } from '../docket.js';
import { definePart } from '../part.js';
import { seedWaiting } from '../waiting.js';
import { round } from '../workload.js';

export interface ScaleRow {
  instances: number;
  stepsPerSec: number;
  seedSeconds: number;
}

export interface ScaleResult {
  connections: number;
  chains: number;
  rows: ScaleRow[];
}

/**
 * The throughput workload in a schema that already holds many waiting instances: claims scan the
 * partial wake index and steps touch one row each by primary key, so a big table should cost little.
 */
export const scale = definePart<ScaleResult>({
  name: 'scale',
  title: 'Steps per second beside 1 thousand and 1 million waiting instances',
  async run(ctx) {
    const sizes = ctx.quick ? [1_000, 100_000] : [1_000, 1_000_000];
    const connections = 8;
    const chains = ctx.quick ? 300 : 1000;
    const rows: ScaleRow[] = [];
    for (const instances of sizes) {
      const schema = await ctx.schema(`bench_scale_${instances}`);
      const started = performance.now();
      await seedWaiting(ctx.url, schema, instances);
      const seedSeconds = (performance.now() - started) / 1000;
      const result = await runDocket({ url: ctx.url, connections, chains, steps: 5, latencyChains: 10 }, schema);
      ctx.log(`${instances} waiting instances (seeded in ${round(seedSeconds, 1)} s): ${round(result.stepsPerSec, 0)} steps/s`);
      rows.push({ instances, stepsPerSec: result.stepsPerSec, seedSeconds });
    }
    return { connections, chains, rows };
  },
  summary: (r) => r.rows.map((row) => `${row.instances.toLocaleString('en')} waiting: ${round(row.stepsPerSec, 0)} steps/s`).join('\n'),
  markdown: (r) => `${r.chains} chains of 5 steps at ${r.connections} connections on PostgreSQL, in a schema that also
holds N instances waiting for an event (seeded by copying one started instance's row; the time is the
seeding's, not the bench's).

| waiting instances | steps/s | ratio to the smallest | seeded in |
| --- | --- | --- | --- |
${r.rows.map((row) => `| ${row.instances.toLocaleString('en')} | ${round(row.stepsPerSec, 0)} | ${round(row.stepsPerSec / r.rows[0]!.stepsPerSec, 2)}× | ${round(row.seedSeconds, 1)} s |`).join('\n')}
`,
  targets: (r) => {
    const small = r.rows[0];
    const big = r.rows.at(-1);
    if (!small || !big || big === small) return [];
    const ratio = big.stepsPerSec / small.stepsPerSec;
    return [{ what: `steps/s with ${big.instances.toLocaleString('en')} instances against ${small.instances.toLocaleString('en')}`, measured: `${round(ratio, 2)}× (${round(big.stepsPerSec, 0)} against ${round(small.stepsPerSec, 0)})`, target: '≥ 0.8×', met: ratio >= 0.8 }];
  },
});

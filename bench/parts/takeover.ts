import { definePart } from '../part.js';
import { runTakeover, type TakeoverResult } from '../takeover.js';

export const takeover = definePart<TakeoverResult>({
  name: 'takeover',
  title: 'Takeover after SIGKILL',
  async run(ctx) {
    const result = await runTakeover(ctx.url, await ctx.schema('bench_takeover'));
    ctx.log(`${result.instances} effects: first moved after ${result.firstMs} ms, last after ${result.lastMs} ms`);
    return result;
  },
  summary: (r) => `${r.instances} effects of a SIGKILLed worker: first moved after ${r.firstMs} ms, last after ${r.lastMs} ms (lease ${r.leaseMs} ms)`,
  markdown: (r) => `A worker process with default settings runs the effects of ${r.instances} instances (a service that never returns)
and is SIGKILLed; a second worker, already running, takes them over. Measured from the kill to the commit of
each instance's next step (the effect's retry started by the survivor).

| effects | first moved | last moved | the lease (what a takeover used to wait out) |
| --- | --- | --- | --- |
| ${r.instances} | ${r.firstMs} ms | ${r.lastMs} ms | ${r.leaseMs} ms |
`,
  targets: (r) => [{ what: 'SIGKILL of a worker → every instance moving again', measured: `${(r.lastMs / 1000).toFixed(2)} s`, target: '≤ 2 s', met: r.lastMs <= 2000 }],
});

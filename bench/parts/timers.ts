import { definePart } from '../part.js';
import { runTimerBurst, type TimerBurstResult } from '../timers.js';
import { round } from '../workload.js';

export const timers = definePart<TimerBurstResult>({
  name: 'timers',
  title: 'Timer burst: 10,000 `after` timers due within one second',
  async run(ctx) {
    const result = await runTimerBurst(ctx.url, await ctx.schema('bench_timers'), ctx.quick ? { timers: 2_000 } : {});
    ctx.log(`${result.timers} timers: lateness p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, max ${result.maxMs} ms`);
    return result;
  },
  summary: (r) => `${r.timers} timers over ${r.spreadMs} ms: lateness to commit p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, max ${r.maxMs} ms; ${r.transactions.count} step transactions`,
  markdown: (r) => `${r.timers.toLocaleString('en')} instances, started ahead by a client runtime, each waiting on an \`after\` timer; the due times
are spread over ${r.spreadMs} ms. One worker runtime with default settings (2 step loops) on PostgreSQL. Lateness is from
each timer's due time to the NOTIFY of the step that fired it, which PostgreSQL sends at commit: lateness to
commit, seen from outside the engine.

| | p50 | p99 | max |
| --- | --- | --- | --- |
| measured from outside | ${r.p50Ms} ms | ${r.p99Ms} ms | ${r.maxMs} ms |
| the runtime's own \`metrics().timerLatenessMs\` | ${r.reported ? `${r.reported.p50} ms` : '–'} | ${r.reported ? `${r.reported.p99} ms` : '–'} | ${r.reported ? `${r.reported.max} ms` : '–'} |

The burst took ${r.transactions.count} step transactions (p50 ${r.transactions.p50Ms} ms, max ${r.transactions.maxMs} ms each).
Firing ${r.timers.toLocaleString('en')} timers within ${r.spreadMs} ms asks for ${round(r.timers / (r.spreadMs / 1000), 0)} committed steps a second: several times
this machine's steady-state rate (the throughput part), so the lateness here is the backlog draining.
`,
  targets: (r) => [{ what: `${r.timers.toLocaleString('en')} timers due within ${r.spreadMs / 1000} s, lateness to commit, p99`, measured: `${round(r.p99Ms, 0)} ms`, target: '≤ 20 ms', met: r.p99Ms <= 20 }],
});

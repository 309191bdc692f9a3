import pino from 'pino';
import { createMachine, type AnyStateMachine } from 'xstate';
import { createRuntime, type Runtime } from '../../index.js';
import { definePart } from '../part.js';
import { cdfSpec } from '../plot.js';
import { percentile, round } from '../workload.js';

/** Flips between two states on each TOGGLE, forever. */
const toggle = createMachine({ id: 'toggle', initial: 'off', states: { off: { on: { TOGGLE: 'on' } }, on: { on: { TOGGLE: 'off' } } } }) as unknown as AnyStateMachine;

export interface SendRow {
  backend: 'PostgreSQL' | 'PGlite';
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  samples: number[];
}

export interface SendResult {
  sends: number;
  rows: SendRow[];
}

/** `send()` called → the subscriber sees the new version, one at a time on an idle runtime. */
async function measure(rt: Runtime, sends: number, warmup: number): Promise<number[]> {
  const id = await rt.start('toggle');
  let version = (await rt.get(id))!.version;
  const seen = new Map<number, () => void>();
  const unsubscribe = rt.subscribe(id, (state) => seen.get(state.version)?.());
  const samples: number[] = [];
  try {
    for (let i = 0; i < warmup + sends; i++) {
      const applied = new Promise<void>((resolve) => seen.set(version + 1, resolve));
      const started = performance.now();
      await rt.send(id, { type: 'TOGGLE' });
      await applied;
      if (i >= warmup) samples.push(performance.now() - started);
      seen.delete(++version);
    }
  } finally {
    unsubscribe();
  }
  return samples;
}

export const send = definePart<SendResult>({
  name: 'send',
  title: 'One send to the new state observed, idle',
  async run(ctx) {
    const sends = ctx.quick ? 100 : 500;
    const rows: SendRow[] = [];
    for (const backend of ['PostgreSQL', 'PGlite'] as const) {
      const database = backend === 'PostgreSQL' ? ctx.url : `pglite:${await ctx.tempDir('send')}`;
      const rt = await createRuntime({ database, schema: await ctx.schema('bench_send'), machines: { toggle }, logger: pino({ level: 'warn' }) });
      try {
        const samples = await measure(rt, sends, 50);
        rows.push({ backend, p50Ms: percentile(samples, 0.5), p99Ms: percentile(samples, 0.99), maxMs: Math.max(...samples), samples });
        ctx.log(`${backend}: p50 ${round(rows.at(-1)!.p50Ms, 2)} ms, p99 ${round(rows.at(-1)!.p99Ms, 2)} ms`);
      } finally {
        await rt.close();
      }
    }
    return { sends, rows };
  },
  summary: (r) => r.rows.map((row) => `${row.backend}: p50 ${round(row.p50Ms, 2)} ms, p99 ${round(row.p99Ms, 2)} ms, max ${round(row.maxMs, 1)} ms`).join('\n'),
  markdown: (r) => `One instance, ${r.sends} \`send()\` calls one after another (after 50 unmeasured), each timed from the call to the
moment \`subscribe()\` delivers the state it caused: the send's commit, the wake-up, the step, its
commit and the notification back. Default runtime settings.

| store | p50 | p99 | max |
| --- | --- | --- | --- |
${r.rows.map((row) => `| ${row.backend} | ${round(row.p50Ms, 2)} ms | ${round(row.p99Ms, 2)} ms | ${round(row.maxMs, 1)} ms |`).join('\n')}

![send to observed state](bench-send.svg)
`,
  targets: (r) => {
    const pg = r.rows.find((row) => row.backend === 'PostgreSQL');
    return pg ? [{ what: 'one send → new state observed, idle, p99 (PostgreSQL)', measured: `${round(pg.p99Ms, 1)} ms`, target: '≤ 10 ms', met: pg.p99Ms <= 10 }] : [];
  },
  plots: (r) => [{ name: 'send', title: 'send to observed state', spec: cdfSpec({ samples: Object.fromEntries(r.rows.map((row) => [row.backend, row.samples])), xTitle: 'send() → state observed, ms (log)', logX: true }) }],
});

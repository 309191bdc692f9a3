/**
 * The timer burst: 10,000 instances whose `after` timers fall due within one second, on a runtime
 * with default settings. Lateness is measured from each timer's due time (its row's available_at) to
 * the NOTIFY of the step that fired it, which PostgreSQL delivers at commit: lateness to commit, seen
 * from outside the engine, so the figure does not depend on what the engine reports about itself.
 */
import pg from 'pg';
import pino from 'pino';
import { setup, type AnyStateMachine } from 'xstate';
import { createRuntime, type RuntimeOptions } from '../index.js';
import { percentile, round } from './workload.js';

export interface TimerBurstResult {
  timers: number;
  /** Milliseconds over which the due times are spread. */
  spreadMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** What the runtime's own metrics() said (lateness to commit, from its histogram), when it reports percentiles. */
  reported: { p50: number; p99: number; max: number } | null;
  /** Step transactions the burst took, and their wall time (p50, max), milliseconds. */
  transactions: { count: number; p50Ms: number; maxMs: number };
}

/** Waits in `waiting` until the absolute time in its input, then finishes. */
const burst = setup({
  types: { context: {} as { dueAt: number }, input: {} as { dueAt: number } },
  delays: { due: ({ context }) => Math.max(0, context.dueAt - Date.now()) },
}).createMachine({
  id: 'burst',
  context: ({ input }) => ({ dueAt: input.dueAt }),
  initial: 'waiting',
  states: { waiting: { after: { due: 'fired' } }, fired: { type: 'final' } },
}) as unknown as AnyStateMachine;

export async function runTimerBurst(url: string, schema: string, options: { timers?: number; spreadMs?: number; leadMs?: number; worker?: Partial<RuntimeOptions> } = {}): Promise<TimerBurstResult> {
  const timers = options.timers ?? 10_000;
  const spreadMs = options.spreadMs ?? 1_000;
  const logger = pino({ level: 'warn' });
  // The instances are started by a client, so the measured worker starts idle with nothing but the burst ahead.
  const client = await createRuntime({ database: url, schema, machines: { burst }, logger, worker: false, maxConnections: 8 });
  const listener = new pg.Client({ connectionString: url });
  await listener.connect();
  const fired = new Map<string, number>();
  listener.on('notification', (message) => {
    const [id, version] = (message.payload ?? '').split(':');
    if (id && Number(version) >= 1 && !fired.has(id)) fired.set(id, Date.now());
  });
  await listener.query(`LISTEN "${schema}_steps"`);
  const worker = await createRuntime({ database: url, schema, machines: { burst }, logger, ...options.worker });
  try {
    // The lead time must cover starting every instance, which on a busy machine takes anything from
    // 5 to 40 s: time 200 starts first (instances that wait a day, left in the table), and allow twice
    // the estimate.
    const probe = performance.now();
    await Promise.all(Array.from({ length: 200 }, () => client.start('burst', { dueAt: Date.now() + 86_400_000 })));
    const perStartMs = (performance.now() - probe) / 200;
    const base = Date.now() + (options.leadMs ?? Math.max(10_000, Math.ceil(2 * perStartMs * timers) + 5_000));
    for (let i = 0; i < timers; i += 200) {
      const chunk = Array.from({ length: Math.min(200, timers - i) }, (_, j) => client.start('burst', { dueAt: base + Math.floor(((i + j) * spreadMs) / timers) }));
      await Promise.all(chunk);
    }
    if (Date.now() > base) throw new Error('starting the instances took longer than the lead: raise leadMs');
    const { rows } = await listener.query<{ instance_id: string; available_at: Date }>(
      `SELECT instance_id::text, available_at FROM "${schema}".events WHERE timer_id IS NOT NULL AND available_at <= $1`,
      [new Date(base + spreadMs)],
    );
    const due = new Map(rows.map((row) => [row.instance_id, row.available_at.getTime()]));
    const deadline = base + spreadMs + 120_000;
    while (fired.size < due.size && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const lateness = [...due].map(([id, at]) => (fired.get(id) ?? Number.NaN) - at).filter((ms) => Number.isFinite(ms));
    const metrics = worker.metrics();
    const timer = metrics.timerLatenessMs as { p50?: number; p99?: number; max: number };
    const tx = metrics.stepTransactionMs as { count: number; p50?: number; max: number };
    return {
      timers: due.size,
      spreadMs,
      p50Ms: round(percentile(lateness, 0.5), 1),
      p99Ms: round(percentile(lateness, 0.99), 1),
      maxMs: round(Math.max(...lateness), 1),
      reported: timer.p50 === undefined || timer.p99 === undefined ? null : { p50: round(timer.p50, 1), p99: round(timer.p99, 1), max: round(timer.max, 1) },
      transactions: { count: tx.count, p50Ms: round(tx.p50 ?? Number.NaN, 1), maxMs: round(tx.max, 1) },
    };
  } finally {
    await worker.close();
    await client.close();
    await listener.end();
  }
}

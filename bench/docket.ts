import pino from 'pino';
import { fromPromise, setup, type AnyStateMachine } from 'xstate';
import { createRuntime } from '../index.js';
import { percentile, WARMUP_CHAINS, type Result, type Workload } from './workload.js';

/**
 * A chain of invoked no-op services: each state invokes `noop` and moves on when it is done. Each
 * service returns the time it ended and the next one records how long ago that was: the same
 * "one job ends → the next starts" latency the job queues are measured by, with every sample kept.
 */
function chainMachine(steps: number, lags: number[] | null): AnyStateMachine {
  const states: Record<string, object> = {};
  for (let i = 1; i <= steps; i++) {
    states[`s${i}`] = {
      invoke: { src: 'noop', input: ({ event }: { event: { output?: unknown } }) => ({ endedAt: typeof event.output === 'number' ? event.output : null }), onDone: i === steps ? 'done' : `s${i + 1}` },
    };
  }
  states.done = { type: 'final' };
  const noop = fromPromise<number, { endedAt: number | null }>(async ({ input }) => {
    if (lags && input.endedAt !== null) lags.push(Date.now() - input.endedAt);
    return Date.now();
  });
  return setup({ actors: { noop } }).createMachine({ id: 'chain', initial: 's1', states: states as never }) as unknown as AnyStateMachine;
}

/** docket on `w.url`: a postgres:// URL, or `pglite:<dir>` for the embedded store. */
export async function runDocket(w: Workload, schema: string): Promise<Result> {
  const open = (lags: number[] | null) =>
    createRuntime({
      database: w.url,
      schema,
      machines: { chain: chainMachine(w.steps, lags) },
      logger: pino({ level: 'warn' }),
      maxConnections: w.connections,
      stepConcurrency: w.connections,
      // Running effects hold no connection; the bound only caps calls in flight to the service.
      effectConcurrency: 256,
    });
  const runChains = async (rt: Awaited<ReturnType<typeof open>>, count: number) => {
    for (let i = 0; i < count; i++) {
      const id = await rt.start('chain');
      await rt.waitFor(id, (s) => s.status === 'done', { timeoutMs: 60_000 });
    }
  };
  // Warm-up on a runtime of its own, so the measured one's metrics hold only measured events.
  const warm = await open(null);
  await runChains(warm, WARMUP_CHAINS);
  await warm.close();

  const lags: number[] = [];
  const rt = await open(lags);
  try {
    // Latency on an idle system: one chain at a time.
    await runChains(rt, w.latencyChains);
    const samples = lags.splice(0);
    // Throughput: every chain at once.
    const before = rt.metrics().eventsApplied;
    const started = performance.now();
    await Promise.all(Array.from({ length: w.chains }, () => rt.start('chain')));
    // Completion is read from the metrics, not by a waitFor per chain, so that the bench measures the
    // engine rather than hundreds of subscribers re-reading their instance on every step.
    const target = before + w.chains * w.steps;
    while (rt.metrics().eventsApplied < target) await new Promise((resolve) => setTimeout(resolve, 20));
    const seconds = (performance.now() - started) / 1000;
    const steps = rt.metrics().eventsApplied - before;
    return { stepsPerSec: steps / seconds, p50Ms: percentile(samples, 0.5), p99Ms: percentile(samples, 0.99), samples };
  } finally {
    await rt.close();
  }
}

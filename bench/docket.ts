import pino from 'pino';
import { fromPromise, setup, type AnyStateMachine } from 'xstate';
import { createRuntime } from '../index.js';
import { WARMUP_CHAINS, type Result, type Workload } from './workload.js';

/** A chain of invoked no-op services: each state invokes `noop` and moves on when it is done. */
function chainMachine(steps: number): AnyStateMachine {
  const states: Record<string, object> = {};
  for (let i = 1; i <= steps; i++) {
    states[`s${i}`] = { invoke: { src: 'noop', onDone: i === steps ? 'done' : `s${i + 1}` } };
  }
  states.done = { type: 'final' };
  return setup({ actors: { noop: fromPromise(async () => null) } }).createMachine({ id: 'chain', initial: 's1', states: states as never }) as unknown as AnyStateMachine;
}

export async function runDocket(w: Workload, schema: string): Promise<Result> {
  const open = () =>
    createRuntime({
      database: w.url,
      schema,
      machines: { chain: chainMachine(w.steps) },
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
  const warm = await open();
  await runChains(warm, WARMUP_CHAINS);
  await warm.close();

  const rt = await open();
  try {
    // Latency on an idle system: one chain at a time. The runtime measures each event from the
    // commit that made it (the effect's result) to the commit of the step that applied it.
    await runChains(rt, w.latencyChains);
    const latency = rt.metrics().eventLagMs;
    // Throughput: every chain at once.
    const before = rt.metrics().eventsApplied;
    const started = performance.now();
    await Promise.all(Array.from({ length: w.chains }, () => rt.start('chain')));
    // Completion is read from the metrics, not by a waitFor per chain, so that the bench measures the
    // engine rather than hundreds of subscribers re-reading their instance on every step.
    const target = before + w.chains * w.steps;
    // metrics() sorts its latency samples: read it every 20 ms, not in a tight loop.
    while (rt.metrics().eventsApplied < target) await new Promise((resolve) => setTimeout(resolve, 20));
    const seconds = (performance.now() - started) / 1000;
    const steps = rt.metrics().eventsApplied - before;
    return { stepsPerSec: steps / seconds, p50Ms: latency.p50, p99Ms: latency.p99 };
  } finally {
    await rt.close();
  }
}

import { run, type Runner } from 'graphile-worker';
import { JobChains, type ChainPayload, type Result, type Workload } from './workload.js';

/** graphile-worker 0.17: a chain of `steps` jobs, each job adding the next. */
export async function runGraphile(w: Workload, schema: string): Promise<Result> {
  let runner: Runner | undefined;
  const chains = new JobChains(w, (payload) => runner!.addJob('step', payload));
  runner = await run({
    connectionString: w.url,
    schema,
    concurrency: w.connections,
    // One more than the concurrency: graphile-worker holds a pool client for LISTEN (docket's
    // listener is outside its pool), and with no spare the first addJob inside a task deadlocks.
    maxPoolSize: w.connections + 1,
    pollInterval: 2_000,
    noHandleSignals: true,
    logger: silentLogger(),
    taskList: { step: (payload) => chains.handle(payload as ChainPayload) },
  });
  try {
    return await chains.measure();
  } finally {
    await runner.stop();
  }
}

function silentLogger() {
  // graphile-worker's Logger takes a factory of log functions.
  return new (class {
    scope() {
      return this;
    }
    error() {}
    warn() {}
    info() {}
    debug() {}
  })() as never;
}

import pino from 'pino';
import type { AnyEventObject, AnyMachineSnapshot, AnyStateMachine } from 'xstate';
import { ConfigError, createRuntime, isTransient, ManualClock, type ServiceRegistration } from '../index.js';
import { CoverageError, CoverageTracker, formatCoverage } from './coverage.js';
import { drivePath, OutcomeBoard, type Outcome } from './driver.js';
import { shapeOf, type MachineShape } from './machine.js';
import { planPaths, type PlannedPath } from './paths.js';
import type { Catalog } from './pure.js';
import type { ModelPath, ModelReport, ModelTestOptions, PathOptions, ServiceOutcomes } from './types.js';

/**
 * The paths `testMachine` would run, without running them: generated from the pure machine with
 * xstate/graph, each step labelled with what causes it and the state it reaches.
 */
export function modelPaths<TMachine extends AnyStateMachine>(machine: TMachine, options: PathOptions<TMachine> = {}): ModelPath[] {
  return plan(machine, options).paths.map(publicPath);
}

/**
 * Model-based test of a machine on the durable runtime. Generates paths from the machine (see
 * `modelPaths`), then runs each on a real runtime over `options.database`: a `ManualClock` moved to
 * each timer's due time, services that settle each invocation as the path says, events sent with
 * `rt.send`. After every step the journal and the persisted state must match the pure machine (and
 * `options.context`, when given). Resolves with the coverage report; rejects with a
 * `ModelPathError` at the first mismatch, or a `CoverageError` when something was not covered.
 */
export async function testMachine<TMachine extends AnyStateMachine>(machine: TMachine, options: ModelTestOptions<TMachine>): Promise<ModelReport> {
  const started = performance.now();
  const { shape, services, paths } = plan(machine, options);
  const name = options.name ?? machine.id;
  const clock = new ManualClock();
  const board = new OutcomeBoard();
  const handlers: Record<string, ServiceRegistration> = {};
  for (const src of services.keys()) handlers[src] = { handler: (ctx) => board.handle(ctx), retry: { maxAttempts: 1 } };
  const rt = await createRuntime({
    logger: pino({ level: 'silent' }),
    shutdownGraceMs: 100,
    ...options.runtime,
    database: options.database,
    ...(options.schema ? { schema: options.schema } : {}),
    machines: { [name]: machine },
    services: handlers,
    clock,
  });
  const tracker = new CoverageTracker(shape);
  const ran: ModelReport['paths'] = [];
  try {
    for (const [index, path] of paths.entries()) {
      const instanceId = await drivePath(
        {
          rt,
          clock,
          board,
          name,
          input: options.input,
          stepTimeoutMs: options.stepTimeoutMs ?? 10_000,
          outcome: (src, kind, example): Outcome =>
            kind === 'done' ? { kind, output: services.get(src)!.done[example] } : { kind, error: services.get(src)!.error[example]! },
          checkContext: options.context as never,
          verified: (moments) => tracker.mark(moments),
        },
        { path, index, total: paths.length },
      );
      ran.push({ ...publicPath(path), instanceId });
    }
  } finally {
    await rt.close();
  }
  const { states, transitions } = tracker.items();
  const uncovered = { states: states.filter((s) => s.count === 0).map((s) => s.name), transitions: transitions.filter((t) => t.count === 0).map((t) => t.name) };
  const base = { machine: name, paths: ran, states, transitions, uncovered, durationMs: Math.round(performance.now() - started) };
  const report: ModelReport = { ...base, text: formatCoverage(base) };
  if ((options.failOnUncovered ?? true) && (uncovered.states.length || uncovered.transitions.length)) throw new CoverageError(report);
  return report;
}

type ServiceTable = Map<string, { done: unknown[]; error: Error[] }>;

function plan<TMachine extends AnyStateMachine>(machine: TMachine, options: PathOptions<TMachine>): { shape: MachineShape; services: ServiceTable; paths: PlannedPath[] } {
  const shape = shapeOf(machine);
  const services = serviceTable(shape, (options.services ?? {}) as Record<string, ServiceOutcomes | undefined>);
  const catalog: Catalog = {
    // As the runtime delivers them: the handler's value (null for undefined) through JSON, and the
    // error's { name, code, message } with the attempts it took.
    outputs: (src) => services.get(src)?.done.map((output) => JSON.parse(JSON.stringify(output ?? null))) ?? [],
    errors: (src) => services.get(src)?.error.map((error) => ({ ...errorInfo(error), attempts: 1 })) ?? [],
    events: (options.events ?? []) as AnyEventObject[],
  };
  const stateKey = (options.stateKey ?? ((s: AnyMachineSnapshot) => ({ value: s.value, context: s.context }))) as (s: AnyMachineSnapshot) => unknown;
  const paths = planPaths(shape, catalog, { input: options.input, stateKey, strategy: options.strategy ?? 'shortest', maxStates: options.maxStates ?? 20_000 });
  return { shape, services, paths };
}

/** The outcomes of every invoked `src`, defaults filled in; a `src` the machine never invokes, or a transient error, is refused. */
function serviceTable(shape: MachineShape, given: Record<string, ServiceOutcomes | undefined>): ServiceTable {
  const srcs = new Set(shape.invokes.values());
  for (const src of Object.keys(given)) {
    if (!srcs.has(src)) throw new ConfigError(`services.${src}: the machine invokes no service "${src}" (it invokes: ${[...srcs].join(', ') || 'none'})`);
  }
  const table: ServiceTable = new Map();
  for (const src of srcs) {
    const outcomes = given[src] ?? {};
    const error = outcomes.error ?? [new Error(`${src} failed (injected by docket/testing)`)];
    if (error.some(isTransient)) throw new ConfigError(`services.${src}.error: a transient error would be retried, not delivered; give permanent errors`);
    table.set(src, { done: outcomes.done ?? [undefined], error });
  }
  return table;
}

/** What the engine makes of a thrown error (its ServiceFailure contract): name, code ('ERROR' when absent), message. */
function errorInfo(error: Error): { name: string; code: string; message: string } {
  const code = (error as { code?: unknown }).code;
  return { name: error.name, code: typeof code === 'string' ? code : 'ERROR', message: error.message };
}

function publicPath(path: PlannedPath): ModelPath {
  return {
    description: path.description,
    steps: path.steps.map((s) => ({ label: s.choice.label, automatic: s.automatic, value: s.moment.snapshot.value, status: s.moment.snapshot.status })),
  };
}

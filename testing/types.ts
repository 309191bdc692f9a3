import type { AnyStateMachine, ContextFrom, EventFromLogic, InputFrom, OutputFrom, SnapshotFrom, StateMachine, StateValue } from 'xstate';
import type { Database, InstanceStatus, RuntimeOptions } from '../index.js';

/** The actors a machine declares in `setup({ actors })`: a union of `{ src, logic }`. */
type ActorsOf<TMachine> =
  TMachine extends StateMachine<any, any, any, infer TActor, any, any, any, any, any, any, any, any, any, any, any> ? TActor : never;

/** What a service may do on a path: each output and each error is one choice the paths can take. */
export interface ServiceOutcomes<TOutput = unknown> {
  /**
   * Outputs the service resolves with, one path choice each: give one per branch of a guarded
   * `onDone` (`{ remaining: 1 }` and `{ remaining: 0 }`). They travel as JSON, as every effect
   * result does. Default `[undefined]` (the machine receives `output: null`).
   */
  done?: TOutput[];
  /**
   * Errors the service throws, one path choice each. Each is a permanent failure: the machine
   * receives `xstate.error.actor.<id>` with `{ name, code, message, attempts: 1 }` at once. A
   * transient error (`TransientError`) is refused: retries are the engine's business, tested on their
   * own. Default: one `Error('<src> failed (injected by docket/testing)')`; `[]` for none.
   */
  error?: Error[];
}

/** Outcomes per invoked `src`, typed by the machine's `setup({ actors })` when it has them. */
export type ServiceChoices<TMachine extends AnyStateMachine> = [ActorsOf<TMachine>] extends [never]
  ? Record<string, ServiceOutcomes>
  : string extends ActorsOf<TMachine>['src']
    ? Record<string, ServiceOutcomes>
    : { [K in ActorsOf<TMachine>['src']]?: ServiceOutcomes<OutputFrom<Extract<ActorsOf<TMachine>, { src: K }>['logic']>> };

/** How paths are generated; shared by `modelPaths` and `testMachine`. */
export interface PathOptions<TMachine extends AnyStateMachine> {
  /** The machine's input, the same for every path. Default undefined. */
  input?: InputFrom<TMachine>;
  /**
   * What each invoked service may do, by `src`. Every `src` the machine invokes is supplied by the
   * helper (the runtime's `services` option), so a path decides how each invocation ends.
   */
  services?: ServiceChoices<TMachine>;
  /**
   * Example payloads of the events the machine handles. A handled type without an example is sent
   * as `{ type }`; several examples of one type are several choices. Default none.
   */
  events?: EventFromLogic<TMachine>[];
  /**
   * What makes two snapshots the same state for path generation (JSON-serialised). Default
   * `{ value, context }`. Leave out what grows without bound (a poll counter), or the machine has
   * infinitely many states; keep what guards read.
   */
  stateKey?: (snapshot: SnapshotFrom<TMachine>) => unknown;
  /**
   * `shortest` (default): xstate/graph's shortest path to every distinct state, topped up with a
   * path for each transition they miss. `minimal`: the fewest of those paths that cover as much.
   */
  strategy?: 'shortest' | 'minimal';
  /** Distinct states the exploration may visit before it gives up. Default 20000. */
  maxStates?: number;
}

/** Options of `testMachine`. */
export interface ModelTestOptions<TMachine extends AnyStateMachine> extends PathOptions<TMachine> {
  /**
   * Where the runtime under test keeps its instances: a `postgres://` URL, `memory` (in-memory
   * PGlite) or an open `Database`. Required: the point is to test the durable engine.
   */
  database: string | Database;
  /** Postgres schema of the engine's tables; give each test its own. Default `docket`. */
  schema?: string;
  /** The name the machine is registered under. Default the machine's id. */
  name?: string;
  /**
   * Checks the persisted context after each step against the pure machine's context at that step
   * (a JSON copy). Return false or throw to fail the path. Default: no context check.
   */
  context?: (actual: ContextFrom<TMachine>, expected: ContextFrom<TMachine>) => boolean | void;
  /** Throw a `CoverageError` when a state or transition was not covered. Default true. */
  failOnUncovered?: boolean;
  /** How long the runtime may take to apply one step, milliseconds. Default 10000. */
  stepTimeoutMs?: number;
  /**
   * More options for the runtime under test (`logger`, `stepConcurrency`, …). The helper sets
   * `database`, `schema`, `machines`, `services` and `clock` itself. Defaults: a silent logger and
   * `shutdownGraceMs` 100.
   */
  runtime?: Omit<RuntimeOptions, 'database' | 'schema' | 'machines' | 'services' | 'clock'>;
}

/** One step of a generated path. */
export interface ModelStep {
  /** `done submitParse[1]` (the second example output), `after pollDelay`, `CANCEL`. */
  label: string;
  /** True when the runtime takes the step on its own (a timer already due); the test only waits. */
  automatic: boolean;
  /** The state value and status the pure machine reaches. */
  value: StateValue;
  status: InstanceStatus;
}

/** A generated path. */
export interface ModelPath {
  /** The step labels joined by arrows; automatic steps in parentheses. */
  description: string;
  steps: ModelStep[];
}

/** How often a state was reached or a transition taken. */
export interface CoverageItem {
  /** A state's path (`parsing.waiting`), or a transition's label (`queued → failed  error validateUpload`). */
  name: string;
  count: number;
}

/** What `testMachine` ran and covered. */
export interface ModelReport {
  machine: string;
  /** The paths run, each with the instance that ran it. */
  paths: (ModelPath & { instanceId: string })[];
  /** Every state node of the machine, with how often an instance on the runtime was in it. */
  states: CoverageItem[];
  /** Every transition of the machine, with how often the runtime took it. */
  transitions: CoverageItem[];
  uncovered: { states: string[]; transitions: string[] };
  /** Milliseconds, planning included. */
  durationMs: number;
  /** The coverage as text: a summary line, then every state and transition with its count. */
  text: string;
}

import type { AnyEventObject, AnyStateMachine, InspectionEvent, Observer, StateValue } from 'xstate';
import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { Database, Queryable, Transaction } from './db/database.js';
import type { ErrorInfo } from './errors.js';

/** The status of an instance: XState's snapshot status, or `error` when the engine stopped stepping it. */
export type InstanceStatus = 'active' | 'done' | 'error' | 'stopped';

/** What `rt.get(id)` returns. */
export interface InstanceState<TContext = unknown> {
  id: string;
  /** The name the machine is registered under. */
  machine: string;
  /** The machine version that wrote the snapshot. */
  machineVersion: number;
  value: StateValue;
  status: InstanceStatus;
  context: TContext;
  /** Number of events applied so far. */
  version: number;
  /** Why the instance is in `error`: XState's error, or the engine's (`MACHINE_VERSION_UNKNOWN`, `STEP_FAILED`). */
  error: ErrorInfo | null;
  /** For a child machine: its parent instance and the invocation id the parent knows it by. */
  parent: { id: string; childId: string } | null;
  createdAt: Date;
  updatedAt: Date;
}

/** One applied event, as `rt.history(id)` returns it. */
export interface HistoryEntry {
  /** 0 for the initial state, then 1, 2, … in the order events were applied. */
  seq: number;
  event: AnyEventObject;
  from: StateValue | null;
  to: StateValue;
  at: Date;
}

/** Upgrades a snapshot written by an older machine version to the shape the current version expects. */
export type SnapshotMigration = (snapshot: PersistedSnapshot, fromVersion: number) => PersistedSnapshot;

/** XState's persisted snapshot, as stored in the instances table. */
export interface PersistedSnapshot {
  status: InstanceStatus;
  value: StateValue;
  context: unknown;
  children?: Record<string, unknown>;
  historyValue?: unknown;
  output?: unknown;
  error?: unknown;
  [key: string]: unknown;
}

/** Runs inside each step's transaction, after the snapshot is written: keep projections true. */
export type StepHook = (tx: Queryable, step: StepRecord) => Promise<void>;

export interface StepRecord {
  instanceId: string;
  machine: string;
  /** The state before the step; null when the instance was just created. */
  previous: { value: StateValue; status: InstanceStatus; context: unknown } | null;
  current: { value: StateValue; status: InstanceStatus; context: unknown; error: ErrorInfo | null };
  /** The events this step applied, in order (xstate.init for a new instance). */
  events: AnyEventObject[];
  /** The effect results among those events, with the attempts each effect took (1 when it succeeded at once). */
  results: { childId: string; attempts: number }[];
  /** The instance's version after the step. */
  version: number;
  at: Date;
}

/** A machine registered with extra facts. A bare machine is `{ machine, version: 1 }`. */
export interface MachineRegistration {
  machine: AnyStateMachine;
  /** The version stamped on snapshots this code writes. Integer, default 1. */
  version?: number;
  /** Older versions whose snapshots this machine can step as they are. Default none. */
  compatibleVersions?: number[];
  /** Upgrades snapshots of older versions. Called with the snapshot and the version that wrote it. */
  migrate?: SnapshotMigration;
  /** Called in each step transaction of this machine's instances. */
  onStep?: StepHook;
}

export type MachineEntry = AnyStateMachine | MachineRegistration;

/** What a service (an invoked promise run as a durable effect) receives. */
export interface EffectContext<TInput = unknown> {
  input: TInput;
  /** Stable across retries and crashes of this invocation; pass it to the vendor so a retry does not bill twice. */
  idempotencyKey: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** Aborted when the attempt times out or the runtime closes. */
  signal: AbortSignal;
  instanceId: string;
  /** The invocation's id in the machine (`invoke.id`). */
  childId: string;
  logger: Logger;
}

export type ServiceHandler<TInput = any, TOutput = unknown> = (context: EffectContext<TInput>) => Promise<TOutput>;

/** Retry policy for transient service errors. */
export interface RetryPolicy {
  /** Attempts in all, including the first. Default 5. */
  maxAttempts: number;
  /** Delay before the second attempt, milliseconds. Default 1000. */
  baseDelayMs: number;
  /** Cap on the backoff delay, milliseconds. Default 60000. A Retry-After longer than this is still honoured. */
  maxDelayMs: number;
  /** Each delay is multiplied by this. Default 2. */
  factor: number;
}

export interface ServiceRegistration {
  handler: ServiceHandler;
  /** Overrides the runtime's retry policy for this service. */
  retry?: Partial<RetryPolicy>;
  /** An attempt running longer is aborted and counts as a transient failure. Milliseconds, default 300000. */
  timeoutMs?: number;
}

export interface RuntimeOptions {
  /**
   * Where instances live: a `postgres://` URL, `pglite:<dir>` for a file-backed PGlite, `memory` for
   * an in-memory PGlite, or an open Database. Default: PGlite under ./data.
   */
  database?: string | Database;
  /** Machines by name. */
  machines: Record<string, MachineEntry>;
  /**
   * Implementations of invoked services by `src` name. When a `src` is not here, the runtime runs
   * the machine's own promise actor (`fromPromise` / `durable()`). A service named like a custom
   * action runs that action's outbox effect, with input `{ params, context, event }`.
   */
  services?: Record<string, ServiceHandler | ServiceRegistration>;
  /** Receives `emit()`ed events after their step commits, at least once. */
  onEmit?: (event: AnyEventObject, meta: { instanceId: string; machine: string }) => void | Promise<void>;
  logger?: Logger;
  clock?: Clock;
  /** Names this process in leases and logs. Default: host name, pid and a random suffix. */
  workerId?: string;
  /** Postgres schema of the engine's tables. Default `docket`. */
  schema?: string;
  /** Run worker loops in this process. Default true; false gives a client that only starts and sends. */
  worker?: boolean;
  /** Step loops, each holding at most one instance at a time. Default 2. */
  stepConcurrency?: number;
  /** Effects run at once by this process (they hold no database connection while they run). Default 32. */
  effectConcurrency?: number;
  /** Events applied per instance per step transaction at most. Default 50. */
  stepBatchSize?: number;
  /**
   * Instances a step loop claims and steps in one transaction when there is no backlog. While claims
   * come back full (a backlog, a burst of timers) each next one doubles, up to 512 shared among the
   * step loops (256 each with the default 2), so many due
   * instances cost few commits; the first claim that is not full goes back to this. Default 20.
   */
  claimBatchSize?: number;
  /**
   * Instances whose snapshot, as this process's last step of them left it, is kept in memory so their
   * next step here skips restoring the stored JSON. Used only while the row is unchanged since (same
   * version); 0 restores every time. Default 1000; in Node it saves about 5% of a step's CPU.
   */
  snapshotCache?: number;
  /** How long a claimed effect is held before another worker may take it over. Milliseconds, default 10000. */
  leaseMs?: number;
  /** Safety poll behind LISTEN/NOTIFY. Milliseconds, default 5000. */
  pollIntervalMs?: number;
  /** Default retry policy of services. */
  retry?: Partial<RetryPolicy>;
  /** Pool size for PostgreSQL. Default 10. */
  maxConnections?: number;
  /** Failed step transactions in a row before the instance moves to `error`. Default 5. */
  maxStepFailures?: number;
  /** How long close() lets running effects finish before aborting them. Milliseconds, default 5000. */
  shutdownGraceMs?: number;
  /**
   * Receives XState's inspection events for every step of every instance in the schema, made by this
   * process or any other: an `@statelyai/inspect` inspector (`createWebSocketInspector()`, …), an
   * observer, or a function. Sent after the step commits, in journal order per instance: one
   * `@xstate.actor` the first time an instance is seen, then an `@xstate.event` and an
   * `@xstate.snapshot` per applied event. Default none. The runtime never stops the inspector.
   */
  inspect?: InspectOption;
}

/** What `inspect` takes: XState's own `inspect` shapes, or an inspector that carries one. */
export type InspectOption =
  | ((event: InspectionEvent) => void)
  | Observer<InspectionEvent>
  | { inspect: ((event: InspectionEvent) => void) | Observer<InspectionEvent> };

export interface StartOptions {
  /** The instance id (a uuid). Starting an existing id returns it without creating anything. */
  id?: string;
  /** Starting twice with one key returns the first instance's id. */
  idempotencyKey?: string;
  /**
   * Create the instance inside this open transaction (from `rt.database.transaction()`), so it
   * commits or rolls back with the caller's own writes. Its first effects are then claimed by any
   * runner after the commit rather than by this process at once.
   */
  tx?: Transaction;
}

export interface SendOptions {
  /** A second send with the same key to the same instance is a no-op. */
  dedupeKey?: string;
  /** Send to the instance's child machine known by this invocation id (`invoke: { id }`), not to the instance itself. */
  child?: string;
  /** Commit the event with the caller's own writes, inside this open transaction. */
  tx?: Transaction;
}

export interface RemoveOptions {
  /** Delete inside this open transaction, with the caller's own writes. */
  tx?: Transaction;
}

export interface SendResult {
  /** False when the event was a duplicate or the instance is no longer active. */
  accepted: boolean;
  /** `child_not_active`: `{ child }` named no running child machine of the instance. */
  reason?: 'duplicate' | 'instance_not_active' | 'child_not_active';
}

export interface ListOptions {
  /** Only instances of this machine (its registered name). */
  machine?: string;
  status?: InstanceStatus;
  /** Instances per page, 1–1000. Default 50. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

export interface InstanceList {
  /** Newest first. */
  instances: InstanceState[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

export interface CancelResult {
  /** Invocations cancelled (each machine got `xstate.error.actor.<id>` with code EFFECT_CANCELED). */
  canceled: number;
}

export interface WaitOptions {
  /** Milliseconds, default 30000. */
  timeoutMs?: number;
}

/** Counters for the metrics endpoint. Monotonic since the runtime started, except where noted. */
export interface RuntimeMetrics {
  steps: number;
  eventsApplied: number;
  /** Events dropped: stale effect results, events to finished instances. */
  eventsDropped: number;
  stepFailures: number;
  effectsStarted: number;
  effectsSucceeded: number;
  effectsFailed: number;
  effectRetries: number;
  effectsCanceledInFlight: number;
  timersFired: number;
  /**
   * How late timers fired: from each timer's due time to the commit of the step that applied it,
   * milliseconds. `p50` and `p99` cover every timer since the runtime started.
   */
  timerLatenessMs: HistogramSnapshot;
  /**
   * Wall time of each step transaction that applied something (a claimed batch, or a batch of
   * effect results), from asking the pool for a connection to the commit, milliseconds.
   */
  stepTransactionMs: HistogramSnapshot;
  /** Effects by service name (`src`): counts, and the wall time of each attempt. */
  effects: Record<string, EffectMetrics>;
  /**
   * From an event becoming applicable (its send committed, or its timer due) to the commit of the
   * step that applied it, milliseconds. Percentiles over the last 8192 events.
   */
  eventLagMs: LatencySummary;
  /** Instances this process has subscribers on right now (`subscribe`, `waitFor`): a gauge, not a count. */
  subscriptions: number;
}

/**
 * Observations counted into fixed buckets, as Prometheus histograms do. `counts[i]` is the number of
 * observations at or below `bounds[i]` (cumulative); `count` includes those above the last bound.
 */
export interface HistogramSnapshot {
  /** Upper bounds of the buckets, ascending, in the histogram's unit (milliseconds here). */
  bounds: readonly number[];
  /** Cumulative: observations at or below each bound. */
  counts: number[];
  count: number;
  sum: number;
  max: number;
  /**
   * Percentiles of every observation since the runtime started, read from buckets 16 to a doubling
   * (within 4.4% of the exact value, never above `max`); 0 when there is none.
   */
  p50: number;
  p99: number;
}

/** What one service's effects did since the runtime started. */
export interface EffectMetrics {
  started: number;
  succeeded: number;
  failed: number;
  /** Attempts that failed transiently and were scheduled again. */
  retries: number;
  /** Attempts cancelled while running, or whose result was dropped (cancelled meanwhile, lease lost). */
  canceled: number;
  /** Wall time of each attempt that ended (returned or threw), milliseconds, by outcome. */
  attemptMs: { ok: HistogramSnapshot; error: HistogramSnapshot };
}

export interface LatencySummary {
  count: number;
  sum: number;
  max: number;
  p50: number;
  p99: number;
}

export interface Runtime {
  /** Creates an instance of machine `name` and resolves with its id once committed. */
  start(name: string, input?: unknown, options?: StartOptions): Promise<string>;
  /** Commits an event to the instance's inbox; resolves when committed, not when applied. */
  send(id: string, event: AnyEventObject, options?: SendOptions): Promise<SendResult>;
  get<TContext = unknown>(id: string): Promise<InstanceState<TContext> | null>;
  history(id: string): Promise<HistoryEntry[]>;
  /** Resolves with the first state (current or later, from any process) for which `predicate` holds. */
  waitFor<TContext = unknown>(
    id: string,
    predicate: (state: InstanceState<TContext>) => boolean,
    options?: WaitOptions,
  ): Promise<InstanceState<TContext>>;
  /** Calls `listener` with the instance's state after each step, from any process. Returns unsubscribe. */
  subscribe<TContext = unknown>(id: string, listener: (state: InstanceState<TContext>) => void): () => void;
  /** Instances newest first, filtered by machine and status, a page at a time. */
  list(options?: ListOptions): Promise<InstanceList>;
  /**
   * Applies the kept inbox of an instance the engine parked in `error` (a step that kept failing, an
   * unknown machine version), once the cause is fixed. InstanceStateError for any other status.
   */
  resume(id: string): Promise<void>;
  /**
   * Cancels the instance's in-flight invocations: their attempts are aborted wherever they run, late
   * results are dropped, and the machine receives `xstate.error.actor.<id>` with code EFFECT_CANCELED.
   */
  cancel(id: string, reason?: string): Promise<CancelResult>;
  /** Stops the instance where it is: no more steps; its timers and queued events are dropped, its effects cancelled. */
  stop(id: string, reason?: string): Promise<void>;
  /**
   * Deletes the instance with its children, journal, inbox and effects, whatever its status; running
   * attempts are aborted wherever they run. InstanceNotFoundError when there is none.
   */
  remove(id: string, options?: RemoveOptions): Promise<void>;
  metrics(): RuntimeMetrics;
  /** Wakes the worker loops now (after moving a manual clock, say). */
  wake(): void;
  readonly workerId: string;
  readonly database: Database;
  /** Stops the loops, lets running effects finish (or releases their leases), closes what it opened. */
  close(): Promise<void>;
}

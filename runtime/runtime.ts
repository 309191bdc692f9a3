import type { AnyEventObject } from 'xstate';
import { z } from 'zod';
import { systemClock } from './clock.js';
import type { Database } from './db/database.js';
import { maskUrl, openDatabase } from './db/open.js';
import { createLeaseKeeper } from './lease-keeper.js';
import { EffectRunner } from './effect-runner.js';
import { ConfigError, DatabaseUnavailableError, DocketError, InstanceNotFoundError, RuntimeClosedError, WaitTimeoutError } from './errors.js';
import { defaultLogger } from './logger.js';
import { Metrics } from './metrics.js';
import { migrate } from './migrate.js';
import { MIGRATIONS as ENGINE_MIGRATIONS } from './sql/migrations.js';
import { openRuntimes } from './open-runtimes.js';
import { runtimeInternals } from './internals.js';
import { parseTuning } from './options.js';
import { EffectQueries } from './queries/effects.js';
import { InstanceQueries } from './queries/instances.js';
import { StepQueries } from './queries/steps.js';
import { WorkerQueries } from './queries/workers.js';
import { Registry } from './registry.js';
import { SchemaName } from './schema.js';
import { Starter } from './starter.js';
import { StepLoop } from './step-loop.js';
import { StepApplier } from './apply.js';
import { Controls } from './control.js';
import { ControlQueries } from './queries/control.js';
import { FamilyQueries } from './queries/family.js';
import { Subscriptions } from './subscriptions.js';
import { Inspection } from './inspect.js';
import { InspectQueries } from './queries/inspect.js';
import type { InstanceState, Runtime, RuntimeOptions, SendOptions, SendResult, StartOptions, WaitOptions } from './types.js';

const eventSchema = z.looseObject({ type: z.string().min(1) });
const uuidSchema = z.uuid();

/**
 * Opens the database, applies migrations and (unless `worker: false`) starts the worker loops.
 * See RuntimeOptions for every option and its default.
 */
export async function createRuntime(options: RuntimeOptions): Promise<Runtime> {
  const tuning = parseTuning(options);
  const schema = new SchemaName(tuning.schema);
  const registry = new Registry(options.machines, options.services);
  const clock = options.clock ?? systemClock;
  const logger = (options.logger ?? defaultLogger()).child({ worker_id: tuning.workerId });
  const ownsDatabase = typeof options.database !== 'object';
  const db: Database =
    typeof options.database === 'object'
      ? options.database
      : await openDatabase(options.database, { maxConnections: tuning.maxConnections, idleInTransactionTimeoutMs: tuning.leaseMs, logger });
  try {
    await migrate(db, schema, ENGINE_MIGRATIONS, 'engine', logger);
  } catch (error) {
    if (ownsDatabase) await db.close();
    if (error instanceof DocketError) throw error;
    const where = typeof options.database === 'string' ? maskUrl(options.database) : db.kind;
    throw new DatabaseUnavailableError(`could not prepare the database (${where}): ${(error as Error).message}`, { cause: error });
  }

  const instances = new InstanceQueries(schema);
  const steps = new StepQueries(schema);
  const metrics = new Metrics();
  const effectQueries = new EffectQueries(schema);
  const controlQueries = new ControlQueries(schema);
  const familyQueries = new FamilyQueries(schema);
  const applier = new StepApplier({
    queries: steps,
    effectQueries,
    instances,
    family: familyQueries,
    control: controlQueries,
    registry,
    logger,
    batchSize: tuning.stepBatchSize,
    maxStepFailures: tuning.maxStepFailures,
    workerId: tuning.workerId,
    leaseMs: tuning.leaseMs,
    snapshotCache: tuning.snapshotCache,
  });
  const effects = tuning.worker
    ? new EffectRunner({
        leases: createLeaseKeeper({
          db,
          queries: effectQueries,
          workers: new WorkerQueries(schema),
          channel: schema.channel('effects'),
          clock,
          logger,
          workerId: tuning.workerId,
          leaseMs: tuning.leaseMs,
        }),
        db,
        queries: effectQueries,
        stepQueries: steps,
        applier,
        batchSize: tuning.stepBatchSize,
        registry,
        clock,
        metrics,
        logger,
        workerId: tuning.workerId,
        concurrency: tuning.effectConcurrency,
        leaseMs: tuning.leaseMs,
        pollIntervalMs: tuning.pollIntervalMs,
        retry: tuning.retry,
        onEmit: options.onEmit,
        shutdownGraceMs: tuning.shutdownGraceMs,
      })
    : undefined;
  const loopOptions = {
    db,
    queries: steps,
    applier,
    effects,
    registry,
    metrics,
    clock,
    logger,
    batchSize: tuning.stepBatchSize,
    claimLimit: tuning.claimBatchSize,
    loops: tuning.stepConcurrency,
    pollIntervalMs: tuning.pollIntervalMs,
  };
  const workers = tuning.worker ? Array.from({ length: tuning.stepConcurrency }, () => new StepLoop(loopOptions)) : [];
  const starter = new Starter({ db, instances, applier, effects, registry, clock, logger });
  const controls = new Controls(db, controlQueries, familyQueries, clock);

  const wakeSteps = () => workers.forEach((w) => w.notify());
  const wakeAll = () => {
    wakeSteps();
    effects?.notify();
  };
  const subscriptions = new Subscriptions((id) => instances.get(db, id), logger);
  // Inspection reads what every process sees (step notifications, the journal), so it reports the
  // steps of other workers too, each after its commit. `runtime` is assigned before any step commits.
  const inspection = options.inspect
    ? new Inspection({ inspect: options.inspect, db, queries: new InspectQueries(schema), registry, logger, send: (id, event) => runtime.send(id, event) })
    : undefined;
  const unlisten = [
    await db.listen(
      schema.channel('steps'),
      (payload) => {
        subscriptions.notified(payload);
        inspection?.notified(payload);
      },
      () => {
        subscriptions.refreshAll();
        inspection?.refreshAll();
      },
    ),
  ];
  if (effects) {
    unlisten.push(await db.listen(schema.channel('cancel'), (payload) => effects.abort(parseKeys(payload))));
  }
  if (tuning.worker) {
    unlisten.push(await db.listen(schema.channel('wake'), wakeSteps, wakeAll));
    unlisten.push(await db.listen(schema.channel('effects'), () => effects?.notify(), wakeAll));
  }
  const stopClock = clock.onChange?.(wakeAll);
  workers.forEach((w) => w.start());
  effects?.start();

  let closed = false;
  const assertOpen = () => {
    if (closed) throw new RuntimeClosedError();
  };
  const handle = { workerId: tuning.workerId };
  openRuntimes.add(handle);
  logger.info({ database: db.kind, schema: schema.name, machines: registry.machineNames, worker: tuning.worker }, 'runtime started');

  const runtime: Runtime = {
    workerId: tuning.workerId,
    database: db,

    async start(name, input, startOptions: StartOptions = {}) {
      assertOpen();
      return starter.start(name, input, startOptions);
    },

    async send(id, event: AnyEventObject, sendOptions: SendOptions = {}): Promise<SendResult> {
      assertOpen();
      const parsed = eventSchema.safeParse(event);
      if (!parsed.success) throw new ConfigError(`event must be an object with a string "type"; got ${JSON.stringify(event)}`);
      if (!uuidSchema.safeParse(id).success) throw new InstanceNotFoundError(id);
      const on = sendOptions.tx ?? db;
      if (sendOptions.child !== undefined) {
        const child = await instances.childInstance(on, id, sendOptions.child);
        if (!child) {
          if (!(await instances.exists(on, id))) throw new InstanceNotFoundError(id);
          return { accepted: false, reason: 'child_not_active' };
        }
        id = child;
      }
      const result = await instances.send(on, id, parsed.data as AnyEventObject, sendOptions.dedupeKey ?? null, new Date(clock.now()));
      if (result === 'inserted') return { accepted: true };
      if (result === 'duplicate') return { accepted: false, reason: 'duplicate' };
      if (!(await instances.exists(on, id))) throw new InstanceNotFoundError(id);
      return { accepted: false, reason: 'instance_not_active' };
    },

    async get<TContext>(id: string) {
      assertOpen();
      if (!uuidSchema.safeParse(id).success) return null;
      return instances.get<TContext>(db, id);
    },

    async history(id) {
      assertOpen();
      if (!uuidSchema.safeParse(id).success) return [];
      return instances.history(db, id);
    },

    subscribe<TContext>(id: string, listener: (state: InstanceState<TContext>) => void) {
      assertOpen();
      return subscriptions.add(id, listener as (state: InstanceState) => void);
    },

    async waitFor<TContext>(id: string, predicate: (state: InstanceState<TContext>) => boolean, waitOptions: WaitOptions = {}) {
      assertOpen();
      const timeoutMs = waitOptions.timeoutMs ?? 30_000;
      return new Promise<InstanceState<TContext>>((resolve, reject) => {
        let settled = false;
        let lastSeen: InstanceState<TContext> | undefined;
        const finish = (error: Error | null, state?: InstanceState<TContext>) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          unsubscribe();
          if (error) reject(error);
          else resolve(state!);
        };
        const check = (state: InstanceState<TContext>) => {
          lastSeen = state;
          try {
            if (predicate(state)) finish(null, state);
          } catch (error) {
            finish(error as Error);
          }
        };
        const timer = setTimeout(() => finish(new WaitTimeoutError(id, timeoutMs, lastSeen)), timeoutMs);
        // Subscribe before reading, so a step between the read and the subscription is not missed.
        const unsubscribe = subscriptions.add(id, check as (state: InstanceState) => void);
        instances.get<TContext>(db, id).then(
          (state) => (state ? check(state) : finish(new InstanceNotFoundError(id))),
          (error: Error) => finish(error),
        );
      });
    },

    async list(listOptions) {
      assertOpen();
      return controls.list(listOptions);
    },

    async resume(id) {
      assertOpen();
      if (!uuidSchema.safeParse(id).success) throw new InstanceNotFoundError(id);
      await controls.resume(id);
    },

    async cancel(id, reason) {
      assertOpen();
      if (!uuidSchema.safeParse(id).success) throw new InstanceNotFoundError(id);
      return controls.cancel(id, reason);
    },

    async remove(id, removeOptions = {}) {
      assertOpen();
      if (!uuidSchema.safeParse(id).success) throw new InstanceNotFoundError(id);
      await controls.remove(id, removeOptions.tx);
    },

    async stop(id, reason) {
      assertOpen();
      if (!uuidSchema.safeParse(id).success) throw new InstanceNotFoundError(id);
      await controls.stop(id, reason);
    },

    metrics: () => ({ ...metrics.snapshot(), subscriptions: subscriptions.size }),
    wake: wakeAll,

    async close() {
      if (closed) return;
      closed = true;
      stopClock?.();
      await Promise.all(workers.map((w) => w.stop()));
      await effects?.stop();
      for (const stop of unlisten) await stop().catch(() => {});
      await inspection?.close();
      if (ownsDatabase) await db.close();
      openRuntimes.delete(handle);
      logger.info('runtime closed');
    },
  };
  runtimeInternals.set(runtime, { db, schema, registry, assertOpen });
  return runtime;
}

/** The effect keys of a cancel notification; anything else is ignored. */
function parseKeys(payload: string): string[] {
  try {
    const keys: unknown = JSON.parse(payload);
    return Array.isArray(keys) ? keys.filter((key): key is string => typeof key === 'string') : [];
  } catch {
    return [];
  }
}

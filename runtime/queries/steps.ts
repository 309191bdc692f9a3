import type { Queryable } from '../db/database.js';
import type { SchemaName } from '../schema.js';
import type { ClaimedInstance, InboxEvent, StepOutcome } from '../transition.js';

/** One instance's step, as the batch write takes it. */
export interface StepWrite {
  instanceId: string;
  machine: string;
  outcome: StepOutcome;
}

/** How an effect ended, written in the same statement as the step that applies its result. */
export interface EffectEnd {
  key: string;
  owner: string;
  status: 'done' | 'failed';
  output: unknown;
  error: object | null;
  log: object | null;
}

/**
 * Claiming instances with due events, and writing what steps computed. Writes take any number of
 * instances in one statement, so a batch of steps costs one round trip however large it is.
 */
export class StepQueries {
  readonly #claim: string;
  readonly #lock: string;
  readonly #read: string;
  readonly #owned: string;
  readonly #write: string;
  readonly #writeStart: string;
  readonly #nextWake: string;
  readonly #fail: string;
  readonly #markError: string;

  constructor(schema: SchemaName) {
    const t = (name: string) => schema.table(name);
    // An instance's inbox ($1 rows at most), ordered as it will be applied.
    const inbox = (alias: string) => `
        (SELECT coalesce(json_agg(e), '[]'::json) FROM (
           SELECT ev.id::text AS id, ev.event, ev.timer_id, ev.source_effect, ev.available_at, ev.created_at,
             (SELECT attempts FROM ${t('effects')} f WHERE f.idempotency_key = ev.source_effect) AS attempts
           FROM ${t('events')} ev
           WHERE ev.instance_id = ${alias}.id ORDER BY ev.available_at, ev.id LIMIT $1) e)`;
    // Instances and their inboxes, in one round trip.
    const read = `
      SELECT i.id, i.machine, i.machine_version, i.snapshot, i.status, i.version, i.invocations, i.step_failures, i.parent_id, i.parent_child_id,
        i.created_at, ${inbox('i')} AS inbox
      FROM ${t('instances')} i`;
    // Locking and reading in one statement has a trap. A row lock that had to wait, or that found the
    // row changed since the statement began, yields the row's newest version, while the rest of the
    // statement (the inbox) keeps the statement's older snapshot: events another step had just
    // consumed would be applied a second time. So each locked row also says which version of itself
    // the snapshot saw (`seen_xmin`, read without a lock) beside the version it locked (`xmin`).
    // Every write to an inbox updates its instance row in the same transaction (wake_at, version), so
    // equal versions mean the inbox read is current; only rows that differ are read again, in a second
    // statement whose snapshot sees everything committed. Under no contention that is one round trip.
    const locked = (from: string) => `
      SELECT i.id, i.machine, i.machine_version, i.snapshot, i.status, i.version, i.invocations, i.step_failures, i.parent_id, i.parent_child_id,
        i.created_at, ${inbox('i')} AS inbox, i.xmin::text AS locked_xmin,
        (SELECT s.xmin::text FROM ${t('instances')} s WHERE s.id = i.id) AS seen_xmin
      ${from}`;
    // Which machines (and versions) this runtime may step, as a filter the planner cannot turn into a
    // join: a correlated scalar subquery stays a per-row filter on the wake_at index scan, which stops
    // after $5 rows. Written as a join, a table without fresh statistics got a hash join of every due
    // row and a sort of them all: 17.8 ms per claim at 10,000 due rows, against 0.13 ms this way.
    const known = (names: string, versions: string) =>
      `i.machine_version <= (SELECT k.max_version FROM unnest(${names}::text[], ${versions}::int[]) AS k(machine, max_version) WHERE k.machine = i.machine)`;
    this.#claim = locked(`
      FROM ${t('instances')} i
      WHERE i.wake_at <= $2 AND ${known('$3', '$4')}
      ORDER BY i.wake_at
      LIMIT $5
      FOR NO KEY UPDATE OF i SKIP LOCKED`);
    // Named instances, waiting for their locks; taken in id order, so two lockers cannot deadlock.
    this.#lock = locked(`FROM ${t('instances')} i WHERE i.id = ANY($2::uuid[]) ORDER BY i.id FOR NO KEY UPDATE OF i`);
    this.#read = `${read} WHERE i.id = ANY($2::uuid[]) ORDER BY i.id`;
    // Which of these effects this worker still holds, locked until commit (taken after the instances).
    this.#owned = `
      SELECT idempotency_key FROM ${t('effects')}
      WHERE idempotency_key = ANY($1::text[]) AND lease_owner = $2 AND status = 'running'
      ORDER BY idempotency_key FOR NO KEY UPDATE`;
    // Side records of any number of steps: $1 now, $2 consumed events and timers per instance,
    // $3 new events, $4 new effects, $5 effect keys to cancel, $6 journal rows, $7 effects ended.
    const sideRecords = `
      consumed AS (
        DELETE FROM ${t('events')} e USING jsonb_to_recordset($2::jsonb) AS d(instance_id uuid, ids bigint[], timer_ids text[])
        WHERE e.instance_id = d.instance_id AND (e.id = ANY(d.ids) OR e.timer_id = ANY(d.timer_ids))
      ),
      new_events AS (
        INSERT INTO ${t('events')} (instance_id, event, timer_id, available_at, created_at)
        SELECT e.instance_id, e.event, e.timer_id, e.available_at, $1
        FROM jsonb_to_recordset($3::jsonb) AS e(instance_id uuid, event jsonb, timer_id text, available_at timestamptz)
      ),
      new_effects AS (
        INSERT INTO ${t('effects')} (instance_id, machine, kind, child_id, service, input, idempotency_key, status,
          attempts, lease_owner, due_at, created_at, updated_at)
        SELECT f.instance_id, f.machine, f.kind, f.child_id, f.service, f.input, f.idempotency_key,
          CASE WHEN f.claim IS NULL THEN 'pending' ELSE 'running' END,
          CASE WHEN f.claim IS NULL THEN 0 ELSE 1 END,
          f.claim->>'lease_owner', coalesce((f.claim->>'due_at')::timestamptz, $1), $1, $1
        FROM jsonb_to_recordset($4::jsonb)
          AS f(instance_id uuid, machine text, kind text, child_id text, service text, input jsonb, idempotency_key text, claim jsonb)
        ON CONFLICT (idempotency_key) DO NOTHING
      ),
      canceled AS (
        UPDATE ${t('effects')} SET status = 'canceled', due_at = NULL, updated_at = $1, finished_at = $1
        WHERE idempotency_key = ANY($5::text[]) AND status IN ('pending', 'running')
      ),
      journal AS (
        INSERT INTO ${t('journal')} (instance_id, seq, event_type, event, from_value, to_value, at)
        SELECT j.instance_id, j.seq, j.event_type, j.event, j.from_value, j.to_value, $1
        FROM jsonb_to_recordset($6::jsonb)
          AS j(instance_id uuid, seq int, event_type text, event jsonb, from_value jsonb, to_value jsonb)
      ),
      ended AS (
        UPDATE ${t('effects')} x SET status = f.status, output = f.output, last_error = f.error,
          attempt_log = CASE WHEN f.log IS NULL THEN x.attempt_log ELSE x.attempt_log || f.log END,
          due_at = NULL, lease_owner = NULL, updated_at = $1, finished_at = $1
        FROM jsonb_to_recordset($7::jsonb) AS f(key text, owner text, status text, output jsonb, error jsonb, log jsonb)
        WHERE x.idempotency_key = f.key AND x.lease_owner = f.owner AND x.status = 'running'
      )`;
    this.#write = `
      WITH ${sideRecords}
      UPDATE ${t('instances')} i SET snapshot = u.snapshot, status = u.status, error = u.error, version = u.version,
        machine_version = u.machine_version, invocations = u.invocations, wake_at = u.wake_at, step_failures = 0, updated_at = $1
      FROM jsonb_to_recordset($8::jsonb) AS u(id uuid, snapshot jsonb, status text, error jsonb, version int,
        machine_version int, invocations jsonb, wake_at timestamptz)
      WHERE i.id = u.id`;
    this.#writeStart = `WITH ${sideRecords} SELECT 1`;
    // The same filter as the claim: an instance this runtime may not step must not keep it awake.
    // An index scan that stops at the first row, not an aggregate over every waiting instance.
    this.#nextWake = `
      SELECT i.wake_at AS at FROM ${t('instances')} i
      WHERE i.wake_at IS NOT NULL AND ${known('$1', '$2')}
      ORDER BY i.wake_at LIMIT 1`;
    // Backoff of failed steps: 200 ms doubling per failure, capped at 30 s.
    this.#fail = `
      UPDATE ${t('instances')} SET step_failures = step_failures + 1,
        wake_at = $2::timestamptz + make_interval(secs => least(0.1 * power(2, step_failures + 1), 30)), updated_at = $2
      WHERE id = $1 RETURNING step_failures`;
    this.#markError = `
      UPDATE ${t('instances')} SET status = 'error', error = $2, wake_at = NULL, updated_at = $3
      WHERE id = $1`;
  }

  /** Locks up to `limit` instances with due events (skipping locked ones) and reads their inboxes. */
  async claim(
    tx: Queryable,
    now: Date,
    filter: { names: string[]; maxVersions: number[] },
    limit: number,
    inboxLimit: number,
  ): Promise<Claimed[]> {
    const { rows } = await tx.query<LockedRow>(this.#claim, [inboxLimit, now, filter.names, filter.maxVersions, limit]);
    return this.#current(tx, rows, inboxLimit);
  }

  /** Locks the named instances (waiting for steps that hold them) and reads their inboxes. */
  async lock(tx: Queryable, instanceIds: string[], inboxLimit: number): Promise<Claimed[]> {
    const { rows } = await tx.query<LockedRow>(this.#lock, [inboxLimit, instanceIds]);
    return this.#current(tx, rows, inboxLimit);
  }

  /** Locked rows as claimed, those that changed between the statement's snapshot and the lock read again. */
  async #current(tx: Queryable, rows: LockedRow[], inboxLimit: number): Promise<Claimed[]> {
    const stale = rows.filter((row) => row.locked_xmin !== row.seen_xmin).map((row) => row.id);
    if (stale.length === 0) return rows.map(toClaimed);
    const { rows: fresh } = await tx.query<ClaimRow>(this.#read, [inboxLimit, stale]);
    const reread = new Map(fresh.map((row) => [row.id, row]));
    return rows.map((row) => toClaimed(reread.get(row.id) ?? row));
  }

  /** The subset of these effect keys still running under `owner`'s lease, locked until commit. */
  async owned(tx: Queryable, keys: string[], owner: string): Promise<Set<string>> {
    const { rows } = await tx.query<{ idempotency_key: string }>(this.#owned, [keys, owner]);
    return new Set(rows.map((row) => row.idempotency_key));
  }

  /** Writes steps' snapshots, every side record, and the end of the effects whose results they applied. */
  async write(tx: Queryable, steps: StepWrite[], ended: EffectEnd[], now: Date): Promise<void> {
    const instances = steps.map(({ instanceId, outcome }) => ({
      id: instanceId,
      snapshot: outcome.snapshot,
      status: outcome.status,
      error: outcome.error,
      version: outcome.version,
      machine_version: outcome.machineVersion,
      invocations: outcome.invocations,
      wake_at: outcome.wakeAt,
    }));
    await tx.query(this.#write, [...sideValues(steps, ended, now), JSON.stringify(instances)]);
  }

  /** The side records of new instances (their rows are inserted by InstanceQueries.insert). */
  async writeStart(tx: Queryable, steps: StepWrite[], now: Date): Promise<void> {
    await tx.query(this.#writeStart, sideValues(steps, [], now));
  }

  /** The earliest wake-up among instances this runtime may claim, or null. */
  async nextWake(db: Queryable, filter: { names: string[]; maxVersions: number[] }): Promise<Date | null> {
    const { rows } = await db.query<{ at: Date | string | null }>(this.#nextWake, [filter.names, filter.maxVersions]);
    const at = rows[0]?.at;
    return at ? new Date(at) : null;
  }

  /** Counts a failed step and postpones the instance with backoff; returns the failures so far. */
  async recordFailure(db: Queryable, instanceId: string, now: Date): Promise<number> {
    const { rows } = await db.query<{ step_failures: number }>(this.#fail, [instanceId, now]);
    return rows[0]?.step_failures ?? 0;
  }

  /** Stops stepping an instance: status error, inbox kept for a later fix. */
  async markError(db: Queryable, instanceId: string, error: object, now: Date): Promise<void> {
    await db.query(this.#markError, [instanceId, JSON.stringify(error), now]);
  }
}

function sideValues(steps: StepWrite[], ended: EffectEnd[], now: Date): unknown[] {
  const per = <T>(pick: (step: StepWrite) => T[]) => steps.flatMap((step) => pick(step).map((row) => ({ ...row, instance_id: step.instanceId })));
  return [
    now,
    JSON.stringify(steps.map(({ instanceId, outcome }) => ({ instance_id: instanceId, ids: outcome.consumedEventIds, timer_ids: outcome.timerDeletes }))),
    JSON.stringify(per((step) => step.outcome.newEvents)),
    JSON.stringify(per((step) => step.outcome.newEffects.map((effect) => ({ ...effect, machine: step.machine })))),
    steps.flatMap((step) => step.outcome.canceledEffects),
    JSON.stringify(per((step) => step.outcome.journal)),
    JSON.stringify(ended),
  ];
}

interface ClaimRow {
  id: string;
  machine: string;
  machine_version: number;
  snapshot: ClaimedInstance['snapshot'];
  status: ClaimedInstance['status'];
  version: number;
  invocations: Record<string, string>;
  step_failures: number;
  parent_id: string | null;
  parent_child_id: string | null;
  created_at: Date | string;
  inbox: {
    id: string;
    event: InboxEvent['event'];
    timer_id: string | null;
    source_effect: string | null;
    attempts: number | null;
    available_at: string;
    created_at: string;
  }[];
}

export interface Claimed {
  instance: ClaimedInstance;
  inbox: InboxEvent[];
}

/** A row as the locking statement returns it: which version it locked, and which one its snapshot saw. */
interface LockedRow extends ClaimRow {
  locked_xmin: string;
  seen_xmin: string | null;
}

function toClaimed(row: ClaimRow): Claimed {
  return {
    instance: {
      id: row.id,
      machine: row.machine,
      machineVersion: row.machine_version,
      snapshot: row.snapshot,
      status: row.status,
      version: row.version,
      invocations: row.invocations,
      stepFailures: row.step_failures,
      parent: row.parent_id ? { id: row.parent_id, childId: row.parent_child_id ?? '' } : null,
      createdAt: new Date(row.created_at).getTime(),
    },
    inbox: row.inbox.map((e) => ({
      id: e.id,
      event: e.event,
      timerId: e.timer_id,
      sourceEffect: e.source_effect,
      attempts: e.attempts,
      availableAt: new Date(e.available_at),
      createdAt: new Date(e.created_at),
    })),
  };
}

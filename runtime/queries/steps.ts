import type { Queryable } from '../db/database.js';
import type { SchemaName } from '../schema.js';
import type { ClaimedInstance, InboxEvent, StepOutcome } from '../step.js';

/** Claiming instances with due events, and writing what a step computed. */
export class StepQueries {
  readonly #claim: string;
  readonly #lock: string;
  readonly #write: string;
  readonly #sideRecords: string;
  readonly #nextWake: string;
  readonly #fail: string;
  readonly #markError: string;

  constructor(schema: SchemaName) {
    const t = (name: string) => schema.table(name);
    // The instance and its inbox, ordered as it will be applied, in one round trip.
    const read = (limit: string) => `
      SELECT i.id, i.machine, i.machine_version, i.snapshot, i.status, i.version, i.invocations, i.step_failures,
        (SELECT coalesce(json_agg(e), '[]'::json) FROM (
           SELECT id::text AS id, event, timer_id, source_effect, available_at, created_at FROM ${t('events')}
           WHERE instance_id = i.id ORDER BY available_at, id LIMIT ${limit}) e) AS inbox
      FROM ${t('instances')} i`;
    this.#claim = `
      WITH claimed AS (
        SELECT i.id FROM ${t('instances')} i
        JOIN unnest($2::text[], $3::int[]) AS known(machine, max_version)
          ON i.machine = known.machine AND i.machine_version <= known.max_version
        WHERE i.wake_at <= $1
        ORDER BY i.wake_at
        LIMIT 1
        FOR NO KEY UPDATE OF i SKIP LOCKED
      )
      ${read('$4')} JOIN claimed USING (id)`;
    // One instance the caller names, waiting for its lock rather than skipping it.
    this.#lock = `${read('$2')} WHERE i.id = $1 FOR NO KEY UPDATE`;
    // Side records of a step: $1 instance, $2 now, $3 consumed event ids, $4 timer ids to delete,
    // $5 new events, $6 new effects, $7 effect keys to cancel, $8 journal rows, $9 machine.
    this.#sideRecords = `
      consumed AS (
        DELETE FROM ${t('events')} WHERE instance_id = $1 AND (id = ANY($3::bigint[]) OR timer_id = ANY($4::text[]))
      ),
      new_events AS (
        INSERT INTO ${t('events')} (instance_id, event, timer_id, available_at, created_at)
        SELECT $1, e.event, e.timer_id, e.available_at, $2
        FROM jsonb_to_recordset($5::jsonb) AS e(event jsonb, timer_id text, available_at timestamptz)
      ),
      new_effects AS (
        INSERT INTO ${t('effects')} (instance_id, machine, kind, child_id, service, input, idempotency_key, status,
          attempts, lease_owner, due_at, created_at, updated_at)
        SELECT $1, $9, f.kind, f.child_id, f.service, f.input, f.idempotency_key,
          CASE WHEN f.claim IS NULL THEN 'pending' ELSE 'running' END,
          CASE WHEN f.claim IS NULL THEN 0 ELSE 1 END,
          f.claim->>'lease_owner', coalesce((f.claim->>'due_at')::timestamptz, $2), $2, $2
        FROM jsonb_to_recordset($6::jsonb) AS f(kind text, child_id text, service text, input jsonb, idempotency_key text, claim jsonb)
        ON CONFLICT (idempotency_key) DO NOTHING
      ),
      canceled AS (
        UPDATE ${t('effects')} SET status = 'canceled', due_at = NULL, updated_at = $2, finished_at = $2
        WHERE idempotency_key = ANY($7::text[]) AND status IN ('pending', 'running')
      ),
      journal AS (
        INSERT INTO ${t('journal')} (instance_id, seq, event_type, event, from_value, to_value, at)
        SELECT $1, j.seq, j.event_type, j.event, j.from_value, j.to_value, $2
        FROM jsonb_to_recordset($8::jsonb) AS j(seq int, event_type text, event jsonb, from_value jsonb, to_value jsonb)
      )`;
    this.#write = `
      WITH ${this.#sideRecords}
      UPDATE ${t('instances')} SET snapshot = $10, status = $11, error = $12, version = $13, machine_version = $14,
        invocations = $15, wake_at = $16, step_failures = 0, updated_at = $2
      WHERE id = $1`;
    // The same filter as the claim: an instance this runtime may not step must not keep it awake.
    this.#nextWake = `
      SELECT min(i.wake_at) AS at FROM ${t('instances')} i
      JOIN unnest($1::text[], $2::int[]) AS known(machine, max_version)
        ON i.machine = known.machine AND i.machine_version <= known.max_version
      WHERE i.wake_at IS NOT NULL`;
    // Backoff of failed steps: 200 ms doubling per failure, capped at 30 s.
    this.#fail = `
      UPDATE ${t('instances')} SET step_failures = step_failures + 1,
        wake_at = $2::timestamptz + make_interval(secs => least(0.1 * power(2, step_failures + 1), 30)), updated_at = $2
      WHERE id = $1 RETURNING step_failures`;
    this.#markError = `
      UPDATE ${t('instances')} SET status = 'error', error = $2, wake_at = NULL, updated_at = $3
      WHERE id = $1`;
  }

  /** Locks one instance with due events (skipping locked ones) and reads its inbox. */
  async claim(
    tx: Queryable,
    now: Date,
    filter: { names: string[]; maxVersions: number[] },
    batchSize: number,
  ): Promise<Claimed | null> {
    const { rows } = await tx.query<ClaimRow>(this.#claim, [now, filter.names, filter.maxVersions, batchSize]);
    return rows[0] ? toClaimed(rows[0]) : null;
  }

  /** Locks the named instance (waiting for a step that holds it) and reads its inbox. */
  async lock(tx: Queryable, instanceId: string, batchSize: number): Promise<Claimed | null> {
    const { rows } = await tx.query<ClaimRow>(this.#lock, [instanceId, batchSize]);
    return rows[0] ? toClaimed(rows[0]) : null;
  }

  /** Writes a step's snapshot and every side record in one statement. */
  async write(tx: Queryable, instanceId: string, machine: string, outcome: StepOutcome, now: Date): Promise<void> {
    await tx.query(this.#write, [...this.#sideValues(instanceId, machine, outcome, now), ...this.#instanceValues(outcome)]);
  }

  /** The side records of a new instance (its row is inserted by InstanceQueries.insert). */
  async writeStart(tx: Queryable, instanceId: string, machine: string, outcome: StepOutcome, now: Date): Promise<void> {
    await tx.query(`WITH ${this.#sideRecords} SELECT 1`, this.#sideValues(instanceId, machine, outcome, now));
  }

  #sideValues(instanceId: string, machine: string, outcome: StepOutcome, now: Date): unknown[] {
    return [
      instanceId,
      now,
      outcome.consumedEventIds,
      outcome.timerDeletes,
      JSON.stringify(outcome.newEvents),
      JSON.stringify(outcome.newEffects),
      outcome.canceledEffects,
      JSON.stringify(outcome.journal),
      machine,
    ];
  }

  #instanceValues(outcome: StepOutcome): unknown[] {
    return [
      JSON.stringify(outcome.snapshot),
      outcome.status,
      outcome.error ? JSON.stringify(outcome.error) : null,
      outcome.version,
      outcome.machineVersion,
      JSON.stringify(outcome.invocations),
      outcome.wakeAt,
    ];
  }

  /** The earliest wake-up among instances this runtime may claim, or null. */
  async nextWake(db: Queryable, filter: { names: string[]; maxVersions: number[] }): Promise<Date | null> {
    const { rows } = await db.query<{ at: Date | string | null }>(this.#nextWake, [filter.names, filter.maxVersions]);
    const at = rows[0]?.at;
    return at ? new Date(at) : null;
  }

  /** Counts a failed step transaction and postpones the instance with backoff; returns the failures so far. */
  async recordFailure(db: Queryable, instanceId: string, now: Date): Promise<number> {
    const { rows } = await db.query<{ step_failures: number }>(this.#fail, [instanceId, now]);
    return rows[0]?.step_failures ?? 0;
  }

  /** Stops stepping an instance: status error, inbox kept for a later fix. */
  async markError(db: Queryable, instanceId: string, error: object, now: Date): Promise<void> {
    await db.query(this.#markError, [instanceId, JSON.stringify(error), now]);
  }
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
  inbox: { id: string; event: InboxEvent['event']; timer_id: string | null; source_effect: string | null; available_at: string; created_at: string }[];
}

export interface Claimed {
  instance: ClaimedInstance;
  inbox: InboxEvent[];
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
      },
      inbox: row.inbox.map((e) => ({
        id: e.id,
        event: e.event,
        timerId: e.timer_id,
        sourceEffect: e.source_effect,
        availableAt: new Date(e.available_at),
        createdAt: new Date(e.created_at),
      })),
    };
}

import type { Queryable } from '../db/database.js';
import type { SchemaName } from '../schema.js';

/** A claimed effect, as the runner executes it. Identified by its idempotency key. */
export interface ClaimedEffect {
  instanceId: string;
  machine: string;
  kind: 'invoke' | 'action' | 'emit';
  childId: string | null;
  service: string;
  input: unknown;
  idempotencyKey: string;
  attempts: number;
  /** The previous holder's lease ran out: that attempt's worker died or hung. */
  tookOver: boolean;
}

export interface AttemptLogEntry {
  attempt: number;
  at: string;
  code: string;
  message: string;
  transient: boolean;
  retryAfterMs?: number;
}

/** Claiming effects under a lease, heartbeats, and recording how each attempt ended. */
export class EffectQueries {
  readonly #claim: string;
  readonly #heartbeat: string;
  readonly #finish: string;
  readonly #reply: string;
  readonly #retry: string;
  readonly #release: string;
  readonly #nextDue: string;

  constructor(private readonly schema: SchemaName) {
    const t = (name: string) => schema.table(name);
    // Due means: pending and its attempt time has come, or running and its lease has run out.
    this.#claim = `
      UPDATE ${t('effects')} e SET status = 'running', attempts = e.attempts + 1, lease_owner = $1, due_at = $2, updated_at = $3,
        attempt_log = CASE WHEN due.status = 'running' THEN e.attempt_log || jsonb_build_array(jsonb_build_object(
          'attempt', e.attempts, 'at', $3::timestamptz, 'code', 'LEASE_EXPIRED', 'transient', true,
          'message', 'the worker holding the lease (' || coalesce(e.lease_owner, '?') || ') ended or stopped renewing it: crashed, killed or hung'))
          ELSE e.attempt_log END
      FROM (
        SELECT id, status FROM ${t('effects')}
        WHERE status IN ('pending', 'running') AND due_at <= $3 AND machine = ANY($5::text[])
          AND NOT (idempotency_key = ANY($6::text[]))
        ORDER BY due_at LIMIT $4 FOR UPDATE SKIP LOCKED
      ) due
      WHERE e.id = due.id
      RETURNING e.instance_id, e.machine, e.kind, e.child_id, e.service, e.input, e.idempotency_key,
        e.attempts, due.status = 'running' AS took_over`;
    // SKIP LOCKED: a row locked now is being finished, and waiting for it while holding the rows
    // already renewed could deadlock with the transaction finishing it.
    this.#heartbeat = `
      UPDATE ${t('effects')} SET due_at = $3 WHERE idempotency_key IN (
        SELECT idempotency_key FROM ${t('effects')}
        WHERE idempotency_key = ANY($1::text[]) AND lease_owner = $2 AND status = 'running'
        FOR NO KEY UPDATE SKIP LOCKED)`;
    // Only the lease holder ends an effect, and only while it runs: a cancelled effect stays cancelled.
    this.#finish = `
      UPDATE ${t('effects')} SET status = $4, output = $5, last_error = $6,
        attempt_log = CASE WHEN $7::jsonb IS NULL THEN attempt_log ELSE attempt_log || $7::jsonb END,
        due_at = NULL, lease_owner = NULL, updated_at = $3, finished_at = $3
      WHERE idempotency_key = $1 AND lease_owner = $2 AND status = 'running'`;
    this.#reply = `
      WITH reply AS (
        INSERT INTO ${t('events')} (instance_id, event, source_effect, available_at, created_at)
        VALUES ($1, $2, $3, $4, $4)
        RETURNING instance_id
      )
      UPDATE ${t('instances')} i SET wake_at = LEAST(i.wake_at, $4) FROM reply WHERE i.id = reply.instance_id`;
    this.#retry = `
      UPDATE ${t('effects')} SET status = 'pending', due_at = $4, lease_owner = NULL, last_error = $5,
        attempt_log = attempt_log || $6::jsonb, updated_at = $3
      WHERE idempotency_key = $1 AND lease_owner = $2 AND status = 'running'`;
    this.#release = `
      UPDATE ${t('effects')} SET status = 'pending', due_at = $2, lease_owner = NULL,
        attempts = greatest(attempts - 1, 0), updated_at = $2
      WHERE idempotency_key IN (
        SELECT idempotency_key FROM ${t('effects')}
        WHERE lease_owner = $1 AND status = 'running' AND idempotency_key = ANY($3::text[])
        FOR NO KEY UPDATE SKIP LOCKED)`;
    this.#nextDue = `
      SELECT min(due_at) AS at FROM ${t('effects')}
      WHERE status IN ('pending', 'running') AND machine = ANY($1::text[])`;
  }

  /**
   * Leases up to `limit` due effects. `running` are the keys this worker runs right now: their lease
   * may look expired when a long synchronous stretch delayed the heartbeat, and taking over one's own
   * attempt would only start it twice.
   */
  async claim(db: Queryable, owner: string, now: Date, leaseUntil: Date, limit: number, machines: string[], running: string[]): Promise<ClaimedEffect[]> {
    const { rows } = await db.query<ClaimRow>(this.#claim, [owner, leaseUntil, now, limit, machines, running]);
    return rows.map((row) => ({
      instanceId: row.instance_id,
      machine: row.machine,
      kind: row.kind,
      childId: row.child_id,
      service: row.service,
      input: row.input,
      idempotencyKey: row.idempotency_key,
      attempts: row.attempts,
      tookOver: row.took_over,
    }));
  }

  /** The renewal statement: $1 keys, $2 owner, $3 new lease end. The lease keeper's thread runs it on its own connection. */
  get heartbeatSql(): string {
    return this.#heartbeat;
  }

  async heartbeat(db: Queryable, keys: string[], owner: string, leaseUntil: Date): Promise<void> {
    await db.query(this.#heartbeat, [keys, owner, leaseUntil]);
  }

  /** Ends an effect, done or failed. False when the lease was lost or the effect was cancelled. */
  async finish(
    db: Queryable,
    effect: ClaimedEffect,
    owner: string,
    now: Date,
    result: { status: 'done' | 'failed'; output?: unknown; error?: object; log?: AttemptLogEntry },
  ): Promise<boolean> {
    const { rowCount } = await db.query(this.#finish, [
      effect.idempotencyKey,
      owner,
      now,
      result.status,
      result.output === undefined ? null : JSON.stringify(result.output),
      result.error ? JSON.stringify(result.error) : null,
      result.log ? JSON.stringify([result.log]) : null,
    ]);
    return rowCount === 1;
  }

  /** Commits an invocation's result to its instance's inbox, for a step worker to apply. */
  async reply(db: Queryable, effect: ClaimedEffect, event: object, now: Date): Promise<void> {
    await db.query(this.#reply, [effect.instanceId, JSON.stringify(event), effect.idempotencyKey, now]);
  }

  /** Puts a failed attempt back as pending until `retryAt`. False when the lease was lost. */
  async retry(db: Queryable, effect: ClaimedEffect, owner: string, now: Date, retryAt: Date, error: object, log: AttemptLogEntry): Promise<boolean> {
    const result = await db.query(this.#retry, [effect.idempotencyKey, owner, now, retryAt, JSON.stringify(error), JSON.stringify([log])]);
    return result.rowCount === 1;
  }

  /** Hands running effects back (on close) so another worker takes them at once; the attempt does not count. */
  async release(db: Queryable, owner: string, keys: string[], now: Date): Promise<number> {
    if (keys.length === 0) return 0;
    const { rowCount } = await db.query(this.#release, [owner, now, keys]);
    await db.query('SELECT pg_notify($1, $2)', [this.schema.channel('effects'), '']);
    return rowCount;
  }

  async nextDue(db: Queryable, machines: string[]): Promise<Date | null> {
    const { rows } = await db.query<{ at: Date | string | null }>(this.#nextDue, [machines]);
    const at = rows[0]?.at;
    return at ? new Date(at) : null;
  }
}

interface ClaimRow {
  instance_id: string;
  machine: string;
  kind: ClaimedEffect['kind'];
  child_id: string | null;
  service: string;
  input: unknown;
  idempotency_key: string;
  attempts: number;
  took_over: boolean;
}

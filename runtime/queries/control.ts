import type { StateValue } from 'xstate';
import type { Queryable, Transaction } from '../db/database.js';
import type { SchemaName } from '../schema.js';
import type { InstanceStatus } from '../types.js';
import type { InstanceRow } from './instances.js';

interface Locked {
  status: InstanceStatus;
  version: number;
  value: StateValue;
  snapshot_status: string;
}

/** The operators' controls: listing instances, resuming a parked one, cancelling effects, stopping. */
export class ControlQueries {
  readonly #list: string;
  readonly #lock: string;
  readonly #resume: string;
  readonly #cancelInvokes: string;
  readonly #remove: string;

  constructor(private readonly schema: SchemaName) {
    const t = (name: string) => schema.table(name);
    this.#list = `
      SELECT id, machine, machine_version, snapshot, status, error, version, parent_id, parent_child_id, created_at, updated_at FROM ${t('instances')}
      WHERE ($1::text IS NULL OR machine = $1) AND ($2::text IS NULL OR status = $2)
        AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))
      ORDER BY created_at DESC, id DESC LIMIT $5`;
    this.#lock = `
      SELECT status, version, snapshot->'value' AS value, snapshot->>'status' AS snapshot_status
      FROM ${t('instances')} WHERE id = $1 FOR NO KEY UPDATE`;
    // Its kept inbox becomes due at once; the failures that parked it are forgotten.
    this.#resume = `
      UPDATE ${t('instances')} i SET status = 'active', error = NULL, step_failures = 0, updated_at = $2,
        wake_at = (SELECT min(available_at) FROM ${t('events')} e WHERE e.instance_id = i.id)
      WHERE id = $1`;
    // Each cancelled invocation answers its machine with an error event, so the machine's onError
    // decides what cancellation means; a late result of the attempt is dropped (it no longer runs).
    this.#cancelInvokes = `
      WITH canceled AS (
        UPDATE ${t('effects')} SET status = 'canceled', due_at = NULL, lease_owner = NULL, updated_at = $2, finished_at = $2
        WHERE instance_id = $1 AND kind = 'invoke' AND status IN ('pending', 'running')
        RETURNING idempotency_key, child_id
      ),
      replies AS (
        INSERT INTO ${t('events')} (instance_id, event, source_effect, available_at, created_at)
        SELECT $1, jsonb_build_object('type', 'xstate.error.actor.' || child_id,
          'error', jsonb_build_object('name', 'DocketError', 'code', 'EFFECT_CANCELED', 'message', $3::text)), idempotency_key, $2, $2
        FROM canceled
      ),
      woken AS (
        UPDATE ${t('instances')} SET wake_at = LEAST(wake_at, $2) WHERE id = $1 AND EXISTS (SELECT 1 FROM canceled)
      )
      SELECT idempotency_key FROM canceled`;
    // Its events, effects, journal, dedupe keys and child instances go with it (ON DELETE CASCADE).
    this.#remove = `DELETE FROM ${t('instances')} WHERE id = $1`;
  }

  /** Deletes the instance and everything that belongs to it. */
  async remove(tx: Transaction, id: string): Promise<void> {
    await tx.query(this.#remove, [id]);
  }

  async list(db: Queryable, filter: { machine: string | null; status: string | null; after: { createdAt: Date; id: string } | null; limit: number }): Promise<InstanceRow[]> {
    const { rows } = await db.query<InstanceRow>(this.#list, [filter.machine, filter.status, filter.after?.createdAt ?? null, filter.after?.id ?? null, filter.limit]);
    return rows;
  }

  /** Locks the instance for the rest of the transaction; null when there is none. */
  async lock(tx: Transaction, id: string): Promise<Locked | null> {
    const { rows } = await tx.query<Locked>(this.#lock, [id]);
    return rows[0] ?? null;
  }

  async resume(tx: Transaction, id: string, now: Date): Promise<void> {
    await tx.query(this.#resume, [id, now]);
  }

  /** Cancels the instance's live invocations; returns the effect keys whose attempts must stop. */
  async cancelInvocations(tx: Transaction, id: string, reason: string, now: Date): Promise<string[]> {
    const { rows } = await tx.query<{ idempotency_key: string }>(this.#cancelInvokes, [id, now, reason]);
    return rows.map((row) => row.idempotency_key);
  }

  /** Tells every runner (this process's and others') to abort these attempts. */
  async announceCancel(tx: Queryable, keys: string[]): Promise<void> {
    if (keys.length > 0) await tx.query('SELECT pg_notify($1, $2)', [this.schema.channel('cancel'), JSON.stringify(keys)]);
  }
}

import type { AnyEventObject, StateValue } from 'xstate';
import type { Queryable } from '../db/database.js';
import type { ErrorInfo } from '../errors.js';
import type { SchemaName } from '../schema.js';
import { CHILD_MARKER } from '../plan.js';
import type { Parent, StepOutcome } from '../transition.js';
import type { HistoryEntry, InstanceState, InstanceStatus, PersistedSnapshot } from '../types.js';

/** Creating and reading instances, and committing events to their inboxes. */
export class InstanceQueries {
  readonly #insert: string;
  readonly #findExisting: string;
  readonly #get: string;
  readonly #history: string;
  readonly #send: string;
  readonly #exists: string;
  readonly #child: string;

  constructor(schema: SchemaName) {
    const t = (name: string) => schema.table(name);
    this.#insert = `
      INSERT INTO ${t('instances')} (id, machine, machine_version, snapshot, status, error, version, invocations,
        idempotency_key, wake_at, parent_id, parent_child_id, created_at, updated_at)
      SELECT n.id, n.machine, n.machine_version, n.snapshot, n.status, n.error, 0, n.invocations,
        n.idempotency_key, n.wake_at, n.parent_id, n.parent_child_id, $2, $2
      FROM jsonb_to_recordset($1::jsonb) AS n(id uuid, machine text, machine_version int, snapshot jsonb, status text,
        error jsonb, invocations jsonb, idempotency_key text, wake_at timestamptz, parent_id uuid, parent_child_id text)
      ON CONFLICT DO NOTHING RETURNING id`;
    this.#findExisting = `
      SELECT id FROM ${t('instances')} WHERE id = $1 OR idempotency_key = $2 ORDER BY (id = $1) DESC LIMIT 1`;
    this.#get = `
      SELECT id, machine, machine_version, snapshot, status, error, version, parent_id, parent_child_id, created_at, updated_at
      FROM ${t('instances')} WHERE id = $1`;
    this.#child = `SELECT invocations->>$2 AS marker FROM ${t('instances')} WHERE id = $1`;
    this.#history = `
      SELECT seq, event, from_value, to_value, at FROM ${t('journal')} WHERE instance_id = $1 ORDER BY seq`;
    // One statement: the event lands and the instance's wake_at moves up, or nothing happens. The
    // UPDATE waits for a step holding the instance, so a wake-up is never overwritten by that step.
    this.#send = `
      WITH target AS (
        SELECT id FROM ${t('instances')} WHERE id = $1 AND status = 'active'
      ),
      fresh AS (
        INSERT INTO ${t('dedupe_keys')} (instance_id, key, created_at)
        SELECT id, $3, $4 FROM target WHERE $3::text IS NOT NULL
        ON CONFLICT DO NOTHING
        RETURNING instance_id
      ),
      inserted AS (
        INSERT INTO ${t('events')} (instance_id, event, available_at, created_at)
        SELECT id, $2, $4, $4 FROM target WHERE $3::text IS NULL OR EXISTS (SELECT 1 FROM fresh)
        RETURNING instance_id
      ),
      woken AS (
        UPDATE ${t('instances')} i SET wake_at = LEAST(i.wake_at, $4) FROM inserted WHERE i.id = inserted.instance_id
      )
      SELECT (SELECT count(*) FROM target)::int AS targets, (SELECT count(*) FROM inserted)::int AS inserted`;
    this.#exists = `SELECT 1 FROM ${t('instances')} WHERE id = $1`;
  }

  /** Inserts new instances; returns the ids inserted (an existing id or idempotency key is skipped). */
  async insert(tx: Queryable, rows: NewInstance[], now: Date): Promise<Set<string>> {
    const values = rows.map(({ id, machine, idempotencyKey, outcome, parent }) => ({
      id,
      machine,
      machine_version: outcome.machineVersion,
      snapshot: outcome.snapshot,
      status: outcome.status,
      error: outcome.error,
      invocations: outcome.invocations,
      idempotency_key: idempotencyKey,
      wake_at: outcome.wakeAt,
      parent_id: parent?.id ?? null,
      parent_child_id: parent?.childId ?? null,
    }));
    const { rows: inserted } = await tx.query<{ id: string }>(this.#insert, [JSON.stringify(values), now]);
    return new Set(inserted.map((row) => row.id));
  }

  async findExisting(db: Queryable, id: string, idempotencyKey: string | null): Promise<string | null> {
    const { rows } = await db.query<{ id: string }>(this.#findExisting, [id, idempotencyKey]);
    return rows[0]?.id ?? null;
  }

  async get<TContext>(db: Queryable, id: string): Promise<InstanceState<TContext> | null> {
    const { rows } = await db.query<InstanceRow>(this.#get, [id]);
    return rows[0] ? toInstanceState<TContext>(rows[0]) : null;
  }

  async history(db: Queryable, id: string): Promise<HistoryEntry[]> {
    const { rows } = await db.query<JournalRow>(this.#history, [id]);
    return rows.map((row) => ({ seq: row.seq, event: row.event, from: row.from_value, to: row.to_value, at: new Date(row.at) }));
  }

  /** Commits an event; says whether it landed, was a duplicate, or found no active instance. */
  async send(
    db: Queryable,
    id: string,
    event: AnyEventObject,
    dedupeKey: string | null,
    now: Date,
  ): Promise<'inserted' | 'duplicate' | 'not_active'> {
    const { rows } = await db.query<{ targets: number; inserted: number }>(this.#send, [id, JSON.stringify(event), dedupeKey, now]);
    const row = rows[0]!;
    if (row.inserted === 1) return 'inserted';
    return row.targets === 1 ? 'duplicate' : 'not_active';
  }

  /** The instance id of the live child machine `childId` of `parentId`, or null. */
  async childInstance(db: Queryable, parentId: string, childId: string): Promise<string | null> {
    const { rows } = await db.query<{ marker: string | null }>(this.#child, [parentId, childId]);
    const marker = rows[0]?.marker;
    return marker?.startsWith(CHILD_MARKER) ? marker.slice(CHILD_MARKER.length) : null;
  }

  async exists(db: Queryable, id: string): Promise<boolean> {
    const { rows } = await db.query(this.#exists, [id]);
    return rows.length === 1;
  }
}

export interface NewInstance {
  id: string;
  machine: string;
  idempotencyKey: string | null;
  outcome: StepOutcome;
  /** For a child machine: its parent, and the invocation id the parent knows it by. */
  parent?: Parent | null;
}

/** An instance row as the API shows it. */
export function toInstanceState<TContext>(row: InstanceRow): InstanceState<TContext> {
  return {
    id: row.id,
    machine: row.machine,
    machineVersion: row.machine_version,
    value: row.snapshot.value,
    status: row.status,
    context: row.snapshot.context as TContext,
    version: row.version,
    error: row.error,
    parent: row.parent_id ? { id: row.parent_id, childId: row.parent_child_id ?? '' } : null,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

export interface InstanceRow {
  id: string;
  machine: string;
  machine_version: number;
  snapshot: PersistedSnapshot;
  status: InstanceStatus;
  error: ErrorInfo | null;
  version: number;
  parent_id?: string | null;
  parent_child_id?: string | null;
  created_at: Date | string;
  updated_at: Date | string;
}

interface JournalRow {
  seq: number;
  event: AnyEventObject;
  from_value: StateValue | null;
  to_value: StateValue;
  at: Date | string;
}

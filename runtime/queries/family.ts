import type { Queryable } from '../db/database.js';
import type { NewEvent } from '../plan.js';
import type { SchemaName } from '../schema.js';

/** Events between instances of one tree (parent and children), and stopping a subtree. */
export class FamilyQueries {
  readonly #deliver: string;
  readonly #wake: string;
  readonly #stopTree: string;
  readonly #liveChildren: string;

  constructor(schema: SchemaName) {
    const t = (name: string) => schema.table(name);
    // Only to instances still running: a child's late word to a parent that has finished is dropped,
    // as a send to a finished instance is.
    this.#deliver = `
      INSERT INTO ${t('events')} (instance_id, event, timer_id, source_effect, available_at, created_at)
      SELECT e.target_id, e.event, e.timer_id, e.source_effect, e.available_at, $2
      FROM jsonb_to_recordset($1::jsonb) AS e(target_id uuid, event jsonb, timer_id text, source_effect text, available_at timestamptz)
      JOIN ${t('instances')} i ON i.id = e.target_id AND i.status = 'active'`;
    this.#wake = `
      UPDATE ${t('instances')} i SET wake_at = LEAST(i.wake_at, w.at)
      FROM (SELECT target_id, min(available_at) AS at FROM jsonb_to_recordset($1::jsonb) AS e(target_id uuid, available_at timestamptz) GROUP BY target_id) w
      WHERE i.id = w.target_id AND i.status = 'active'`;
    this.#liveChildren = `
      SELECT id, parent_child_id FROM ${t('instances')} WHERE parent_id = $1 AND status = 'active' ORDER BY id FOR NO KEY UPDATE`;
    // The instances and every descendant still running stop where they are; their queued events
    // and timers go, their effects are cancelled, and each history ends with a docket.stop step.
    this.#stopTree = `
      WITH RECURSIVE tree AS (
        SELECT id FROM ${t('instances')} WHERE id = ANY($1::uuid[])
        UNION
        SELECT c.id FROM ${t('instances')} c JOIN tree ON c.parent_id = tree.id
      ),
      live AS (
        SELECT i.id, i.version, i.snapshot FROM ${t('instances')} i JOIN tree USING (id) WHERE i.status IN ('active', 'error')
      ),
      gone AS (DELETE FROM ${t('events')} e USING live WHERE e.instance_id = live.id),
      journal AS (
        INSERT INTO ${t('journal')} (instance_id, seq, event_type, event, from_value, to_value, at)
        SELECT id, version + 1, 'docket.stop', $3::jsonb, snapshot->'value', snapshot->'value', $2 FROM live
      ),
      stopped AS (
        UPDATE ${t('instances')} i SET status = 'stopped', wake_at = NULL, invocations = '{}', version = i.version + 1, updated_at = $2
        FROM live WHERE i.id = live.id
      )
      UPDATE ${t('effects')} f SET status = 'canceled', due_at = NULL, lease_owner = NULL, updated_at = $2, finished_at = $2
      FROM live WHERE f.instance_id = live.id AND f.status IN ('pending', 'running')
      RETURNING f.idempotency_key`;
  }

  /** Puts events in other instances' inboxes and wakes them. */
  async deliver(tx: Queryable, events: NewEvent[], now: Date): Promise<void> {
    if (events.length === 0) return;
    const rows = JSON.stringify(events.map((e) => ({ ...e, source_effect: e.source_effect ?? null })));
    await tx.query(this.#deliver, [rows, now]);
    await tx.query(this.#wake, [rows]);
  }

  /** The running child instances of `parentId`, locked, with the invocation ids the parent knows them by. */
  async liveChildren(tx: Queryable, parentId: string): Promise<{ id: string; childId: string }[]> {
    const { rows } = await tx.query<{ id: string; parent_child_id: string }>(this.#liveChildren, [parentId]);
    return rows.map((row) => ({ id: row.id, childId: row.parent_child_id }));
  }

  /** Stops instances with all their descendants; returns the keys of effects whose attempts must stop. */
  async stopTree(tx: Queryable, ids: string[], reason: string | null, now: Date): Promise<string[]> {
    if (ids.length === 0) return [];
    const event = JSON.stringify({ type: 'docket.stop', ...(reason ? { reason } : {}) });
    const { rows } = await tx.query<{ idempotency_key: string }>(this.#stopTree, [ids, now, event]);
    return rows.map((row) => row.idempotency_key);
  }
}

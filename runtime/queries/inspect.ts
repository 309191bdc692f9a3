import type { AnyEventObject, StateValue } from 'xstate';
import type { Queryable } from '../db/database.js';
import type { ErrorInfo } from '../errors.js';
import type { SchemaName } from '../schema.js';
import type { InstanceStatus, PersistedSnapshot } from '../types.js';

/** An instance as inspection reads it: its row now, and its journal after a given entry. */
export interface InspectedRow {
  machine: string;
  machineVersion: number;
  snapshot: PersistedSnapshot;
  status: InstanceStatus;
  error: ErrorInfo | null;
  /** The seq of its newest journal entry. */
  version: number;
  /** Journal entries after the one asked for, in order, at most the page asked for. */
  entries: JournalEntry[];
}

export interface JournalEntry {
  seq: number;
  event: AnyEventObject;
  to: StateValue;
}

/** Reading instances and their journals for the inspector (runtime/inspect.ts). */
export class InspectQueries {
  readonly #read: string;

  constructor(schema: SchemaName) {
    const t = (name: string) => schema.table(name);
    // One statement, so the row and the entries are of one moment: the entry whose seq is the row's
    // version is the step that wrote the row's snapshot.
    this.#read = `
      SELECT i.machine, i.machine_version, i.snapshot, i.status, i.error, i.version,
        coalesce((SELECT json_agg(j ORDER BY j.seq) FROM (
          SELECT seq, event, to_value FROM ${t('journal')} WHERE instance_id = i.id AND seq > $2 ORDER BY seq LIMIT $3
        ) j), '[]'::json) AS entries
      FROM ${t('instances')} i WHERE i.id = $1`;
  }

  /** The instance and up to `limit` of its journal entries after seq `after`; null when there is no such instance. */
  async read(db: Queryable, id: string, after: number, limit: number): Promise<InspectedRow | null> {
    const { rows } = await db.query<Row>(this.#read, [id, after, limit]);
    const row = rows[0];
    if (!row) return null;
    return {
      machine: row.machine,
      machineVersion: row.machine_version,
      snapshot: row.snapshot,
      status: row.status,
      error: row.error,
      version: row.version,
      entries: row.entries.map((entry) => ({ seq: entry.seq, event: entry.event, to: entry.to_value })),
    };
  }
}

interface Row {
  machine: string;
  machine_version: number;
  snapshot: PersistedSnapshot;
  status: InstanceStatus;
  error: ErrorInfo | null;
  version: number;
  entries: { seq: number; event: AnyEventObject; to_value: StateValue }[];
}

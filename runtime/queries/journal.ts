import type { AnyEventObject, StateValue } from 'xstate';
import type { Queryable } from '../db/database.js';
import type { SchemaName } from '../schema.js';
import type { HistoryEntry, InstanceStatus } from '../types.js';

/** An instance's journal with the facts replay compares against, read in one statement. */
export interface RecordedInstance {
  id: string;
  machine: string;
  machineVersion: number;
  status: InstanceStatus;
  /**
   * XState's status of the stored snapshot: what the last step of the machine left. It differs from
   * `status` when the engine parked the instance (`error`, snapshot `active`) or an operator stopped it.
   */
  snapshotStatus: InstanceStatus;
  entries: HistoryEntry[];
}

interface Row {
  id: string;
  machine: string;
  machine_version: number;
  status: InstanceStatus;
  snapshot_status: InstanceStatus;
  seq: number;
  event: AnyEventObject;
  from_value: StateValue | null;
  to_value: StateValue;
  at: Date | string;
}

/** Reading journals for replay: several instances at once, each consistent with its instance row. */
export class JournalQueries {
  readonly #read: string;

  constructor(schema: SchemaName) {
    const t = (name: string) => schema.table(name);
    // One statement, so a step committing meanwhile is either wholly in (its journal row and the
    // snapshot status it left) or wholly out. Ids travel as a JSON array: one form for pg and PGlite.
    this.#read = `
      SELECT i.id, i.machine, i.machine_version, i.status, i.snapshot->>'status' AS snapshot_status,
        j.seq, j.event, j.from_value, j.to_value, j.at
      FROM ${t('instances')} i JOIN ${t('journal')} j ON j.instance_id = i.id
      WHERE i.id IN (SELECT value::uuid FROM jsonb_array_elements_text($1::jsonb))
      ORDER BY i.id, j.seq`;
  }

  /** The journals of `ids`, by id; an id with no instance is absent from the map. */
  async read(db: Queryable, ids: readonly string[]): Promise<Map<string, RecordedInstance>> {
    const found = new Map<string, RecordedInstance>();
    if (ids.length === 0) return found;
    const { rows } = await db.query<Row>(this.#read, [JSON.stringify(ids)]);
    for (const row of rows) {
      let instance = found.get(row.id);
      if (!instance) {
        instance = {
          id: row.id,
          machine: row.machine,
          machineVersion: row.machine_version,
          status: row.status,
          snapshotStatus: row.snapshot_status,
          entries: [],
        };
        found.set(row.id, instance);
      }
      instance.entries.push({ seq: row.seq, event: row.event, from: row.from_value, to: row.to_value, at: new Date(row.at) });
    }
    return found;
  }
}

import { randomBytes } from 'node:crypto';
import type { TestDatabase } from './db.js';

export interface Fault {
  /** Table in the test's schema whose statements fail. */
  table: string;
  on: 'INSERT' | 'UPDATE' | 'DELETE';
  /** The SQLSTATE raised (40001 serialization_failure, 57014 query_canceled, 53100 disk_full …), or `terminate` to kill the connection. */
  error: string;
  /** How many statements fail before the table works again. */
  times: number;
}

/**
 * Makes the database itself fail, on both back ends: a statement trigger raises a real error with
 * the given SQLSTATE for the first `times` statements on `table`. The count lives in a sequence,
 * which a rollback does not undo, so the fault passes after `times` whatever the transactions do.
 * `terminate` makes the backend end its own connection (57P01), as a server restart does.
 */
export async function injectFault(db: TestDatabase, fault: Fault): Promise<{ fired(): Promise<number>; remove(): Promise<void> }> {
  const name = `fault_${randomBytes(4).toString('hex')}`;
  const s = `"${db.schema}"`;
  const act = fault.error === 'terminate' ? 'PERFORM pg_terminate_backend(pg_backend_pid());' : `RAISE EXCEPTION 'injected fault' USING ERRCODE = '${fault.error}';`;
  await db.query(`CREATE SEQUENCE ${s}.${name}`);
  await db.query(`
    CREATE FUNCTION ${s}.${name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF nextval('${s}.${name}') <= ${fault.times} THEN ${act} END IF;
      RETURN NULL;
    END $$`);
  await db.query(`CREATE TRIGGER ${name} AFTER ${fault.on} ON ${s}.${fault.table} FOR EACH STATEMENT EXECUTE FUNCTION ${s}.${name}()`);
  return {
    async fired() {
      const [row] = await db.query<{ last_value: string; is_called: boolean }>(`SELECT last_value, is_called FROM ${s}.${name}`);
      return row!.is_called ? Math.min(Number(row!.last_value), fault.times) : 0;
    },
    async remove() {
      await db.query(`DROP TRIGGER ${name} ON ${s}.${fault.table}`);
    },
  };
}

import pg from 'pg';
import pino from 'pino';
import { createMachine, type AnyStateMachine } from 'xstate';
import { createRuntime } from '../index.js';

/** An instance that waits for GO, then ends: what a job waiting on a webhook or a person looks like. */
export const waiterMachine = createMachine({ id: 'waiter', initial: 'waiting', states: { waiting: { on: { GO: 'done' } }, done: { type: 'final' } } }) as unknown as AnyStateMachine;

/**
 * Fills `schema` with `count` waiting instances: one started through the engine, the rest copied
 * from its row by one INSERT … SELECT, since a million starts through the API would take the whole
 * bench's budget. Returns the ids of the first `keep` of them.
 */
export async function seedWaiting(url: string, schema: string, count: number, keep = 0): Promise<string[]> {
  const rt = await createRuntime({ database: url, schema, machines: { waiter: waiterMachine }, logger: pino({ level: 'warn' }), worker: false });
  const template = await rt.start('waiter');
  await rt.close();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const s = `"${schema.replaceAll('"', '')}"`;
    await client.query(
      `INSERT INTO ${s}.instances (id, machine, machine_version, snapshot, status, version, invocations, created_at, updated_at)
       SELECT gen_random_uuid(), machine, machine_version, snapshot, status, version, invocations, now(), now()
       FROM ${s}.instances, generate_series(2, $2::int) WHERE id = $1`,
      [template, count],
    );
    await client.query(`ANALYZE ${s}.instances`);
    const { rows } = await client.query<{ id: string }>(`SELECT id FROM ${s}.instances WHERE machine = 'waiter' LIMIT $1`, [keep]);
    return rows.map((r) => r.id);
  } finally {
    await client.end();
  }
}

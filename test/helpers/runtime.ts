import type { ExecutionContext } from 'ava';
import { createRuntime } from '../../runtime/runtime.js';
import type { Runtime, RuntimeOptions } from '../../runtime/types.js';
import { silent, testDatabase, type TestDatabase } from './db.js';

export interface Harness {
  db: TestDatabase;
  /** Creates a runtime on the test's database; it is closed when the test ends. */
  runtime(options: Omit<RuntimeOptions, 'database' | 'schema'> & Partial<Pick<RuntimeOptions, 'schema'>>): Promise<Runtime>;
}

/** Gives a test its own database and closes every runtime it made, pass or fail. */
export async function harness(t: ExecutionContext): Promise<Harness> {
  const db = await testDatabase();
  const runtimes: Runtime[] = [];
  /** Schemas a runtime was given besides the test's own: dropped with it, once every runtime has closed. */
  const others = new Set<string>();
  t.teardown(async () => {
    for (const rt of runtimes) await rt.close();
    for (const schema of others) await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await db.close();
  });
  return {
    db,
    async runtime(options) {
      const rt = await createRuntime({
        logger: silent,
        pollIntervalMs: 1_000,
        // Ten (the default) a runtime, times a file's tests running at once, times two files, ran the
        // shared PostgreSQL out of connections (53300); so did four, when effects and database-faults
        // ran side by side (100 at peak; 81 with three). A test that needs more says so.
        maxConnections: 3,
        ...options,
        database: db.database,
        schema: options.schema ?? db.schema,
      });
      runtimes.push(rt);
      if (options.schema && options.schema !== db.schema) others.add(options.schema);
      return rt;
    },
  };
}

/** Resolves when `check` returns true, polling every few milliseconds; fails after `timeoutMs`. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

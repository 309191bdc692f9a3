import type { Database } from './db/database.js';
import type { Registry } from './registry.js';
import type { SchemaName } from './schema.js';
import type { Runtime } from './types.js';

/**
 * What the engine's own library functions beside a runtime (`replay`, `checkDeploy`) read from it:
 * its database, schema and registered machines. A WeakMap rather than more members on `Runtime`, so
 * the public interface stays what callers use, and a closed, dropped runtime is collected.
 */
export interface RuntimeInternals {
  db: Database;
  schema: SchemaName;
  registry: Registry;
  /** Throws RuntimeClosedError once the runtime is closed. */
  assertOpen(): void;
}

export const runtimeInternals = new WeakMap<Runtime, RuntimeInternals>();

/** The internals of a runtime made by `createRuntime`; a TypeError for anything else. */
export function internalsOf(runtime: Runtime): RuntimeInternals {
  const found = runtimeInternals.get(runtime);
  if (!found) throw new TypeError('expected a runtime made by createRuntime()');
  found.assertOpen();
  return found;
}

/**
 * docket: durable XState v5 machines on Postgres.
 *
 *   import { createRuntime } from 'docket';
 */
export { createRuntime } from './runtime/runtime.js';
export { durable } from './runtime/durable.js';
export { ManualClock, systemClock, type Clock } from './runtime/clock.js';
export {
  ConfigError,
  DatabaseUnavailableError,
  DocketError,
  InstanceNotFoundError,
  PermanentError,
  RuntimeClosedError,
  TransientError,
  WaitTimeoutError,
  isTransient,
  type ErrorInfo,
} from './runtime/errors.js';
export type { Database, Queryable, Transaction } from './runtime/db/database.js';
export { isDatabaseUnavailable, isTransientDatabaseError } from './runtime/db/errors.js';
export { SchemaTooNewError } from './runtime/migrate.js';
export { PgliteDatabase } from './runtime/db/pglite.js';
export { PgDatabase } from './runtime/db/pg.js';
export type * from './runtime/types.js';

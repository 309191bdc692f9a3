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
  InstanceStateError,
  PermanentError,
  RuntimeClosedError,
  TransientError,
  WaitTimeoutError,
  isTransient,
  retryAfterOf,
  type ErrorInfo,
  type ServiceFailure,
} from './runtime/errors.js';
export type { Database, Queryable, Transaction } from './runtime/db/database.js';
export { isDatabaseUnavailable, isTransientDatabaseError } from './runtime/db/errors.js';
export { loadMigrations, migrate, SchemaTooNewError, type Migration } from './runtime/migrate.js';
export { openDatabase, type OpenOptions } from './runtime/db/open.js';
export { SchemaName } from './runtime/schema.js';
export { PgliteDatabase } from './runtime/db/pglite.js';
export { PgDatabase } from './runtime/db/pg.js';
export {
  checkDeploy,
  formatStateValue,
  IN_FLIGHT_STATUSES,
  replay,
  replayJournal,
  type CheckDeployOptions,
  type DeployCheck,
  type DivergenceReason,
  type DivergingInstance,
  type ReplayOptions,
  type ReplayResult,
  type ReplayStep,
  type StepDivergence,
} from './runtime/replay.js';
export type { RecordedInstance } from './runtime/queries/journal.js';
export type * from './runtime/types.js';

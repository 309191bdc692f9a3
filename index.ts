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
export type { Database, Queryable, QueryResult, Transaction } from './runtime/db/database.js';
export type { HeartbeatOptions, LeaseKeeper } from './runtime/lease-keeper.js';
export { isDatabaseUnavailable, isTransientDatabaseError } from './runtime/db/errors.js';
export { loadMigrations, migrate, parseMigrations, SchemaTooNewError, type Migration } from './runtime/migrate.js';
export { openDatabase, type OpenOptions } from './runtime/db/open.js';
export { SchemaName } from './runtime/schema.js';
// The stores are subpaths of their own ('docket/pglite', 'docket/pg'), so that neither `pg` nor
// PGlite is loaded, or bundled, unless it is used.
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

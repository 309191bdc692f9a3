/**
 * docket/testing: model-based tests of XState machines on the durable runtime.
 *
 *   import { testMachine } from 'docket/testing';
 *
 * Paths come from the machine with xstate/graph; each runs on a real runtime (PGlite or
 * PostgreSQL) with a manual clock and injected service outcomes, and is checked step by step
 * against the pure machine. Plain functions: call them from any test framework.
 */
export { modelPaths, testMachine } from './run.js';
export { CoverageError } from './coverage.js';
export { ModelPathError } from './driver.js';
export type * from './types.js';

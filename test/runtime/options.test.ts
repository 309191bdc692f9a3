import test from 'ava';
import pino from 'pino';
import { ManualClock } from '../../runtime/clock.js';
import { ConfigError } from '../../runtime/errors.js';
import { parseTuning } from '../../runtime/options.js';
import { createRuntime } from '../../runtime/runtime.js';
import type { RuntimeOptions } from '../../runtime/types.js';
import { recorder } from '../helpers/machines.js';

const machines = { recorder };

test('an unknown option is a ConfigError naming it, never silently ignored', async (t) => {
  // A misspelt `inspect` used to be dropped without a word, and the inspector saw nothing.
  const error = await t.throwsAsync(createRuntime({ machines, database: 'memory', inpsect: () => {} } as RuntimeOptions), { instanceOf: ConfigError });
  t.is(error!.message, 'invalid runtime options: unknown option "inpsect"');
  t.throws(() => parseTuning({ machines, pollInterval: 10, lease: 5 } as RuntimeOptions), {
    instanceOf: ConfigError,
    message: 'invalid runtime options: unknown options "pollInterval", "lease"',
  });
  t.throws(() => parseTuning({ machines, retry: { maxAttempts: 2, retries: 3 } } as RuntimeOptions), {
    instanceOf: ConfigError,
    message: /unknown option "retry\.retries"/,
  });
});

test('every documented option is accepted, and the ones passed on are checked for their shape', (t) => {
  const all: Required<RuntimeOptions> = {
    database: 'memory',
    machines,
    services: { work: async () => null },
    onEmit: () => {},
    logger: pino({ level: 'silent' }),
    clock: new ManualClock(),
    workerId: 'w1',
    schema: 'docket',
    worker: false,
    stepConcurrency: 1,
    effectConcurrency: 1,
    stepBatchSize: 1,
    claimBatchSize: 1,
    snapshotCache: 0,
    leaseMs: 1000,
    pollIntervalMs: 1000,
    retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1, factor: 1 },
    maxConnections: 1,
    maxStepFailures: 1,
    shutdownGraceMs: 0,
    inspect: () => {},
  };
  t.like(parseTuning(all), { workerId: 'w1', worker: false, leaseMs: 1000 });
  t.notThrows(() => parseTuning({ machines, inspect: { next: () => {} } }));
  t.notThrows(() => parseTuning({ machines, inspect: { inspect: { next: () => {} } } }));
  t.notThrows(() => parseTuning({ machines, logger: undefined, workerId: undefined }), 'an explicit undefined is an absent option');
  for (const [field, value] of [
    ['inspect', 42],
    ['onEmit', 'yes'],
    ['clock', {}],
    ['logger', console],
    ['database', 42],
  ] as const) {
    t.throws(() => parseTuning({ machines, [field]: value } as unknown as RuntimeOptions), { instanceOf: ConfigError, message: new RegExp(`^invalid runtime options: ${field}: expected`) });
  }
  t.throws(() => parseTuning({} as RuntimeOptions), { instanceOf: ConfigError, message: /machines: / });
});

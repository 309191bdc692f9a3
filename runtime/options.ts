import { z } from 'zod';
import { ConfigError } from './errors.js';
import type { RuntimeOptions } from './types.js';

const positiveInt = z.number().int().positive();
const fn = z.custom<(...args: never[]) => unknown>((value) => typeof value === 'function', { message: 'expected a function' });
const isObject = (value: unknown, check: (value: Record<string, unknown>) => boolean) =>
  typeof value === 'object' && value !== null && check(value as Record<string, unknown>);
const isInspector = (value: unknown) => typeof value === 'function' || isObject(value, (v) => typeof v.next === 'function');
const objectWith = (what: string, check: (value: Record<string, unknown>) => boolean) =>
  z.custom<object>((value) => isObject(value, check), { message: `expected ${what}` });

/** The numeric knobs of createRuntime, checked at the edge with every bad field named. */
const tuning = z.object({
  schema: z.string().default('docket'),
  worker: z.boolean().default(true),
  stepConcurrency: positiveInt.default(2),
  effectConcurrency: positiveInt.default(32),
  stepBatchSize: positiveInt.max(1000).default(50),
  claimBatchSize: positiveInt.max(1000).default(20),
  snapshotCache: z.number().int().nonnegative().max(1_000_000).default(1000),
  leaseMs: positiveInt.min(100).default(10_000),
  pollIntervalMs: positiveInt.min(10).default(5_000),
  maxConnections: positiveInt.default(10),
  maxStepFailures: positiveInt.default(5),
  shutdownGraceMs: z.number().int().nonnegative().default(5_000),
  workerId: z.string().min(1).max(200).optional(),
  retry: z
    .strictObject({
      maxAttempts: positiveInt.optional(),
      baseDelayMs: z.number().nonnegative().optional(),
      maxDelayMs: z.number().nonnegative().optional(),
      factor: z.number().min(1).optional(),
    })
    .optional(),
});

/**
 * Every option createRuntime knows, and nothing else: a misspelt or unsupported key (`inpsect`,
 * `pollInterval`) is a ConfigError naming it rather than a setting silently ignored. The objects
 * the runtime only passes on are checked for their shape; the registry checks machines and services.
 */
const options = tuning.extend({
  database: z
    .custom<object>((value) => (typeof value === 'string' && value.length > 0) || isObject(value, (db) => typeof db.query === 'function' && typeof db.transaction === 'function'), {
      message: 'expected a postgres:// URL, pglite:<dir>, memory, or an open Database',
    })
    .optional(),
  machines: z.record(z.string(), z.unknown()),
  services: z.record(z.string(), z.unknown()).optional(),
  onEmit: fn.optional(),
  logger: objectWith('a pino logger', (logger) => typeof logger.child === 'function').optional(),
  clock: objectWith('a clock with now()', (clock) => typeof clock.now === 'function').optional(),
  inspect: z
    .custom<object>((value) => typeof value === 'function' || isObject(value, (v) => typeof v.next === 'function' || isInspector(v.inspect)), {
      message: 'expected a function, an observer (with next) or an inspector (with inspect)',
    })
    .optional(),
}).strict();

export type Tuning = z.infer<typeof tuning> & { workerId: string };

export function parseTuning(given: RuntimeOptions): Tuning {
  const parsed = options.safeParse(given);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) =>
      issue.code === 'unrecognized_keys'
        ? `${issue.keys.length > 1 ? 'unknown options' : 'unknown option'} ${issue.keys.map((key) => `"${[...issue.path, key].join('.')}"`).join(', ')}`
        : `${issue.path.join('.') || '(options)'}: ${issue.message}`,
    );
    throw new ConfigError(`invalid runtime options: ${fields.join('; ')}`);
  }
  const { database: _d, machines: _m, services: _s, onEmit: _e, logger: _l, clock: _c, inspect: _i, ...knobs } = parsed.data;
  return { ...knobs, workerId: knobs.workerId ?? defaultWorkerId() };
}

/**
 * `host-pid-random` on a server runtime, `browser-random` in a tab: web APIs only, so that the
 * engine loads where `node:os` does not exist.
 */
function defaultWorkerId(): string {
  const random = Array.from(crypto.getRandomValues(new Uint8Array(3)), (byte) => byte.toString(16).padStart(2, '0')).join('');
  const proc = (globalThis as { process?: { pid?: number; getBuiltinModule?: (id: string) => unknown } }).process;
  const os = proc?.getBuiltinModule?.('node:os') as { hostname(): string } | undefined;
  return os && proc?.pid !== undefined ? `${os.hostname()}-${proc.pid}-${random}` : `browser-${random}`;
}

import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import type { RuntimeOptions } from './types.js';

const positiveInt = z.number().int().positive();

/** The numeric knobs of createRuntime, checked at the edge with every bad field named. */
const tuning = z.object({
  schema: z.string().default('docket'),
  worker: z.boolean().default(true),
  stepConcurrency: positiveInt.default(2),
  effectConcurrency: positiveInt.default(32),
  stepBatchSize: positiveInt.max(1000).default(50),
  claimBatchSize: positiveInt.max(1000).default(20),
  leaseMs: positiveInt.min(100).default(10_000),
  pollIntervalMs: positiveInt.min(10).default(5_000),
  maxConnections: positiveInt.default(10),
  maxStepFailures: positiveInt.default(5),
  shutdownGraceMs: z.number().int().nonnegative().default(5_000),
  workerId: z.string().min(1).max(200).optional(),
  retry: z
    .object({
      maxAttempts: positiveInt.optional(),
      baseDelayMs: z.number().nonnegative().optional(),
      maxDelayMs: z.number().nonnegative().optional(),
      factor: z.number().min(1).optional(),
    })
    .optional(),
});

export type Tuning = z.infer<typeof tuning> & { workerId: string };

export function parseTuning(options: RuntimeOptions): Tuning {
  const { database: _d, machines: _m, services: _s, onEmit: _e, logger: _l, clock: _c, ...rest } = options;
  const parsed = tuning.safeParse(rest);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(options)'}: ${issue.message}`);
    throw new ConfigError(`invalid runtime options: ${fields.join('; ')}`);
  }
  return { ...parsed.data, workerId: parsed.data.workerId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}` };
}

import type { RetryPolicy } from './types.js';

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 1_000, maxDelayMs: 60_000, factor: 2 };

/**
 * Delay before the attempt after `attempt` (1-based) failed: exponential with "equal jitter"
 * (half fixed, half random), so retries of many effects spread out but never come early. A
 * Retry-After from the service is a floor.
 */
export function retryDelayMs(policy: RetryPolicy, attempt: number, retryAfterMs?: number, random: () => number = Math.random): number {
  const exponential = Math.min(policy.baseDelayMs * policy.factor ** (attempt - 1), policy.maxDelayMs);
  const jittered = exponential / 2 + random() * (exponential / 2);
  return Math.round(Math.max(jittered, retryAfterMs ?? 0));
}

import test from 'ava';
import { DEFAULT_RETRY, retryDelayMs } from '../../runtime/retry.js';

test('backoff doubles from the base, jittered within its upper half, capped', (t) => {
  const policy = { ...DEFAULT_RETRY, baseDelayMs: 1_000, maxDelayMs: 10_000 };
  t.is(retryDelayMs(policy, 1, undefined, () => 0), 500);
  t.is(retryDelayMs(policy, 1, undefined, () => 1), 1_000);
  t.is(retryDelayMs(policy, 3, undefined, () => 1), 4_000);
  t.is(retryDelayMs(policy, 10, undefined, () => 1), 10_000, 'capped');
  t.is(retryDelayMs(policy, 10, undefined, () => 0), 5_000);
});

test('Retry-After is a floor, even past the cap', (t) => {
  const policy = { ...DEFAULT_RETRY, baseDelayMs: 1_000, maxDelayMs: 10_000 };
  t.is(retryDelayMs(policy, 1, 30_000, () => 1), 30_000);
  t.is(retryDelayMs(policy, 5, 100, () => 1), 10_000, 'a short Retry-After does not shorten the backoff');
});

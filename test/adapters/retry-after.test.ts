import test from 'ava';
import { retryAfterMs } from '../../adapters/retry-after.js';

const now = Date.UTC(2026, 10, 29, 12, 0, 0);

test('Retry-After in every form a vendor sends it', (t) => {
  t.is(retryAfterMs(new Headers({ 'retry-after': '3' }), now), 3000);
  t.is(retryAfterMs(new Headers({ 'retry-after': '0.5' }), now), 500);
  t.is(retryAfterMs(new Headers({ 'retry-after-ms': '1234', 'retry-after': '9' }), now), 1234, "OpenAI's milliseconds win");
  t.is(retryAfterMs(new Headers({ 'retry-after': 'Sun, 29 Nov 2026 12:00:07 GMT' }), now), 7000, 'an HTTP date');
  t.is(retryAfterMs(new Headers({ 'retry-after': 'Sun, 29 Nov 2026 11:59:00 GMT' }), now), 0, 'a date in the past: at once');
  t.is(retryAfterMs({ 'retry-after': '2' }, now), 2000, 'a plain object of headers');
  t.is(retryAfterMs({ 'retry-after': ['4'] }, now), 4000);
});

test('nothing usable is undefined, never NaN', (t) => {
  t.is(retryAfterMs(new Headers(), now), undefined);
  t.is(retryAfterMs(undefined, now), undefined);
  t.is(retryAfterMs(new Headers({ 'retry-after': 'soon' }), now), undefined);
  t.is(retryAfterMs(new Headers({ 'retry-after': '-5' }), now), undefined);
  t.is(retryAfterMs(new Headers({ 'retry-after-ms': 'x', 'retry-after': '1' }), now), 1000, 'a bad retry-after-ms falls back');
});

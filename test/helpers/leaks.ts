import test from 'ava';
import { openRuntimes } from '../../runtime/open-runtimes.js';

/** Registers a check that fails the file when a runtime it started is still open at the end. */
export function failOnLeakedRuntimes(): void {
  test.after.always('no runtime left running', (t) => {
    t.is(openRuntimes.size, 0, `runtimes left open: ${[...openRuntimes].map((r) => r.workerId).join(', ')}`);
  });
}

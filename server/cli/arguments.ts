/** The CLI's option values, checked as commander reads them (before any command module loads). */
import { InvalidArgumentError } from 'commander';
import { SEARCH_LIMITS } from '../search-limits.js';

/** `--processes <n>`: a whole number from 1 to 256. */
export function parseProcesses(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new InvalidArgumentError('a whole number from 1 to 256');
  return n;
}

/** `--k <n>`: an integer from 1 to SEARCH_LIMITS.maxK. */
export function parseK(value: string): number {
  const k = Number(value);
  if (!Number.isInteger(k) || k < 1 || k > SEARCH_LIMITS.maxK) throw new InvalidArgumentError(`k is a whole number from 1 to ${SEARCH_LIMITS.maxK}`);
  return k;
}

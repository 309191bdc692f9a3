/**
 * Runtimes created and not yet closed in this process. Tests assert it is empty at the end, so a
 * runtime left running (and its loops) fails the suite instead of hanging it.
 */
export const openRuntimes = new Set<{ workerId: string }>();

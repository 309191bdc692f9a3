import { fileURLToPath } from 'node:url';

/**
 * Whether this suite runs compiled (`npm test` compiles it into .test-build/ once, see
 * scripts/build-tests.mjs) or from its TypeScript sources under tsx (`npx ava test/x.test.ts`).
 */
export const compiled = import.meta.url.includes('/.test-build/');

/** The repository's root, wherever this file runs from. */
const root = new URL(compiled ? '../../../' : '../../', import.meta.url);

/** A file of the repository (not of the compiled tree): `inRepo('bin/docket.js')`. */
export function inRepo(path: string): string {
  return fileURLToPath(new URL(path, root));
}

/**
 * How to start a test program (a .ts file under test/, given from the repository root without its
 * extension) as a process of its own: its compiled .js with plain Node when the suite runs compiled,
 * otherwise its source under tsx.
 */
export function testProgram(path: string): { script: string; execArgv: string[] } {
  return compiled
    ? { script: fileURLToPath(new URL(`${path}.js`, new URL('../../', import.meta.url))), execArgv: [] }
    : { script: inRepo(`${path}.ts`), execArgv: ['--import', 'tsx'] };
}

#!/usr/bin/env node
// Compiles the suite and the code it tests into .test-build/ with esbuild, once, so that each of the
// ~250 test processes of `npm test` (and every child a test forks) loads plain JavaScript instead of
// starting tsx: tsx's loader thread and transforms cost each process about a second of CPU, a
// fifth of the whole suite's. Imports stay as written (no bundling), so every module keeps its own
// file and the tests see the same module graph as under tsx; inline source maps point failures at
// the .ts lines. `npx ava test/x.test.ts` still runs one file from its sources under tsx.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const OUT = '.test-build';
// The folders the tests import from; bench/ and examples/ are run, not imported.
const FOLDERS = ['machines', 'runtime', 'adapters', 'pipeline', 'server', 'testing', 'scripts', 'test'];

// The files that take longest (seconds of wall time in a pass, measured on 2 cores), started first:
// in name order the longest came last and ran alone at the end of a pass, its other slots idle
// (pipeline-idempotence: its last 60 s). Everything else follows in name order.
const LONGEST_FIRST = [
  'server/pipeline-idempotence', // 62
  'package/tarball', // 50
  'chaos/chaos', // 49 (PostgreSQL pass)
  'server/budgets', // 48
  'server/dashboard', // 42 (PostgreSQL pass)
  'server/providers', // 32 (PostgreSQL pass)
  'server/pipeline', // 32
  'server/search', // 29
  'package/browser', // 28
  'server/api', // 28
  'server/cli', // 28
  'adapters/workers', // 27
  'server/hostile', // 23 (PostgreSQL pass)
  'server/database-restart', // 23 (PostgreSQL pass)
  'server/control', // 23
  'server/events', // 22
  'server/fuzz-uploads', // 19 (PostgreSQL pass)
  'server/fleet', // 18 (PostgreSQL pass)
  'machines/upload-model', // 17
  'server/metrics', // 17
  'server/replay-cli', // 16 (PostgreSQL pass)
];

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return filesUnder(path);
    return [path];
  });
}

export async function buildTests() {
  rmSync(OUT, { recursive: true, force: true });
  const files = ['index.ts', ...FOLDERS.flatMap((folder) => filesUnder(folder))];
  const sources = files.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'));
  await build({
    entryPoints: sources,
    outdir: OUT,
    outbase: '.',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'inline',
    logLevel: 'warning',
  });
  // Everything else beside the sources (.mjs helpers, SQL) is used as it is.
  for (const file of files.filter((file) => !sources.includes(file))) {
    mkdirSync(dirname(join(OUT, file)), { recursive: true });
    copyFileSync(file, join(OUT, file));
  }
  // The package as the compiled tree sees it: ES modules, the same version (`docket --version`), and
  // its own name resolving to the compiled sources, as tsconfig's paths make it resolve to the .ts.
  const { name, version, ava } = JSON.parse(readFileSync('package.json', 'utf8'));
  const exports = { '.': './index.js', './pglite': './runtime/db/pglite.js', './pg': './runtime/db/pg.js', './testing': './testing/index.js' };
  writeFileSync(join(OUT, 'package.json'), `${JSON.stringify({ name, version, private: true, type: 'module', exports }, null, 2)}\n`);
  // --liftoff-only: V8 compiles PGlite's WASM with its baseline compiler alone. A test process lives
  // seconds, too short for the optimizing tier to pay back its compiles on two cores: a process that
  // loads PGlite and runs 20 instances took 2.6 s of CPU instead of 6.5 (300 instances: 7.4 s, not 12.6).
  const config = { ...ava, files: [`${OUT}/test/**/*.test.js`], extensions: ['js'], nodeArguments: ['--enable-source-maps', '--liftoff-only'] };
  const rank = `(file) => { const i = ${JSON.stringify(LONGEST_FIRST)}.findIndex((name) => file.endsWith(\`/test/\${name}.test.js\`)); return i === -1 ? Infinity : i; }`;
  writeFileSync(
    join(OUT, 'ava.config.mjs'),
    `const rank = ${rank};\nexport default {\n  ...${JSON.stringify(config, null, 2)},\n  sortTestFiles: (a, b) => rank(a) - rank(b) || a.localeCompare(b),\n};\n`,
  );
  return { out: OUT, files: sources.length };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const started = Date.now();
  const { out, files } = await buildTests();
  process.stdout.write(`compiled ${files} files into ${out}/ in ${Date.now() - started} ms\n`);
}

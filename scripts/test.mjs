#!/usr/bin/env node
// The one test command: house-rule lint, the build, typecheck, then the suite on PGlite and on PostgreSQL.
// `--full` (npm run test:full) runs every database test on both back ends; see SURFACE below.
// PostgreSQL comes from DATABASE_URL, or postgres://postgres@127.0.0.1:5432/docket_test (created if
// missing). Without a reachable server the PostgreSQL run is skipped locally and fails under CI.
// The corpus tier (real-world documents in ../shared/corpus, test/helpers/corpus.ts) runs when the
// folder is there; without it the tests are skipped and this script names them once, in one line.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import pg from 'pg';
import { buildTests } from './build-tests.mjs';

const totals = { passed: 0, failed: 0, skipped: 0 };
// What failed, by pass, repeated at the very end with ava's account of why: CI keeps only the tail of a long log.
const failures = [];
const accounts = [];

function run(label, command, args, env = {}) {
  process.stdout.write(`\n=== ${label}\n`);
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      process.stdout.write(chunk);
    });
    // 'close', not 'exit': the last of its output may still be in the pipe when it exits.
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

function count(label, out) {
  // ava prints "N tests passed" only when nothing failed: count the passes line by line instead.
  totals.passed += (out.match(/^\s+✔ /gm) ?? []).length;
  for (const [line] of out.matchAll(/^\s+✘ .*$|^\s*Uncaught exception in .*$|^\s*Unhandled rejection in .*$|^\s*◌ .*$/gm)) failures.push(`${label}: ${line.trim()}`);
  // ava writes each failure's assertion, diff and stack between a `─` rule and its totals.
  const account = /^\s*─\s*$([\s\S]*?)^\s*\d+ (?:tests? failed|uncaught exceptions?|tests? remained pending|known failures?|tests? passed)/m.exec(out);
  if (account && account[1].trim() !== '') {
    const lines = account[1].split('\n');
    const kept = lines.length > 120 ? [...lines.slice(0, 120), `  … ${lines.length - 120} more lines above, in the ${label} pass`] : lines;
    accounts.push(`--- ${label}: why\n${kept.join('\n').trim()}`);
  }
  for (const [key, pattern] of [
    ['failed', /(\d+) tests? failed/],
    ['failed', /(\d+) uncaught exceptions?/],
    ['failed', /(\d+) tests? remained pending/],
    ['skipped', /(\d+) tests? skipped/],
  ]) {
    const match = pattern.exec(out);
    if (match) totals[key] += Number(match[1]);
  }
}

async function postgresUrl() {
  const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/docket_test';
  const target = new URL(url);
  const database = target.pathname.slice(1);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (rowCount === 0) await client.query(`CREATE DATABASE "${database.replaceAll('"', '')}"`);
    return url;
  } catch (error) {
    return { error };
  } finally {
    await client.end().catch(() => {});
  }
}

/** The corpus-tier tests, named as ava names them (`server › api › title`), read from the test sources. */
function corpusTests(dir = 'test') {
  const names = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) names.push(...corpusTests(path));
    else if (entry.name.endsWith('.test.ts')) {
      const file = relative('test', path).replace(/\.test\.ts$/, '').split('/').join(' › ');
      for (const [, , title] of readFileSync(path, 'utf8').matchAll(/\b\w*[cC]orpus(?:Test|Serial)\(\s*(['"`])((?:\\.|(?!\1).)*)\1/g)) names.push(`${file} › ${title}`);
    }
  }
  return names;
}

let failed = false;
for (const [label, command, args] of [
  ['lint (house rules)', 'node', ['scripts/lint.mjs']],
  // The CLI the tests spawn, and the package the tarball test packs, are the build.
  ['build (npm run build)', 'npm', ['run', 'build', '--silent']],
  ['typecheck (tsc --noEmit)', 'npx', ['tsc', '--noEmit', '-p', '.']],
]) {
  const { code } = await run(label, command, args);
  if (code !== 0) failed = true;
}

// The suite runs compiled (scripts/build-tests.mjs): globs below name the sources, ava gets their twins.
process.stdout.write('\n=== compile the suite (scripts/build-tests.mjs)\n');
const compiled = await buildTests();
const ava = (globs) => [
  'ava',
  '--config',
  `${compiled.out}/ava.config.mjs`,
  ...globs.map((glob) => glob.replace(/^(!?)/, `$1${compiled.out}/`).replace(/\.ts$/, '.js')),
];

// Tests that touch no database (adapters, pure machine logic, the diagrams, the chaos checkers) run
// once, in the PGlite pass; the PostgreSQL pass runs every test that does.
const BACKEND_FREE = [
  'test/adapters/**',
  'test/machines/diagrams*.test.ts',
  'test/machines/upload.test.ts',
  'test/runtime/plan.test.ts',
  'test/runtime/retry.test.ts',
  'test/runtime/pglite-turns.test.ts',
  'test/chaos/checks.test.ts',
  'test/server/config-documents.test.ts',
  'test/server/dashboard-sse.test.ts',
  // The package as installed (tarball, Bun, Deno, a browser) brings its own PGlite.
  'test/package/**',
];

// Tests of the surface (HTTP edge cases and fuzzing, API keys and replay from the CLI, the browser dashboard, the
// vendors' wire formats and request sharing, hostile documents) run once, on PostgreSQL: what they test is above the
// database, and the pipeline code beneath them runs on PGlite too, through the API, pipeline, search,
// budget, tenant, control, event and CLI tests. `npm run test:full` runs them on both, as does a
// machine with no PostgreSQL to run them on.
const SURFACE = [
  'test/server/dashboard.test.ts',
  'test/server/dashboard-api.test.ts',
  'test/server/providers.test.ts',
  'test/server/hostile.test.ts',
  'test/server/fuzz-*.test.ts',
  'test/server/edge-api.test.ts',
  'test/server/edge-leaks.test.ts',
  'test/server/edge-uploads.test.ts',
  'test/server/embed-coalescing.test.ts',
  'test/server/webhook-auth.test.ts',
  'test/server/callbacks.test.ts',
  'test/server/keys-cli.test.ts',
  'test/server/replay-cli.test.ts',
];

const full = process.argv.includes('--full');
const url = await postgresUrl();
const once = !full && typeof url === 'string' ? SURFACE.map((glob) => `!${glob}`) : [];
// One pass after the other: run at once (two files each), they took no less time, and the load made
// tests that wait on child processes time out. PGlite runs three files at a time: with two, the cores
// sat a quarter idle while tests waited on timers, sockets and child processes. PostgreSQL runs two:
// each runtime holds a pool, a LISTEN connection and a lease thread's, and three files' worth ran the
// shared server out of connections (53300).
const built = { DOCKET_TEST_BUILT: '1' };
const pglite = await run(`suite on PGlite${once.length ? ' (surface tests run once, on PostgreSQL)' : ''}`, 'npx', [...ava(['test/**/*.test.ts', ...once]), '--concurrency', '3'], {
  DOCKET_TEST_BACKEND: 'pglite',
  ...built,
});
count('PGlite', pglite.out);
if (pglite.code !== 0) failed = true;

if (typeof url === 'string') {
  const postgres = await run(
    `suite on PostgreSQL (${url.replace(/:[^:@/]*@/, ':***@')}; backend-free tests ran once, above)`,
    'npx',
    [...ava(['test/**/*.test.ts', ...BACKEND_FREE.map((glob) => `!${glob}`)]), '--concurrency', '2'],
    { DOCKET_TEST_BACKEND: 'postgres', DATABASE_URL: url, ...built },
  );
  count('PostgreSQL', postgres.out);
  if (postgres.code !== 0) failed = true;
} else {
  const message = `PostgreSQL unreachable (${url.error.message}); set DATABASE_URL or start a server`;
  if (process.env.CI) {
    process.stdout.write(`\n${message}: required under CI\n`);
    failed = true;
  } else {
    process.stdout.write(`\nskipped the PostgreSQL run: ${message}\n`);
  }
}

if (!existsSync(new URL('../../shared/corpus/', import.meta.url))) {
  process.stdout.write(`\ncorpus tier skipped (../shared/corpus not found): ${corpusTests().join(' | ') || 'no corpus tests found'}\n`);
}

if (accounts.length > 0) process.stdout.write(`\n${accounts.join('\n\n')}\n`);
if (failures.length > 0) process.stdout.write(`\nfailed:\n${[...new Set(failures)].map((line) => `  ${line}`).join('\n')}\n`);
process.stdout.write(`\ndocket: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped\n`);
process.exit(failed || totals.failed > 0 ? 1 : 0);

#!/usr/bin/env node
// The one test command: house-rule lint, the build, typecheck, then the suite on PGlite and on PostgreSQL.
// PostgreSQL comes from DATABASE_URL, or postgres://postgres@127.0.0.1:5432/docket_test (created if
// missing). Without a reachable server the PostgreSQL run is skipped locally and fails under CI.
// The corpus tier (real-world documents in ../shared/corpus, test/helpers/corpus.ts) runs when the
// folder is there; without it the tests are skipped and this script names them once, in one line.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import pg from 'pg';

const totals = { passed: 0, failed: 0, skipped: 0 };

function run(label, command, args, env = {}) {
  process.stdout.write(`\n=== ${label}\n`);
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      process.stdout.write(chunk);
    });
    child.on('exit', (code) => resolve({ code: code ?? 1, out }));
  });
}

function count(out) {
  // ava prints "N tests passed" only when nothing failed: count the passes line by line instead.
  totals.passed += (out.match(/^\s+✔ /gm) ?? []).length;
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

// Tests that touch no database (adapters, pure machine logic, the diagrams, the chaos checkers) run
// once, in the PGlite pass; the PostgreSQL pass runs every test that does.
const BACKEND_FREE = [
  'test/adapters/**',
  'test/machines/diagrams*.test.ts',
  'test/machines/upload.test.ts',
  'test/runtime/plan.test.ts',
  'test/runtime/retry.test.ts',
  'test/chaos/checks.test.ts',
  'test/server/config-documents.test.ts',
  'test/server/dashboard-sse.test.ts',
  // The package as installed (tarball, Bun, Deno, a browser) brings its own PGlite.
  'test/package/**',
];

const pglite = await run('suite on PGlite', 'npx', ['ava'], { DOCKET_TEST_BACKEND: 'pglite' });
count(pglite.out);
if (pglite.code !== 0) failed = true;

const url = await postgresUrl();
if (typeof url === 'string') {
  const files = ['test/**/*.test.ts', ...BACKEND_FREE.map((glob) => `!${glob}`)];
  // Two files at a time here, not three: each runtime holds a pool, a LISTEN connection and a lease
  // thread's, and three files' worth ran PostgreSQL out of connections (53300).
  files.push('--concurrency', '2');
  const postgres = await run(`suite on PostgreSQL (${url.replace(/:[^:@/]*@/, ':***@')}; backend-free tests ran once, above)`, 'npx', ['ava', ...files], {
    DOCKET_TEST_BACKEND: 'postgres',
    DATABASE_URL: url,
  });
  count(postgres.out);
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

process.stdout.write(`\ndocket: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped\n`);
process.exit(failed || totals.failed > 0 ? 1 : 0);

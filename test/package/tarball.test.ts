import test from 'ava';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { backend } from '../helpers/db.js';
import { findBun, findDeno } from '../helpers/runtimes.js';
import { inRepo } from '../helpers/repo.js';

/**
 * The package as a user installs it: `npm pack`, then the tarball installed into an empty project
 * with nothing else from this repository, running examples/node (a machine of its own, durable
 * across two processes) with plain node after tsc type-checks it against the published types,
 * then under Bun and Deno. Once per suite run: it needs no database of the suite's.
 */
const run = promisify(execFile);
const root = inRepo('.');
const packageTest = backend === 'pglite' ? test.serial : test.serial.skip;
const [bun, deno] = await Promise.all([findBun(), findDeno()]);

interface Project {
  dir: string;
  tarball: string;
}

let project: Promise<Project> | undefined;

/** Packs the repository once and installs the tarball, PGlite, xstate and pino into a new project. */
function installed(): Promise<Project> {
  project ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'docket-package-'));
    // `npm test` has built dist/ before the suite: building it again here would rewrite it under the
    // CLI processes that other test files are starting from it.
    if (process.env.DOCKET_TEST_BUILT !== '1') await run('npm', ['run', 'build', '--silent'], { cwd: root });
    const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], { cwd: root });
    const tarball = join(dir, stdout.trim().split('\n').pop()!);
    const app = join(dir, 'app');
    await run('mkdir', ['-p', app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    for (const file of ['machine.ts', 'main.ts', 'tsconfig.json']) copyFileSync(join(root, 'examples/node', file), join(app, file));
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, '@electric-sql/pglite@0.5.14', 'xstate@5', 'pino@10', '@types/node@20'], {
      cwd: app,
      timeout: 180_000,
    });
    return { dir, tarball };
  })();
  return project;
}

test.after.always(async () => {
  if (project) rmSync((await project).dir, { recursive: true, force: true });
});

/** Runs the example's two phases with `command`, each in a process of its own, on a new PGlite folder. */
async function startThenResume(command: string, args: string[], cwd: string, label: string) {
  const env = { ...process.env, DOCKET_DATABASE: `pglite:${join(cwd, `data/${label}`)}` /* nested: PGlite makes only the last folder */, NODE_OPTIONS: '' };
  const first = await run(command, [...args, 'start'], { cwd, env, timeout: 60_000 });
  const second = await run(command, [...args, 'resume'], { cwd, env, timeout: 60_000 });
  return { first: first.stdout, second: second.stdout };
}

function assertDurable(t: import('ava').ExecutionContext, out: { first: string; second: string }) {
  t.regex(out.first, /started [0-9a-f-]{36} in "coolingOff"; exiting before the timer fires/);
  t.regex(out.second, /resumed [0-9a-f-]{36}: "paid", \{"item":"a teapot","receipt":"charged for a teapot \(key [^)]+\)"\}/);
  t.regex(out.second, /1: xstate\.after\.coolingOff\.order\.coolingOff "coolingOff" -> "charging"/);
}

packageTest('the tarball holds the build, types and no TypeScript sources', async (t) => {
  const { tarball } = await installed();
  const { stdout } = await run('tar', ['tzf', tarball]);
  const files = stdout.trim().split('\n');
  for (const entry of ['index.js', 'index.d.ts', 'index.js.map', 'runtime/db/pglite.js', 'runtime/db/pg.d.ts', 'testing/index.d.ts', 'runtime/sql/migrations.js']) {
    t.true(files.includes(`package/dist/${entry}`), `dist/${entry} is packed`);
  }
  t.deepEqual(files.filter((file) => /\.ts$/.test(file) && !/\.d\.ts$/.test(file)), [], 'no .ts source is packed');
  t.false(files.some((file) => file.startsWith('package/test/')), 'no tests are packed');
});

packageTest('tsc type-checks a program against the published types, and plain node runs it durably', async (t) => {
  const { dir } = await installed();
  const app = join(dir, 'app');
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  const compiled = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: app }).catch((error: { stdout?: string }) => error);
  t.is('stdout' in compiled ? (compiled.stdout ?? '').trim() : '', '', 'tsc reports nothing');
  t.true(existsSync(join(app, 'dist/main.js')));
  assertDurable(t, await startThenResume(process.execPath, ['dist/main.js'], app, 'node'));
});

packageTest('the root entry loads neither pg nor PGlite; each store is its own subpath', async (t) => {
  const { dir } = await installed();
  const app = join(dir, 'app');
  const probe = join(app, 'probe.mjs');
  writeFileSync(
    probe,
    `import { createRequire } from 'node:module';
     const docket = await import('docket');
     const loaded = Object.keys(createRequire(import.meta.url).cache);
     const { PgliteDatabase } = await import('docket/pglite');
     const { testMachine } = await import('docket/testing');
     let pgError = null;
     try { await import('docket/pg'); } catch (error) { pgError = error.code; }
     console.log(JSON.stringify({ root: typeof docket.createRuntime, pglite: typeof PgliteDatabase.open, testing: typeof testMachine, pgError, cjs: loaded.filter((p) => /node_modules\\/pg\\//.test(p)).length }));`,
  );
  const { stdout } = await run(process.execPath, [probe], { cwd: app });
  // pg is an optional peer that this project did not install: only docket/pg needs it.
  t.deepEqual(JSON.parse(stdout), { root: 'function', pglite: 'function', testing: 'function', pgError: 'ERR_MODULE_NOT_FOUND', cjs: 0 });
  t.false(readdirSync(join(app, 'node_modules')).includes('pg'), 'pg was not installed with docket');
});

packageTest(`Bun (${bun.version ?? 'missing'}) runs the same program from its TypeScript source`, async (t) => {
  if (!bun.path) return t.fail(`bun is not available here: ${bun.reason}`);
  const { dir } = await installed();
  assertDurable(t, await startThenResume(bun.path, ['main.ts'], join(dir, 'app'), 'bun'));
});

// Where the deno npm package installs (it does on this machine kind); skipped, with the reason, elsewhere.
(deno.path ? packageTest : test.skip)(`Deno (${deno.version ?? deno.reason}) runs the same program from its TypeScript source`, async (t) => {
  const { dir } = await installed();
  // manual: use the node_modules npm made, never resolve or download packages of its own;
  // sloppy imports: './machine.js' names the TypeScript source, as tsc, Node and Bun read it.
  assertDurable(t, await startThenResume(deno.path!, ['run', '-A', '--node-modules-dir=manual', '--cached-only', '--sloppy-imports', 'main.ts'], join(dir, 'app'), 'deno'));
});

import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { backend, freshDatabase } from '../helpers/db.js';
import { startServer, upload } from '../helpers/server.js';
import { inRepo } from '../helpers/repo.js';

const execute = promisify(execFile);
const cli = inRepo('bin/docket.js');
const version = (JSON.parse(readFileSync(inRepo('package.json'), 'utf8')) as { version: string }).version;

/** Runs the CLI; resolves with its exit code and output whatever the code. */
async function docket(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await execute('node', [cli, ...args], { env: { ...process.env, DATABASE_URL: 'memory', ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr };
  }
}

const booted = `data:text/javascript,${encodeURIComponent("process.stderr.write('[node booted]\\n')")}`;

const noStack = /\n\s+at |node:internal|\.ts:\d+/;

// These run the CLI on no store of the suite's (`memory`, or a URL that cannot be reached): once, in
// the PGlite pass.
const once = backend === 'pglite' ? test : test.skip;

once('--help and -h print the commands on stdout and exit 0; --version prints the version', async (t) => {
  for (const flag of ['--help', '-h', 'help']) {
    const { code, stdout, stderr } = await docket([flag]);
    t.is(code, 0, flag);
    t.regex(stdout, /Usage: docket \[options\] \[command\]/);
    t.regex(stdout, /serve.*\n[\s\S]*worker[\s\S]*ingest <files\.\.\.>[\s\S]*status \[options\] <job_id>[\s\S]*cancel <job_id>[\s\S]*retry <job_id>[\s\S]*delete <job_id>/);
    t.regex(stdout, /Exit codes: 0 done, 1 the work failed/);
    t.is(stderr, '');
  }
  for (const flag of ['--version', '-v']) t.deepEqual(await docket([flag]), { code: 0, stdout: `${version}\n`, stderr: '' });
});

once('every command has its own help, and asking for it never runs the command', async (t) => {
  for (const command of ['serve', 'worker', 'ingest', 'status']) {
    const started = Date.now();
    const { code, stdout } = await docket([command, '--help'], { PORT: '1' });
    t.is(code, 0, command);
    t.regex(stdout, new RegExp(`^Usage: docket ${command} `), command);
    t.true(Date.now() - started < 60_000, 'it returned: serve --help started no server');
  }
  const ingestHelp = await docket(['ingest', '--help']);
  t.notRegex(ingestHelp.stdout + ingestHelp.stderr, /ENOENT|--help.*refused/, '--help is not taken for a file name');
});

once('usage and configuration errors: one line on stderr, exit 2, no stack trace', async (t) => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [[], {}, /Usage: docket/],
    [['dance'], {}, /^docket: unknown command 'dance'/],
    [['ingest'], {}, /^docket: missing required argument 'files'/],
    [['status'], {}, /^docket: missing required argument 'job_id'/],
    [['status', 'not-a-uuid'], {}, /^docket: "not-a-uuid" is not a job id/],
    [['serve'], { PORT: 'eighty' }, /^docket: invalid configuration: PORT: /],
    [['status', '3b1c1f3e-5a7e-4d8e-9a6e-0f7c2b0b1a11'], { DATABASE_URL: 'mysql://somewhere' }, /^docket: database must be a postgres:\/\/ URL/],
  ];
  for (const [args, env, message] of cases) {
    const { code, stdout, stderr } = await docket(args, env);
    t.is(code, 2, args.join(' '));
    t.regex(stderr, message, args.join(' '));
    t.notRegex(stderr + stdout, noStack, args.join(' '));
  }
});

once('an unreachable database: one line naming the masked URL, exit 3', async (t) => {
  const { code, stderr } = await docket(['status', '3b1c1f3e-5a7e-4d8e-9a6e-0f7c2b0b1a11'], { DATABASE_URL: 'postgres://docket:hunter2@127.0.0.1:1/nothing' });
  t.is(code, 3);
  t.is(stderr.trim().split('\n').length, 1, stderr);
  t.regex(stderr, /^docket: cannot reach the database at postgres:\/\/docket:\*\*\*@127\.0\.0\.1:1\/nothing: connect ECONNREFUSED/);
  t.notRegex(stderr, /hunter2/);
});

/**
 * A long-running command against a database that cannot be reached (it waits for it): its stderr as
 * it grows, a promise for the first time that holds `text`, and how it exited.
 */
function waitingCli(args: string[]) {
  const child = spawn('node', args, {
    env: { ...process.env, DATABASE_URL: 'postgres://docket@127.0.0.1:1/nothing', DATABASE_WAIT_MS: '60000', PORT: '0', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const seen = new Map<string, () => void>();
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
    for (const [text, resolve] of seen) if (stderr.includes(text)) resolve();
  });
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (code, signal) => resolve([code, signal])));
  return {
    child,
    exited,
    stderr: () => stderr,
    printed: (text: string) => new Promise<void>((resolve) => (stderr.includes(text) ? resolve() : seen.set(text, resolve))),
  };
}

once('SIGTERM while a worker or server is still waiting for its database stops it cleanly: exit 0, not killed by the signal', async (t) => {
  for (const command of ['worker', 'serve']) {
    const run = waitingCli([cli, command]);
    await run.printed('waiting for it');
    run.child.kill('SIGTERM');
    t.deepEqual(await run.exited, [0, null], `${command}: ${run.stderr().slice(-2000)}`);
    t.regex(run.stderr(), /stopped while waiting for the database/, command);
  }
});

once('SIGTERM while the CLI is still loading (before any command code runs) stops a worker cleanly too', async (t) => {
  // A preload announces that Node has booted: no program can handle a signal before its first line
  // runs, and under the suite's load the boot alone can take longer than any fixed wait.
  const run = waitingCli(['--import', booted, cli, 'worker']);
  await run.printed('[node booted]');
  // Time for bin/docket.js's first lines (a few milliseconds after the preload), well short of the CLI's load.
  await new Promise((resolve) => setTimeout(resolve, 150));
  const loading = !run.stderr().includes('waiting for it');
  run.child.kill('SIGTERM');
  t.deepEqual(await run.exited, [0, null], run.stderr().slice(-2000));
  t.log(loading ? 'the signal came while the CLI was loading' : 'the CLI had loaded before the signal');
});

// The server and the CLI are two processes on one database: PGlite lives inside one process.
const twoProcesses = backend === 'postgres' ? test : test.skip;

twoProcesses('status prints the job exactly as GET /v1/jobs/:id does; an unknown job exits 1', async (t) => {
  const { url, config } = await startServer(t, { DATABASE_URL: await freshDatabase(t) });
  const created = await upload(url, { name: 'shape.md', content: '# Shape\n\nthe same shape everywhere' });
  const jobId = created.body.job_id as string;
  let api: Record<string, unknown> = {};
  for (let i = 0; i < 300 && api.stage !== 'complete'; i++) {
    api = (await (await fetch(`${url}/v1/jobs/${jobId}`)).json()) as Record<string, unknown>;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const shown = await docket(['status', jobId], { DATABASE_URL: config.DATABASE_URL });
  t.is(shown.code, 0, shown.stderr);
  t.deepEqual(JSON.parse(shown.stdout), api);
  const missing = await docket(['status', '3b1c1f3e-5a7e-4d8e-9a6e-0f7c2b0b1a11'], { DATABASE_URL: config.DATABASE_URL });
  t.is(missing.code, 1);
  t.is(missing.stderr, 'docket: no job 3b1c1f3e-5a7e-4d8e-9a6e-0f7c2b0b1a11\n');
});

once('output piped into a command that stops reading ends quietly', async (t) => {
  const child = spawn('sh', ['-c', `node ${cli} --help | head -1`], { env: process.env });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const code = await new Promise((resolve) => child.once('exit', resolve));
  t.is(code, 0);
  t.notRegex(stderr, /EPIPE|Unhandled/);
});

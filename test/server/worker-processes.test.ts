/**
 * `docket worker --processes N` (issue 10, item 3): N worker processes from one command, sharing
 * the cores; they run jobs, stop together on SIGTERM, and a PGlite store or a bad count is refused.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { loadConfig } from '../../server/config.js';
import { createPipeline } from '../../pipeline/index.js';
import { isSettled, stageOf } from '../../machines/upload.js';
import { backend, freshDatabase, silent } from '../helpers/db.js';
import { inRepo } from '../helpers/repo.js';

const cli = inRepo('bin/docket.js');
const onPostgres = backend === 'postgres' ? test.serial : test.serial.skip;

function run(args: string[], env: Record<string, string>) {
  const child = spawn('node', [cli, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('--processes refuses a count that is not a whole number from 1 to 256, and a PGlite store', async (t) => {
  const zero = run(['worker', '--processes', '0'], { DATABASE_URL: 'memory' });
  t.is(await zero.exited, 2);
  t.regex(zero.output(), /--processes.*a whole number from 1 to 256/);
  const pglite = run(['worker', '--processes', '2'], { DATABASE_URL: 'memory' });
  t.is(await pglite.exited, 2);
  t.regex(pglite.output(), /--processes needs PostgreSQL/);
});

onPostgres('docket worker --processes 2 runs two worker processes that complete jobs, and SIGTERM stops both', async (t) => {
  t.timeout(120_000);
  const DATABASE_URL = await freshDatabase(t);
  const env = { DATABASE_URL, LOG_LEVEL: 'info', EMBEDDING_DIMENSIONS: '64' };
  const workers = run(['worker', '--processes', '2'], env);
  t.teardown(() => void (workers.child.exitCode === null && workers.child.kill('SIGKILL')));
  const pids = () => [...workers.output().matchAll(/"pid":(\d+)[^\n]*"msg":"docket worker running"/g)].map((m) => Number(m[1]));
  const deadline = Date.now() + 60_000;
  while (pids().length < 2) {
    if (workers.child.exitCode !== null || Date.now() > deadline) throw new Error(`the worker processes did not start:\n${workers.output().slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const children = pids();
  t.is(new Set(children).size, 2, 'two processes, each logging its own start');
  t.false(children.includes(workers.child.pid!), 'neither is the command itself');
  t.regex(workers.output(), /"document_workers_each":\d+/);

  // Jobs submitted by a process that runs no workers are completed by the two.
  const pipeline = await createPipeline(loadConfig(env), { logger: silent, worker: false });
  t.teardown(() => pipeline.close());
  const ids = await Promise.all(
    [1, 2, 3, 4].map(async (i) => (await pipeline.submit({ content: new TextEncoder().encode(`# Note ${i}\n\nWorkers in ${i} processes.`), filename: `note-${i}.md` })).jobId),
  );
  const states = await Promise.all(ids.map((id) => pipeline.runtime.waitFor(id, isSettled, { timeoutMs: 60_000 })));
  t.deepEqual(states.map((s) => stageOf(s.value)), ['complete', 'complete', 'complete', 'complete']);

  workers.child.kill('SIGTERM');
  t.is(await workers.exited, 0);
  for (const pid of children) {
    const until = Date.now() + 10_000;
    while (alive(pid) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
    t.false(alive(pid), `worker process ${pid} has stopped`);
  }
});

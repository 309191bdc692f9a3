import test, { type ExecutionContext } from 'ava';
import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { AnyStateMachine } from 'xstate';
import { backend, freshDatabase, pgliteFolder } from '../helpers/db.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { heldPipeline, uploadJobs, type UploadJobs } from '../helpers/upload-jobs.js';
import { renamedValidated } from '../helpers/upload-variants.js';
import { inRepo } from '../helpers/repo.js';

failOnLeakedRuntimes();

const execute = promisify(execFile);
const cli = inRepo('bin/docket.js');

/**
 * The scenario's jobs written by `machine` (the code before the deploy) into a database of their
 * own, closed again: the CLI then runs in its own process as the code being deployed. PGlite is a
 * file directory only one process opens at a time.
 */
async function journalsWrittenBy(t: ExecutionContext, machine?: AnyStateMachine): Promise<{ DATABASE_URL: string; jobs: UploadJobs }> {
  let DATABASE_URL: string;
  if (backend === 'postgres') {
    DATABASE_URL = await freshDatabase(t);
  } else {
    DATABASE_URL = `pglite:${await pgliteFolder(t, 'docket-replay-')}`;
  }
  const held = await heldPipeline(DATABASE_URL, machine);
  try {
    return { DATABASE_URL, jobs: await uploadJobs(held) };
  } finally {
    await held.pipeline.close();
  }
}

/** Runs the CLI; resolves with its exit code and output whatever the code. */
async function docket(args: string[], DATABASE_URL: string) {
  try {
    const { stdout, stderr } = await execute('node', [cli, ...args], { env: { ...process.env, DATABASE_URL, EMBEDDING_DIMENSIONS: '16', LOG_LEVEL: 'warn' } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr };
  }
}

test('after a state was renamed, replay marks every step past it and check-deploy lists the in-flight jobs past it (exit 1)', async (t) => {
  // The old code called `job_validated` `validated`; this code (the CLI's) calls it `job_validated`.
  const { DATABASE_URL, jobs } = await journalsWrittenBy(t, renamedValidated);

  const finished = await docket(['replay', jobs.oneChunk], DATABASE_URL);
  t.is(finished.code, 1, finished.stderr);
  const lines = finished.stdout.split('\n');
  t.regex(lines[0]!, new RegExp(`^instance ${jobs.oneChunk}  upload v3  done  complete$`));
  t.regex(lines[3]!, /^\s+seq\s+event\s+recorded\s+replayed$/);
  t.regex(lines[4]!, /^ +0 {2}xstate\.init\s+→ queued\s+queued$/, 'the first step matches: no mark');
  t.regex(lines[5]!, /^! +1 {2}xstate\.done\.actor\.0\.upload\.queued\s+queued → validated\s+job_validated\s+replayed job_validated, recorded validated$/);
  t.regex(lines[6]!, /^! +2 {2}xstate\.done\.actor\.0\.upload\.validated\s+validated → parsed\s+job_validated, event not taken\s+no transition on xstate\.done\.actor\.0\.upload\.validated in job_validated; replayed job_validated, recorded parsed$/);
  t.is(lines.filter((line) => line.startsWith('!')).length, 7);
  t.regex(finished.stdout, /\ndiverges at seq 1 xstate\.done\.actor\.0\.upload\.queued: replayed job_validated, recorded validated \(7 of 8 entries diverge\)\n$/);

  const stopped = await docket(['replay', jobs.stopped], DATABASE_URL);
  t.is(stopped.code, 1);
  t.regex(stopped.stdout, /\n +4 {2}docket\.stop\s+chunking → chunking \(stopped\)\s+\(the engine's entry, not replayed\)\n/);

  const queued = await docket(['replay', jobs.queued], DATABASE_URL);
  t.is(queued.code, 0, 'a job still in queued never met the renamed state');
  t.regex(queued.stdout, /\nsame path: 1 journal entry, no divergence\n$/);

  const check = await docket(['check-deploy'], DATABASE_URL);
  t.is(check.code, 1, check.stderr);
  const listed = check.stdout.split('\n').filter((line) => line.startsWith('diverges'));
  t.deepEqual(listed.map((line) => line.split(/\s+/)[1]).sort(), [jobs.embeddingOne, jobs.embeddingMany, jobs.chunking].sort());
  t.true(listed.every((line) => /^diverges +\S+ +active +(embedding|chunking) +at seq 1 xstate\.done\.actor\.0\.upload\.queued: replayed job_validated, recorded validated \(\d+ entries diverge\)$/.test(line)), check.stdout);
  t.regex(check.stdout, /^replaying active and error upload instances through the upload machine of this code\n/);
  t.regex(check.stdout, /\n4 checked: 3 would diverge, 1 would take the same path\n$/);

  const json = await docket(['check-deploy', '--status', 'stopped,done', '--json'], DATABASE_URL);
  t.is(json.code, 1);
  const parsed = JSON.parse(json.stdout) as { statuses: string[]; checked: number; diverging: { instanceId: string; firstDivergence: { seq: number } }[] };
  t.deepEqual(parsed.statuses, ['stopped', 'done']);
  t.is(parsed.checked, 3);
  t.deepEqual(parsed.diverging.map((d) => d.instanceId).sort(), [jobs.stopped, jobs.oneChunk, jobs.manyChunks].sort());

  const unknown = await docket(['replay', randomUUID()], DATABASE_URL);
  t.like(unknown, { code: 1, stdout: '' });
  t.regex(unknown.stderr, /^docket: no instance [0-9a-f-]{36}\n$/);
});

test('journals written by the same machine: replay and check-deploy find no divergence (exit 0)', async (t) => {
  const { DATABASE_URL, jobs } = await journalsWrittenBy(t);
  const replayed = await docket(['replay', jobs.manyChunks, '--json'], DATABASE_URL);
  t.is(replayed.code, 0, replayed.stderr);
  t.like(JSON.parse(replayed.stdout), { instanceId: jobs.manyChunks, diverged: false, divergentSteps: 0, status: 'done' });
  const check = await docket(['check-deploy'], DATABASE_URL);
  t.is(check.code, 0, check.stderr);
  t.is(check.stdout, 'replaying active and error upload instances through the upload machine of this code\n4 checked: 0 would diverge, 4 would take the same path\n');
});

test('usage errors exit 2, an unreachable database exits 3', async (t) => {
  const nowhere = 'postgres://docket:hunter2@127.0.0.1:1/nothing';
  const bad = await docket(['replay', 'not-a-uuid'], nowhere);
  t.like(bad, { code: 2, stderr: 'docket: "not-a-uuid" is not an instance id (a uuid, such as a job id)\n' });
  const status = await docket(['check-deploy', '--status', 'active,asleep'], nowhere);
  t.is(status.code, 2);
  t.regex(status.stderr, /^docket: --status takes a comma-separated list of active, done, error, stopped; got "active,asleep"\n$/);
  for (const args of [['replay', randomUUID()], ['check-deploy']]) {
    const { code, stderr } = await docket(args, nowhere);
    t.is(code, 3, args[0]);
    t.regex(stderr, /^docket: cannot reach the database at postgres:\/\/docket:\*\*\*@127\.0\.0\.1:1\/nothing: /, args[0]);
  }
});

import test from 'ava';
import { spawn } from 'node:child_process';
import type { ServiceHandler } from '../../index.js';
import { followJob } from '../../pipeline/events.js';
import { backend, pgliteFolder } from '../helpers/db.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { gate, openEvents, sections, serverWith } from '../helpers/control.js';
import { upload } from '../helpers/server.js';
import { inRepo } from '../helpers/repo.js';

failOnLeakedRuntimes();
const serial = test.serial;

const label = (e: { event: string; data: { stage?: string } }) => (e.event === 'stage' ? e.data.stage : e.event);
const PATH = ['queued', 'job_validated', 'parsed', 'chunking', 'chunked', 'embedding', 'embedded', 'complete'];

/** Holds chunkDocument until the test opens the gate, and says when it has started. */
function holdChunking() {
  const started = gate();
  const release = gate();
  const instrument = (name: string, handler: ServiceHandler): ServiceHandler =>
    name !== 'chunkDocument'
      ? handler
      : async (context) => {
          started.open();
          await release.promise;
          return handler(context);
        };
  return { started, release, instrument };
}

serial('GET /v1/jobs/:id/events: the backlog, then live stage changes, then end; Last-Event-ID resumes', async (t) => {
  const hold = holdChunking();
  const { url } = await serverWith(t, { pipeline: { instrument: hold.instrument } });
  const { body } = await upload(url, { name: 'notes.md', content: sections(1) });
  const jobId = body.job_id as string;
  await hold.started.promise;

  const stream = await openEvents(`${url}/v1/jobs/${jobId}/events`);
  t.is(stream.status, 200);
  const backlog = [];
  for (let e = await stream.next(); e; e = await stream.next()) {
    backlog.push(e);
    if (e.data.stage === 'chunking') break;
  }
  t.deepEqual(backlog.map((e) => e.data.stage), ['queued', 'job_validated', 'parsed', 'chunking'], 'the backlog up to where the job waits');
  t.true(backlog.every((e) => e.event === 'stage' && e.id === String(e.data.seq) && e.data.job_id === jobId && typeof e.data.event === 'string'));

  hold.release.open();
  const live = await stream.rest();
  const end = live.pop()!;
  t.deepEqual(live.map((e) => e.data.stage), ['chunked', 'embedding', 'embedded', 'complete'], 'then each change as it commits, once');
  t.like(end, { event: 'end', id: undefined, data: { job_id: jobId, stage: 'complete', status: 'done' } });
  const seqs = [...backlog, ...live].map((e) => e.data.seq as number);
  t.deepEqual([...seqs].sort((a, b) => a - b), seqs, 'in journal order');

  // Resuming after `parsed` gives the rest; after the last change, 204 (an EventSource stops there).
  const parsed = backlog.find((e) => e.data.stage === 'parsed')!;
  const resumed = await openEvents(`${url}/v1/jobs/${jobId}/events`, { 'last-event-id': parsed.id! });
  t.deepEqual((await resumed.rest()).map(label), ['chunking', 'chunked', 'embedding', 'embedded', 'complete', 'end']);
  const finished = await openEvents(`${url}/v1/jobs/${jobId}/events`, { 'last-event-id': live.at(-1)!.id! });
  t.is(finished.status, 204);
  // A settled job without Last-Event-ID: its whole history, then end.
  t.deepEqual((await (await openEvents(`${url}/v1/jobs/${jobId}/events`)).rest()).map(label), [...PATH, 'end']);
});

serial('events: 404 for no job, 400 for a bad id or Last-Event-ID, as JSON', async (t) => {
  const { url } = await serverWith(t);
  const missing = await fetch(`${url}/v1/jobs/00000000-0000-4000-8000-000000000000/events`);
  t.is(missing.status, 404);
  t.like(await missing.json(), { error: { code: 'JOB_NOT_FOUND' } });
  t.like(await (await fetch(`${url}/v1/jobs/nope/events`)).json(), { error: { code: 'INVALID_JOB_ID' } });
  const { body } = await upload(url, { name: 'a.md', content: sections(2) });
  const bad = await fetch(`${url}/v1/jobs/${body.job_id}/events`, { headers: { 'last-event-id': '1; DROP' } });
  t.is(bad.status, 400);
  t.like(await bad.json(), { error: { code: 'INVALID_LAST_EVENT_ID' } });
});

serial('events: a client that goes away mid-stream ends its follow; the server keeps serving', async (t) => {
  const hold = holdChunking();
  const { url, pipeline } = await serverWith(t, { pipeline: { instrument: hold.instrument } });
  const { body } = await upload(url, { name: 'notes.md', content: sections(3) });
  await hold.started.promise;
  const streams = await Promise.all(Array.from({ length: 5 }, () => openEvents(`${url}/v1/jobs/${body.job_id}/events`)));
  for (const stream of streams) {
    for (let e = await stream.next(); e && e.data.stage !== 'chunking'; e = await stream.next());
    stream.close();
  }
  // The job still waits in chunking, so only the disconnects can have ended the server's follows.
  while (pipeline.runtime.metrics().subscriptions > 0) await new Promise((resolve) => setTimeout(resolve, 10));
  t.is(pipeline.runtime.metrics().subscriptions, 0);
  hold.release.open();
  await pipeline.runtime.waitFor(body.job_id, (s) => s.status === 'done');
  // A new stream after the others left still gets the whole story.
  t.deepEqual((await (await openEvents(`${url}/v1/jobs/${body.job_id}/events`)).rest()).map(label), [...PATH, 'end']);
});

serial('followJob (what the route and `docket status --follow` use): idle while nothing changes; abort ends it and drops its subscription', async (t) => {
  const hold = holdChunking();
  const { url, pipeline } = await serverWith(t, { pipeline: { instrument: hold.instrument } });
  const { body } = await upload(url, { name: 'notes.md', content: sections(4) });
  await hold.started.promise;
  const stop = new AbortController();
  const follow = followJob(pipeline.runtime, body.job_id, { signal: stop.signal, idleMs: 20 });
  const seen: string[] = [];
  let next = await follow.next();
  for (; !next.done; next = await follow.next()) {
    if (next.value.kind === 'idle') {
      seen.push('idle');
      stop.abort();
    } else seen.push(next.value.change.stage);
  }
  t.deepEqual(seen, ['queued', 'job_validated', 'parsed', 'chunking', 'idle']);
  t.is(next.value, 'aborted');
  t.is(pipeline.runtime.metrics().subscriptions, 0, 'no subscription is left behind');
  hold.release.open();
  await pipeline.runtime.waitFor(body.job_id, (s) => s.status === 'done');
});

const cli = inRepo('bin/docket.js');

(backend === 'postgres' ? serial : serial.skip)('events reach the API from workers in another process (docket worker), through Postgres', async (t) => {
  const { url, databaseUrl } = await serverWith(t, { pipeline: { worker: false } });
  const worker = spawn('node', [cli, 'worker'], { env: { ...process.env, DATABASE_URL: databaseUrl, EMBEDDING_DIMENSIONS: '64', LOG_LEVEL: 'warn' }, stdio: 'ignore' });
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  t.teardown(async () => {
    worker.kill('SIGTERM');
    await exited;
  });
  const { body } = await upload(url, { name: 'notes.md', content: sections(5) });
  const stream = await openEvents(`${url}/v1/jobs/${body.job_id}/events`);
  const events = await stream.rest();
  t.deepEqual(events.map(label), [...PATH, 'end']);
  t.like(events.at(-1)!.data, { stage: 'complete', status: 'done' });
});

serial('docket status --follow prints each stage change as a JSON line, then the job; exit 0 when complete', async (t) => {
  const hold = holdChunking();
  const { url, databaseUrl, pipeline } = await serverWith(t, {
    pipeline: { instrument: hold.instrument },
    env: backend === 'postgres' ? {} : { DATABASE_URL: `pglite:${await pgliteFolder(t, 'docket-follow-')}` },
  });
  const { body } = await upload(url, { name: 'notes.md', content: sections(6) });
  if (backend === 'pglite') {
    // One process at a time opens a PGlite folder: the job finishes here first, then the CLI reads it.
    hold.release.open();
    await pipeline.runtime.waitFor(body.job_id, (s) => s.status === 'done');
    await pipeline.close();
  } else {
    await hold.started.promise;
  }
  const child = spawn('node', [cli, 'status', '--follow', body.job_id], {
    env: { ...process.env, DATABASE_URL: backend === 'postgres' ? databaseUrl : databaseUrl, EMBEDDING_DIMENSIONS: '64' },
  });
  let stdout = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
    // Live on PostgreSQL: the job moves on only once the CLI has shown where it waits.
    if (stdout.includes('"stage":"chunking"')) hold.release.open();
  });
  const code = await new Promise((resolve) => child.once('exit', resolve));
  const lines = stdout.trim().split('\n').map((line) => JSON.parse(line));
  t.is(code, 0);
  t.deepEqual(lines.slice(0, -1).map((l) => l.stage), PATH);
  t.like(lines.at(-1), { job_id: body.job_id, stage: 'complete', status: 'done' });
});

/**
 * Many machines, one database (issue 9, item 10): `docket serve` in one process and three `docket
 * worker` processes on one PostgreSQL; one worker is SIGKILLed while it holds effect leases, and
 * every job still completes, the dead worker's effects taken over once their leases lapse.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import pg from 'pg';
import { createOpenAIMock } from '../../adapters/openai/mock.js';
import { backend, freshDatabase } from '../helpers/db.js';
import { listen } from '../helpers/listen.js';
import { scrape } from '../helpers/prometheus.js';
import { freePort, getJson, upload } from '../helpers/server.js';
import { inRepo } from '../helpers/repo.js';

const cli = inRepo('bin/docket.js');
const onPostgres = backend === 'postgres' ? test.serial : test.serial.skip;

const DOCUMENTS = 12;
const document = (i: number) => `# Report ${i}\n\n${Array.from({ length: 8 }, (_, p) => `## Part ${p}\n\n${`Paragraph ${p} of report ${i} says something about shared databases. `.repeat(6)}`).join('\n\n')}`;

interface Proc {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
  output: () => string;
}

/** Starts `docket <command>` and resolves once it logs `ready`; killed when the test ends. */
async function start(t: ExecutionContext, name: string, command: 'serve' | 'worker', env: Record<string, string>, ready: string): Promise<Proc> {
  const child = spawn('node', [cli, command], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  const deadline = Date.now() + 60_000;
  while (!output.includes(ready)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${name} did not start (exit ${child.exitCode}):\n${output.slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { name, child, exited, output: () => output };
}

onPostgres('the server and three docket worker processes share one PostgreSQL; a worker SIGKILLed mid-run loses no job', async (t) => {
  t.timeout(180_000);
  const DATABASE_URL = await freshDatabase(t);
  // Embedding takes 700 ms a batch, so effects are in flight when the worker dies.
  const openai = createOpenAIMock({ latencyMs: 700 });
  const port = await freePort();
  const env = {
    DATABASE_URL,
    LOG_LEVEL: 'info',
    EMBEDDING_DIMENSIONS: '64',
    CHUNK_TOKENS: '64',
    EMBED_BATCH_SIZE: '4',
    DOCUMENT_WORKERS: '1',
    OPENAI_API_KEY: 'sk-test',
    OPENAI_BASE_URL: `${await listen(t, openai.app)}/v1`,
  };
  const server = await start(t, 'serve', 'serve', { ...env, PORT: String(port) }, 'docket serving');
  const workers: (Proc & { metricsPort: number })[] = [];
  for (let i = 0; i < 3; i++) {
    const metricsPort = await freePort();
    const proc = await start(t, `worker-${i}`, 'worker', { ...env, METRICS_PORT: String(metricsPort) }, 'docket worker running');
    workers.push({ ...proc, metricsPort });
  }
  const url = `http://127.0.0.1:${port}`;
  const db = new pg.Client({ connectionString: DATABASE_URL });
  await db.connect();
  t.teardown(() => db.end());

  const jobs: string[] = [];
  for (let i = 0; i < DOCUMENTS; i++) {
    const created = await upload(url, { name: `report-${i}.md`, content: document(i) });
    t.is(created.status, 202);
    jobs.push(created.body.job_id);
  }

  // The victim: a worker process holding at least two running effects' leases right now.
  const ownerOf = (w: Proc) => `%-${w.child.pid}-%`;
  let victim: (typeof workers)[number] | undefined;
  const deadline = Date.now() + 60_000;
  while (!victim) {
    for (const w of workers) {
      const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM docket.effects WHERE status = 'running' AND lease_owner LIKE $1`, [ownerOf(w)]);
      if (rows[0]!.n >= 2) victim = w;
    }
    if (Date.now() > deadline) throw new Error('no worker ever held two effects at once');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // Stopped first, then read, then killed: survivors take a dead worker's effects over within a
  // sweep (250 ms), so read after the kill they could already be gone. A stopped process keeps its
  // connections, so nothing is taken over from it meanwhile. A statement it sent just before it
  // stopped (the commit of an effect's result) still runs: read once none of its connections is active.
  victim.child.kill('SIGSTOP');
  const named = await db.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = $1`, [`docket (pid ${victim.child.pid})`]);
  t.true(named.rows.length >= 2, "pg_stat_activity names the worker's connections by its pid");
  for (;;) {
    const { rows } = await db.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND state = 'active'`, [`docket (pid ${victim.child.pid})`]);
    if (rows.length === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const { rows: orphaned } = await db.query<{ idempotency_key: string }>(`SELECT idempotency_key FROM docket.effects WHERE status = 'running' AND lease_owner LIKE $1`, [ownerOf(victim)]);
  victim.child.kill('SIGKILL');
  await victim.exited;
  t.true(orphaned.length >= 1, 'the dead worker left effects behind');

  // Every job completes: the orphans are taken over once a survivor's sweep finds the dead worker's
  // connection gone (or, failing that, once their leases run out, 10 s by default).
  const finish = Date.now() + 120_000;
  let stages: string[] = [];
  for (;;) {
    stages = await Promise.all(jobs.map(async (id) => (await getJson(`${url}/v1/jobs/${id}`)).body.stage as string));
    if (stages.every((stage) => stage === 'complete' || stage === 'failed') || Date.now() > finish) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  t.deepEqual(stages, jobs.map(() => 'complete'));
  const { rows: after } = await db.query<{ status: string; lease_expired: boolean }>(
    `SELECT status, attempt_log @> '[{"code":"LEASE_EXPIRED"}]' AS lease_expired FROM docket.effects WHERE idempotency_key = ANY($1)`,
    [orphaned.map((o) => o.idempotency_key)],
  );
  t.true(after.every((e) => e.status === 'done' && e.lease_expired), 'each orphan was taken over by another process and done');
  const { rows: chunks } = await db.query<{ missing: number }>(`SELECT count(*) FILTER (WHERE embedding IS NULL)::int AS missing FROM upload_pipeline.chunks`);
  t.is(chunks[0]!.missing, 0, 'every chunk embedded');

  // Each surviving worker serves its own metrics; the job counts are the database's, the same everywhere.
  const survivors = workers.filter((w) => w !== victim);
  let started = 0;
  for (const w of survivors) {
    const metrics = await scrape(`http://127.0.0.1:${w.metricsPort}/metrics`);
    t.is(metrics.value('docket_jobs', { stage: 'complete' }), DOCUMENTS, w.name);
    started += metrics.value('docket_effects_started_total') ?? 0;
  }
  t.true(started > 0, 'the surviving workers ran effects');
  const elsewhere = await fetch(`http://127.0.0.1:${survivors[0]!.metricsPort}/v1/jobs`);
  t.is(elsewhere.status, 404, 'a worker serves nothing but /metrics');
  t.is(((await elsewhere.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');

  for (const proc of [server, ...survivors]) {
    proc.child.kill('SIGTERM');
    await proc.exited;
    t.is(proc.child.exitCode, 0, `${proc.name} shut down cleanly`);
  }
});

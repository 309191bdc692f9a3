import test from 'ava';
import { spawn } from 'node:child_process';
import { backend, freshDatabase, pgliteFolder } from '../helpers/db.js';
import { createOpenAIMock } from '../../adapters/openai/mock.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { listen } from '../helpers/listen.js';
import { scrape } from '../helpers/prometheus.js';
import { freePort, startServer, until, upload } from '../helpers/server.js';
import { inRepo } from '../helpers/repo.js';

failOnLeakedRuntimes();

const ENGINE_FAMILIES = {
  docket_jobs: 'gauge',
  docket_database_up: 'gauge',
  docket_steps_total: 'counter',
  docket_events_applied_total: 'counter',
  docket_events_dropped_total: 'counter',
  docket_step_failures_total: 'counter',
  docket_timers_fired_total: 'counter',
  docket_effects_started_total: 'counter',
  docket_effects_finished_total: 'counter',
  docket_effect_retries_total: 'counter',
  docket_effect_attempt_duration_seconds: 'histogram',
  docket_step_transaction_duration_seconds: 'histogram',
  docket_timer_lateness_seconds: 'histogram',
  docket_event_lag_seconds: 'summary',
  docket_http_request_duration_seconds: 'histogram',
  // Node's own, from prom-client's default metrics.
  process_cpu_user_seconds_total: 'counter',
  process_resident_memory_bytes: 'gauge',
  nodejs_eventloop_lag_seconds: 'gauge',
  nodejs_heap_size_used_bytes: 'gauge',
};

test.serial('GET /metrics serves the Prometheus text format, and its series move with an upload, a retry and a webhook', async (t) => {
  // The local parser, and the OpenAI mock for embedding so one transient failure makes a retry.
  const openai = createOpenAIMock();
  const { url } = await startServer(t, { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: `${await listen(t, openai.app)}/v1` });
  const before = await scrape(`${url}/metrics`);
  t.regex(before.contentType ?? '', /^text\/plain; version=0\.0\.4/);
  for (const [family, type] of Object.entries(ENGINE_FAMILIES)) t.is(before.types.get(family), type, family);
  t.is(before.value('docket_database_up'), 1);
  t.is(before.value('docket_jobs', { stage: 'queued' }), 0, 'every stage is listed, empty ones at 0');
  t.is(before.value('docket_jobs', { stage: 'complete' }), 0);
  t.is(before.value('docket_steps_total'), 0);

  openai.faults.add({ status: 500 });
  const created = await upload(url, { name: 'notes.md', content: '# Notes\n\nSome text to chunk and embed.\n\n## More\n\nAnd a little more.' });
  t.is(created.status, 202);
  await until(`${url}/v1/jobs/${created.body.job_id}`, (body) => body.stage === 'complete' || body.stage === 'failed');
  const webhook = await fetch(`${url}/webhooks/llamaparse`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"nothing": true}' });
  t.is(webhook.status, 400);

  const after = await scrape(`${url}/metrics`);
  t.is(after.value('docket_jobs', { stage: 'complete' }), 1);
  t.is(after.value('docket_jobs'), 1, 'one job in all');
  t.true(after.value('docket_steps_total')! >= 7, 'one step per stage after queued at least');
  t.true(after.value('docket_events_applied_total')! >= 7);
  t.true(after.value('docket_timers_fired_total')! >= 3, 'the checkpoints leave by zero-delay timers');
  t.is(after.value('docket_timer_lateness_seconds_count'), after.value('docket_timers_fired_total'));
  t.is(after.value('docket_timer_lateness_seconds_bucket', { le: '+Inf' }), after.value('docket_timer_lateness_seconds_count'));
  for (const service of ['validateUpload', 'submitParse', 'chunkDocument', 'embedBatch']) {
    t.is(after.value('docket_effects_finished_total', { service, outcome: 'succeeded' }), 1, service);
    t.true(after.value('docket_effect_attempt_duration_seconds_count', { service, outcome: 'ok' })! >= 1, service);
  }
  t.is(after.value('docket_effect_retries_total', { service: 'embedBatch' }), 1, 'the 500 was retried');
  t.is(after.value('docket_effects_started_total', { service: 'embedBatch' }), 2);
  t.is(after.value('docket_effect_attempt_duration_seconds_count', { service: 'embedBatch', outcome: 'error' }), 1);
  t.true(after.value('docket_step_transaction_duration_seconds_count')! > 0);
  t.true(after.value('docket_step_transaction_duration_seconds_sum')! > 0);
  t.true(after.value('docket_event_lag_seconds_count')! >= 7);
  t.is(after.value('docket_http_request_duration_seconds_count', { route: '/v1/uploads', method: 'POST', status: '202' }), 1);
  t.is(after.value('docket_http_request_duration_seconds_count', { route: '/webhooks/llamaparse', status: '400' }), 1, 'webhook handling time');
  t.true(after.value('docket_http_request_duration_seconds_count', { route: '/v1/jobs/:id' })! >= 1, 'the route pattern, not the job id');
  t.false(after.samples.some((s) => s.labels.route?.includes(created.body.job_id)), 'no series per job');
  // Histogram buckets are cumulative and end at the count.
  const buckets = after.samples.filter((s) => s.name === 'docket_step_transaction_duration_seconds_bucket').map((s) => s.value);
  t.deepEqual(buckets, [...buckets].sort((a, b) => a - b));
  t.is(buckets.at(-1), after.value('docket_step_transaction_duration_seconds_count'));
});

test.serial('/metrics still answers when the job counts cannot be read, with docket_database_up 0, and recovers', async (t) => {
  const { url, pipeline } = await startServer(t, {}, { worker: false });
  // A real failing query, not a stand-in: the table is moved away under the server, then back.
  await pipeline.db.query('ALTER TABLE upload_pipeline.upload_jobs RENAME TO upload_jobs_away');
  const away = await scrape(`${url}/metrics`);
  t.is(away.value('docket_database_up'), 0);
  t.is(away.value('docket_jobs'), undefined, 'no stale job counts');
  t.is(away.value('docket_steps_total'), 0, "the engine's series are still served");
  await pipeline.db.query('ALTER TABLE upload_pipeline.upload_jobs_away RENAME TO upload_jobs');
  const back = await scrape(`${url}/metrics`);
  t.is(back.value('docket_database_up'), 1);
  t.is(back.value('docket_jobs', { stage: 'complete' }), 0);
});

test.serial('docket worker with METRICS_PORT serves /metrics there, and nothing else', async (t) => {
  let DATABASE_URL: string;
  if (backend === 'postgres') DATABASE_URL = await freshDatabase(t);
  else {
    DATABASE_URL = `pglite:${await pgliteFolder(t, 'docket-metrics-')}`;
  }
  const port = await freePort();
  const cli = inRepo('bin/docket.js');
  const worker = spawn('node', [cli, 'worker'], { env: { ...process.env, DATABASE_URL, METRICS_PORT: String(port), LOG_LEVEL: 'info' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  worker.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
  t.teardown(() => void worker.kill('SIGKILL'));
  const deadline = Date.now() + 60_000;
  while (!stderr.includes('docket worker running')) {
    if (worker.exitCode !== null || Date.now() > deadline) throw new Error(`worker did not start (exit ${worker.exitCode}):\n${stderr.slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.regex(stderr, new RegExp(`"metrics":"http://127\\.0\\.0\\.1:${port}/metrics"`), 'the start line says where');
  const metrics = await scrape(`http://127.0.0.1:${port}/metrics`);
  t.is(metrics.types.get('docket_steps_total'), 'counter');
  t.is(metrics.types.get('docket_step_transaction_duration_seconds'), 'histogram');
  t.is(metrics.value('docket_database_up'), 1);
  t.is(metrics.value('docket_jobs', { stage: 'complete' }), 0);
  t.true(metrics.value('process_resident_memory_bytes')! > 0);
  const other = await fetch(`http://127.0.0.1:${port}/v1/jobs`);
  t.is(other.status, 404);
  t.is(((await other.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
  const post = await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' });
  t.is(post.status, 405);
  worker.kill('SIGTERM');
  t.is(await exited, 0, 'the metrics listener closes with the worker');
});

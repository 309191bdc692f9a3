import test from 'ava';
import { spawn } from 'node:child_process';
import { backend } from '../helpers/db.js';
import { PgCluster } from '../helpers/cluster.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { getJson, startServer, upload } from '../helpers/server.js';
import { inRepo } from '../helpers/repo.js';

failOnLeakedRuntimes();

/**
 * A PostgreSQL cluster of this file's own, restarted under the server's feet: never the shared one.
 * Its own name and port, so the chaos suite (which restarts its own cluster) can run beside it.
 */
const cluster = new PgCluster({ name: 'docket_restart', port: 5498 });
const restarts = backend === 'postgres' && (PgCluster.available() || process.env.CI) ? test.serial : test.serial.skip;
const cli = inRepo('bin/docket.js');

let release: (() => void) | undefined;
test.before(async () => {
  if (backend !== 'postgres' || !(PgCluster.available() || process.env.CI)) return;
  release = await cluster.lock();
  await cluster.start();
});
test.after.always(async () => {
  if (!release) return;
  await cluster.stop();
  release();
});

restarts('under load, a PostgreSQL restart is survived: 503 with Retry-After while down, every accepted job completes after', async (t) => {
  t.timeout(120_000);
  const DATABASE_URL = await cluster.freshDatabase('restart_load');
  const { url } = await startServer(t, { DATABASE_URL });
  const accepted: string[] = [];
  const whileDown: { health: number; upload: number; retryAfter: string | null }[] = [];
  let n = 0;
  const send = async () => {
    const response = await upload(url, { name: `doc-${n}.md`, content: `# Document ${n}\n\n${`Words about restarts, number ${n++}. `.repeat(30)}` });
    if (response.status === 202) accepted.push(response.body.job_id);
    return response;
  };
  // Load before, during and after the outage; stopped however the test ends, so no loop outlives it.
  let loading = true;
  t.teardown(() => void (loading = false));
  const load = (async () => {
    while (loading) await send().catch(() => new Promise((resolve) => setTimeout(resolve, 50)));
  })();
  try {
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await cluster.stop('fast');
    for (let i = 0; i < 5; i++) {
      const health = await getJson(`${url}/health`);
      const form = new FormData();
      form.append('file', new Blob([`# While down ${i}`]), `down-${i}.md`);
      const response = await fetch(`${url}/v1/uploads`, { method: 'POST', body: form });
      await response.body?.cancel();
      whileDown.push({ health: health.status, upload: response.status, retryAfter: response.headers.get('retry-after') });
      t.notRegex(JSON.stringify(health.body), /5498|127\.0\.0\.1|ECONNREFUSED/, '/health says the status, not the connection');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    await cluster.start();
  }
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  loading = false;
  await load;

  t.true(whileDown.every((d) => d.health === 503), JSON.stringify(whileDown));
  t.true(whileDown.every((d) => d.upload === 503 && d.retryAfter !== null), JSON.stringify(whileDown));
  t.is((await getJson(`${url}/health`)).status, 200);
  t.true(accepted.length >= 5, `uploads accepted around the outage: ${accepted.length}`);
  const deadline = Date.now() + 60_000;
  for (const id of accepted) {
    let job = (await getJson(`${url}/v1/jobs/${id}`)).body;
    while (!['complete', 'failed', 'canceled'].includes(job.stage) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      job = (await getJson(`${url}/v1/jobs/${id}`)).body;
    }
    t.is(job.stage, 'complete', JSON.stringify(job.error));
    t.is(job.embedded, job.chunks);
  }
});

restarts('docket worker started while PostgreSQL is down waits for it instead of exiting', async (t) => {
  t.timeout(60_000);
  const DATABASE_URL = await cluster.freshDatabase('restart_wait');
  await cluster.stop('fast');
  const child = spawn('node', [cli, 'worker'], { env: { ...process.env, DATABASE_URL, LOG_LEVEL: 'info' }, stdio: ['ignore', 'ignore', 'pipe'] });
  t.teardown(() => void child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const running = () => stderr.includes('docket worker running');
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  t.is(child.exitCode, null, `still waiting, not exited: ${stderr.slice(-500)}`);
  t.regex(stderr, /database unavailable; waiting for it/);
  await cluster.start();
  const deadline = Date.now() + 20_000;
  while (!running() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  t.true(running(), stderr.slice(-1_000));
  child.kill('SIGTERM');
  t.is(await exited, 0);
});

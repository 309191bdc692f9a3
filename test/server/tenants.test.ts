import test from 'ava';
import { createApp } from '../../server/app.js';
import { listenAddress } from '../../server/cli/serve.js';
import { capturingLogger, silent } from '../helpers/db.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { listen } from '../helpers/listen.js';
import { startServer } from '../helpers/server.js';

failOnLeakedRuntimes();

// One at a time: each test opens its own database (see api.test.ts).
const serial = test.serial;

const ACME = 'acme-key-0123456789abcdef';
const GLOBEX = 'globex-key-0123456789abcdef';
const KEYS = { DOCKET_API_KEYS: `acme:${ACME}, globex:${GLOBEX}` };

const auth = (key: string | undefined): Record<string, string> => (key === undefined ? {} : { authorization: `Bearer ${key}` });

async function get(url: string, key?: string) {
  const response = await fetch(url, { headers: auth(key) });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, any> };
}

async function send(url: string, key: string | undefined, file: { name: string; content: string }) {
  const form = new FormData();
  form.append('file', new Blob([file.content]), file.name);
  const response = await fetch(`${url}/v1/uploads`, { method: 'POST', body: form, headers: auth(key) });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, any> };
}

serial('with keys, every /v1 route needs a bearer key: 401 missing, wrong, malformed or revoked, with WWW-Authenticate; /health stays open', async (t) => {
  const { url, pipeline } = await startServer(t, KEYS, { worker: false });
  t.is((await get(`${url}/health`)).status, 200);
  const refused: [string, Awaited<ReturnType<typeof get>>, string][] = [
    ['no key, list', await get(`${url}/v1/jobs`), 'API_KEY_REQUIRED'],
    ['no key, job', await get(`${url}/v1/jobs/6f1c1d57-9a54-4a44-8a8e-6d2f0e1f4e70`), 'API_KEY_REQUIRED'],
    ['no key, upload', await send(url, undefined, { name: 'a.md', content: '# a' }), 'API_KEY_REQUIRED'],
    ['wrong key', await get(`${url}/v1/jobs`, 'acme-key-0123456789abcdeX'), 'INVALID_API_KEY'],
    ['a prefix of a key', await get(`${url}/v1/jobs`, ACME.slice(0, 10)), 'INVALID_API_KEY'],
  ];
  const basic = await fetch(`${url}/v1/jobs`, { headers: { authorization: `Basic ${Buffer.from(`acme:${ACME}`).toString('base64')}` } });
  refused.push(['Basic, not Bearer', { status: basic.status, headers: basic.headers, body: (await basic.json()) as Record<string, any> }, 'INVALID_AUTHORIZATION']);
  for (const [what, response, code] of refused) {
    t.is(response.status, 401, what);
    t.is(response.body.error.code, code, what);
    t.regex(response.headers.get('www-authenticate') ?? '', /^Bearer/, what);
  }
  t.is((await get(`${url}/v1/jobs`, ACME)).status, 200);
  t.is((await get(`${url}/v1/jobs`, GLOBEX)).status, 200);
  t.deepEqual((await get(`${url}/v1/jobs`, ACME)).body.jobs, [], 'nothing was stored for a refused upload');

  // A key from the table works until it is revoked.
  const made = await pipeline.keys.create('initech', new Date());
  t.regex(made.key, /^dk_[A-Za-z0-9_-]{43}$/);
  t.is((await get(`${url}/v1/jobs`, made.key)).status, 200);
  t.true(await pipeline.keys.revoke(made.id, new Date()));
  t.like(await get(`${url}/v1/jobs`, made.key), { status: 401, body: { error: { code: 'INVALID_API_KEY' } } });
  t.false(await pipeline.keys.revoke(made.id, new Date()), 'revoked once');
  const { rows } = await pipeline.db.query<{ key_sha256: string }>('SELECT key_sha256 FROM upload_pipeline.api_keys');
  t.deepEqual(rows.map((r) => r.key_sha256.length), [64], 'only the digest is stored');
  t.false(JSON.stringify(rows).includes(made.key));
});

serial("tenants are isolated: another tenant's job is 404 (job, chunks) and absent from the list; the same bytes dedupe within a tenant, never across", async (t) => {
  const { url } = await startServer(t, KEYS);
  const content = '# Shared\n\nthe same bytes, uploaded by two tenants';
  const acme = await send(url, ACME, { name: 'a.md', content });
  t.is(acme.status, 202);
  const globex = await send(url, GLOBEX, { name: 'g.md', content });
  t.is(globex.status, 202, 'a new job for the second tenant, not a duplicate of the first');
  t.not(globex.body.job_id, acme.body.job_id);
  const again = await send(url, ACME, { name: 'again.md', content });
  t.is(again.status, 200);
  t.like(again.body, { job_id: acme.body.job_id, duplicate: true });

  const jobUrl = (id: string) => `${url}/v1/jobs/${id}`;
  let done: Record<string, any> = {};
  for (let i = 0; i < 600 && done.stage !== 'complete'; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, 50));
    done = (await get(jobUrl(acme.body.job_id), ACME)).body;
  }
  t.is(done.stage, 'complete');
  t.true(done.chunks > 0);
  t.is((await get(`${jobUrl(acme.body.job_id)}/chunks`, ACME)).body.chunks.length, done.chunks);
  t.like(await get(jobUrl(acme.body.job_id), GLOBEX), { status: 404, body: { error: { code: 'JOB_NOT_FOUND' } } });
  t.like(await get(`${jobUrl(acme.body.job_id)}/chunks`, GLOBEX), { status: 404, body: { error: { code: 'JOB_NOT_FOUND' } } });
  t.like(await get(jobUrl(globex.body.job_id), ACME), { status: 404 });
  // Live events and control answer another tenant's job as they answer no job, and change nothing.
  t.like(await get(`${jobUrl(acme.body.job_id)}/events`, GLOBEX), { status: 404, body: { error: { code: 'JOB_NOT_FOUND' } } });
  for (const [method, path] of [['POST', '/cancel'], ['POST', '/retry'], ['DELETE', '']] as const) {
    const response = await fetch(`${jobUrl(acme.body.job_id)}${path}`, { method, headers: auth(GLOBEX) });
    t.like({ status: response.status, body: await response.json() }, { status: 404, body: { error: { code: 'JOB_NOT_FOUND' } } }, `${method} ${path}`);
  }
  t.like(await get(jobUrl(acme.body.job_id), ACME), { status: 200, body: { stage: 'complete' } }, 'the owner still sees the job as it was');
  // Search: both tenants hold the same chunks; each finds only its own.
  for (let i = 0; i < 600 && (await get(jobUrl(globex.body.job_id), GLOBEX)).body.stage !== 'complete'; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  for (const [key, own] of [[ACME, acme.body.job_id], [GLOBEX, globex.body.job_id]] as const) {
    const response = await fetch(`${url}/v1/search`, { method: 'POST', headers: { ...auth(key), 'content-type': 'application/json' }, body: JSON.stringify({ query: 'the same bytes', k: 10 }) });
    const { results } = (await response.json()) as { results: { job_id: string }[] };
    t.is(response.status, 200);
    t.true(results.length > 0, 'the tenant finds its own chunks');
    t.deepEqual([...new Set(results.map((hit) => hit.job_id))], [own], 'and only those');
  }
  t.deepEqual((await get(`${url}/v1/jobs`, ACME)).body.jobs.map((j: { job_id: string }) => j.job_id), [acme.body.job_id]);
  t.deepEqual((await get(`${url}/v1/jobs`, GLOBEX)).body.jobs.map((j: { job_id: string }) => j.job_id), [globex.body.job_id]);
});

serial("without keys the API is open as tenant 'default', and serve listens on loopback only, whatever HOST says, with a warning", async (t) => {
  const { url, pipeline, config } = await startServer(t, { HOST: '0.0.0.0' }, { worker: false });
  const created = await send(url, undefined, { name: 'open.md', content: '# open' });
  t.is(created.status, 202);
  const { rows } = await pipeline.db.query<{ tenant: string }>('SELECT tenant FROM upload_pipeline.upload_jobs WHERE job_id = $1', [created.body.job_id]);
  t.is(rows[0]!.tenant, 'default');

  const { logger, lines } = capturingLogger();
  t.is(await listenAddress(pipeline, config, logger), '127.0.0.1');
  t.like(lines.find((line) => line.level === 40), { HOST: '0.0.0.0', listening_on: '127.0.0.1' });
  t.regex(String(lines.find((line) => line.level === 40)?.msg), /no API key is configured: the API is open/);
  t.is(await listenAddress(pipeline, { ...config, HOST: '::1' }, silent), '::1', 'a loopback HOST is kept');

  // A server listening beyond loopback refuses every /v1 request while no key exists (fail closed).
  const closed = await listen(t, createApp(pipeline, config, silent, { requireKey: true }));
  t.like(await get(`${closed}/v1/jobs`), { status: 401, body: { error: { code: 'API_KEY_REQUIRED' } } });

  // Once a key exists, HOST is used, and the open server asks for keys too.
  const made = await pipeline.keys.create('acme', new Date());
  t.is(await listenAddress(pipeline, config, silent), '0.0.0.0');
  t.is((await get(`${url}/v1/jobs`)).status, 401);
  t.is((await get(`${url}/v1/jobs`, made.key)).status, 200);
  t.deepEqual((await get(`${url}/v1/jobs`, made.key)).body.jobs, [], "the default tenant's job is not acme's");
});

serial('DOCKET_API_KEYS is checked at start and never echoed', (t) => {
  return import('../../server/config.js').then(({ loadConfig, describeConfig }) => {
    t.deepEqual(loadConfig(KEYS).DOCKET_API_KEYS, [{ tenant: 'acme', key: ACME }, { tenant: 'globex', key: GLOBEX }]);
    const short = t.throws(() => loadConfig({ DOCKET_API_KEYS: 'acme:short' }));
    t.regex(short!.message, /DOCKET_API_KEYS/);
    t.notRegex(short!.message, /short/);
    t.throws(() => loadConfig({ DOCKET_API_KEYS: `no-tenant-${ACME}` }), { message: /DOCKET_API_KEYS/ });
    t.notRegex(JSON.stringify(describeConfig(loadConfig(KEYS))), new RegExp(ACME));
  });
});

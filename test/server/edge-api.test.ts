// Regressions from the fuzzing of `docket serve`: list parameters and webhooks that reached the
// database and came back as 500s; a database out of reach answered 500 instead of 503, and /health
// showed its raw error.
import { createServer, connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { backend, capturingLogger, freshDatabase } from '../helpers/db.js';
import { getJson, upload } from '../helpers/server.js';
import { webhookToken } from '../helpers/webhook-token.js';
import { assertErrorBody, send, startEdgeServer } from './raw-http.js';

failOnLeakedRuntimes();

const serial = test.serial;
const cursor = (text: string) => Buffer.from(text).toString('base64url');
const UUID = '6f1c1d57-9a54-4a44-8a8e-6d2f0e1f4e70';

async function expect(t: ExecutionContext, response: { status: number; body: string }, status: number, code: string, what: string) {
  t.is(response.status, status, `${what}: ${response.body.slice(0, 300)}`);
  assertErrorBody(t, response, what);
  if (response.status === status) t.is(JSON.parse(response.body).error.code, code, what);
}

// Regression: a cursor whose id was not a uuid (22P02), or whose date PostgreSQL cannot hold (22008), was a 500.
serial('list cursors are checked in full: base64url, a real uuid, a date in range (was: 500)', async (t) => {
  const { url } = await startEdgeServer(t, {}, { worker: false });
  const bad: [string, string][] = [
    ['not a uuid', cursor('2024-01-01T00:00:00.000Z|not-a-uuid-at-all-but-36-chars-long')],
    ['no id', cursor('2024-01-01T00:00:00.000Z|')],
    ['NUL after the id', cursor(`2024-01-01T00:00:00.000Z|${UUID}\u0000`)],
    ['a date before 4713 BC', cursor(`-271821-04-20T00:00:00.000Z|${UUID}`)],
    ['the last date JavaScript knows', cursor(`+275760-09-13T00:00:00.000Z|${UUID}`)],
    ['February 30th', cursor(`2024-02-30T00:00:00.000Z|${UUID}`)],
    ['not base64url', 'a+b/c=='],
    ['garbage', 'garbage'],
    ['too long', 'A'.repeat(5000)],
  ];
  for (const [what, value] of bad) await expect(t, await send(url, 'GET', `/v1/jobs?cursor=${encodeURIComponent(value)}`), 400, 'INVALID_CURSOR', what);
  t.is((await send(url, 'GET', `/v1/jobs?cursor=${cursor(`2024-01-01T00:00:00.000Z|${UUID}`)}`)).status, 200, 'a well-formed cursor');
  for (const query of ['limit=abc', 'limit=0', 'limit=201', 'limit=1e400', 'limit=1&limit=2', 'stage=%00', 'stage=queued&stage=failed', 'cursor=a&cursor=b']) {
    await expect(t, await send(url, 'GET', `/v1/jobs?${query}`), 400, 'INVALID_QUERY', query);
  }
  await expect(t, await send(url, 'GET', '/v1/jobs/%FF'), 400, 'BAD_REQUEST', 'an id that is not UTF-8');
  await expect(t, await send(url, 'GET', `/v1/jobs/${UUID}%00`), 400, 'INVALID_JOB_ID', 'an id with NUL');
});

// Regression: NUL or a lone surrogate in event_id / data.job_id reached the database (22021, 22P05), and a v1
// push nested 5,000 deep was a 500.
serial('webhooks with NUL, lone surrogates, deep nesting, bad JSON or charset answer 4xx; replays are applied once (was: 500)', async (t) => {
  const { url, pipeline } = await startEdgeServer(t, {}, { worker: false });
  const { body: created } = await upload(url, { name: 'a.md', content: '# hello' });
  const post = (body: string, query = '', type = 'application/json') => send(url, 'POST', `/webhooks/llamaparse${query}`, { 'Content-Type': type }, body);
  const event = (fields: Record<string, unknown>) => JSON.stringify({ event_id: 'e1', event_type: 'parse.success', data: { job_id: 'lp-1' }, ...fields });
  await expect(t, await post(event({ event_id: 'e\u0000' })), 400, 'INVALID_WEBHOOK', 'NUL in event_id');
  await expect(t, await post(event({ data: { job_id: 'lp\u0000' } })), 400, 'INVALID_WEBHOOK', 'NUL in data.job_id');
  await expect(t, await post('{"event_id":"\\ud800","event_type":"parse.success","data":{"job_id":"x"}}'), 400, 'INVALID_WEBHOOK', 'a lone surrogate');
  await expect(t, await post(event({ event_type: 'parse.\u0000' })), 400, 'INVALID_WEBHOOK', 'NUL in event_type');
  await expect(t, await post(event({ event_id: 'e'.repeat(300) })), 400, 'INVALID_WEBHOOK', 'an event_id of 300 characters');
  const deepPush = `{"md":"x","json":${'['.repeat(5000)}${']'.repeat(5000)}}`;
  await expect(t, await post(deepPush, `?job_id=${created.job_id}`), 400, 'INVALID_WEBHOOK', 'a v1 push 5,000 deep');
  await expect(t, await post(JSON.stringify(deepPush), `?job_id=${created.job_id}`), 400, 'INVALID_WEBHOOK', 'the same as a JSON string');
  await expect(t, await post(event({ data: { job_id: 'lp-1', extra: JSON.parse(`${'['.repeat(64)}${']'.repeat(64)}`) } })), 400, 'INVALID_WEBHOOK', '65 levels');
  await expect(t, await post('{"event_id": '), 400, 'INVALID_WEBHOOK', 'not JSON');
  await expect(t, await post('', `?job_id=${created.job_id}`), 400, 'INVALID_WEBHOOK', 'empty');
  await expect(t, await post('[1,2]'), 400, 'INVALID_WEBHOOK', 'an array');
  await expect(t, await post(event({}), '', 'application/json; charset=utf-16'), 415, 'UNSUPPORTED_CHARSET', 'UTF-16');
  await expect(t, await post(event({}), '?job_id=nope'), 400, 'INVALID_QUERY', 'a job_id that is not a uuid');
  // Replayed and out of order: the same event twice, then an older one; each committed once, none refused.
  const token = await webhookToken(pipeline, created.job_id);
  const ok = (fields: Record<string, unknown>) => post(event({ data: { job_id: 'lp-1' }, ...fields }), `?job_id=${created.job_id}&token=${token}`);
  t.is((await ok({ event_id: 'e2', event_type: 'parse.success' })).status, 200);
  t.like(JSON.parse((await ok({ event_id: 'e2', event_type: 'parse.success' })).body), { received: true, ignored: 'duplicate' });
  t.is((await ok({ event_id: 'e1', event_type: 'parse.pending' })).status, 200);
  const { rows } = await pipeline.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM docket.events WHERE instance_id = $1`, [created.job_id]);
  t.is(rows[0]!.n, 2);
});

serial('a webhook body over 50 MiB answers 413 BODY_TOO_LARGE', async (t) => {
  const { url } = await startEdgeServer(t, {}, { worker: false });
  const huge = JSON.stringify({ md: 'x'.repeat(50 * 1024 * 1024) });
  const response = await send(url, 'POST', '/webhooks/llamaparse', { 'Content-Type': 'application/json' }, huge);
  await expect(t, response, 413, 'BODY_TOO_LARGE', '50 MiB and a bit');
});

// Regression: a database out of reach was answered 500 INTERNAL.
serial('a database out of reach answers 503 DATABASE_UNAVAILABLE with Retry-After, never 500', async (t) => {
  const { url, pipeline } = await startEdgeServer(t, {}, { worker: false });
  const refused = () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED 10.11.12.13:5432'), { code: 'ECONNREFUSED' }));
  pipeline.store.jobs = refused;
  pipeline.store.job = refused;
  pipeline.store.jobFor = refused;
  pipeline.submit = refused;
  for (const [what, response] of [
    ['list', await send(url, 'GET', '/v1/jobs')],
    ['one job', await send(url, 'GET', `/v1/jobs/${UUID}`)],
    ['upload', await send(url, 'POST', '/v1/uploads', { 'Content-Type': 'multipart/form-data; boundary=b' }, '--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhello\r\n--b--\r\n')],
  ] as const) {
    await expect(t, response, 503, 'DATABASE_UNAVAILABLE', what);
    t.is(response.headers['retry-after'], '5', what);
    t.false(response.body.includes('10.11.12.13'), `${what}: the address stays in the log`);
  }
  // Anything else is still a bug, and a 500 that says nothing of itself.
  pipeline.store.jobs = () => Promise.reject(Object.assign(new Error('relation "x" does not exist at /work/x.ts:1:1'), { code: '42P01' }));
  const bug = await send(url, 'GET', '/v1/jobs');
  t.is(bug.status, 500);
  assertErrorBody(t, bug, 'a bug');
});

// Regression: /health answered the raw database error, with its host and port.
serial('/health says status, kind and latency; the raw error goes to the log', async (t) => {
  const { logger, lines } = capturingLogger();
  const { url, pipeline } = await startEdgeServer(t, {}, { logger, worker: false });
  const ok = JSON.parse((await send(url, 'GET', '/health')).body);
  t.deepEqual(Object.keys(ok.database).sort(), ['kind', 'latency_ms', 'status']);
  pipeline.db.query = () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED 10.11.12.13:6543'), { code: 'ECONNREFUSED' }));
  const down = await send(url, 'GET', '/health');
  t.is(down.status, 503);
  t.is(down.headers['retry-after'], '5');
  t.deepEqual(JSON.parse(down.body), { status: 'unavailable', database: { status: 'error', kind: pipeline.db.kind, latency_ms: JSON.parse(down.body).database.latency_ms } });
  t.false(down.body.includes('10.11.12.13'));
  t.true(JSON.stringify(lines).includes('10.11.12.13:6543'), 'the error is in the log');
});

/** A TCP proxy to PostgreSQL that the test can cut and restore: the database going away for real. */
async function cuttableProxy(t: ExecutionContext, target: URL) {
  const sockets = new Set<Socket>();
  let server = createServer();
  const open = (port = 0) =>
    new Promise<number>((resolve) => {
      server = createServer((client) => {
        const upstream = connect(Number(target.port || 5432), target.hostname);
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on('error', () => (client.destroy(), upstream.destroy()));
          socket.on('close', () => (sockets.delete(socket), client.destroy(), upstream.destroy()));
        }
        client.pipe(upstream).pipe(client);
      }).listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
    });
  const port = await open();
  const cut = () => new Promise<void>((resolve) => (server.close(() => resolve()), sockets.forEach((s) => s.destroy())));
  t.teardown(cut);
  return { port, cut, restore: () => open(port) };
}

(backend === 'postgres' ? serial : serial.skip)('PostgreSQL cut off: /health and the API answer 503 without the address, and recover', async (t) => {
  const database = new URL(await freshDatabase(t));
  const proxy = await cuttableProxy(t, database);
  const proxied = new URL(database);
  proxied.port = String(proxy.port);
  const { url } = await startEdgeServer(t, { DATABASE_URL: proxied.toString() }, { worker: false });
  t.is((await getJson(`${url}/health`)).status, 200);
  await proxy.cut();
  const health = await send(url, 'GET', '/health');
  t.is(health.status, 503);
  t.deepEqual(Object.keys(JSON.parse(health.body).database).sort(), ['kind', 'latency_ms', 'status']);
  t.false(health.body.includes(String(proxy.port)), 'no port in the body');
  const list = await send(url, 'GET', '/v1/jobs');
  await expect(t, list, 503, 'DATABASE_UNAVAILABLE', 'list while cut off');
  t.false(list.body.includes(String(proxy.port)));
  await proxy.restore();
  const back = await getJson(`${url}/health`);
  t.is(back.status, 200, 'back when the database is');
  t.is((await send(url, 'GET', '/v1/jobs')).status, 200);
});

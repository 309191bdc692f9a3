// Regressions from the fuzzing of `docket serve`: list parameters and webhooks that reached the
// database and came back as 500s.
import test, { type ExecutionContext } from 'ava';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { upload } from '../helpers/server.js';
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
  const ok = (fields: Record<string, unknown>) => post(event({ data: { job_id: 'lp-1' }, ...fields }), `?job_id=${created.job_id}`);
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

import test from 'ava';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyCallbackSignature } from '../../adapters/callback/signature.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { encryptedPdf } from '../fixtures/documents.js';
import { getJson, startServer, until, upload } from '../helpers/server.js';

failOnLeakedRuntimes();

const serial = test.serial;
const SECRET = 'test-callback-secret-0123456789';
/** Callbacks to a loopback receiver, retried after 20 ms rather than 5 s. */
const CALLBACKS = { DOCKET_CALLBACK_SECRET: SECRET, DOCKET_CALLBACK_ALLOW_PRIVATE: 'true', DOCKET_CALLBACK_BACKOFF_MS: '20' };

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  answered: number;
}

/** A client's callback receiver on loopback: answers each POST with the next status of `script`, then 200. */
async function receiver(t: { teardown(fn: () => Promise<void>): void }, script: number[] = []) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const answered = script.shift() ?? 200;
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), answered });
      res.writeHead(answered, { 'content-type': 'application/json' }).end('{}');
    });
  }).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  t.teardown(() => new Promise((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/docket?x=1`, received };
}

async function delivered(received: Received[]): Promise<Received> {
  for (let i = 0; i < 600; i++) {
    const ok = received.find((r) => r.answered === 200);
    if (ok) return ok;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no callback answered 200; got ${received.map((r) => r.answered).join(', ') || 'none'}`);
}

serial('a finished job is POSTed to its callback URL, signed, and retried durably after the receiver answers 500', async (t) => {
  const hook = await receiver(t, [500, 503, 500]);
  const { url, pipeline } = await startServer(t, CALLBACKS);
  const created = await upload(url, { name: 'notes.md', content: '# Notes\n\nSomething to call back about.\n' }, { callback_url: hook.url, metadata: '{"ref":"abc"}' });
  t.is(created.status, 202);
  const jobId = created.body.job_id;
  const ok = await delivered(hook.received);

  t.deepEqual(hook.received.map((r) => r.answered), [500, 503, 500, 200], 'three failed attempts, then delivered; no more after');
  t.is(new Set(hook.received.map((r) => r.headers['x-docket-delivery'])).size, 1, 'one delivery id across retries, for the receiver to drop repeats');
  t.is(ok.headers['x-docket-event'], 'job.complete');
  t.is(ok.headers['content-type'], 'application/json');
  t.true(verifyCallbackSignature(SECRET, ok.headers['x-docket-signature'] as string, ok.body), 'the signature verifies with the secret');
  t.false(verifyCallbackSignature('another-secret-0123456789', ok.headers['x-docket-signature'] as string, ok.body), 'and with no other');
  t.false(verifyCallbackSignature(SECRET, ok.headers['x-docket-signature'] as string, ok.body.replace('complete', 'failed')), 'nor over other bytes');
  t.false(verifyCallbackSignature(SECRET, ok.headers['x-docket-signature'] as string, ok.body, { nowSeconds: Math.floor(Date.now() / 1000) + 3600 }), 'nor an hour later (a replay)');

  const job = JSON.parse(ok.body);
  const { body: api } = await getJson(`${url}/v1/jobs/${jobId}`);
  const { history: _history, ...view } = api;
  t.deepEqual(job, view, "the body is the job as GET /v1/jobs/:id shows it, without the history");
  t.like(job, { job_id: jobId, stage: 'complete', metadata: { ref: 'abc' } });

  const [effect] = await pipeline.db.query<{ status: string; attempts: number; kind: string }>(
    `SELECT status, attempts, kind FROM docket.effects WHERE instance_id = $1 AND service = 'notifyClient'`,
    [jobId],
  ).then((r) => r.rows);
  t.deepEqual(effect, { status: 'done', attempts: 4, kind: 'action' }, 'an outbox effect of the runtime, retried with backoff');
});

serial('a failed job calls back too; a job without a callback URL makes no callback effect', async (t) => {
  const hook = await receiver(t);
  const { url, pipeline } = await startServer(t, CALLBACKS);
  const failed = await upload(url, { name: 'locked.pdf', content: await encryptedPdf() }, { callback_url: hook.url });
  const ok = await delivered(hook.received);
  t.is(ok.headers['x-docket-event'], 'job.failed');
  t.like(JSON.parse(ok.body), { job_id: failed.body.job_id, stage: 'failed', error: { code: 'PDF_ENCRYPTED' } });

  const plain = await upload(url, { name: 'plain.txt', content: 'no callback for this one' });
  await until(`${url}/v1/jobs/${plain.body.job_id}`, (body) => body.stage === 'complete');
  const { rows } = await pipeline.db.query(`SELECT 1 FROM docket.effects WHERE instance_id = $1 AND service = 'notifyClient'`, [plain.body.job_id]);
  t.is(rows.length, 0);
  t.is(hook.received.length, 1);
});

serial('callback URLs on loopback, private or reserved addresses are refused with 400 unless allowed; nothing is stored', async (t) => {
  const { url } = await startServer(t, { DOCKET_CALLBACK_SECRET: SECRET }, { worker: false });
  const file = { name: 'a.txt', content: 'hello' };
  for (const [callback, why] of [
    ['http://127.0.0.1:8080/hook', 'loopback'],
    ['http://localhost/hook', 'a name for loopback'],
    ['http://[::1]/hook', 'IPv6 loopback'],
    ['http://[::ffff:10.1.2.3]/hook', 'IPv4-mapped private'],
    ['http://10.0.0.7/hook', 'private'],
    ['http://192.168.1.1/hook', 'private'],
    ['http://169.254.169.254/latest/meta-data', 'link-local (cloud metadata)'],
    ['http://100.64.0.1/', 'shared address space'],
    ['http://0.0.0.0/', 'unspecified'],
  ] as const) {
    const refused = await upload(url, file, { callback_url: callback });
    t.is(refused.status, 400, why);
    t.is(refused.body.error.code, 'CALLBACK_URL_REFUSED', why);
    t.regex(refused.body.error.message, /DOCKET_CALLBACK_ALLOW_PRIVATE/, why);
  }
  for (const [callback, pattern] of [
    ['ftp://example.com/x', /http or https/],
    ['not a url', /absolute URL/],
    ['http://user:pw@example.com/', /user name or password/],
    [`http://example.com/${'a'.repeat(2100)}`, /longer than 2048/],
  ] as const) {
    const refused = await upload(url, file, { callback_url: callback });
    t.is(refused.status, 400, callback.slice(0, 40));
    t.is(refused.body.error.code, 'CALLBACK_URL_REFUSED');
    t.regex(refused.body.error.message, pattern);
  }
  t.deepEqual((await getJson(`${url}/v1/jobs`)).body.jobs, [], 'nothing stored for a refused upload');
});

serial('without DOCKET_CALLBACK_SECRET an upload with a callback URL is refused', async (t) => {
  const { url } = await startServer(t, {}, { worker: false });
  const refused = await upload(url, { name: 'a.txt', content: 'hello' }, { callback_url: 'https://example.com/hook' });
  t.like(refused, { status: 400, body: { error: { code: 'CALLBACKS_DISABLED' } } });
  const repeated = await upload(url, { name: 'a.txt', content: 'hello' }, { callback_url: 'https://example.com/hook', metadata: '{}', other: 'x' });
  t.is(repeated.body.error.code, 'UNKNOWN_FIELD');
});

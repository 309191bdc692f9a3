import test from 'ava';
import { signLlamaCloudWebhook } from '../../adapters/llamaparse/webhook.js';
import type { Pipeline } from '../../pipeline/index.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { startServerWithMocks } from '../helpers/mocked-server.js';
import { startServer, until, upload } from '../helpers/server.js';
import { webhookToken } from '../helpers/webhook-token.js';

failOnLeakedRuntimes();

// One at a time: each test opens its own database (see api.test.ts).
const serial = test.serial;

const SECRET = 'whsec-0123456789abcdef';

async function post(url: string, path: string, body: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

/** The events the job's inbox holds: with no workers, every accepted callback stays there. */
async function inbox(pipeline: Pipeline, jobId: string): Promise<number> {
  const { rows } = await pipeline.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM docket.events WHERE instance_id = $1 AND event->>'type' = 'PARSE_CALLBACK'`, [jobId]);
  return rows[0]!.n;
}

const event = (id: string, timestamp: number) => JSON.stringify({ event_id: id, event_type: 'parse.success', timestamp, data: { id: 'lp-1', job_id: 'lp-1' } });

serial('signed webhooks (LLAMA_CLOUD_WEBHOOK_SECRET): unsigned, forged, re-signed with another secret or stale → 401 and nothing changes; a valid signature → 200', async (t) => {
  const { url, pipeline } = await startServer(t, { LLAMA_CLOUD_WEBHOOK_SECRET: SECRET }, { worker: false });
  const { body: created } = await upload(url, { name: 'a.md', content: '# hello' });
  const path = `/webhooks/llamaparse?job_id=${created.job_id}`;
  const now = Date.now() / 1000;
  const fresh = event('evt-1', now);
  const refused: [string, Awaited<ReturnType<typeof post>>, string][] = [
    ['unsigned', await post(url, path, fresh), 'WEBHOOK_SIGNATURE_MISSING'],
    ['a signature of another body', await post(url, path, fresh, { 'LC-Signature': signLlamaCloudWebhook(event('evt-2', now), SECRET) }), 'WEBHOOK_SIGNATURE_INVALID'],
    ['signed with another secret', await post(url, path, fresh, { 'LC-Signature': signLlamaCloudWebhook(fresh, 'not-the-secret-at-all') }), 'WEBHOOK_SIGNATURE_INVALID'],
    ['not sha256=<hex>', await post(url, path, fresh, { 'LC-Signature': 'v1=abc' }), 'WEBHOOK_SIGNATURE_INVALID'],
    ['the body changed after signing', await post(url, path, `${fresh} `, { 'LC-Signature': signLlamaCloudWebhook(fresh, SECRET) }), 'WEBHOOK_SIGNATURE_INVALID'],
    ['replayed 10 minutes later', await post(url, path, event('evt-3', now - 600), { 'LC-Signature': signLlamaCloudWebhook(event('evt-3', now - 600), SECRET) }), 'WEBHOOK_REPLAYED'],
    ['dated 10 minutes ahead', await post(url, path, event('evt-4', now + 600), { 'LC-Signature': signLlamaCloudWebhook(event('evt-4', now + 600), SECRET) }), 'WEBHOOK_REPLAYED'],
  ];
  const noTimestamp = JSON.stringify({ event_id: 'evt-5', event_type: 'parse.success', data: { job_id: 'lp-1' } });
  refused.push(['a signed event without a timestamp', await post(url, path, noTimestamp, { 'LC-Signature': signLlamaCloudWebhook(noTimestamp, SECRET) }), 'WEBHOOK_REPLAYED']);
  for (const [what, response, code] of refused) {
    t.is(response.status, 401, what);
    t.is(response.body.error.code, code, what);
  }
  t.is(await inbox(pipeline, created.job_id), 0, 'nothing was committed');

  const signed = { 'LC-Signature': signLlamaCloudWebhook(fresh, SECRET) };
  t.like(await post(url, path, fresh, signed), { status: 200, body: { received: true, job_id: created.job_id } });
  t.like(await post(url, path, fresh, signed), { status: 200, body: { ignored: 'duplicate' } }, "LlamaCloud's retry of the same delivery, within the window");
  t.is(await inbox(pipeline, created.job_id), 1);
});

serial("unsigned mode: the callback URL's per-job token is required; a wrong or missing token, or another job's, is 401 and changes nothing", async (t) => {
  const { url, pipeline } = await startServer(t, {}, { worker: false });
  const { body: one } = await upload(url, { name: 'one.md', content: '# one' });
  const { body: two } = await upload(url, { name: 'two.md', content: '# two' });
  const tokenOne = await webhookToken(pipeline, one.job_id);
  const tokenTwo = await webhookToken(pipeline, two.job_id);
  const body = event('evt-1', Date.now() / 1000);
  for (const [what, query] of [
    ['no token', `?job_id=${one.job_id}`],
    ['a wrong token', `?job_id=${one.job_id}&token=${tokenOne.slice(0, -2)}xx`],
    ["another job's token", `?job_id=${one.job_id}&token=${tokenTwo}`],
    ['a token without its job', `?token=${tokenOne}`],
  ] as const) {
    t.like(await post(url, `/webhooks/llamaparse${query}`, body), { status: 401, body: { error: { code: 'WEBHOOK_TOKEN_INVALID' } } }, what);
  }
  t.is(await inbox(pipeline, one.job_id), 0);
  t.like(await post(url, `/webhooks/llamaparse?job_id=${one.job_id}&token=${tokenOne}`, body), { status: 200, body: { received: true } });
  t.is(await inbox(pipeline, one.job_id), 1);
  t.is(await inbox(pipeline, two.job_id), 0);
});

serial('a callback for a job that has ended is a replay: 401, and the job is unchanged', async (t) => {
  const { url, pipeline } = await startServer(t);
  const { body: created } = await upload(url, { name: 'done.md', content: '# done' });
  const done = await until(`${url}/v1/jobs/${created.job_id}`, (job) => job.stage === 'complete');
  const token = await webhookToken(pipeline, created.job_id);
  const replayed = await post(url, `/webhooks/llamaparse?job_id=${created.job_id}&token=${token}`, event('evt-late', Date.now() / 1000));
  t.like(replayed, { status: 401, body: { error: { code: 'WEBHOOK_REPLAYED' } } });
  const after = await until(`${url}/v1/jobs/${created.job_id}`, () => true);
  t.deepEqual(after.history, done.history);
  t.is(await inbox(pipeline, created.job_id), 0);
});

serial('through the LlamaParse mock: signed event webhooks with a secret, tokened URLs without; each accepted and the job completes', async (t) => {
  const envs: Record<string, string>[] = [{ LLAMA_CLOUD_WEBHOOK_SECRET: SECRET }, {}];
  for (const env of envs) {
    const signed = 'LLAMA_CLOUD_WEBHOOK_SECRET' in env;
    const { url, llamaparse, pipeline } = await startServerWithMocks(t, env);
    const { body: created } = await upload(url, { name: 'a.md', content: `# Called back\n\n${signed ? 'signed' : 'tokened'}` });
    t.is((await until(`${url}/v1/jobs/${created.job_id}`, (job) => ['complete', 'failed'].includes(job.stage))).stage, 'complete');
    const [job] = [...llamaparse.jobs.values()];
    t.is(job!.webhook !== null, signed, 'a webhook configuration with its secret only when signed');
    t.is(job!.webhookUrl !== null, !signed);
    if (!signed) t.regex(job!.webhookUrl!, new RegExp(`job_id=${created.job_id}&token=[A-Za-z0-9_-]{43}$`));
    else t.is(job!.webhook!.webhook_signing_secret, SECRET);
    t.true(llamaparse.deliveries.length >= 1);
    t.true(llamaparse.deliveries.every((d) => d.status === 200), JSON.stringify(llamaparse.deliveries));
    const callbacks = (await pipeline.runtime.history(created.job_id)).filter((h) => h.event.type === 'PARSE_CALLBACK');
    t.is(callbacks.length, 1, 'the webhook moved the job');
  }
});

import test from 'ava';
import { get as httpGet } from 'node:http';
import { UPLOAD_STAGES } from '../../machines/upload.js';
import { DASHBOARD_CSP } from '../../server/routes/dashboard.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { startServer } from '../helpers/server.js';

failOnLeakedRuntimes();

// One at a time: each test opens its own database (see api.test.ts).
const serial = test.serial;

const ACME = 'acme-key-0123456789abcdef';
const GLOBEX = 'globex-key-0123456789abcdef';
const auth = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });

async function send(url: string, name: string, content: string, key?: string) {
  const form = new FormData();
  form.append('file', new Blob([content]), name);
  const response = await fetch(`${url}/v1/uploads`, { method: 'POST', body: form, headers: key ? auth(key) : {} });
  return (await response.json()) as { job_id: string };
}

serial('GET /dashboard serves the page, its script and stylesheet with a strict CSP; the page carries the machine diagram with every stage', async (t) => {
  const { url } = await startServer(t, {}, { worker: false });
  const page = await fetch(`${url}/dashboard`);
  t.is(page.status, 200);
  t.is(page.headers.get('content-type'), 'text/html; charset=utf-8');
  t.is(page.headers.get('content-security-policy'), DASHBOARD_CSP);
  t.regex(DASHBOARD_CSP, /script-src 'self';/);
  t.notRegex(DASHBOARD_CSP, /unsafe-inline|unsafe-eval/);
  t.is(page.headers.get('x-content-type-options'), 'nosniff');
  t.is(page.headers.get('x-frame-options'), 'DENY');
  t.is(page.headers.get('referrer-policy'), 'no-referrer');
  const html = await page.text();
  // Nothing inline that the CSP would block: no inline script or style, no style attribute.
  t.notRegex(html, /<script(?![^>]*\ssrc=)[^>]*>/);
  t.notRegex(html, /<style|\sstyle="/);
  t.regex(html, /<svg id="upload"/);
  for (const stage of UPLOAD_STAGES) t.regex(html, new RegExp(`data-state="${stage}"`), `the diagram has a node for ${stage}`);

  const script = await fetch(`${url}/dashboard/dashboard.js`);
  t.is(script.headers.get('content-type'), 'text/javascript; charset=utf-8');
  t.is(script.headers.get('content-security-policy'), DASHBOARD_CSP);
  t.regex(await script.text(), /textContent/);
  const css = await fetch(`${url}/dashboard/dashboard.css`);
  t.is(css.headers.get('content-type'), 'text/css; charset=utf-8');
  t.regex(await css.text(), /#upload \.is-current/);

  const slash = await fetch(`${url}/dashboard/`);
  t.is(slash.status, 200);
  const etag = page.headers.get('etag')!;
  t.truthy(etag);
  // node:http, not fetch: fetch turns a request with If-None-Match into Cache-Control: no-cache.
  const revalidated = await new Promise<number | undefined>((resolve, reject) =>
    httpGet(`${url}/dashboard`, { headers: { 'if-none-match': etag } }, (response) => resolve(response.resume().statusCode)).on('error', reject),
  );
  t.is(revalidated, 304, 'revalidation by ETag');
  const missing = await fetch(`${url}/dashboard/nothing.js`);
  t.is(missing.status, 404);
  t.like(await missing.json(), { error: { code: 'NOT_FOUND' } });
});

serial('GET /v1/stats counts the caller\'s jobs by stage, every stage listed; another tenant\'s jobs are not counted', async (t) => {
  const { url, pipeline } = await startServer(t, { DOCKET_API_KEYS: `acme:${ACME},globex:${GLOBEX}` });
  const acme = await Promise.all([send(url, 'a.md', '# a\n\nalpha', ACME), send(url, 'b.md', '# b\n\nbeta', ACME)]);
  const globex = await send(url, 'c.md', '# c\n\ngamma', GLOBEX);
  for (const job of [...acme, globex]) await pipeline.runtime.waitFor(job.job_id, (state) => state.status === 'done');
  const stats = async (key?: string, query = '') => {
    const response = await fetch(`${url}/v1/stats${query}`, { headers: key ? auth(key) : {} });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  };
  const mine = await stats(ACME);
  t.is(mine.status, 200);
  t.deepEqual(Object.keys(mine.body.stages), [...UPLOAD_STAGES], 'every stage, in the machine\'s order');
  t.like(mine.body, { jobs: 2, stages: { complete: 2, failed: 0, queued: 0 } });
  t.like((await stats(GLOBEX)).body, { jobs: 1, stages: { complete: 1 } });
  t.like(await stats(), { status: 401, body: { error: { code: 'API_KEY_REQUIRED' } } });
  t.like(await stats(ACME, '?stage=complete'), { status: 400, body: { error: { code: 'INVALID_QUERY' } } });
});

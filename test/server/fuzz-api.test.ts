// Property tests of the rest of the API against the real server over real sockets: list and lookup
// parameters (ids, cursors, limits, stage), webhooks (random, deep, huge, replayed, out of order),
// and raw requests with hostile request lines and Host, Origin and Sec-Fetch-Site headers.
// Invariants: never a 5xx or a crash, errors as JSON without leaks, the server up after each
// request, each distinct webhook delivery committed once.
import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { upload } from '../helpers/server.js';
import { webhookToken } from '../helpers/webhook-token.js';
import { checkAlive, checkResponse, deepJson, fuzzParameters, hostileJson, hostileString, Tally } from './fuzz-kit.js';
import { rawExchange, send, startEdgeServer } from './raw-http.js';

failOnLeakedRuntimes();

const serial = test.serial;
const backendName = process.env.DOCKET_TEST_BACKEND ?? 'pglite';
/** Every byte percent-encoded: any text as a path segment or query value. */
const pct = (text: string) => [...Buffer.from(text)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
const b64 = (text: string) => Buffer.from(text).toString('base64url');

/** A server without workers (committed events stay countable) and three queued jobs. */
async function setUp(t: ExecutionContext) {
  const server = await startEdgeServer(t, {}, { worker: false });
  const tally = new Tally(t);
  const jobs: string[] = [];
  for (let i = 0; i < 3; i++) jobs.push((await upload(server.url, { name: `${i}.md`, content: `# job ${i}` })).body.job_id);
  const call = async (method: string, path: string, headers: Record<string, string>, body: string | undefined, what: () => string) => {
    const response = await send(server.url, method, path, headers, body);
    tally.count(response.status);
    checkResponse(response, what);
    return response;
  };
  return { server, tally, jobs, uuid: fc.oneof(fc.constantFrom(...jobs), fc.uuid()), call };
}

/** Runs the property, then logs the figures and holds them to 0 × 5xx and 0 crashes. */
async function fuzz(t: ExecutionContext, tally: Tally, label: string, run: () => Promise<void>) {
  try {
    await run();
  } finally {
    tally.report(t, `${label} (${backendName})`);
  }
  t.is(tally.serverErrors, 0);
  t.is(tally.crashes, 0);
}

serial('fuzz: list and lookup parameters (ids, cursors, limits, stage) never get a 5xx', async (t) => {
  const { server, tally, uuid, call } = await setUp(t);
  const cursor = fc.oneof(
    hostileString(),
    fc.tuple(fc.date({ noInvalidDate: true }), uuid).map(([date, id]) => b64(`${date.toISOString()}|${id}`)),
    fc.tuple(fc.integer({ min: -300_000, max: 300_000 }), fc.oneof(uuid, hostileString(40))).map(([year, id]) => b64(`${year}-01-01T00:00:00.000Z|${id}`)),
  );
  const query = fc.record({
    stage: fc.option(fc.oneof(fc.constantFrom('queued', 'complete', 'failed'), hostileString())),
    limit: fc.option(fc.oneof(fc.integer().map(String), hostileString())),
    cursor: fc.option(cursor),
  });
  const path = fc.oneof(
    fc.tuple(fc.oneof(uuid, hostileString()), fc.constantFrom('', '/chunks')).map(([id, tail]) => `/v1/jobs/${pct(id)}${tail}`),
    query.map((q) => `/v1/jobs?${Object.entries(q).flatMap(([k, v]) => (v === null ? [] : [`${k}=${pct(v)}`])).join('&')}`),
  );
  await fuzz(t, tally, 'parameters', () =>
    fc.assert(
      fc.asyncProperty(path, async (p) => {
        await call('GET', p, {}, undefined, () => `GET ${p}`);
        await checkAlive(server.url, tally);
      }),
      fuzzParameters(150),
    ),
  );
});

const hostileBody = fc.oneof(
  hostileJson.map((value) => JSON.stringify(value) ?? 'null'),
  fc.record({ event_id: hostileString(), event_type: fc.oneof(fc.constant('parse.success'), hostileString()), data: fc.record({ job_id: hostileString() }) }).map((v) => JSON.stringify(v)),
  fc.record({ md: fc.option(hostileString(), { nil: undefined }), json: fc.option(fc.array(hostileJson, { maxLength: 3 }), { nil: undefined }) }).map((v) => JSON.stringify(v)),
  deepJson(10_000).map((deep) => `{"md":"x","json":[${deep}]}`),
  fc.integer({ min: 100_000, max: 3_000_000 }).map((n) => JSON.stringify({ md: 'x'.repeat(n) })),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }).map((text) => JSON.stringify(JSON.stringify({ event_id: text }))),
);

serial('fuzz: webhooks (random, deep, huge, replayed, out of order) never get a 5xx; each distinct delivery is committed once', async (t) => {
  const { server, tally, jobs, uuid, call } = await setUp(t);
  // The jobs were never submitted to LlamaParse: give each the token its callback URL would carry.
  const tokens = new Map<string, string>();
  for (const job of jobs) tokens.set(job, await webhookToken(server.pipeline, job));
  const seen = new Set<string>();
  let committed = 0;
  const modelled = fc.oneof(
    fc.record({ kind: fc.constant('event' as const), job: fc.constantFrom(...jobs), id: fc.constantFrom('e1', 'e2', 'e3'), type: fc.constantFrom('parse.pending', 'parse.success', 'parse.error') }),
    fc.record({ kind: fc.constant('push' as const), job: fc.constantFrom(...jobs), md: fc.constantFrom('# a', '# b') }),
  );
  const hostile = fc.record({
    kind: fc.constant('hostile' as const),
    body: hostileBody,
    query: fc.option(fc.oneof(uuid, hostileString())),
    type: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'application/json; charset=latin1', 'text/plain'),
  });
  await fuzz(t, tally, 'webhooks', () =>
    fc.assert(
      fc.asyncProperty(fc.array(fc.oneof({ weight: 2, arbitrary: modelled }, { weight: 3, arbitrary: hostile }), { minLength: 1, maxLength: 6 }), async (deliveries) => {
        for (const d of deliveries) {
          const what = () => JSON.stringify(d).slice(0, 600);
          if (d.kind === 'hostile') {
            const response = await call('POST', `/webhooks/llamaparse${d.query === null ? '' : `?job_id=${pct(d.query)}`}`, { 'Content-Type': d.type }, d.body, what);
            // A hostile body may still be a valid delivery to a real job: then it is committed too.
            if (response.status === 200 && JSON.parse(response.body).ignored === undefined) committed++;
            continue;
          }
          const body = d.kind === 'event' ? { event_id: `model-${d.id}`, event_type: d.type, data: { job_id: 'lp-fuzz' } } : { md: `model ${d.md}` };
          const response = await call('POST', `/webhooks/llamaparse?job_id=${d.job}&token=${tokens.get(d.job)}`, { 'Content-Type': 'application/json' }, JSON.stringify(body), what);
          // The server's dedupe key: the event's id (whatever its type), or the whole push.
          const key = `${d.job} ${d.kind === 'event' ? d.id : JSON.stringify(body)}`;
          const fresh = !seen.has(key);
          const ignored = response.status === 200 ? JSON.parse(response.body).ignored : 'not 200';
          if (ignored !== (fresh ? undefined : 'duplicate')) throw new Error(`${what()}: expected ${fresh ? 'a new event' : 'a duplicate'}, got ${response.status} ${response.body}`);
          seen.add(key);
          if (fresh) committed++;
        }
        await checkAlive(server.url, tally);
      }),
      fuzzParameters(60),
    ),
  );
  const { rows } = await server.pipeline.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM docket.events WHERE instance_id = ANY($1::uuid[]) AND event->>'type' = 'PARSE_CALLBACK'`,
    [jobs],
  );
  t.is(rows[0]!.n, committed, 'each distinct delivery committed exactly once, replays not at all');
});

serial('fuzz: raw requests with hostile request lines, Host, Origin and Sec-Fetch-Site never get a 5xx', async (t) => {
  const { server, tally, jobs } = await setUp(t);
  const raw = fc.record({
    // Not HEAD: its answer has a Content-Length and no body.
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'BREW', ''),
    path: fc.oneof(fc.constantFrom('/health', '/v1/jobs', '/v1/uploads', '/webhooks/llamaparse', `/v1/jobs/${jobs[0]}`, '*', '//', '/%', '/v1/jobs/%ZZ'), hostileString(30).map((p) => `/${pct(p)}`)),
    host: fc.option(fc.oneof(fc.constantFrom('localhost', '127.0.0.1', '[::1]', new URL(server.url).host, 'evil.example', 'localhost.', ''), hostileString(30))),
    origin: fc.option(fc.oneof(fc.constantFrom('null', 'http://evil.example', server.url, 'http://localhost:5173', 'file://', 'http://[::1]'), hostileString(30))),
    site: fc.option(fc.constantFrom('cross-site', 'same-site', 'same-origin', 'none', 'bogus')),
    body: fc.option(fc.oneof(hostileString(200), fc.constant('{"event_id":"e","event_type":"parse.success","data":{"job_id":"x"}}'))),
  });
  await fuzz(t, tally, 'raw requests', () =>
    fc.assert(
      fc.asyncProperty(raw, async (r) => {
        const lines = [`${r.method} ${r.path} HTTP/1.1`, 'Connection: close'];
        if (r.host !== null) lines.push(`Host: ${r.host}`);
        if (r.origin !== null) lines.push(`Origin: ${r.origin}`);
        if (r.site !== null) lines.push(`Sec-Fetch-Site: ${r.site}`);
        if (r.body !== null) lines.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(r.body)}`);
        const { responses } = await rawExchange(server.url, `${lines.join('\r\n')}\r\n\r\n${r.body ?? ''}`, { responses: 99, timeoutMs: 5000 });
        if (responses.length === 0) throw new Error(`no answer to ${JSON.stringify(r)}`);
        for (const response of responses) {
          tally.count(response.status);
          checkResponse(response, () => JSON.stringify(r));
        }
        await checkAlive(server.url, tally);
      }),
      fuzzParameters(200),
    ),
  );
});

// Regressions from the fuzzing of `docket serve`: secrets in the request log, any Host accepted (DNS
// rebinding), cross-site form posts accepted.
import test, { type ExecutionContext } from 'ava';
import { logSerializers } from '../../server/redact.js';
import { capturingLogger } from '../helpers/db.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { assertErrorBody, multipartBody, rawExchange, rowCounts, send, startEdgeServer } from './raw-http.js';

failOnLeakedRuntimes();

const serial = test.serial;

// Regression: pino-http logged Authorization and Cookie headers verbatim.
serial('the request log redacts Authorization, Cookie and any header or query parameter named *key*, *secret*, *token*, *password*', async (t) => {
  const { logger, lines } = capturingLogger();
  const { url } = await startEdgeServer(t, {}, { logger, worker: false });
  const headers = {
    Authorization: 'Bearer sekrit-1',
    Cookie: 'session=sekrit-2',
    'X-Api-Key': 'sekrit-3',
    'X-Auth-Token': 'sekrit-4',
    'X-Client-Secret': 'sekrit-5',
    'Proxy-Authorization': 'Basic sekrit-6',
    'X-Request-Label': 'visible-1',
  };
  await send(url, 'GET', '/v1/jobs?api_key=sekrit-7&access%5Ftoken=sekrit-8&Password=sekrit-9&limit=7', headers);
  await send(url, 'GET', '/nowhere?secret=sekrit-10', headers);
  await send(url, 'POST', '/webhooks/llamaparse?token=sekrit-11', { ...headers, 'Content-Type': 'application/json' }, '{');
  const log = JSON.stringify(lines);
  t.true(lines.filter((line) => line.req).length >= 3, 'the requests were logged');
  t.notRegex(log, /sekrit/, 'no secret in the log');
  t.regex(log, /visible-1/, 'other headers are kept');
  t.regex(log, /limit=7/, 'other query parameters are kept');
  t.regex(log, /\[redacted\]/);
  const response = logSerializers.res({ statusCode: 200, headers: { 'set-cookie': ['id=sekrit-12'], 'content-type': 'application/json' } });
  t.deepEqual(response, { statusCode: 200, headers: { 'set-cookie': '[redacted]', 'content-type': 'application/json' } });
});

const hostOf = (url: string) => new URL(url).host;
const port = (url: string) => new URL(url).port;
const statusFor = async (url: string, host: string) => {
  const { responses } = await rawExchange(url, `GET /health HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  return responses[0]?.status;
};

// Regression: any Host was answered, so a DNS-rebinding page could read /v1/jobs through the user's browser.
serial('only the allowed hosts are answered: loopback names by default, ALLOWED_HOSTS when set; others get 421 JSON', async (t) => {
  const { url } = await startEdgeServer(t, {}, { worker: false });
  for (const host of [hostOf(url), `localhost:${port(url)}`, 'LOCALHOST', `[::1]:${port(url)}`, '127.0.0.1']) t.is(await statusFor(url, host), 200, host);
  for (const host of ['evil.example', `evil.example:${port(url)}`, 'localhost.evil.example', '127.0.0.1.nip.io', 'localhost.', '', 'a b']) {
    t.is(await statusFor(url, host), 421, JSON.stringify(host));
  }
  // Found by the fuzzer: without a Host, Node answered a bare 400 of its own (no JSON body).
  const noHost = await rawExchange(url, 'GET /health HTTP/1.1\r\nConnection: close\r\n\r\n');
  t.is(noHost.responses[0]?.status, 400);
  t.is(JSON.parse(noHost.responses[0]!.body).error.code, 'HOST_REQUIRED');
  t.is((await rawExchange(url, 'GET /health HTTP/1.0\r\n\r\n')).responses[0]?.status, 421, 'HTTP/1.0 without a Host names no allowed host');
  const rebinding = await send(url, 'GET', '/v1/jobs', { Host: 'attacker.example' });
  t.is(rebinding.status, 421);
  assertErrorBody(t, rebinding, 'rebinding');
  t.is(JSON.parse(rebinding.body).error.code, 'HOST_NOT_ALLOWED');

  const configured = await startEdgeServer(t, { ALLOWED_HOSTS: 'docket.example.com:8443, api.internal' }, { worker: false });
  t.is(await statusFor(configured.url, 'docket.example.com:8443'), 200);
  t.is(await statusFor(configured.url, 'api.internal:1234'), 200, 'a host without a port allows any port');
  t.is(await statusFor(configured.url, 'docket.example.com:9999'), 421, 'a host with a port allows that port only');
  t.is(await statusFor(configured.url, hostOf(configured.url)), 421, 'the loopback default is replaced');
});

serial('bound to a non-loopback address without ALLOWED_HOSTS, any host is answered and one warning is logged at start', async (t) => {
  const { logger, lines } = capturingLogger();
  const { url } = await startEdgeServer(t, { HOST: '0.0.0.0' }, { logger, worker: false });
  t.is(await statusFor(url, 'anything.example'), 200);
  t.is(await statusFor(url, 'docket.internal:8000'), 200);
  t.is(lines.filter((line) => /ALLOWED_HOSTS is unset/.test(String(line.msg))).length, 1);
});

// Regression: a multipart form on any web page could POST an upload to the local server.
serial('state-changing requests from another site get 403 JSON; curl-like and same-origin requests pass', async (t) => {
  const { url, pipeline } = await startEdgeServer(t, {}, { worker: false });
  let n = 0;
  const post = (headers: Record<string, string>) =>
    send(url, 'POST', '/v1/uploads', { 'Content-Type': 'multipart/form-data; boundary=b', ...headers }, multipartBody('b', [{ name: 'file', filename: 'a.txt', data: `doc ${n++}` }]));
  const refused: [string, Record<string, string>][] = [
    ['Sec-Fetch-Site: cross-site', { 'Sec-Fetch-Site': 'cross-site' }],
    ['cross-site with a local Origin', { 'Sec-Fetch-Site': 'cross-site', Origin: url }],
    ['an Origin on another host', { Origin: 'http://evil.example' }],
    ['an opaque Origin', { Origin: 'null' }],
    ['a file: Origin', { Origin: 'file://' }],
    ['same-site from another host', { 'Sec-Fetch-Site': 'same-site', Origin: `http://other.localhost:${port(url)}` }],
    ['same-site without an Origin', { 'Sec-Fetch-Site': 'same-site' }],
  ];
  for (const [what, headers] of refused) {
    const response = await post(headers);
    t.is(response.status, 403, what);
    assertErrorBody(t, response, what);
    t.is(JSON.parse(response.body).error.code, 'CROSS_SITE_REQUEST', what);
  }
  t.like(await rowCounts(pipeline), { files: 0, jobs: 0 }, 'nothing stored');
  const accepted: [string, Record<string, string>][] = [
    ['no Origin, no Sec-Fetch-Site (curl, servers)', {}],
    ['same-origin', { 'Sec-Fetch-Site': 'same-origin', Origin: url }],
    ['typed into the address bar', { 'Sec-Fetch-Site': 'none' }],
    ['an allowed host on another port', { 'Sec-Fetch-Site': 'same-site', Origin: 'http://localhost:5173' }],
  ];
  for (const [what, headers] of accepted) t.is((await post(headers)).status, 202, what);
  t.is((await send(url, 'GET', '/v1/jobs', { 'Sec-Fetch-Site': 'cross-site' })).status, 200, 'reads are not refused (CORS keeps their answers from the page)');
  const webhook = await send(url, 'POST', '/webhooks/llamaparse', { 'Content-Type': 'application/json' }, '{"event_id":"e","event_type":"parse.success","data":{"job_id":"lp"}}');
  t.is(webhook.status, 401, 'LlamaParse sends neither header: its webhook is not refused as cross-site (only as tokenless)');
});

test('ALLOWED_HOSTS is checked at start', async (t: ExecutionContext) => {
  const { loadConfig } = await import('../../server/config.js');
  t.throws(() => loadConfig({ ALLOWED_HOSTS: 'http://docket.example.com' }), { message: /ALLOWED_HOSTS/ });
  t.deepEqual(loadConfig({ ALLOWED_HOSTS: ' a.example , [::1]:8000,*' }).ALLOWED_HOSTS, ['a.example', '[::1]:8000', '*']);
});

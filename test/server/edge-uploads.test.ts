// Regressions from the fuzzing of `docket serve` (the issue "hostile input: crashes, 500s, leaks"):
// uploads that killed the process, got a 5xx, or were silently changed. Raw sockets where fetch
// cannot send the bytes.
import test, { type ExecutionContext } from 'ava';
import { uploadsInFlight } from '../../server/multipart.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { getJson, until, upload } from '../helpers/server.js';
import { assertErrorBody, multipartBody, rawExchange, rowCounts, startEdgeServer, uploadRequest, type EdgeServer, type RawResponse } from './raw-http.js';

failOnLeakedRuntimes();

const serial = test.serial;
const B = 'b0undary';

/**
 * The server holds no upload reader and (after raw exchanges only: fetch keeps its connections
 * alive) no connection, still answers, and stored nothing.
 */
async function leftNothing(t: ExecutionContext, server: EdgeServer, what: string, { raw = true } = {}) {
  const busy = async () => uploadsInFlight() > 0 || (raw && (await server.connections()) > 0);
  for (let i = 0; i < 100 && (await busy()); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  t.is(uploadsInFlight(), 0, `${what}: the upload reader was released`);
  if (raw) t.is(await server.connections(), 0, `${what}: no connection left open`);
  t.like(await getJson(`${server.url}/health`), { status: 200, body: { status: 'ok' } }, `${what}: the server is up`);
  t.deepEqual(await rowCounts(server.pipeline), { files: 0, jobs: 0, chunks: 0 }, `${what}: nothing stored`);
}

function expectError(t: ExecutionContext, response: RawResponse | undefined, status: number, code: string, what: string) {
  t.truthy(response, `${what}: no response`);
  if (!response) return;
  t.is(response.status, status, `${what}: ${response.body}`);
  assertErrorBody(t, response, what);
  t.is(JSON.parse(response.body).error.code, code, what);
}

const filePart = (data: string) => ({ name: 'file', filename: 'a.txt', data });

// Regression: busboy's file stream emitted "Unexpected end of form", nothing listened, the process exited.
serial('a truncated multipart body answers 400 INVALID_MULTIPART and the server stays up (was: process exit)', async (t) => {
  const server = await startEdgeServer(t);
  // The repro, byte for byte: curl --data-binary of a form cut inside the file part.
  const body = Buffer.from('--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhello');
  const { responses } = await rawExchange(server.url, uploadRequest(server.url, body, 'b'));
  expectError(t, responses[0], 400, 'INVALID_MULTIPART', 'truncated in the file');
  const inHeaders = await rawExchange(server.url, uploadRequest(server.url, Buffer.from(`--${B}\r\nContent-Disposition: form-da`), B));
  expectError(t, inHeaders.responses[0], 400, 'INVALID_MULTIPART', 'truncated in the part headers');
  const noClose = await rawExchange(server.url, uploadRequest(server.url, multipartBody(B, [filePart('hello')], { close: false }), B));
  expectError(t, noClose.responses[0], 400, 'INVALID_MULTIPART', 'no closing boundary');
  await leftNothing(t, server, 'truncated forms');
});

serial('a client that aborts mid-upload leaves no reader, connection or row behind', async (t) => {
  const server = await startEdgeServer(t);
  const body = multipartBody(B, [filePart('x'.repeat(200_000))]);
  const result = await rawExchange(server.url, uploadRequest(server.url, body.subarray(0, 100_000), B, body.length), { abortAfterMs: 50 });
  t.is(result.responses.length, 0, 'no one to answer');
  await leftNothing(t, server, 'aborted');
});

serial('a lying Content-Length: shorter answers 400 JSON; longer answers 400 JSON at the end of input, 408 when the client stalls', async (t) => {
  const server = await startEdgeServer(t, { UPLOAD_IDLE_TIMEOUT_MS: '300' });
  const body = multipartBody(B, [filePart('hello world')]);
  // Shorter: the form is cut where the length says; the rest is read as a next request and refused too.
  const shorter = await rawExchange(server.url, uploadRequest(server.url, body, B, body.length - 20), { responses: 2, timeoutMs: 3000 });
  expectError(t, shorter.responses[0], 400, 'INVALID_MULTIPART', 'shorter');
  expectError(t, shorter.responses[1], 400, 'MALFORMED_REQUEST', 'shorter: the rest, after the answer to the first');
  // Longer, and the client says it is done (FIN): Node's parser refuses the incomplete request.
  const ended = await rawExchange(server.url, uploadRequest(server.url, body, B, body.length + 100), { halfClose: true, timeoutMs: 3000 });
  expectError(t, ended.responses[0], 400, 'INCOMPLETE_REQUEST', 'longer, then FIN');
  // Longer, and the client waits for an answer it will never get by sending: 408 after the idle time.
  const stalled = await rawExchange(server.url, uploadRequest(server.url, body, B, body.length + 100), { timeoutMs: 3000 });
  expectError(t, stalled.responses[0], 408, 'UPLOAD_TIMEOUT', 'longer, then silence');
  t.is(stalled.responses[0]?.headers.connection, 'close');
  await leftNothing(t, server, 'lying lengths');
});

serial('too many parts, a repeated or unknown field is refused, never dropped silently (was: 202 without the metadata)', async (t) => {
  const server = await startEdgeServer(t);
  const send = async (parts: Parameters<typeof multipartBody>[1]) => (await rawExchange(server.url, uploadRequest(server.url, multipartBody(B, parts), B))).responses[0];
  // The case: metadata after the 20th part was dropped, and the upload still got 202.
  const padding = Array.from({ length: 20 }, () => ({ data: 'no disposition: busboy skips the part' }));
  const late = await send([...padding.map((p) => ({ ...p, disposition: 'attachment' })), filePart('hello'), { name: 'metadata', data: '{"a":1}' }]);
  expectError(t, late, 413, 'TOO_MANY_PARTS', 'metadata after 20 parts');
  expectError(t, await send([filePart('hello'), { name: 'metadata', data: '{}' }, { name: 'metadata', data: '{"b":2}' }]), 400, 'DUPLICATE_FIELD', 'metadata twice');
  expectError(t, await send([filePart('hello'), { name: 'notes', data: 'x' }]), 400, 'UNKNOWN_FIELD', 'an unknown field');
  expectError(t, await send([filePart('hello'), filePart('again')]), 400, 'TOO_MANY_FILES', 'two files');
  expectError(t, await send([{ name: 'attachment', filename: 'a.txt', data: 'x' }]), 400, 'UNEXPECTED_FILE', 'the file in another field');
  expectError(t, await send([{ name: 'file', data: 'a text field' }]), 400, 'NO_FILE', 'file as a text field');
  await leftNothing(t, server, 'refused forms');
});

// Regression: busboy cut the field at 64 KiB, and the cut text was reported as "metadata must be JSON".
serial('metadata over 64 KiB answers 413 METADATA_TOO_LARGE; exactly 64 KiB is accepted', async (t) => {
  const server = await startEdgeServer(t, {}, { worker: false });
  const big = JSON.stringify({ text: 'x'.repeat(64 * 1024) });
  const over = await upload(server.url, { name: 'a.txt', content: 'hello' }, { metadata: big });
  t.like(over, { status: 413, body: { error: { code: 'METADATA_TOO_LARGE' } } });
  await leftNothing(t, server, 'metadata too large', { raw: false });
  const exact = JSON.stringify({ text: 'x'.repeat(64 * 1024 - 11) });
  t.is(Buffer.byteLength(exact), 64 * 1024);
  t.is((await upload(server.url, { name: 'a.txt', content: 'hello' }, { metadata: exact })).status, 202);
});

// Regression: PostgreSQL refused NUL (22P05) and lone surrogates, and 10,000 levels of nesting (54001): 500s.
serial('metadata with NUL, a lone surrogate, or 10,000 levels of nesting answers 400 INVALID_METADATA (was: 500)', async (t) => {
  const server = await startEdgeServer(t);
  const cases: [string, string, RegExp][] = [
    ['NUL in a value', JSON.stringify({ a: 'x\u0000y' }), /at a contains a NUL/],
    ['NUL in a key', JSON.stringify({ 'k\u0000': 1 }), /key that contains a NUL/],
    ['NUL deep in an array', JSON.stringify({ list: [1, { b: ['\u0000'] }] }), /at list\[1\]\.b\[0\]/],
    ['a lone high surrogate', '{"a":"\\ud800"}', /lone UTF-16 surrogate/],
    ['a lone low surrogate in a key', '{"\\udc00x":1}', /lone UTF-16 surrogate/],
    ['10,000 levels', `{"a":${'['.repeat(10_000)}${']'.repeat(10_000)}}`, /deeper than 32 levels/],
    ['33 levels', `${'{"a":'.repeat(33)}1${'}'.repeat(33)}`, /deeper than 32 levels/],
  ];
  for (const [what, metadata, message] of cases) {
    const response = await upload(server.url, { name: 'a.txt', content: `hello ${what}` }, { metadata });
    t.is(response.status, 400, what);
    t.is(response.body.error.code, 'INVALID_METADATA', what);
    t.regex(response.body.error.message, message, what);
  }
  await leftNothing(t, server, 'bad metadata', { raw: false });
  const deepest = `${'{"a":'.repeat(32)}"\u{1F600} fine"${'}'.repeat(32)}`;
  t.is((await upload(server.url, { name: 'a.txt', content: 'hello' }, { metadata: deepest })).status, 202, '32 levels and a surrogate pair are fine');
});

// Regression: busboy decoded file names as latin1: Müller.txt was stored as MÃ¼ller.txt.
serial('file names: UTF-8 is decoded; traversal, NUL, control and bidi characters are cleaned; long names capped', async (t) => {
  const server = await startEdgeServer(t, {}, { worker: false });
  // A plain filename="..." cannot carry control characters (busboy refuses the header), filename*= can.
  const stored = async (filename: string, n: number, encoded = false) => {
    // An empty filename="" makes busboy see a text field unless the part says it is a file.
    const part = encoded ? { disposition: `form-data; name="file"; filename*=UTF-8''${encodeURIComponent(filename)}` } : { name: 'file', filename, type: 'application/octet-stream' };
    const body = multipartBody(B, [{ ...part, data: `document ${n}` }]);
    const { responses } = await rawExchange(server.url, uploadRequest(server.url, body, B));
    t.is(responses[0]?.status, 202, `${JSON.stringify(filename)}: ${responses[0]?.body}`);
    return (await getJson(`${server.url}/v1/jobs/${JSON.parse(responses[0]!.body).job_id}`)).body.filename as string;
  };
  t.is(await stored('Müller.txt', 1), 'Müller.txt');
  t.is((await upload(server.url, { name: 'Ünïcödé 文件.md', content: '# fetch sends UTF-8' })).status, 202);
  t.is(await stored('../../etc/passwd', 2), 'passwd');
  t.is(await stored('..\\..\\windows\\win.ini', 3), 'win.ini');
  t.is(await stored('a\u0000b\u0007c\u007f.txt', 4, true), 'abc.txt');
  t.is(await stored('M\u00fcller \u2014 encoded.txt', 10, true), 'Müller — encoded.txt');
  t.is(await stored('dir%2F..%2Fx.txt', 11), 'dir%2F..%2Fx.txt', 'percent signs in a plain filename are not decoded');
  t.is(await stored('invoice\u202Etxt.exe', 5), 'invoicetxt.exe');
  t.is(await stored('..', 6), 'upload');
  t.is(await stored('\u0001\u0002', 7, true), 'upload');
  t.is(await stored('../\u0000/..', 12, true), 'upload');
  t.is(await stored('', 8), 'upload');
  const long = await stored(`${'a'.repeat(10_000)}.txt`, 9);
  t.is(long, `${'a'.repeat(196)}.txt`);
  const wide = await stored(`${'\u{1F600}'.repeat(3000)}.md`, 13);
  t.is(Array.from(wide).length, 200, 'capped in characters, never inside a surrogate pair');
  t.true(wide.endsWith('\u{1F600}.md'));
});

serial('a file over MAX_UPLOAD_BYTES answers 413 as it crosses the limit; exactly the limit is accepted; far over, the connection is cut', async (t) => {
  const server = await startEdgeServer(t, { MAX_UPLOAD_BYTES: '1000' }, { worker: false });
  const over = await rawExchange(server.url, uploadRequest(server.url, multipartBody(B, [filePart('x'.repeat(1001))]), B));
  expectError(t, over.responses[0], 413, 'FILE_TOO_LARGE', '1001 bytes');
  // 40 MiB over a limit of 1000 bytes: answered at once, then read and dropped for 8 MiB, then cut.
  const body = multipartBody(B, [filePart('x'.repeat(40 * 1024 * 1024))]);
  const far = await rawExchange(server.url, uploadRequest(server.url, body, B), { responses: 2, timeoutMs: 20_000 });
  expectError(t, far.responses[0], 413, 'FILE_TOO_LARGE', '40 MiB');
  t.is(far.ended, 'closed', 'the server closed the connection rather than read 40 MiB');
  await leftNothing(t, server, 'over the limit');
  const exact = await rawExchange(server.url, uploadRequest(server.url, multipartBody(B, [filePart('y'.repeat(1000))]), B));
  t.is(exact.responses[0]?.status, 202, `exactly the limit: ${exact.responses[0]?.body}`);
});

// What held up under the fuzzing, and must keep holding.
serial('50 concurrent identical uploads make exactly one job; 50 concurrent distinct ones all complete', async (t) => {
  const server = await startEdgeServer(t);
  const same = await Promise.all(Array.from({ length: 50 }, () => upload(server.url, { name: 'same.md', content: '# the same bytes' })));
  t.deepEqual([...new Set(same.map((r) => r.status))].sort(), [200, 202]);
  t.is(same.filter((r) => r.status === 202).length, 1);
  t.is(new Set(same.map((r) => r.body.job_id)).size, 1);
  const distinct = await Promise.all(Array.from({ length: 50 }, (_, i) => upload(server.url, { name: `${i}.md`, content: `# document ${i}\n\nbody ${i}` })));
  t.true(distinct.every((r) => r.status === 202));
  await until(`${server.url}/v1/jobs?stage=complete&limit=200`, (body) => body.jobs.length === 51, 90_000);
  t.like(await rowCounts(server.pipeline), { files: 51, jobs: 51 });
});

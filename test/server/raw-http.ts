/**
 * HTTP over a bare socket, for what fetch will not send: truncated bodies, a Content-Length that
 * lies, aborts mid-body, odd Host headers. Also the real app on a real port with a logger the test
 * can read, and the invariants every hostile request is held to.
 */
import { request, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { ExecutionContext } from 'ava';
import type { Logger } from 'pino';
import { createApp } from '../../server/app.js';
import { loadConfig, type Config } from '../../server/config.js';
import { createPipeline, type Pipeline } from '../../pipeline/index.js';
import { ownDatabase, silent } from '../helpers/db.js';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface RawResult {
  /** Every response read, in order (a lying Content-Length can make one connection two requests). */
  responses: RawResponse[];
  /** How the exchange ended: the server closed, we stopped after the responses we wanted, or nothing came in time. */
  ended: 'closed' | 'done' | 'timeout';
}

export interface RawOptions {
  /** Send FIN after the bytes (the client has nothing more to say, but still listens). */
  halfClose?: boolean;
  /** Reset the connection this many ms after sending, reading nothing. */
  abortAfterMs?: number;
  /** Stop after this many complete responses. Default 1. */
  responses?: number;
  /** Give up waiting after this long. Default 10000 ms. */
  timeoutMs?: number;
}

/** Parses the responses in `data`; stops at an incomplete one. */
function parseResponses(data: Buffer, closed: boolean): RawResponse[] {
  const responses: RawResponse[] = [];
  let at = 0;
  for (;;) {
    const end = data.indexOf('\r\n\r\n', at);
    if (end === -1) return responses;
    const [statusLine, ...lines] = data.subarray(at, end).toString('latin1').split('\r\n');
    const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
    const length = headers['content-length'] === undefined ? (closed ? data.length - end - 4 : Infinity) : Number(headers['content-length']);
    if (end + 4 + length > data.length) return responses;
    responses.push({ status: Number(statusLine!.split(' ')[1]), headers, body: data.subarray(end + 4, end + 4 + length).toString('utf8') });
    at = end + 4 + length;
  }
}

/** Writes `bytes` to the server at `url` on a new connection and reads what comes back. */
export function rawExchange(url: string, bytes: Buffer | string, options: RawOptions = {}): Promise<RawResult> {
  const { port, hostname } = new URL(url);
  const wanted = options.responses ?? 1;
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    const received: Buffer[] = [];
    let settled = false;
    const finish = (ended: RawResult['ended']) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ responses: parseResponses(Buffer.concat(received), ended === 'closed'), ended });
    };
    const timer = setTimeout(() => finish('timeout'), options.timeoutMs ?? 10_000);
    socket.on('data', (chunk) => {
      received.push(chunk);
      if (parseResponses(Buffer.concat(received), false).length >= wanted) finish('done');
    });
    socket.on('error', () => finish('closed')); // EPIPE / ECONNRESET: the server closed on us
    socket.on('close', () => finish('closed'));
    socket.write(bytes, () => {
      if (options.halfClose) socket.end();
      if (options.abortAfterMs !== undefined) setTimeout(() => (socket.resetAndDestroy(), finish('closed')), options.abortAfterMs);
    });
  });
}

export interface Part {
  /** The form field's name; unset: no name parameter. */
  name?: string;
  filename?: string;
  /** A raw Content-Disposition value, instead of one made from name and filename. */
  disposition?: string;
  type?: string;
  data: string | Uint8Array;
}

/** A multipart/form-data body; `close: false` leaves off the closing boundary. */
export function multipartBody(boundary: string, parts: Part[], { close = true } = {}): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition =
      part.disposition ?? `form-data${part.name === undefined ? '' : `; name="${part.name}"`}${part.filename === undefined ? '' : `; filename="${part.filename}"`}`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${part.type ? `Content-Type: ${part.type}\r\n` : ''}\r\n`));
    chunks.push(Buffer.from(part.data));
    chunks.push(Buffer.from('\r\n'));
  }
  if (close) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

/** A request's bytes: `contentLength` may lie (null: no Content-Length header at all). */
export function httpRequest(method: string, path: string, headers: Record<string, string>, body: Buffer = Buffer.alloc(0), contentLength: number | null = body.length): Buffer {
  const lines = [`${method} ${path} HTTP/1.1`, ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)];
  if (contentLength !== null) lines.push(`Content-Length: ${contentLength}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body]);
}

/** An upload's bytes over a raw socket, to the server at `url`. */
export function uploadRequest(url: string, body: Buffer, boundary: string, contentLength: number | null = body.length, headers: Record<string, string> = {}): Buffer {
  return httpRequest('POST', '/v1/uploads', { Host: new URL(url).host, 'Content-Type': `multipart/form-data; boundary=${boundary}`, ...headers }, body, contentLength);
}

export interface EdgeServer {
  url: string;
  pipeline: Pipeline;
  config: Config;
  /** Open connections to the server now. */
  connections(): Promise<number>;
}

/** The real app on a free loopback port over a fresh database, with `logger`; closed when the test ends. */
export async function startEdgeServer(t: ExecutionContext, env: Record<string, string> = {}, options: { logger?: Logger; worker?: boolean } = {}): Promise<EdgeServer> {
  const own = await ownDatabase(t, env.DATABASE_URL);
  const config = loadConfig({ EMBEDDING_DIMENSIONS: '64', ...env, DATABASE_URL: own.DATABASE_URL });
  const logger = options.logger ?? silent;
  const pipeline = await createPipeline(config, { logger, worker: options.worker, database: own.database });
  const server = createApp(pipeline, config, logger).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  t.teardown(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await pipeline.close();
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    pipeline,
    config,
    connections: () => new Promise((resolve, reject) => server.getConnections((error, count) => (error ? reject(error) : resolve(count)))),
  };
}

/** A request through node:http, which sends any Host, Origin or Sec-Fetch-Site header as given. */
export function send(url: string, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | string): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { method, headers: { ...headers, ...(body === undefined ? {} : { 'Content-Length': String(Buffer.byteLength(body)) }) }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** What no response may contain: a stack trace, a path on this machine, a module path, a SQLSTATE. */
export const LEAKS = [/\bat .+\(.+:\d+:\d+\)/, /\/work\//, /node_modules/, /\.ts:\d/, /\bSQLSTATE\b/i, /"code":"(?:22|23|42|54|57|08)[0-9A-Z]{3}"/];

/** Asserts the shape of an error answer: JSON `{ error: { code, message } }` without any leak. */
export function assertErrorBody(t: ExecutionContext, response: RawResponse | { status: number; body: string }, what: string): void {
  let parsed: { error?: { code?: unknown; message?: unknown } } | undefined;
  try {
    parsed = JSON.parse(response.body);
  } catch {
    t.fail(`${what}: ${response.status} body is not JSON: ${response.body.slice(0, 200)}`);
    return;
  }
  t.true(typeof parsed?.error?.code === 'string' && typeof parsed.error.message === 'string', `${what}: ${response.body.slice(0, 200)}`);
  for (const leak of LEAKS) t.false(leak.test(response.body), `${what}: the body leaks ${leak}: ${response.body.slice(0, 300)}`);
}

/** Row counts of the pipeline's tables. */
export async function rowCounts(pipeline: Pipeline): Promise<{ files: number; jobs: number; chunks: number }> {
  const { rows } = await pipeline.db.query<{ files: number; jobs: number; chunks: number }>(
    `SELECT (SELECT count(*)::int FROM upload_pipeline.files) AS files, (SELECT count(*)::int FROM upload_pipeline.upload_jobs) AS jobs,
            (SELECT count(*)::int FROM upload_pipeline.chunks) AS chunks`,
  );
  return rows[0]!;
}

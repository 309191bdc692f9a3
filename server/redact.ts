/**
 * Secrets kept out of the request log: pino-http would write a client's Authorization and Cookie
 * headers, and an API key passed in a query string, as they came.
 */

/** Header and query parameter names whose values are secrets: Authorization, Cookie, Set-Cookie, *key*, *secret*, *token*, *password*. */
const SENSITIVE = /authorization|cookie|key|secret|token|password/i;
export const REDACTED = '[redacted]';

export function isSensitiveName(name: string): boolean {
  return SENSITIVE.test(name);
}

/** A copy of `headers` with the values of sensitive ones replaced. */
export function redactHeaders(headers: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!headers) return headers;
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, isSensitiveName(name) ? REDACTED : value]));
}

/** `url` with the values of sensitive query parameters replaced; the rest is left as it came. */
export function redactUrl(url: string): string {
  const at = url.indexOf('?');
  if (at === -1) return url;
  const pairs = url
    .slice(at + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq === -1 ? pair : pair.slice(0, eq);
      return isSensitiveName(safeDecode(name)) ? `${name}=${REDACTED}` : pair;
    });
  return `${url.slice(0, at)}?${pairs.join('&')}`;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    return text;
  }
}

/** A copy of a parsed query object with the values of sensitive parameters replaced. */
function redactQuery(query: unknown): unknown {
  if (!query || typeof query !== 'object') return query;
  return Object.fromEntries(Object.entries(query).map(([name, value]) => [name, isSensitiveName(name) ? REDACTED : value]));
}

interface SerializedRequest {
  url?: string;
  query?: unknown;
  headers?: Record<string, unknown>;
  [field: string]: unknown;
}

/**
 * pino-http serializers (they receive pino-std-serializers' output): the request's headers, URL and
 * query, and the response's headers (Set-Cookie), with secrets replaced by `[redacted]`.
 */
export const logSerializers = {
  req(req: SerializedRequest): SerializedRequest {
    return {
      id: req.id,
      method: req.method,
      url: typeof req.url === 'string' ? redactUrl(req.url) : req.url,
      query: redactQuery(req.query),
      params: req.params,
      headers: redactHeaders(req.headers),
      remoteAddress: req.remoteAddress,
      remotePort: req.remotePort,
    };
  },
  res(res: { statusCode?: unknown; headers?: Record<string, unknown> }) {
    return { statusCode: res.statusCode, headers: redactHeaders(res.headers) };
  },
};

/** Headers as fetch gives them, or as a plain object (the OpenAI SDK's errors carry either). */
export type HeaderSource = Headers | Record<string, string | string[] | undefined> | undefined | null;

/**
 * How long a vendor asks us to wait before retrying, milliseconds, from its response headers:
 * `retry-after-ms` (OpenAI's, milliseconds) first, then `retry-after` as whole or fractional
 * seconds or as an HTTP date (RFC 9110 §10.2.3). Undefined when neither says anything usable.
 */
export function retryAfterMs(headers: HeaderSource, now: number = Date.now()): number | undefined {
  const get = (name: string): string | undefined => {
    if (!headers) return undefined;
    if (headers instanceof Headers) return headers.get(name) ?? undefined;
    const value = headers[name] ?? headers[name.toLowerCase()];
    return Array.isArray(value) ? value[0] : value;
  };
  const ms = number(get('retry-after-ms'));
  if (ms !== undefined) return ms;
  const value = get('retry-after')?.trim();
  if (!value) return undefined;
  const seconds = number(value);
  if (seconds !== undefined) return seconds * 1000;
  // An HTTP date names its day and month ("Sun, 29 Nov 2026 12:00:07 GMT"); Date.parse alone would
  // also take "-5" for a year.
  const date = /[a-z]{3}/i.test(value) ? Date.parse(value) : Number.NaN;
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function number(text: string | undefined): number | undefined {
  if (text === undefined || !/^\s*\d+(\.\d+)?\s*$/.test(text)) return undefined;
  return Number(text);
}

/**
 * Checks of client text and JSON before it reaches the database: PostgreSQL refuses NUL in text and
 * jsonb (22P05, 22021) and lone surrogates (not Unicode), and its jsonb parser recurses per level
 * of nesting (10,000 levels: 54001 stack depth limit exceeded). Every check here is iterative, so
 * hostile input cannot overflow our own stack either.
 */

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** What makes `text` unstorable, or null when it is fine. */
export function textProblem(text: string): string | null {
  if (text.includes('\u0000')) return 'contains a NUL character (\\u0000), which cannot be stored';
  if (LONE_SURROGATE.test(text)) return 'contains a lone UTF-16 surrogate, which is not Unicode';
  return null;
}

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Whether JSON text nests arrays and objects deeper than `maxDepth`, by one scan with a counter (no
 * parse, no recursion; brackets inside strings do not count). Works on UTF-8 bytes: every byte of
 * a multi-byte character is >= 0x80, so it is never taken for a bracket, a quote or a backslash.
 */
export function nestedDeeperThan(json: Uint8Array | string, maxDepth: number): boolean {
  const bytes = typeof json === 'string' ? Buffer.from(json) : json;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) inString = true;
    else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      if (++depth > maxDepth) return true;
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) depth--;
  }
  return false;
}

/** A JSON path for messages: `a.b[3]`, keys quoted when they are not plain words, capped in length. */
function step(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  const shown = /^[A-Za-z_][A-Za-z0-9_]{0,39}$/.test(key) ? key : JSON.stringify(key.slice(0, 40));
  return path ? `${path}.${shown}` : shown;
}

/**
 * The first key or string in a parsed JSON value that cannot be stored, with where it is; null when
 * all are fine. Walks with an explicit stack, so depth costs heap, not call stack.
 */
export function findBadText(value: unknown): { path: string; problem: string } | null {
  const stack: [unknown, string][] = [[value, '']];
  while (stack.length > 0) {
    const [item, path] = stack.pop()!;
    if (typeof item === 'string') {
      const problem = textProblem(item);
      if (problem) return { path, problem };
    } else if (Array.isArray(item)) {
      item.forEach((element, index) => stack.push([element, step(path, index)]));
    } else if (item !== null && typeof item === 'object') {
      for (const [key, element] of Object.entries(item)) {
        const problem = textProblem(key);
        if (problem) return { path: step(path, key), problem: `has a key that ${problem}` };
        stack.push([element, step(path, key)]);
      }
    }
  }
  return null;
}

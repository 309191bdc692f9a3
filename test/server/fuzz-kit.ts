/**
 * What the fuzz tests share: run counts, hostile values, the invariants every response is held
 * to, and the tally that goes into the log (requests, statuses by code, 5xx, crashes).
 *
 * DOCKET_FUZZ_RUNS scales every property (default 1: the counts below, about 30 s per back end;
 * 10 for a longer local run); DOCKET_FUZZ_SEED replays a run.
 */
import type { ExecutionContext } from 'ava';
import fc from 'fast-check';
import { LEAKS } from './raw-http.js';

const scale = Number(process.env.DOCKET_FUZZ_RUNS ?? '1');
/** One seed per test file, logged, so any run can be replayed with DOCKET_FUZZ_SEED. */
export const fuzzSeed = process.env.DOCKET_FUZZ_SEED === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(process.env.DOCKET_FUZZ_SEED);

/** fast-check parameters for a property of `runs` runs at scale 1. */
export function fuzzParameters(runs: number): fc.Parameters<unknown> {
  return { numRuns: Math.max(1, Math.round(runs * scale)), seed: fuzzSeed, endOnFailure: false, includeErrorInReport: true };
}

/** Counts of what a fuzz test sent and got back; `crashes` are uncaught errors and a dead /health. */
export class Tally {
  requests = 0;
  readonly statuses = new Map<string, number>();
  crashes = 0;
  readonly #listener = () => void this.crashes++;

  constructor(t: ExecutionContext) {
    // In this process the server's unhandled 'error' would be an uncaught exception: count it.
    process.on('uncaughtException', this.#listener);
    process.on('unhandledRejection', this.#listener);
    t.teardown(() => {
      process.off('uncaughtException', this.#listener);
      process.off('unhandledRejection', this.#listener);
    });
  }

  count(status: number | 'none'): void {
    this.requests++;
    this.statuses.set(String(status), (this.statuses.get(String(status)) ?? 0) + 1);
  }

  get serverErrors(): number {
    return [...this.statuses].filter(([status]) => status.startsWith('5')).reduce((sum, [, n]) => sum + n, 0);
  }

  /** The figures, for the log and the issue's closing note. */
  report(t: ExecutionContext, label: string): void {
    const statuses = [...this.statuses].sort(([a], [b]) => a.localeCompare(b)).map(([status, n]) => `${status}: ${n}`).join(', ');
    t.log(`${label} (seed ${fuzzSeed}): ${this.requests} requests; statuses { ${statuses} }; 5xx: ${this.serverErrors}; crashes: ${this.crashes}`);
  }
}

/**
 * Throws unless a response keeps the house rules: no 5xx; an error is `{ error: { code, message } }`
 * JSON; no body shows a stack trace, a path on this machine, a module path or a SQLSTATE.
 */
export function checkResponse(response: { status: number; body: string }, what: () => string): void {
  const problem = (message: string) => new Error(`${message}\n  request: ${what().slice(0, 600)}\n  response: ${response.status} ${response.body.slice(0, 600)}`);
  if (response.status >= 500) throw problem('a 5xx');
  for (const leak of LEAKS) if (leak.test(response.body)) throw problem(`the body leaks ${leak}`);
  if (response.status >= 400) {
    let body: { error?: { code?: unknown; message?: unknown } };
    try {
      body = JSON.parse(response.body);
    } catch {
      throw problem('an error body that is not JSON');
    }
    if (typeof body.error?.code !== 'string' || typeof body.error.message !== 'string') throw problem('an error body without error.code and error.message');
  }
}

/** Throws unless /health answers 200: the server is up after the request. */
export async function checkAlive(url: string, tally: Tally): Promise<void> {
  const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(10_000) }).catch((error: Error) => error);
  if (response instanceof Error || response.status !== 200) {
    tally.crashes++;
    throw new Error(`/health after the request: ${response instanceof Error ? response.message : response.status}`);
  }
  await response.arrayBuffer();
}

/** What the client's own input may contain that the invariants look for: kept out of generated text. */
const echoesALeak = (text: string) => LEAKS.some((leak) => leak.test(text));

/** Any UTF-16 code unit: NUL, controls, lone surrogates, bidi marks all come up. */
export const anyChar = fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code));
/** Strings of any code units, and of the characters that have broken servers before. */
export const hostileString = (maxLength = 40) =>
  fc
    .oneof(
      fc.string({ unit: anyChar, maxLength }),
      fc.string({ unit: fc.constantFrom('\u0000', '\ud800', '\udfff', '\u202e', '\u200f', '/', '\\', '.', '"', "'", '%', '\r', '\n', 'é', '\u{1F600}', 'a'), maxLength }),
      fc.string({ maxLength }),
    )
    .filter((text) => !echoesALeak(text));

/** JSON text nested `depth` levels, of objects or arrays. */
export const deepJson = (maxDepth: number) =>
  fc.tuple(fc.integer({ min: 1, max: maxDepth }), fc.boolean()).map(([depth, arrays]) => (arrays ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`));

/** JSON values with hostile strings as keys and values. */
export const hostileJson = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 4 },
    hostileString(),
    fc.double(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(hostileString(12), tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** A small valid PDF with one line of text, written by hand (offsets and all) so each text is a new file. */
export function tinyPdf(text: string): Buffer {
  const escaped = text.replace(/[^\x20-\x7e]/g, '?').replace(/[\\()]/g, (c) => `\\${c}`);
  const content = `BT /F1 18 Tf 72 720 Td (${escaped}) Tj ET`;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${content.length} >>\nstream\n${content}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let pdf = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((object, i) => {
    offsets.push(pdf.length);
    pdf += `${i + 1} 0 obj\n${object}\nendobj\n`;
  });
  const xref = pdf.length;
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(pdf, 'latin1');
}

/** File contents: text, HTML, Markdown, zero bytes, random bytes, valid and truncated PDFs. */
export const fileContent = fc.oneof(
  fc.string({ minLength: 1, maxLength: 400 }).map((text) => Buffer.from(`plain text: ${text}`)),
  fc.string({ maxLength: 200 }).map((text) => Buffer.from(`# Heading\n\n${text}\n\n## More\n\n- a list item`)),
  fc.string({ maxLength: 200 }).map((text) => Buffer.from(`<!doctype html><html><body><h1>Title</h1><p>${text}</p></body></html>`)),
  fc.constant(Buffer.alloc(0)),
  fc.uint8Array({ minLength: 1, maxLength: 3000 }).map((bytes) => Buffer.from(bytes)),
  fc.string({ maxLength: 60 }).map((text) => tinyPdf(`fuzz ${text}`)),
  fc.tuple(fc.string({ maxLength: 60 }), fc.nat()).map(([text, cut]) => {
    const pdf = tinyPdf(`cut ${text}`);
    return pdf.subarray(0, 5 + (cut % (pdf.length - 5))); // still starts with %PDF-
  }),
  fc.uint8Array({ maxLength: 2000 }).map((bytes) => Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.from(bytes)])),
);

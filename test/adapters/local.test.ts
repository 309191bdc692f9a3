import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { chunkMarkdown } from '../../adapters/local/chunker.js';
import { hashEmbedding } from '../../adapters/local/embedder.js';
import { detectType } from '../../adapters/local/file-type.js';
import { parseLocally } from '../../adapters/local/parser.js';
import { countTokens } from '../../adapters/local/tokens.js';
import { AdapterError } from '../../adapters/errors.js';

const corpus = new URL('../../../shared/corpus/', import.meta.url);
const read = (name: string) => new Uint8Array(readFileSync(new URL(name, corpus)));

test('types come from content: PDF magic bytes, HTML markup, Markdown by name among text, binaries refused', (t) => {
  t.is(detectType(read('minimal-document.pdf'), 'whatever.txt'), 'application/pdf');
  t.is(detectType(read('pgvectorscale.html'), 'x.html'), 'text/html');
  t.is(detectType(read('pg-boss-jobs.md'), 'pg-boss-jobs.md'), 'text/markdown');
  t.is(detectType(new TextEncoder().encode('plain words'), 'notes.txt'), 'text/plain');
  t.is(detectType(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]), 'photo.pdf'), null, 'a PNG named .pdf');
  t.is(detectType(new Uint8Array([0xff, 0xfe, 0xfd]), 'x.txt'), null, 'not UTF-8');
});

test('every text PDF in the corpus parses; pages are counted', async (t) => {
  const pdfs = readdirSync(corpus).filter((f) => f.endsWith('.pdf') && !/password|lzw/.test(f));
  t.true(pdfs.length >= 7);
  for (const file of pdfs) {
    const parsed = await parseLocally(read(file), 'application/pdf');
    t.true(parsed.markdown.trim().length > 0, file);
  }
  t.is((await parseLocally(read('pdflatex-4-pages.pdf'), 'application/pdf')).pages, 4);
  t.is((await parseLocally(read('multicolumn.pdf'), 'application/pdf')).pages, 3);
});

test('an encrypted PDF is a permanent PDF_ENCRYPTED error; an image-only PDF parses with a NO_TEXT warning', async (t) => {
  const error = await t.throwsAsync(parseLocally(read('libreoffice-writer-password.pdf'), 'application/pdf'), { instanceOf: AdapterError });
  t.like(error, { code: 'PDF_ENCRYPTED', transient: false });
  const image = await parseLocally(read('imagemagick-lzw.pdf'), 'application/pdf');
  t.is(image.markdown.trim(), '');
  t.regex(image.warnings[0]!, /^NO_TEXT/);
  const broken = await t.throwsAsync(parseLocally(new TextEncoder().encode('%PDF-1.4 nothing else'), 'application/pdf'), { instanceOf: AdapterError });
  t.is(broken!.code, 'PDF_INVALID');
});

test('HTML becomes Markdown with its headers', async (t) => {
  const parsed = await parseLocally(read('pgvectorscale.html'), 'text/html');
  t.regex(parsed.markdown, /^#{1,3} /m);
  t.notRegex(parsed.markdown, /<\/?(div|p|html)[ >]/);
});

test('chunks follow headers, stay within the token budget, overlap, and keep the header path', (t) => {
  const markdown = readFileSync(new URL('pg-boss-jobs.md', corpus), 'utf8');
  const chunks = chunkMarkdown(markdown, { maxTokens: 200 });
  t.true(chunks.length > 5);
  t.deepEqual(chunks.map((c) => c.index), chunks.map((_, i) => i));
  for (const chunk of chunks) {
    t.true(chunk.tokens <= 200, `chunk ${chunk.index} has ${chunk.tokens} tokens`);
    t.is(chunk.tokens, countTokens(chunk.text));
  }
  t.true(chunks.some((c) => c.headers.length >= 2), 'nested headers kept as a path');
  const long = chunkMarkdown(`# Title\n\n${Array.from({ length: 120 }, (_, i) => `Sentence number ${i} says something about queues.`).join(' ')}`, { maxTokens: 100 });
  t.true(long.length >= 3);
  t.true(long.every((c) => c.headers[0] === 'Title'));
  const tail = long[0]!.text.split(/(?<=\.)\s+/).at(-1)!;
  t.true(long[1]!.text.includes(tail), 'the next chunk starts with the end of the previous one');
});

test('headers inside fenced code are not headers', (t) => {
  const chunks = chunkMarkdown('# Real\n\n```sh\n# not a header\necho hi\n```\n\ntext');
  t.is(chunks.length, 1);
  t.deepEqual(chunks[0]!.headers, ['Real']);
});

test('the local embedder is deterministic, unit length, and closer for closer texts', (t) => {
  const a = hashEmbedding('Postgres job queues with SKIP LOCKED', 256);
  t.deepEqual(a, hashEmbedding('Postgres job queues with SKIP LOCKED', 256));
  t.is(a.length, 256);
  t.true(Math.abs(Math.hypot(...a) - 1) < 1e-9);
  const cos = (x: number[], y: number[]) => x.reduce((s, v, i) => s + v * y[i]!, 0);
  const near = hashEmbedding('job queues in Postgres using SKIP LOCKED', 256);
  const far = hashEmbedding('the crazy ones, the misfits, the rebels', 256);
  t.true(cos(a, near) > cos(a, far));
  t.deepEqual(hashEmbedding('', 8), Array(8).fill(0));
});

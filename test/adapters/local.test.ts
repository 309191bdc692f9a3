import test, { type ExecutionContext } from 'ava';
import { chunkMarkdown } from '../../adapters/local/chunker.js';
import { hashEmbedding } from '../../adapters/local/embedder.js';
import { detectType } from '../../adapters/local/file-type.js';
import { parseLocally } from '../../adapters/local/parser.js';
import { countTokens } from '../../adapters/local/tokens.js';
import { AdapterError } from '../../adapters/errors.js';
import { encryptedPdf, html, imageOnlyPdf, largePdf, markdown, OPENING, png, rulesOnlyPdf, textPdf, vectorOnlyPdf } from '../fixtures/documents.js';
import { corpusDocuments, corpusFile, corpusTest } from '../helpers/corpus.js';

const utf8 = (text: string) => new TextEncoder().encode(text);

test('types come from content: PDF magic bytes, HTML markup, Markdown by name among text, binaries refused', async (t) => {
  t.is(detectType(await textPdf(), 'whatever.txt'), 'application/pdf');
  t.is(detectType(utf8(html), 'x.html'), 'text/html');
  t.is(detectType(utf8(markdown), 'notes.md'), 'text/markdown');
  t.is(detectType(utf8('plain words'), 'notes.txt'), 'text/plain');
  t.is(detectType(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]), 'photo.pdf'), null, 'a PNG named .pdf');
  t.is(detectType(png(8, 8, () => 0), 'photo.pdf'), null, 'a whole PNG named .pdf');
  t.is(detectType(new Uint8Array([0xff, 0xfe, 0xfd]), 'x.txt'), null, 'not UTF-8');
});

test('a text PDF parses with its headings and paragraphs, page by page; pages are counted', async (t) => {
  const parsed = await parseLocally(await textPdf(), 'application/pdf');
  t.is(parsed.pages, 4);
  t.deepEqual(parsed.warnings, []);
  const pages = parsed.markdown.split('\n\n---\n\n');
  t.is(pages.length, 4, 'pages apart by a horizontal rule');
  pages.forEach((page, i) => {
    t.regex(page, new RegExp(`^${i + 1}\\. [A-Z]`), `page ${i + 1} starts with its heading`);
    t.regex(page, new RegExp(`^${i + 1}\\.2 [A-Z]`, 'm'), `page ${i + 1} has its second subheading`);
  });
  t.true(parsed.markdown.includes(OPENING));
  t.is((await parseLocally(await textPdf({ pages: 3 }), 'application/pdf')).pages, 3);
});

test('a 120-page PDF parses: every page counted, every page has its text', async (t) => {
  const parsed = await parseLocally(await largePdf(), 'application/pdf');
  t.is(parsed.pages, 120);
  t.deepEqual(parsed.warnings, []);
  const pages = parsed.markdown.split('\n\n---\n\n');
  t.is(pages.length, 120);
  t.true(pages.every((page, i) => page.startsWith(`${i + 1}. `)), 'each page starts with its own heading');
  t.true(chunkMarkdown(parsed.markdown).length >= 30, 'about 16,000 tokens make dozens of chunks');
});

test('an encrypted PDF is a permanent PDF_ENCRYPTED error; an image-only PDF parses with a NO_TEXT warning', async (t) => {
  const encrypted = await encryptedPdf();
  t.true(Buffer.from(encrypted).includes('/Encrypt'), 'the fixture really is encrypted');
  const error = await t.throwsAsync(parseLocally(encrypted, 'application/pdf'), { instanceOf: AdapterError });
  t.like(error, { code: 'PDF_ENCRYPTED', transient: false });
  const image = await parseLocally(await imageOnlyPdf(), 'application/pdf');
  t.is(image.markdown.trim(), '');
  t.regex(image.warnings[0]!, /^NO_TEXT/);
  const broken = await t.throwsAsync(parseLocally(utf8('%PDF-1.4 nothing else'), 'application/pdf'), { instanceOf: AdapterError });
  t.is(broken!.code, 'PDF_INVALID');
});

/** A PDF without text: its pages counted, no Markdown at all (not even page rules), 0 chunks, NO_TEXT. */
async function noText(t: ExecutionContext, bytes: Uint8Array, pages: number) {
  const parsed = await parseLocally(bytes, 'application/pdf');
  t.is(parsed.pages, pages);
  t.is(parsed.markdown, '');
  t.is(parsed.warnings.length, 1);
  t.regex(parsed.warnings[0]!, /^NO_TEXT: /);
  t.deepEqual(chunkMarkdown(parsed.markdown), []);
}

// Regression: a 6-page image-only PDF gave "---" page rules as its text, and the chunker made chunks of them.
test('a scan of 6 pages has no text: no page rules, 0 chunks, NO_TEXT', async (t) => {
  const scan = await imageOnlyPdf(6);
  t.true(Buffer.from(scan).includes('/Subtype /Image'), 'the fixture holds images');
  await noText(t, scan, 6);
});

test('a drawing of 3 pages, shapes only, has no text', async (t) => {
  await noText(t, await vectorOnlyPdf(3), 3);
});

test('pages holding only rules (---, * * *, ___, ===) count as empty', async (t) => {
  await noText(t, await rulesOnlyPdf(), 4);
});

test('HTML becomes Markdown with its headers', async (t) => {
  const parsed = await parseLocally(utf8(html), 'text/html');
  t.regex(parsed.markdown, /^#{1,3} /m);
  t.regex(parsed.markdown, /^# Durable machines$/m);
  t.regex(parsed.markdown, /^### Claiming$/m);
  t.notRegex(parsed.markdown, /<\/?(div|p|html)[ >]/);
});

test('chunks follow headers, stay within the token budget, overlap, and keep the header path', (t) => {
  const chunks = chunkMarkdown(markdown, { maxTokens: 200 });
  t.true(chunks.length > 5);
  t.deepEqual(chunks.map((c) => c.index), chunks.map((_, i) => i));
  for (const chunk of chunks) {
    t.true(chunk.tokens <= 200, `chunk ${chunk.index} has ${chunk.tokens} tokens`);
    t.is(chunk.tokens, countTokens(chunk.text));
  }
  t.true(chunks.some((c) => c.headers.length >= 2), 'nested headers kept as a path');
  t.false(chunks.some((c) => c.headers.some((h) => h.startsWith('not a header'))), 'a # line in a code fence is not a header');
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

corpusTest('every corpus PDF parses locally with its documented outcome; pages are counted', async (t) => {
  const pdfs = corpusDocuments().filter((d) => d.name.endsWith('.pdf'));
  t.true(pdfs.filter((d) => d.outcome === 'text').length >= 7);
  for (const { name, content, outcome } of pdfs) {
    t.is(detectType(content, 'whatever.txt'), 'application/pdf', name);
    if (outcome === 'encrypted') {
      t.like(await t.throwsAsync(parseLocally(content, 'application/pdf'), { instanceOf: AdapterError }), { code: 'PDF_ENCRYPTED', transient: false }, name);
      continue;
    }
    const parsed = await parseLocally(content, 'application/pdf');
    if (outcome === 'no-text') {
      t.is(parsed.markdown, '', name);
      t.regex(parsed.warnings[0]!, /^NO_TEXT/, name);
    } else t.true(parsed.markdown.trim().length > 0, name);
  }
  t.is((await parseLocally(corpusFile('pdflatex-4-pages.pdf'), 'application/pdf')).pages, 4);
  t.is((await parseLocally(corpusFile('multicolumn.pdf'), 'application/pdf')).pages, 3);
});

corpusTest('corpus HTML and Markdown: types from content, HTML headers kept, chunks within budget with header paths', async (t) => {
  t.is(detectType(corpusFile('pgvectorscale.html'), 'x.html'), 'text/html');
  t.is(detectType(corpusFile('pg-boss-jobs.md'), 'pg-boss-jobs.md'), 'text/markdown');
  const parsed = await parseLocally(corpusFile('pgvectorscale.html'), 'text/html');
  t.regex(parsed.markdown, /^#{1,3} /m);
  t.notRegex(parsed.markdown, /<\/?(div|p|html)[ >]/);
  const chunks = chunkMarkdown(new TextDecoder().decode(corpusFile('pg-boss-jobs.md')), { maxTokens: 200 });
  t.true(chunks.length > 5);
  t.deepEqual(chunks.map((c) => c.index), chunks.map((_, i) => i));
  for (const chunk of chunks) {
    t.true(chunk.tokens <= 200, `chunk ${chunk.index} has ${chunk.tokens} tokens`);
    t.is(chunk.tokens, countTokens(chunk.text));
  }
  t.true(chunks.some((c) => c.headers.length >= 2), 'nested headers kept as a path');
});

// Regression for the one-word freeze: a 50 KB file holding one long word blocked every worker,
// because js-tiktoken's BPE is quadratic in a piece (8k letters took 18.5 s, 16k took 65 s) and the
// chunker encoded the same text three times. Linearity is checked by what the tokenizer is asked to
// do, never by the clock (house rule: speed belongs in benchmarks).
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chunkMarkdown } from '../../adapters/local/chunker.js';
import { cl100k, cl100kTokenizer, countTokens, MAX_PIECE_BYTES, type Tokenizer } from '../../adapters/local/tokens.js';
import { largeText, oneWord } from '../helpers/hostile.js';
import { inRepo } from '../helpers/repo.js';

/** cl100k, recording every text it is asked to encode. */
function spy(): Tokenizer & { calls: string[] } {
  const calls: string[] = [];
  return { calls, encode: (text) => (calls.push(text), cl100kTokenizer.encode(text)), decode: cl100kTokenizer.decode };
}

const utf8 = (text: string) => Buffer.byteLength(text, 'utf8');

/** Random lower-case letters: no slice repeats, so nothing is saved by remembering pieces. */
function randomWord(length: number): string {
  return Array.from(randomBytes(length), (b) => String.fromCharCode(97 + (b % 26))).join('');
}

const corpus = inRepo('../shared/corpus/pg-boss-jobs.md');
const inputs: [string, string][] = [
  ['a 50 KB one-word file', oneWord(50 * 1024)],
  ['a 50 KB word of random letters', randomWord(50 * 1024)],
  ['a run of 20,000 spaces between words', `before${' '.repeat(20_000)}after`],
  ['20,000 dashes', '-'.repeat(20_000)],
  ['a 30,000-character run of CJK letters', '数据库任务队列工作者'.repeat(3_000)],
  ['ordinary prose, 2 MB', largeText(2 * 1024 * 1024)],
  ...(existsSync(corpus) ? [['a real Markdown document', readFileSync(corpus, 'utf8')] as [string, string]] : []),
];

for (const [name, input] of inputs) {
  test(`chunking ${name}: no encode call gets a piece over the bound, and at most 3x the input is encoded`, (t) => {
    const tokenizer = spy();
    const chunks = chunkMarkdown(input, { tokenizer });
    t.true(chunks.length > 0);
    const longest = Math.max(...tokenizer.calls.map(utf8));
    t.true(longest <= MAX_PIECE_BYTES, `an encode call got ${longest} bytes`);
    const encoded = tokenizer.calls.reduce((sum, text) => sum + text.length, 0);
    t.true(encoded <= 3 * input.length, `${encoded} characters encoded for ${input.length}`);
    t.log(`${tokenizer.calls.length} encode calls, ${encoded} characters encoded for ${input.length}`);
  });
}

test('a long word is cut into chunks that stay within the budget', (t) => {
  const chunks = chunkMarkdown(oneWord(50 * 1024), { maxTokens: 512 });
  t.true(chunks.length > 1);
  for (const chunk of chunks) {
    t.true(chunk.tokens <= 512, `chunk ${chunk.index}: ${chunk.tokens}`);
    t.is(chunk.tokens, countTokens(chunk.text));
  }
  t.true(chunks.map((c) => c.text).join('').length >= 50 * 1024, 'no letters lost');
});

test('counts equal js-tiktoken for text without over-long pieces, and chunk counts are exact', (t) => {
  const text = `# Title\n\nQueues, leases (10 s), "SKIP LOCKED"; naïve café — 数据库. <|endoftext|> is just text.\n\n${largeText(50_000)}`;
  t.is(countTokens(text), cl100k().encode(text, [], []).length);
  for (const chunk of chunkMarkdown(text, { maxTokens: 200 })) {
    t.is(chunk.tokens, cl100k().encode(chunk.text, [], []).length, `chunk ${chunk.index}`);
    t.true(chunk.tokens <= 200);
  }
});

test('text that spells a special token is chunked as ordinary text', (t) => {
  const chunks = chunkMarkdown('Before <|endoftext|> after.');
  t.is(chunks.length, 1);
  t.is(chunks[0]!.text, 'Before <|endoftext|> after.');
});

import test from 'ava';
import fc from 'fast-check';
import { cl100k, cl100kTokenizer } from '../../adapters/local/tokens.js';

// docket's byte-pair encoder against js-tiktoken's, the reference: the same ids for any text.
const sample = [
  '# Title\n\nQueues, leases (10 s), "SKIP LOCKED"; naïve café — 数据库. <|endoftext|> is just text.',
  "  indented\tcode();  // comment\r\n\r\n\n   trailing   ",
  'emoji 👩‍💻🎉, Cyrillic Привет, Arabic مرحبا, Thai สวัสดี, combining é, a lone surrogate \ud800 here',
  `${'x'.repeat(300)} ${'🙂'.repeat(40)} ${'-'.repeat(90)} 1234567890123 3.14159 $$$ ///`,
];

test('the same ids as js-tiktoken for prose, code, scripts, emoji, long runs and special-token text', (t) => {
  for (const text of sample) t.deepEqual(cl100kTokenizer.encode(text), cl100k().encode(text, [], []), JSON.stringify(text.slice(0, 40)));
});

test('the same ids as js-tiktoken for any string (property), and decode gives the text back', (t) => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: 'grapheme', maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 80 }), fc.string({ maxLength: 200 })), (text) => {
      const ids = cl100kTokenizer.encode(text);
      if (JSON.stringify(ids) !== JSON.stringify(cl100k().encode(text, [], []))) return false;
      // Lone surrogates are encoded as U+FFFD, as TextEncoder does, and come back as it.
      return cl100kTokenizer.decode(ids) === text.toWellFormed();
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('an unknown id is refused by name', (t) => {
  t.throws(() => cl100kTokenizer.decode([1, 999_999]), { instanceOf: RangeError, message: /999999/ });
});

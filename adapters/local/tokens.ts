import { getEncoding, type Tiktoken } from 'js-tiktoken';

/** What the chunker needs of a tokenizer; injectable so tests can watch what it is asked to encode. */
export interface Tokenizer {
  encode(text: string): number[];
  decode(ids: number[]): string;
}

let encoding: Tiktoken | undefined;

/** cl100k_base, the tokenizer of OpenAI's embedding models; its ranks ship inside js-tiktoken (no download). */
export function cl100k(): Tiktoken {
  encoding ??= getEncoding('cl100k_base');
  return encoding;
}

/**
 * cl100k as a Tokenizer. Special-token text such as `<|endoftext|>` in a document is encoded as
 * ordinary text: js-tiktoken's default throws on it, which would fail the document.
 */
export const cl100kTokenizer: Tokenizer = {
  encode: (text) => cl100k().encode(text, [], []),
  decode: (ids) => cl100k().decode(ids),
};

/**
 * The longest run of letters, of whitespace or of punctuation handed to the tokenizer in one piece.
 * cl100k's pre-tokenizer makes each such run one BPE piece, and js-tiktoken's BPE is quadratic in a
 * piece's bytes: one 8,000-letter word took 6 s to encode, 16,000 letters about 22 s. Sliced at 64
 * characters, a 50 KB word encodes in about 0.25 s (4.7 ms per 1,000 letters; 2.2 ms at 16, 37 ms at
 * 512). Counts stay exact for text without such runs (English words stay far below 64 letters);
 * for a longer run they may be off by about one token per 64-character slice, where the true
 * tokenization would have merged across the cut.
 */
export const MAX_RUN = 64;

const LONG_RUN = new RegExp(`\\p{L}{${MAX_RUN + 1},}|\\s{${MAX_RUN + 1},}|[^\\s\\p{L}\\p{N}]{${MAX_RUN + 1},}`, 'gu');

/** Encodes `text` with no run longer than MAX_RUN in one piece: linear in the text's length. */
export function encodeBounded(tokenizer: Tokenizer, text: string): number[] {
  const ids: number[] = [];
  const add = (part: string) => {
    // A loop, not push(...part): a spread of a few hundred thousand ids overflows the stack.
    for (const id of tokenizer.encode(part)) ids.push(id);
  };
  let at = 0;
  for (const match of text.matchAll(LONG_RUN)) {
    if (match.index > at) add(text.slice(at, match.index));
    const run = match[0];
    for (let i = 0; i < run.length; ) {
      let end = Math.min(i + MAX_RUN, run.length);
      // Never cut a surrogate pair (letters outside the BMP are runs too).
      if (end < run.length && isHighSurrogate(run.charCodeAt(end - 1))) end -= 1;
      add(run.slice(i, end));
      i = end;
    }
    at = match.index + run.length;
  }
  if (at < text.length || text.length === 0) add(text.slice(at));
  return ids;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** cl100k tokens in `text`, bounded as the chunker counts them. */
export function countTokens(text: string): number {
  return encodeBounded(cl100kTokenizer, text).length;
}

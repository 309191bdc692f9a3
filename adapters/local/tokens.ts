import { Tiktoken } from 'js-tiktoken/lite';
import cl100kBase from 'js-tiktoken/ranks/cl100k_base';

/** What the chunker needs of a cl100k tokenizer; injectable so tests can watch what it is asked to encode. */
export interface Tokenizer {
  encode(text: string): number[];
  decode(ids: number[]): string;
}

let reference: Tiktoken | undefined;

/**
 * js-tiktoken's cl100k_base encoder: the reference the tests and the OpenAI mock count with. docket's
 * own chunking uses `cl100kTokenizer`, which gives the same ids and starts far faster.
 */
export function cl100k(): Tiktoken {
  reference ??= new Tiktoken(cl100kBase);
  return reference;
}

/**
 * cl100k_base's byte-pair encoding over js-tiktoken's rank file, with each token's bytes held as a
 * binary string (one character per byte). js-tiktoken's constructor builds its tables through an
 * object of 100,000 keys and comma-joined byte lists: 0.6 s on an idle core here, several seconds
 * under load, paid by every document thread as it starts; this takes under a tenth of that, and its
 * lookups need no joining. The merge is tiktoken's own (lowest-ranked adjacent pair first).
 */
class BytePairEncoder implements Tokenizer {
  readonly #ranks = new Map<string, number>();
  readonly #tokens: string[] = [];
  readonly #pattern = new RegExp(cl100kBase.pat_str, 'gu');
  readonly #encoder = new TextEncoder();
  readonly #decoder = new TextDecoder();

  constructor(bpeRanks: string) {
    for (const line of bpeRanks.split('\n')) {
      if (!line) continue;
      // "! <first rank> <base64 token> <base64 token> …": consecutive ranks from the first.
      const fields = line.split(' ');
      let rank = Number(fields[1]);
      for (let i = 2; i < fields.length; i += 1, rank += 1) {
        const bytes = atob(fields[i]!);
        this.#ranks.set(bytes, rank);
        this.#tokens[rank] = bytes;
      }
    }
  }

  /** The ids of `text`, split by cl100k's pre-tokenizer; special-token text is ordinary text. */
  encode(text: string): number[] {
    const ids: number[] = [];
    const pattern = this.#pattern;
    pattern.lastIndex = 0;
    for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
      for (const id of this.#piece(this.#binary(match[0]))) ids.push(id);
    }
    return ids;
  }

  decode(ids: number[]): string {
    let binary = '';
    for (const id of ids) {
      const bytes = this.#tokens[id];
      if (bytes === undefined) throw new RangeError(`no cl100k token ${id}`);
      binary += bytes;
    }
    const out = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) out[i] = binary.charCodeAt(i);
    return this.#decoder.decode(out);
  }

  /** A piece's UTF-8 bytes as a binary string; ASCII is its own. */
  #binary(piece: string): string {
    if (/^[\x00-\x7f]*$/.test(piece)) return piece;
    let binary = '';
    for (const byte of this.#encoder.encode(piece)) binary += String.fromCharCode(byte);
    return binary;
  }

  #piece(bytes: string): number[] {
    const ranks = this.#ranks;
    const whole = ranks.get(bytes);
    if (whole !== undefined) return [whole];
    // Parts start at bounds[i] and end at bounds[i + 1]; pairs[i] ranks parts i and i + 1 merged.
    const bounds = Array.from({ length: bytes.length + 1 }, (_, i) => i);
    const pairRank = (i: number) => (i + 2 < bounds.length ? (ranks.get(bytes.slice(bounds[i], bounds[i + 2])) ?? Infinity) : Infinity);
    const pairs = bounds.slice(0, -1).map((_, i) => pairRank(i));
    for (;;) {
      let lowest = Infinity;
      let at = -1;
      for (let i = 0; i < pairs.length; i += 1) {
        if (pairs[i]! < lowest) {
          lowest = pairs[i]!;
          at = i;
        }
      }
      if (at < 0) break;
      bounds.splice(at + 1, 1);
      pairs.splice(at + 1, 1);
      pairs[at] = pairRank(at);
      if (at > 0) pairs[at - 1] = pairRank(at - 1);
    }
    const ids: number[] = [];
    for (let i = 0; i + 1 < bounds.length; i += 1) ids.push(ranks.get(bytes.slice(bounds[i], bounds[i + 1]))!);
    return ids;
  }
}

let encoder: BytePairEncoder | undefined;
const bytePairEncoder = () => (encoder ??= new BytePairEncoder(cl100kBase.bpe_ranks));

/**
 * cl100k_base, the tokenizer of OpenAI's embedding models, as docket counts with it; its ranks ship
 * inside js-tiktoken (no download). Built on first use. Special-token text such as `<|endoftext|>`
 * in a document is encoded as ordinary text (js-tiktoken's default throws on it, which would fail
 * the document).
 */
export const cl100kTokenizer: Tokenizer = {
  encode: (text) => bytePairEncoder().encode(text),
  decode: (ids) => bytePairEncoder().decode(ids),
};

/**
 * The longest piece handed to BPE in one call, in UTF-8 bytes. cl100k's pre-tokenizer makes a run of
 * letters (or of spaces, or of punctuation) one piece, and js-tiktoken's BPE is quadratic in a
 * piece's bytes: one 8,000-letter word took 6 s to encode, 16,000 letters about 22 s. In 128-byte
 * slices, random letters cost about 8.5 ms per 1,000 (2.2 ms at 16 bytes, 37 ms at 512), so a 50 KB
 * word of random letters takes about 0.4 s, and a repeated one next to nothing (slices are
 * remembered). Counts are exact for pieces up to 128 bytes, which covers words, identifiers and most
 * table padding; a longer piece may be off by about one token per slice, where BPE would have
 * merged across the cut (in the corpus, padded Markdown tables with 193-space runs: 3 of 648 chunks
 * counted one token high).
 */
export const MAX_PIECE_BYTES = 128;

/** Distinct pieces remembered; prose repeats a few thousand words, so this is rarely reached. */
const CACHE_SIZE = 100_000;

/**
 * Encodes text the way js-tiktoken does (its own pre-tokenizer regex, then BPE per piece), with two
 * changes that make it linear and fast: a piece longer than MAX_PIECE is encoded in slices, and each
 * distinct piece is encoded once and remembered (18 MB of prose: 0.3 s instead of 13.7 s). Results
 * equal js-tiktoken's for every piece within the bound. One encoder per document.
 */
export class PieceEncoder {
  readonly #tokenizer: Tokenizer;
  readonly #pattern = new RegExp(cl100kBase.pat_str, 'gu');
  readonly #cache = new Map<string, number[]>();

  constructor(tokenizer: Tokenizer = cl100kTokenizer) {
    this.#tokenizer = tokenizer;
  }

  /** Token ids of `text`. */
  encode(text: string): number[] {
    const ids: number[] = [];
    this.#each(text, (piece) => {
      for (const id of piece) ids.push(id);
    });
    return ids;
  }

  decode(ids: number[]): string {
    return this.#tokenizer.decode(ids);
  }

  /**
   * Number of tokens in `text`. With `limit`, counting stops once the total passes it: the result
   * is exact when it is at most `limit`, and otherwise only says "more than `limit`". The chunker
   * asks this of a paragraph that it splits into sentences when too big: a 2 MB paragraph is then
   * read once (as sentences), not twice.
   */
  count(text: string, limit = Number.POSITIVE_INFINITY): number {
    let total = 0;
    this.#each(text, (piece) => {
      total += piece.length;
      return total > limit;
    });
    return total;
  }

  /** Calls `use` with each piece's ids, in order, until it returns true. */
  #each(text: string, use: (ids: number[]) => boolean | void): void {
    const pattern = this.#pattern;
    pattern.lastIndex = 0;
    for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
      const piece = match[0];
      // A UTF-16 unit is at most 3 UTF-8 bytes: short pieces need no measuring.
      if (piece.length * 3 <= MAX_PIECE_BYTES) {
        if (use(this.#piece(piece))) return;
      } else {
        for (const slice of slices(piece)) if (use(this.#piece(slice))) return;
      }
    }
  }

  #piece(piece: string): number[] {
    let ids = this.#cache.get(piece);
    if (!ids) {
      ids = this.#tokenizer.encode(piece);
      if (this.#cache.size >= CACHE_SIZE) this.#cache.clear();
      this.#cache.set(piece, ids);
    }
    return ids;
  }
}

/** The piece in slices of at most MAX_PIECE_BYTES UTF-8 bytes, never cutting a surrogate pair. */
function* slices(piece: string): Generator<string> {
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < piece.length; ) {
    const code = piece.charCodeAt(i);
    const pair = code >= 0xd800 && code <= 0xdbff && i + 1 < piece.length;
    const size = code < 0x80 ? 1 : code < 0x800 ? 2 : pair ? 4 : 3;
    if (bytes + size > MAX_PIECE_BYTES) {
      yield piece.slice(start, i);
      start = i;
      bytes = 0;
    }
    bytes += size;
    i += pair ? 2 : 1;
  }
  if (start < piece.length) yield piece.slice(start);
}

/** cl100k tokens in `text`, counted as the chunker counts them. */
export function countTokens(text: string): number {
  return new PieceEncoder().count(text);
}

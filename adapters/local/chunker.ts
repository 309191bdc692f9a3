import { MAX_PIECE_BYTES, PieceEncoder, type Tokenizer } from './tokens.js';

export interface ChunkerOptions {
  /** Target size of a chunk in cl100k tokens. Default 512. */
  maxTokens?: number;
  /** Tokens repeated from the end of one chunk at the start of the next. Default 15% of maxTokens. */
  overlapTokens?: number;
  /** cl100k_base by default; tests inject one to watch what it is asked to encode. */
  tokenizer?: Tokenizer;
}

export interface Chunk {
  /** 0, 1, 2… in document order. */
  index: number;
  text: string;
  tokens: number;
  /** The Markdown headers above the chunk, outermost first. */
  headers: string[];
  /** Character offset of the chunk's section in the source. */
  offset: number;
}

/** A paragraph, a sentence or a token window, with its tokens counted once. */
interface Unit {
  text: string;
  /** Tokens of the text alone. */
  tokens: number;
  /** Tokens of the text followed by the blank line that joins it to the next unit. */
  joined: number;
}

interface Section {
  headers: string[];
  text: string;
  offset: number;
}

const HEADER = /^(#{1,6})\s+(.+?)\s*#*\s*$/;
const FENCE = /^(```|~~~)/;

/**
 * Splits Markdown into chunks: first at headers (keeping the header path), then into pieces of about
 * `maxTokens` cl100k tokens along paragraph and sentence boundaries, each piece starting with the
 * last ~15% of the one before.
 */
export function chunkMarkdown(markdown: string, options: ChunkerOptions = {}): Chunk[] {
  const maxTokens = options.maxTokens ?? 512;
  const overlap = options.overlapTokens ?? Math.round(maxTokens * 0.15);
  const encoder = new PieceEncoder(options.tokenizer);
  const chunks: Chunk[] = [];
  for (const section of sections(markdown)) {
    for (const { text, tokens } of pieces(units(section.text, maxTokens, encoder), maxTokens, overlap)) {
      chunks.push({ index: chunks.length, text, tokens, headers: section.headers, offset: section.offset });
    }
  }
  return chunks;
}

/** Sections between headers; a header line starts a section and stays in its text. Fenced code is not scanned. */
function sections(markdown: string): Section[] {
  const out: Section[] = [];
  const path: { level: number; title: string }[] = [];
  let current: Section = { headers: [], text: '', offset: 0 };
  let inFence = false;
  let offset = 0;
  for (const line of markdown.split('\n')) {
    if (FENCE.test(line.trim())) inFence = !inFence;
    const header = inFence ? null : HEADER.exec(line);
    if (header) {
      if (current.text.trim()) out.push(current);
      const level = header[1]!.length;
      while (path.length && path[path.length - 1]!.level >= level) path.pop();
      path.push({ level, title: header[2]! });
      current = { headers: path.map((h) => h.title), text: '', offset };
    }
    current.text += `${line}\n`;
    offset += line.length + 1;
  }
  if (current.text.trim()) out.push(current);
  return out;
}

/**
 * Paragraphs, then sentences, then (for a run-on giant) raw token windows: units that fit in a chunk.
 * Each unit is counted once and its count reused for packing, overlap and the chunk's count (the
 * chunk is never encoded again); a paragraph too big for a chunk is counted only up to the limit,
 * then as sentences. The encoder bounds and remembers pieces (tokens.ts), so all of it is linear.
 */
function units(text: string, maxTokens: number, encoder: PieceEncoder): Unit[] {
  const out: Unit[] = [];
  for (const paragraph of text.split(/\n{2,}/).map((p) => p.trim()).filter(Boolean)) {
    // Counted only as far as the limit: past it, the paragraph is counted as sentences instead.
    const tokens = encoder.count(paragraph, maxTokens);
    if (tokens <= maxTokens) {
      out.push(unit(paragraph, tokens, encoder));
      continue;
    }
    const sentences = paragraph.split(/(?<=[.!?])\s+/);
    for (const sentence of sentences) {
      // One sentence is the paragraph, already known to be over: it goes to token windows.
      const sentenceTokens = sentences.length === 1 ? tokens : encoder.count(sentence, maxTokens);
      if (sentenceTokens <= maxTokens) out.push(unit(sentence, sentenceTokens, encoder));
      else out.push(...tokenWindows(sentence, maxTokens, encoder));
    }
  }
  return out;
}

function tokenWindows(text: string, size: number, encoder: PieceEncoder): Unit[] {
  const ids = encoder.encode(text);
  const out: Unit[] = [];
  for (let i = 0; i < ids.length; i += size) {
    // Decoded and encoded again, the window may not split where the ids did: count it as text.
    const window = encoder.decode(ids.slice(i, i + size)).trim();
    if (window) out.push(unit(window, encoder.count(window), encoder));
  }
  return out;
}

const TRAILING_PUNCTUATION = /(?: ?[^\s\p{L}\p{N}]+)$/u;

/**
 * A unit and its count when a blank line follows it. cl100k's pre-tokenizer keeps "\n\n" a piece
 * of its own (one token) unless the text ends in punctuation, which takes the newlines into its
 * piece; the next unit's pieces never change. So the exact count of units joined by blank lines is
 * the sum of their `joined` counts less the last one's newline: no need to encode the chunk again.
 */
function unit(text: string, tokens: number, encoder: PieceEncoder): Unit {
  // Only the tail can hold the last piece; a longer punctuation run is sliced anyway (tokens.ts).
  const tail = TRAILING_PUNCTUATION.exec(text.slice(-(MAX_PIECE_BYTES + 2)));
  if (!tail) return { text, tokens, joined: tokens + 1 };
  const piece = tail[0];
  return { text, tokens, joined: tokens - encoder.count(piece) + encoder.count(`${piece}\n\n`) };
}

/** Packs units into chunks of at most maxTokens, each new chunk opening with the previous one's tail. */
function pieces(units: Unit[], maxTokens: number, overlap: number): { text: string; tokens: number }[] {
  const out: { text: string; tokens: number }[] = [];
  let current: Unit[] = [];
  // The sum of `joined`: the chunk's tokens plus the blank line that would follow it.
  let size = 0;
  const flush = () => {
    const last = current[current.length - 1]!;
    out.push({ text: current.map((u) => u.text).join('\n\n'), tokens: size - last.joined + last.tokens });
  };
  for (const next of units) {
    if (size + next.joined > maxTokens && current.length > 0) {
      flush();
      // Carry whole units from the end while they fit in the overlap budget.
      const carried: Unit[] = [];
      let carriedSize = 0;
      for (let i = current.length - 1; i >= 0 && carriedSize + current[i]!.joined <= overlap; i--) {
        carried.unshift(current[i]!);
        carriedSize += current[i]!.joined;
      }
      current = carriedSize + next.joined <= maxTokens ? carried : [];
      size = current === carried ? carriedSize : 0;
    }
    current.push(next);
    size += next.joined;
  }
  if (current.length > 0) flush();
  return out;
}

import { cl100k, countTokens } from './tokens.js';

export interface ChunkerOptions {
  /** Target size of a chunk in cl100k tokens. Default 512. */
  maxTokens?: number;
  /** Tokens repeated from the end of one chunk at the start of the next. Default 15% of maxTokens. */
  overlapTokens?: number;
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
  const chunks: Chunk[] = [];
  for (const section of sections(markdown)) {
    for (const text of pieces(section.text, maxTokens, overlap)) {
      chunks.push({ index: chunks.length, text, tokens: countTokens(text), headers: section.headers, offset: section.offset });
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

/** Paragraphs, then sentences, then (for a run-on giant) raw token windows: units that fit in a chunk. */
function units(text: string, maxTokens: number): string[] {
  const out: string[] = [];
  for (const paragraph of text.split(/\n{2,}/).map((p) => p.trim()).filter(Boolean)) {
    if (countTokens(paragraph) <= maxTokens) {
      out.push(paragraph);
      continue;
    }
    for (const sentence of paragraph.split(/(?<=[.!?])\s+/)) {
      if (countTokens(sentence) <= maxTokens) out.push(sentence);
      else out.push(...tokenWindows(sentence, maxTokens));
    }
  }
  return out;
}

function tokenWindows(text: string, size: number): string[] {
  const enc = cl100k();
  const ids = enc.encode(text);
  const out: string[] = [];
  for (let i = 0; i < ids.length; i += size) out.push(enc.decode(ids.slice(i, i + size)));
  return out;
}

/** Packs units into chunks of at most maxTokens, each new chunk opening with the previous one's tail. */
function pieces(text: string, maxTokens: number, overlap: number): string[] {
  const out: string[] = [];
  let current: { text: string; tokens: number }[] = [];
  let size = 0;
  for (const unit of units(text, maxTokens)) {
    // One more token for the blank line that joins units, so the joined chunk stays within budget.
    const tokens = countTokens(unit) + 1;
    if (size + tokens > maxTokens && current.length > 0) {
      out.push(current.map((u) => u.text).join('\n\n'));
      // Carry whole units from the end while they fit in the overlap budget.
      const carried: typeof current = [];
      let carriedSize = 0;
      for (let i = current.length - 1; i >= 0 && carriedSize + current[i]!.tokens <= overlap; i--) {
        carried.unshift(current[i]!);
        carriedSize += current[i]!.tokens;
      }
      current = carriedSize + tokens <= maxTokens ? carried : [];
      size = current === carried ? carriedSize : 0;
    }
    current.push({ text: unit, tokens });
    size += tokens;
  }
  if (current.length > 0) out.push(current.map((u) => u.text).join('\n\n'));
  return out;
}

/**
 * The chaos run's documents, made from a seed: Markdown and plain text of a few KB, and small
 * PDFs. Each carries its number and the seed, so no two have the same bytes (the API dedupes
 * identical bytes by sha256, and a duplicate would not be a new job).
 */
import { textPdf } from './pdf.js';

export interface Document {
  name: string;
  content: Uint8Array;
  type: string;
}

const WORDS = (
  'durable machine state event worker lease timer effect journal snapshot chunk embedding vector parse ' +
  'upload document pipeline retry backoff jitter postgres cluster restart crash recovery commit rollback ' +
  'transaction inbox outbox webhook callback poll batch token header paragraph sentence page offset ' +
  'idempotent exactly once at least order sequence contiguous counter projection stage validate queue'
).split(' ');

/** mulberry32: a small seeded PRNG, so a run's documents and schedule repeat for the same seed. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sentence(rand: () => number): string {
  const n = 8 + Math.floor(rand() * 12);
  const words = Array.from({ length: n }, () => WORDS[Math.floor(rand() * WORDS.length)]!);
  const text = words.join(' ');
  return `${text[0]!.toUpperCase()}${text.slice(1)}.`;
}

function paragraph(rand: () => number): string {
  return Array.from({ length: 3 + Math.floor(rand() * 4) }, () => sentence(rand)).join(' ');
}

function markdown(i: number, seed: number, rand: () => number): string {
  const parts = [`# Chaos document ${i}`, `Seed ${seed}, document ${i}.`];
  const sections = 2 + Math.floor(rand() * 4);
  for (let s = 0; s < sections; s++) {
    parts.push(`## Section ${s + 1} of document ${i}`);
    for (let p = 0; p < 2 + Math.floor(rand() * 3); p++) parts.push(paragraph(rand));
    if (rand() < 0.4) parts.push(['- first item', `- item ${i}.${s}`, `- ${sentence(rand)}`].join('\n'));
  }
  return `${parts.join('\n\n')}\n`;
}

function plainText(i: number, seed: number, rand: () => number): string {
  const parts = [`Chaos text ${i} (seed ${seed})`];
  for (let p = 0; p < 5 + Math.floor(rand() * 6); p++) parts.push(paragraph(rand));
  return `${parts.join('\n\n')}\n`;
}

function pdf(i: number, seed: number, rand: () => number): Uint8Array {
  const pages = Array.from({ length: 1 + Math.floor(rand() * 3) }, (_, p) => {
    const lines = [`Chaos PDF ${i}, seed ${seed}, page ${p + 1}`];
    for (let l = 0; l < 20 + Math.floor(rand() * 20); l++) lines.push(sentence(rand));
    return lines;
  });
  return textPdf(pages);
}

/** Document number `i` of the run with this seed: about 70% Markdown, 20% text, 10% PDF. */
export function makeDocument(i: number, seed: number): Document {
  const rand = random(seed * 1_000_003 + i);
  const kind = rand();
  const encode = (text: string) => new TextEncoder().encode(text);
  if (kind < 0.1) return { name: `doc-${i}.pdf`, content: pdf(i, seed, rand), type: 'application/pdf' };
  if (kind < 0.3) return { name: `doc-${i}.txt`, content: encode(plainText(i, seed, rand)), type: 'text/plain' };
  return { name: `doc-${i}.md`, content: encode(markdown(i, seed, rand)), type: 'text/markdown' };
}

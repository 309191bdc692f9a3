// The corpus tier: real-world documents in ../shared/corpus, beside the repository. CI always has
// the folder; a clone alone does not, and then these tests are skipped (scripts/test.mjs names
// them in one line). The documents are never copied into the repository.
import test, { type ExecutionContext } from 'ava';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { DocumentCase, Outcome } from '../fixtures/documents.js';
import { inRepo } from './repo.js';

const folder = pathToFileURL(inRepo('../shared/corpus/'));

/** The corpus folder, or null when it is not there. */
export const corpus: URL | null = existsSync(folder) ? folder : null;

type Implementation = (t: ExecutionContext) => Promise<void> | void;

/**
 * Declares a corpus-tier test: `test` when the corpus is there, `test.skip` when not. Give the
 * title as a string literal: scripts/test.mjs reads it from the source to name the skipped tests.
 */
export const corpusTest: (title: string, implementation: Implementation) => void = corpus ? test : test.skip;
/** As corpusTest, for files whose tests run one at a time. */
export const corpusSerial: (title: string, implementation: Implementation) => void = corpus ? test.serial : test.serial.skip;

/** The two corpus files with an outcome other than chunks of text. */
const OUTCOMES: Record<string, Outcome> = {
  'libreoffice-writer-password.pdf': 'encrypted',
  'imagemagick-lzw.pdf': 'no-text',
};

/** The corpus documents (PDF, Markdown, HTML) with their documented outcomes and paths. */
export function corpusDocuments(): (DocumentCase & { path: string })[] {
  if (!corpus) throw new Error('../shared/corpus is not there; declare the test with corpusTest or corpusSerial');
  return readdirSync(corpus)
    .filter((name) => /\.(pdf|md|html)$/.test(name))
    .map((name) => {
      const url = new URL(name, corpus!);
      return { name, path: fileURLToPath(url), content: new Uint8Array(readFileSync(url)), outcome: OUTCOMES[name] ?? 'text' };
    });
}

/** One corpus file's bytes. */
export function corpusFile(name: string): Uint8Array {
  if (!corpus) throw new Error('../shared/corpus is not there; declare the test with corpusTest or corpusSerial');
  return new Uint8Array(readFileSync(new URL(name, corpus)));
}

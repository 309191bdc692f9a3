import { NodeHtmlMarkdown } from 'node-html-markdown';
import { extractText, getDocumentProxy } from 'unpdf';
import type { ParsedDocument } from '../contracts.js';
import { AdapterError } from '../errors.js';
import type { DocumentType } from './file-type.js';
import { cleanText } from './text.js';

export type { ParsedDocument };

export interface ParseOptions {
  /** A PDF with more pages fails with PAGE_LIMIT, judged from its page count before any text is extracted. Default: no limit. */
  maxPages?: number;
  /** The caller hands the bytes over (a worker thread's own copy): PDF.js may keep them, no copy is made. */
  owned?: boolean;
}

/**
 * Parses a document in this process: PDF through unpdf (PDF.js), HTML to Markdown, Markdown and
 * text as they are. Errors retrying cannot fix are permanent AdapterErrors with a stable code. The
 * text is safe for a Postgres text column: no NUL, no lone surrogate. Plain code, so it runs in a
 * worker thread as well (workers.ts runs it there, under time and memory limits).
 */
export async function parseLocally(bytes: Uint8Array, type: DocumentType, options: ParseOptions = {}): Promise<ParsedDocument> {
  switch (type) {
    case 'application/pdf':
      return parsePdf(bytes, options);
    case 'text/html':
      return { markdown: cleanText(NodeHtmlMarkdown.translate(decode(bytes))), pages: 1, warnings: [] };
    case 'text/markdown':
    case 'text/plain':
      return { markdown: cleanText(decode(bytes)), pages: 1, warnings: [] };
  }
}

async function parsePdf(bytes: Uint8Array, options: ParseOptions): Promise<ParsedDocument> {
  let pages: string[];
  try {
    // PDF.js takes ownership of the buffer it is given: hand it a copy unless the bytes are ours to give.
    const pdf = await getDocumentProxy(options.owned ? bytes : new Uint8Array(bytes), { verbosity: 0 });
    // The count comes from the page tree's root, before any page is loaded: a 20,000-page PDF took
    // 126 s and 4.2 GB to extract.
    try {
      if (options.maxPages !== undefined && pdf.numPages > options.maxPages) {
        throw new AdapterError('PAGE_LIMIT', `the PDF has ${pdf.numPages} pages; the limit is ${options.maxPages}`);
      }
      pages = ((await extractText(pdf, { mergePages: false })).text as string[]).map(cleanText);
    } finally {
      // A worker thread parses many documents: let PDF.js free each one.
      await pdf.destroy();
    }
  } catch (error) {
    if (error instanceof AdapterError) throw error;
    const name = (error as { name?: string }).name;
    if (name === 'PasswordException') throw new AdapterError('PDF_ENCRYPTED', 'the PDF is encrypted and needs a password', { cause: error });
    throw new AdapterError('PDF_INVALID', `the PDF could not be read: ${(error as Error).message}`, { cause: error });
  }
  const warnings: string[] = [];
  const empty = pages.filter(blank).length;
  if (empty === pages.length) {
    // No separators either: joined, the 5 rules between 6 empty pages would be chunked as text.
    warnings.push('NO_TEXT: the PDF has no text layer (scanned or image-only); nothing to chunk');
    return { markdown: '', pages: pages.length, warnings };
  }
  if (empty > 0) warnings.push(`EMPTY_PAGES: ${empty} of ${pages.length} pages have no text`);
  return { markdown: pages.map((page) => (blank(page) ? '' : page.trim())).join('\n\n---\n\n'), pages: pages.length, warnings };
}

/** A page with nothing but whitespace and rule characters (`---`, `* * *`, `___`, `===`) has no text. */
function blank(page: string): boolean {
  return /^[\s\-*_=\u2013\u2014]*$/.test(page);
}

function decode(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes).replace(/^\uFEFF/, '');
}

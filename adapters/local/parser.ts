import { NodeHtmlMarkdown } from 'node-html-markdown';
import { extractText, getDocumentProxy } from 'unpdf';
import { AdapterError } from '../errors.js';
import type { DocumentType } from './file-type.js';

export interface ParsedDocument {
  /** The document as Markdown; PDF pages are separated by a horizontal rule. */
  markdown: string;
  pages: number;
  /** Why the result may be incomplete: NO_TEXT (an image-only PDF), EMPTY_PAGES … */
  warnings: string[];
}

/**
 * Parses a document in this process: PDF through unpdf (PDF.js), HTML to Markdown, Markdown and
 * text as they are. Errors retrying cannot fix are PermanentError with a stable code.
 */
export async function parseLocally(bytes: Uint8Array, type: DocumentType): Promise<ParsedDocument> {
  switch (type) {
    case 'application/pdf':
      return parsePdf(bytes);
    case 'text/html':
      return { markdown: NodeHtmlMarkdown.translate(decode(bytes)), pages: 1, warnings: [] };
    case 'text/markdown':
    case 'text/plain':
      return { markdown: decode(bytes), pages: 1, warnings: [] };
  }
}

async function parsePdf(bytes: Uint8Array): Promise<ParsedDocument> {
  let pages: string[];
  try {
    // PDF.js takes ownership of the buffer it is given: hand it a copy.
    const pdf = await getDocumentProxy(new Uint8Array(bytes), { verbosity: 0 });
    pages = (await extractText(pdf, { mergePages: false })).text as string[];
  } catch (error) {
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

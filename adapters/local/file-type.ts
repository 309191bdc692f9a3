/** The document types the pipeline reads, decided from content (magic bytes), not the name alone. */
export type DocumentType = 'application/pdf' | 'text/html' | 'text/markdown' | 'text/plain';

export const SUPPORTED_TYPES: readonly DocumentType[] = ['application/pdf', 'text/html', 'text/markdown', 'text/plain'];

const PDF_MAGIC = Buffer.from('%PDF-');
const HTML_START = /^\s*(<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>])/i;
const MARKDOWN_NAME = /\.(md|markdown|mdown|mkd)$/i;
const HTML_NAME = /\.html?$/i;

/**
 * The type of a document from its content: PDF by its magic bytes, text by being valid UTF-8. Among
 * text types, HTML markup at the start decides, then the file name (.html, .md), else plain text.
 * Returns null for anything else (images, archives, binary): the caller answers 415.
 */
export function detectType(bytes: Uint8Array, filename: string): DocumentType | null {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, 1024));
  // PDF readers accept the header anywhere in the first 1024 bytes.
  if (head.indexOf(PDF_MAGIC) !== -1) return 'application/pdf';
  if (!isText(bytes)) return null;
  const start = new TextDecoder().decode(head).replace(/^\uFEFF/, '');
  if (HTML_START.test(start) || HTML_NAME.test(filename)) return 'text/html';
  return MARKDOWN_NAME.test(filename) ? 'text/markdown' : 'text/plain';
}

/** Valid UTF-8 without NUL bytes: what text files are, and binaries are not. */
function isText(bytes: Uint8Array): boolean {
  if (bytes.includes(0)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

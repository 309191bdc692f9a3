declare global {
  interface String {
    /** ES2024, in Node since 20: lone surrogates become U+FFFD. */
    toWellFormed(): string;
  }
}

/**
 * Text a Postgres text column accepts: without U+0000 (a PDF whose font maps a glyph to NUL failed
 * with SQLSTATE 22021) and without lone surrogates (not encodable as UTF-8).
 */
export function cleanText(text: string): string {
  return text.replaceAll('\u0000', '').toWellFormed();
}

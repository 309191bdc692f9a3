/**
 * Upload file names are cleaned, not refused: a name is only a label (the content decides the type),
 * and refusing a document for its name helps no one. What is removed is what could mislead a reader
 * or a tool that later writes the name to disk, or that the database cannot store.
 */

/** C0 and C1 control characters, DEL included; NUL among them (PostgreSQL cannot store it). */
const CONTROL = /[\u0000-\u001F\u007F-\u009F]/g;
/** Bidi marks and overrides: U+202E makes "invoice\u202Efdp.exe" read as "invoiceexe.pdf". */
const BIDI = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;
/** UTF-16 surrogates without their pair: not Unicode, and not storable as UTF-8. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Longest name kept, in characters (code points): 255 is what most file systems allow in bytes. */
export const MAX_FILENAME_CHARS = 200;
/** An extension longer than this is not kept apart when a long name is cut. */
const MAX_EXTENSION_CHARS = 16;

/**
 * The name to store for an uploaded file: NFC, without control characters, bidi marks or lone
 * surrogates, only its base name (no directories, so no `../`), at most 200 characters with its
 * extension kept, and `upload` when nothing is left.
 */
export function cleanFilename(raw: string | undefined): string {
  let name = (raw ?? '').replace(LONE_SURROGATE, '').normalize('NFC').replace(CONTROL, '').replace(BIDI, '');
  name = (name.split(/[/\\]/).at(-1) ?? '').trim();
  if (/^\.+$/.test(name)) name = '';
  return cap(name) || 'upload';
}

function cap(name: string): string {
  const chars = Array.from(name);
  if (chars.length <= MAX_FILENAME_CHARS) return name;
  const dot = name.lastIndexOf('.');
  const extension = dot > 0 ? Array.from(name.slice(dot)) : [];
  const kept = extension.length <= MAX_EXTENSION_CHARS ? extension : [];
  return (chars.slice(0, MAX_FILENAME_CHARS - kept.length).join('') + kept.join('')).trim();
}

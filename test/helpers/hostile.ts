/**
 * Hostile documents, made by hand so a clone alone runs the tests: a PDF whose one content stream
 * inflates to tens of MiB (a decompression bomb), a PDF of 20,000 pages sharing one content
 * stream, and text that costs a naive BPE tokenizer quadratic time.
 */
import { deflateSync } from 'node:zlib';

/** A PDF of the given objects (numbered from 1, object 1 the catalog), with a correct xref table. */
export function pdfOf(objects: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1')];
  let length = parts[0]!.length;
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(length);
    const part = Buffer.concat([Buffer.from(`${i + 1} 0 obj\n`), typeof body === 'string' ? Buffer.from(body, 'latin1') : body, Buffer.from('\nendobj\n')]);
    parts.push(part);
    length += part.length;
  });
  const xref = [`xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`, ...offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`)].join('');
  parts.push(Buffer.from(`${xref}trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${length}\n%%EOF\n`));
  return Buffer.concat(parts);
}

function stream(content: Buffer, compress: boolean): Buffer {
  const data = compress ? deflateSync(content, { level: 9 }) : content;
  return Buffer.concat([Buffer.from(`<< /Length ${data.length}${compress ? ' /Filter /FlateDecode' : ''} >>\nstream\n`), data, Buffer.from('\nendstream')]);
}

const FONT = '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>';

/** One page whose FlateDecode content stream, a few hundred KB or less, inflates to `inflatedMiB` of text operators. */
export function decompressionBombPdf(inflatedMiB = 64): Buffer {
  const line = Buffer.from('(All work and no play makes Jack a dull boy) Tj T*\n');
  const content = Buffer.concat([Buffer.from('BT /F1 12 Tf 72 720 Td\n'), Buffer.alloc(inflatedMiB * 1024 * 1024, line), Buffer.from('\nET')]);
  return pdfOf([
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    stream(content, true),
    FONT,
  ]);
}

/** `pages` page objects sharing one small content stream. */
export function manyPagesPdf(pages = 20_000): Buffer {
  const first = 5; // object number of the first page
  const kids = Array.from({ length: pages }, (_, i) => `${first + i} 0 R`).join(' ');
  const page = '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R /Resources << /Font << /F1 4 0 R >> >> >>';
  return pdfOf([
    '<< /Type /Catalog /Pages 2 0 R >>',
    `<< /Type /Pages /Kids [${kids}] /Count ${pages} >>`,
    stream(Buffer.from('BT /F1 12 Tf 72 720 Td (One of many pages) Tj ET'), false),
    FONT,
    ...Array.from({ length: pages }, () => page),
  ]);
}

/**
 * One page whose font maps a glyph to U+0000 through its ToUnicode CMap: PDF.js extracts "A\u0000A",
 * which a Postgres text column refuses (SQLSTATE 22021).
 */
export function nulGlyphPdf(): Buffer {
  const cmap = '/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /NulMap def 1 begincodespacerange <00> <FF> endcodespacerange 2 beginbfchar <41> <0041> <42> <0000> endbfchar endcmap CMapName currentdict /CMap defineresource pop end end';
  return pdfOf([
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    stream(Buffer.from('BT /F1 12 Tf 72 720 Td (ABA) Tj ET'), false),
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R >>',
    stream(Buffer.from(cmap), false),
  ]);
}

/** One word of `length` letters: a single BPE piece for cl100k's pre-tokenizer. */
export function oneWord(length = 50 * 1024): string {
  return 'a'.repeat(length);
}

/** About `bytes` of ordinary prose in paragraphs, with headers every so often. */
export function largeText(bytes: number): string {
  const sentence = 'The worker claims a job with SKIP LOCKED, runs it, and commits the result in one transaction. ';
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const part = i % 50 === 0 ? `# Part ${i / 50}\n\n` : `Paragraph ${i}. ${sentence.repeat(4)}\n\n`;
    parts.push(part);
    size += part.length;
  }
  return parts.join('');
}

import busboy from 'busboy';
import type { Request } from 'express';
import { HttpError } from './errors.js';

export interface UploadForm {
  file: { filename: string; content: Uint8Array; declaredType: string } | null;
  fields: Record<string, string>;
}

/**
 * Reads a multipart/form-data request into memory: one `file` field and text fields. A file over
 * `maxBytes` is refused with 413 as soon as it crosses the limit, without reading the rest.
 */
export function readUploadForm(req: Request, maxBytes: number): Promise<UploadForm> {
  const type = req.headers['content-type'] ?? '';
  if (!type.toLowerCase().startsWith('multipart/form-data')) {
    return Promise.reject(new HttpError(400, 'NOT_MULTIPART', `send multipart/form-data with a "file" field; got content-type "${type || 'none'}"`));
  }
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { fileSize: maxBytes, files: 1, fields: 20, fieldSize: 64 * 1024 } });
    } catch (error) {
      reject(new HttpError(400, 'INVALID_MULTIPART', (error as Error).message));
      return;
    }
    const form: UploadForm = { file: null, fields: {} };
    let failed = false;
    const fail = (error: HttpError) => {
      if (failed) return;
      failed = true;
      req.unpipe(parser);
      req.resume(); // drain the rest so the client reads our answer
      reject(error);
    };
    parser.on('file', (name, stream, info) => {
      if (name !== 'file') {
        stream.resume();
        return fail(new HttpError(400, 'UNEXPECTED_FILE', `the file must be in the "file" field, not "${name}"`));
      }
      const parts: Buffer[] = [];
      stream.on('data', (part: Buffer) => parts.push(part));
      stream.on('limit', () => fail(new HttpError(413, 'FILE_TOO_LARGE', `the file is larger than the limit of ${maxBytes} bytes`)));
      stream.on('end', () => {
        form.file = { filename: info.filename || 'upload', content: new Uint8Array(Buffer.concat(parts)), declaredType: info.mimeType };
      });
    });
    parser.on('field', (name, value) => {
      form.fields[name] = value;
    });
    parser.on('filesLimit', () => fail(new HttpError(400, 'TOO_MANY_FILES', 'send one file per upload')));
    parser.on('error', (error) => fail(new HttpError(400, 'INVALID_MULTIPART', (error as Error).message)));
    parser.on('close', () => {
      if (!failed) resolve(form);
    });
    req.pipe(parser);
  });
}

import busboy from 'busboy';
import type { Request } from 'express';
import type { Readable } from 'node:stream';
import { HttpError } from './errors.js';
import { cleanFilename } from './filename.js';
import { METADATA_LIMITS } from './schemas.js';

export interface UploadForm {
  /** The file, its name cleaned (server/filename.ts). */
  file: { filename: string; content: Uint8Array; declaredType: string } | null;
  fields: Record<string, string>;
}

export interface UploadLimits {
  /** Largest file, in bytes. */
  maxFileBytes: number;
  /** How long the body may send nothing before the upload is refused with 408, in milliseconds. */
  idleTimeoutMs: number;
}

/** Text fields of an upload besides `file`; any other is refused, so a typo is not silently ignored. */
const FIELDS = new Set(['metadata', 'callback_url']);
/**
 * busboy's limits: one file, a few fields (each refused by name or as a repeat before this counts),
 * parts (busboy reports reaching the count, so 8 refuses a form of 8 parts or more), header lines per part.
 */
const LIMITS = { files: 1, fields: 4, parts: 8, headerPairs: 16 };
/**
 * After a refusal, the rest of the body is read and dropped so that the client, still sending,
 * reads the answer rather than a reset; past this many more bytes the connection is closed instead.
 */
export const DRAIN_LIMIT_BYTES = 8 * 1024 * 1024;

let inFlight = 0;
/** Upload bodies being read now. A refused or abandoned one stops counting at once: tests check it returns to 0. */
export function uploadsInFlight(): number {
  return inFlight;
}

const quote = (name: string | undefined) => (name === undefined ? 'without a name' : JSON.stringify(name.slice(0, 100)));

/**
 * Reads a multipart/form-data request into memory: one `file` field and an optional `metadata`
 * field. Every way a body can go wrong ends in an HttpError (4xx) and frees what was read: a
 * truncated or malformed form, too many parts, an over-long field, a file over the limit (413 as
 * soon as it crosses it), a stalled body (408), a client that goes away (nothing to answer).
 */
export function readUploadForm(req: Request, limits: UploadLimits): Promise<UploadForm> {
  const type = req.headers['content-type'] ?? '';
  if (!type.toLowerCase().startsWith('multipart/form-data')) {
    return Promise.reject(new HttpError(400, 'NOT_MULTIPART', `send multipart/form-data with a "file" field; got content-type ${quote(type || 'none')}`));
  }
  return new Promise((resolve, reject) => new FormReader(req, limits, resolve, reject).start());
}

class FormReader {
  readonly #form: UploadForm = { file: null, fields: {} };
  #chunks: Buffer[] = [];
  #parser: busboy.Busboy | undefined;
  #timer: NodeJS.Timeout | undefined;
  #settled = false;

  constructor(
    private readonly req: Request,
    private readonly limits: UploadLimits,
    private readonly resolve: (form: UploadForm) => void,
    private readonly reject: (error: HttpError) => void,
  ) {}

  start(): void {
    inFlight++;
    try {
      // busboy reports reaching a size limit, so +1 lets a file or field of exactly the limit through.
      this.#parser = busboy({
        headers: this.req.headers,
        defParamCharset: 'utf8', // file names as browsers and curl send them; latin1 turned Müller into MÃ¼ller
        limits: { ...LIMITS, fileSize: this.limits.maxFileBytes + 1, fieldSize: METADATA_LIMITS.maxBytes + 1 },
      });
    } catch (error) {
      return this.#fail(new HttpError(400, 'INVALID_MULTIPART', `${(error as Error).message}: send multipart/form-data with a boundary`));
    }
    const parser = this.#parser;
    parser.on('file', (name, stream, info) => this.#onFile(name, stream, info));
    parser.on('field', (name, value, info) => this.#onField(name, value, info));
    parser.on('filesLimit', () => this.#fail(new HttpError(400, 'TOO_MANY_FILES', 'send one file per upload')));
    const tooMany = () => this.#fail(new HttpError(413, 'TOO_MANY_PARTS', `the form has too many parts: send "file" and at most one "metadata" and one "callback_url" field`));
    parser.on('fieldsLimit', tooMany);
    parser.on('partsLimit', tooMany);
    parser.on('error', (error) => this.#fail(new HttpError(400, 'INVALID_MULTIPART', `the form is malformed: ${(error as Error).message}`)));
    parser.on('close', () => this.#finish());
    this.req.on('data', this.#onData);
    this.req.on('error', this.#onGone);
    this.req.on('close', this.#onClose);
    this.#timer = setTimeout(this.#onIdle, this.limits.idleTimeoutMs);
    this.req.pipe(parser);
  }

  #onFile(name: string | undefined, stream: Readable & { truncated?: boolean }, info: busboy.FileInfo): void {
    // A file stream errors when the body ends inside it ("Unexpected end of form"); unheard, that killed the process.
    stream.on('error', (error) => this.#fail(new HttpError(400, 'INVALID_MULTIPART', `the file part is incomplete: ${error.message}`)));
    if (name !== 'file') {
      stream.resume();
      return this.#fail(new HttpError(400, 'UNEXPECTED_FILE', `the file must be in the "file" field, not the field ${quote(name)}`));
    }
    stream.on('data', (chunk: Buffer) => {
      if (!this.#settled) this.#chunks.push(chunk);
    });
    stream.on('limit', () => this.#fail(new HttpError(413, 'FILE_TOO_LARGE', `the file is larger than the limit of ${this.limits.maxFileBytes} bytes`)));
    stream.on('end', () => {
      if (this.#settled || stream.truncated) return;
      this.#form.file = { filename: cleanFilename(info.filename), content: new Uint8Array(Buffer.concat(this.#chunks)), declaredType: info.mimeType };
      this.#chunks = [];
    });
  }

  #onField(name: string | undefined, value: string, info: busboy.FieldInfo): void {
    if (name === 'file') {
      return this.#fail(new HttpError(400, 'NO_FILE', '"file" came as a text field: send it as a file part, with a filename (curl -F file=@path)'));
    }
    if (name === undefined || !FIELDS.has(name)) {
      return this.#fail(new HttpError(400, 'UNKNOWN_FIELD', `unknown form field ${quote(name)}: send "file" and optionally "metadata" and "callback_url"`));
    }
    if (info.nameTruncated) return this.#fail(new HttpError(400, 'INVALID_MULTIPART', 'a field name is too long'));
    if (Object.hasOwn(this.#form.fields, name)) return this.#fail(new HttpError(400, 'DUPLICATE_FIELD', `the field "${name}" is sent more than once`));
    if (info.valueTruncated) {
      return this.#fail(new HttpError(413, 'METADATA_TOO_LARGE', `${name} is larger than the limit of ${METADATA_LIMITS.maxBytes} bytes`));
    }
    this.#form.fields[name] = value;
  }

  readonly #onData = () => this.#timer?.refresh();
  readonly #onIdle = () =>
    this.#fail(new HttpError(408, 'UPLOAD_TIMEOUT', `the upload sent nothing for ${this.limits.idleTimeoutMs} ms`, { Connection: 'close' }));
  /** The connection broke before the body was complete: no one is left to answer, only to clean up after. */
  readonly #onGone = () => this.#fail(new HttpError(400, 'CLIENT_ABORTED', 'the request ended before its body was complete'));
  readonly #onClose = () => {
    if (!this.req.complete) this.#onGone();
  };

  #finish(): void {
    if (this.#settled) return;
    this.#release();
    this.resolve(this.#form);
  }

  #fail(error: HttpError): void {
    if (this.#settled) return;
    this.#release();
    // Drop what was read; the parser's and file streams' handlers stay, as no-ops, for the errors
    // that destroying them still emits.
    this.#chunks = [];
    this.#form.file = null;
    const parser = this.#parser;
    if (parser) {
      this.req.unpipe(parser);
      // Not now: this may run inside busboy's own callback ('limit'), which goes on to use the file
      // stream that destroying the parser would null out (a TypeError thrown inside busboy).
      setImmediate(() => parser.destroy());
    }
    this.#drain();
    this.reject(error);
  }

  #release(): void {
    this.#settled = true;
    inFlight--;
    clearTimeout(this.#timer);
    this.req.off('data', this.#onData);
    this.req.off('error', this.#onGone);
    this.req.off('close', this.#onClose);
  }

  /** Reads and drops the rest of the body, up to DRAIN_LIMIT_BYTES, then closes the connection. */
  #drain(): void {
    const req = this.req;
    if (req.complete || req.destroyed) return;
    let drained = 0;
    const count = (chunk: Buffer) => {
      drained += chunk.length;
      if (drained > DRAIN_LIMIT_BYTES) stop(true);
    };
    const stop = (close = false) => {
      req.off('data', count);
      req.off('end', stop);
      req.off('close', stop);
      if (close) req.socket.destroy();
    };
    req.on('data', count);
    req.once('end', stop);
    req.once('close', stop);
    req.resume();
  }
}

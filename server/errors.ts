import type { ErrorRequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { isDatabaseUnavailable } from '../index.js';
import { redactUrl } from './redact.js';

/** An error with the HTTP status and stable code the client gets: `{ error: { code, message } }`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Response headers that go with it (`Connection: close` when the rest of the body will not be read). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Seconds a client is asked to wait before trying again when the database is out of reach. */
export const RETRY_AFTER_SECONDS = 5;

/** body-parser's error types (`error.type`), as codes of our own; its messages may quote the input. */
const BODY_ERRORS: Record<string, { code: string; message: string }> = {
  'entity.too.large': { code: 'BODY_TOO_LARGE', message: 'the body is larger than this route accepts' },
  'entity.parse.failed': { code: 'INVALID_JSON', message: 'the body is not valid JSON' },
  'charset.unsupported': { code: 'UNSUPPORTED_CHARSET', message: 'send the body in UTF-8' },
  'encoding.unsupported': { code: 'UNSUPPORTED_ENCODING', message: 'the Content-Encoding is not one this server reads (gzip, deflate, br, identity)' },
  'request.aborted': { code: 'CLIENT_ABORTED', message: 'the request ended before its body was complete' },
  'request.size.invalid': { code: 'INVALID_BODY', message: 'the body is not as long as its Content-Length says' },
};

/** What the client is told about an error: a 4xx for its input, 503 for a database out of reach, else 500. */
function answerFor(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (isDatabaseUnavailable(error)) {
    return new HttpError(503, 'DATABASE_UNAVAILABLE', `the database does not answer; try again in ${RETRY_AFTER_SECONDS} s`, { 'Retry-After': String(RETRY_AFTER_SECONDS) });
  }
  // Express (a path it cannot decode) and body-parser give their client errors a 4xx status.
  const { status, type } = (error ?? {}) as { status?: unknown; type?: unknown };
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const known = typeof type === 'string' ? BODY_ERRORS[type] : undefined;
    if (known) return new HttpError(status, known.code, known.message);
    return new HttpError(status, status === 413 ? 'BODY_TOO_LARGE' : status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : 'BAD_REQUEST', 'the request is malformed');
  }
  return new HttpError(500, 'INTERNAL', 'internal error; see the server log');
}

/** Whether an answer can still be written: not when the client is gone or a response has begun. */
function canAnswer(res: Response): boolean {
  const socket = res.socket;
  return !res.headersSent && !res.destroyed && socket !== null && !socket.destroyed && socket.writable;
}

/**
 * Last middleware: every error becomes a JSON body. A 500 is a bug and is logged with its stack;
 * a database out of reach is a 503 with Retry-After, never a 500. When the client has gone there is
 * no one to answer, so nothing is written.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const answer = answerFor(error);
    const where = { method: req.method, url: redactUrl(req.originalUrl) };
    if (answer.status >= 500) logger[answer.status === 503 ? 'warn' : 'error']({ err: error, ...where }, answer.status === 503 ? 'database unavailable' : 'request failed');
    if (!canAnswer(res)) {
      // A response that had begun cannot be finished as an error: end the connection instead.
      if (res.headersSent && !res.writableEnded) res.destroy();
      return;
    }
    res.status(answer.status).set(answer.headers).json({ error: { code: answer.code, message: answer.message } });
  };
}

import type { ErrorRequestHandler } from 'express';
import type { Logger } from 'pino';

/** An error with the HTTP status and stable code the client gets: `{ error: { code, message } }`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Last middleware: every error becomes a JSON body; unexpected ones are logged and answered 500. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    if (error instanceof HttpError) {
      res.status(error.status).json({ error: { code: error.code, message: error.message } });
      return;
    }
    // express.json() rejects unparsable bodies with a status of its own.
    const status = (error as { status?: number }).status;
    if (status && status >= 400 && status < 500) {
      res.status(status).json({ error: { code: status === 413 ? 'BODY_TOO_LARGE' : 'INVALID_BODY', message: (error as Error).message } });
      return;
    }
    logger.error({ err: error, method: req.method, url: req.originalUrl }, 'request failed');
    res.status(500).json({ error: { code: 'INTERNAL', message: 'internal error; see the server log' } });
  };
}

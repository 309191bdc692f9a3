import type { RequestHandler, Response } from 'express';
import { HttpError } from './errors.js';
import type { Pipeline } from '../pipeline/index.js';
import { DEFAULT_TENANT } from '../pipeline/store.js';

/**
 * Who is asking: the one middleware that resolves a request's tenant, mounted on `/v1`. When any
 * API key exists (DOCKET_API_KEYS or `docket keys create`), a request must carry `Authorization:
 * Bearer <key>`, and the key's tenant is the request's; a missing, wrong or revoked key is 401 with
 * `WWW-Authenticate: Bearer`. With no key at all the API is open and every request is the tenant
 * 'default' (the server then listens on loopback only: server/cli/serve.ts).
 *
 * `requireKey`: a server listening beyond loopback (it had keys when it started) refuses every
 * request while no key exists, rather than opening up when the last key is revoked.
 */
export function tenantAuth(pipeline: Pipeline, options: { requireKey?: boolean } = {}): RequestHandler {
  return async (req, res, next) => {
    try {
      const header = req.headers.authorization;
      const presented = header === undefined ? undefined : /^Bearer[ \t]+([^\s]+)[ \t]*$/i.exec(header)?.[1];
      // A refused upload's body is not read: the connection closes after the answer.
      const close = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
      const unauthorized = (code: string, message: string) =>
        new HttpError(401, code, message, { 'WWW-Authenticate': 'Bearer realm="docket"', ...(close ? { Connection: 'close' } : {}) });
      if (header !== undefined && presented === undefined) return next(unauthorized('INVALID_AUTHORIZATION', 'send the key as "Authorization: Bearer <key>"'));
      const check = await pipeline.keys.check(presented);
      if (check.tenant !== null) {
        res.locals.tenant = check.tenant;
        return next();
      }
      if (!check.keysExist && !options.requireKey) {
        res.locals.tenant = DEFAULT_TENANT;
        return next();
      }
      next(presented === undefined ? unauthorized('API_KEY_REQUIRED', 'this API needs a key: send "Authorization: Bearer <key>"') : unauthorized('INVALID_API_KEY', 'the API key is not valid (unknown or revoked)'));
    } catch (error) {
      next(error);
    }
  };
}

/** The tenant `tenantAuth` resolved for this request. Every `/v1` route reads jobs through it (`store.jobFor`). */
export function tenantOf(res: Response): string {
  const tenant = res.locals.tenant;
  if (typeof tenant !== 'string') throw new Error('tenantOf: no tenant on this request; is tenantAuth mounted before the route?');
  return tenant;
}

import { randomBytes } from 'node:crypto';
import { AdapterError } from '../adapters/errors.js';
import { isTransientDatabaseError, type ServiceHandler } from '../index.js';

/**
 * What a job's error may say. Adapter errors carry stable codes and messages written for users, so
 * they pass as they are. A database outage is transient: the runtime retries the attempt. Anything
 * else is a bug or an internal failure: the job gets a plain INTERNAL_ERROR with a reference, and
 * the internals (SQLSTATEs, stack, query) go to the log under that reference, never to the client.
 */
export function guarded(name: string, handler: ServiceHandler): ServiceHandler {
  return async (context) => {
    try {
      return await handler(context);
    } catch (error) {
      if (error instanceof AdapterError) throw error;
      if (isTransientDatabaseError(error)) {
        throw new AdapterError('DATABASE_UNAVAILABLE', 'the database was unavailable; retrying', { transient: true, cause: error });
      }
      const ref = randomBytes(4).toString('hex');
      context.logger.error({ err: error, ref, service: name }, 'service failed unexpectedly');
      throw new AdapterError('INTERNAL_ERROR', `${name} failed unexpectedly (reference ${ref}; the server log has the details)`, { cause: error });
    }
  };
}

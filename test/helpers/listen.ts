import type { AddressInfo } from 'node:net';
import type { ExecutionContext } from 'ava';
import type { Express } from 'express';

/** Serves an app on a free loopback port until the test ends; returns its base URL. */
export async function listen(t: ExecutionContext, app: Express): Promise<string> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

import test from 'ava';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CallbackUrlError, isPublicAddress } from '../../adapters/callback/address.js';
import { postCallback } from '../../adapters/callback/client.js';
import { signCallback, verifyCallbackSignature } from '../../adapters/callback/signature.js';

test('addresses: public unicast passes; loopback, private, link-local, reserved and mapped ones do not', (t) => {
  for (const address of ['8.8.8.8', '1.1.1.1', '93.184.216.34', '2606:4700:4700::1111', '[2a00:1450:4001:80b::200e]']) t.true(isPublicAddress(address), address);
  for (const address of [
    '127.0.0.1', '127.255.0.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.0.1', '169.254.169.254', '100.64.0.1', '0.0.0.0',
    '192.0.2.1', '198.18.0.1', '224.0.0.1', '255.255.255.255', '::1', '::', 'fe80::1', 'fc00::1', 'fd12:3456::1', 'ff02::1',
    '::ffff:127.0.0.1', '::ffff:10.0.0.1', '::ffff:7f00:1', '2001:db8::1', 'not an address',
  ]) t.false(isPublicAddress(address), address);
  t.true(isPublicAddress('172.32.0.1'), 'just past 172.16/12');
});

test('signatures: t=<unix>,v1=<hmac of "t.body">, verified in constant time within a tolerance', (t) => {
  const header = signCallback('secret-key-0123456789', '{"a":1}', 1_700_000_000);
  t.regex(header, /^t=1700000000,v1=[0-9a-f]{64}$/);
  t.true(verifyCallbackSignature('secret-key-0123456789', header, '{"a":1}', { nowSeconds: 1_700_000_100 }));
  t.true(verifyCallbackSignature('secret-key-0123456789', header, Buffer.from('{"a":1}'), { nowSeconds: 1_700_000_000 }));
  t.false(verifyCallbackSignature('secret-key-0123456789', header, '{"a":1}', { nowSeconds: 1_700_000_301 }));
  t.false(verifyCallbackSignature('secret-key-0123456789', header, '{"a":2}', { nowSeconds: 1_700_000_000 }));
  t.false(verifyCallbackSignature('secret-key-0123456789', undefined, '{"a":1}'));
  t.false(verifyCallbackSignature('secret-key-0123456789', 'v1=abc', '{"a":1}'));
});

test('at send time a loopback receiver is refused without the allow flag; with it, answers classify as done, transient or permanent', async (t) => {
  const statuses = [204, 503, 429, 404, 302];
  const server = createServer((_req, res) => res.writeHead(statuses.shift() ?? 200, { 'retry-after': '2' }).end()).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const delivery = { url, body: '{}', deliveryId: 'd1', event: 'job.complete' };
  const options = { secret: 'secret-key-0123456789', timeoutMs: 5000, now: () => 1_700_000_000 };
  const refused = await t.throwsAsync(postCallback(delivery, { ...options, allowPrivate: false }));
  t.true(refused instanceof CallbackUrlError);
  t.like(refused, { code: 'CALLBACK_URL_REFUSED', transient: false });
  const allowed = { ...options, allowPrivate: true };
  t.deepEqual(await postCallback(delivery, allowed), { status: 204 });
  t.like(await t.throwsAsync(postCallback(delivery, allowed)), { code: 'CALLBACK_RECEIVER_UNAVAILABLE', transient: true, status: 503, retryAfterMs: 2000 });
  t.like(await t.throwsAsync(postCallback(delivery, allowed)), { code: 'CALLBACK_RECEIVER_UNAVAILABLE', transient: true, status: 429 });
  t.like(await t.throwsAsync(postCallback(delivery, allowed)), { code: 'CALLBACK_REJECTED', transient: false, status: 404 });
  t.like(await t.throwsAsync(postCallback(delivery, allowed)), { code: 'CALLBACK_REJECTED', transient: false, status: 302, message: 'the callback receiver answered 302 (redirects are not followed)' });
  const closed = await t.throwsAsync(postCallback({ ...delivery, url: 'http://127.0.0.1:1/' }, allowed));
  t.like(closed, { code: 'CALLBACK_UNREACHABLE', transient: true });
});

import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { AdapterError } from '../errors.js';

/**
 * Where a client callback may go. A callback URL is the client's, so a server that POSTs to it must
 * not be turned against its own network (SSRF): addresses that are loopback, private, link-local,
 * shared (CGNAT), reserved, documentation, multicast or unspecified are refused, unless the operator
 * allows them (DOCKET_CALLBACK_ALLOW_PRIVATE). The check runs at upload, and again at every send on
 * the addresses the connection will use, so a name that later resolves elsewhere gains nothing.
 */
const notPublic = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) notPublic.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128], ['::1', 128], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['100::', 64], ['2001::', 23], ['2001:db8::', 32],
  ['2002::', 16], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) notPublic.addSubnet(net, prefix, 'ipv6');

/** Whether `address` (an IPv4 or IPv6 literal) is a public unicast address. IPv4-mapped IPv6 is judged as IPv4. */
export function isPublicAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare)?.[1];
  if (mapped) return isPublicAddress(mapped);
  const family = isIP(bare);
  if (family === 0) return false;
  if (family === 6 && /^::ffff:/i.test(bare)) return false; // mapped, in hex form: judge conservatively
  return !notPublic.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}

/** A callback URL this server will not call, and why. */
export class CallbackUrlError extends AdapterError {
  constructor(message: string) {
    super('CALLBACK_URL_REFUSED', message);
  }
}

export interface CallbackPolicy {
  /** Allow loopback and private addresses (tests, a receiver on the same network). */
  allowPrivate: boolean;
}

/** Limit of a callback URL's length, characters. */
export const MAX_CALLBACK_URL_CHARS = 2048;

/** The URL, parsed: http or https, no user name or password, not too long. Throws CallbackUrlError. */
export function parseCallbackUrl(text: string): URL {
  if (text.length > MAX_CALLBACK_URL_CHARS) throw new CallbackUrlError(`the callback URL is longer than ${MAX_CALLBACK_URL_CHARS} characters`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CallbackUrlError('the callback URL is not an absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CallbackUrlError(`the callback URL must be http or https, not ${url.protocol.slice(0, 20)}`);
  if (url.username || url.password) throw new CallbackUrlError('the callback URL must not carry a user name or password');
  return url;
}

/**
 * Every address `hostname` resolves to, each checked against the policy; the first refused one is
 * an error naming it. A name that does not resolve is an error too (transient: DNS may recover).
 */
export async function resolveAllowed(hostname: string, policy: CallbackPolicy): Promise<{ address: string; family: number }[]> {
  const host = hostname.replace(/^\[|\]$/g, '');
  let addresses: { address: string; family: number }[];
  try {
    addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true, verbatim: true });
  } catch (error) {
    throw new AdapterError('CALLBACK_DNS_FAILED', `the callback host ${JSON.stringify(host.slice(0, 100))} does not resolve: ${(error as { code?: string }).code ?? 'error'}`, { transient: true, cause: error });
  }
  if (!policy.allowPrivate) {
    const refused = addresses.find((entry) => !isPublicAddress(entry.address));
    if (refused) {
      throw new CallbackUrlError(`the callback host ${JSON.stringify(host.slice(0, 100))} resolves to ${refused.address}, a loopback, private or reserved address (set DOCKET_CALLBACK_ALLOW_PRIVATE=true to allow it)`);
    }
  }
  return addresses;
}

/** Checks a callback URL as the upload is accepted: its form, then where its host resolves. */
export async function checkCallbackUrl(text: string, policy: CallbackPolicy): Promise<string> {
  const url = parseCallbackUrl(text);
  await resolveAllowed(url.hostname, policy);
  return url.href;
}

import type { RequestHandler } from 'express';
import type { Config } from './config.js';
import { HttpError } from './errors.js';

/**
 * Who may talk to the API from a browser. The Host check stops DNS rebinding (a page on evil.example
 * whose name is made to resolve to 127.0.0.1 reads /v1/jobs with the user's browser: its requests
 * carry `Host: evil.example`); the Origin check stops cross-site form posts (a multipart form on any
 * page can POST an upload without a CORS preflight). Servers (curl, LlamaParse's webhook) send
 * neither Origin nor Sec-Fetch-Site, so they pass.
 */

export interface HostEntry {
  /** Lower-case name or address, IPv6 in brackets. */
  name: string;
  /** Unset: any port. */
  port?: string;
}

export interface HostPolicy {
  /** Accept any Host: ALLOWED_HOSTS=*, or bound to a non-loopback address without ALLOWED_HOSTS. */
  any: boolean;
  hosts: HostEntry[];
}

const HOST = /^(\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(?::(\d{1,5}))?$/i;
const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|::1|\[::1\])$/i;
export const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/** Whether a listening address (HOST) is a loopback one. */
export const isLoopback = (host: string) => LOOPBACK.test(host);

/** `name[:port]` (IPv6 in brackets) as an entry, or null when it is not a host. */
export function parseHost(value: string): HostEntry | null {
  const match = HOST.exec(value.trim());
  return match ? { name: match[1]!.toLowerCase(), ...(match[2] ? { port: match[2] } : {}) } : null;
}

/**
 * ALLOWED_HOSTS when set (`*`: any). Otherwise, bound to a loopback address: localhost, 127.0.0.1,
 * [::1], HOST itself and PUBLIC_URL's host (LlamaParse's webhooks arrive under that name, through
 * a tunnel or a proxy); bound elsewhere: any, and createApp warns.
 */
export function hostPolicy(config: Pick<Config, 'HOST' | 'ALLOWED_HOSTS' | 'PUBLIC_URL'>): HostPolicy {
  if (config.ALLOWED_HOSTS) {
    if (config.ALLOWED_HOSTS.includes('*')) return { any: true, hosts: [] };
    return { any: false, hosts: config.ALLOWED_HOSTS.map((host) => parseHost(host)!) };
  }
  if (!LOOPBACK.test(config.HOST)) return { any: true, hosts: [] };
  const names = [...LOOPBACK_NAMES, config.HOST.includes(':') && !config.HOST.startsWith('[') ? `[${config.HOST}]` : config.HOST];
  const hosts = names.map((name) => ({ name: name.toLowerCase() }));
  if (config.PUBLIC_URL) {
    const url = new URL(config.PUBLIC_URL);
    hosts.push({ name: url.hostname.toLowerCase(), ...(url.port ? { port: url.port } : {}) });
  }
  return { any: false, hosts };
}

export function allows(policy: HostPolicy, host: HostEntry): boolean {
  return policy.any || policy.hosts.some((entry) => entry.name === host.name && (entry.port === undefined || entry.port === host.port));
}

const shown = (value: string) => JSON.stringify(value.slice(0, 100));

/** 421 for a Host this server does not answer to (DNS rebinding); 400 for HTTP/1.1 without one (RFC 9112). */
export function hostGuard(policy: HostPolicy): RequestHandler {
  return (req, _res, next) => {
    const header = req.headers.host;
    if (header === undefined && req.httpVersion === '1.1') return next(new HttpError(400, 'HOST_REQUIRED', 'an HTTP/1.1 request must have a Host header'));
    if (policy.any) return next();
    const host = parseHost(header ?? '');
    if (host && allows(policy, host)) return next();
    next(new HttpError(421, 'HOST_NOT_ALLOWED', `this server does not answer to the host ${shown(header ?? '')}; add it to ALLOWED_HOSTS`));
  };
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Whether a request from `origin` may change state: the origin addressed (Host), or an allowed host. */
function originAllowed(origin: string, host: string | undefined, policy: HostPolicy): boolean {
  let url: URL;
  try {
    url = new URL(origin); // "null" (sandboxed frames, file:) does not parse: refused
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  if (host !== undefined && url.host.toLowerCase() === host.toLowerCase()) return true;
  return !policy.any && allows(policy, { name: url.hostname.toLowerCase(), ...(url.port ? { port: url.port } : {}) });
}

/**
 * 403 for a state-changing request a browser sent from another site: `Sec-Fetch-Site: cross-site`,
 * `same-site` without an allowed Origin (another host of the same site), or an Origin not allowed.
 */
export function originGuard(policy: HostPolicy): RequestHandler {
  return (req, _res, next) => {
    if (!STATE_CHANGING.has(req.method)) return next();
    const site = req.headers['sec-fetch-site'];
    const origin = req.headers.origin;
    let refused: string | undefined;
    if (site === 'cross-site') refused = 'a cross-site request (Sec-Fetch-Site: cross-site)';
    else if (origin !== undefined && !originAllowed(origin, req.headers.host, policy)) refused = `a request from the origin ${shown(origin)}`;
    else if (site === 'same-site' && origin === undefined) refused = 'a same-site request without an Origin';
    if (refused) return next(new HttpError(403, 'CROSS_SITE_REQUEST', `${refused} may not change anything here`));
    next();
  };
}

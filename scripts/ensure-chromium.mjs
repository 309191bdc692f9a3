#!/usr/bin/env node
// Makes sure Debian's chromium is at /usr/bin/chromium, for the diagram renderer (scripts/render-svg.ts)
// and the test that renders. No browser download works here (playwright's own builds come from a CDN),
// so it is Debian's package: `apt-get install -y chromium`, as root, once per machine. Safe when two
// callers run at once: apt waits for dpkg's lock (up to 10 minutes) instead of failing.
//
//   node scripts/ensure-chromium.mjs        prints the path, installing first when missing; exit 1 when it cannot
//   import { ensureChromium } from './ensure-chromium.mjs'   the same, as a function
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export const CHROMIUM = '/usr/bin/chromium';

/** Flags for a headless chromium that talks to nothing but the page it is given. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const APT = ['-o', 'DPkg::Lock::Timeout=600', '-o', 'Acquire::Retries=3'];

function apt(args, log) {
  log(`ensure-chromium: apt-get ${args.join(' ')}`);
  const result = spawnSync('apt-get', [...APT, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    encoding: 'utf8',
    timeout: 15 * 60_000,
  });
  if (result.error) return { ok: false, output: result.error.message };
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}` };
}

/**
 * Resolves with chromium's path, installing Debian's package when it is missing. Rejects with the
 * reason (not root, no apt, the install failed) when it cannot; callers that can do without the
 * browser catch that and say so.
 */
export async function ensureChromium({ log = (line) => process.stderr.write(`${line}\n`) } = {}) {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  if (process.platform !== 'linux') throw new Error(`chromium is not at ${CHROMIUM}, and it is installed automatically only on Debian`);
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error(`chromium is not at ${CHROMIUM}; install it as root: apt-get install -y chromium`);
  }
  const which = spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' });
  if (which.status !== 0) throw new Error(`chromium is not at ${CHROMIUM} and there is no apt-get to install it`);
  // The package lists may be old or absent on a fresh machine: update first, then install.
  const update = apt(['update'], log);
  if (!update.ok) log(`ensure-chromium: apt-get update failed, trying the install anyway:\n${tail(update.output)}`);
  const install = apt(['install', '-y', '--no-install-recommends', 'chromium', 'fonts-dejavu-core'], log);
  if (!install.ok || !existsSync(CHROMIUM)) throw new Error(`could not install chromium with apt-get:\n${tail(install.output)}`);
  log(`ensure-chromium: installed ${CHROMIUM}`);
  return CHROMIUM;
}

function tail(text) {
  return text.trim().split('\n').slice(-15).join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  ensureChromium().then(
    (path) => process.stdout.write(`${path}\n`),
    (error) => {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    },
  );
}

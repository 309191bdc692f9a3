import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { backend, freshDatabase, pgliteFolder } from '../helpers/db.js';
import { freePort } from '../helpers/server.js';
import { inRepo } from '../helpers/repo.js';

const run = promisify(execFile);
const cli = inRepo('bin/docket.js');

async function databaseFor(t: Parameters<typeof freshDatabase>[0]): Promise<string> {
  if (backend === 'postgres') return freshDatabase(t);
  return `pglite:${await pgliteFolder(t, 'docket-keys-')}`;
}

/** `docket serve` until it answers /health; its stderr (the log) so far, and a way to stop it. */
async function serve(t: Parameters<typeof freshDatabase>[0], env: Record<string, string>) {
  const port = await freePort();
  const server = spawn('node', [cli, 'serve'], { env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  server.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => server.once('exit', resolve));
  (t as unknown as { teardown(fn: () => void): void }).teardown(() => void server.kill('SIGKILL'));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      if (i > 600 || server.exitCode !== null) throw new Error(`server did not come up; stderr:\n${stderr.slice(-3000)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const stop = async () => {
    server.kill('SIGTERM');
    await exited;
    return stderr.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, any>);
  };
  return { url, stop };
}

test('docket keys create prints a key once, list never shows it, revoke marks it; serve listens on loopback until a key exists, then on HOST asking for it', async (t) => {
  const DATABASE_URL = await databaseFor(t);
  const env = { ...process.env, DATABASE_URL, EMBEDDING_DIMENSIONS: '64', HOST: '0.0.0.0', LOG_LEVEL: 'info' };

  // No key: open, but on 127.0.0.1 only, with a warning, although HOST is 0.0.0.0.
  const open = await serve(t, env);
  t.is((await fetch(`${open.url}/v1/jobs`)).status, 200);
  const openLog = await open.stop();
  t.like(openLog.find((line) => line.msg === 'docket serving'), { address: { address: '127.0.0.1' } });
  t.truthy(openLog.find((line) => line.level === 40 && /no API key is configured/.test(line.msg)));

  const created = await run('node', [cli, 'keys', 'create', 'acme'], { env });
  const key = created.stdout.trim();
  t.regex(key, /^dk_[A-Za-z0-9_-]{43}$/);
  t.regex(created.stderr, /shown only now/);
  const listed = JSON.parse((await run('node', [cli, 'keys', 'list', '--json'], { env })).stdout) as Record<string, any>[];
  t.is(listed.length, 1);
  t.like(listed[0], { tenant: 'acme', prefix: key.slice(0, 10), revoked_at: null });
  t.false(JSON.stringify(listed).includes(key), 'the key is never listed');
  t.regex((await run('node', [cli, 'keys', 'list'], { env })).stdout, new RegExp(`${listed[0]!.id}\\s+acme\\s+.*active`));

  // A key exists: HOST is used, and /v1 asks for it.
  const closed = await serve(t, env);
  t.is((await fetch(`${closed.url}/v1/jobs`)).status, 401);
  t.is((await fetch(`${closed.url}/v1/jobs`, { headers: { authorization: `Bearer ${key}` } })).status, 200);
  t.like(await (await fetch(`${closed.url}/v1/jobs`, { headers: { authorization: 'Bearer dk_wrong' } })).json(), { error: { code: 'INVALID_API_KEY' } });
  const closedLog = await closed.stop();
  t.like(closedLog.find((line) => line.msg === 'docket serving'), { address: { address: '0.0.0.0' } });

  // Stopped first: a PGlite folder is one process's at a time. (A key revoked while serving: tenants.test.ts.)
  t.is((await run('node', [cli, 'keys', 'revoke', listed[0]!.id], { env })).stdout.trim(), `revoked ${listed[0]!.id}`);

  const again = await t.throwsAsync(run('node', [cli, 'keys', 'revoke', listed[0]!.id], { env }));
  t.is((again as unknown as { code: number }).code, 1, 'no active key of that id');
  const bad = await t.throwsAsync(run('node', [cli, 'keys', 'create', 'no spaces'], { env }));
  t.is((bad as unknown as { code: number }).code, 2);
  t.truthy(JSON.parse((await run('node', [cli, 'keys', 'list', '--json'], { env })).stdout)[0].revoked_at, 'listed as revoked');
});

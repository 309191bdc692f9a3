import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { backend, freshDatabase } from './helpers/db.js';
import { inRepo } from './helpers/repo.js';

const run = promisify(execFile);

// The README's example, run as the README says: two processes, the second finishing what the first began.
test('examples/node/main.ts: one process starts the order, another finishes it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'docket-example-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const database = backend === 'postgres' ? await freshDatabase(t) : `pglite:${dir}`;
  const env = { ...process.env, DOCKET_DATABASE: database };
  const script = inRepo('examples/node/main.ts');
  const cwd = inRepo('.');
  const first = await run('node', ['--import', 'tsx', script, 'start'], { env, cwd });
  t.regex(first.stdout, /started [0-9a-f-]{36} in "coolingOff"; exiting before the timer fires/);
  const second = await run('node', ['--import', 'tsx', script, 'resume'], { env, cwd, timeout: 30_000 });
  t.regex(second.stdout, /resumed [0-9a-f-]{36}: "paid", \{"item":"a teapot","receipt":"charged for a teapot \(key [^)]+\)"\}/);
  t.regex(second.stdout, /1: xstate\.after\.2000\.order\.coolingOff "coolingOff" -> "charging"/);
  t.regex(second.stdout, /2: xstate\.done\.actor\.\S+ "charging" -> "paid"/);
});


import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { backend, freshDatabase, pgliteFolder } from './helpers/db.js';
import { inRepo } from './helpers/repo.js';

const run = promisify(execFile);

// The README's example, run as the README says: two processes, the second finishing what the first began.
test('examples/node/main.ts: one process starts the order, another finishes it', async (t) => {
  // On PGlite, a folder seeded as initdb leaves it: initdb in WASM is 5 s of CPU the example does not test.
  const database = backend === 'postgres' ? await freshDatabase(t) : `pglite:${await pgliteFolder(t, 'docket-example-')}`;
  const env = { ...process.env, DOCKET_DATABASE: database };
  const script = inRepo('examples/node/main.ts');
  const cwd = inRepo('.');
  const first = await run('node', ['--import', 'tsx', script, 'start'], { env, cwd });
  t.regex(first.stdout, /started [0-9a-f-]{36} in "coolingOff"; exiting before the timer fires/);
  const second = await run('node', ['--import', 'tsx', script, 'resume'], { env, cwd, timeout: 30_000 });
  t.regex(second.stdout, /resumed [0-9a-f-]{36}: "paid", \{"item":"a teapot","receipt":"charged for a teapot \(key [^)]+\)"\}/);
  t.regex(second.stdout, /1: xstate\.after\.coolingOff\.order\.coolingOff "coolingOff" -> "charging"/);
  t.regex(second.stdout, /2: xstate\.done\.actor\.\S+ "charging" -> "paid"/);
});


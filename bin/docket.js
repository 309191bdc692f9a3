#!/usr/bin/env node
// `npx docket …`: the CLI as built in dist/ (`npm run build`; `npm ci` and `npm start` build it).
// In a checkout with no build yet, it falls back to the TypeScript sources through tsx, a dev dependency.
import { existsSync } from 'node:fs';

// The long-running commands stop cleanly on SIGINT or SIGTERM, but their handlers exist only once the
// CLI has loaded (up to a second under tsx). A signal before then would kill the process by default,
// so for those commands it is remembered here, and stopRequested() (server/cli/run.ts) honours it.
if (['serve', 'worker'].includes(process.argv[2])) {
  const remember = (signal) => (globalThis[Symbol.for('docket.early-signal')] ??= signal);
  process.once('SIGINT', remember);
  process.once('SIGTERM', remember);
}

const built = new URL('../dist/server/cli/main.js', import.meta.url);
let main;
if (existsSync(built)) {
  ({ main } = await import(built.href));
} else {
  const tsx = await import('tsx/esm/api').catch(() => null);
  if (!tsx) {
    process.stderr.write('docket: the CLI is not built (dist/ is missing); run `npm run build`\n');
    process.exit(1);
  }
  tsx.register();
  ({ main } = await import('../server/cli/main.ts'));
}
process.exitCode = await main(process.argv.slice(2));

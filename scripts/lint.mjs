#!/usr/bin/env node
// House rules the type checker cannot see (../shared/STYLE.md): library code logs through pino,
// reads no environment outside the config module, and keeps files to one idea.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { FOLDERS, render } from './embed-sql.mjs';
import { TARGET as DASHBOARD_ASSETS, render as renderDashboard } from './embed-dashboard.mjs';

const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', 'machines', 'runtime', 'adapters', 'pipeline', 'server', 'testing', 'index.ts'], { encoding: 'utf8' })
  .split('\n')
  .filter((file) => /\.(ts|mts|js|mjs)$/.test(file));

const problems = [];

// Dependencies run one way: server -> pipeline -> (runtime through its public entry, machines, adapters).
// Each layer's imports that would point the wrong way (or into the engine's insides).
const FORBIDDEN = {
  runtime: [/^\.\.\/(pipeline|server|adapters|machines)\//],
  machines: [/^\.\.\/(runtime|pipeline|server|adapters)\//],
  adapters: [/^\.\.\/\.\.\/(runtime|pipeline|server|machines)\//, /^\.\.\/(runtime|pipeline|server|machines)\//],
  pipeline: [/^\.\.\/(server|runtime)\//],
  server: [/^(\.\.\/)+runtime\//],
  // docket/testing is for users' test suites too: the public entry and xstate, no test framework.
  testing: [/^\.\.\/(?!index\.js$)/, /^ava$/],
};
// The engine loads in a browser: its core imports no Node built-in and no store. `pg` and Node's
// threads stay in the pg store; PGlite in its own store; files in loadMigrations (getBuiltinModule).
const STORES = new Set(['runtime/db/pg.ts', 'runtime/db/pg-lease-thread.ts', 'runtime/db/pglite.ts']);
function nodeOnlyProblems(file, text) {
  const core = (file.startsWith('runtime/') || file.startsWith('testing/') || file === 'index.ts') && !STORES.has(file);
  if (!core) return [];
  const found = [];
  for (const match of text.matchAll(/^\s*import\b(?!\s+type\b)[^'"]*?from\s+['"]([^'"]+)['"]/gm)) {
    if (/^(node:|pg$|@electric-sql\/)/.test(match[1])) found.push(`${file}: imports ${match[1]}, which a browser does not have (the engine core stays web-standard; see runtime/db/open.ts)`);
  }
  return found;
}
function layeringProblems(file, text) {
  const layer = file.split('/')[0];
  const rules = FORBIDDEN[layer] ?? [];
  const found = [];
  for (const match of text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/gm)) {
    if (rules.some((rule) => rule.test(match[1]))) found.push(`${file}: imports ${match[1]} (layers: server -> pipeline -> runtime's public entry, machines, adapters; testing -> the public entry)`);
  }
  return found;
}
for (const file of files) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    continue; // deleted in the work tree
  }
  problems.push(...layeringProblems(file, text), ...nodeOnlyProblems(file, text));
  const lines = text.split('\n');
  if (lines.length > 400) problems.push(`${file}: ${lines.length} lines (keep files under about 400)`);
  lines.forEach((line, i) => {
    if (/console\.(log|info|debug)\(/.test(line) && !file.startsWith('server/cli')) problems.push(`${file}:${i + 1}: console output in library code; use the pino logger`);
    if (/process\.env/.test(line) && !/config/i.test(file)) problems.push(`${file}:${i + 1}: process.env read outside the config module`);
    if (/\bdebugger\b/.test(line)) problems.push(`${file}:${i + 1}: debugger statement`);
    if (/\b(it|test)\.only\(/.test(line)) problems.push(`${file}:${i + 1}: focused test`);
  });
}
for (const file of execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', 'test'], { encoding: 'utf8' }).split('\n')) {
  if (!/\.ts$/.test(file)) continue;
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    continue;
  }
  if (/\btest\.only\(/.test(text)) problems.push(`${file}: test.only would skip the rest of the suite`);
}

// The migrations ship as strings (scripts/embed-sql.mjs): the committed module must match the .sql files.
for (const folder of FOLDERS) {
  let committed = '';
  try {
    committed = readFileSync(`${folder}/migrations.ts`, 'utf8');
  } catch {}
  if (committed !== render(folder)) problems.push(`${folder}/migrations.ts is stale or missing: run npm run build`);
}
// The dashboard's files and the diagram ship as strings too (scripts/embed-dashboard.mjs).
let dashboardModule = '';
try {
  dashboardModule = readFileSync(DASHBOARD_ASSETS, 'utf8');
} catch {}
if (dashboardModule !== renderDashboard()) problems.push(`${DASHBOARD_ASSETS} is stale or missing: run npm run build`);

if (problems.length) {
  process.stdout.write(`${problems.join('\n')}\n${problems.length} lint problem(s)\n`);
  process.exit(1);
}
process.stdout.write(`lint: ${files.length} files clean\n`);

#!/usr/bin/env node
/**
 * Bundles the browser example with esbuild: `node examples/browser/build.mjs [outdir]`.
 *
 * What a page on PGlite needs from a bundler:
 * - ESM output (`<script type="module">`): PGlite finds its files with `new URL(…, import.meta.url)`,
 *   which an IIFE bundle breaks;
 * - platform "browser", so packages' "browser" fields apply (PGlite's, pino's);
 * - `node:module` external: PGlite reaches it only when it runs under Node;
 * - PGlite's pglite.wasm, initdb.wasm and pglite.data beside the bundle, since esbuild does not
 *   rewrite `new URL(…, import.meta.url)` (esbuild#795).
 *
 * `docket` resolves to this repository's build (dist/, `npm run build`) through its package exports,
 * as it would from node_modules in a project of its own.
 */
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../..');

/** esbuild resolves `docket` and `docket/*` to dist/ as this package's `exports` map them. */
const docketPackage = {
  name: 'docket-exports',
  setup(plugin) {
    const { exports } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    plugin.onResolve({ filter: /^docket(\/.*)?$/ }, (args) => {
      const entry = exports[args.path === 'docket' ? '.' : `.${args.path.slice('docket'.length)}`];
      if (!entry) return { errors: [{ text: `docket has no export "${args.path}"` }] };
      return { path: join(root, entry.default) };
    });
  },
};

export async function buildBrowserExample(outdir = join(here, 'dist')) {
  mkdirSync(outdir, { recursive: true });
  const result = await build({
    entryPoints: [join(here, 'main.ts')],
    bundle: true,
    outfile: join(outdir, 'app.js'),
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    external: ['node:module'],
    sourcemap: true,
    plugins: [docketPackage],
    logLevel: 'warning',
    metafile: true,
  });
  const pglite = dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite'));
  for (const file of ['pglite.wasm', 'initdb.wasm', 'pglite.data']) copyFileSync(join(pglite, file), join(outdir, file));
  copyFileSync(join(here, 'index.html'), join(outdir, 'index.html'));
  return { outdir, inputs: Object.keys(result.metafile.inputs), warnings: result.warnings };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { outdir, inputs } = await buildBrowserExample(process.argv[2]);
  process.stdout.write(`bundled ${inputs.length} modules into ${outdir}\n`);
}

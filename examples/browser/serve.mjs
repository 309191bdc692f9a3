#!/usr/bin/env node
/** Builds the browser example and serves it: `node examples/browser/serve.mjs [port]`, then open the URL it prints. */
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBrowserExample } from './build.mjs';

// PGlite compiles its .wasm with compileStreaming, which requires this exact type.
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.map': 'application/json', '.wasm': 'application/wasm', '.data': 'application/octet-stream' };

/** Serves `root` on 127.0.0.1; resolves with the server and its URL. */
export function serveStatic(root, port = 0) {
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    const file = join(root, normalize(path === '/' ? '/index.html' : path).replace(/^(\.\.[/\\])+/, ''));
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${server.address().port}/` })));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { outdir } = await buildBrowserExample();
  const { url } = await serveStatic(outdir, Number(process.argv[2] ?? 8090));
  process.stdout.write(`docket browser example: ${url}\n`);
}

/**
 * `node --import tsx health-probe.ts <base url> <file> <interval ms>`: GET <base url>/health every
 * interval until SIGTERM, one request at a time, one JSON line per sample appended to <file>. A
 * process of its own, so the harness's work (the mocks parse PDFs and tokenize inputs on its main
 * thread) cannot delay a probe and pass for a slow server.
 */
import { appendFileSync } from 'node:fs';
import { probe } from './health.js';

const [url, file, interval] = process.argv.slice(2) as [string, string, string];
let stopped = false;
process.once('SIGTERM', () => (stopped = true));
while (!stopped) {
  const start = Date.now();
  const status = await probe(`${url}/health`);
  appendFileSync(file, `${JSON.stringify({ start, end: Date.now(), status })}\n`);
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, start + Number(interval) - Date.now())));
}

// A docket worker as a user runs it: compiled JavaScript (dist/), no tsx. Reports its memory on
// stdout as JSON lines: after start-up and idling, then (on "report" from stdin) the peak and the
// resident size once the work it was given is done.
import { createInterface } from 'node:readline';
import pino from 'pino';
import { createMachine } from 'xstate';
import { createRuntime } from '../dist/index.js';

const [url, schema] = process.argv.slice(2);
const waiter = createMachine({ id: 'waiter', initial: 'waiting', states: { waiting: { on: { GO: 'done' } }, done: { type: 'final' } } });
const rss = () => process.memoryUsage().rss;
let peak = rss();
const sampler = setInterval(() => (peak = Math.max(peak, rss())), 50);

const rt = await createRuntime({ database: url, schema, machines: { waiter }, logger: pino({ level: 'warn' }) });
await new Promise((resolve) => setTimeout(resolve, 2_000));
globalThis.gc?.();
process.stdout.write(`${JSON.stringify({ phase: 'idle', rss: rss(), peak })}\n`);

for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() !== 'report') continue;
  peak = Math.max(peak, rss());
  globalThis.gc?.();
  process.stdout.write(`${JSON.stringify({ phase: 'report', rss: rss(), peak })}\n`);
  break;
}
clearInterval(sampler);
await rt.close();

/**
 * The engine embedded in a program of its own: the order machine (machine.ts) survives the process.
 *
 *   main.ts start     # starts an order, then the process exits before its timer fires
 *   main.ts resume    # a new process: the timer fires, the charge runs, the order is paid
 *
 * The same file runs under Node (built with tsc, or through tsx), Bun and Deno; see README.md.
 * DOCKET_DATABASE picks the database (default: PGlite in ./data/example).
 */
import pino from 'pino';
import { createRuntime } from 'docket';
import { order } from './machine.js';

const phase = process.argv[2] ?? 'start';
const rt = await createRuntime({
  database: process.env.DOCKET_DATABASE ?? 'pglite:./data/example',
  machines: { order },
  logger: pino({ level: 'warn' }),
});

// The idempotency key makes `start` safe to repeat: both phases find the same instance.
const id = await rt.start('order', { item: 'a teapot' }, { idempotencyKey: 'example-order-1' });
if (phase === 'start') {
  const state = await rt.get(id);
  process.stdout.write(`started ${id} in ${JSON.stringify(state?.value)}; exiting before the timer fires\n`);
} else {
  const done = await rt.waitFor(id, (s) => s.status === 'done', { timeoutMs: 10_000 });
  process.stdout.write(`resumed ${id}: ${JSON.stringify(done.value)}, ${JSON.stringify(done.context)}\n`);
  for (const step of await rt.history(id)) process.stdout.write(`  ${step.seq}: ${step.event.type} ${JSON.stringify(step.from)} -> ${JSON.stringify(step.to)}\n`);
}
await rt.close();

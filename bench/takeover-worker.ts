/**
 * The victim of bench/takeover.ts: a worker with default settings whose service never returns. It
 * reports over IPC how many attempts are in flight, then waits to be killed.
 */
import pino from 'pino';
import { createRuntime } from '../index.js';
import { holder } from './takeover-machine.js';

const { url, schema } = JSON.parse(process.argv[2]!) as { url: string; schema: string };
let running = 0;
await createRuntime({
  database: url,
  schema,
  logger: pino({ level: 'silent' }),
  machines: { holder },
  services: {
    hold: async () => {
      process.send?.({ type: 'running', count: (running += 1) });
      await new Promise(() => {});
    },
  },
});
process.send?.({ type: 'ready' });

/** The order machine's runtime in a child process whose label printing hangs, to be SIGKILLed mid-effect. */
import pino from 'pino';
import { createRuntime } from '../../runtime/runtime.js';
import { order } from './family.js';

const { database, schema } = JSON.parse(process.argv[2]!) as { database: string; schema: string };
await createRuntime({
  database,
  schema,
  logger: pino({ level: 'silent' }),
  leaseMs: 1_000,
  machines: { order },
  services: {
    label: async () => {
      process.send?.({ type: 'in-effect' });
      await new Promise(() => {});
    },
  },
});
process.send?.({ type: 'ready' });

/**
 * A runtime in a child process, for tests that kill workers or cross process boundaries. Driven by
 * IPC: the parent forks it with a scenario and gets messages back ("ready", "in-effect", "in-step").
 */
import pino from 'pino';
import { createRuntime } from '../../runtime/runtime.js';
import { invoker, recorder } from './machines.js';

interface Args {
  scenario: 'hang-effect' | 'hang-step' | 'send';
  database: string;
  schema: string;
  leaseMs?: number;
  instanceId?: string;
}

const args = JSON.parse(process.argv[2]!) as Args;
const report = (message: object) => process.send?.(message);

const rt = await createRuntime({
  database: args.database,
  schema: args.schema,
  logger: pino({ level: 'silent' }),
  leaseMs: args.leaseMs ?? 10_000,
  worker: args.scenario !== 'send',
  machines: {
    invoker,
    recorder: {
      machine: recorder,
      // Holds the step transaction open (the instance locked, the event not yet consumed) forever.
      onStep: async (_tx, step) => {
        if (args.scenario === 'hang-step' && step.events.some((e) => e.type === 'NOTE' && e.value === 'hang')) {
          report({ type: 'in-step' });
          await new Promise(() => {});
        }
      },
    },
  },
  services: {
    work: async () => {
      report({ type: 'in-effect' });
      await new Promise(() => {});
    },
  },
});

if (args.scenario === 'send') {
  await rt.send(args.instanceId!, { type: 'NOTE', value: 'from-child' });
  report({ type: 'sent', at: Date.now() });
  await rt.close();
  process.exit(0);
}
report({ type: 'ready' });

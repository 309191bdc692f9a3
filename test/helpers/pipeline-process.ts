/**
 * The pipeline in a child process that kills itself between a service's side effect and the
 * recording of its result: the service runs for real, then the process is SIGKILLed before the
 * runtime can commit the outcome. Another process must then finish the job with the same rows.
 */
import pino from 'pino';
import { loadConfig } from '../../server/config.js';
import { createPipeline } from '../../pipeline/index.js';

interface Args {
  env: Record<string, string>;
  /** The service after whose first successful run the process dies. */
  crashAfter: string;
  document: { filename: string; content: string };
  leaseMs: number;
}

const args = JSON.parse(process.argv[2]!) as Args;
const pipeline = await createPipeline(loadConfig(args.env), {
  logger: pino({ level: 'silent' }),
  tuning: { leaseMs: args.leaseMs },
  instrument: (name, handler) => async (context) => {
    const output = await handler(context);
    if (name === args.crashAfter) {
      process.send?.({ type: 'side-effect-done', service: name, output });
      // Let the IPC message out, then die before the result reaches the database.
      setImmediate(() => process.kill(process.pid, 'SIGKILL'));
      await new Promise(() => {});
    }
    return output;
  },
});
const { jobId } = await pipeline.submit({ filename: args.document.filename, content: new TextEncoder().encode(args.document.content) });
process.send?.({ type: 'submitted', jobId });

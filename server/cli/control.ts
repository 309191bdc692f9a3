import { z } from 'zod';
import { cancelJob, deleteJob, JobNotFoundError, JobStateError, retryJob } from '../../pipeline/control.js';
import type { Pipeline } from '../../pipeline/index.js';
import { EXIT } from './exit.js';
import { CliError, openPipeline, type CommandContext } from './run.js';

/** The control commands, as the HTTP API's control routes answer. */
const ACTIONS = {
  cancel: async (p: Pipeline, id: string) => ({ job_id: id, requested: 'cancel', ...(await cancelJob(p, id, 'canceled from the command line')) }),
  retry: async (p: Pipeline, id: string) => {
    const { stage, from } = await retryJob(p, id);
    return { job_id: id, stage, requested: 'retry', retry_from: from };
  },
  delete: async (p: Pipeline, id: string) => {
    const { stage, bytesDeleted } = await deleteJob(p, id);
    return { job_id: id, deleted: true, stage, bytes_deleted: bytesDeleted };
  },
} as const;

/**
 * `docket cancel|retry|delete <job_id>`: what POST /v1/jobs/:id/cancel, POST /v1/jobs/:id/retry and
 * DELETE /v1/jobs/:id do, on the database directly. Prints the answer as JSON; exits 1 for no such
 * job or a stage that forbids it (the reason on stderr).
 */
export async function control(action: keyof typeof ACTIONS, jobId: string, { config, logger }: CommandContext): Promise<number> {
  if (!z.uuid().safeParse(jobId).success) throw new CliError(`"${jobId}" is not a job id (a uuid, as the upload returned it)`, EXIT.usage);
  const pipeline = await openPipeline({ ...config, DATABASE_WAIT_MS: 0 }, logger, false);
  try {
    const answer = await ACTIONS[action](pipeline, jobId);
    process.stdout.write(`${JSON.stringify(answer)}\n`);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof JobNotFoundError || error instanceof JobStateError) throw new CliError(`${error.code}: ${error.message}`, EXIT.failed);
    throw error;
  } finally {
    await pipeline.close();
  }
}

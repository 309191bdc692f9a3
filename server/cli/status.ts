import { z } from 'zod';
import { jobWithHistory } from '../job-view.js';
import { CliError, EXIT, openPipeline, type CommandContext } from './run.js';

/** `docket status <job_id>`: the job as `GET /v1/jobs/:id` shows it, with its stage history. */
export async function status(jobId: string, { config, logger }: CommandContext): Promise<number> {
  if (!z.uuid().safeParse(jobId).success) throw new CliError(`"${jobId}" is not a job id (a uuid, as the upload returned it)`, EXIT.usage);
  const pipeline = await openPipeline({ ...config, DATABASE_WAIT_MS: 0 }, logger, false);
  try {
    const job = await jobWithHistory(pipeline, jobId);
    if (!job) throw new CliError(`no job ${jobId}`, EXIT.failed);
    process.stdout.write(`${JSON.stringify(job, null, 2)}\n`);
    return EXIT.ok;
  } finally {
    await pipeline.close();
  }
}

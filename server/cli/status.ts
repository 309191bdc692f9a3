import { z } from 'zod';
import { jobView, jobWithHistory } from '../job-view.js';
import { followJob } from '../../pipeline/events.js';
import type { Pipeline } from '../../pipeline/index.js';
import { EXIT } from './exit.js';
import { CliError, openPipeline, type CommandContext } from './run.js';

export interface StatusOptions {
  /** Print each stage change as it commits, until the job settles. */
  follow?: boolean;
}

/**
 * `docket status <job_id>`: the job as `GET /v1/jobs/:id` shows it, with its stage history. With
 * `--follow`: each stage change as one JSON line (what `GET /v1/jobs/:id/events` sends as `stage`
 * events), from the upload on, through whichever process steps the job, then the job once it has
 * settled; exits 0 when it completed, 1 otherwise.
 */
export async function status(jobId: string, options: StatusOptions, { config, logger }: CommandContext): Promise<number> {
  if (!z.uuid().safeParse(jobId).success) throw new CliError(`"${jobId}" is not a job id (a uuid, as the upload returned it)`, EXIT.usage);
  const pipeline = await openPipeline({ ...config, DATABASE_WAIT_MS: 0 }, logger, false);
  try {
    if (options.follow) return await follow(pipeline, jobId);
    const job = await jobWithHistory(pipeline, jobId);
    if (!job) throw new CliError(`no job ${jobId}`, EXIT.failed);
    process.stdout.write(`${JSON.stringify(job, null, 2)}\n`);
    return EXIT.ok;
  } finally {
    await pipeline.close();
  }
}

async function follow(pipeline: Pipeline, jobId: string): Promise<number> {
  if (!(await pipeline.store.job(jobId))) throw new CliError(`no job ${jobId}`, EXIT.failed);
  const stop = new AbortController();
  const interrupt = () => stop.abort();
  process.once('SIGINT', interrupt);
  try {
    const stream = followJob(pipeline.runtime, jobId, { signal: stop.signal });
    let next = await stream.next();
    for (; !next.done; next = await stream.next()) {
      if (next.value.kind === 'stage') process.stdout.write(`${JSON.stringify(next.value.change)}\n`);
    }
    if (next.value === 'gone') throw new CliError(`job ${jobId} was deleted`, EXIT.failed);
    if (next.value === 'aborted') return EXIT.failed;
    const job = await pipeline.store.job(jobId);
    if (!job) throw new CliError(`job ${jobId} was deleted`, EXIT.failed);
    process.stdout.write(`${JSON.stringify(jobView(job))}\n`);
    return job.stage === 'complete' ? EXIT.ok : EXIT.failed;
  } finally {
    process.off('SIGINT', interrupt);
  }
}

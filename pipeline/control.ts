import { DocketError, InstanceNotFoundError, type InstanceState } from '../index.js';
import { stageOf, type UploadContext, type UploadStage } from '../machines/upload.js';
import type { Pipeline } from './index.js';

/** No job has this id. */
export class JobNotFoundError extends DocketError {
  constructor(readonly jobId: string) {
    super('JOB_NOT_FOUND', `no job ${jobId}`);
  }
}

/**
 * The job's stage forbids the request: `JOB_FINISHED` (cancel of a complete or canceled job),
 * `JOB_NOT_FAILED` (retry of a job that has not failed), `JOB_NOT_RETRYABLE` (a failure the
 * machine cannot go back from).
 */
export class JobStateError extends DocketError {
  constructor(
    code: 'JOB_FINISHED' | 'JOB_NOT_FAILED' | 'JOB_NOT_RETRYABLE',
    readonly jobId: string,
    readonly stage: string,
    message: string,
  ) {
    super(code, message);
  }
}

/** Stages whose failure a RETRY can go back to (machines/upload.ts, the `failed` state). */
const RETRYABLE: readonly UploadStage[] = ['queued', 'job_validated', 'parsing', 'chunking', 'embedding'];

async function instance(pipeline: Pipeline, jobId: string): Promise<InstanceState<UploadContext>> {
  const state = await pipeline.runtime.get<UploadContext>(jobId);
  if (!state || !(await pipeline.store.job(jobId))) throw new JobNotFoundError(jobId);
  return state;
}

/**
 * Cancels a job: a CANCEL event, which moves the machine to `canceled` from any stage but
 * `complete`. Leaving its state cancels the stage's running effect and aborts its attempt wherever
 * it runs; a late result of it is dropped. Resolves when the event is committed, not applied.
 */
export async function cancelJob(pipeline: Pipeline, jobId: string, reason = 'canceled through the API'): Promise<{ stage: UploadStage }> {
  const state = await instance(pipeline, jobId);
  const stage = stageOf(state.value);
  if (state.status !== 'active' || stage === 'complete' || stage === 'canceled') {
    throw new JobStateError('JOB_FINISHED', jobId, stage, `job ${jobId} is ${stage}${state.status === 'active' || stage !== 'failed' ? '' : ` (${state.status}: failed was final then)`}; there is nothing to cancel`);
  }
  const sent = await pipeline.runtime.send(jobId, { type: 'CANCEL', reason });
  // It finished between the read and the send: the send found no active instance.
  if (!sent.accepted && sent.reason === 'instance_not_active') {
    const now = (await pipeline.store.job(jobId))?.stage ?? stage;
    throw new JobStateError('JOB_FINISHED', jobId, now, `job ${jobId} is ${now}; there is nothing to cancel`);
  }
  return { stage };
}

/**
 * Retries a failed job from the stage that failed (a failed parse from its submission): a RETRY
 * event. Finished stages are not run again. Jobs that failed under machine version 1 or 2, whose
 * `failed` was a final state, cannot be retried: delete and upload them again.
 */
export async function retryJob(pipeline: Pipeline, jobId: string): Promise<{ stage: UploadStage; from: string }> {
  const state = await instance(pipeline, jobId);
  const stage = stageOf(state.value);
  if (stage !== 'failed') throw new JobStateError('JOB_NOT_FAILED', jobId, stage, `job ${jobId} is ${stage}; only a failed job can be retried`);
  if (state.status !== 'active') {
    throw new JobStateError(
      'JOB_NOT_RETRYABLE',
      jobId,
      stage,
      `job ${jobId} failed under upload machine version ${state.machineVersion}, whose failed state is final; delete it and upload the file again`,
    );
  }
  const failedAt = state.context.error?.stage;
  if (!failedAt || !RETRYABLE.includes(failedAt)) {
    throw new JobStateError('JOB_NOT_RETRYABLE', jobId, stage, `job ${jobId} failed in ${failedAt ?? 'no known stage'}, which cannot be retried`);
  }
  const sent = await pipeline.runtime.send(jobId, { type: 'RETRY' });
  if (!sent.accepted) throw new JobStateError('JOB_NOT_RETRYABLE', jobId, stage, `job ${jobId} is no longer active`);
  return { stage, from: failedAt };
}

/**
 * Deletes a job in any stage: its engine instance (stopped first when it runs: attempts aborted,
 * timers dropped), journal, chunks, document, the job row, and its bytes unless another job holds
 * the same content. One transaction.
 */
export async function deleteJob(pipeline: Pipeline, jobId: string): Promise<{ stage: string; bytesDeleted: boolean }> {
  return pipeline.db.transaction(async (tx) => {
    const store = pipeline.store.within(tx);
    const job = await store.job(jobId);
    if (!job) throw new JobNotFoundError(jobId);
    try {
      await pipeline.runtime.remove(jobId, { tx });
    } catch (error) {
      // A job row without its instance (never expected): the rows still go.
      if (!(error instanceof InstanceNotFoundError)) throw error;
    }
    const { bytesDeleted } = await store.deleteJob(jobId, job.sha256);
    return { stage: job.stage, bytesDeleted };
  });
}

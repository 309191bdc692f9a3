/**
 * Real upload jobs through the real pipeline (local providers), some finished and some held in
 * flight at a chosen stage, for replay and deploy-check tests. A held service fails transiently
 * with a Retry-After of an hour, so its instance rests in the state that invoked it, with nothing
 * running: the pipeline closes at once and another process may open the database.
 */
import type { AnyStateMachine } from 'xstate';
import { TransientError, type InstanceState } from '../../index.js';
import { isSettled, stageOf } from '../../machines/upload.js';
import { createPipeline, type Pipeline } from '../../pipeline/index.js';
import { loadConfig } from '../../server/config.js';
import { paragraph } from '../fixtures/documents.js';
import type { Database } from '../../runtime/db/database.js';
import { silent } from './db.js';

export interface HeldPipeline {
  pipeline: Pipeline;
  /** Names of services that fail transiently (Retry-After 1 h) while listed. */
  held: Set<string>;
}

/** The pipeline on `DATABASE_URL` with small chunks and batches (several embedding batches a job). */
export async function heldPipeline(DATABASE_URL: string, machine?: AnyStateMachine, database?: Database): Promise<HeldPipeline> {
  const held = new Set<string>();
  const config = loadConfig({ DATABASE_URL, EMBEDDING_DIMENSIONS: '16', CHUNK_TOKENS: '64', EMBED_BATCH_SIZE: '2' });
  const pipeline = await createPipeline(config, {
    logger: silent,
    machine,
    database,
    instrument: (name, handler) => async (context) => {
      if (held.has(name)) throw new TransientError(`${name} is held by the test`, { retryAfterMs: 3_600_000 });
      return handler(context);
    },
  });
  return { pipeline, held };
}

/** The jobs of the scenario, by what happened to them. */
export interface UploadJobs {
  /** One chunk, complete. */
  oneChunk: string;
  /** Several chunks in several embedding batches, complete. */
  manyChunks: string;
  /** One chunk, resting in `embedding`. */
  embeddingOne: string;
  /** Several chunks, resting in `embedding` before its first batch. */
  embeddingMany: string;
  /** Resting in `chunking`. */
  chunking: string;
  /** Resting in `queued`, its validation held. */
  queued: string;
  /** Stopped by an operator in `chunking`: a `docket.stop` entry ends its journal. */
  stopped: string;
}

const oneChunk = (name: string) => `# ${name}\n\nOne short paragraph about ${name}.\n`;
const manyChunks = (seed: number) => Array.from({ length: 6 }, (_, i) => `## Part ${seed}.${i}\n\n${paragraph(seed + i, 5)}\n`).join('\n');

/** Runs the scenario's jobs; resolves when each rests where the scenario puts it. */
export async function uploadJobs({ pipeline, held }: HeldPipeline): Promise<UploadJobs> {
  const submit = async (filename: string, text: string) => (await pipeline.submit({ filename, content: new TextEncoder().encode(text) })).jobId;
  const reach = (id: string, stage: string) =>
    pipeline.runtime.waitFor(id, (s: InstanceState) => stageOf(s.value) === stage || isSettled(s), { timeoutMs: 60_000 }).then((s) => {
      if (stageOf(s.value) !== stage) throw new Error(`job ${id} ended ${JSON.stringify(s.value)} (${s.status}), not in ${stage}`);
    });

  const jobs = {
    oneChunk: await submit('one.md', oneChunk('one')),
    manyChunks: await submit('many.md', manyChunks(1)),
  } as UploadJobs;
  await Promise.all([reach(jobs.oneChunk, 'complete'), reach(jobs.manyChunks, 'complete')]);

  held.add('embedBatch');
  jobs.embeddingOne = await submit('e-one.md', oneChunk('embedding'));
  jobs.embeddingMany = await submit('e-many.md', manyChunks(2));
  await Promise.all([reach(jobs.embeddingOne, 'embedding'), reach(jobs.embeddingMany, 'embedding')]);

  held.add('chunkDocument');
  jobs.chunking = await submit('chunking.md', oneChunk('chunking'));
  jobs.stopped = await submit('stopped.md', oneChunk('stopped'));
  await Promise.all([reach(jobs.chunking, 'chunking'), reach(jobs.stopped, 'chunking')]);
  await pipeline.runtime.stop(jobs.stopped, 'replay test');

  held.add('validateUpload');
  jobs.queued = await submit('queued.md', oneChunk('queued'));
  return jobs;
}

/** Polls the jobs' rows until every one is complete, failed or canceled; returns them. */
export async function settle(pipeline: Pipeline, jobIds: string[], timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const jobs = await Promise.all(jobIds.map((id) => pipeline.store.job(id)));
    if (jobs.every((job) => job && ['complete', 'failed', 'canceled'].includes(job.stage))) return jobs;
    if (Date.now() > deadline) throw new Error(`jobs not settled: ${JSON.stringify(jobs.map((job) => job?.stage))}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

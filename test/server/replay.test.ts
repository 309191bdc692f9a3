import test from 'ava';
import { checkDeploy, replay, type ReplayResult } from '../../index.js';
import { uploadMachine } from '../../machines/upload.js';
import { ownDatabase } from '../helpers/db.js';
import { openRuntimes } from '../../runtime/open-runtimes.js';
import { heldPipeline, uploadJobs, type HeldPipeline, type UploadJobs } from '../helpers/upload-jobs.js';
import { chunkedGuardChanged, renamedValidated, slowerPolls, withoutEmbeddedCheckpoint } from '../helpers/upload-variants.js';

// One pipeline for the file: its jobs are only read by the tests below.
const teardowns: (() => Promise<void>)[] = [];
let scenario: { held: HeldPipeline; jobs: UploadJobs };

test.before(async () => {
  const { DATABASE_URL, database } = await ownDatabase({ teardown: (fn) => void teardowns.push(fn) });
  const held = await heldPipeline(DATABASE_URL, undefined, database);
  teardowns.unshift(() => held.pipeline.close());
  scenario = { held, jobs: await uploadJobs(held) };
});

// After hooks run at once, so this one checks for a leaked runtime itself, once it closed its own.
test.after.always('the pipeline closes and no runtime is left running', async (t) => {
  for (const teardown of teardowns) await teardown();
  t.is(openRuntimes.size, 0);
});

const rt = () => scenario.held.pipeline.runtime;
const divergent = (result: ReplayResult) => result.steps.filter((step) => step.divergence).map((step) => [step.seq, ...step.divergence!.reasons]);

test('the journal of a finished job replays step for step through the machine that ran it', async (t) => {
  const { oneChunk, manyChunks } = scenario.jobs;
  const one = await replay(rt(), oneChunk);
  t.false(one.diverged);
  t.like(one, { machine: 'upload', machineVersion: 3, status: 'done', value: 'complete' });
  t.deepEqual(
    one.steps.map((s) => `${s.seq} ${s.event.type}: ${s.recorded.to}/${s.recorded.status} = ${s.replayed!.value}/${s.replayed!.status}`),
    [
      '0 xstate.init: queued/active = queued/active',
      '1 xstate.done.actor.0.upload.queued: job_validated/active = job_validated/active',
      '2 xstate.done.actor.0.upload.job_validated: parsed/active = parsed/active',
      '3 xstate.after.0.upload.parsed: chunking/active = chunking/active',
      '4 xstate.done.actor.0.upload.chunking: chunked/active = chunked/active',
      '5 xstate.after.0.upload.chunked: embedding/active = embedding/active',
      '6 xstate.done.actor.0.upload.embedding: embedded/active = embedded/active',
      '7 xstate.after.0.upload.embedded: complete/done = complete/done',
    ],
  );
  // The guards read outputs recorded in the journal (remaining > 0 re-enters embedding), so the
  // batches replay as they ran, without embedding anything.
  const many = await replay(rt(), manyChunks);
  t.false(many.diverged);
  const reentries = many.steps.filter((s) => s.recorded.from === 'embedding' && s.recorded.to === 'embedding');
  t.true(reentries.length >= 2, `several batches: ${reentries.length} re-entries`);
  t.false((await replay(rt(), oneChunk, { machine: slowerPolls })).diverged, 'a named delay with another value is the same event id');
});

test('a changed machine diverges at exactly the steps its change touches', async (t) => {
  const { oneChunk, manyChunks } = scenario.jobs;
  // One chunk or none now skips embedding: the one-chunk job parts at the `chunked` timer, and its
  // recorded embedding result is an event the new path does not take; the paths meet at `embedded`.
  t.deepEqual(divergent(await replay(rt(), oneChunk, { machine: chunkedGuardChanged })), [
    [5, 'value'],
    [6, 'not_accepted'],
  ]);
  t.false((await replay(rt(), manyChunks, { machine: chunkedGuardChanged })).diverged, 'more chunks: the same path');

  // Without the `embedded` checkpoint the last batch ends the job, and the checkpoint's timer is not taken.
  const removed = await replay(rt(), oneChunk, { machine: withoutEmbeddedCheckpoint });
  t.deepEqual(divergent(removed), [
    [6, 'value', 'status'],
    [7, 'not_accepted'],
  ]);
  t.is(removed.firstDivergence!.divergence!.message, 'replayed complete, recorded embedded; replayed status done, recorded active');

  // A renamed state renames its invoke and every event naming it: the paths never meet again.
  const renamed = await replay(rt(), oneChunk, { machine: renamedValidated });
  t.deepEqual(divergent(renamed).map(([seq]) => seq), [1, 2, 3, 4, 5, 6, 7]);
  t.like(renamed.steps[2], {
    event: { type: 'xstate.done.actor.0.upload.job_validated' },
    replayed: { value: 'validated', accepted: false },
    divergence: { reasons: ['not_accepted', 'value'] },
  });
});

test('check-deploy lists exactly the in-flight jobs whose path the new machine would not take', async (t) => {
  const { embeddingOne, embeddingMany, chunking, queued, stopped } = scenario.jobs;
  const ids = (check: Awaited<ReturnType<typeof checkDeploy>>) => check.diverging.map((d) => d.instanceId).sort();

  const same = await checkDeploy(rt(), { machine: 'upload' });
  t.like(same, { machine: 'upload', statuses: ['active', 'error'], checked: 4, diverging: [] });
  t.like(await checkDeploy(rt(), { machine: 'upload', candidate: uploadMachine }), { checked: 4, diverging: [] });

  const guard = await checkDeploy(rt(), { machine: 'upload', candidate: chunkedGuardChanged });
  t.deepEqual(ids(guard), [embeddingOne], 'only the one-chunk job resting in embedding went the old way');
  t.like(guard.diverging[0], { status: 'active', value: 'embedding', divergentSteps: 1, firstDivergence: { seq: 5, replayed: { value: 'embedded' } } });

  const renamed = await checkDeploy(rt(), { machine: 'upload', candidate: renamedValidated, pageSize: 1 });
  t.is(renamed.checked, 4);
  t.deepEqual(ids(renamed), [embeddingOne, embeddingMany, chunking].sort(), 'every job past job_validated; not the queued one');
  t.true(renamed.diverging.every((d) => d.firstDivergence.seq === 1));
  t.false(ids(renamed).includes(queued));

  t.like(await checkDeploy(rt(), { machine: 'upload', candidate: withoutEmbeddedCheckpoint }), { checked: 4, diverging: [] }, 'none has reached the removed checkpoint');

  const stoppedCheck = await checkDeploy(rt(), { machine: 'upload', candidate: renamedValidated, statuses: ['stopped'] });
  t.deepEqual(ids(stoppedCheck), [stopped]);
  const stoppedReplay = await replay(rt(), stopped);
  t.false(stoppedReplay.diverged);
  t.like(stoppedReplay.steps.at(-1), { seq: 4, kind: 'engine', event: { type: 'docket.stop' }, recorded: { to: 'chunking', status: 'stopped' }, replayed: null });
});

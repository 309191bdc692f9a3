import test from 'ava';
import { initialTransition, transition, type AnyEventObject, type AnyMachineSnapshot } from 'xstate';
import { pollDelayMs, stageOf, uploadMachine, type UploadContext } from '../../machines/upload.js';

// Pure: snapshots from transition(), no database. Invocations are answered by hand with the
// xstate.done/error.actor events the runtime would deliver.

interface Step {
  snapshot: AnyMachineSnapshot;
  /** The invocation the state started: its child id and service. */
  invoked?: { id: string; src: string; input: unknown };
  /** Delays the step scheduled (durable timers under the runtime). */
  delays: number[];
  /** The events those timers deliver, in the same order. */
  timers: AnyEventObject[];
}

function observe(snapshot: AnyMachineSnapshot, actions: { type: string; params?: unknown }[]): Step {
  const spawn = actions.find((a) => a.type === 'xstate.spawnChild')?.params as { id: string; src: string; input: unknown } | undefined;
  const raised = actions.filter((a) => a.type === 'xstate.raise' && typeof (a.params as { delay?: number }).delay === 'number');
  const params = raised.map((a) => a.params as { delay: number; event: AnyEventObject });
  return {
    snapshot,
    invoked: spawn ? { id: spawn.id, src: spawn.src, input: spawn.input } : undefined,
    delays: params.map((p) => p.delay),
    timers: params.map((p) => p.event),
  };
}

function start(): Step {
  const [snapshot, actions] = initialTransition(uploadMachine, { jobId: 'job-1', filename: 'a.pdf', bytes: 10, sha256: 'abc' });
  return observe(snapshot as AnyMachineSnapshot, actions as never);
}

function send(step: Step, event: AnyEventObject): Step {
  const [snapshot, actions] = transition(uploadMachine, step.snapshot as never, event as never);
  return observe(snapshot as AnyMachineSnapshot, actions as never);
}

const done = (step: Step, output: unknown) => send(step, { type: `xstate.done.actor.${step.invoked!.id}`, output });
const fail = (step: Step, error: unknown) => send(step, { type: `xstate.error.actor.${step.invoked!.id}`, error });
/** Fires the step's first timer other than the overall parse timeout. */
const timer = (step: Step) => send(step, step.timers.find((event) => !event.type.includes('parseTimeout'))!);
const context = (step: Step) => step.snapshot.context as UploadContext;

test('a local parse goes through every stage, embedding in batches', (t) => {
  const stages: string[] = [];
  let step = start();
  stages.push(stageOf(step.snapshot.value));
  t.like(step.invoked, { src: 'validateUpload', input: { jobId: 'job-1', filename: 'a.pdf', bytes: 10, sha256: 'abc' } });
  step = done(step, { mediaType: 'application/pdf' });
  stages.push(stageOf(step.snapshot.value));
  t.like(step.invoked, { src: 'submitParse', input: { mediaType: 'application/pdf' } });
  step = done(step, { remoteJobId: null, result: { pages: 3, warnings: [] } });
  stages.push(stageOf(step.snapshot.value));
  t.deepEqual(step.delays, [0], 'parsed is a checkpoint left by a zero-delay timer');
  step = timer(step);
  stages.push(stageOf(step.snapshot.value));
  t.is(step.invoked!.src, 'chunkDocument');
  step = done(step, { chunks: 5, warnings: [] });
  stages.push(stageOf(step.snapshot.value));
  step = timer(step);
  stages.push(stageOf(step.snapshot.value));
  const firstBatch = step.invoked!;
  t.is(firstBatch.src, 'embedBatch');
  step = done(step, { embedded: 3, remaining: 2 });
  t.is(stageOf(step.snapshot.value), 'embedding', 'another batch');
  t.is(step.invoked!.src, 'embedBatch', 're-entering invokes again');
  t.is(context(step).embedded, 3);
  // The count is the job's total from the rows, not a sum of batches: a retried batch that found its
  // vectors stored already reports the same total again (pinned: 10 of 200 jobs ended embedded: 0).
  step = done(step, { embedded: 5, remaining: 0 });
  stages.push(stageOf(step.snapshot.value));
  step = timer(step);
  stages.push(stageOf(step.snapshot.value));
  t.deepEqual(stages, ['queued', 'job_validated', 'parsed', 'chunking', 'chunked', 'embedding', 'embedded', 'complete']);
  t.is(step.snapshot.status, 'done');
  t.like(context(step), { mediaType: 'application/pdf', chunks: 5, embedded: 5, parse: { pages: 3 }, error: null });
});

test('a remote parse polls with backoff from 1 s to 5 s until the parser is done', (t) => {
  let step = done(start(), { mediaType: 'application/pdf' });
  step = done(step, { remoteJobId: 'lp-1' });
  t.deepEqual(step.snapshot.value, { parsing: 'waiting' });
  const delays: number[] = [];
  for (let poll = 0; poll < 6; poll++) {
    delays.push(step.delays[step.timers.findIndex((event) => !event.type.includes('parseTimeout'))]!);
    step = timer(step);
    t.like(step.invoked, { src: 'pollParse', input: { remoteJobId: 'lp-1' } });
    step = done(step, { status: 'pending' });
  }
  t.deepEqual(delays, [1_000, 2_000, 3_000, 4_000, 5_000, 5_000]);
  t.deepEqual([0, 1, 4, 9].map(pollDelayMs), [1_000, 2_000, 5_000, 5_000]);
  step = timer(step);
  step = done(step, { status: 'done', result: { pages: 2, warnings: ['PARTIAL_SUCCESS: page 2 failed'] } });
  t.is(step.snapshot.value, 'parsed');
  t.deepEqual(context(step).warnings, ['PARTIAL_SUCCESS: page 2 failed'], 'partial success goes on, with a warning');
});

test("the parser's callback cuts the wait short", (t) => {
  let step = done(done(start(), { mediaType: 'application/pdf' }), { remoteJobId: 'lp-1' });
  step = send(step, { type: 'PARSE_CALLBACK', remoteJobId: 'lp-1', status: 'SUCCESS' });
  t.deepEqual(step.snapshot.value, { parsing: 'checking' });
  t.is(step.invoked!.src, 'pollParse');
});

test('the overall parse timeout fails the job in parsing', (t) => {
  let step = done(done(start(), { mediaType: 'application/pdf' }), { remoteJobId: 'lp-1' });
  t.true(step.delays.includes(30 * 60_000));
  step = send(step, step.timers.find((event) => event.type.includes('parseTimeout'))!);
  t.is(step.snapshot.value, 'failed');
  t.like(context(step).error, { stage: 'parsing', code: 'PARSE_TIMEOUT' });
});

test('a failing service fails the job with its stage, code and message', (t) => {
  const step = fail(start(), { name: 'PermanentError', code: 'UNSUPPORTED_TYPE', message: 'not a PDF, Markdown, HTML or text file' });
  t.is(step.snapshot.value, 'failed');
  t.deepEqual(context(step).error, { stage: 'queued', code: 'UNSUPPORTED_TYPE', message: 'not a PDF, Markdown, HTML or text file' });
  const chunking = fail(timer(done(done(start(), { mediaType: 'text/plain' }), { remoteJobId: null, result: { pages: 1, warnings: [] } })), {
    code: 'PDF_ENCRYPTED',
    message: 'the PDF needs a password',
  });
  t.like(context(chunking).error, { stage: 'chunking', code: 'PDF_ENCRYPTED' });
});

test('no chunks (an image-only PDF) skips embedding and completes', (t) => {
  let step = timer(done(done(start(), { mediaType: 'application/pdf' }), { remoteJobId: null, result: { pages: 1, warnings: ['NO_TEXT: no text layer'] } }));
  step = done(step, { chunks: 0, warnings: [] });
  step = timer(step);
  t.is(step.snapshot.value, 'embedded');
  step = timer(step);
  t.is(step.snapshot.value, 'complete');
  t.like(context(step), { chunks: 0, embedded: 0, warnings: ['NO_TEXT: no text layer'] });
});

test('CANCEL ends the job from any stage', (t) => {
  for (const step of [start(), done(start(), { mediaType: 'application/pdf' }), done(done(start(), { mediaType: 'application/pdf' }), { remoteJobId: 'x' })]) {
    const canceled = send(step, { type: 'CANCEL' });
    t.is(canceled.snapshot.value, 'canceled');
    t.is(canceled.snapshot.status, 'done');
  }
});

test('failed is not final: it waits for a RETRY, or a CANCEL', (t) => {
  const failed = fail(start(), { code: 'FILE_MISSING', message: 'no stored bytes' });
  t.is(failed.snapshot.value, 'failed');
  t.is(failed.snapshot.status, 'active');
  t.like(send(failed, { type: 'CANCEL' }).snapshot, { value: 'canceled', status: 'done' });
  const retried = send(failed, { type: 'RETRY' });
  t.is(retried.snapshot.value, 'queued', 'a failed validation is validated again');
  t.is(context(retried).error, null);
  t.is(retried.invoked!.src, 'validateUpload');
});

test('RETRY resumes at the stage that failed, keeping what the stages before it did', (t) => {
  const validated = done(start(), { mediaType: 'text/markdown' });
  const parsed = timer(done(validated, { remoteJobId: null, result: { pages: 2, warnings: ['PARTIAL_SUCCESS: page 2'] } }));
  // Chunking fails: the retry chunks again, without validating or parsing again.
  let step = send(fail(parsed, { code: 'INTERNAL_ERROR', message: 'boom' }), { type: 'RETRY' });
  t.is(step.snapshot.value, 'chunking');
  t.is(step.invoked!.src, 'chunkDocument');
  t.like(context(step), { mediaType: 'text/markdown', parse: { pages: 2 }, warnings: ['PARTIAL_SUCCESS: page 2'], error: null });
  // Embedding fails after a first batch: the retry embeds the rest, the count kept.
  step = timer(done(step, { chunks: 5, warnings: [] }));
  step = done(step, { embedded: 3, remaining: 2 });
  step = send(fail(step, { code: 'OPENAI_RATE_LIMITED', message: 'slow down' }), { type: 'RETRY' });
  t.is(step.snapshot.value, 'embedding');
  t.like(context(step), { chunks: 5, embedded: 3, error: null });
  step = timer(done(step, { embedded: 5, remaining: 0 }));
  t.is(step.snapshot.value, 'complete');
});

test('a failed parse is retried from its submission, with a fresh remote job and poll count', (t) => {
  let step = done(done(start(), { mediaType: 'application/pdf' }), { remoteJobId: 'lp-1' });
  step = done(timer(step), { status: 'pending' });
  step = fail(timer(step), { code: 'LLAMAPARSE_ERROR', message: 'the parser fell over' });
  t.like(context(step), { parse: { remoteJobId: 'lp-1', polls: 1 }, error: { stage: 'parsing' } });
  step = send(step, { type: 'RETRY' });
  t.is(step.snapshot.value, 'job_validated');
  t.is(step.invoked!.src, 'submitParse');
  t.like(context(step), { parse: { remoteJobId: null, polls: 0 }, error: null });
});

test('RETRY outside failed changes nothing', (t) => {
  const step = done(start(), { mediaType: 'application/pdf' });
  t.deepEqual(send(step, { type: 'RETRY' }).snapshot.value, step.snapshot.value);
});

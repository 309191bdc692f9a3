import test from 'ava';
import { isDeepStrictEqual } from 'node:util';
import { PermanentError } from '../../index.js';
import { modelPaths, testMachine, type PathOptions } from '../../testing/index.js';
import { PARSE_TIMEOUT_MS, uploadMachine, type UploadContext } from '../../machines/upload.js';
import { testDatabase } from '../helpers/db.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';

// Model-based: paths generated from the upload machine with xstate/graph, each run on a real
// runtime (this run's back end) with a manual clock and injected service outcomes. Every state and
// every transition must be taken, and after each step the journal, the state and the whole context
// persisted by the engine must equal the pure machine's.

failOnLeakedRuntimes();

const model: PathOptions<typeof uploadMachine> = {
  input: { jobId: 'job-model', filename: 'paper.pdf', bytes: 24_607, sha256: 'f17a', declaredType: 'application/pdf', metadata: { source: 'model' } },
  // One outcome per branch of each guarded onDone, and one failure per service.
  services: {
    validateUpload: {
      done: [{ mediaType: 'application/pdf' }],
      error: [new PermanentError('not a PDF, Markdown, HTML or text file', { code: 'UNSUPPORTED_TYPE' })],
    },
    submitParse: {
      done: [
        { remoteJobId: null, result: { pages: 3, warnings: [] } }, // parsed at once (local parser)
        { remoteJobId: 'lp-1' }, // submitted: wait for the callback or the next poll
      ],
      error: [new PermanentError('LlamaParse refused the file', { code: 'LLAMAPARSE_REJECTED' })],
    },
    pollParse: {
      done: [{ status: 'pending' }, { status: 'done', result: { pages: 2, warnings: ['PARTIAL_SUCCESS: page 2 failed'] } }],
      error: [new PermanentError('the PDF needs a password', { code: 'LLAMAPARSE_PDF_ENCRYPTED' })],
    },
    chunkDocument: {
      done: [{ chunks: 0, warnings: ['NO_TEXT: no text layer'] }, { chunks: 5, warnings: [] }],
      error: [new PermanentError('the PDF needs a password', { code: 'PDF_ENCRYPTED' })],
    },
    embedBatch: {
      done: [{ embedded: 3, remaining: 2 }, { embedded: 5, remaining: 0 }],
      error: [new PermanentError('input too long', { code: 'OPENAI_BAD_REQUEST' })],
    },
  },
  events: [{ type: 'CANCEL', reason: 'the client asked' }, { type: 'PARSE_CALLBACK', remoteJobId: 'lp-1', status: 'SUCCESS' }, { type: 'RETRY' }],
  // The poll counter grows with every pending poll (and sets the poll delay, which the model
  // replays exactly); it is left out of what tells states apart so there are finitely many.
  stateKey: ({ value, context }) => ({ value, context: { ...context, parse: { ...context.parse, polls: null } } }),
};

test(`every state and transition of the upload machine on the runtime (${process.env.DOCKET_TEST_BACKEND ?? 'pglite'})`, async (t) => {
  const db = await testDatabase();
  t.teardown(() => db.close());
  const report = await testMachine(uploadMachine, {
    ...model,
    database: db.database,
    schema: db.schema,
    // The whole context, as jsonb gives it back, equals the pure machine's: outputs, counters, the
    // stage errors built from what the engine delivers for a thrown error.
    context: (actual: UploadContext, expected: UploadContext) => isDeepStrictEqual(actual, expected),
  });
  t.log(report.text);
  t.deepEqual(report.uncovered, { states: [], transitions: [] });
  t.is(report.states.length, 13);
  t.is(report.transitions.length, 25);
  const taken = Object.fromEntries(report.transitions.map((i) => [i.name, i.count]));
  t.true(taken['embedding → embedding  done embedBatch [1/2, guarded]']! > 0, 'a second batch re-enters embedding');
  t.true(taken['parsing → failed  after parseTimeout']! > 0, `the ${PARSE_TIMEOUT_MS / 60_000}-minute timeout fired on the manual clock`);
  t.true(taken['parsing.waiting → parsing.checking  after pollDelay']! > 0);
  // Failed is not final: each RETRY goes back to the stage that failed, on the real runtime.
  for (const target of ['queued', 'job_validated', 'chunking', 'embedding']) {
    t.true(Object.entries(taken).some(([name, count]) => name.startsWith(`failed → ${target}  RETRY`) && count > 0), `RETRY to ${target}`);
  }
  t.true(report.paths.length <= 40, `${report.paths.length} paths`);
});

test('path generation: shortest paths topped up cover everything; minimal needs fewer paths', (t) => {
  const started = performance.now();
  const shortest = modelPaths(uploadMachine, model);
  const minimal = modelPaths(uploadMachine, { ...model, strategy: 'minimal' });
  t.log(`${shortest.length} shortest paths (${steps(shortest)} steps), ${minimal.length} minimal (${steps(minimal)} steps), in ${Math.round(performance.now() - started)} ms`);
  t.true(minimal.length < shortest.length);
  // The parse timeout can only fire while a poll runs: in waiting the 1 s poll timer comes first.
  for (const path of shortest) {
    path.steps.forEach((step, i) => {
      if (step.label === 'after parseTimeout') t.deepEqual(path.steps[i - 1]?.value, { parsing: 'checking' }, path.description);
    });
  }
  // The checkpoints are left by zero-delay timers: automatic steps the test only waits for.
  const happy = shortest.find((p) => p.steps.at(-1)?.value === 'complete')!;
  t.true(happy.steps.filter((s) => s.label === 'after 0 ms').every((s) => s.automatic));
});

function steps(paths: { steps: unknown[] }[]): number {
  return paths.reduce((n, p) => n + p.steps.length, 0);
}

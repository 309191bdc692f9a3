import { assign, enqueueActions, fromPromise, setup } from 'xstate';

/**
 * The upload pipeline: one document from upload to embedded chunks. Pure: every outside effect is
 * an invoked service the runtime runs durably (adapters provide them), every wait a durable timer.
 *
 *   queued -> job_validated -> parsing -> parsed -> chunking -> chunked -> embedding -> embedded -> complete
 *   (any stage) -> failed | canceled;  failed -- RETRY --> the stage that failed
 *
 * The "-ed" stages are checkpoints: each is left by a zero-delay timer, so it is a step of its own
 * in the journal and the stage projection. Guards are named functions, so the diagrams and the
 * Stately visualizer and inspector show what each branch means.
 */

/** The stages, in order; `failed` and `canceled` end a job early (`failed` until a RETRY). */
export const UPLOAD_STAGES = [
  'queued',
  'job_validated',
  'parsing',
  'parsed',
  'chunking',
  'chunked',
  'embedding',
  'embedded',
  'complete',
  'failed',
  'canceled',
] as const;
export type UploadStage = (typeof UPLOAD_STAGES)[number];

/**
 * Stages where a job stops moving by itself: `complete` and `canceled` are final; `failed` waits
 * for a RETRY (or a CANCEL) and so is not a final state of the machine, but nothing runs in it.
 */
export const SETTLED_STAGES: readonly UploadStage[] = ['complete', 'failed', 'canceled'];

/** Whether a job in this state has stopped moving by itself: a settled stage, or an instance no longer active. */
export function isSettled(state: { value: unknown; status: string }): boolean {
  // The state's own name, not stageOf's: a state another machine version names is not `failed`.
  const top = typeof state.value === 'string' ? state.value : Object.keys(state.value as object)[0];
  return state.status !== 'active' || (SETTLED_STAGES as readonly string[]).includes(top ?? '');
}

export interface UploadInput {
  jobId: string;
  filename: string;
  bytes: number;
  sha256: string;
  /** What the client said the file is; validation decides by content. */
  declaredType?: string;
  /** The client's own fields for the job, kept as given. */
  metadata?: Record<string, unknown>;
  /** Whose job this is (the API key's tenant); absent: 'default'. Carried, never read, by the machine. */
  tenant?: string;
  /** Where to POST the job when it ends (complete, failed or canceled); checked at upload. */
  callbackUrl?: string;
}

export interface StageError {
  stage: UploadStage;
  code: string;
  message: string;
}

export interface UploadContext extends UploadInput {
  /** The media type validation found from the content. */
  mediaType?: string;
  parse: {
    /** The parser's own job id (LlamaParse), or null for a local parse. */
    remoteJobId: string | null;
    /** Polls made so far; the delay grows with them. */
    polls: number;
    pages: number;
  };
  chunks: number;
  embedded: number;
  warnings: string[];
  error: StageError | null;
}

export type UploadEvent =
  | { type: 'CANCEL'; reason?: string }
  /** From `failed`: run the stage that failed again, keeping every stage finished before it. */
  | { type: 'RETRY' }
  /** The parser says a job changed status (a webhook); the machine polls at once instead of waiting. */
  | { type: 'PARSE_CALLBACK'; remoteJobId: string; status?: string };

/** Outputs of the services, as the adapters return them. */
export interface ValidateOutput {
  mediaType: string;
}
export interface SubmitParseOutput {
  remoteJobId: string | null;
  /** Set when the parser finished at once (the local parser): no polling. */
  result?: ParseResult;
}
export interface ParseResult {
  pages: number;
  warnings: string[];
}
export type PollParseOutput = { status: 'pending' } | { status: 'done'; result: ParseResult };
export interface ChunkOutput {
  chunks: number;
  warnings: string[];
}
export interface EmbedBatchOutput {
  /** The job's chunks that have an embedding now, in all (counted from the rows, not by this batch). */
  embedded: number;
  /** Chunks still without an embedding. */
  remaining: number;
}

/** Services every upload needs; the runtime's `services` option supplies the real ones. */
const unprovided = (name: string) =>
  fromPromise<never, unknown>(async () => {
    throw new Error(`service "${name}" was not provided: pass it in createRuntime({ services })`);
  });

/** Tuning of the parse wait, milliseconds. */
export const PARSE_POLL_FIRST_MS = 1_000;
export const PARSE_POLL_MAX_MS = 5_000;
export const PARSE_TIMEOUT_MS = 30 * 60_000;

/** The delay before poll number `polls + 1`: 1 s, then 1 s more each time, at most 5 s (LlamaParse's own clients). */
export function pollDelayMs(polls: number): number {
  return Math.min(PARSE_POLL_FIRST_MS * (polls + 1), PARSE_POLL_MAX_MS);
}

function stageError(stage: UploadStage, error: unknown): StageError {
  const e = (error ?? {}) as { code?: unknown; message?: unknown };
  return { stage, code: typeof e.code === 'string' ? e.code : 'ERROR', message: typeof e.message === 'string' ? e.message : String(error) };
}

export const uploadMachine = setup({
  types: {
    context: {} as UploadContext,
    input: {} as UploadInput,
    events: {} as UploadEvent,
  },
  actors: {
    validateUpload: unprovided('validateUpload') as ReturnType<typeof fromPromise<ValidateOutput, { jobId: string; filename: string; bytes: number; sha256: string }>>,
    submitParse: unprovided('submitParse') as ReturnType<typeof fromPromise<SubmitParseOutput, { jobId: string; filename: string; mediaType: string }>>,
    pollParse: unprovided('pollParse') as ReturnType<typeof fromPromise<PollParseOutput, { jobId: string; remoteJobId: string }>>,
    chunkDocument: unprovided('chunkDocument') as ReturnType<typeof fromPromise<ChunkOutput, { jobId: string }>>,
    embedBatch: unprovided('embedBatch') as ReturnType<typeof fromPromise<EmbedBatchOutput, { jobId: string }>>,
  },
  actions: {
    /** Records where and why the job failed. */
    recordError: assign((_, params: { stage: UploadStage; error: unknown }) => ({ error: stageError(params.stage, params.error) })),
    /** A retry starts its stage with no error recorded. */
    clearError: assign({ error: null }),
    /** A parse submitted again starts with no remote job and no polls. */
    resetParse: assign({ parse: ({ context }) => ({ ...context.parse, remoteJobId: null, polls: 0 }) }),
    /**
     * POSTs the finished job to the client's callback URL. A custom action, so the runtime writes it
     * as an outbox effect in the step that ends the job and runs it after commit, retried with
     * backoff; the pipeline registers the service of this name that does the sending.
     */
    notifyClient: () => {},
  },
  delays: {
    pollDelay: ({ context }) => pollDelayMs(context.parse.polls),
    parseTimeout: PARSE_TIMEOUT_MS,
  },
}).createMachine({
  id: 'upload',
  context: ({ input }) => ({
    ...input,
    parse: { remoteJobId: null, polls: 0, pages: 0 },
    chunks: 0,
    embedded: 0,
    warnings: [],
    error: null,
  }),
  initial: 'queued',
  on: { CANCEL: '.canceled' },
  states: {
    queued: {
      invoke: {
        src: 'validateUpload',
        input: ({ context }) => ({ jobId: context.jobId, filename: context.filename, bytes: context.bytes, sha256: context.sha256 }),
        onDone: { target: 'job_validated', actions: assign({ mediaType: ({ event }) => event.output.mediaType }) },
        onError: { target: '#upload.failed', actions: { type: 'recordError', params: ({ event }) => ({ stage: 'queued', error: event.error }) } },
      },
    },
    job_validated: {
      invoke: {
        src: 'submitParse',
        input: ({ context }) => ({ jobId: context.jobId, filename: context.filename, mediaType: context.mediaType ?? 'application/octet-stream' }),
        onDone: [
          {
            guard: function parsedAtOnce({ event }) {
              return event.output.result !== undefined;
            },
            target: 'parsed',
            actions: assign({
              parse: ({ context, event }) => ({ ...context.parse, remoteJobId: event.output.remoteJobId, pages: event.output.result!.pages }),
              warnings: ({ context, event }) => [...context.warnings, ...event.output.result!.warnings],
            }),
          },
          { target: 'parsing', actions: assign({ parse: ({ context, event }) => ({ ...context.parse, remoteJobId: event.output.remoteJobId }) }) },
        ],
        onError: { target: '#upload.failed', actions: { type: 'recordError', params: ({ event }) => ({ stage: 'job_validated', error: event.error }) } },
      },
    },
    parsing: {
      // Whichever comes first: the parser's callback, or the next poll. Both end in a status check.
      initial: 'waiting',
      after: {
        parseTimeout: {
          target: 'failed',
          actions: assign({ error: () => ({ stage: 'parsing' as const, code: 'PARSE_TIMEOUT', message: `parsing took longer than ${PARSE_TIMEOUT_MS / 60_000} minutes` }) }),
        },
      },
      on: { PARSE_CALLBACK: { target: '.checking' } },
      states: {
        waiting: { after: { pollDelay: 'checking' } },
        checking: {
          invoke: {
            src: 'pollParse',
            input: ({ context }) => ({ jobId: context.jobId, remoteJobId: context.parse.remoteJobId ?? '' }),
            onDone: [
              {
                guard: function parseDone({ event }) {
                  return event.output.status === 'done';
                },
                target: '#upload.parsed',
                actions: assign(({ context, event }) => {
                  const result = (event.output as Extract<PollParseOutput, { status: 'done' }>).result;
                  return { parse: { ...context.parse, pages: result.pages }, warnings: [...context.warnings, ...result.warnings] };
                }),
              },
              { target: 'waiting', actions: assign({ parse: ({ context }) => ({ ...context.parse, polls: context.parse.polls + 1 }) }) },
            ],
            onError: { target: '#upload.failed', actions: { type: 'recordError', params: ({ event }) => ({ stage: 'parsing', error: event.error }) } },
          },
        },
      },
    },
    parsed: { after: { 0: 'chunking' } },
    chunking: {
      invoke: {
        src: 'chunkDocument',
        input: ({ context }) => ({ jobId: context.jobId }),
        onDone: {
          target: 'chunked',
          actions: assign({
            chunks: ({ event }) => event.output.chunks,
            warnings: ({ context, event }) => [...context.warnings, ...event.output.warnings],
          }),
        },
        onError: { target: '#upload.failed', actions: { type: 'recordError', params: ({ event }) => ({ stage: 'chunking', error: event.error }) } },
      },
    },
    chunked: {
      after: {
        0: [
          {
            guard: function noChunks({ context }) {
              return context.chunks === 0;
            },
            target: 'embedded',
          },
          { target: 'embedding' },
        ],
      },
    },
    embedding: {
      // One batch per invocation, each a durable effect with its own key; re-entered until none remain.
      invoke: {
        src: 'embedBatch',
        input: ({ context }) => ({ jobId: context.jobId }),
        onDone: [
          {
            guard: function moreToEmbed({ event }) {
              return event.output.remaining > 0;
            },
            target: 'embedding',
            reenter: true,
            actions: assign({ embedded: ({ event }) => event.output.embedded }),
          },
          { target: 'embedded', actions: assign({ embedded: ({ event }) => event.output.embedded }) },
        ],
        onError: { target: '#upload.failed', actions: { type: 'recordError', params: ({ event }) => ({ stage: 'embedding', error: event.error }) } },
      },
    },
    embedded: { after: { 0: 'complete' } },
    // Only jobs uploaded with a callback URL notify: no effect row for the rest.
    complete: { type: 'final', entry: enqueueActions(({ context, enqueue }) => void (context.callbackUrl && enqueue('notifyClient'))) },
    // Not final: a RETRY goes back to the stage that failed. Stages before it are not run again:
    // their results are in the context and the pipeline's tables. A failed parse (its submission,
    // a poll, or the timeout) is retried from its submission, since the remote parse job is spent.
    failed: {
      entry: enqueueActions(({ context, enqueue }) => void (context.callbackUrl && enqueue('notifyClient'))),
      on: {
        RETRY: [
          {
            guard: function failedValidating({ context }) {
              return context.error?.stage === 'queued';
            },
            target: 'queued',
            actions: 'clearError',
          },
          {
            guard: function failedParsing({ context }) {
              return context.error?.stage === 'job_validated' || context.error?.stage === 'parsing';
            },
            target: 'job_validated',
            actions: ['clearError', 'resetParse'],
          },
          {
            guard: function failedChunking({ context }) {
              return context.error?.stage === 'chunking';
            },
            target: 'chunking',
            actions: 'clearError',
          },
          {
            guard: function failedEmbedding({ context }) {
              return context.error?.stage === 'embedding';
            },
            target: 'embedding',
            actions: 'clearError',
          },
        ],
      },
    },
    canceled: { type: 'final', entry: enqueueActions(({ context, enqueue }) => void (context.callbackUrl && enqueue('notifyClient'))) },
  },
});

/** The stage an upload is in, from its state value (`parsing` has sub-states). */
export function stageOf(value: unknown): UploadStage {
  const top = typeof value === 'string' ? value : Object.keys(value as object)[0];
  return (UPLOAD_STAGES as readonly string[]).includes(top ?? '') ? (top as UploadStage) : 'failed';
}

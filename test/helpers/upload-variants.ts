/**
 * Changed versions of the upload machine, as a deploy would bring them, for replay tests. Each is
 * the real machine's config with one edit, and the real machine's implementations (services,
 * actions, delays), so it runs in the real pipeline.
 */
import { createMachine, type AnyStateMachine } from 'xstate';
import { uploadMachine, type UploadContext } from '../../machines/upload.js';

// State configs are edited as plain objects: XState's config types do not survive a spread.
type States = Record<string, any>;

function variant(edit: (states: States) => States): AnyStateMachine {
  const config = uploadMachine.config;
  return createMachine({ ...config, states: edit({ ...config.states }) } as never, uploadMachine.implementations as never) as unknown as AnyStateMachine;
}

/** `job_validated` renamed `validated`: its invoke id and every event type naming it change with it. */
export const renamedValidated = variant(({ job_validated, ...states }) => ({
  ...states,
  queued: { ...states.queued, invoke: { ...states.queued.invoke, onDone: { ...states.queued.invoke.onDone, target: 'validated' } } },
  validated: job_validated,
  // A RETRY of a failed parse goes back to the renamed state too.
  failed: {
    ...states.failed,
    on: { RETRY: states.failed.on.RETRY.map((t: { target: string }) => (t.target === 'job_validated' ? { ...t, target: 'validated' } : t)) },
  },
}));

/** The `chunked` checkpoint's guard changed: one chunk or none skips embedding (was: none). */
export const chunkedGuardChanged = variant((states) => ({
  ...states,
  chunked: { after: { 0: [{ guard: ({ context }: { context: UploadContext }) => context.chunks <= 1, target: 'embedded' }, { target: 'embedding' }] } },
}));

/** The `embedded` checkpoint removed: embedding ends in `complete` directly. */
export const withoutEmbeddedCheckpoint = variant(({ embedded: _removed, ...states }) => ({
  ...states,
  chunked: { after: { 0: [{ guard: ({ context }: { context: UploadContext }) => context.chunks === 0, target: 'complete' }, { target: 'embedding' }] } },
  embedding: {
    ...states.embedding,
    invoke: { ...states.embedding.invoke, onDone: [states.embedding.invoke.onDone[0], { ...states.embedding.invoke.onDone[1], target: 'complete' }] },
  },
}));

/** Only a delay's value changed (polls every 10 s): event ids carry the delay's name, so nothing diverges. */
export const slowerPolls: AnyStateMachine = uploadMachine.provide({ delays: { pollDelay: 10_000 } });

import type { HistoryEntry, Runtime } from '../index.js';
import { isSettled, stageOf, type UploadStage } from '../machines/upload.js';

/** One stage change of a job: the journal entry that moved it into `stage`. */
export interface StageEvent {
  job_id: string;
  /** The journal sequence number of the step (0 for the upload itself): the SSE event id. */
  seq: number;
  stage: UploadStage;
  /** ISO time of the step. */
  at: string;
  /** The event that caused it (`xstate.init`, `xstate.done.actor.…`, `RETRY`, …). */
  event: string;
}

/** What a follow yields: a stage change, or `idle` when nothing changed for `idleMs`. */
export type FollowItem = { kind: 'stage'; change: StageEvent } | { kind: 'idle' };

/** How a follow ended: the job settled (complete, failed, canceled, stopped), was deleted, or the caller stopped. */
export type FollowEnd = 'settled' | 'gone' | 'aborted';

/**
 * The journal entries that changed the job's stage, in order: a poll that finds the parse still
 * pending, or a second embedding batch, moves the machine but not the stage.
 */
export function stageChanges(jobId: string, history: HistoryEntry[]): StageEvent[] {
  const changes: StageEvent[] = [];
  let last: UploadStage | null = null;
  for (const entry of history) {
    const stage = stageOf(entry.to);
    if (stage === last) continue;
    last = stage;
    changes.push({ job_id: jobId, seq: entry.seq, stage, at: entry.at.toISOString(), event: entry.event.type });
  }
  return changes;
}

export interface FollowOptions {
  /** Yield only changes with a greater seq (the SSE `Last-Event-ID`). Default: all, from the upload. */
  after?: number;
  /** Stops the follow; its subscription is dropped. */
  signal?: AbortSignal;
  /** Yield `idle` (and look again) after this long without a change, milliseconds. Default 15000. */
  idleMs?: number;
}

/**
 * Every stage change of a job: those already in its journal after `options.after`, then each new
 * one as it commits, from whichever process steps it (the engine's step notifications go through
 * Postgres LISTEN/NOTIFY). Ends once the job has settled (`complete`, `failed` (until a retry),
 * `canceled`) and its changes are all yielded, when the job is deleted, or when `signal` aborts.
 */
export async function* followJob(runtime: Runtime, jobId: string, options: FollowOptions = {}): AsyncGenerator<FollowItem, FollowEnd> {
  const idleMs = options.idleMs ?? 15_000;
  let sent = options.after ?? -1;
  let wake: (() => void) | null = null;
  let dirty = true;
  const poke = () => {
    dirty = true;
    wake?.();
  };
  // Subscribed before the first read, so a step between the read and the subscription is not missed.
  const unsubscribe = runtime.subscribe(jobId, poke);
  options.signal?.addEventListener('abort', poke);
  try {
    for (;;) {
      if (options.signal?.aborted) return 'aborted';
      if (dirty) {
        dirty = false;
        const state = await runtime.get(jobId);
        if (!state) return 'gone';
        // The journal is read after the state, so it holds every step up to it and maybe later ones:
        // whether the job has settled is judged by the journal's last stage.
        const all = stageChanges(jobId, await runtime.history(jobId));
        for (const change of all.filter((c) => c.seq > sent)) {
          sent = change.seq;
          yield { kind: 'stage', change };
        }
        const last = all.at(-1);
        if (isSettled({ value: last?.stage ?? state.value, status: state.status })) return 'settled';
        if (dirty) continue;
      }
      const woken = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), idleMs);
        wake = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
      wake = null;
      if (!woken) {
        // Nothing for a while: say so, and look again (a deletion sends no notification).
        dirty = true;
        yield { kind: 'idle' };
      }
    }
  } finally {
    unsubscribe();
    options.signal?.removeEventListener('abort', poke);
  }
}

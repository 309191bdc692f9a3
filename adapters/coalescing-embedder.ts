import type { EmbedInput, Embedder } from './contracts.js';
import { AdapterError } from './errors.js';

export interface CoalescingOptions {
  /**
   * How long the first call of a batch waits for others to join, milliseconds. 0 passes every call
   * straight through. A batch that fills up goes at once.
   */
  windowMs: number;
  /** Most inputs one merged request carries (OpenAI: 2048). */
  maxInputs: number;
  /** Most cl100k tokens one merged request carries (OpenAI: 300,000, or less under a token budget). */
  maxTokens: number;
  /**
   * An input longer than this, cl100k tokens, fails on its own (OpenAI: 8191): a call holding one
   * is sent alone, so its permanent error is not every caller's.
   */
  maxInputTokens?: number;
}

/** One caller's share of a batch: its inputs, where they start in the merged request, its promise. */
interface Caller {
  inputs: EmbedInput[];
  tokens: number;
  offset: number;
  signal: AbortSignal | undefined;
  resolve(vectors: number[][]): void;
  reject(error: unknown): void;
  /** Settled (answered, failed or aborted): later outcomes are ignored. */
  done: boolean;
  detach(): void;
}

interface Batch {
  callers: Caller[];
  inputs: number;
  tokens: number;
  timer?: ReturnType<typeof setTimeout>;
  /** Aborts the merged request once every caller in it has gone. */
  controller: AbortController;
  sent: boolean;
}

const sum = (inputs: EmbedInput[]) => inputs.reduce((total, input) => total + input.tokens, 0);

const aborted = (signal: AbortSignal) =>
  signal.reason instanceof Error ? signal.reason : new AdapterError('ABORTED', 'the embedding call was aborted', { cause: signal.reason });

/**
 * Merges concurrent `embed` calls (from different jobs' effects in one process) into one request to
 * the inner embedder, up to the request limits: a vendor that bills or rate-limits by request sees
 * one request for many small batches. A 10-page document is ~15 chunks, so without merging each job
 * spends one request on 15 chunks where the vendor would take 2048.
 *
 * Each caller gets its own vectors, in order. A failed merged request fails every caller in it with
 * the same error (a transient one stays transient: each effect retries on its own schedule); a
 * permanent one is tried again per caller, so one caller's bad input does not fail its neighbours.
 * A caller's abort takes it out of a batch not yet sent; a sent request is aborted only when every
 * caller in it has gone.
 *
 * Place it above any budget wrapper: one merged request then takes one budget grant of its size.
 */
export class CoalescingEmbedder implements Embedder {
  #open: Batch | undefined;

  constructor(
    private readonly inner: Embedder,
    private readonly options: CoalescingOptions,
  ) {}

  embed(inputs: EmbedInput[], { signal }: { signal?: AbortSignal } = {}): Promise<number[][]> {
    if (signal?.aborted) return Promise.reject(aborted(signal));
    if (inputs.length === 0) return Promise.resolve([]);
    const tokens = sum(inputs);
    const { windowMs, maxInputs, maxTokens, maxInputTokens = Infinity } = this.options;
    // Too big to share a request (or sure to fail on its own): it goes alone, as it came.
    if (windowMs <= 0 || inputs.length >= maxInputs || tokens >= maxTokens || inputs.some((input) => input.tokens > maxInputTokens)) {
      return this.inner.embed(inputs, { signal });
    }
    return new Promise<number[][]>((resolve, reject) => {
      const open = this.#open;
      if (open && (open.inputs + inputs.length > maxInputs || open.tokens + tokens > maxTokens)) this.#send(open);
      const batch = this.#open ?? this.#start();
      const caller: Caller = { inputs, tokens, offset: batch.inputs, signal, resolve, reject, done: false, detach: () => {} };
      batch.callers.push(caller);
      batch.inputs += inputs.length;
      batch.tokens += tokens;
      if (signal) {
        const onAbort = () => this.#leave(batch, caller, aborted(signal));
        signal.addEventListener('abort', onAbort, { once: true });
        caller.detach = () => signal.removeEventListener('abort', onAbort);
      }
      if (batch.inputs >= maxInputs || batch.tokens >= maxTokens) this.#send(batch);
    });
  }

  #start(): Batch {
    const batch: Batch = { callers: [], inputs: 0, tokens: 0, controller: new AbortController(), sent: false };
    batch.timer = setTimeout(() => this.#send(batch), this.options.windowMs);
    this.#open = batch;
    return batch;
  }

  /** A caller's abort: out of its batch if not yet sent, else the request goes on for the others. */
  #leave(batch: Batch, caller: Caller, error: unknown): void {
    if (caller.done) return;
    settle(caller, () => caller.reject(error));
    if (!batch.sent) {
      batch.callers.splice(batch.callers.indexOf(caller), 1);
      batch.inputs -= caller.inputs.length;
      batch.tokens -= caller.tokens;
      let offset = 0;
      for (const other of batch.callers) [other.offset, offset] = [offset, offset + other.inputs.length];
      if (batch.callers.length === 0) {
        clearTimeout(batch.timer);
        if (this.#open === batch) this.#open = undefined;
      }
    } else if (batch.callers.every((other) => other.done)) {
      batch.controller.abort(error);
    }
  }

  #send(batch: Batch): void {
    if (batch.sent) return;
    batch.sent = true;
    clearTimeout(batch.timer);
    if (this.#open === batch) this.#open = undefined;
    if (batch.callers.length === 0) return;
    const inputs = batch.callers.flatMap((caller) => caller.inputs);
    this.inner.embed(inputs, { signal: batch.controller.signal }).then(
      (vectors) => {
        if (vectors.length !== inputs.length) {
          const error = new AdapterError('EMBEDDING_COUNT', `asked for ${inputs.length} vectors, got ${vectors.length}`);
          for (const caller of batch.callers) settle(caller, () => caller.reject(error));
          return;
        }
        for (const caller of batch.callers) settle(caller, () => caller.resolve(vectors.slice(caller.offset, caller.offset + caller.inputs.length)));
      },
      (error: unknown) => {
        const live = batch.callers.filter((caller) => !caller.done);
        // A permanent failure of a shared request may be one caller's input (a 400): each tries alone.
        if (live.length > 1 && error instanceof AdapterError && !error.transient) {
          for (const caller of live) {
            this.inner.embed(caller.inputs, { signal: caller.signal }).then(
              (vectors) => settle(caller, () => caller.resolve(vectors)),
              (own: unknown) => settle(caller, () => caller.reject(own)),
            );
          }
          return;
        }
        for (const caller of live) settle(caller, () => caller.reject(error));
      },
    );
  }
}

function settle(caller: Caller, outcome: () => void): void {
  if (caller.done) return;
  caller.done = true;
  caller.detach();
  outcome();
}

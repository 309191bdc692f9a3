import test from 'ava';
import fc from 'fast-check';
import { CoalescingEmbedder, type CoalescingOptions } from '../../adapters/coalescing-embedder.js';
import type { EmbedInput, Embedder } from '../../adapters/contracts.js';
import { AdapterError } from '../../adapters/errors.js';

/** A vector that names its text, so a caller given another's vector is caught. */
const vectorOf = (text: string) => [text.length, ...Array.from(text, (c) => c.charCodeAt(0))];

/** An embedder that records each request and answers it when told to (or at once). */
class FakeEmbedder implements Embedder {
  readonly requests: { texts: string[]; signal?: AbortSignal }[] = [];
  /** Set: each request waits for it, then fails with what it returns (or succeeds on undefined). */
  fail?: (texts: string[]) => unknown;
  #gate: Promise<void> = Promise.resolve();
  #open: () => void = () => {};

  hold(): void {
    this.#gate = new Promise((resolve) => (this.#open = resolve));
  }

  release(): void {
    this.#open();
  }

  async embed(inputs: EmbedInput[], { signal }: { signal?: AbortSignal } = {}): Promise<number[][]> {
    const texts = inputs.map((input) => input.text);
    this.requests.push({ texts, signal });
    await this.#gate;
    if (signal?.aborted) throw signal.reason;
    const error = this.fail?.(texts);
    if (error) throw error;
    return texts.map(vectorOf);
  }
}

const inputs = (prefix: string, count: number, tokens = 10): EmbedInput[] => Array.from({ length: count }, (_, i) => ({ text: `${prefix}-${i}`, tokens }));
const options = (overrides: Partial<CoalescingOptions> = {}): CoalescingOptions => ({ windowMs: 5, maxInputs: 2048, maxTokens: 300_000, maxInputTokens: 8191, ...overrides });
const expected = (batch: EmbedInput[]) => batch.map((input) => vectorOf(input.text));

test('concurrent calls are merged into one request, and each caller gets its own vectors in order', async (t) => {
  const inner = new FakeEmbedder();
  const embedder = new CoalescingEmbedder(inner, options());
  const calls = [inputs('a', 15), inputs('b', 3), inputs('c', 40)];
  const results = await Promise.all(calls.map((batch) => embedder.embed(batch, {})));
  t.is(inner.requests.length, 1);
  t.deepEqual(inner.requests[0]!.texts, calls.flat().map((input) => input.text));
  results.forEach((vectors, i) => t.deepEqual(vectors, expected(calls[i]!)));
});

test('window 0 passes every call straight through, with its own signal', async (t) => {
  const inner = new FakeEmbedder();
  const embedder = new CoalescingEmbedder(inner, options({ windowMs: 0 }));
  const signal = new AbortController().signal;
  const calls = [inputs('a', 2), inputs('b', 2)];
  const results = await Promise.all(calls.map((batch) => embedder.embed(batch, { signal })));
  t.deepEqual(inner.requests.map((r) => r.texts.length), [2, 2]);
  t.true(inner.requests.every((r) => r.signal === signal));
  results.forEach((vectors, i) => t.deepEqual(vectors, expected(calls[i]!)));
});

test('the input and token limits split the callers into several requests, never a caller across two', async (t) => {
  const inner = new FakeEmbedder();
  const embedder = new CoalescingEmbedder(inner, options({ maxInputs: 10, maxTokens: 70 }));
  // 10 tokens each: c would take the first request to 100 tokens, so it closes at a + b; c + d reach 70 and go at once.
  const calls = [inputs('a', 4), inputs('b', 2), inputs('c', 4), inputs('d', 3)];
  const results = await Promise.all(calls.map((batch) => embedder.embed(batch, {})));
  t.deepEqual(inner.requests.map((r) => r.texts.length), [6, 7]);
  t.true(inner.requests.every((r) => r.texts.length <= 10 && r.texts.length * 10 <= 70));
  results.forEach((vectors, i) => t.deepEqual(vectors, expected(calls[i]!)));
});

test('a call at the limits alone, or holding an input too long for any request, is sent by itself', async (t) => {
  const inner = new FakeEmbedder();
  const embedder = new CoalescingEmbedder(inner, options({ maxInputs: 4 }));
  const long = [{ text: 'long', tokens: 9000 }];
  await Promise.all([embedder.embed(inputs('a', 1), {}), embedder.embed(inputs('big', 4), {}), embedder.embed(long, {}), embedder.embed(inputs('b', 1), {})]);
  t.deepEqual(inner.requests.map((r) => r.texts), [['big-0', 'big-1', 'big-2', 'big-3'], ['long'], ['a-0', 'b-0']]);
});

test('a transient failure of the merged request reaches every caller in it, still transient', async (t) => {
  const inner = new FakeEmbedder();
  inner.fail = () => new AdapterError('OPENAI_RATE_LIMIT_EXCEEDED', '429', { transient: true, retryAfterMs: 500 });
  const embedder = new CoalescingEmbedder(inner, options());
  const outcomes = await Promise.allSettled([embedder.embed(inputs('a', 2), {}), embedder.embed(inputs('b', 2), {}), embedder.embed(inputs('c', 1), {})]);
  t.is(inner.requests.length, 1);
  for (const outcome of outcomes) {
    t.is(outcome.status, 'rejected');
    t.like((outcome as PromiseRejectedResult).reason, { code: 'OPENAI_RATE_LIMIT_EXCEEDED', transient: true, retryAfterMs: 500 });
  }
});

test("a permanent failure is tried again per caller, so only the caller whose input it was fails", async (t) => {
  const inner = new FakeEmbedder();
  inner.fail = (texts) => (texts.includes('bad-0') ? new AdapterError('OPENAI_HTTP_400', 'invalid input') : undefined);
  const embedder = new CoalescingEmbedder(inner, options());
  const [a, bad, b] = await Promise.allSettled([embedder.embed(inputs('a', 2), {}), embedder.embed(inputs('bad', 1), {}), embedder.embed(inputs('b', 1), {})]);
  t.deepEqual(a, { status: 'fulfilled', value: expected(inputs('a', 2)) });
  t.like(bad, { status: 'rejected', reason: { code: 'OPENAI_HTTP_400', transient: false } });
  t.deepEqual(b, { status: 'fulfilled', value: expected(inputs('b', 1)) });
  t.is(inner.requests.length, 4, 'the merged request, then one per caller');
});

test('an abort before the request goes takes the caller out of it; the others are sent without it', async (t) => {
  const inner = new FakeEmbedder();
  const embedder = new CoalescingEmbedder(inner, options());
  const controller = new AbortController();
  const a = embedder.embed(inputs('a', 2), {});
  const gone = embedder.embed(inputs('gone', 3), { signal: controller.signal });
  const b = embedder.embed(inputs('b', 1), {});
  controller.abort(new Error('effect canceled'));
  await t.throwsAsync(gone, { message: 'effect canceled' });
  t.deepEqual(await a, expected(inputs('a', 2)));
  t.deepEqual(await b, expected(inputs('b', 1)));
  t.deepEqual(inner.requests.map((r) => r.texts), [['a-0', 'a-1', 'b-0']]);
});

test("an abort after the request went rejects that caller at once and leaves the others' request running", async (t) => {
  const inner = new FakeEmbedder();
  inner.hold();
  const embedder = new CoalescingEmbedder(inner, options({ windowMs: 1 }));
  const controller = new AbortController();
  const a = embedder.embed(inputs('a', 2), {});
  const gone = embedder.embed(inputs('gone', 1), { signal: controller.signal });
  while (inner.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
  controller.abort(new Error('effect canceled'));
  await t.throwsAsync(gone, { message: 'effect canceled' });
  t.false(inner.requests[0]!.signal!.aborted, 'the merged request is not aborted');
  inner.release();
  t.deepEqual(await a, expected(inputs('a', 2)));
});

test('when every caller of a sent request has aborted, the request is aborted too', async (t) => {
  const inner = new FakeEmbedder();
  inner.hold();
  const embedder = new CoalescingEmbedder(inner, options({ windowMs: 1 }));
  const controllers = [new AbortController(), new AbortController()];
  const calls = controllers.map((c, i) => embedder.embed(inputs(`c${i}`, 1), { signal: c.signal }));
  while (inner.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
  for (const c of controllers) c.abort(new Error('stop'));
  for (const call of calls) await t.throwsAsync(call, { message: 'stop' });
  t.true(inner.requests[0]!.signal!.aborted);
  inner.release();
});

test('an already-aborted signal and an empty call never reach the inner embedder', async (t) => {
  const inner = new FakeEmbedder();
  const embedder = new CoalescingEmbedder(inner, options());
  await t.throwsAsync(embedder.embed(inputs('a', 1), { signal: AbortSignal.abort(new Error('before')) }), { message: 'before' });
  t.deepEqual(await embedder.embed([], {}), []);
  t.is(inner.requests.length, 0);
});

test('property: any concurrent calls get exactly their own vectors, in requests within the limits, no caller split', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 0, maxLength: 12 }), { minLength: 1, maxLength: 12 }),
      fc.integer({ min: 1, max: 16 }),
      fc.integer({ min: 50, max: 300 }),
      async (calls, maxInputs, maxTokens) => {
        const inner = new FakeEmbedder();
        const embedder = new CoalescingEmbedder(inner, options({ windowMs: 1, maxInputs, maxTokens }));
        const batches = calls.map((tokens, c) => tokens.map((n, i) => ({ text: `c${c}-${i}`, tokens: n })));
        const results = await Promise.all(batches.map((batch) => embedder.embed(batch, {})));
        results.forEach((vectors, i) => t.deepEqual(vectors, expected(batches[i]!)));
        const tokensOf = new Map(batches.flat().map((input) => [input.text, input.tokens]));
        const callerOf = (text: string) => text.slice(0, text.indexOf('-'));
        for (const { texts } of inner.requests) {
          const callers = new Set(texts.map(callerOf));
          // A request of several callers keeps within the limits; one caller at or over them goes alone.
          if (callers.size > 1) {
            t.true(texts.length <= maxInputs);
            t.true(texts.reduce((sum, text) => sum + tokensOf.get(text)!, 0) <= maxTokens);
          }
        }
        const sent = inner.requests.flatMap((r) => r.texts);
        t.deepEqual([...sent].sort(), batches.flat().map((input) => input.text).sort(), 'each input sent once');
        for (const batch of batches.filter((b) => b.length > 0)) {
          t.is(new Set(inner.requests.filter((r) => r.texts.includes(batch[0]!.text))).size, 1, 'a caller in one request');
        }
      },
    ),
    { numRuns: 100 },
  );
});

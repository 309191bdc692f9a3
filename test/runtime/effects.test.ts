import test from 'ava';
import { assign, emit, setup } from 'xstate';
import { ManualClock } from '../../runtime/clock.js';
import { durable } from '../../runtime/durable.js';
import { PermanentError, TransientError } from '../../runtime/errors.js';
import type { EffectContext } from '../../runtime/types.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { invoker } from '../helpers/machines.js';
import { eventually, harness, type Harness } from '../helpers/runtime.js';

failOnLeakedRuntimes();

interface EffectRow {
  status: string;
  attempts: number;
  due_at: Date | null;
  idempotency_key: string;
  attempt_log: { attempt: number; code: string; transient: boolean; retryAfterMs?: number }[];
  output: unknown;
}

async function effectRow(h: Harness): Promise<EffectRow> {
  const rows = await h.db.query<EffectRow>(`SELECT status, attempts, due_at, idempotency_key, attempt_log, output FROM "${h.db.schema}".effects WHERE kind = 'invoke'`);
  if (rows.length !== 1) throw new Error(`expected one effect, found ${rows.length}`);
  return rows[0]!;
}

test('success delivers xstate.done.actor with the output; the service gets a stable key', async (t) => {
  const h = await harness(t);
  const calls: EffectContext[] = [];
  const rt = await h.runtime({
    machines: { invoker },
    services: { work: async (context) => (calls.push(context), { doubled: (context.input as number) * 2 }) },
  });
  const id = await rt.start('invoker', { input: 21 });
  const state = await rt.waitFor(id, (s) => s.status === 'done');
  t.like(state, { value: 'ok', context: { output: { doubled: 42 } } });
  t.is(calls.length, 1);
  t.like(calls[0], { input: 21, attempt: 1, instanceId: id, childId: 'job' });
  t.is(calls[0]!.idempotencyKey, `${id}/job/0`);
  t.like(await effectRow(h), { status: 'done', attempts: 1, output: { doubled: 42 } });
});

test('transient errors retry with exponential backoff and jitter, under one key', async (t) => {
  const h = await harness(t);
  const clock = new ManualClock();
  const keys: string[] = [];
  const rt = await h.runtime({
    machines: { invoker },
    clock,
    retry: { baseDelayMs: 1_000, factor: 2, maxAttempts: 5 },
    services: {
      work: async ({ attempt, idempotencyKey }) => {
        keys.push(idempotencyKey);
        if (attempt < 3) throw new TransientError(`flaky ${attempt}`, { code: 'UPSTREAM_503' });
        return 'third time';
      },
    },
  });
  const id = await rt.start('invoker');
  for (const [attempt, base] of [[1, 1_000], [2, 2_000]] as const) {
    await eventually(async () => (await effectRow(h)).attempt_log.length === attempt, 5_000, `attempt ${attempt} logged`);
    const row = await effectRow(h);
    t.is(row.status, 'pending');
    const wait = new Date(row.due_at!).getTime() - clock.now();
    t.true(wait >= base / 2 && wait <= base, `attempt ${attempt}: waits ${wait} ms, within [${base / 2}, ${base}]`);
    clock.advance(wait);
  }
  const state = await rt.waitFor(id, (s) => s.status === 'done');
  t.like(state, { value: 'ok', context: { output: 'third time' } });
  const row = await effectRow(h);
  t.is(row.attempts, 3);
  t.deepEqual(row.attempt_log.map(({ attempt, code, transient }) => ({ attempt, code, transient })), [
    { attempt: 1, code: 'UPSTREAM_503', transient: true },
    { attempt: 2, code: 'UPSTREAM_503', transient: true },
  ]);
  t.is(new Set(keys).size, 1, 'every attempt carries the same idempotency key');
  t.is(rt.metrics().effectRetries, 2);
});

test('a Retry-After longer than the backoff is honoured', async (t) => {
  const h = await harness(t);
  const clock = new ManualClock();
  const rt = await h.runtime({
    machines: { invoker },
    clock,
    services: {
      work: async ({ attempt }) => {
        if (attempt === 1) throw new TransientError('rate limited', { code: 'RATE_LIMITED', retryAfterMs: 30_000 });
        return 'ok';
      },
    },
  });
  const id = await rt.start('invoker');
  await eventually(async () => (await effectRow(h)).attempt_log.length === 1);
  const row = await effectRow(h);
  t.is(new Date(row.due_at!).getTime() - clock.now(), 30_000);
  t.is(row.attempt_log[0]!.retryAfterMs, 30_000);
  clock.advance(29_999);
  await rt.send(id, { type: 'NOOP' });
  await rt.waitFor(id, (s) => s.version === 1);
  t.is((await effectRow(h)).attempts, 1, 'not retried before Retry-After');
  clock.advance(1);
  t.is((await rt.waitFor(id, (s) => s.status === 'done')).value, 'ok');
});

test('a permanent error delivers xstate.error.actor at once', async (t) => {
  const h = await harness(t);
  const rt = await h.runtime({
    machines: { invoker },
    services: { work: async () => { throw new PermanentError('file is encrypted', { code: 'PDF_ENCRYPTED' }); } },
  });
  const id = await rt.start('invoker');
  const state = await rt.waitFor(id, (s) => s.status === 'done');
  t.is(state.value, 'failed');
  t.like(state.context, { error: { code: 'PDF_ENCRYPTED', message: 'file is encrypted', attempts: 1 } });
  t.like(await effectRow(h), { status: 'failed', attempts: 1 });
});

test('an unmarked error is permanent; exhausting retries is an error too', async (t) => {
  const h = await harness(t);
  const clock = new ManualClock();
  const rt = await h.runtime({
    machines: { invoker, other: invoker },
    clock,
    retry: { maxAttempts: 2, baseDelayMs: 10 },
    services: {
      work: async ({ input }) => {
        if (input === 'plain') throw new TypeError('bug');
        throw new TransientError('always down');
      },
    },
  });
  const plain = await rt.start('invoker', { input: 'plain' });
  t.like((await rt.waitFor(plain, (s) => s.status === 'done')).context, { error: { name: 'TypeError', message: 'bug', attempts: 1 } });
  const flaky = await rt.start('other', { input: 'flaky' });
  await eventually(async () => (await h.db.query(`SELECT 1 FROM "${h.db.schema}".effects WHERE status = 'pending' AND attempts = 1`)).length === 1);
  clock.advance(10);
  const state = await rt.waitFor(flaky, (s) => s.status === 'done');
  t.like(state.context, { error: { code: 'TRANSIENT', message: 'always down', attempts: 2 } });
});

test('leaving the state cancels the effect; a result that arrives later is dropped', async (t) => {
  const h = await harness(t);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let started = false;
  const rt = await h.runtime({
    machines: { invoker },
    services: { work: async () => { started = true; await gate; return 'too late'; } },
  });
  const id = await rt.start('invoker');
  await eventually(() => started);
  await rt.send(id, { type: 'LEAVE' });
  await rt.waitFor(id, (s) => s.value === 'left');
  t.is((await effectRow(h)).status, 'canceled');
  release();
  await eventually(() => rt.metrics().effectsCanceledInFlight === 1);
  const state = await rt.get(id);
  t.like(state, { value: 'left', context: { output: undefined } });
  t.is((await effectRow(h)).status, 'canceled');
});

test('an effect waiting for its retry is cancelled by leaving the state and never runs again', async (t) => {
  const h = await harness(t);
  const clock = new ManualClock();
  let runs = 0;
  const rt = await h.runtime({
    machines: { invoker },
    clock,
    services: { work: async () => { runs += 1; throw new TransientError('down'); } },
  });
  const id = await rt.start('invoker');
  await eventually(async () => (await effectRow(h)).attempt_log.length === 1);
  await rt.send(id, { type: 'LEAVE' });
  await rt.waitFor(id, (s) => s.value === 'left');
  t.like(await effectRow(h), { status: 'canceled', due_at: null });
  clock.advance(24 * 3_600_000);
  await rt.send(id, { type: 'NOOP' }).catch(() => {});
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.is(runs, 1);
});

test('an attempt that outlives its timeout is aborted and retried', async (t) => {
  const h = await harness(t);
  const clock = new ManualClock();
  const signals: AbortSignal[] = [];
  const rt = await h.runtime({
    machines: { invoker },
    clock,
    services: {
      work: {
        timeoutMs: 50,
        handler: async ({ attempt, signal }) => {
          signals.push(signal);
          if (attempt === 1) await new Promise(() => {}); // hangs, ignoring its signal
          return 'second';
        },
      },
    },
  });
  const id = await rt.start('invoker');
  await eventually(async () => (await effectRow(h)).attempt_log.length === 1);
  t.is((await effectRow(h)).attempt_log[0]!.code, 'EFFECT_TIMEOUT');
  t.true(signals[0]!.aborted);
  clock.advance(1_000);
  t.is((await rt.waitFor(id, (s) => s.status === 'done')).value, 'ok');
});

const selfContained = setup({
  types: { context: {} as { result?: string } },
  actors: {
    greet: durable<string, { name: string }>(async ({ input, idempotencyKey, attempt }) => `hello ${input.name} (${attempt}, ${idempotencyKey.length > 0})`),
  },
  actions: {
    announce: (_, params: { text: string }) => announced.push(params.text),
  },
}).createMachine({
  id: 'selfContained',
  context: {},
  initial: 'greeting',
  states: {
    greeting: {
      invoke: {
        src: 'greet',
        input: { name: 'world' },
        onDone: { target: 'done', actions: [assign({ result: ({ event }) => event.output }), { type: 'announce', params: { text: 'greeted' } }, emit({ type: 'greeted' })] },
      },
    },
    done: { type: 'final' },
  },
});
const announced: string[] = [];

test("a machine's own durable() actors, custom actions and emits run without a services map", async (t) => {
  const h = await harness(t);
  const emitted: { type: string; instanceId: string }[] = [];
  const rt = await h.runtime({ machines: { selfContained }, onEmit: (event, meta) => void emitted.push({ type: event.type, instanceId: meta.instanceId }) });
  const id = await rt.start('selfContained');
  const state = await rt.waitFor(id, (s) => s.status === 'done');
  t.is((state.context as { result: string }).result, 'hello world (1, true)');
  await eventually(async () => {
    const rows = await h.db.query(`SELECT 1 FROM "${h.db.schema}".effects WHERE kind <> 'invoke' AND status = 'done'`);
    return rows.length === 2;
  });
  t.deepEqual(announced, ['greeted']);
  t.deepEqual(emitted, [{ type: 'greeted', instanceId: id }]);
  const outbox = await h.db.query<{ kind: string; status: string }>(`SELECT kind, status FROM "${h.db.schema}".effects WHERE kind <> 'invoke' ORDER BY kind`);
  t.deepEqual(outbox, [{ kind: 'action', status: 'done' }, { kind: 'emit', status: 'done' }]);
});

test('close() hands a running effect back; another runtime runs it at once as the same attempt', async (t) => {
  const h = await harness(t);
  let started = false;
  const first = await h.runtime({
    machines: { invoker },
    shutdownGraceMs: 0,
    leaseMs: 60_000,
    services: { work: async ({ signal }) => { started = true; await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))); } },
  });
  const id = await first.start('invoker');
  await eventually(() => started);
  await first.close();
  t.like(await effectRow(h), { status: 'pending', attempts: 0 }, 'released, the aborted attempt not counted');
  const attempts: number[] = [];
  const second = await h.runtime({ machines: { invoker }, leaseMs: 60_000, services: { work: async ({ attempt }) => (attempts.push(attempt), 'done') } });
  t.is((await second.waitFor(id, (s) => s.status === 'done')).value, 'ok', 'well before the 60 s lease');
  t.deepEqual(attempts, [1]);
});

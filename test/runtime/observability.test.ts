import test from 'ava';
import { capturingLogger } from '../helpers/db.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { Metrics } from '../../runtime/metrics.js';
import { invoker, recorder } from '../helpers/machines.js';
import { eventually, harness } from '../helpers/runtime.js';

failOnLeakedRuntimes();

test('log lines carry worker id, instance id, machine and event types', async (t) => {
  const h = await harness(t);
  const { logger, lines } = capturingLogger();
  const rt = await h.runtime({ machines: { recorder, invoker }, logger, workerId: 'worker-a', services: { work: async () => 'ok' } });
  const id = await rt.start('recorder');
  await rt.send(id, { type: 'NOTE', value: 'x' });
  await rt.waitFor(id, (s) => s.version === 1);
  const invoked = await rt.start('invoker');
  await rt.waitFor(invoked, (s) => s.status === 'done');
  await eventually(() => lines.some((l) => l.msg === 'effect done'));
  const step = lines.find((l) => l.msg === 'step applied' && l.instance_id === id && l.version === 1);
  t.like(step, { worker_id: 'worker-a', instance_id: id, machine: 'recorder', events: ['NOTE'], to: 'open' });
  const effect = lines.find((l) => l.msg === 'effect done');
  t.like(effect, { worker_id: 'worker-a', instance_id: invoked, machine: 'invoker', service: 'work', child_id: 'job', attempt: 1 });
});

test('metrics count steps, effects and events', async (t) => {
  const h = await harness(t);
  const rt = await h.runtime({ machines: { invoker }, services: { work: async () => 'ok' } });
  const id = await rt.start('invoker');
  await rt.waitFor(id, (s) => s.status === 'done');
  await eventually(() => rt.metrics().effectsSucceeded === 1);
  t.like(rt.metrics(), { steps: 1, eventsApplied: 1, effectsStarted: 1, effectsSucceeded: 1, effectsFailed: 0 });
  // Per service, with the attempt's wall time in fixed buckets (cumulative, ending at the count).
  const { effects, stepTransactionMs } = rt.metrics();
  t.like(effects.work, { started: 1, succeeded: 1, failed: 0, retries: 0, canceled: 0 });
  t.like(effects.work!.attemptMs, { ok: { count: 1 }, error: { count: 0 } });
  t.is(stepTransactionMs.count, 1, 'one transaction applied the result');
  t.true(stepTransactionMs.sum > 0);
  t.deepEqual(stepTransactionMs.counts, [...stepTransactionMs.counts].sort((a, b) => a - b));
  t.true(stepTransactionMs.counts.at(-1)! <= stepTransactionMs.count);
});

test('a step whose hook keeps failing is retried with backoff, then parked in error with its events kept', async (t) => {
  const h = await harness(t);
  let calls = 0;
  const rt = await h.runtime({
    machines: {
      recorder: {
        machine: recorder,
        onStep: async () => {
          calls += 1;
          throw new Error('projection table missing');
        },
      },
    },
    maxStepFailures: 3,
  });
  const client = await h.runtime({ machines: { recorder }, worker: false });
  const id = await client.start('recorder');
  await client.send(id, { type: 'NOTE', value: 'x' });
  const state = await rt.waitFor(id, (s) => s.status === 'error', { timeoutMs: 10_000 });
  t.is(state.error!.code, 'STEP_FAILED');
  t.regex(state.error!.message, /3 times in a row: projection table missing/);
  // A failed batch is retried one instance at a time before anything is counted, so each step loop
  // may add one uncounted call; the counted failures are exact.
  t.true(calls >= 3, `hook called ${calls} times`);
  t.is(state.version, 0, 'the failed steps left no trace');
  // The step loop counts a failure once its transaction has committed, which may be just after the
  // NOTIFY that woke waitFor.
  await eventually(() => rt.metrics().stepFailures >= 3, 5_000, 'the third failure counted');
  t.is(rt.metrics().stepFailures, 3);
  const { count } = await h.db.one<{ count: number }>(`SELECT count(*)::int AS count FROM "${h.db.schema}".events`);
  t.is(count, 1);
});

// Timer lateness used to be summarised from the last 8,192 samples only: after a burst of 10,000 timers
// the late ones at its start were forgotten and the p99 read as if the burst had been on time.
test('timer lateness percentiles cover every timer since start, the earliest too', (t) => {
  const metrics = new Metrics();
  for (let i = 0; i < 300; i++) metrics.timerFired(5_000);
  for (let i = 0; i < 9_700; i++) metrics.timerFired(2);
  const lateness = metrics.snapshot().timerLatenessMs;
  t.like(lateness, { count: 10_000, max: 5_000 });
  t.true(lateness.p99 > 5_000 / 1.045 && lateness.p99 <= 5_000, `p99 ${lateness.p99} is the late start of the burst`);
  t.true(lateness.p50 >= 2 && lateness.p50 < 2 * 1.045, `p50 ${lateness.p50}`);
});

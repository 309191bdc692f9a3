import test from 'ava';
import { backend, postgresUrl } from '../helpers/db.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { invoker, recorder } from '../helpers/machines.js';
import { forkWorker } from '../helpers/processes.js';
import { eventually, harness } from '../helpers/runtime.js';

failOnLeakedRuntimes();

// Several processes on one database need a server: PGlite lives inside one process.
const multiProcess = backend === 'postgres' ? test : test.skip;

multiProcess('SIGKILL mid-effect: another process takes the effect over after the lease, and it completes once', async (t) => {
  const h = await harness(t);
  const victim = forkWorker(t, { scenario: 'hang-effect', database: postgresUrl, schema: h.db.schema, leaseMs: 1_000 });
  await victim.next('ready');
  const client = await h.runtime({ machines: { invoker, recorder }, worker: false });
  const id = await client.start('invoker', { input: 'payload' });
  await victim.next('in-effect');
  await victim.kill('SIGKILL');

  const calls: { attempt: number; key: string }[] = [];
  const survivor = await h.runtime({
    machines: { invoker, recorder },
    leaseMs: 1_000,
    services: { work: async ({ attempt, idempotencyKey }) => (calls.push({ attempt, key: idempotencyKey }), 'recovered') },
  });
  const state = await survivor.waitFor(id, (s) => s.status === 'done', { timeoutMs: 15_000 });
  t.like(state, { value: 'ok', context: { output: 'recovered' } });
  t.deepEqual(calls, [{ attempt: 2, key: `${id}/job/0` }], 'the same key; the lost attempt counted');
  const history = await survivor.history(id);
  t.is(history.filter((e) => e.event.type === 'xstate.done.actor.job').length, 1, 'applied once');
});

multiProcess('a live worker keeps its long effect through the sweeps of others; SIGKILLed, its effect moves without waiting out the lease', async (t) => {
  const h = await harness(t);
  // A lease of five minutes: only the end of the victim's connection can explain a takeover within the test.
  const victim = forkWorker(t, { scenario: 'hang-effect', database: postgresUrl, schema: h.db.schema, leaseMs: 300_000 });
  await victim.next('ready');
  const client = await h.runtime({ machines: { invoker, recorder }, worker: false });
  const id = await client.start('invoker', { input: 'payload' });
  await victim.next('in-effect');

  const calls: number[] = [];
  const survivor = await h.runtime({
    machines: { invoker, recorder },
    services: { work: async ({ attempt }) => (calls.push(attempt), 'recovered') },
  });
  const workers = `"${h.db.schema}".workers`;
  const [held] = await h.db.query<{ lease_owner: string; attempts: number }>(`SELECT lease_owner, attempts FROM "${h.db.schema}".effects`);
  const aliveUntil = async () => {
    const [row] = await h.db.query<{ alive_until: Date }>(`SELECT alive_until FROM ${workers} WHERE id = $1`, [held!.lease_owner]);
    return row ? new Date(row.alive_until).getTime() : 0;
  };
  // The victim beats every 250 ms while it holds the effect, the survivor sweeps as often: wait for
  // six of the victim's beats, the survivor sweeping all along.
  await eventually(async () => (await aliveUntil()) > 0, 10_000, "the victim's first beat");
  const first = await aliveUntil();
  await eventually(async () => (await aliveUntil()) >= first + 1_500, 15_000, "six more beats of the victim");
  const [still] = await h.db.query<{ lease_owner: string; attempts: number }>(`SELECT lease_owner, attempts FROM "${h.db.schema}".effects`);
  t.deepEqual(still, held);
  t.like(held, { attempts: 1 }, 'the live worker still holds its attempt');
  t.not(held!.lease_owner, survivor.workerId);
  t.deepEqual(calls, [], 'the survivor never ran it');

  await victim.kill('SIGKILL');
  const state = await survivor.waitFor(id, (s) => s.status === 'done', { timeoutMs: 30_000 });
  t.like(state, { value: 'ok', context: { output: 'recovered' } });
  t.deepEqual(calls, [2], 'taken over once, the lost attempt counted');
  const [effect] = await h.db.query<{ attempt_log: { code: string }[] }>(`SELECT attempt_log FROM "${h.db.schema}".effects`);
  t.deepEqual(effect!.attempt_log.map((e) => e.code), ['LEASE_EXPIRED']);
  await eventually(async () => (await h.db.query(`SELECT 1 FROM ${workers} WHERE id = $1`, [held!.lease_owner])).length === 0, 10_000, "the dead worker's row to go");
});

multiProcess('SIGKILL mid-step: the transaction dies with the process, the event is applied once elsewhere', async (t) => {
  const h = await harness(t);
  const victim = forkWorker(t, { scenario: 'hang-step', database: postgresUrl, schema: h.db.schema });
  await victim.next('ready');
  const client = await h.runtime({ machines: { invoker, recorder }, worker: false });
  const id = await client.start('recorder');
  await client.send(id, { type: 'NOTE', value: 'hang' });
  await victim.next('in-step');
  await victim.kill('SIGKILL');

  const survivor = await h.runtime({ machines: { invoker, recorder } });
  const state = await survivor.waitFor<{ log: string[] }>(id, (s) => s.version === 1, { timeoutMs: 10_000 });
  t.deepEqual(state.context.log, ['hang']);
  await survivor.send(id, { type: 'NOTE', value: 'after' });
  const later = await survivor.waitFor<{ log: string[] }>(id, (s) => s.version === 2);
  t.deepEqual(later.context.log, ['hang', 'after'], 'nothing lost, nothing applied twice');
  t.deepEqual((await survivor.history(id)).map((e) => e.seq), [0, 1, 2]);
});

multiProcess('an event sent by another process wakes this one through NOTIFY, not the poll', async (t) => {
  const h = await harness(t);
  // A one-minute safety poll: only LISTEN/NOTIFY can explain a prompt step.
  const rt = await h.runtime({ machines: { invoker, recorder }, pollIntervalMs: 60_000 });
  const id = await rt.start('recorder');
  await eventually(() => rt.metrics().steps === 0); // idle, asleep on its poll
  await new Promise((resolve) => setTimeout(resolve, 100));
  const sender = forkWorker(t, { scenario: 'send', database: postgresUrl, schema: h.db.schema, instanceId: id });
  const sent = await sender.next('sent');
  const state = await rt.waitFor<{ log: string[] }>(id, (s) => s.version === 1, { timeoutMs: 10_000 });
  t.deepEqual(state.context.log, ['from-child']);
  const lagMs = state.updatedAt.getTime() - (sent.at as number);
  t.log(`event sent in another process applied ${lagMs} ms after its commit`);
  t.true(lagMs < 60_000, 'well before the safety poll');
});

multiProcess('a main thread kept busy by a synchronous service keeps its lease: no other process takes the effect over', async (t) => {
  const h = await harness(t);
  let go!: () => void;
  const ready = new Promise<void>((resolve) => (go = resolve));
  let calls = 0;
  const busy = await h.runtime({
    machines: { invoker, recorder },
    leaseMs: 600,
    services: {
      work: async () => {
        calls += 1;
        await ready;
        // Five leases of pure CPU on the main thread: no timer of this thread can fire meanwhile.
        const until = Date.now() + 3_000;
        while (Date.now() < until);
        return 'finished on the busy thread';
      },
    },
  });
  const id = await busy.start('invoker', { input: 'x' });
  await eventually(() => calls === 1);
  const rival = forkWorker(t, { scenario: 'hang-effect', database: postgresUrl, schema: h.db.schema, leaseMs: 600 });
  await rival.next('ready');
  go();
  const state = await busy.waitFor(id, (s) => s.status === 'done', { timeoutMs: 15_000 });
  t.like(state, { value: 'ok', context: { output: 'finished on the busy thread' } });
  await t.throwsAsync(rival.next('in-effect', 500), undefined, 'the other process never ran the effect');
  const [effect] = await h.db.query<{ attempts: number; attempt_log: unknown[] }>(`SELECT attempts, attempt_log FROM "${h.db.schema}".effects`);
  t.like(effect, { attempts: 1, attempt_log: [] });
});

multiProcess('an effect whose workers keep dying fails after its attempts with EFFECT_ABANDONED, each loss recorded', async (t) => {
  const h = await harness(t);
  const client = await h.runtime({ machines: { invoker, recorder }, worker: false });
  let id: string | undefined;
  for (let victim = 1; victim <= 2; victim++) {
    const worker = forkWorker(t, { scenario: 'hang-effect', database: postgresUrl, schema: h.db.schema, leaseMs: 500 });
    await worker.next('ready');
    id ??= await client.start('invoker', { input: 'poison' });
    await worker.next('in-effect');
    await worker.kill('SIGKILL');
  }
  let ran = false;
  const survivor = await h.runtime({
    machines: { invoker, recorder },
    leaseMs: 500,
    retry: { maxAttempts: 2 },
    services: { work: async () => ((ran = true), 'should not run') },
  });
  const state = await survivor.waitFor<{ error: { code: string; attempts: number } }>(id!, (s) => s.status === 'done', { timeoutMs: 15_000 });
  t.is(state.value, 'failed');
  t.like(state.context.error, { code: 'EFFECT_ABANDONED', attempts: 3 });
  t.false(ran, 'a third worker was not sacrificed');
  const [effect] = await h.db.query<{ status: string; attempt_log: { code: string }[] }>(`SELECT status, attempt_log FROM "${h.db.schema}".effects`);
  t.is(effect!.status, 'failed');
  t.deepEqual(effect!.attempt_log.map((e) => e.code), ['LEASE_EXPIRED', 'LEASE_EXPIRED', 'EFFECT_ABANDONED']);
});

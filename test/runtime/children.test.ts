import test from 'ava';
import { fork } from 'node:child_process';
import { backend, postgresUrl } from '../helpers/db.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { order } from '../helpers/family.js';
import { eventually, harness, type Harness } from '../helpers/runtime.js';
import type { Runtime } from '../../runtime/types.js';
import { testProgram } from '../helpers/repo.js';

failOnLeakedRuntimes();

async function childrenOf(h: Harness, parentId: string) {
  return h.db.query<{ id: string; machine: string; status: string; parent_child_id: string }>(
    `SELECT id, machine, status, parent_child_id FROM "${h.db.schema}".instances WHERE parent_id = $1 ORDER BY parent_child_id`,
    [parentId],
  );
}

async function started(h: Harness, rt: Runtime) {
  const id = await rt.start('order');
  await eventually(async () => (await childrenOf(h, id)).length === 2, 10_000, 'both children');
  return id;
}

test('each invoked machine is a durable child instance; its output comes back to the parent as a done event', async (t) => {
  const h = await harness(t);
  const rt = await h.runtime({ machines: { order }, services: { label: async () => 'LBL-1' } });
  const id = await started(h, rt);
  const children = await childrenOf(h, id);
  t.deepEqual(children.map(({ machine, parent_child_id }) => ({ machine, parent_child_id })), [
    { machine: 'order/payment', parent_child_id: 'payment' },
    { machine: 'order/shipping', parent_child_id: 'shipping' },
  ]);
  const [pay, ship] = children;
  t.like(await rt.get(pay!.id), { machine: 'order/payment', value: 'pending', parent: { id, childId: 'payment' } });
  // The child's own timer is a row in its own inbox, and its own effect ran.
  t.is((await h.db.query(`SELECT 1 FROM "${h.db.schema}".events WHERE instance_id = $1 AND timer_id LIKE 'xstate.after.60000.%'`, [pay!.id])).length, 1);
  await rt.waitFor(ship!.id, (s) => s.status === 'done');
  const shipped = await rt.waitFor(id, (s) => JSON.stringify(s.value).includes('"ship":"done"'));
  t.like(shipped, { value: { working: { pay: 'running', ship: 'done' } }, context: { started: 1 } }, 'the shipment is done; sendParent arrived');

  t.deepEqual(await rt.send(id, { type: 'APPROVE' }, { child: 'payment' }), { accepted: true }, 'sent to the child through its parent');
  const done = await rt.waitFor<{ paid: unknown; label: string }>(id, (s) => s.status === 'done');
  t.is(done.value, 'complete');
  t.deepEqual(done.context.paid, { amount: 42, approved: true });
  t.is(done.context.label, 'LBL-1');
  const parentEvents = (await rt.history(id)).map((e) => e.event.type);
  t.is(parentEvents.filter((type) => type === 'xstate.done.actor.payment').length, 1);
  t.is(parentEvents.filter((type) => type === 'xstate.done.actor.shipping').length, 1);
  t.deepEqual((await rt.history(pay!.id)).map((e) => e.event.type), ['xstate.init', 'APPROVE']);
  t.is((await h.db.query(`SELECT 1 FROM "${h.db.schema}".events WHERE instance_id = $1`, [pay!.id])).length, 0, 'its timer went with it');
  t.deepEqual(await rt.send(id, { type: 'APPROVE' }, { child: 'payment' }), { accepted: false, reason: 'child_not_active' });
});

test('sendTo a child machine from the parent is a row in the child inbox', async (t) => {
  const h = await harness(t);
  const rt = await h.runtime({ machines: { order }, services: { label: async () => 'LBL-2' } });
  const id = await started(h, rt);
  await rt.send(id, { type: 'NUDGE' });
  const done = await rt.waitFor<{ paid: { approved: boolean } }>(id, (s) => s.status === 'done');
  t.true(done.context.paid.approved);
});

test('leaving the invoking state stops the child machines, their timers and their effects', async (t) => {
  const h = await harness(t);
  const rt = await h.runtime({ machines: { order }, services: { label: () => new Promise(() => {}) } });
  const id = await started(h, rt);
  await eventually(async () => (await h.db.query(`SELECT 1 FROM "${h.db.schema}".effects WHERE status = 'running'`)).length === 1);
  await rt.send(id, { type: 'ABANDON' });
  t.is((await rt.waitFor(id, (s) => s.status === 'done')).value, 'abandoned');
  await eventually(async () => (await childrenOf(h, id)).every((c) => c.status === 'stopped'), 10_000, 'children stopped');
  t.is((await h.db.query(`SELECT 1 FROM "${h.db.schema}".events`)).length, 0, 'no timer left in any inbox');
  t.deepEqual(await h.db.query(`SELECT status FROM "${h.db.schema}".effects`), [{ status: 'canceled' }]);
  for (const child of await childrenOf(h, id)) t.is((await rt.history(child.id)).at(-1)!.event.type, 'docket.stop');
});

test('cancel reaches child machines (EFFECT_CANCELED to the parent); stop takes the children with the parent', async (t) => {
  const h = await harness(t);
  const rt = await h.runtime({ machines: { order }, services: { label: () => new Promise(() => {}) } });
  const a = await started(h, rt);
  t.deepEqual(await rt.cancel(a, 'customer left'), { canceled: 2 });
  t.true((await childrenOf(h, a)).every((c) => c.status === 'stopped'), 'stopped in the same transaction');
  // The order has no onError for its children: XState ends it in error, with the cancellation as the reason.
  const ended = await rt.waitFor(a, (s) => s.status !== 'active');
  t.like(ended, { status: 'error', error: { code: 'EFFECT_CANCELED', message: 'customer left' } });

  const b = await started(h, rt);
  await rt.stop(b, 'shutting the shop');
  t.like(await rt.get(b), { status: 'stopped' });
  t.true((await childrenOf(h, b)).every((c) => c.status === 'stopped'));
});

// Several processes on one database need a server: PGlite lives inside one process.
const multiProcess = backend === 'postgres' ? test : test.skip;

multiProcess('a parent with two children survives a worker killed mid-effect: everything finishes once, elsewhere', async (t) => {
  const h = await harness(t);
  const program = testProgram('test/helpers/family-process');
  const victim = fork(program.script, [JSON.stringify({ database: postgresUrl, schema: h.db.schema })], {
    execArgv: program.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  t.teardown(() => void victim.kill('SIGKILL'));
  const message = (type: string) => new Promise<void>((resolve) => victim.on('message', (m: { type: string }) => m.type === type && resolve()));
  const exited = new Promise((resolve) => victim.once('exit', resolve));
  await message('ready');
  const client = await h.runtime({ machines: { order }, worker: false });
  const id = await client.start('order');
  await message('in-effect'); // the children exist, and the shipment's label is being printed
  victim.kill('SIGKILL');
  await exited;

  const survivor = await h.runtime({ machines: { order }, leaseMs: 1_000, services: { label: async () => 'LBL-after-crash' } });
  const children = await childrenOf(h, id);
  t.deepEqual(children.map((c) => c.machine), ['order/payment', 'order/shipping']);
  await survivor.waitFor(children[1]!.id, (s) => s.status === 'done', { timeoutMs: 15_000 });
  t.deepEqual(await survivor.send(id, { type: 'APPROVE' }, { child: 'payment' }), { accepted: true });
  const done = await survivor.waitFor<{ paid: { approved: boolean }; label: string }>(id, (s) => s.status === 'done', { timeoutMs: 15_000 });
  t.like(done, { value: 'complete', context: { paid: { approved: true }, label: 'LBL-after-crash' } });

  for (const instance of [id, ...children.map((c) => c.id)]) {
    const history = await survivor.history(instance);
    t.deepEqual(history.map((e) => e.seq), [...history.keys()], 'every journal contiguous: nothing applied twice');
  }
  const parentEvents = (await survivor.history(id)).map((e) => e.event.type);
  t.deepEqual(parentEvents.filter((type) => type.startsWith('xstate.done.actor.')).sort(), ['xstate.done.actor.payment', 'xstate.done.actor.shipping']);
  t.deepEqual(await h.db.query(`SELECT service, status, attempts FROM "${h.db.schema}".effects`), [{ service: 'label', status: 'done', attempts: 2 }]);
});

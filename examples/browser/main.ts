/**
 * The engine in a browser tab: the order machine of examples/node on PGlite in IndexedDB. Built by
 * build.mjs (esbuild), served by serve.mjs; test/examples/browser.test.ts drives it in Chromium.
 */
import { createRuntime, type InstanceState } from 'docket';
import { PgliteDatabase } from 'docket/pglite';
import { COOLING_OFF_MS, order } from '../node/machine.js';

const $ = <T extends HTMLElement>(selector: string) => document.querySelector<T>(selector)!;
const status = $('#status');
const list = $<HTMLOListElement>('#orders');
const button = $<HTMLButtonElement>('#start');

// The page opens its database itself: a bundle holds only the stores it imports (no `pg` here).
const database = await PgliteDatabase.open('idb://docket-example');
// `?coolingOffMs=` lengthens the cooling-off, so a test can reload the page well inside it on loaded cores.
const asked = Number(new URLSearchParams(location.search).get('coolingOffMs'));
const coolingOff = Number.isFinite(asked) && asked > 0 ? asked : COOLING_OFF_MS;
const rt = await createRuntime({ database, machines: { order: order.provide({ delays: { coolingOff } }) } });
const watched = new Set<string>();

function show(state: InstanceState) {
  let item = list.querySelector<HTMLLIElement>(`li[data-id="${state.id}"]`);
  if (!item) {
    item = document.createElement('li');
    item.dataset.id = state.id;
    list.prepend(item);
  }
  item.dataset.state = JSON.stringify(state.value).replaceAll('"', '');
  item.dataset.version = String(state.version);
  const context = state.context as { item: string; receipt?: string };
  item.textContent = `${state.id.slice(0, 8)} ${context.item}: ${item.dataset.state}${context.receipt ? ` (${context.receipt})` : ''}`;
}

/** Shows an order and follows its steps, whichever tab or reload of this page made them. */
async function watch(id: string) {
  if (watched.has(id)) return;
  watched.add(id);
  rt.subscribe(id, show);
  const state = await rt.get(id);
  if (state) show(state);
}

for (const instance of (await rt.list({ machine: 'order', limit: 20 })).instances.reverse()) await watch(instance.id);

// Numbered as clicked: counting the orders shown gave clicks made before a start committed the same number.
let orders = watched.size;
button.addEventListener('click', async () => {
  const id = await rt.start('order', { item: `teapot #${++orders}` });
  await watch(id);
});
button.disabled = false;
status.textContent = `ready: ${watched.size} order(s) in IndexedDB`;
window.addEventListener('pagehide', () => void rt.close());
// For the console (and the example's test): `await docket.rt.history(id)`.
(window as unknown as { docket: unknown }).docket = { rt };

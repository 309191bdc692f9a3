import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, ensureChromium } from '../../scripts/ensure-chromium.mjs';
import { pathToFileURL } from 'node:url';
import { backend } from '../helpers/db.js';
import { inRepo } from '../helpers/repo.js';
import type { Runtime } from '../../index.js';

// The example is not part of the compiled suite (it finds its own files beside it): loaded from the repository.
const example = <T>(file: string): Promise<T> => import(pathToFileURL(inRepo(`examples/browser/${file}`)).href) as Promise<T>;
const { buildBrowserExample } = await example<typeof import('../../examples/browser/build.mjs')>('build.mjs');
const { serveStatic } = await example<typeof import('../../examples/browser/serve.mjs')>('serve.mjs');

/**
 * examples/browser in headless Chromium (Debian's, driven by playwright-core): the engine bundled by
 * esbuild, on PGlite in IndexedDB. An order's cooling-off timer is armed, the page reloads before it is
 * due, and the reloaded page sees the timer fire and the charge run. Once per suite run (PGlite pass).
 */
const missing = await ensureChromium({ log: () => {} }).then(
  () => null,
  (error: Error) => error.message.split('\n')[0]!,
);
const browserTest = backend === 'pglite' && missing === null ? test : test.skip;
const because = missing === null ? '' : ` (skipped: ${missing})`;

/** An instance's history as the page's runtime reads it (the example puts it on window.docket). */
const historyIn = (page: Page, id: string) => page.evaluate((instance) => (window as unknown as { docket: { rt: Runtime } }).docket.rt.history(instance), id);

browserTest(`a durable timer armed before a reload fires after it, in Chromium on idb://${because}`, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'docket-browser-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { outdir, warnings } = await buildBrowserExample(join(dir, 'site'));
  t.deepEqual(warnings, [], 'esbuild bundles the engine for the browser without a warning');
  const { server, url } = await serveStatic(outdir);
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const context = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: await ensureChromium(),
    headless: true,
    args: CHROMIUM_ARGS,
  });
  t.teardown(() => context.close());
  const page = context.pages()[0] ?? (await context.newPage());
  // PGlite failing to load hangs rather than rejects: page errors fail the test at once instead.
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });

  // The cooling-off is 8 s here, not the example's 2: on cores the rest of the suite shares, the first
  // page could take 2 s from the start's commit to the reload, fire the timer itself and prove nothing.
  const coolingOffMs = 8000;
  // Navigations wait for nothing but the response: the page's module awaits its database, which can take
  // longer than a navigation's 30 s on loaded cores; the selector below bounds that instead.
  await page.goto(`${url}?coolingOffMs=${coolingOffMs}`, { waitUntil: 'commit' });
  // Creating the database in IndexedDB and migrating it takes a few seconds alone, and 20 s or more
  // while the rest of the suite shares the two cores: a bound for a hang, not a speed check.
  await page.waitForSelector('#start:not([disabled])', { timeout: 120_000 });
  t.is(await page.textContent('#status'), 'ready: 0 order(s) in IndexedDB');
  await page.click('#start');
  // The order shows once its start has committed; reload at once, inside its cooling-off.
  const order = page.locator('li[data-id]');
  await order.waitFor({ timeout: 60_000 });
  const id = await order.getAttribute('data-id');
  t.truthy(id);
  t.is(await order.getAttribute('data-state'), 'coolingOff');
  const startedAt = new Date((await historyIn(page, id!))[0]!.at).getTime();

  // Reload within the cooling-off: nothing of the first page survives but IndexedDB.
  const reloadedAt = Date.now();
  await page.reload({ waitUntil: 'commit' });
  await page.waitForSelector('#start:not([disabled])', { timeout: 120_000 });
  t.is(await page.textContent('#status'), 'ready: 1 order(s) in IndexedDB');
  const paid = page.locator(`li[data-id="${id}"][data-state="paid"]`);
  await paid.waitFor({ timeout: 60_000 });
  t.regex((await paid.textContent()) ?? '', /teapot #1: paid \(charged for teapot #1 \(key [^)]+\)\)/);

  // The timer fired in the reloaded page: its step was applied after the reload began.
  const history = await historyIn(page, id!);
  const fired = history.find((step) => step.event.type === 'xstate.after.coolingOff.order.coolingOff');
  t.truthy(fired, 'the after event is in the history');
  t.true(reloadedAt < startedAt + coolingOffMs, 'the page reloaded inside the cooling-off');
  t.true(new Date(fired!.at).getTime() >= reloadedAt, `the timer fired after the reload (${String(fired!.at)} vs ${new Date(reloadedAt).toISOString()})`);
  t.deepEqual(
    history.map((step) => step.to),
    ['coolingOff', 'charging', 'paid'],
  );

  const shot = join(tmpdir(), 'docket-browser-example.png');
  await page.screenshot({ path: shot });
  t.log(`screenshot: ${shot}`);
  t.deepEqual(errors, [], 'no error in the page');
});

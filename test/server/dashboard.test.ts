import test, { type ExecutionContext } from 'ava';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createLlamaParseMock } from '../../adapters/llamaparse/mock.js';
import { PermanentError, type ServiceHandler } from '../../index.js';
import { CHROMIUM_ARGS, ensureChromium } from '../../scripts/ensure-chromium.mjs';
import { textPdf } from '../fixtures/documents.js';
import { gate, serverWith } from '../helpers/control.js';
import { backend } from '../helpers/db.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { listen } from '../helpers/listen.js';
import { getJson, startServer } from '../helpers/server.js';

/**
 * The dashboard end to end: the real server on loopback, real uploads, a job held mid-pipeline,
 * and the page in headless Chromium (Debian's, driven by playwright-core), on both back ends.
 */
failOnLeakedRuntimes();
const missing = await ensureChromium({ log: () => {} }).then(
  () => null,
  (error: Error) => error.message.split('\n')[0]!,
);
const serial = missing === null ? test.serial : test.serial.skip;
const because = missing === null ? '' : ` (skipped: ${missing})`;

const HOSTILE = '<img src=x onerror=alert(1)>.pdf';

/** chunkDocument waits, per job, until the test releases that job; a cancel's abort ends the wait. */
function chunkingHolds() {
  const holds = new Map<string, { started: ReturnType<typeof gate<void>>; release: ReturnType<typeof gate<void>> }>();
  const of = (jobId: string) => {
    let hold = holds.get(jobId);
    if (!hold) holds.set(jobId, (hold = { started: gate<void>(), release: gate<void>() }));
    return hold;
  };
  const instrument = (name: string, handler: ServiceHandler): ServiceHandler =>
    name !== 'chunkDocument'
      ? handler
      : async (context) => {
          const hold = of((context.input as { jobId: string }).jobId);
          hold.started.open();
          await new Promise<void>((resolve, reject) => {
            context.signal.addEventListener('abort', () => reject(context.signal.reason), { once: true });
            void hold.release.promise.then(resolve);
          });
          return handler(context);
        };
  return { of, instrument };
}

async function send(url: string, name: string, content: Uint8Array, key?: string): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([Buffer.from(content)], { type: 'application/pdf' }), name);
  const response = await fetch(`${url}/v1/uploads`, { method: 'POST', body: form, headers: key ? { authorization: `Bearer ${key}` } : {} });
  const body = (await response.json()) as { job_id: string };
  if (response.status !== 202 && response.status !== 201) throw new Error(`upload answered ${response.status}: ${JSON.stringify(body)}`);
  return body.job_id;
}

// One Chromium for the file (launching one costs a second or two of CPU); each test gets a fresh
// context of its own, with its own storage, as a new browser profile would.
let browser: Promise<Browser> | undefined;
test.after.always(async () => {
  if (browser) await (await browser).close();
});

/** A page in a fresh browser context that records page errors, console errors and dialogs (an alert is an XSS). */
async function openPage(t: ExecutionContext) {
  browser ??= ensureChromium().then((executablePath) => chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS }));
  const context = await (await browser).newContext({ viewport: { width: 1600, height: 1150 }, reducedMotion: 'reduce' });
  t.teardown(() => context.close());
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('dialog', (dialog) => {
    problems.push(`dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  return { page, problems };
}

const current = (page: Page, stage: string) => page.waitForSelector(`.diagram [data-state="${stage}"].is-current`, { timeout: 30_000 });
const attributes = (page: Page, selector: string, name: string) => page.$$eval(selector, (nodes, attribute) => nodes.map((node) => node.getAttribute(attribute)), name);
const timeline = (page: Page) => attributes(page, '#timeline li', 'data-stage');

async function selectJob(page: Page, jobId: string) {
  // The list is polled: a job uploaded a moment ago shows within one refresh.
  await page.click(`#jobs tr[data-job="${jobId}"]`, { timeout: 30_000 });
  await page.waitForSelector(`#job-id:text-is("${jobId}")`);
}

/** The server on the LlamaParse mock, chunking held per job, and a page in Chromium. */
async function pipelineAndPage(t: ExecutionContext) {
  const llamaparse = createLlamaParseMock({ processingMs: 30 });
  const holds = chunkingHolds();
  const { url } = await serverWith(t, {
    env: { LLAMA_CLOUD_API_KEY: 'llx-test', LLAMA_CLOUD_BASE_URL: await listen(t, llamaparse.app) },
    pipeline: { instrument: holds.instrument },
  });
  return { url, llamaparse, holds, ...(await openPage(t)) };
}

serial(`the dashboard shows a job mid-pipeline on the machine's diagram and follows it live; a refusal's 409 reason is shown${because}`, async (t) => {
  const { url, holds, page, problems } = await pipelineAndPage(t);
  const report = await send(url, 'quarterly-report.pdf', await textPdf({ pages: 3 }));
  const hostile = await send(url, HOSTILE, await textPdf({ pages: 2 }));
  await Promise.all([holds.of(report).started.promise, holds.of(hostile).started.promise]);

  await page.goto(`${url}/dashboard`);
  await page.waitForSelector('#board:not([hidden])');
  await page.waitForFunction(() => document.querySelector('.stage-count[data-stage="chunking"] .count')?.textContent === '2', null, { timeout: 30_000 });
  await selectJob(page, report);

  // Parsed by the LlamaParse mock, held in chunking: the diagram marks chunking, and what came before.
  await current(page, 'chunking');
  t.deepEqual(await attributes(page, '.diagram .is-current', 'data-state'), ['chunking'], 'one state is current');
  t.deepEqual((await attributes(page, '.diagram .is-visited', 'data-state')).sort(), ['job_validated', 'parsed', 'parsing', 'queued']);
  await page.waitForFunction(() => document.querySelectorAll('#timeline li').length === 5);
  t.deepEqual(await timeline(page), ['queued', 'job_validated', 'parsing', 'parsed', 'chunking']);
  t.is(await page.textContent('#job-title'), 'quarterly-report.pdf');
  t.true(await page.isDisabled('#retry'), 'a running job cannot be retried');
  t.true(await page.isEnabled('#cancel'), 'a running job can be canceled');
  // The hostile name is in the list as text; nothing it says ran or loaded.
  t.is(await page.textContent(`#jobs tr[data-job="${hostile}"] td.file`), HOSTILE);
  // docs/dashboard.png is this screenshot, refreshed on request only, so a test run leaves the tree clean.
  const shot = process.env.DOCKET_UPDATE_SCREENSHOTS && backend === 'pglite' ? 'docs/dashboard.png' : join(tmpdir(), `docket-dashboard-${backend}.png`);
  await page.screenshot({ path: shot });
  t.log(`screenshot: ${shot}`);

  // Released, the job goes on to complete: the page follows it over SSE, without a reload.
  await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
  holds.of(report).release.open();
  await current(page, 'complete');
  t.true(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument === true), 'the page was not reloaded');
  await page.waitForFunction(() => document.querySelectorAll('#timeline li').length === 9);
  t.deepEqual(await timeline(page), ['queued', 'job_validated', 'parsing', 'parsed', 'chunking', 'chunked', 'embedding', 'embedded', 'complete']);
  t.like((await getJson(`${url}/v1/jobs/${report}`)).body, { stage: 'complete' });
  t.true(await page.isDisabled('#cancel'));

  // A stale page may still offer what the API refuses: the 409's reason is shown.
  await page.evaluate(() => ((document.getElementById('retry') as HTMLButtonElement).disabled = false));
  await page.click('#retry');
  await page.waitForSelector('#action-error:not([hidden])');
  t.regex((await page.textContent('#action-error')) ?? '', /^JOB_NOT_FAILED: job [0-9a-f-]{36} is complete; only a failed job can be retried$/);

  t.is(await page.locator('img').count(), 0, 'no element came from a file name');
  // The refused retry's 409 is the browser's own console line; nothing else went wrong.
  t.deepEqual(
    problems.filter((problem) => !/status of 409/.test(problem)),
    [],
    'no page error, other console error or dialog',
  );
});

serial(`Cancel ends a running job; its hostile name is shown as text; a stage's count filters the list${because}`, async (t) => {
  const { url, holds, page, problems } = await pipelineAndPage(t);
  const other = await send(url, 'notes.pdf', await textPdf({ pages: 1 }));
  const hostile = await send(url, HOSTILE, await textPdf({ pages: 2 }));
  await holds.of(hostile).started.promise;
  await page.goto(`${url}/dashboard`);
  await selectJob(page, hostile);
  await current(page, 'chunking');
  t.is(await page.textContent('#job-title'), HOSTILE);
  await page.click('#cancel');
  await current(page, 'canceled');
  t.like((await getJson(`${url}/v1/jobs/${hostile}`)).body, { stage: 'canceled' });
  t.true(await page.isDisabled('#cancel'));
  t.true(await page.isDisabled('#retry'));

  await page.waitForFunction(() => document.querySelector('.stage-count[data-stage="canceled"] .count')?.textContent === '1', null, { timeout: 30_000 });
  await page.click('.stage-count[data-stage="canceled"]');
  await page.waitForFunction(() => document.querySelectorAll('#jobs tr').length === 1, null, { timeout: 30_000 });
  t.deepEqual(await attributes(page, '#jobs tr', 'data-job'), [hostile]);
  await page.click('.stage-count[data-stage="all"]');
  await page.waitForFunction(() => document.querySelectorAll('#jobs tr').length === 2, null, { timeout: 30_000 });
  t.deepEqual((await attributes(page, '#jobs tr', 'data-job')).sort(), [hostile, other].sort());

  t.is(await page.locator('img').count(), 0, 'no element came from a file name');
  t.deepEqual(problems, [], 'no page error, console error or dialog');
});

serial(`a job the parser failed is retried from its button, resumes at the parse and completes; the error is shown as text${because}`, async (t) => {
  const { url, llamaparse, holds, page, problems } = await pipelineAndPage(t);
  // The parser fails the job, with markup in its message.
  llamaparse.script.fail = { times: 1, error_code: 'ERROR_DURING_PROCESSING', error_message: 'the parser <b>fell</b> over' };
  const failing = await send(url, 'minutes.pdf', await textPdf({ pages: 1 }));
  await page.goto(`${url}/dashboard`);
  await selectJob(page, failing);
  await current(page, 'failed');
  await page.waitForSelector('#job-error:not([hidden])');
  t.is(await page.textContent('#job-error'), 'parsing: LLAMAPARSE_ERROR_DURING_PROCESSING: the parser <b>fell</b> over');
  t.is(await page.locator('#job-error b').count(), 0);
  t.true(await page.isEnabled('#retry'), 'a failed job can be retried');
  await page.click('#retry');
  await current(page, 'chunking');
  await page.waitForSelector('#job-error', { state: 'hidden' }); // cleared once the job moves again
  holds.of(failing).release.open();
  await current(page, 'complete');
  const stages = await timeline(page);
  t.deepEqual(stages.slice(0, 4), ['queued', 'job_validated', 'parsing', 'failed']);
  t.deepEqual(stages.slice(4), ['job_validated', 'parsing', 'parsed', 'chunking', 'chunked', 'embedding', 'embedded', 'complete'], 'the retry resumed at the parse');
  t.is((await page.$$eval('#timeline li .event', (nodes) => nodes.map((node) => node.textContent)))[4], 'RETRY');
  t.deepEqual(problems, [], 'no page error, console error or dialog');
});

serial(`with API keys the dashboard asks for one, refuses a wrong one, and shows only that tenant's jobs${because}`, async (t) => {
  const ACME = 'acme-key-0123456789abcdef';
  const GLOBEX = 'globex-key-0123456789abcdef';
  const { url } = await startServer(t, { DOCKET_API_KEYS: `acme:${ACME},globex:${GLOBEX}` }, { worker: false });
  const mine = await send(url, 'acme.pdf', await textPdf({ pages: 1 }), ACME);
  const theirs = await send(url, 'globex.pdf', await textPdf({ pages: 2 }), GLOBEX);
  const { page, problems } = await openPage(t);

  await page.goto(`${url}/dashboard`);
  await page.waitForSelector('#key-panel:not([hidden])');
  t.true(await page.isHidden('#board'));
  await page.fill('#key-input', 'acme-key-0123456789abcdeX');
  await page.click('#key-form button[type="submit"]');
  await page.waitForSelector('#key-error:not([hidden])');
  t.is(await page.textContent('#key-error'), 'the API key is not valid (unknown or revoked)');
  t.is(await page.evaluate(() => sessionStorage.getItem('docket.apiKey')), null, 'a refused key is not kept');

  await page.fill('#key-input', ACME);
  await page.click('#key-form button[type="submit"]');
  await page.waitForSelector(`#jobs tr[data-job="${mine}"]`);
  t.deepEqual(await attributes(page, '#jobs tr', 'data-job'), [mine], `only acme's job, not ${theirs}`);
  t.is(await page.textContent('.stage-count[data-stage="all"] .count'), '1');
  t.is(await page.evaluate(() => sessionStorage.getItem('docket.apiKey')), ACME);

  // The event stream needs the key too: fetch sends it, where EventSource could not.
  await selectJob(page, mine);
  await current(page, 'queued');
  t.deepEqual(await timeline(page), ['queued']);

  // A reload keeps the key (sessionStorage) and the selected job (the URL).
  await page.reload();
  await current(page, 'queued');
  t.is(await page.textContent('#job-title'), 'acme.pdf');

  await page.click('#forget-key');
  await page.waitForSelector('#key-panel:not([hidden])');
  t.is(await page.evaluate(() => sessionStorage.getItem('docket.apiKey')), null);
  // 401s from the refused key are the browser's own console lines; nothing else went wrong.
  t.deepEqual(
    problems.filter((problem) => !/status of 401/.test(problem)),
    [],
  );
});

serial(`a cut event stream is read again from its last event id: the timeline has every stage once${because}`, async (t) => {
  const { url, pipeline } = await serverWith(t);
  const form = new FormData();
  form.append('file', new Blob(['# Notes\n\nA short note.\n']), 'notes.md');
  const { job_id: jobId } = (await (await fetch(`${url}/v1/uploads`, { method: 'POST', body: form })).json()) as { job_id: string };
  await pipeline.runtime.waitFor(jobId, (state) => state.status === 'done');
  const { page, problems } = await openPage(t);

  // The first stream is cut after its second event, as a proxy or a network drop would; the rest pass.
  const asked: (string | null)[] = [];
  await page.route('**/v1/jobs/*/events', async (route) => {
    asked.push(route.request().headers()['last-event-id'] ?? null);
    if (asked.length > 1) return route.continue();
    const response = await route.fetch();
    const text = await response.text();
    const blocks = text.split('\n\n');
    await route.fulfill({ response, body: `${blocks.slice(0, 2).join('\n\n')}\n\n` });
  });
  await page.goto(`${url}/dashboard#job=${jobId}`);
  await current(page, 'complete');
  const stages = await timeline(page);
  t.deepEqual(stages, ['queued', 'job_validated', 'parsed', 'chunking', 'chunked', 'embedding', 'embedded', 'complete']);
  const seqs = await attributes(page, '#timeline li', 'data-seq');
  t.is(asked.length, 2, 'one reconnect');
  t.deepEqual(asked, [null, seqs[1]], 'the reconnect asked for what came after the last event it had');
  t.deepEqual(problems, []);
});

serial(`a failed job retried elsewhere (the API, the CLI) is followed again by the page that shows it${because}`, async (t) => {
  let refused = false;
  // Validation refuses the first job once, permanently: it fails at once, then passes on the retry.
  const instrument = (name: string, handler: ServiceHandler): ServiceHandler =>
    name !== 'validateUpload'
      ? handler
      : async (context) => {
          if (refused) return handler(context);
          refused = true;
          throw new PermanentError('refused once by the test', { code: 'INJECTED' });
        };
  const { url, pipeline } = await serverWith(t, { pipeline: { instrument } });
  const form = new FormData();
  form.append('file', new Blob(['# Notes\n\nA short note.\n']), 'notes.md');
  const { job_id: jobId } = (await (await fetch(`${url}/v1/uploads`, { method: 'POST', body: form })).json()) as { job_id: string };
  await pipeline.runtime.waitFor(jobId, (state) => state.value === 'failed');
  const { page, problems } = await openPage(t);
  await page.goto(`${url}/dashboard#job=${jobId}`);
  await current(page, 'failed');
  t.is(await page.textContent('#job-error'), 'queued: INJECTED: refused once by the test');

  // Its stream has ended (the job settled); the retry comes from outside the page.
  const retried = await fetch(`${url}/v1/jobs/${jobId}/retry`, { method: 'POST' });
  t.is(retried.status, 202);
  await current(page, 'complete');
  t.deepEqual(await timeline(page), ['queued', 'failed', 'queued', 'job_validated', 'parsed', 'chunking', 'chunked', 'embedding', 'embedded', 'complete']);
  t.deepEqual(problems, []);
});

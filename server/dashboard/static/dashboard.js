// The dashboard's browser script: data from the /v1 API only, every untrusted string (file names,
// error messages) written with textContent, never as HTML. The page's CSP allows no inline script,
// so this file (and the SSE reader it imports) is the only code that runs.

import { sseMessages } from './sse.js';

const STAGES = ['queued', 'job_validated', 'parsing', 'parsed', 'chunking', 'chunked', 'embedding', 'embedded', 'complete', 'failed', 'canceled'];
const SETTLED = new Set(['complete', 'failed', 'canceled']);
const KEY = 'docket.apiKey';
const LIST_REFRESH_MS = 2000;
const RECONNECT_MS = 1000;
/** 204s accepted after a retry or cancel before the job is taken as settled: 40 at 250 ms, 10 s. */
const RETRY_PATIENCE = 40;

const $ = (id) => document.getElementById(id);
const state = { key: sessionStorage.getItem(KEY), filter: null, selected: null, stream: null, timer: null, cursor: null, turn: 0 };

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const headers = (extra = {}) => (state.key ? { ...extra, authorization: `Bearer ${state.key}` } : extra);

async function api(path, init = {}) {
  const response = await fetch(path, { ...init, headers: headers(init.headers), cache: 'no-store' });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const error = body && body.error ? body.error : { code: 'HTTP_' + response.status, message: `${response.status} ${response.statusText}` };
    throw new ApiError(response.status, error.code, error.message);
  }
  return body;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === 'text') node.textContent = value;
    else if (name === 'class') node.className = value;
    else if (name.startsWith('data-')) node.setAttribute(name, value);
    else node[name] = value;
  }
  node.append(...children);
  return node;
}

const label = (stage) => stage.replace('_', ' ');
const time = (iso) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
const duration = (ms) => (ms < 1000 ? `${ms} ms` : ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`);
const badge = (stage) => el('span', { class: `stage-badge stage-${stage}`, text: label(stage), 'data-stage': stage });

function setConnection(text, kind) {
  const node = $('connection');
  node.textContent = text;
  node.dataset.status = kind;
}

const show = (id, visible) => void ($(id).hidden = !visible);

function showError(id, message) {
  $(id).textContent = message || '';
  show(id, Boolean(message));
}

// --- the key ------------------------------------------------------------------------------------

function askForKey(message) {
  stopStream();
  clearTimeout(state.timer);
  show('board', false);
  show('key-panel', true);
  show('forget-key', false);
  showError('key-error', message);
  setConnection('needs an API key', 'error');
  $('key-input').focus();
}

$('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const key = $('key-input').value.trim();
  if (!key) return;
  state.key = key;
  sessionStorage.setItem(KEY, key);
  $('key-input').value = '';
  void start();
});

$('forget-key').addEventListener('click', () => {
  sessionStorage.removeItem(KEY);
  state.key = null;
  askForKey('');
});

/** A 401 means the key is missing or wrong: forget it and ask, with the server's reason. */
function handleFailure(error) {
  if (error instanceof ApiError && error.status === 401) {
    const hadKey = Boolean(state.key);
    sessionStorage.removeItem(KEY);
    state.key = null;
    askForKey(hadKey ? error.message : '');
    return true;
  }
  setConnection(error instanceof ApiError ? error.message : 'the server does not answer', 'error');
  return false;
}

// --- stages and jobs ----------------------------------------------------------------------------

function renderStages(stats) {
  $('total').textContent = `(${stats.jobs})`;
  const list = $('stages');
  list.replaceChildren(
    el('li', {}, stageButton(null, 'all', stats.jobs)),
    ...STAGES.map((stage) => el('li', {}, stageButton(stage, label(stage), stats.stages[stage] ?? 0))),
  );
}

function stageButton(stage, text, count) {
  const button = el('button', { type: 'button', class: `stage-count stage-${stage ?? 'all'}`, 'data-stage': stage ?? 'all' }, el('span', { class: 'count', text: String(count) }), el('span', { class: 'name', text }));
  button.setAttribute('aria-pressed', String(state.filter === stage));
  button.addEventListener('click', () => {
    state.filter = stage;
    void refresh();
  });
  return button;
}

function jobRow(job) {
  const row = el('tr', { 'data-job': job.job_id, tabIndex: 0 }, el('td', { class: 'file', text: job.filename, title: job.filename }), el('td', {}, badge(job.stage)), el('td', { class: 'muted', text: time(job.updated_at) }));
  if (job.job_id === state.selected) row.setAttribute('aria-selected', 'true');
  const open = () => select(job.job_id);
  row.addEventListener('click', open);
  row.addEventListener('keydown', (event) => void (event.key === 'Enter' && open()));
  return row;
}

function renderJobs(page) {
  $('filter').textContent = state.filter ? `in ${label(state.filter)}` : '';
  $('jobs').replaceChildren(...page.jobs.map(jobRow));
  show('jobs-empty', page.jobs.length === 0);
  state.cursor = page.next_cursor;
  show('more', Boolean(page.next_cursor));
  // A settled job moved again (retried elsewhere: the CLI, another tab): follow it again.
  const mine = page.jobs.find((job) => job.job_id === state.selected);
  const stream = state.stream;
  if (mine && stream?.ended && stream.id === mine.job_id && mine.updated_at > (stream.settledAt ?? '')) follow(mine.job_id, RETRY_PATIENCE, mine.updated_at);
}

$('more').addEventListener('click', async () => {
  try {
    const page = await api(`/v1/jobs?${listParams(state.cursor)}`);
    $('jobs').append(...page.jobs.map(jobRow));
    state.cursor = page.next_cursor;
    show('more', Boolean(page.next_cursor));
  } catch (error) {
    handleFailure(error);
  }
});

function listParams(cursor) {
  const params = new URLSearchParams({ limit: '50' });
  if (state.filter) params.set('stage', state.filter);
  if (cursor) params.set('cursor', cursor);
  return params;
}

/** Stage counts and the first page of jobs, again every LIST_REFRESH_MS: the list is polled, the selected job streamed. */
async function refresh() {
  clearTimeout(state.timer);
  // A slower earlier refresh (another filter) must not overwrite a later one.
  const turn = ++state.turn;
  try {
    const [stats, page] = await Promise.all([api('/v1/stats'), api(`/v1/jobs?${listParams()}`)]);
    if (turn !== state.turn) return;
    renderStages(stats);
    renderJobs(page);
    const stream = state.stream;
    if (!stream || stream.ended) setConnection('connected', 'ok');
    else if (stream.live) setConnection('live', 'ok');
  } catch (error) {
    if (handleFailure(error)) return;
  }
  state.timer = setTimeout(refresh, LIST_REFRESH_MS);
}

// --- one job ------------------------------------------------------------------------------------

const diagramNodes = () => document.querySelectorAll('.diagram [data-state]');

/** Marks the machine's state nodes: `is-current` for the job's stage, `is-visited` for stages it went through. */
function highlight(stage, visited) {
  for (const node of diagramNodes()) {
    const name = node.getAttribute('data-state');
    node.classList.toggle('is-current', name === stage);
    node.classList.toggle('is-visited', visited.has(name) && name !== stage);
    node.classList.toggle('is-settled', name === stage && SETTLED.has(stage));
  }
  document.querySelector('.diagram').dataset.current = stage || '';
}

function renderJob(job) {
  $('job-title').textContent = job.filename;
  $('job-id').textContent = job.job_id;
  $('job-stage').replaceWith(Object.assign(badge(job.stage), { id: 'job-stage' }));
  $('retry').disabled = job.stage !== 'failed';
  $('cancel').disabled = job.stage === 'complete' || job.stage === 'canceled';
  showError('job-error', job.error ? `${label(job.error.stage)}: ${job.error.code}: ${job.error.message}` : '');
  const facts = [
    ['type', job.media_type ?? '—'],
    ['size', `${job.bytes.toLocaleString()} bytes`],
    ['chunks', String(job.chunks)],
    ['embedded', String(job.embedded)],
    ['uploaded', new Date(job.created_at).toLocaleString([], { dateStyle: 'medium', timeStyle: 'medium', hourCycle: 'h23' })],
  ];
  $('job-facts').replaceChildren(...facts.map(([term, value]) => el('div', {}, el('dt', { text: term }), el('dd', { text: value }))));
}

function renderTimeline() {
  const stream = state.stream;
  const items = stream.changes.map((change, i) => {
    const next = stream.changes[i + 1];
    const took = next ? duration(Math.max(0, new Date(next.at) - new Date(change.at))) : '';
    return el('li', { class: `stage-${change.stage}`, 'data-stage': change.stage, 'data-seq': String(change.seq) }, badge(change.stage), el('time', { dateTime: change.at, text: time(change.at) }), el('span', { class: 'event muted', text: change.event }), el('span', { class: 'took muted', text: took }));
  });
  $('timeline').replaceChildren(...items);
  const last = stream.changes.at(-1);
  if (last) highlight(last.stage, new Set(stream.changes.map((change) => change.stage)));
}

async function select(id) {
  if (state.selected === id && state.stream) return;
  state.selected = id;
  history.replaceState(null, '', `#job=${id}`);
  for (const row of document.querySelectorAll('#jobs tr')) row.toggleAttribute('aria-selected', row.dataset.job === id);
  stopStream();
  showError('action-error', '');
  show('job-none', false);
  show('job-detail', true);
  $('timeline').replaceChildren();
  highlight(null, new Set());
  try {
    renderJob(await api(`/v1/jobs/${id}`));
  } catch (error) {
    if (handleFailure(error)) return;
    showError('action-error', error.message);
    return;
  }
  follow(id);
}

function stopStream() {
  if (state.stream) state.stream.controller.abort();
  state.stream = null;
}

/**
 * Follows the job's events: GET /v1/jobs/:id/events read with fetch, since EventSource cannot send
 * the Authorization header. The backlog comes first (the timeline), then each change as it commits.
 * A cut stream reconnects from the last event id; `end` (or 204) means the job has settled.
 */
function follow(id, patience = 0, settledAt = null) {
  const stream = { id, controller: new AbortController(), changes: state.stream && state.stream.id === id ? state.stream.changes : [], lastId: null, live: false, patience, settledAt };
  if (stream.changes.length) stream.lastId = String(stream.changes.at(-1).seq);
  if (state.stream) state.stream.controller.abort();
  state.stream = stream;
  void read(stream);
}

async function read(stream) {
  const { signal } = stream.controller;
  while (!signal.aborted) {
    try {
      const extra = { accept: 'text/event-stream' };
      if (stream.lastId !== null) extra['last-event-id'] = stream.lastId;
      const response = await fetch(`/v1/jobs/${stream.id}/events`, { headers: headers(extra), signal, cache: 'no-store' });
      // 204: settled, nothing after lastId. Just after a retry the RETRY may not be applied yet: look again.
      if (response.status === 204) {
        stream.ended = stream.patience-- <= 0;
        if (stream.ended) return;
        await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS / 4));
        continue;
      }
      if (!response.ok) {
        const body = await response.json().catch(() => null);
        throw new ApiError(response.status, body?.error?.code ?? 'HTTP', body?.error?.message ?? `${response.status}`);
      }
      stream.live = true;
      setConnection('live', 'ok');
      if (await consume(stream, response.body)) {
        stream.ended = true;
        return;
      }
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError && error.status < 500) {
        if (!handleFailure(error)) showError('action-error', error.message);
        return;
      }
    }
    stream.live = false;
    setConnection('reconnecting…', 'warn');
    await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
  }
}

/** Applies the stream's messages until it ends; true when it ended with `event: end`. */
async function consume(stream, body) {
  for await (const message of sseMessages(body)) {
    if (state.stream !== stream) return true;
    if (message.id !== null) stream.lastId = message.id;
    const data = JSON.parse(message.data);
    if (message.event === 'stage') onStage(stream, data);
    if (message.event === 'end') {
      stream.settledAt = data.updated_at;
      onEnd(data);
      return true;
    }
  }
  return false;
}

function onStage(stream, change) {
  if (stream.changes.some((known) => known.seq === change.seq)) return;
  stream.changes.push(change);
  renderTimeline();
  $('job-stage').replaceWith(Object.assign(badge(change.stage), { id: 'job-stage' }));
  $('retry').disabled = change.stage !== 'failed';
  $('cancel').disabled = change.stage === 'complete' || change.stage === 'canceled';
  void reloadJob(stream.id);
  void refresh();
}

/** The job's row again (counts, error), after a change the stream announced. */
async function reloadJob(id) {
  try {
    const job = await api(`/v1/jobs/${id}`);
    if (state.selected === id) renderJob(job);
  } catch (error) {
    handleFailure(error);
  }
}

function onEnd(data) {
  if (data.deleted) {
    showError('action-error', 'This job was deleted.');
    $('retry').disabled = true;
    $('cancel').disabled = true;
    return;
  }
  renderJob(data);
  void refresh();
}

async function control(action) {
  const id = state.selected;
  if (!id) return;
  showError('action-error', '');
  $(action).disabled = true;
  try {
    await api(`/v1/jobs/${id}/${action}`, { method: 'POST' });
    // A retried job moves again: follow it from the last event seen (the old stream has ended).
    if (state.selected === id) follow(id, RETRY_PATIENCE);
  } catch (error) {
    if (handleFailure(error)) return;
    showError('action-error', `${error.code ? error.code + ': ' : ''}${error.message}`);
    try {
      if (state.selected === id) renderJob(await api(`/v1/jobs/${id}`));
    } catch {
      // The reason is shown; the buttons stay as they were.
    }
  }
}

$('retry').addEventListener('click', () => void control('retry'));
$('cancel').addEventListener('click', () => void control('cancel'));

// --- start --------------------------------------------------------------------------------------

async function start() {
  show('key-panel', false);
  showError('key-error', '');
  setConnection('connecting…', 'warn');
  try {
    await api('/v1/stats');
  } catch (error) {
    handleFailure(error);
    return;
  }
  show('board', true);
  show('forget-key', Boolean(state.key));
  await refresh();
  const wanted = /^#job=([0-9a-f-]{36})$/.exec(location.hash);
  if (wanted) void select(wanted[1]);
}

void start();

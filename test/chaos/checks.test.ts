// The chaos run's own checkers, on made-up data: a checker that cannot fail proves nothing.
import test from 'ava';
import { unarmedTimerFirings, type JournalRow } from './checks-journal.js';
import { healthWindows, type HealthSample } from './health.js';
import { textPdf } from './pdf.js';
import { makeDocument } from './documents.js';
import { parseLocally } from '../../adapters/local/parser.js';

const journal = (instance: string, steps: [string, unknown, unknown][]): JournalRow[] =>
  steps.map(([event_type, from_value, to_value], seq) => ({ instance_id: instance, seq, event_type, from_value, to_value }));

test('timers: re-armed polls pass; a second firing without re-entry, or a firing after the state was left, is caught', (t) => {
  const poll = 'xstate.after.pollDelay.upload.parsing.waiting';
  const ok = journal('a', [
    ['xstate.init', null, 'queued'],
    ['xstate.done.actor.0.upload.job_validated', 'queued', { parsing: 'waiting' }],
    [poll, { parsing: 'waiting' }, { parsing: 'checking' }],
    ['xstate.done.actor.0.upload.parsing.checking', { parsing: 'checking' }, { parsing: 'waiting' }],
    [poll, { parsing: 'waiting' }, { parsing: 'checking' }],
    ['xstate.done.actor.0.upload.parsing.checking', { parsing: 'checking' }, 'parsed'],
    ['xstate.after.0.upload.parsed', 'parsed', 'chunking'],
  ]);
  t.deepEqual(unarmedTimerFirings(ok), { fired: 3, kinds: 2, violations: [] });

  const twice = journal('b', [
    ['xstate.init', null, 'parsed'],
    ['xstate.after.0.upload.parsed', 'parsed', 'chunking'],
    ['xstate.after.0.upload.parsed', 'chunking', 'chunking'],
  ]);
  t.is(unarmedTimerFirings(twice).violations.length, 1);

  const afterExit = journal('c', [
    ['xstate.init', null, { parsing: 'waiting' }],
    ['PARSE_CALLBACK', { parsing: 'waiting' }, { parsing: 'checking' }],
    [poll, { parsing: 'checking' }, { parsing: 'checking' }],
  ]);
  t.is(unarmedTimerFirings(afterExit).violations.length, 1);
});

test('health windows: samples wholly inside an outage are "down", those clear of it (and of the settling second) are "up"', (t) => {
  const outage = { stopAt: 1_000, downAt: 1_200, startAt: 3_000, readyAt: 4_000, mode: 'fast' };
  const at = (start: number, status: number | string): HealthSample => ({ start, end: start + 10, status });
  const samples = [at(500, 200), at(1_100, 503), at(1_500, 503), at(2_995, 503), at(3_500, 503), at(4_500, 200), at(5_100, 200)];
  const { down, up, recoveryMs } = healthWindows(samples, [outage], 1_000);
  t.deepEqual(down.map((s) => s.start), [1_500]);
  t.deepEqual(up.map((s) => s.start), [500, 5_100]);
  t.deepEqual(recoveryMs, [510]);
});

test('documents are distinct, and the hand-written PDFs parse to their text', async (t) => {
  const docs = Array.from({ length: 40 }, (_, i) => makeDocument(i, 1));
  t.is(new Set(docs.map((d) => Buffer.from(d.content).toString('base64'))).size, docs.length);
  t.true(docs.some((d) => d.type === 'application/pdf'));
  const parsed = await parseLocally(textPdf([['first page line'], ['second (page) line']]), 'application/pdf');
  t.is(parsed.pages, 2);
  t.regex(parsed.markdown, /second \(page\) line/);
});

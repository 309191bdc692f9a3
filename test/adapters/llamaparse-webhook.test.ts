import test from 'ava';
import { readLlamaParseWebhook, WebhookError } from '../../adapters/llamaparse/webhook.js';

const bytes = (value: unknown) => new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));
const event = { event_id: 'ev-1', event_type: 'parse.success', timestamp: 1, data: { job_id: 'remote-9' } };

test('a LlamaCloud event names the remote job, its status and a dedupe key from its id', (t) => {
  t.deepEqual(readLlamaParseWebhook(bytes(event), 'application/json'), {
    kind: 'event',
    remoteJobId: 'remote-9',
    status: 'SUCCESS',
    dedupeKey: 'llamaparse:event:ev-1',
    timestamp: 1,
  });
});

test('an event sent as a JSON-encoded string reads the same', (t) => {
  t.deepEqual(readLlamaParseWebhook(bytes(JSON.stringify(JSON.stringify(event))), 'application/json; charset=utf-8'), readLlamaParseWebhook(bytes(event), undefined));
});

test('a v1 result push: the same body twice is the same notice, another body another', (t) => {
  const first = readLlamaParseWebhook(bytes({ md: '# Title' }), 'application/json');
  t.is(first.kind, 'push');
  t.deepEqual(readLlamaParseWebhook(bytes({ md: '# Title' }), 'application/json'), first);
  t.not(readLlamaParseWebhook(bytes({ md: '# Other' }), 'application/json').dedupeKey, first.dedupeKey);
});

function refused(t: import('ava').ExecutionContext, body: Uint8Array, code: WebhookError["code"], message: RegExp, contentType = 'application/json') {
  const error = t.throws(() => readLlamaParseWebhook(body, contentType), { instanceOf: WebhookError });
  t.is(error?.code, code);
  t.regex(error?.message ?? '', message);
}

test('what is not a webhook is refused with a code and a reason', (t) => {
  refused(t, bytes('{"event_id":'), 'INVALID_WEBHOOK', /not JSON/);
  refused(t, bytes([1, 2]), 'INVALID_WEBHOOK', /not a JSON object/);
  refused(t, bytes({ hello: 1, 'we\u0000ird': 2 }), 'INVALID_WEBHOOK', /fields: hello, "we\\u0000ird"/);
  refused(t, bytes({ ...event, event_type: 'job.done' }), 'INVALID_WEBHOOK', /event_type must be a parse\.\* event/);
  refused(t, bytes({ ...event, data: { job_id: 'a\u0000b' } }), 'INVALID_WEBHOOK', /data\.job_id: contains a NUL/);
  refused(t, bytes({ ...event, event_id: '\uD800' }), 'INVALID_WEBHOOK', /lone UTF-16 surrogate/);
  refused(t, bytes(`${'['.repeat(65)}${']'.repeat(65)}`), 'INVALID_WEBHOOK', /nests deeper than 64/);
  refused(t, bytes(event), 'UNSUPPORTED_CHARSET', /UTF-8/, 'application/json; charset=latin1');
});

test('depth is checked before parsing, so 100,000 levels cost a scan, not the stack', (t) => {
  refused(t, bytes('['.repeat(100_000)), 'INVALID_WEBHOOK', /nests deeper/);
  refused(t, bytes(JSON.stringify('['.repeat(100_000))), 'INVALID_WEBHOOK', /nests deeper/);
});

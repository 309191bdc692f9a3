import test from 'ava';
import fc from 'fast-check';
import { sseMessages } from '../../server/dashboard/static/sse.js';

/** A body that delivers `text` in the given pieces, as a network does. */
function body(pieces: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const piece of pieces) controller.enqueue(encoder.encode(piece));
      controller.close();
    },
  });
}

async function read(pieces: string[]) {
  const messages = [];
  for await (const message of sseMessages(body(pieces))) messages.push(message);
  return messages;
}

const STREAM = 'event: stage\nid: 0\ndata: {"stage":"queued"}\n\n: heartbeat\n\nevent: stage\r\nid: 3\r\ndata: {"stage":\r\ndata: "parsed"}\r\n\r\nevent: end\ndata: {"deleted":true}\n\nevent: stage\nid: 9\n';

test('the dashboard\'s SSE reader: events, ids, multi-line data, CRLF, comments skipped, an unfinished block dropped', async (t) => {
  t.deepEqual(await read([STREAM]), [
    { event: 'stage', id: '0', data: '{"stage":"queued"}' },
    { event: 'stage', id: '3', data: '{"stage":\n"parsed"}' },
    { event: 'end', id: null, data: '{"deleted":true}' },
  ]);
});

test('the dashboard\'s SSE reader gives the same messages however the stream is cut into pieces', async (t) => {
  const whole = await read([STREAM]);
  await fc.assert(
    fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: STREAM.length - 1 }), { maxLength: 12 }), async (cuts) => {
      const points = [0, ...cuts.sort((a, b) => a - b), STREAM.length];
      const pieces = points.slice(1).map((end, i) => STREAM.slice(points[i], end));
      t.deepEqual(await read(pieces), whole);
    }),
  );
});

// Server-Sent Events read from a fetch() body: EventSource cannot send an Authorization header.
// The parsing follows the HTML standard's event-stream rules for the fields this API sends.

/** Yields `{ event, id, data }` for each message of the stream (comments and empty blocks skipped) until it ends. */
export async function* sseMessages(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  // A CR that ends a piece may be half of a CRLF: it waits for the next piece before it counts.
  let carried = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      let text = carried + value;
      carried = text.endsWith('\r') ? '\r' : '';
      if (carried) text = text.slice(0, -1);
      buffer += text.replace(/\r\n?/g, '\n');
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const message = { event: 'message', id: null, data: [] };
        for (const line of block.split('\n')) {
          if (line === '' || line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') message.event = text;
          else if (field === 'id') message.id = text;
          else if (field === 'data') message.data.push(text);
        }
        if (message.data.length) yield { event: message.event, id: message.id, data: message.data.join('\n') };
      }
    }
  } finally {
    reader.releaseLock();
  }
}

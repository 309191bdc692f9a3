import { STATUS_CODES, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** Node's parse errors, as the API's codes: anything else unparsable is a 400. */
const CLIENT_ERRORS: Record<string, [number, string, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'HEADERS_TOO_LARGE', 'the request headers are too large'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'CHUNK_EXTENSIONS_TOO_LARGE', 'the chunk extensions are too large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'REQUEST_TIMEOUT', 'the request took too long to arrive'],
  HPE_INVALID_EOF_STATE: [400, 'INCOMPLETE_REQUEST', 'the connection ended before the request was complete (is Content-Length right?)'],
};

/** The response in progress on a connection, as Node's own client-error handler finds it. */
function inFlight(socket: Socket): ServerResponse | undefined {
  return (socket as { _httpMessage?: ServerResponse })._httpMessage ?? undefined;
}

function answer(socket: Socket, error: NodeJS.ErrnoException): void {
  if (!socket.writable) return void socket.destroy();
  const [status, code, message] = CLIENT_ERRORS[error.code ?? ''] ?? [400, 'MALFORMED_REQUEST', 'the request is not valid HTTP/1.1'];
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  socket.destroySoon();
}

/**
 * Answers requests Node's HTTP parser refuses (a body shorter than its Content-Length followed by
 * the end of the connection, bytes after a lying Content-Length read as a next request, bad chunked
 * encoding, header overflow) with the API's JSON error rather than Node's bare `400 Bad Request`,
 * then closes the connection. Answers keep their order: when the bad bytes follow a complete
 * request still being answered, that answer goes first. A reset connection, or one whose response
 * is half written, is closed without a word.
 */
export function answerClientErrors(server: Server): Server {
  // Node answers an HTTP/1.1 request without Host with a bare 400 of its own; hostGuard answers it in JSON.
  (server as Server & { requireHostHeader: boolean }).requireHostHeader = false;
  server.on('clientError', (error: NodeJS.ErrnoException, duplex) => {
    const socket = duplex as Socket;
    if (error.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
    const pending = inFlight(socket);
    if (pending && !pending.writableFinished) {
      if (pending.req.complete) return void pending.once('close', () => answer(socket, error));
      if (pending.headersSent) return void socket.destroy();
    }
    answer(socket, error);
  });
  return server;
}

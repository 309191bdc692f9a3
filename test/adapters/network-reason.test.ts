import test from 'ava';
import { createServer, type AddressInfo } from 'node:net';
import { LlamaParseClient } from '../../adapters/llamaparse/client.js';
import { OpenAIEmbedder } from '../../adapters/openai/embedder.js';

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// fetch says "fetch failed" and the OpenAI SDK "Connection error.": the reason is in their causes,
// and a job's error must carry it, or nobody can tell a refused port from a reset or a timeout.
test('an unreachable vendor is a transient error that names the network reason', async (t) => {
  const port = await closedPort();
  const llamaparse = new LlamaParseClient({ apiKey: 'llx-test', baseUrl: `http://127.0.0.1:${port}` });
  const parseError = await t.throwsAsync(llamaparse.upload(new TextEncoder().encode('%PDF-1.4'), 'a.pdf'));
  t.like(parseError, { code: 'LLAMAPARSE_UNREACHABLE', transient: true });
  t.regex(parseError!.message, /^cannot reach LlamaParse \(POST \/api\/v1\/parsing\/upload\): fetch failed: .*ECONNREFUSED/);

  const openai = new OpenAIEmbedder({ apiKey: 'sk-test', baseURL: `http://127.0.0.1:${port}/v1`, model: 'text-embedding-3-small', dimensions: 8 });
  const embedError = await t.throwsAsync(openai.embed([{ text: 'hello', tokens: 1 }]));
  t.like(embedError, { code: 'OPENAI_UNREACHABLE', transient: true });
  t.regex(embedError!.message, /^cannot reach OpenAI: Connection error\.: .*ECONNREFUSED/);
});

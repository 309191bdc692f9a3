import type { ExecutionContext } from 'ava';
import { createLlamaParseMock } from '../../adapters/llamaparse/mock.js';
import { createOpenAIMock } from '../../adapters/openai/mock.js';
import { listen } from './listen.js';
import { freePort, startServer } from './server.js';

/**
 * The server pointed at the LlamaParse and OpenAI mocks, with LlamaParse's webhooks coming back to
 * it (PUBLIC_URL is the server's own port); `env` adds to or overrides that configuration.
 */
export async function startServerWithMocks(t: ExecutionContext, env: Record<string, string> = {}) {
  const llamaparse = createLlamaParseMock({ processingMs: 30 });
  const openai = createOpenAIMock();
  const port = await freePort();
  const server = await startServer(
    t,
    {
      LLAMA_CLOUD_API_KEY: 'llx-test',
      LLAMA_CLOUD_BASE_URL: await listen(t, llamaparse.app),
      OPENAI_API_KEY: 'sk-test',
      OPENAI_BASE_URL: `${await listen(t, openai.app)}/v1`,
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      ...env,
    },
    { port },
  );
  return { ...server, llamaparse, openai };
}

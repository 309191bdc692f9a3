/**
 * Runs a mock on its own: `npm run mock:llamaparse` (port 8001) or `npm run mock:openai` (8002).
 * Faults are scripted over HTTP: POST /mock/faults with [{ status, retryAfterMs?, delayMs?, times? }];
 * for LlamaParse also POST /mock/jobs with { fail?, partial?, webhook? }.
 */
import pino from 'pino';
import { createLlamaParseMock } from '../llamaparse/mock.js';
import { createOpenAIMock } from '../openai/mock.js';

const [which, portArg] = process.argv.slice(2);
const logger = pino({ name: `mock-${which}` });
const app = which === 'llamaparse' ? createLlamaParseMock().app : which === 'openai' ? createOpenAIMock().app : undefined;
if (!app) {
  logger.error('usage: serve.ts llamaparse|openai [port]');
  process.exit(2);
}
const port = Number(portArg ?? (which === 'llamaparse' ? 8001 : 8002));
app.listen(port, '127.0.0.1', () => logger.info({ url: `http://127.0.0.1:${port}` }, `${which} mock listening`));

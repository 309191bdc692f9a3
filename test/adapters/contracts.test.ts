import test, { type ExecutionContext } from 'ava';
import type { Embedder, Parser } from '../../adapters/contracts.js';
import { LlamaParseClient } from '../../adapters/llamaparse/client.js';
import { createLlamaParseMock } from '../../adapters/llamaparse/mock.js';
import { LlamaParseParser } from '../../adapters/llamaparse/parser.js';
import { LocalEmbedder, LocalParser } from '../../adapters/local/providers.js';
import { DocumentWorkers } from '../../adapters/local/workers.js';
import { createOpenAIMock } from '../../adapters/openai/mock.js';
import { OpenAIEmbedder } from '../../adapters/openai/embedder.js';
import { listen } from '../helpers/listen.js';

/** The same expectations for every implementation: the services rely on nothing else. */
async function parsesToMarkdown(t: ExecutionContext, parser: Parser) {
  const content = new TextEncoder().encode('# Contract\n\nEvery parser gives back this sentence.\n');
  let result = await parser.submit({ content, filename: 'contract.md', mediaType: 'text/markdown' }, {});
  for (let polls = 0; result.kind === 'pending' && polls < 100; polls++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const polled = await parser.poll(result.jobId, {});
    if (polled.kind === 'done') result = polled;
  }
  if (result.kind !== 'done') return t.fail('the parse never finished');
  t.regex(result.document.markdown, /Every parser gives back this sentence\./);
  t.is(result.document.pages, 1);
  t.deepEqual(result.document.warnings, []);
}

async function embedsInOrder(t: ExecutionContext, embedder: Embedder, dimensions: number) {
  const inputs = [{ text: 'first text', tokens: 2 }, { text: 'second, different text', tokens: 4 }, { text: 'first text', tokens: 2 }];
  const vectors = await embedder.embed(inputs, {});
  t.is(vectors.length, 3);
  t.true(vectors.every((v) => v.length === dimensions));
  t.deepEqual(vectors[0], vectors[2], 'same text, same vector, in input order');
  t.notDeepEqual(vectors[0], vectors[1]);
}

test('Parser: the local parser and LlamaParse keep the same contract', async (t) => {
  const workers = new DocumentWorkers({ threads: 1 });
  t.teardown(() => workers.close());
  await parsesToMarkdown(t, new LocalParser(workers));
  const mock = createLlamaParseMock({ processingMs: 30 });
  await parsesToMarkdown(t, new LlamaParseParser(new LlamaParseClient({ apiKey: 'llx-test', baseUrl: await listen(t, mock.app) })));
});

test('Embedder: the local embedder and OpenAI keep the same contract', async (t) => {
  const workers = new DocumentWorkers({ threads: 1 });
  t.teardown(() => workers.close());
  await embedsInOrder(t, new LocalEmbedder(workers, 32), 32);
  const mock = createOpenAIMock();
  await embedsInOrder(t, new OpenAIEmbedder({ apiKey: 'sk-test', baseURL: `${await listen(t, mock.app)}/v1`, dimensions: 32 }), 32);
});

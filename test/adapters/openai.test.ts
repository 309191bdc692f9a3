import test from 'ava';
import OpenAI from 'openai';
import { AdapterError } from '../../adapters/errors.js';
import { hashEmbedding } from '../../adapters/local/embedder.js';
import { createOpenAIMock } from '../../adapters/openai/mock.js';
import { batches, OpenAIEmbedder } from '../../adapters/openai/embedder.js';
import { listen } from '../helpers/listen.js';

// The mock is driven by OpenAI's own npm SDK: if the wire format drifted, these would break.

test('the official SDK gets embeddings from the mock, in its default base64 encoding', async (t) => {
  const mock = createOpenAIMock();
  const baseURL = `${await listen(t, mock.app)}/v1`;
  const client = new OpenAI({ apiKey: 'sk-test', baseURL, maxRetries: 0 });
  const response = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['first text', 'second text'] });
  t.is(response.object, 'list');
  t.is(response.model, 'text-embedding-3-small');
  t.deepEqual(response.data.map((d) => d.index), [0, 1]);
  t.is(response.data[0]!.embedding.length, 1536);
  const expected = Array.from(new Float32Array(hashEmbedding('first text', 1536)));
  t.deepEqual(response.data[0]!.embedding, expected, 'decoded by the SDK from base64 float32');
  t.true(response.usage.prompt_tokens > 0);
  t.is(response.usage.total_tokens, response.usage.prompt_tokens);
});

test('float encoding, dimensions and token-id input follow the API', async (t) => {
  const mock = createOpenAIMock();
  const client = new OpenAI({ apiKey: 'sk-test', baseURL: `${await listen(t, mock.app)}/v1`, maxRetries: 0 });
  const floats = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello', encoding_format: 'float', dimensions: 64 });
  t.is(floats.data[0]!.embedding.length, 64);
  t.deepEqual(floats.data[0]!.embedding, hashEmbedding('hello', 64));
  const tokens = await client.embeddings.create({ model: 'text-embedding-3-small', input: [[15339]], dimensions: 8 });
  t.is(tokens.data.length, 1);
  await t.throwsAsync(client.embeddings.create({ model: 'text-embedding-ada-002', input: 'x', dimensions: 8 }), {
    instanceOf: OpenAI.BadRequestError,
    message: /does not support specifying dimensions/,
  });
});

test('limits and keys are enforced with OpenAI error bodies', async (t) => {
  const mock = createOpenAIMock({ apiKeys: ['sk-good'] });
  const baseURL = `${await listen(t, mock.app)}/v1`;
  const bad = new OpenAI({ apiKey: 'sk-bad', baseURL, maxRetries: 0 });
  const auth = await t.throwsAsync(bad.embeddings.create({ model: 'text-embedding-3-small', input: 'x' }), { instanceOf: OpenAI.AuthenticationError });
  t.is(auth!.code, 'invalid_api_key');
  const good = new OpenAI({ apiKey: 'sk-good', baseURL, maxRetries: 0 });
  await t.throwsAsync(good.embeddings.create({ model: 'text-embedding-3-small', input: Array(2049).fill('x') }), { instanceOf: OpenAI.BadRequestError, message: /at most 2048 inputs/ });
  await t.throwsAsync(good.embeddings.create({ model: 'text-embedding-3-small', input: 'word '.repeat(9000) }), { message: /maximum context length is 8192 tokens/ });
  await t.throwsAsync(good.embeddings.create({ model: 'text-embedding-3-small', input: '' }), { instanceOf: OpenAI.BadRequestError });
  await t.throwsAsync(good.embeddings.create({ model: 'nope', input: 'x' }), { instanceOf: OpenAI.NotFoundError });
});

test('a 429 carries retry-after and retry-after-ms; the SDK would retry it', async (t) => {
  const mock = createOpenAIMock();
  const baseURL = `${await listen(t, mock.app)}/v1`;
  mock.faults.add({ status: 429, retryAfterMs: 1500 }, { status: 503 });
  const client = new OpenAI({ apiKey: 'sk-test', baseURL, maxRetries: 0 });
  const limited = await t.throwsAsync(client.embeddings.create({ model: 'text-embedding-3-small', input: 'x' }), { instanceOf: OpenAI.RateLimitError });
  t.is(limited!.headers?.get('retry-after-ms'), '1500');
  t.is(limited!.headers?.get('retry-after'), '2');
  await t.throwsAsync(client.embeddings.create({ model: 'text-embedding-3-small', input: 'x' }), { instanceOf: OpenAI.InternalServerError });
  const retrying = new OpenAI({ apiKey: 'sk-test', baseURL, maxRetries: 2 });
  mock.faults.add({ status: 429, retryAfterMs: 10 });
  const ok = await retrying.embeddings.create({ model: 'text-embedding-3-small', input: 'x', dimensions: 4 });
  t.is(ok.data.length, 1, 'the SDK honoured the Retry-After and retried');
});

test('the adapter turns failures into transient or permanent AdapterErrors, and batches within limits', async (t) => {
  const mock = createOpenAIMock();
  const baseURL = `${await listen(t, mock.app)}/v1`;
  const embedder = new OpenAIEmbedder({ apiKey: 'sk-test', baseURL, dimensions: 32 });
  const vectors = await embedder.embed([{ text: 'a b c', tokens: 3 }, { text: 'd e', tokens: 2 }]);
  t.deepEqual(vectors[1], Array.from(new Float32Array(hashEmbedding('d e', 32))));
  mock.faults.add({ status: 429, retryAfterMs: 2500 });
  t.like(await t.throwsAsync(embedder.embed([{ text: 'x', tokens: 1 }]), { instanceOf: AdapterError }), { transient: true, retryAfterMs: 2500, status: 429 });
  mock.faults.add({ status: 500 });
  t.like(await t.throwsAsync(embedder.embed([{ text: 'x', tokens: 1 }])), { transient: true, status: 500 });
  const wrongKey = new OpenAIEmbedder({ apiKey: 'sk-test', baseURL, model: 'text-embedding-ada-002', dimensions: 8 });
  t.like(await t.throwsAsync(wrongKey.embed([{ text: 'x', tokens: 1 }])), { transient: false, status: 400 });
  const unreachable = new OpenAIEmbedder({ apiKey: 'sk-test', baseURL: 'http://127.0.0.1:9/v1' });
  t.like(await t.throwsAsync(unreachable.embed([{ text: 'x', tokens: 1 }])), { transient: true, code: 'OPENAI_UNREACHABLE' });

  const many = Array.from({ length: 5000 }, () => ({ tokens: 100 }));
  const split = batches(many);
  t.true(split.every((b) => b.length <= 2048 && b.reduce((s, x) => s + x.tokens, 0) <= 300_000));
  t.is(split.flat().length, 5000);
});

import test from 'ava';
import { loadConfig } from '../../server/config.js';

test('budgets are off unless set; a rate is <count>/<window> in ms, s, m or min, h', (t) => {
  const defaults = loadConfig({});
  for (const name of ['UPLOAD_RATE_LIMIT', 'EMBEDDER_CONCURRENCY', 'EMBEDDER_TOKEN_LIMIT', 'EMBEDDER_REQUEST_LIMIT', 'PARSER_CONCURRENCY', 'PARSER_REQUEST_LIMIT'] as const) {
    t.is(defaults[name], undefined, name);
  }
  t.is(defaults.PROVIDER_PAUSE_MS, 1000);
  t.like(
    loadConfig({
      UPLOAD_RATE_LIMIT: '60/1m',
      EMBEDDER_TOKEN_LIMIT: '1000000/60s',
      EMBEDDER_REQUEST_LIMIT: '3000 / min',
      PARSER_REQUEST_LIMIT: '5/500ms',
      EMBEDDER_CONCURRENCY: '4',
      PARSER_CONCURRENCY: '2',
    }),
    {
      UPLOAD_RATE_LIMIT: { limit: 60, windowMs: 60_000 },
      EMBEDDER_TOKEN_LIMIT: { limit: 1_000_000, windowMs: 60_000 },
      EMBEDDER_REQUEST_LIMIT: { limit: 3000, windowMs: 60_000 },
      PARSER_REQUEST_LIMIT: { limit: 5, windowMs: 500 },
      EMBEDDER_CONCURRENCY: 4,
      PARSER_CONCURRENCY: 2,
    },
  );
  t.like(loadConfig({ UPLOAD_RATE_LIMIT: '100/h' }), { UPLOAD_RATE_LIMIT: { limit: 100, windowMs: 3_600_000 } });
});

test('bad budgets stop the start, each named with what a good one looks like', (t) => {
  const error = t.throws(() =>
    loadConfig({ UPLOAD_RATE_LIMIT: '60 per minute', EMBEDDER_TOKEN_LIMIT: '0/1m', EMBEDDER_REQUEST_LIMIT: '10/2d', PARSER_REQUEST_LIMIT: '1/1ms', EMBEDDER_CONCURRENCY: '0', PARSER_CONCURRENCY: 'two' }),
  );
  t.regex(error!.message, /UPLOAD_RATE_LIMIT: a rate is <count>\/<window>, e\.g\. 60\/1m/);
  t.regex(error!.message, /EMBEDDER_TOKEN_LIMIT\.limit: the count is at least 1/);
  t.regex(error!.message, /EMBEDDER_REQUEST_LIMIT: a rate is/);
  t.regex(error!.message, /PARSER_REQUEST_LIMIT\.windowMs: the window is at least 10ms/);
  for (const name of ['EMBEDDER_CONCURRENCY', 'PARSER_CONCURRENCY']) t.regex(error!.message, new RegExp(`${name}: `));
});

test('a token limit below one chunk is refused: no chunk could ever be embedded', (t) => {
  const error = t.throws(() => loadConfig({ EMBEDDER_TOKEN_LIMIT: '256/1m', CHUNK_TOKENS: '512' }));
  t.regex(error!.message, /EMBEDDER_TOKEN_LIMIT: allows 256 tokens per window, fewer than one chunk may hold \(CHUNK_TOKENS=512\)/);
  t.like(loadConfig({ EMBEDDER_TOKEN_LIMIT: '512/1m', CHUNK_TOKENS: '512' }), { EMBEDDER_TOKEN_LIMIT: { limit: 512 } });
});

import test from 'ava';
import { availableParallelism } from 'node:os';
import { loadConfig } from '../../server/config.js';

test('document worker settings default to one thread a core, 120 s, 1024 MB and 2000 pages', (t) => {
  t.like(loadConfig({}), { DOCUMENT_WORKERS: availableParallelism(), DOCUMENT_TIME_LIMIT_MS: 120_000, DOCUMENT_MEMORY_MB: 1024, MAX_PDF_PAGES: 2000 });
  t.like(loadConfig({ DOCUMENT_WORKERS: '3', DOCUMENT_TIME_LIMIT_MS: '5000', DOCUMENT_MEMORY_MB: '256', MAX_PDF_PAGES: '10' }), {
    DOCUMENT_WORKERS: 3,
    DOCUMENT_TIME_LIMIT_MS: 5000,
    DOCUMENT_MEMORY_MB: 256,
    MAX_PDF_PAGES: 10,
  });
});

test('bad document worker settings stop the start, each named', (t) => {
  const error = t.throws(() => loadConfig({ DOCUMENT_WORKERS: '0', DOCUMENT_TIME_LIMIT_MS: '300000', DOCUMENT_MEMORY_MB: 'lots', MAX_PDF_PAGES: '-1' }));
  for (const name of ['DOCUMENT_WORKERS', 'DOCUMENT_TIME_LIMIT_MS', 'DOCUMENT_MEMORY_MB', 'MAX_PDF_PAGES']) t.regex(error!.message, new RegExp(`${name}: `));
});

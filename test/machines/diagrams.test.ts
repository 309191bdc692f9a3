import test from 'ava';
import { readFileSync } from 'node:fs';
import { DIAGRAMS, diagramMarkdown, withReadmeDiagrams } from '../../scripts/diagram-list.js';

for (const [file, machine] of Object.entries(DIAGRAMS)) {
  test(`diagrams/${file}.md is the diagram of machines/${file}.ts (run \`npm run diagrams\` after changing it)`, (t) => {
    const committed = readFileSync(new URL(`../../diagrams/${file}.md`, import.meta.url), 'utf8');
    t.is(committed, diagramMarkdown(file, machine));
  });
}

test('the upload diagram shows every stage and the services that run in them', (t) => {
  const text = diagramMarkdown('upload', DIAGRAMS.upload!);
  for (const stage of ['queued', 'job_validated', 'parsing', 'parsed', 'chunking', 'chunked', 'embedding', 'embedded', 'complete', 'failed', 'canceled']) {
    t.regex(text, new RegExp(`state "${stage}[ "]`));
  }
  t.regex(text, /upload_parsing_waiting --> upload_parsing_checking: after pollDelay/);
  t.regex(text, /note left of upload_canceled : CANCEL from any state/);
});

test('the README shows the generated diagrams, not a drawn one', (t) => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  t.regex(readme, /<!-- diagram:upload/);
  t.is(readme, withReadmeDiagrams(readme));
});

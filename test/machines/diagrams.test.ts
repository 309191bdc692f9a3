import test from 'ava';
import { readFileSync } from 'node:fs';
import { createMachine, type AnyStateMachine } from 'xstate';
import { pathToFileURL } from 'node:url';
import { DIAGRAMS, diagramMarkdown, diagramTexts, withReadmeDiagrams } from '../../scripts/diagram-list.js';
import { toMermaid } from '../../scripts/mermaid.js';
import { sourceHash, stampedHash } from '../../scripts/render-svg.js';
import { inRepo } from '../helpers/repo.js';

const diagram = (name: string) => inRepo(`diagrams/${name}`);

for (const [file, machine] of Object.entries(DIAGRAMS)) {
  for (const [name, text] of Object.entries(diagramTexts(file, machine))) {
    test(`diagrams/${name} is what machines/${file}.ts generates (run \`npm run diagrams\` after changing it)`, (t) => {
      t.is(readFileSync(diagram(name), 'utf8'), text);
    });
  }

  test(`diagrams/${file}.svg was rendered from the current diagrams/${file}.mmd (run \`npm run diagrams\` after changing it)`, (t) => {
    const svg = readFileSync(diagram(`${file}.svg`), 'utf8');
    t.is(stampedHash(svg), sourceHash(toMermaid(machine)));
    t.regex(svg, /\n<svg id="[^"]+" width="100%" xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]* aria-roledescription="stateDiagram"/);
    t.true(svg.trimEnd().endsWith('</svg>'));
    // Plain SVG text, so it shows in an <img> and on GitHub; nothing fetched from anywhere.
    t.false(svg.includes('<foreignObject'));
    t.notRegex(svg, /(?:href|src)="https?:/);
  });

  test(`diagrams/${file}.viz.js is a machine of the same shape, importing nothing but XState`, async (t) => {
    const source = readFileSync(diagram(`${file}.viz.js`), 'utf8');
    t.deepEqual([...source.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]), ['xstate']);
    const { machine: viz } = (await import(pathToFileURL(diagram(`${file}.viz.js`)).href)) as { machine: AnyStateMachine };
    t.is(toMermaid(viz), toMermaid(machine));
  });

  test(`diagrams/${file}.json is the machine's config as data: createMachine() of it has the same shape`, (t) => {
    const config = JSON.parse(readFileSync(diagram(`${file}.json`), 'utf8')) as Parameters<typeof createMachine>[0];
    t.is(toMermaid(createMachine(config) as AnyStateMachine), toMermaid(machine));
    t.notRegex(JSON.stringify(config), /"input"|"context"|=>/);
  });
}

test('the upload diagram shows every stage, the services that run in them and the guards that branch', (t) => {
  const text = diagramMarkdown('upload', DIAGRAMS.upload!);
  for (const stage of ['queued', 'job_validated', 'parsing', 'parsed', 'chunking', 'chunked', 'embedding', 'embedded', 'complete', 'failed', 'canceled']) {
    t.regex(text, new RegExp(`state "${stage}" as upload_${stage}\\n`));
  }
  for (const [state, service] of [['queued', 'validateUpload'], ['parsing_checking', 'pollParse'], ['embedding', 'embedBatch']]) {
    t.regex(text, new RegExp(`upload_${state} : invokes ${service}\\n`));
  }
  t.regex(text, /upload_parsing_waiting --> upload_parsing_checking: after pollDelay/);
  t.regex(text, /upload_chunked --> upload_embedded: after 0 ms \[noChunks\]\n {2}upload_chunked --> upload_embedding: after 0 ms \[else\]/);
  t.regex(text, /note left of upload_canceled : CANCEL from any state/);
});

// Mermaid puts a state mentioned inside a composite's block into that composite: an arrow from
// parsing.checking to parsed written inside `parsing { … }` drew `parsed` and `failed` inside parsing.
test('an arrow leaving a composite state is written outside its block, so its target is not drawn inside', (t) => {
  const text = toMermaid(DIAGRAMS.upload!);
  const block = /state upload_parsing \{\n([\s\S]*?)\n {2}\}/.exec(text)?.[1] ?? '';
  t.regex(block, /upload_parsing_checking --> upload_parsing_waiting/);
  t.notRegex(block, /upload_parsed|upload_failed/);
  t.regex(text, /\n {2}upload_parsing_checking --> upload_parsed: done pollParse \[parseDone\]/);
});

test('the README shows the rendered SVG and the generated Mermaid, not a drawn one', (t) => {
  const readme = readFileSync(inRepo('README.md'), 'utf8');
  t.regex(readme, /<!-- diagram:upload/);
  t.regex(readme, /!\[[^\]]+\]\(diagrams\/upload\.svg\)/);
  t.is(readme, withReadmeDiagrams(readme));
});

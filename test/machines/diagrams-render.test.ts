import test from 'ava';
import { readFileSync } from 'node:fs';
import { DIAGRAMS } from '../../scripts/diagram-list.js';
import { ensureChromium } from '../../scripts/ensure-chromium.mjs';
import { toMermaid } from '../../scripts/mermaid.js';
import { openRenderer, sourceHash, stampedHash } from '../../scripts/render-svg.js';
import { inRepo } from '../helpers/repo.js';

// Rendering needs Debian's chromium: installed here when missing (as `npm run diagrams` does). Only
// when that cannot be done (not root, no apt, no package mirror) is the test skipped, saying why.
const chromium = await ensureChromium({ log: () => {} }).then(
  () => null,
  (error: Error) => error.message.split('\n')[0]!,
);
const renderTest = chromium === null ? test : test.skip;
const because = chromium === null ? '' : ` (skipped: ${chromium})`;

/** What a diagram says: the text of each <text> element (its words are in <tspan>s), without markup. */
function labels(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>([\s\S]*?)<\/text>/g)]
    .map((m) => m[1]!.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim())
    .filter(Boolean);
}

renderTest(`mermaid renders each diagram in headless chromium, with the labels of the committed SVG${because}`, async (t) => {
  const renderer = await openRenderer();
  t.teardown(() => renderer.close());
  for (const [file, machine] of Object.entries(DIAGRAMS)) {
    const source = toMermaid(machine);
    const svg = await renderer.render(file, source);
    t.is(stampedHash(svg), sourceHash(source));
    t.regex(svg, /<svg id="upload"[^>]*aria-roledescription="stateDiagram"/);
    const shown = labels(svg);
    for (const word of ['queued', 'job_validated', 'waiting', 'checking', 'complete', 'invokes embedBatch', 'done submitParse [parsedAtOnce]']) {
      t.true(shown.includes(word), `${file}.svg shows "${word}"`);
    }
    // Fonts may differ between machines, so coordinates may too; the words may not.
    t.deepEqual(labels(readFileSync(inRepo(`diagrams/${file}.svg`), 'utf8')).sort(), [...shown].sort());
  }
});

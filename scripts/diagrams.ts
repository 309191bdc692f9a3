/**
 * Writes diagrams/ from the machines, never drawn by hand: `npm run diagrams`. For each machine the
 * Markdown page, the Mermaid source (.mmd), the Stately JSON and visualizer source, and the SVG
 * rendered from the .mmd in a real browser; then the README's generated block. The SVG is rendered
 * again only when the .mmd changed (it carries the .mmd's hash), so a run on another machine with
 * other fonts leaves it alone; `npm run diagrams -- --force` renders it anyway.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import pino from 'pino';
import { DIAGRAMS, diagramTexts, withReadmeDiagrams } from './diagram-list.js';
import { openRenderer, sourceHash, stampedHash, type Renderer } from './render-svg.js';

const logger = pino({ name: 'diagrams' });
const force = process.argv.includes('--force');
const at = (path: string) => new URL(`../${path}`, import.meta.url);

let renderer: Renderer | undefined;
try {
  for (const [file, machine] of Object.entries(DIAGRAMS)) {
    const texts = diagramTexts(file, machine);
    for (const [name, text] of Object.entries(texts)) {
      writeFileSync(at(`diagrams/${name}`), text);
      logger.info({ file: `diagrams/${name}` }, 'wrote');
    }
    const mermaid = texts[`${file}.mmd`]!;
    const svgPath = at(`diagrams/${file}.svg`);
    const current = existsSync(svgPath) ? stampedHash(readFileSync(svgPath, 'utf8')) : null;
    if (!force && current === sourceHash(mermaid)) {
      logger.info({ file: `diagrams/${file}.svg` }, 'up to date with its .mmd; not rendered again (--force renders it)');
      continue;
    }
    renderer ??= await openRenderer();
    writeFileSync(svgPath, await renderer.render(file, mermaid));
    logger.info({ file: `diagrams/${file}.svg` }, 'rendered');
  }
} finally {
  await renderer?.close();
}
const readme = at('README.md');
writeFileSync(readme, withReadmeDiagrams(readFileSync(readme, 'utf8')));
logger.info({ file: 'README.md' }, 'updated diagrams in README');

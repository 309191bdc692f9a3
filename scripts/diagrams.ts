/** Writes diagrams/<machine>.md from the machines: never drawn by hand. `npm run diagrams`. */
import { readFileSync, writeFileSync } from 'node:fs';
import pino from 'pino';
import { diagramMarkdown, DIAGRAMS, withReadmeDiagrams } from './diagram-list.js';

const logger = pino({ name: 'diagrams' });
for (const [file, machine] of Object.entries(DIAGRAMS)) {
  writeFileSync(new URL(`../diagrams/${file}.md`, import.meta.url), diagramMarkdown(file, machine));
  logger.info({ file: `diagrams/${file}.md` }, 'wrote diagram');
}
const readme = new URL('../README.md', import.meta.url);
writeFileSync(readme, withReadmeDiagrams(readFileSync(readme, 'utf8')));
logger.info({ file: 'README.md' }, 'updated diagrams in README');

/** Writes diagrams/<machine>.md from the machines: never drawn by hand. `npm run diagrams`. */
import { writeFileSync } from 'node:fs';
import pino from 'pino';
import { diagramMarkdown, DIAGRAMS } from './diagram-list.js';

const logger = pino({ name: 'diagrams' });
for (const [file, machine] of Object.entries(DIAGRAMS)) {
  writeFileSync(new URL(`../diagrams/${file}.md`, import.meta.url), diagramMarkdown(file, machine));
  logger.info({ file: `diagrams/${file}.md` }, 'wrote diagram');
}

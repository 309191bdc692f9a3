import type { AnyStateMachine } from 'xstate';
import { uploadMachine } from '../machines/upload.js';
import { toMermaid } from './mermaid.js';
import { statelyJson, statelyVisualizerSource } from './stately.js';

/** The machines that get a diagram, by file name under diagrams/. */
export const DIAGRAMS: Record<string, AnyStateMachine> = { upload: uploadMachine as unknown as AnyStateMachine };

/**
 * Every text file `npm run diagrams` writes for one machine, by path under diagrams/. The SVG is
 * not here: it needs a browser (scripts/render-svg.ts), and carries the hash of the `.mmd` it was
 * rendered from instead.
 */
export function diagramTexts(file: string, machine: AnyStateMachine): Record<string, string> {
  return {
    [`${file}.md`]: diagramMarkdown(file, machine),
    [`${file}.mmd`]: toMermaid(machine),
    [`${file}.json`]: statelyJson(machine),
    [`${file}.viz.js`]: statelyVisualizerSource(machine, file),
  };
}

export function diagramMarkdown(file: string, machine: AnyStateMachine): string {
  return [
    `# ${file} machine`,
    '',
    `Generated from \`machines/${file}.ts\` by \`npm run diagrams\`; do not edit. The same diagram rendered:`,
    `[${file}.svg](${file}.svg); its Mermaid source alone: [${file}.mmd](${file}.mmd). For the interactive view,`,
    `paste [${file}.viz.js](${file}.viz.js) into the Stately visualizer (https://stately.ai/viz) or import it in`,
    `Stately Studio; [${file}.json](${file}.json) is the same config as JSON.`,
    '',
    '```mermaid',
    `${toMermaid(machine)}\`\`\``,
    '',
  ].join('\n');
}

/** README.md with the block between `<!-- diagram:NAME … -->` and `<!-- /diagram:NAME -->` regenerated. */
export function withReadmeDiagrams(readme: string): string {
  let text = readme;
  for (const [file, machine] of Object.entries(DIAGRAMS)) {
    const pattern = new RegExp(`(<!-- diagram:${file}[^>]*-->\\n)[\\s\\S]*?(<!-- /diagram:${file} -->)`);
    text = text.replace(pattern, (_all, open: string, close: string) => `${open}\`\`\`mermaid\n${toMermaid(machine)}\`\`\`\n${close}`);
  }
  return text;
}

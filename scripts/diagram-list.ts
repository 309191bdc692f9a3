import type { AnyStateMachine } from 'xstate';
import { uploadMachine } from '../machines/upload.js';
import { toMermaid } from './mermaid.js';

/** The machines that get a diagram, by file name under diagrams/. */
export const DIAGRAMS: Record<string, AnyStateMachine> = { upload: uploadMachine as unknown as AnyStateMachine };

export function diagramMarkdown(file: string, machine: AnyStateMachine): string {
  return `# ${file} machine\n\nGenerated from \`machines/${file}.ts\` by \`npm run diagrams\`; do not edit.\nFor the interactive view, paste the machine into the Stately visualizer.\n\n\`\`\`mermaid\n${toMermaid(machine)}\`\`\`\n`;
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

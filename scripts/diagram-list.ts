import type { AnyStateMachine } from 'xstate';
import { uploadMachine } from '../machines/upload.js';
import { toMermaid } from './mermaid.js';

/** The machines that get a diagram, by file name under diagrams/. */
export const DIAGRAMS: Record<string, AnyStateMachine> = { upload: uploadMachine as unknown as AnyStateMachine };

export function diagramMarkdown(file: string, machine: AnyStateMachine): string {
  return `# ${file} machine\n\nGenerated from \`machines/${file}.ts\` by \`npm run diagrams\`; do not edit.\nFor the interactive view, paste the machine into the Stately visualizer.\n\n\`\`\`mermaid\n${toMermaid(machine)}\`\`\`\n`;
}

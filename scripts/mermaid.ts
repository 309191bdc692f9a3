import type { AnyStateMachine } from 'xstate';

/** What we read off XState's state nodes (not part of its public types). */
interface Node {
  key: string;
  id: string;
  type: string;
  states: Record<string, Node>;
  initial?: { target?: Node[] };
  invoke: { id: string; src: string }[];
  transitions: Map<string, { target?: Node[]; guard?: unknown; reenter?: boolean }[]>;
  after: { delay: string | number; eventType: string }[];
  parent?: Node;
}

/**
 * A Mermaid state diagram of a machine, read from its definition: states (nested), invoked
 * services, and every transition labelled with its event ("done/error <service>", "after <delay>").
 * Deterministic, so a committed diagram can be compared with a fresh one.
 */
export function toMermaid(machine: AnyStateMachine): string {
  const root = machine.root as unknown as Node;
  const lines = ['stateDiagram-v2'];
  renderChildren(root, lines, '  ');
  return `${lines.join('\n')}\n`;
}

function name(node: Node): string {
  return node.id.replaceAll('.', '_');
}

function renderChildren(parent: Node, lines: string[], indent: string): void {
  const initial = parent.initial?.target?.[0];
  if (initial) lines.push(`${indent}[*] --> ${name(initial)}`);
  for (const node of Object.values(parent.states)) {
    const services = node.invoke.map((i) => i.src).join(', ');
    lines.push(`${indent}state "${node.key}${services ? ` (invokes ${services})` : ''}" as ${name(node)}`);
    if (Object.keys(node.states).length > 0) {
      lines.push(`${indent}state ${name(node)} {`);
      renderChildren(node, lines, `${indent}  `);
      lines.push(`${indent}}`);
    }
    if (node.type === 'final') lines.push(`${indent}${name(node)} --> [*]`);
  }
  for (const node of [parent, ...Object.values(parent.states)]) {
    for (const [event, transitions] of node.transitions) {
      transitions.forEach((transition, i) => {
        const target = transition.target?.[0];
        if (!target || (node === parent && parent.parent)) return;
        if (node === parent) {
          // The root's own transitions apply in every state: a note, not an arrow from nowhere.
          lines.push(`${indent}note left of ${name(target)} : ${label(node, event)} from any state`);
          return;
        }
        const guarded = transition.guard ? (i < transitions.length - 1 ? ' [if]' : ' [else]') : i > 0 ? ' [else]' : '';
        lines.push(`${indent}${name(node)} --> ${name(target)}: ${label(node, event)}${guarded}`);
      });
    }
  }
}

function label(node: Node, event: string): string {
  const actor = /^xstate\.(done|error)\.actor\.(.+)$/.exec(event);
  if (actor) {
    const src = node.invoke.find((i) => i.id === actor[2])?.src ?? actor[2];
    return `${actor[1]} ${src}`;
  }
  const delayed = node.after.find((a) => a.eventType === event);
  if (delayed) return `after ${delayed.delay}${typeof delayed.delay === 'number' ? ' ms' : ''}`;
  return event;
}

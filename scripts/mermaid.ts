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
 *
 * Each arrow is written in the innermost composite state that holds both its ends: Mermaid places a
 * state named inside a composite's block in that composite, so an arrow from `parsing.checking` to
 * `parsed` written inside `parsing { … }` would draw `parsed` inside `parsing`.
 */
export function toMermaid(machine: AnyStateMachine): string {
  const root = machine.root as unknown as Node;
  const edges = new Map<Node, string[]>();
  collectEdges(root, root, edges);
  const lines = ['stateDiagram-v2'];
  renderChildren(root, edges, lines, '  ');
  return `${lines.join('\n')}\n`;
}

function name(node: Node): string {
  return node.id.replaceAll('.', '_');
}

function renderChildren(parent: Node, edges: Map<Node, string[]>, lines: string[], indent: string): void {
  const initial = parent.initial?.target?.[0];
  if (initial) lines.push(`${indent}[*] --> ${name(initial)}`);
  for (const node of Object.values(parent.states)) {
    lines.push(`${indent}state "${node.key}" as ${name(node)}`);
    // A description line under the name (Mermaid wraps long names mid-word, never a description).
    for (const { src } of node.invoke) lines.push(`${indent}${name(node)} : invokes ${src}`);
    if (Object.keys(node.states).length > 0) {
      lines.push(`${indent}state ${name(node)} {`);
      renderChildren(node, edges, lines, `${indent}  `);
      lines.push(`${indent}}`);
    }
    if (node.type === 'final') lines.push(`${indent}${name(node)} --> [*]`);
  }
  for (const edge of edges.get(parent) ?? []) lines.push(`${indent}${edge}`);
}

/** Every transition of `node` and its descendants, filed under the composite its arrow is drawn in. */
function collectEdges(node: Node, root: Node, edges: Map<Node, string[]>): void {
  for (const [event, transitions] of node.transitions) {
    transitions.forEach((transition, i) => {
      const target = transition.target?.[0];
      if (!target) return;
      if (node === root) {
        // The root's own transitions apply in every state: a note, not an arrow from nowhere.
        file(edges, root, `note left of ${name(target)} : ${label(node, event)} from any state`);
        return;
      }
      const guarded = transition.guard ? ` [${guardName(transition.guard)}]` : i > 0 ? ' [else]' : '';
      file(edges, scopeOf(node, target), `${name(node)} --> ${name(target)}: ${label(node, event)}${guarded}`);
    });
  }
  for (const child of Object.values(node.states)) collectEdges(child, root, edges);
}

/** A guard's name: a named reference's type, a named function's name, or `if` for an anonymous one. */
function guardName(guard: unknown): string {
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') return guard.name && guard.name !== 'guard' ? guard.name : 'if';
  const type = (guard as { type?: unknown }).type;
  return typeof type === 'string' ? type : 'if';
}

function file(edges: Map<Node, string[]>, scope: Node, line: string): void {
  const list = edges.get(scope);
  if (list) list.push(line);
  else edges.set(scope, [line]);
}

/** The innermost state that strictly contains both `source` and `target`. */
function scopeOf(source: Node, target: Node): Node {
  const above = new Set<Node>();
  for (let n = source.parent; n; n = n.parent) above.add(n);
  for (let n = target.parent; n; n = n.parent) if (above.has(n)) return n;
  throw new Error(`states ${source.id} and ${target.id} share no parent`);
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

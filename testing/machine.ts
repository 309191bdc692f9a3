import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition, StateValue } from 'xstate';

/**
 * What a machine is made of, for coverage: every state node and every transition definition,
 * found by walking `machine.root` (its `transitions` map holds `on`, `after` and invoke
 * `onDone`/`onError`; `always` is kept apart).
 */
export interface MachineShape {
  machine: AnyStateMachine;
  /** Every state node below the root, as its path (`parsing.waiting`), in document order. */
  states: string[];
  /** Every transition definition, labelled. */
  transitions: TransitionShape[];
  /** Transition definition -> its index in `transitions`. */
  indexOf: Map<AnyTransitionDefinition, number>;
  /** Invocation id -> the `src` it invokes (a name from `setup({ actors })`). */
  invokes: Map<string, string>;
  /** Path -> state node, the root included as `(machine)`. */
  nodes: Map<string, AnyStateNode>;
}

export interface TransitionShape {
  /** `queued → job_validated  done validateUpload`, with `[1/2]` when one event has several candidates. */
  label: string;
  /** The source state's path; `(machine)` for the root. */
  source: string;
}

export function shapeOf(machine: AnyStateMachine): MachineShape {
  const shape: MachineShape = { machine, states: [], transitions: [], indexOf: new Map(), invokes: new Map(), nodes: new Map() };
  const visit = (node: AnyStateNode): void => {
    if (node !== machine.root) shape.states.push(pathOf(node));
    shape.nodes.set(pathOf(node), node);
    for (const invoke of node.invoke) if (typeof invoke.src === 'string') shape.invokes.set(invoke.id, invoke.src);
    const groups = [...node.transitions.values()];
    if (node.always?.length) groups.push(node.always);
    for (const group of groups) {
      group.forEach((transition, i) => {
        shape.indexOf.set(transition, shape.transitions.length);
        const candidate = group.length > 1 ? ` [${i + 1}/${group.length}${transition.guard ? ', guarded' : ''}]` : '';
        shape.transitions.push({ source: pathOf(node), label: `${arrow(node, transition)}  ${eventLabel(node, transition.eventType)}${candidate}` });
      });
    }
    for (const child of Object.values(node.states) as AnyStateNode[]) visit(child);
  };
  visit(machine.root);
  return shape;
}

/** A state node's path below the root (`parsing.waiting`), `(machine)` for the root. */
export function pathOf(node: AnyStateNode): string {
  return node.path.length ? node.path.join('.') : '(machine)';
}

function arrow(node: AnyStateNode, transition: AnyTransitionDefinition): string {
  const targets = transition.target?.map((target) => pathOf(target as AnyStateNode)).join(', ');
  return `${pathOf(node)} → ${targets ?? '(no target)'}`;
}

/** How a transition's event reads: `done validateUpload`, `after 0 ms`, `after pollDelay`, `always`, `CANCEL`. */
export function eventLabel(node: AnyStateNode, eventType: string): string {
  if (eventType === '') return 'always';
  const after = /^xstate\.after\.(.+)$/.exec(eventType);
  if (after) {
    const delay = after[1]!.endsWith(`.${node.id}`) ? after[1]!.slice(0, -node.id.length - 1) : after[1]!;
    return /^\d+$/.test(delay) ? `after ${delay} ms` : `after ${delay}`;
  }
  const actor = /^xstate\.(done|error)\.actor\.(.+)$/.exec(eventType);
  if (actor) {
    const invoke = node.invoke.find((i) => i.id === actor[2]);
    return `${actor[1]} ${typeof invoke?.src === 'string' ? invoke.src : actor[2]}`;
  }
  const doneState = /^xstate\.done\.state\.(.+)$/.exec(eventType);
  if (doneState) return `done (final state of ${doneState[1]})`;
  return eventType;
}

/** The state nodes a state value makes active (below the root), as paths. */
export function activeStates(machine: AnyStateMachine, value: StateValue): string[] {
  const found: string[] = [];
  const visit = (node: AnyStateNode, v: StateValue): void => {
    const entries: [string, StateValue | undefined][] = typeof v === 'string' ? [[v, undefined]] : Object.entries(v);
    for (const [key, sub] of entries) {
      const child = node.states[key] as AnyStateNode | undefined;
      if (!child) continue;
      found.push(pathOf(child));
      if (sub !== undefined) visit(child, sub);
    }
  };
  visit(machine.root, value);
  return found;
}

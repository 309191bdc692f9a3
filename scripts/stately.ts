import type { AnyStateMachine } from 'xstate';

/**
 * A machine's config as Stately's tools take it: the JSON that Studio's "Import from code" and the
 * visualizer read inside `createMachine(…)`, and that the inspector receives as an actor's
 * `definition`. Everything is data: guards, actions, actors and delays are named references, and
 * the functions only code can hold (context and input factories, action params) are left out.
 *
 * Inline functions get names: a guard its function name (`function parsedAtOnce({ event }) {…}`),
 * an inline `assign` the keys it assigns (`assignParseAndWarnings`), any other action its type
 * without the `xstate.` prefix. Deterministic, so a committed file can be compared with a fresh one.
 */
export interface StatelyDefinition {
  config: Record<string, unknown>;
  /** Every name the config refers to, by kind, for the implementations a visualizer needs. */
  names: { actions: string[]; guards: string[]; actors: string[]; delays: string[] };
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Names = { [K in keyof StatelyDefinition['names']]: Set<string> };

export function statelyDefinition(machine: AnyStateMachine): StatelyDefinition {
  const names: Names = { actions: new Set(), guards: new Set(), actors: new Set(), delays: new Set() };
  const config = stateConfig(machine.config as Record<string, unknown>, names, 'root');
  const sorted = (set: Set<string>) => [...set].sort();
  return {
    config,
    names: { actions: sorted(names.actions), guards: sorted(names.guards), actors: sorted(names.actors), delays: sorted(names.delays) },
  };
}

/** The JSON file: the config alone, as Studio exports and imports "JSON code for use with XState". */
export function statelyJson(machine: AnyStateMachine): string {
  return `${JSON.stringify(statelyDefinition(machine).config, null, 2)}\n`;
}

/**
 * A file that pastes as it is into the Stately visualizer (stately.ai/viz) or Studio's "Import from
 * code": `createMachine(config, implementations)` importing nothing but XState. The implementations
 * are stand-ins (guards false, actions nothing, services never settle), enough to click through it.
 */
export function statelyVisualizerSource(machine: AnyStateMachine, file: string): string {
  const { config, names } = statelyDefinition(machine);
  const delays = (machine.implementations as { delays?: Record<string, unknown> }).delays ?? {};
  const block = (kind: string, list: string[], value: (name: string) => string) =>
    [`    ${kind}: {`, ...list.map((name) => `      ${key(name)}: ${value(name)},`), '    },'];
  const lines = [
    `// The ${file} machine for the Stately visualizer (https://stately.ai/viz) and Studio's "Import from code":`,
    `// paste this file as it is. Generated from machines/${file}.ts by \`npm run diagrams\`; do not edit.`,
    '// Guards, actions, actors and delays are named references. Their implementations here are stand-ins',
    '// (guards false, actions do nothing, services never settle, computed delays 1 second); the real ones',
    `// are in machines/${file}.ts and the services the runtime is given.`,
    "import { createMachine, fromPromise } from 'xstate';",
    '',
    'export const machine = createMachine(',
    `  ${JSON.stringify(config, null, 2).replaceAll('\n', '\n  ')},`,
    '  {',
    ...block('actions', names.actions, () => '() => {}'),
    ...block('guards', names.guards, () => '() => false'),
    ...block('actors', names.actors, () => 'fromPromise(() => new Promise(() => {}))'),
    ...block('delays', names.delays, (name) => (typeof delays[name] === 'number' ? String(delays[name]) : '1000')),
    '  },',
    ');',
  ];
  return `${lines.join('\n')}\n`;
}

function key(name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? name : JSON.stringify(name);
}

function stateConfig(node: Record<string, unknown>, names: Names, where: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(node)) {
    if (value === undefined || field === 'types') continue;
    switch (field) {
      case 'states':
        out.states = Object.fromEntries(
          Object.entries(value as Record<string, Record<string, unknown>>).map(([child, config]) => [child, stateConfig(config, names, `${where}.${child}`)]),
        );
        break;
      case 'on':
        out.on = mapValues(value, (transitions) => transitionList(transitions, names));
        break;
      case 'after':
        out.after = mapValues(value, (transitions) => transitionList(transitions, names));
        for (const delay of Object.keys(value as object)) if (!/^\d+$/.test(delay)) names.delays.add(delay);
        break;
      case 'always':
      case 'onDone':
        out[field] = transitionList(value, names);
        break;
      case 'entry':
      case 'exit':
        out[field] = actionList(value, names);
        break;
      case 'invoke':
        out.invoke = Array.isArray(value) ? value.map((one) => invokeConfig(one, names, where)) : invokeConfig(value, names, where);
        break;
      default: {
        // context and output factories, and anything else that is code, cannot travel as data.
        const data = toJson(value);
        if (data !== undefined) out[field] = data;
      }
    }
  }
  return out;
}

function invokeConfig(value: unknown, names: Names, where: string): Record<string, unknown> {
  const invoke = value as Record<string, unknown>;
  const src = typeof invoke.src === 'string' ? invoke.src : String((invoke.id as string | undefined) ?? `${where}.invoke`);
  names.actors.add(src);
  const out: Record<string, unknown> = {};
  if (typeof invoke.id === 'string') out.id = invoke.id;
  out.src = src;
  if (typeof invoke.systemId === 'string') out.systemId = invoke.systemId;
  for (const field of ['onDone', 'onError', 'onSnapshot'] as const) {
    if (invoke[field] !== undefined) out[field] = transitionList(invoke[field], names);
  }
  return out;
}

/** One transition or several, kept in the shape the config gave (string, object, array). */
function transitionList(value: unknown, names: Names): unknown {
  if (Array.isArray(value)) return value.map((one) => transition(one, names));
  return transition(value, names);
}

function transition(value: unknown, names: Names): unknown {
  if (typeof value === 'string' || value === undefined) return value;
  const t = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [field, v] of Object.entries(t)) {
    if (v === undefined) continue;
    if (field === 'guard') out.guard = guardRef(v, names);
    else if (field === 'actions') out.actions = actionList(v, names);
    else {
      const data = toJson(v);
      if (data !== undefined) out[field] = data;
    }
  }
  return out;
}

function guardRef(guard: unknown, names: Names): unknown {
  const name =
    typeof guard === 'string'
      ? guard
      : typeof guard === 'function'
        ? guard.name && guard.name !== 'guard'
          ? guard.name
          : 'guard'
        : String((guard as { type?: unknown }).type ?? 'guard');
  names.guards.add(name);
  return typeof guard === 'object' && guard !== null && typeof (guard as { params?: unknown }).params === 'object'
    ? { type: name, params: toJson((guard as { params: unknown }).params) }
    : { type: name };
}

function actionList(value: unknown, names: Names): unknown {
  if (Array.isArray(value)) return value.map((one) => actionRef(one, names));
  return actionRef(value, names);
}

function actionRef(action: unknown, names: Names): unknown {
  let name: string;
  let params: Json | undefined;
  if (typeof action === 'string') name = action;
  else if (typeof action === 'function') name = inlineActionName(action as InlineAction);
  else {
    const object = action as { type?: unknown; params?: unknown };
    name = String(object.type ?? 'action');
    if (typeof object.params === 'object') params = toJson(object.params);
  }
  names.actions.add(name);
  return params === undefined ? { type: name } : { type: name, params };
}

interface InlineAction {
  name: string;
  type?: string;
  assignment?: unknown;
}

function inlineActionName(action: InlineAction): string {
  if (action.type === 'xstate.assign') {
    const keys = typeof action.assignment === 'object' && action.assignment !== null ? Object.keys(action.assignment) : ['context'];
    return `assign${keys.map((k) => k[0]!.toUpperCase() + k.slice(1)).join('And')}`;
  }
  if (typeof action.type === 'string') return action.type.replace(/^xstate\./, '');
  return action.name || 'action';
}

function mapValues(value: unknown, fn: (v: unknown) => unknown): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, fn(v)]));
}

/** The value as JSON data, or undefined when it holds code. */
function toJson(value: unknown): Json | undefined {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (Array.isArray(value)) {
    const items = value.map(toJson);
    return items.every((item) => item !== undefined) ? (items as Json[]) : undefined;
  }
  if (typeof value === 'object') {
    const out: Record<string, Json> = {};
    for (const [k, v] of Object.entries(value)) {
      const data = toJson(v);
      if (data === undefined) return undefined;
      out[k] = data;
    }
    return out;
  }
  return undefined;
}

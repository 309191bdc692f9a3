import { createEmptyActor, type AnyEventObject, type AnyMachineSnapshot, type AnyTransitionDefinition, type StateValue } from 'xstate';
import { activeStates, eventLabel, type MachineShape } from './machine.js';

/**
 * The pure machine with time: a snapshot, the time since the instance started, and the timers the
 * durable runtime would hold for it (every delayed `raise` — so every `after` — and every `sendTo`
 * self, which the runtime delivers in a later step). Computed with the machine's own `transition()`
 * and the actions it returns, the way the runtime computes its steps, so the model and the engine
 * agree on which timer falls due first.
 */
export interface Moment {
  snapshot: AnyMachineSnapshot;
  /** Milliseconds since the instance started. */
  now: number;
  /** Pending timers, in the order they were scheduled. */
  timers: Timer[];
}

export interface Timer {
  /** The action's id (`xstate.after.…` for `after`), as the runtime keys its timer rows. */
  id: string;
  event: AnyEventObject;
  /** Milliseconds since the instance started. */
  dueAt: number;
}

/** One pure step: where it leads and the transition definitions it took (eventless and raised ones included). */
export interface Moved {
  moment: Moment;
  taken: AnyTransitionDefinition[];
  /** The state value after each microstep: states passed through (left by an eventless transition) count as reached. */
  passed: StateValue[];
}

/** A next step the model may take from a moment. */
export interface Choice {
  event: AnyEventObject;
  /** `send`: the test sends it; `done`/`error`: an invoked service settles; `timer`: the clock reaches a due time. */
  kind: 'send' | 'done' | 'error' | 'timer';
  /** `done submitParse[1]`, `after pollDelay`, `CANCEL`. */
  label: string;
  /** For `timer`: the timer that fires. */
  timer?: Timer;
  /** For `done`/`error`: the invocation and its service, and which example of the service's outcomes. */
  childId?: string;
  src?: string;
  example?: number;
}

/** What the model may inject: outcomes per service `src` (as the machine receives them) and example events. */
export interface Catalog {
  outputs(src: string): unknown[];
  errors(src: string): unknown[];
  events: AnyEventObject[];
}

interface ExecutedAction {
  type: string;
  params?: Record<string, unknown>;
}

/**
 * An actor scope that runs nothing: actions are collected (as XState's own `transition()` does),
 * and the transitions each microstep takes are read from the `@xstate.microstep` inspection event.
 */
function recorder() {
  const empty = createEmptyActor();
  const actions: ExecutedAction[] = [];
  const taken: AnyTransitionDefinition[] = [];
  const passed: StateValue[] = [];
  const system = {
    ...empty.system,
    _sendInspectionEvent(event: { type: string; _transitions?: AnyTransitionDefinition[]; snapshot?: { value?: StateValue } }) {
      if (event.type !== '@xstate.microstep') return;
      if (event._transitions) taken.push(...event._transitions);
      if (event.snapshot?.value !== undefined) passed.push(event.snapshot.value);
    },
  };
  const scope = {
    self: empty,
    logger: () => {},
    id: '',
    sessionId: 'docket-testing',
    defer: () => {},
    system,
    stopChild: () => {},
    emit: () => {},
    actionExecutor: (action: ExecutedAction) => void actions.push(action),
  };
  return { scope, actions, taken, passed, self: empty };
}

export function startMoment(shape: MachineShape, input: unknown): Moved {
  const { scope, actions, taken, passed, self } = recorder();
  const snapshot = shape.machine.getInitialSnapshot(scope as never, input) as AnyMachineSnapshot;
  return { moment: schedule({ snapshot, now: 0, timers: [] }, actions, self), taken, passed: [...passed, snapshot.value] };
}

/** Applies `choice` to `moment`: a timer first moves time to its due time. */
export function move(shape: MachineShape, moment: Moment, choice: Choice): Moved {
  const { scope, actions, taken, passed, self } = recorder();
  const timer = choice.timer;
  const now = timer ? Math.max(moment.now, timer.dueAt) : moment.now;
  const timers = timer ? moment.timers.filter((t) => t !== timer) : moment.timers;
  const snapshot = shape.machine.transition(moment.snapshot, choice.event, scope as never) as AnyMachineSnapshot;
  if (taken.length === 0 && snapshot.status === 'active') {
    // No inspection (an XState that stopped sending it): the event's own transitions at least.
    taken.push(...(shape.machine.getTransitionData(moment.snapshot, choice.event) as AnyTransitionDefinition[]));
  }
  return { moment: schedule({ snapshot, now, timers }, actions, self), taken, passed: [...passed, snapshot.value] };
}

/** Adds the timers a step's actions schedule and drops the ones they cancel; none outlive a finished instance. */
function schedule(moment: Moment, actions: ExecutedAction[], self: unknown): Moment {
  let timers = [...moment.timers];
  for (const { type, params = {} } of actions) {
    if (type === 'xstate.cancel') timers = timers.filter((t) => t.id !== params.sendId);
    const delayed = type === 'xstate.raise' && typeof params.delay === 'number';
    const toSelf = type === 'xstate.sendTo' && params.to === self;
    if (!delayed && !toSelf) continue;
    const id = typeof params.id === 'string' ? params.id : `${type}.${moment.now}.${timers.length}`;
    timers = timers.filter((t) => t.id !== id);
    timers.push({ id, event: params.event as AnyEventObject, dueAt: moment.now + (typeof params.delay === 'number' ? params.delay : 0) });
  }
  return { ...moment, timers: moment.snapshot.status === 'active' ? timers : [] };
}

/** The timer that fires next: the earliest due, the first scheduled among equals. */
export function nextTimer(moment: Moment): Timer | undefined {
  return moment.timers.reduce<Timer | undefined>((first, t) => (first === undefined || t.dueAt < first.dueAt ? t : first), undefined);
}

/**
 * What can happen next. A timer already due fires before anything else can (the runtime applies it
 * on its own), so it is then the only choice. Otherwise: the events the active states handle, the
 * outcomes of the running invocations, and the next timer (only the earliest: the clock cannot reach
 * a later one without firing it).
 */
export function choicesAt(shape: MachineShape, moment: Moment, catalog: Catalog): Choice[] {
  const { snapshot } = moment;
  if (snapshot.status !== 'active') return [];
  const timer = nextTimer(moment);
  const timerChoice: Choice[] = timer ? [{ event: timer.event, kind: 'timer', label: timerLabel(shape, timer.event), timer }] : [];
  if (timer && timer.dueAt <= moment.now) return timerChoice;
  const choices: Choice[] = [];
  for (const type of ownEventTypes(shape, snapshot)) choices.push(...choicesFor(shape, snapshot, type, catalog));
  return [...choices, ...timerChoice];
}

function ownEventTypes(shape: MachineShape, snapshot: AnyMachineSnapshot): Set<string> {
  const types = new Set<string>();
  for (const path of ['(machine)', ...activeStates(shape.machine, snapshot.value)]) {
    for (const type of shape.nodes.get(path)?.transitions.keys() ?? []) types.add(type);
  }
  return types;
}

function choicesFor(shape: MachineShape, snapshot: AnyMachineSnapshot, type: string, catalog: Catalog): Choice[] {
  const actor = /^xstate\.(done|error)\.actor\.(.+)$/.exec(type);
  if (actor) {
    const childId = actor[2]!;
    const child = (snapshot.children as Record<string, { src?: unknown } | undefined>)[childId];
    const src = shape.invokes.get(childId) ?? (typeof child?.src === 'string' ? child.src : undefined);
    if (!child || !src) return [];
    const kind = actor[1] as 'done' | 'error';
    const examples = kind === 'done' ? catalog.outputs(src) : catalog.errors(src);
    return examples.map((example, i) => ({
      event: kind === 'done' ? { type, output: example } : { type, error: example },
      kind,
      label: `${kind} ${src}${examples.length > 1 ? `[${i}]` : ''}`,
      childId,
      src,
      example: i,
    }));
  }
  if (type.startsWith('xstate.')) return []; // timers come from the pending list; done.state and the like are raised inside a step
  const wildcard = type === '*' || type.endsWith('.*');
  const matching = catalog.events.filter((e) => (wildcard ? type === '*' || e.type.startsWith(type.slice(0, -1)) : e.type === type));
  const events = matching.length || wildcard ? matching : [{ type }];
  return events.map((event, i) => ({ event, kind: 'send', label: events.length > 1 ? `${event.type}[${i}]` : event.type }));
}

function timerLabel(shape: MachineShape, event: AnyEventObject): string {
  const after = /^xstate\.after\.(.+)$/.exec(event.type);
  if (!after) return `timer ${event.type}`;
  // The state node whose id ends the event type (the longest such id: ids may be short custom ones).
  const owner = [...shape.nodes.values()].filter((node) => after[1]!.endsWith(`.${node.id}`)).sort((a, b) => b.id.length - a.id.length)[0];
  return owner ? eventLabel(owner, event.type) : `after ${after[1]}`;
}

import { getAdjacencyMap, getShortestPaths } from 'xstate/graph';
import type { AnyActorLogic, AnyEventObject, AnyMachineSnapshot, StateValue } from 'xstate';
import { activeStates, type MachineShape } from './machine.js';
import { choicesAt, move, nextTimer, startMoment, type Catalog, type Choice, type Moment, type Moved } from './pure.js';

/** One step of a planned path, as the pure machine computes it. */
export interface PlannedStep {
  choice: Choice;
  /** The moment after the step. */
  moment: Moment;
  /** Indexes of the transitions it took (into MachineShape.transitions). */
  taken: number[];
  /** State values it passed through, its end included. */
  passed: StateValue[];
  /** True when the runtime takes it on its own: a timer already due when the step before ended. */
  automatic: boolean;
}

export interface PlannedPath {
  start: { moment: Moment; taken: number[]; passed: StateValue[] };
  steps: PlannedStep[];
  /** `done validateUpload → CANCEL`; automatic steps in parentheses. */
  description: string;
  /** What the path covers: `t<index>` per transition, `s<path>` per state. */
  covers: Set<string>;
}

export interface PlanOptions {
  input: unknown;
  stateKey: (snapshot: AnyMachineSnapshot) => unknown;
  strategy: 'shortest' | 'minimal';
  maxStates: number;
}

/**
 * Paths through the machine for the runtime to follow. xstate/graph explores the pure machine
 * (with its timers, see pure.ts) and gives the shortest path to every distinct state; each edge of
 * its adjacency map extends one of them. Every candidate is then replayed exactly from the start,
 * cut where a step is not realizable (a timer would fire first), and completed with the timers that
 * fall due at its end. `shortest` keeps every shortest path and tops them up with edge paths for the
 * transitions they miss; `minimal` keeps the fewest candidates that cover as much (greedy set cover).
 * Paths that are a prefix of another are dropped.
 */
export function planPaths(shape: MachineShape, catalog: Catalog, options: PlanOptions): PlannedPath[] {
  const first = start(shape, options.input);
  const { shortest, edges } = explore(shape, catalog, options, first.moment);
  const replay = (events: AnyEventObject[]) => replayPath(shape, catalog, first, events);
  const base = shortest.map(replay);
  const extensions = edges.map(replay).sort((a, b) => a.steps.length - b.steps.length);
  let chosen: PlannedPath[];
  if (options.strategy === 'minimal') {
    chosen = greedyCover([...base, ...extensions]);
  } else {
    chosen = [...base];
    const covered = new Set(base.flatMap((p) => [...p.covers]));
    for (const path of extensions) {
      if (![...path.covers].some((item) => !covered.has(item))) continue;
      chosen.push(path);
      for (const item of path.covers) covered.add(item);
    }
  }
  return withoutPrefixes(chosen).sort((a, b) => a.steps.length - b.steps.length || a.description.localeCompare(b.description));
}

/** The event sequences of xstate/graph's shortest paths, and of each adjacency edge appended to the path to its source. */
function explore(shape: MachineShape, catalog: Catalog, options: PlanOptions, first: Moment) {
  const choiceOf = new WeakMap<AnyEventObject, Choice>();
  // The graph's states are moments (snapshot + time + timers); its events are the choices' events.
  const logic = {
    transition: (moment: Moment, event: AnyEventObject) => guardedMove(shape, moment, choiceOf.get(event)!).moment,
    getInitialSnapshot: () => first,
    getPersistedSnapshot: (moment: Moment) => moment,
  } as unknown as AnyActorLogic;
  const traversal = {
    fromState: first,
    events: (moment: Moment) =>
      choicesAt(shape, moment, catalog).map((choice) => {
        choiceOf.set(choice.event, choice);
        return choice.event;
      }),
    serializeState: (moment: Moment) => JSON.stringify(options.stateKey(moment.snapshot)) ?? 'undefined',
    limit: options.maxStates,
  };
  try {
    const toState = new Map<string, AnyEventObject[]>();
    const shortest = getShortestPaths(logic, traversal as never).map((path) => {
      const events = path.steps.slice(1).map((step) => step.event as AnyEventObject);
      toState.set(traversal.serializeState(path.state as unknown as Moment), events);
      return events;
    });
    const edges: AnyEventObject[][] = [];
    for (const [key, node] of Object.entries(getAdjacencyMap(logic, traversal as never))) {
      for (const { event } of Object.values(node.transitions) as { event: AnyEventObject }[]) edges.push([...(toState.get(key) ?? []), event as AnyEventObject]);
    }
    return { shortest, edges };
  } catch (error) {
    if ((error as Error).message === 'Traversal limit exceeded') {
      throw new Error(
        `the machine has more than ${options.maxStates} distinct states as stateKey tells them apart (a counter in the context?): ` +
          'pass a stateKey that keeps only what guards and delays read, or raise maxStates',
        { cause: error },
      );
    }
    throw error;
  }
}

function start(shape: MachineShape, input: unknown): Moved {
  let error: unknown;
  try {
    const first = startMoment(shape, input);
    if (first.moment.snapshot.status !== 'error') return first;
    error = first.moment.snapshot.error; // XState keeps what the context factory threw in the snapshot
  } catch (thrown) {
    error = thrown;
  }
  throw new Error(`the machine threw while starting with input ${JSON.stringify(input)}: ${(error as Error)?.message ?? String(error)} (give options.input)`, { cause: error });
}

function guardedMove(shape: MachineShape, moment: Moment, choice: Choice): Moved {
  try {
    return move(shape, moment, choice);
  } catch (error) {
    const hint = choice.kind === 'done' || choice.kind === 'error' ? ` (give outcomes the machine can read in services.${choice.src})` : '';
    throw new Error(`the machine threw on ${choice.label} in ${JSON.stringify(moment.snapshot.value)}: ${(error as Error).message}${hint}`, { cause: error });
  }
}

function replayPath(shape: MachineShape, catalog: Catalog, first: Moved, events: AnyEventObject[]): PlannedPath {
  const steps: PlannedStep[] = [];
  let moment = first.moment;
  const take = (choice: Choice) => {
    const moved = guardedMove(shape, moment, choice);
    const automatic = choice.kind === 'timer' && choice.timer!.dueAt <= moment.now;
    steps.push({ choice, moment: moved.moment, taken: moved.taken.map((t) => shape.indexOf.get(t)!), passed: moved.passed, automatic });
    moment = moved.moment;
  };
  for (const event of events) {
    const key = JSON.stringify(event);
    const choice = choicesAt(shape, moment, catalog).find((c) => JSON.stringify(c.event) === key);
    if (!choice) break; // not realizable from here: another timer falls due first
    take(choice);
  }
  // Timers due at the end fire on their own in the runtime; the path ends where the instance rests.
  for (let guard = 0; guard < 100; guard++) {
    const timer = nextTimer(moment);
    if (!timer || timer.dueAt > moment.now || moment.snapshot.status !== 'active') break;
    take(choicesAt(shape, moment, catalog)[0]!);
  }
  const start = { moment: first.moment, taken: first.taken.map((t) => shape.indexOf.get(t)!), passed: first.passed };
  const covers = new Set<string>();
  for (const { taken, passed } of [start, ...steps]) {
    for (const t of taken) covers.add(`t${t}`);
    for (const s of new Set(passed.flatMap((value) => activeStates(shape.machine, value)))) covers.add(`s${s}`);
  }
  const description = steps.map((s) => (s.automatic ? `(${s.choice.label})` : s.choice.label)).join(' → ') || '(start only)';
  return { start, steps, description, covers };
}

function greedyCover(candidates: PlannedPath[]): PlannedPath[] {
  const chosen: PlannedPath[] = [];
  const covered = new Set<string>();
  for (;;) {
    let best: PlannedPath | undefined;
    let gain = 0;
    for (const path of candidates) {
      const g = [...path.covers].filter((item) => !covered.has(item)).length;
      if (g > gain || (g === gain && g > 0 && best && path.steps.length < best.steps.length)) [best, gain] = [path, g];
    }
    if (!best) return chosen;
    chosen.push(best);
    for (const item of best.covers) covered.add(item);
  }
}

function withoutPrefixes(paths: PlannedPath[]): PlannedPath[] {
  const keyed = paths.map((path) => ({ path, keys: path.steps.map((s) => JSON.stringify(s.choice.event)) }));
  keyed.sort((a, b) => b.keys.length - a.keys.length);
  const kept: typeof keyed = [];
  for (const candidate of keyed) {
    const isPrefix = kept.some((k) => candidate.keys.every((key, i) => k.keys[i] === key));
    if (!isPrefix) kept.push(candidate);
  }
  return kept.map((k) => k.path);
}

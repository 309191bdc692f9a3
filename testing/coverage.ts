import { activeStates, type MachineShape } from './machine.js';
import type { StateValue } from 'xstate';
import type { CoverageItem, ModelReport } from './types.js';

/** Counts the states reached and the transitions taken by steps the runtime was seen to apply. */
export class CoverageTracker {
  readonly #states = new Map<string, number>();
  readonly #transitions: number[];

  constructor(private readonly shape: MachineShape) {
    for (const state of shape.states) this.#states.set(state, 0);
    this.#transitions = shape.transitions.map(() => 0);
  }

  /** Counts each step once per transition it took and once per state it was in or passed through. */
  mark(steps: { taken: number[]; passed: StateValue[] }[]): void {
    for (const { taken, passed } of steps) {
      for (const t of taken) this.#transitions[t]! += 1;
      for (const s of new Set(passed.flatMap((value) => activeStates(this.shape.machine, value)))) this.#states.set(s, (this.#states.get(s) ?? 0) + 1);
    }
  }

  items(): { states: CoverageItem[]; transitions: CoverageItem[] } {
    return {
      states: [...this.#states].map(([name, count]) => ({ name, count })),
      transitions: this.shape.transitions.map((t, i) => ({ name: t.label, count: this.#transitions[i]! })),
    };
  }
}

/** A report's text: the summary line, then every state and transition with its count, uncovered ones marked. */
export function formatCoverage(report: Omit<ModelReport, 'text'>): string {
  const covered = (items: CoverageItem[]) => items.filter((i) => i.count > 0).length;
  const steps = report.paths.reduce((n, p) => n + p.steps.length, 0);
  const width = Math.max(1, ...[...report.states, ...report.transitions].map((i) => String(i.count).length));
  const line = (item: CoverageItem) => `  ${String(item.count).padStart(width)}  ${item.name}${item.count === 0 ? '   <- not covered' : ''}`;
  return [
    `${report.machine}: ${covered(report.states)}/${report.states.length} states, ${covered(report.transitions)}/${report.transitions.length} transitions ` +
      `covered by ${report.paths.length} paths (${steps} steps) on the runtime in ${(report.durationMs / 1000).toFixed(1)} s`,
    'states (steps in or through it):',
    ...report.states.map(line),
    'transitions (times taken):',
    ...report.transitions.map(line),
  ].join('\n');
}

/** Raised by `testMachine` when a state or transition was not covered (unless `failOnUncovered: false`). */
export class CoverageError extends Error {
  readonly code = 'MODEL_NOT_COVERED';
  constructor(readonly report: ModelReport) {
    const missing = [...report.uncovered.states.map((s) => `state ${s}`), ...report.uncovered.transitions.map((t) => `transition ${t}`)];
    super(`${missing.length} not covered:\n  ${missing.join('\n  ')}\n\n${report.text}`);
    this.name = 'CoverageError';
  }
}

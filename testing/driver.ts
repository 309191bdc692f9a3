import type { StateValue } from 'xstate';
import { InstanceStateError, WaitTimeoutError, type EffectContext, type HistoryEntry, type InstanceState, type ManualClock, type Runtime } from '../index.js';
import type { PlannedPath, PlannedStep } from './paths.js';

/** How one invocation ends, as the service handler acts it out. */
export type Outcome = { kind: 'done'; output: unknown } | { kind: 'error'; error: Error };

/**
 * The injected services' side of a path. A handler blocks until the driver says how its invocation
 * ends (`arm`), so an invocation settles exactly at the path's step and never earlier. A retried
 * attempt of the same invocation (same idempotency key) gets the same outcome; an aborted one
 * (state left, instance stopped) stops waiting.
 */
export class OutcomeBoard {
  readonly #armed = new Map<string, Outcome>();
  readonly #waiting = new Map<string, ((outcome: Outcome) => void)[]>();
  readonly #settled = new Map<string, Outcome>();

  arm(instanceId: string, childId: string, outcome: Outcome): void {
    const key = `${instanceId}/${childId}`;
    const waiting = this.#waiting.get(key);
    this.#waiting.delete(key);
    if (waiting?.length) for (const resolve of waiting) resolve(outcome);
    else this.#armed.set(key, outcome);
  }

  /** Drops what an instance left armed or waiting (its path ended). */
  forget(instanceId: string): void {
    for (const key of [...this.#armed.keys()]) if (key.startsWith(`${instanceId}/`)) this.#armed.delete(key);
    for (const key of [...this.#waiting.keys()]) if (key.startsWith(`${instanceId}/`)) this.#waiting.delete(key);
  }

  async handle(ctx: EffectContext): Promise<unknown> {
    let outcome = this.#settled.get(ctx.idempotencyKey);
    if (!outcome) {
      outcome = await this.#take(`${ctx.instanceId}/${ctx.childId}`, ctx.signal);
      this.#settled.set(ctx.idempotencyKey, outcome);
    }
    if (outcome.kind === 'error') throw outcome.error;
    return outcome.output;
  }

  #take(key: string, signal: AbortSignal): Promise<Outcome> {
    const armed = this.#armed.get(key);
    if (armed) {
      this.#armed.delete(key);
      return Promise.resolve(armed);
    }
    return new Promise((resolve, reject) => {
      const waiting = this.#waiting.get(key) ?? [];
      waiting.push(resolve);
      this.#waiting.set(key, waiting);
      signal.addEventListener('abort', () => {
        const left = (this.#waiting.get(key) ?? []).filter((r) => r !== resolve);
        if (left.length) this.#waiting.set(key, left);
        else this.#waiting.delete(key);
        reject(signal.reason);
      }, { once: true });
    });
  }
}

export interface DriveContext {
  rt: Runtime;
  clock: ManualClock;
  board: OutcomeBoard;
  name: string;
  input: unknown;
  stepTimeoutMs: number;
  /** The user's service examples, raw: what the handlers return or throw. */
  outcome(src: string, kind: 'done' | 'error', example: number): Outcome;
  checkContext?: (actual: any, expected: any) => boolean | void;
  /** Called for the start and each group of steps once the runtime matched them. */
  verified(steps: { taken: number[]; passed: StateValue[] }[]): void;
}

/** Where a path stands when it fails, for the error message. */
export interface PathPosition {
  path: PlannedPath;
  index: number;
  total: number;
}

/** Raised when the runtime does not do what the pure machine says it should at a step of a path. */
export class ModelPathError extends Error {
  readonly code = 'MODEL_PATH_MISMATCH';
  constructor(position: PathPosition, step: number, reason: string, state: InstanceState | null, history: HistoryEntry[], readonly instanceId: string) {
    const { path, index, total } = position;
    const at = step === 0 ? 'at the start' : `at step ${step} of ${path.steps.length} (${path.steps[step - 1]!.choice.label})`;
    const seen = state ? `${JSON.stringify(state.value)} (${state.status}), version ${state.version}` : 'no instance';
    const lines = history.map((h) => `${h.seq}: ${h.event.type} → ${JSON.stringify(h.to)}`);
    super(`model path ${index + 1} of ${total} failed ${at}: ${reason}\n  path: ${path.description}\n  runtime: ${seen}\n  history:\n    ${lines.join('\n    ')}`);
    this.name = 'ModelPathError';
  }
}

/**
 * Runs one path on the runtime: starts an instance, then for each step sends the event, settles the
 * invocation or moves the clock to the timer's due time, waits for the runtime to apply it (and the
 * automatic steps after it) and compares the journal and the persisted state with the pure machine.
 * The instance is stopped at the end if it is still active. Resolves with the instance id.
 */
export async function drivePath(ctx: DriveContext, position: PathPosition): Promise<string> {
  const { rt, clock, board } = ctx;
  const steps = position.path.steps;
  const startedAt = clock.now();
  const id = await rt.start(ctx.name, ctx.input);
  const fail = async (step: number, reason: string): Promise<never> => {
    throw new ModelPathError(position, step, reason, await rt.get(id), await rt.history(id), id);
  };
  try {
    // Steps the runtime takes on its own right after the start (a zero-delay timer) belong to the start.
    let done = automaticRun(steps, 0);
    await check(ctx, id, position.path, 0, done, fail);
    ctx.verified([position.path.start, ...steps.slice(0, done)]);
    while (done < steps.length) {
      const at = done;
      await act(ctx, id, steps[at]!, startedAt, (reason) => fail(at + 1, reason));
      const end = automaticRun(steps, at + 1);
      await check(ctx, id, position.path, at, end, fail);
      ctx.verified(steps.slice(at, end));
      done = end;
    }
    return id;
  } finally {
    board.forget(id);
    const state = await rt.get(id);
    // Stopping cancels what still runs (a blocked service, a pending timer); an instance that ended meanwhile is fine.
    if (state?.status === 'active') {
      await rt.stop(id, 'model path ended').catch((error) => {
        if (!(error instanceof InstanceStateError)) throw error;
      });
    }
  }
}

/** The index of the first step at or after `from` that the test must cause (not automatic). */
function automaticRun(steps: PlannedStep[], from: number): number {
  let end = from;
  while (end < steps.length && steps[end]!.automatic) end++;
  return end;
}

async function act(ctx: DriveContext, id: string, step: PlannedStep, startedAt: number, fail: (reason: string) => Promise<never>): Promise<void> {
  const { choice } = step;
  if (choice.kind === 'send') {
    const sent = await ctx.rt.send(id, choice.event);
    if (!sent.accepted) await fail(`the runtime refused the event (${sent.reason})`);
  } else if (choice.kind === 'timer') {
    const ahead = startedAt + choice.timer!.dueAt - ctx.clock.now();
    if (ahead > 0) ctx.clock.advance(ahead);
    ctx.rt.wake();
  } else {
    ctx.board.arm(id, choice.childId!, ctx.outcome(choice.src!, choice.kind, choice.example!));
  }
}

/** Waits until the runtime applied steps [from, to) and compares them with the pure machine. */
async function check(ctx: DriveContext, id: string, path: PlannedPath, from: number, to: number, fail: (step: number, reason: string) => Promise<never>): Promise<void> {
  const { rt } = ctx;
  try {
    await rt.waitFor(id, (s) => s.version >= to || s.status === 'error' || s.status === 'stopped', { timeoutMs: ctx.stepTimeoutMs });
  } catch (error) {
    if (!(error instanceof WaitTimeoutError)) throw error;
    await fail(to, `the runtime did not apply ${to - from || 1} step(s) within ${ctx.stepTimeoutMs} ms`);
  }
  const state = (await rt.get(id))!;
  const history = await rt.history(id);
  for (let k = from; k < to; k++) {
    const step = path.steps[k]!;
    const entry = history.find((h) => h.seq === k + 1);
    if (!entry || entry.event.type !== step.choice.event.type || !same(entry.to, step.moment.snapshot.value)) {
      await fail(k + 1, `expected ${step.choice.event.type} → ${JSON.stringify(step.moment.snapshot.value)} as event ${k + 1}`);
    }
  }
  if (state.version !== to) await fail(to, `the runtime applied ${state.version} events, the path ${to}`);
  const expected = (to === 0 ? path.start.moment : path.steps[to - 1]!.moment).snapshot;
  if (!same(state.value, expected.value) || state.status !== expected.status) {
    await fail(to, `expected ${JSON.stringify(expected.value)} (${expected.status})`);
  }
  if (ctx.checkContext) {
    let verdict: boolean | void = undefined;
    try {
      verdict = ctx.checkContext(state.context, JSON.parse(JSON.stringify(expected.context ?? null)));
    } catch (error) {
      await fail(to, `context check threw: ${(error as Error).message}`);
    }
    if (verdict === false) await fail(to, `context check failed: ${JSON.stringify(state.context)}`);
  }
}

/** Deep equality of JSON values (state values). */
function same(a: StateValue | unknown, b: StateValue | unknown): boolean {
  return JSON.stringify(sorted(a)) === JSON.stringify(sorted(b));
}

function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, sorted(v)]));
  return value;
}

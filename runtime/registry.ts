import { fromPromise, type AnyEventObject, type AnyStateMachine } from 'xstate';
import { ConfigError } from './errors.js';
import type { MachineEntry, MachineRegistration, RuntimeOptions, ServiceHandler, ServiceRegistration } from './types.js';

export interface RegisteredMachine extends Required<Pick<MachineRegistration, 'machine' | 'version'>> {
  name: string;
  compatibleVersions: ReadonlySet<number>;
  migrate: MachineRegistration['migrate'];
  onStep: MachineRegistration['onStep'];
}

export interface RegisteredService {
  handler: ServiceHandler;
  retry: ServiceRegistration['retry'];
  timeoutMs: number | undefined;
}

const DEFAULT_VERSION = 1;
const MAX_CHILD_DEPTH = 8;

/** A state machine (as opposed to a promise, callback or observable actor). */
export function isMachineLogic(logic: unknown): logic is AnyStateMachine {
  const candidate = logic as { config?: unknown; root?: unknown; transition?: unknown } | null;
  return typeof candidate === 'object' && candidate !== null && typeof candidate.config === 'object' && candidate.root !== undefined && typeof candidate.transition === 'function';
}

/** The `src` names a machine's states invoke (inline logic aside), at any depth. */
function invokedSources(node: { invoke?: { src: unknown }[]; states?: Record<string, unknown> }): Set<string> {
  const found = new Set<string>();
  for (const definition of node.invoke ?? []) if (typeof definition.src === 'string') found.add(definition.src);
  for (const child of Object.values(node.states ?? {})) for (const src of invokedSources(child as typeof node)) found.add(src);
  return found;
}

/** The registered name of the machine that `parent` invokes as `src`. */
export function childMachineName(parent: string, src: string): string {
  return `${parent}/${src}`;
}

function isRegistration(entry: MachineEntry): entry is MachineRegistration {
  return typeof entry === 'object' && entry !== null && 'machine' in entry && !('transition' in entry);
}

/** The machines and services one runtime knows, resolved once at start. */
export class Registry {
  readonly #machines = new Map<string, RegisteredMachine>();
  readonly #services = new Map<string, RegisteredService>();

  constructor(machines: Record<string, MachineEntry>, services: Record<string, ServiceHandler | ServiceRegistration> = {}) {
    for (const [name, entry] of Object.entries(machines)) {
      const registration: MachineRegistration = isRegistration(entry) ? entry : { machine: entry };
      const version = registration.version ?? DEFAULT_VERSION;
      if (!Number.isInteger(version) || version < 1) {
        throw new ConfigError(`machine "${name}": version must be a positive integer; got ${version}`);
      }
      this.#machines.set(name, {
        name,
        machine: registration.machine,
        version,
        compatibleVersions: new Set(registration.compatibleVersions ?? []),
        migrate: registration.migrate,
        onStep: registration.onStep,
      });
    }
    if (this.#machines.size === 0) throw new ConfigError('createRuntime needs at least one machine');
    for (const [name, entry] of Object.entries(services)) {
      const registration = typeof entry === 'function' ? { handler: entry } : entry;
      this.#services.set(name, { handler: registration.handler, retry: registration.retry, timeoutMs: registration.timeoutMs });
    }
    for (const reg of [...this.#machines.values()]) {
      reg.machine = this.#withServices(reg.name, reg.machine);
      this.#registerChildren(reg, 1);
    }
  }

  /**
   * A machine may invoke a `src` that only the runtime's `services` provide. XState still needs an
   * actor by that name to hold the child in its snapshot, so it gets a stand-in (the effect runner
   * runs the service, never the stand-in); a `src` found nowhere is refused now, not at the first step.
   */
  #withServices(name: string, machine: AnyStateMachine): AnyStateMachine {
    const actors = machine.implementations.actors as Record<string, unknown>;
    const missing = [...invokedSources(machine.root)].filter((src) => !(src in actors));
    const unknown = missing.filter((src) => !this.#services.has(src));
    if (unknown.length > 0) {
      throw new ConfigError(`machine "${name}" invokes ${unknown.map((src) => `"${src}"`).join(', ')}, found neither in its setup({ actors }) nor in the runtime's services`);
    }
    if (missing.length === 0) return machine;
    const standIn = fromPromise(async () => {
      throw new Error('stand-in for a service the runtime provides; never run');
    });
    return machine.provide({ actors: Object.fromEntries(missing.map((src) => [src, standIn])) }) as AnyStateMachine;
  }

  /**
   * Machines a registered machine invokes or spawns by name (`setup({ actors: { payment } })`) run as
   * durable child instances of their own, under the name `parent/src`, with the parent's version.
   */
  #registerChildren(parent: RegisteredMachine, depth: number): void {
    for (const [src, logic] of Object.entries(parent.machine.implementations.actors as Record<string, unknown>)) {
      if (!isMachineLogic(logic)) continue;
      const name = childMachineName(parent.name, src);
      if (this.#machines.has(name)) continue;
      if (depth > MAX_CHILD_DEPTH) throw new ConfigError(`machine "${name}": children nest deeper than ${MAX_CHILD_DEPTH} levels`);
      const child: RegisteredMachine = { ...parent, name, machine: logic, migrate: undefined, onStep: undefined };
      this.#machines.set(name, child);
      this.#registerChildren(child, depth + 1);
    }
  }

  machine(name: string): RegisteredMachine | undefined {
    return this.#machines.get(name);
  }

  /** Machine names and the newest version of each, for claim queries. */
  get claimFilter(): { names: string[]; maxVersions: number[] } {
    const all = [...this.#machines.values()];
    return { names: all.map((m) => m.name), maxVersions: all.map((m) => m.version) };
  }

  get machineNames(): string[] {
    return [...this.#machines.keys()];
  }

  /**
   * What runs an effect: an invoke's service, the runtime's `onEmit` for an emitted event, or the
   * machine's named custom action for outbox work (or the runtime's service of that name, when there is
   * one). One lookup for every kind of effect.
   */
  effectService(effect: { kind: 'invoke' | 'action' | 'emit'; machine: string; service: string; instanceId: string }, onEmit: RuntimeOptions['onEmit']): RegisteredService | undefined {
    const machine = this.machine(effect.machine)!.machine;
    if (effect.kind === 'invoke') return this.service(machine, effect.service);
    if (effect.kind === 'emit') {
      return {
        handler: async ({ input }) => {
          await onEmit?.((input as { event: AnyEventObject }).event, { instanceId: effect.instanceId, machine: effect.machine });
        },
        retry: undefined,
        timeoutMs: undefined,
      };
    }
    // A custom action may be run by the runtime's service of the same name instead: then it gets
    // what a service gets (idempotency key, attempt, signal, logger) and that service's retry policy.
    const registered = this.#services.get(effect.service);
    if (registered) return registered;
    const impl = (machine.implementations.actions as Record<string, unknown>)[effect.service];
    if (typeof impl !== 'function') return undefined;
    return {
      handler: async ({ input }) => {
        const { params, context, event } = input as { params: unknown; context: unknown; event: unknown };
        await impl({ context, event, self: undefined, system: undefined }, params);
      },
      retry: undefined,
      timeoutMs: undefined,
    };
  }

  /**
   * The handler of an invoked `src`: the runtime's `services` first, then the machine's own promise
   * actor, so a plain XState machine with `fromPromise` actors runs unchanged.
   */
  service(machine: AnyStateMachine, src: string): RegisteredService | undefined {
    const registered = this.#services.get(src);
    if (registered) return registered;
    const logic = (machine.implementations.actors as Record<string, unknown>)[src] as { config?: unknown } | undefined;
    if (logic && typeof logic.config === 'function') {
      const creator = logic.config as (args: Record<string, unknown>) => Promise<unknown>;
      // A fromPromise creator expects XState's arguments; durable() creators also read the effect
      // context (idempotency key, attempt). Both get both.
      return {
        handler: (context) => creator({ ...context, self: undefined, system: undefined, emit: () => {} }),
        retry: undefined,
        timeoutMs: undefined,
      };
    }
    return undefined;
  }
}

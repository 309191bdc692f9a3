import type { AnyEventObject, AnyStateMachine } from 'xstate';
import type { Logger } from 'pino';
import { childMachineName, isMachineLogic } from './registry.js';

/** An XState action as `transition()` returns it: a type, resolved params, and an exec we never call. */
export interface ResolvedAction {
  type: string;
  params?: unknown;
  exec?: unknown;
}

export interface NewEvent {
  event: AnyEventObject;
  timer_id: string | null;
  available_at: string;
  /** Another instance's inbox (a parent's, a child's); absent for this instance's own. */
  target_id?: string;
  /** For a child's result delivered to its parent: the child's invocation marker. */
  source_effect?: string;
}

/** A machine invoked or spawned by name: a durable child instance of its own. */
export interface NewChild {
  child_id: string;
  instance_id: string;
  /** The registered name of its machine: `parent/src`. */
  machine: string;
  input: unknown;
}

/** The marker an instance keeps in its invocations for a child instance (effects keep their key). */
export const CHILD_MARKER = 'instance:';

/** Who an instance can send to beyond itself: its children (by invocation id) and its parent. */
export interface Family {
  /** The instance's registered machine name; its children's are `name/src`. */
  machineName: string;
  /** Live invocations before this step: child id -> effect key, or CHILD_MARKER + instance id. */
  invocations: Record<string, string>;
  /** The parent instance, when this one is a child. */
  parentId: string | null;
  /** What stands for the parent in this instance's transitions (sendParent targets it). */
  parentRef: unknown;
}

export interface NewEffect {
  kind: 'invoke' | 'action' | 'emit';
  child_id: string | null;
  service: string;
  input: unknown;
  idempotency_key: string;
  /** Set when the stepping worker claims the effect in the step's own transaction (it runs it next). */
  claim?: { lease_owner: string; due_at: string };
}

/**
 * What one step's actions ask of the outside world, as rows to write in the step's transaction.
 * Timer ops are kept net: a cancel after a schedule in the same step removes the schedule.
 */
export class ActionPlan {
  /** Timer id -> the row that schedules it. */
  readonly timers = new Map<string, NewEvent>();
  /** Timer ids whose existing rows must be deleted (cancelled or rescheduled). */
  readonly timerDeletes = new Set<string>();
  /** Events to self with no delay (sendTo self): applied in a later step, like XState's mailbox. */
  readonly selfEvents: NewEvent[] = [];
  /** Child id -> the effect to start; keyed so a child spawned twice in one step starts once. */
  readonly spawns = new Map<string, NewEffect>();
  /** Child id -> the child instance to create, for machines invoked or spawned by name. */
  readonly childSpawns = new Map<string, NewChild>();
  /** Events for other instances (parent, children): delivered even when this instance has finished. */
  readonly crossEvents: NewEvent[] = [];
  readonly outbox: NewEffect[] = [];
  #anonymousTimers = 0;

  constructor(
    private readonly machine: AnyStateMachine,
    private readonly instanceId: string,
    private readonly logger: Logger,
    private readonly family: Family,
  ) {}

  /**
   * Adds the actions of one applied event. `seq` is the instance version the event produced; it
   * scopes idempotency keys, so re-entering a state later is a new invocation with a new key.
   */
  add(actions: readonly ResolvedAction[], seq: number, now: number, context: unknown, event: AnyEventObject): void {
    actions.forEach((action, index) => this.#addOne(action, seq, index, now, context, event));
  }

  #addOne(action: ResolvedAction, seq: number, index: number, now: number, context: unknown, event: AnyEventObject): void {
    const params = (action.params ?? {}) as Record<string, unknown>;
    switch (action.type) {
      case 'xstate.raise':
        // An undelayed raise was already processed inside transition(); only delays leave a trace.
        if (typeof params.delay === 'number') this.#schedule(params, now, seq);
        return;
      case 'xstate.sendTo':
        return this.#sendTo(params, now, seq);
      case 'xstate.cancel':
        return this.#cancel(String(params.sendId));
      case 'xstate.spawnChild':
        return this.#spawn(params, seq);
      case 'xstate.emit':
        this.outbox.push({
          kind: 'emit',
          child_id: null,
          service: 'emit',
          input: { event: params.event },
          idempotency_key: `${this.instanceId}/emit/${seq}/${index}`,
        });
        return;
      case 'xstate.log':
        this.logger.info({ instance_id: this.instanceId, value: params.value, label: params.label }, 'machine log');
        return;
      default:
        if (action.type.startsWith('xstate.')) return; // assign, stopChild and friends: folded into the snapshot
        if (typeof action.exec !== 'function') return; // named but unimplemented: XState ignores it too
        this.outbox.push({
          kind: 'action',
          child_id: null,
          service: action.type,
          input: { params: action.params ?? null, context, event },
          idempotency_key: `${this.instanceId}/action/${seq}/${index}`,
        });
    }
  }

  #schedule(params: Record<string, unknown>, now: number, seq: number): void {
    const id = typeof params.id === 'string' ? params.id : `docket.timer.${seq}.${this.#anonymousTimers++}`;
    const delay = typeof params.delay === 'number' ? params.delay : 0;
    this.timerDeletes.add(id);
    this.timers.set(id, {
      event: params.event as AnyEventObject,
      timer_id: id,
      available_at: new Date(now + delay).toISOString(),
    });
  }

  #sendTo(params: Record<string, unknown>, now: number, seq: number): void {
    const target = params.to as { logic?: unknown; id?: string } | undefined;
    if (target?.logic === this.machine) {
      if (typeof params.delay === 'number') return this.#schedule(params, now, seq);
      this.selfEvents.push({ event: params.event as AnyEventObject, timer_id: null, available_at: new Date(now).toISOString() });
      return;
    }
    const other = this.#instanceOf(target);
    if (!other) {
      // Promise children take no events; actors outside the instance tree do not exist here.
      this.logger.warn(
        { instance_id: this.instanceId, target: target?.id, event_type: (params.event as AnyEventObject)?.type },
        'sendTo a target that is not this instance, its parent or a child machine is not supported by the durable runtime; event dropped',
      );
      return;
    }
    const delay = typeof params.delay === 'number' ? params.delay : 0;
    this.crossEvents.push({ event: params.event as AnyEventObject, timer_id: null, available_at: new Date(now + delay).toISOString(), target_id: other });
  }

  /** The instance id behind an actor ref: the parent's, or a child machine's (live, or spawned in this step). */
  #instanceOf(target: { id?: string } | undefined): string | null {
    if (!target) return null;
    if (target === this.family.parentRef) return this.family.parentId;
    const id = target.id ?? '';
    const spawned = this.childSpawns.get(id);
    if (spawned) return spawned.instance_id;
    const marker = this.family.invocations[id];
    return marker?.startsWith(CHILD_MARKER) ? marker.slice(CHILD_MARKER.length) : null;
  }

  #cancel(sendId: string): void {
    this.timers.delete(sendId);
    this.timerDeletes.add(sendId);
  }

  #spawn(params: Record<string, unknown>, seq: number): void {
    const childId = String(params.id);
    if (typeof params.src === 'string' && isMachineLogic((this.machine.implementations.actors as Record<string, unknown>)[params.src])) {
      this.childSpawns.set(childId, {
        child_id: childId,
        instance_id: crypto.randomUUID(),
        machine: childMachineName(this.family.machineName, params.src),
        input: params.input ?? null,
      });
      return;
    }
    if (typeof params.src !== 'string') {
      this.logger.error(
        { instance_id: this.instanceId, child_id: childId },
        'invoke/spawn with inline logic cannot run durably; declare it in setup({ actors }) and refer to it by name',
      );
      return;
    }
    this.spawns.set(childId, {
      kind: 'invoke',
      child_id: childId,
      service: params.src,
      input: params.input ?? null,
      idempotency_key: `${this.instanceId}/${childId}/${seq}`,
    });
  }

  /** All new inbox rows: timers, then undelayed sends to self. */
  get newEvents(): NewEvent[] {
    return [...this.timers.values(), ...this.selfEvents];
  }
}

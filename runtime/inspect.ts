import {
  initialTransition,
  transition,
  type ActorRefLike,
  type AnyEventObject,
  type AnyMachineSnapshot,
  type AnyStateMachine,
  type InspectionEvent,
  type Snapshot,
} from 'xstate';
import type { Logger } from 'pino';
import { KeyedCoalescer } from './coalesce.js';
import type { Queryable } from './db/database.js';
import type { InspectQueries, InspectedRow, JournalEntry } from './queries/inspect.js';
import type { Registry } from './registry.js';
import { persistSnapshot, restoreSnapshot } from './snapshot.js';
import type { InspectOption, PersistedSnapshot } from './types.js';

/** Journal entries read per query; a first sighting of a long history takes several. */
const PAGE = 500;
/** Finished instances remembered (so a late notification does not announce them again); older ones are forgotten. */
const KEEP_FINISHED = 10_000;

export interface InspectionOptions {
  inspect: InspectOption;
  db: Queryable;
  queries: InspectQueries;
  registry: Registry;
  logger: Logger;
  /** What the inspector's actor refs do with `send`: the runtime's own send, the event committed to the inbox. */
  send: (id: string, event: AnyEventObject) => Promise<unknown>;
}

/** An actor ref as the inspector reads it: XState's ActorRefLike plus the fields @statelyai/inspect looks at. */
interface InspectedRef extends ActorRefLike {
  id: string;
  _parent?: InspectedRef;
  logic?: AnyStateMachine;
}

interface Seen {
  ref: InspectedRef;
  /** The last journal entry reported. */
  seq: number;
  /** The persisted snapshot after it: the base for replaying the next entries. Null once finished. */
  snapshot: PersistedSnapshot | null;
  /** The status last reported, the engine's (`error` when parked, `stopped`) over the snapshot's. */
  status: string;
  children: Map<string, InspectedRef>;
}

/** The function XState's `inspect` shapes come down to. */
export function inspectSink(option: InspectOption): (event: InspectionEvent) => void {
  const target = typeof option === 'object' && 'inspect' in option ? option.inspect : option;
  if (typeof target === 'function') return target;
  return (event) => target.next?.(event);
}

/**
 * Reports durable steps as XState inspection events, from what every process sees: the steps
 * NOTIFY channel (sent when a step commits, whichever process made it) and the journal. So steps of
 * other workers are reported as well as this one's, always after their commit. Per instance, reads
 * are serialized and ask for the entries after the last one reported, so steps in quick succession
 * (one notification for several, or several for one) are reported once each, in `seq` order.
 *
 * A step may apply several events but persists only the snapshot after the last. The snapshots in
 * between are recomputed with XState's pure `transition()` from the one before, exactly as the step
 * computed them; where that cannot be done (a machine or version this runtime does not know) the
 * snapshot names the journal's state and keeps the last known context.
 */
export class Inspection {
  readonly #emit: (event: InspectionEvent) => void;
  readonly #seen = new Map<string, Seen>();
  readonly #finished: string[] = [];
  readonly #reads = new KeyedCoalescer((id) => this.#deliver(id));
  #closed = false;

  constructor(private readonly options: InspectionOptions) {
    this.#emit = inspectSink(options.inspect);
  }

  /** Called with a steps-channel payload (`<id>:<version>`). */
  notified(payload: string): void {
    this.refresh(payload.split(':', 1)[0]!);
  }

  /** After a reconnect, notifications may have been lost: read every instance reported so far again. */
  refreshAll(): void {
    for (const [id, seen] of this.#seen) if (seen.snapshot) this.refresh(id);
  }

  refresh(id: string): void {
    if (!this.#closed) this.#reads.request(id);
  }

  /** Stops reporting; resolves when reads in flight have ended. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#reads.drain();
  }

  async #deliver(id: string): Promise<void> {
    for (;;) {
      let row: InspectedRow | null;
      try {
        row = await this.options.queries.read(this.options.db, id, this.#seen.get(id)?.seq ?? -1, PAGE);
      } catch (error) {
        if (!this.#closed) this.options.logger.warn({ err: error, instance_id: id }, 'could not read instance for the inspector');
        return;
      }
      if (!row || this.#closed) return;
      this.#report(id, row);
      const last = row.entries.at(-1);
      if (row.entries.length < PAGE || !last || last.seq >= row.version) return;
    }
  }

  #report(id: string, row: InspectedRow): void {
    const steps = this.#snapshots(row, this.#seen.get(id)?.snapshot ?? null);
    let seen = this.#seen.get(id);
    if (!seen) {
      const machine = this.options.registry.machine(row.machine)?.machine;
      const ref = this.#ref({ id, sessionId: id, logic: machine }, (event) => this.options.send(id, event));
      seen = { ref, seq: -1, snapshot: null, status: '', children: new Map() };
      this.#seen.set(id, seen);
      this.#send({ type: '@xstate.actor', rootId: id, actorRef: frozen(ref, steps[0]?.snapshot ?? row.snapshot) });
    }
    for (const { entry, snapshot } of steps) {
      this.#send({ type: '@xstate.event', rootId: id, actorRef: seen.ref, sourceRef: this.#source(seen, entry.event), event: entry.event });
      this.#announceChildren(id, seen, snapshot);
      this.#send({ type: '@xstate.snapshot', rootId: id, actorRef: seen.ref, event: entry.event, snapshot: snapshot as Snapshot<unknown> });
      seen.seq = entry.seq;
      seen.snapshot = snapshot;
      seen.status = snapshot.status;
    }
    if (seen.seq < row.version) return; // more pages to come
    if (row.status !== seen.status) {
      // The engine parked the instance in error, or an operator resumed it: no event was applied.
      const event = row.status === 'error' ? { type: 'docket.error', error: row.error } : { type: `docket.${row.status}` };
      const snapshot = { ...row.snapshot, status: row.status, ...(row.status === 'error' ? { error: row.error } : {}) };
      this.#send({ type: '@xstate.snapshot', rootId: id, actorRef: seen.ref, event, snapshot: snapshot as Snapshot<unknown> });
      seen.status = row.status;
    }
    if (row.status === 'done' || row.status === 'stopped') this.#forgetLater(id, seen);
  }

  /** The persisted snapshot after each entry: the row's for the newest, recomputed for the ones before. */
  #snapshots(row: InspectedRow, base: PersistedSnapshot | null): { entry: JournalEntry; snapshot: PersistedSnapshot }[] {
    const reg = this.options.registry.machine(row.machine);
    const machine = reg && (row.machineVersion === reg.version || reg.compatibleVersions.has(row.machineVersion)) ? reg.machine : undefined;
    const out: { entry: JournalEntry; snapshot: PersistedSnapshot }[] = [];
    let previous = base;
    for (const entry of row.entries) {
      let snapshot = entry.seq === row.version ? row.snapshot : this.#replay(machine, previous, entry, row.snapshot);
      // Stopping changes the instance's status, not its stored snapshot.
      if (entry.event.type === 'docket.stop') snapshot = { ...snapshot, status: 'stopped' };
      out.push({ entry, snapshot });
      previous = snapshot;
    }
    return out;
  }

  #replay(machine: AnyStateMachine | undefined, base: PersistedSnapshot | null, entry: JournalEntry, latest: PersistedSnapshot): PersistedSnapshot {
    if (machine) {
      try {
        if (entry.event.type === 'xstate.init') {
          return persistSnapshot(machine, initialTransition(machine, (entry.event as { input?: unknown }).input)[0] as AnyMachineSnapshot);
        }
        if (base) return persistSnapshot(machine, transition(machine, restoreSnapshot(machine, base), entry.event)[0] as AnyMachineSnapshot);
      } catch (error) {
        this.options.logger.debug({ err: error, event_type: entry.event.type }, 'could not recompute a snapshot for the inspector');
      }
    }
    return { ...(base ?? latest), value: entry.to };
  }

  /** Who sent an event: the invoked child for its result, the instance itself for its timers, else outside. */
  #source(seen: Seen, event: AnyEventObject): InspectedRef | undefined {
    const child = /^xstate\.(?:done|error)\.actor\.(.+)$/.exec(event.type)?.[1];
    if (child) return seen.children.get(child) ?? this.#childRef(seen, child);
    if (event.type.startsWith('xstate.after.')) return seen.ref;
    return undefined;
  }

  /** An `@xstate.actor` for each invoked child the first time a snapshot holds it. */
  #announceChildren(id: string, seen: Seen, snapshot: PersistedSnapshot): void {
    const children = (snapshot.children ?? {}) as Record<string, { snapshot?: Snapshot<unknown> } | undefined>;
    for (const [childId, child] of Object.entries(children)) {
      if (seen.children.has(childId)) continue;
      const ref = this.#childRef(seen, childId);
      seen.children.set(childId, ref);
      this.#send({ type: '@xstate.actor', rootId: id, actorRef: frozen(ref, child?.snapshot ?? { status: 'active' }) });
    }
  }

  #childRef(seen: Seen, childId: string): InspectedRef {
    return this.#ref({ id: childId, sessionId: `${seen.ref.sessionId}/${childId}`, _parent: seen.ref }, () => Promise.resolve());
  }

  #ref(fields: Omit<InspectedRef, 'send' | 'getSnapshot'>, send: (event: AnyEventObject) => Promise<unknown>): InspectedRef {
    const seen = () => this.#seen.get(fields.sessionId);
    return {
      ...fields,
      getSnapshot: () => seen()?.snapshot ?? { status: 'active' },
      send: (event: AnyEventObject) => {
        send(event).catch((error: unknown) => this.options.logger.warn({ err: error, instance_id: fields.sessionId }, 'inspector send failed'));
      },
    };
  }

  #send(event: InspectionEvent): void {
    try {
      this.#emit(event);
    } catch (error) {
      this.options.logger.error({ err: error, type: event.type }, 'inspector threw');
    }
  }

  /** A finished instance keeps only its place in the journal; the oldest are forgotten past KEEP_FINISHED. */
  #forgetLater(id: string, seen: Seen): void {
    if (seen.snapshot === null) return;
    seen.snapshot = null;
    seen.children.clear();
    this.#finished.push(id);
    if (this.#finished.length > KEEP_FINISHED) this.#seen.delete(this.#finished.shift()!);
  }
}

/** The ref with the snapshot of one moment: @statelyai/inspect reads it later, on a timer. */
function frozen(ref: InspectedRef, snapshot: unknown): InspectedRef {
  return { ...ref, getSnapshot: () => snapshot };
}

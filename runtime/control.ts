import { z } from 'zod';
import type { Clock } from './clock.js';
import type { Database, Transaction } from './db/database.js';
import { ConfigError, InstanceNotFoundError, InstanceStateError } from './errors.js';
import { CHILD_MARKER } from './plan.js';
import type { ControlQueries } from './queries/control.js';
import type { FamilyQueries } from './queries/family.js';
import { toInstanceState } from './queries/instances.js';
import type { CancelResult, InstanceList, ListOptions } from './types.js';

const listOptions = z.object({
  machine: z.string().min(1).optional(),
  status: z.enum(['active', 'done', 'error', 'stopped']).optional(),
  limit: z.number().int().min(1).max(1000).default(50),
  cursor: z.string().optional(),
});
const cursorSchema = z.tuple([z.iso.datetime({ offset: true }), z.uuid()]);

/**
 * What an operator does to instances from outside their machines: list them, resume one the engine
 * parked in `error`, cancel its in-flight effects, stop it. Each runs in one transaction holding the
 * instance's lock, so it never interleaves with a step; attempts running anywhere are told to stop
 * through NOTIFY once it commits.
 */
export class Controls {
  constructor(
    private readonly db: Database,
    private readonly queries: ControlQueries,
    private readonly family: FamilyQueries,
    private readonly clock: Clock,
  ) {}

  async list(options: ListOptions = {}): Promise<InstanceList> {
    const parsed = listOptions.safeParse(options);
    if (!parsed.success) throw new ConfigError(`list: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const { machine, status, limit, cursor } = parsed.data;
    const rows = await this.queries.list(this.db, { machine: machine ?? null, status: status ?? null, after: cursor ? decodeCursor(cursor) : null, limit });
    const last = rows.at(-1);
    return {
      instances: rows.map((row) => toInstanceState(row)),
      nextCursor: rows.length === limit && last ? encodeCursor(new Date(last.created_at), last.id) : null,
    };
  }

  /** Applies the kept inbox of an instance the engine parked in `error`, once its cause is fixed. */
  async resume(id: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const locked = await this.queries.lock(tx, id);
      if (!locked) throw new InstanceNotFoundError(id);
      // An instance whose own logic failed (XState's status error) cannot be resumed: only one the engine parked.
      if (locked.status !== 'error' || locked.snapshot_status !== 'active') {
        throw new InstanceStateError(id, locked.status, `instance ${id} is ${locked.status}; only an instance the engine parked in error can be resumed`);
      }
      await this.queries.resume(tx, id, new Date(this.clock.now()));
    });
  }

  /**
   * Cancels the instance's in-flight invocations: each running attempt is aborted wherever it runs,
   * its late result is dropped, and the machine receives `xstate.error.actor.<id>` with code
   * EFFECT_CANCELED, so its own onError decides where cancellation leads.
   */
  async cancel(id: string, reason = 'cancelled by an operator'): Promise<CancelResult> {
    const canceled = await this.db.transaction(async (tx) => {
      const locked = await this.queries.lock(tx, id);
      if (!locked) throw new InstanceNotFoundError(id);
      if (locked.status !== 'active') throw new InstanceStateError(id, locked.status, `instance ${id} is ${locked.status}; nothing runs to cancel`);
      const now = new Date(this.clock.now());
      const invoked = await this.queries.cancelInvocations(tx, id, reason, now);
      // Child machines are invocations too: each stops, with its own children, and its parent hears
      // the same EFFECT_CANCELED error an effect's cancellation gives.
      const children = await this.family.liveChildren(tx, id);
      const descendants = await this.family.stopTree(tx, children.map((child) => child.id), reason, now);
      await this.family.deliver(
        tx,
        children.map((child) => ({
          event: { type: `xstate.error.actor.${child.childId}`, error: { name: 'DocketError', code: 'EFFECT_CANCELED', message: reason } },
          timer_id: null,
          available_at: now.toISOString(),
          target_id: id,
          source_effect: `${CHILD_MARKER}${child.id}`,
        })),
        now,
      );
      await this.queries.announceCancel(tx, [...invoked, ...descendants]);
      return invoked.length + children.length;
    });
    return { canceled };
  }

  /**
   * Deletes the instance, its children and all their records (journal, inbox, effects). Attempts
   * still running anywhere are told to stop, and their late results find nothing to apply. Inside
   * `tx` when given, so it commits with the caller's own deletes.
   */
  async remove(id: string, tx?: Transaction): Promise<void> {
    const run = async (on: Transaction) => {
      const locked = await this.queries.lock(on, id);
      if (!locked) throw new InstanceNotFoundError(id);
      const keys = await this.family.stopTree(on, [id], 'removed', new Date(this.clock.now()));
      await this.queries.announceCancel(on, keys);
      await this.queries.remove(on, id);
    };
    if (tx) await run(tx);
    else await this.db.transaction(run);
  }

  /** Stops the instance where it is: no more steps, timers and queued events dropped, effects cancelled. */
  async stop(id: string, reason?: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const locked = await this.queries.lock(tx, id);
      if (!locked) throw new InstanceNotFoundError(id);
      if (locked.status === 'done' || locked.status === 'stopped') {
        throw new InstanceStateError(id, locked.status, `instance ${id} is already ${locked.status}`);
      }
      const keys = await this.family.stopTree(tx, [id], reason ?? null, new Date(this.clock.now()));
      await this.queries.announceCancel(tx, keys);
    });
  }
}

// Web-standard base64 (btoa/atob) rather than Buffer, so the engine core stays free of Node's own APIs.
function encodeCursor(createdAt: Date, id: string): string {
  return btoa(JSON.stringify([createdAt.toISOString(), id])).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(atob(cursor.replaceAll('-', '+').replaceAll('_', '/')));
  } catch {
    parsed = undefined;
  }
  const result = cursorSchema.safeParse(parsed);
  if (!result.success) throw new ConfigError('list: cursor is not one list() returned');
  return { createdAt: new Date(result.data[0]), id: result.data[1] };
}

import type { Queryable } from '../index.js';
import { PIPELINE_SCHEMA } from './store.js';

const t = (name: string) => `"${PIPELINE_SCHEMA}".${name}`;

/** Where a released call is announced, its budget's key the payload. */
export const BUDGET_CHANNEL = 'upload_pipeline_budgets';

/** A count per window: at most `limit` in any `windowMs` milliseconds. */
export interface Rate {
  limit: number;
  /** Milliseconds. */
  windowMs: number;
}

/** Why a call must wait: the provider is paused, its calls in flight are at the limit, or a rate's window is full. */
export type WaitReason = 'pause' | 'concurrency' | 'rate';

export type Acquired = { grantId: string } | { grantId: null; waitMs: number; reason: WaitReason } | { grantId: null; tooLarge: true };

/**
 * The budgets' statements (tables and function in migrations/0005_budgets.sql). Each is one round
 * trip and atomic on its own, so any number of processes share the budgets; times are the
 * database's (clock_timestamp()), never a host's.
 */
export const budgetQueries = {
  /** Lets a call (or an upload) through now, or says how long to wait and why: see acquire_budget. */
  async acquire(
    db: Queryable,
    key: string,
    call: { tokens: number; tokenRate?: Rate; requestRate?: Rate; concurrency?: number; inFlight: boolean; leaseMs: number; pausable: boolean },
  ): Promise<Acquired> {
    const { rows } = await db.query<{ grant_id: string | null; wait_ms: number; reason: WaitReason | null; too_large: boolean }>(
      `SELECT grant_id::text, wait_ms, reason, too_large FROM ${t('acquire_budget')}($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        key,
        call.tokens,
        call.tokenRate?.limit ?? null,
        call.tokenRate?.windowMs ?? null,
        call.requestRate?.limit ?? null,
        call.requestRate?.windowMs ?? null,
        call.concurrency ?? null,
        call.inFlight,
        call.leaseMs,
        call.pausable,
      ],
    );
    const row = rows[0]!;
    if (row.too_large) return { grantId: null, tooLarge: true };
    if (row.grant_id !== null) return { grantId: row.grant_id };
    return { grantId: null, waitMs: Math.max(0, Number(row.wait_ms)), reason: row.reason! };
  },

  /**
   * Ends a call: it stops counting as in flight, and counts against the rates for a window from
   * now. With `notify`, calls waiting for a slot in every process hear of it (BUDGET_CHANNEL).
   */
  async release(db: Queryable, grantId: string, notify: boolean): Promise<void> {
    const update = `UPDATE ${t('budget_grants')} SET done = true, until = clock_timestamp() WHERE id = $1 RETURNING key`;
    await db.query(notify ? `WITH released AS (${update}) SELECT pg_notify('${BUDGET_CHANNEL}', key) FROM released` : update, [grantId]);
  },

  /** Extends the leases of these calls in flight. */
  async renew(db: Queryable, grantIds: string[], leaseMs: number): Promise<void> {
    await db.query(`UPDATE ${t('budget_grants')} SET until = clock_timestamp() + make_interval(secs => $2::float8 / 1000) WHERE id = ANY($1::bigint[]) AND NOT done`, [grantIds, leaseMs]);
  },

  /** Pauses a provider for `ms` from now, unless it is already paused for longer. */
  async pause(db: Queryable, key: string, ms: number): Promise<void> {
    await db.query(
      `INSERT INTO ${t('budgets')} AS b (key, paused_until) VALUES ($1, clock_timestamp() + make_interval(secs => $2::float8 / 1000))
       ON CONFLICT (key) DO UPDATE SET paused_until = greatest(b.paused_until, excluded.paused_until)`,
      [key, ms],
    );
  },
};

import type { Queryable } from '../db/database.js';
import type { SchemaName } from '../schema.js';

/** The statements a lease keeper runs to say its worker lives, to find dead ones, and to leave. */
export interface LivenessSql {
  /** `$1` worker id, `$2` milliseconds the heartbeat alone vouches for, `$3` true to record this connection's backend. */
  beat: string;
  /** `$1` the sweeper's now (the due time given to freed effects), `$2` worker ids alive in this process, `$3` the effects channel. */
  sweep: string;
  /** `$1` worker id. */
  leave: string;
}

/**
 * Worker liveness. A worker whose row names a backend is alive while that backend is: PostgreSQL ends
 * a backend as soon as its client's socket closes, which a SIGKILL does, so a dead process is seen on
 * the next sweep however busy the survivors are, and a live one whose threads are starved of CPU is
 * never mistaken for dead. A row without a backend (PGlite: one process, where this matters only for
 * a restart after a crash) lives by its heartbeat.
 */
export class WorkerQueries {
  readonly sql: LivenessSql;

  constructor(schema: SchemaName) {
    const t = (name: string) => schema.table(name);
    const beat = `
      INSERT INTO ${t('workers')} (id, alive_until, backend_pid, backend_start)
      SELECT $1, clock_timestamp() + make_interval(secs => $2::float8 / 1000),
        CASE WHEN $3::boolean THEN pg_backend_pid() END,
        CASE WHEN $3::boolean THEN (SELECT a.backend_start FROM pg_stat_activity a WHERE a.pid = pg_backend_pid()) END
      ON CONFLICT (id) DO UPDATE SET alive_until = excluded.alive_until, backend_pid = excluded.backend_pid,
        backend_start = excluded.backend_start`;
    // backend_start is hidden from other roles (NULL): then the pid alone identifies the backend. A
    // reused pid only makes the sweep miss a death, which the lease still catches. Effects locked now
    // are being finished or renewed: skipped, and looked at again on the next sweep. A dead worker's
    // row goes once none of its effects runs any more (this statement sees them still running).
    const sweep = `
      WITH dead AS (
        SELECT w.id FROM ${t('workers')} w
        WHERE NOT (w.id = ANY($2::text[])) AND CASE
          WHEN w.backend_pid IS NULL THEN w.alive_until < clock_timestamp()
          ELSE NOT EXISTS (SELECT 1 FROM pg_stat_activity a
            WHERE a.pid = w.backend_pid AND (a.backend_start IS NULL OR a.backend_start = w.backend_start)) END
      ),
      freed AS (
        UPDATE ${t('effects')} SET due_at = $1 WHERE id IN (
          SELECT e.id FROM ${t('effects')} e JOIN dead ON e.lease_owner = dead.id
          WHERE e.status = 'running' AND e.due_at > $1
          FOR NO KEY UPDATE OF e SKIP LOCKED)
        RETURNING 1
      ),
      gone AS (
        DELETE FROM ${t('workers')} w USING dead WHERE w.id = dead.id
          AND NOT EXISTS (SELECT 1 FROM ${t('effects')} e WHERE e.lease_owner = w.id AND e.status = 'running')
      )
      SELECT pg_notify($3, '') FROM (SELECT count(*) AS n FROM freed) f WHERE f.n > 0`;
    this.sql = { beat, sweep, leave: `DELETE FROM ${t('workers')} WHERE id = $1` };
  }

  async beat(db: Queryable, workerId: string, aliveMs: number, session: boolean): Promise<void> {
    await db.query(this.sql.beat, [workerId, aliveMs, session]);
  }

  /** Makes the running effects of dead workers due at `now`; true when it freed any (and woke the effect runners). */
  async sweep(db: Queryable, now: Date, alive: string[], channel: string): Promise<boolean> {
    const { rows } = await db.query(this.sql.sweep, [now, alive, channel]);
    return rows.length > 0;
  }

  async leave(db: Queryable, workerId: string): Promise<void> {
    await db.query(this.sql.leave, [workerId]);
  }
}

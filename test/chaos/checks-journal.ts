/**
 * Invariants on the engine's tables (schema `docket`): the journal has one row per applied event,
 * so an event applied twice shows there. Seq contiguous per instance; no effect result applied more
 * often than effects produced it; no webhook applied more often than distinct dedupe keys were
 * accepted; no timer fired twice (each firing needs an arming entry into its state since the last);
 * nothing left pending for a finished instance.
 */
import { check, type Check, type Sql } from './sql.js';

export async function seqCheck(sql: Sql): Promise<Check> {
  const rows = await sql.rows(
    `SELECT i.id, i.version, count(j.seq)::int AS rows, min(j.seq) AS lo, max(j.seq) AS hi
     FROM docket.instances i LEFT JOIN docket.journal j ON j.instance_id = i.id
     GROUP BY i.id, i.version
     HAVING count(j.seq) <> max(j.seq) + 1 OR min(j.seq) <> 0 OR max(j.seq) <> i.version`,
  );
  const n = await sql.count('SELECT count(*)::int AS n FROM docket.journal');
  return check('journal seq contiguous, 0..version', rows, `${n} journal rows`);
}

/** Per instance, child and output: done events applied <= effects that produced that output; error events <= failed effects. */
export async function effectResultCheck(sql: Sql): Promise<Check> {
  const rows = await sql.rows(
    `WITH applied AS (
       SELECT instance_id, substring(event_type FROM '^xstate\\.(?:done|error)\\.actor\\.(.+)$') AS child_id,
         CASE WHEN event_type LIKE 'xstate.done.%' THEN 'done' ELSE 'failed' END AS status,
         CASE WHEN event_type LIKE 'xstate.done.%' THEN coalesce(event->'output', 'null') ELSE 'null' END AS output, count(*)::int AS n
       FROM docket.journal WHERE event_type ~ '^xstate\\.(done|error)\\.actor\\.' GROUP BY 1, 2, 3, 4),
     produced AS (
       SELECT instance_id, child_id, status,
         CASE WHEN status = 'done' THEN coalesce(output, 'null') ELSE 'null' END AS output, count(*)::int AS n
       FROM docket.effects WHERE kind = 'invoke' AND status IN ('done', 'failed') GROUP BY 1, 2, 3, 4)
     SELECT a.instance_id, a.child_id, a.status, a.output, a.n AS applied, coalesce(p.n, 0) AS produced
     FROM applied a LEFT JOIN produced p USING (instance_id, child_id, status, output)
     WHERE a.n > coalesce(p.n, 0)`,
  );
  const n = await sql.count(`SELECT count(*)::int AS n FROM docket.journal WHERE event_type ~ '^xstate\\.(done|error)\\.actor\\.'`);
  return check('no effect result applied twice', rows, `${n} results applied`);
}

export async function webhookCheck(sql: Sql, deliveries: Map<string, number>): Promise<Check> {
  const rows = await sql.rows<{ id: string; applied: number; keys: number }>(
    `SELECT i.id, a.applied, coalesce(k.keys, 0) AS keys FROM docket.instances i
     JOIN (SELECT instance_id, count(*)::int AS applied FROM docket.journal WHERE event_type = 'PARSE_CALLBACK' GROUP BY 1) a ON a.instance_id = i.id
     LEFT JOIN (SELECT instance_id, count(*)::int AS keys FROM docket.dedupe_keys WHERE key LIKE 'llamaparse:%' GROUP BY 1) k ON k.instance_id = i.id`,
  );
  const violations = rows.filter((r) => r.applied > r.keys).map((r) => ({ ...r, deliveries: deliveries.get(r.id) ?? 0 }));
  const applied = rows.reduce((sum, r) => sum + r.applied, 0);
  const delivered = [...deliveries.values()].reduce((a, b) => a + b, 0);
  const result = check('webhook (PARSE_CALLBACK) applied once per dedupe key', violations, `${delivered} deliveries, ${applied} PARSE_CALLBACK applied`);
  if (violations[0]) result.evidence.unshift(await journalAround(sql, violations[0].id, 'PARSE_CALLBACK'));
  return result;
}

/** The journal rows of one instance from the first `eventType` on, compactly: which transaction applied what (same `at`, same transaction). */
async function journalAround(sql: Sql, instanceId: string, eventType: string): Promise<string> {
  const rows = await sql.rows<{ seq: number; event_type: string; at: Date }>(
    `SELECT seq, event_type, at FROM docket.journal WHERE instance_id = $1
       AND seq >= (SELECT min(seq) FROM docket.journal WHERE instance_id = $1 AND event_type = $2) ORDER BY seq LIMIT 4`,
    [instanceId, eventType],
  );
  return `journal of ${instanceId}: ${rows.map((r) => `seq ${r.seq} ${r.event_type} at ${r.at.toISOString().slice(11, 23)}`).join('; ')}`;
}

export interface JournalRow {
  instance_id: string;
  seq: number;
  event_type: string;
  from_value: unknown;
  to_value: unknown;
}

/**
 * Every `xstate.after.<delay>.<state id>` applied must have been armed by an entry into its state
 * since its last firing and not disarmed by leaving the state: a second firing of one timer, or a
 * firing after its state was left, breaks this.
 */
export async function timerCheck(sql: Sql): Promise<Check> {
  const rows = await sql.rows<JournalRow>('SELECT instance_id, seq, event_type, from_value, to_value FROM docket.journal ORDER BY instance_id, seq');
  const { fired, kinds, violations } = unarmedTimerFirings(rows);
  return check('every timer fired at most once', violations, `${fired} timer firings of ${kinds} kinds`);
}

/** Scans journal rows (ordered by instance, seq) for timer firings with no arming entry since the last one. */
export function unarmedTimerFirings(rows: JournalRow[]): { fired: number; kinds: number; violations: string[] } {
  const timers = [...new Set(rows.filter((r) => r.event_type.startsWith('xstate.after.')).map((r) => r.event_type))];
  const paths = new Map(timers.map((type) => [type, /^xstate\.after\.[^.]+\.[^.]+\.(.+)$/.exec(type)?.[1]?.split('.') ?? []]));
  const violations: string[] = [];
  let fired = 0;
  let armed = new Set<string>();
  let instance = '';
  for (const row of rows) {
    if (row.instance_id !== instance) [instance, armed] = [row.instance_id, new Set()];
    if (paths.has(row.event_type)) {
      fired += 1;
      if (!armed.has(row.event_type)) violations.push(`${row.instance_id} seq ${row.seq}: ${row.event_type} fired unarmed (twice, or after its state was left); in ${JSON.stringify(row.from_value)}`);
      armed.delete(row.event_type);
    }
    for (const [type, path] of paths) {
      const isIn = within(row.to_value, path);
      if (isIn && !within(row.from_value, path)) armed.add(type);
      if (!isIn) armed.delete(type);
    }
  }
  return { fired, kinds: timers.length, violations };
}

/** Whether a state value is in the state at `path` (state ids below the machine's). */
function within(value: unknown, path: string[]): boolean {
  if (path.length === 0) return true;
  if (typeof value === 'string') return path.length === 1 && value === path[0];
  if (value && typeof value === 'object' && path[0]! in value) return within((value as Record<string, unknown>)[path[0]!], path.slice(1));
  return false;
}

export async function leftoverCheck(sql: Sql): Promise<Check> {
  // Finished: done or stopped, or waiting in `failed` for a RETRY that only an operator sends.
  const finished = `(i.status <> 'active' OR i.snapshot->'value' = '"failed"'::jsonb)`;
  const rows = await sql.rows(
    `SELECT 'event' AS kind, e.instance_id, e.event->>'type' AS what FROM docket.events e JOIN docket.instances i ON i.id = e.instance_id WHERE ${finished}
     UNION ALL
     SELECT 'effect', f.instance_id, f.service || ' ' || f.status FROM docket.effects f JOIN docket.instances i ON i.id = f.instance_id
     WHERE ${finished} AND f.status IN ('pending', 'running')`,
  );
  return check('nothing pending for finished instances', rows, 'inbox rows (timers) and pending or running effects');
}

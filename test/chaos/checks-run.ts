/** Invariants on what the harness watched from outside: /health through the outages, and process exits. */
import type { ExitRecord } from './fleet.js';
import { healthWindows, type HealthSample, type Outage } from './health.js';
import { check, type Check } from './sql.js';

/** After the database is ready again, the server gets this long to answer 200 (its pool drops dead connections; a busy 2-core machine delays it), milliseconds. */
export const HEALTH_SETTLE_MS = 3_000;

export function healthChecks(samples: HealthSample[], outages: Outage[]): Check[] {
  const { down, up, recoveryMs } = healthWindows(samples, outages, HEALTH_SETTLE_MS);
  const unseen = outages.flatMap((o, i) => (down.some((s) => s.start >= o.downAt && s.end <= o.startAt) ? [] : [`outage ${i + 1}: no sample fell wholly inside it`]));
  const notRecovered = recoveryMs.flatMap((ms, i) => (ms !== null && ms <= HEALTH_SETTLE_MS ? [] : [`outage ${i + 1}: first 200 ${ms === null ? 'never came' : `${ms} ms`} after the database was ready`]));
  return [
    check('/health 503 while the database is down', [...byStatus(down.filter((s) => s.status !== 503)), ...unseen], `${down.length} samples while down`),
    check('/health 200 while the database is up', [...byStatus(up.filter((s) => s.status !== 200)), ...notRecovered], `${up.length} samples while up; recovered ${recoveryMs.map((ms) => (ms === null ? 'never' : `${ms} ms`)).join(', ') || 'n/a'} after ready`),
  ];
}

/** Wrong answers grouped by status, with when they came ("refused": nothing listened, the server was not running). */
function byStatus(samples: HealthSample[]): string[] {
  const groups = new Map<string, HealthSample[]>();
  for (const s of samples) groups.set(String(s.status), [...(groups.get(String(s.status)) ?? []), s]);
  const time = (ms: number) => new Date(ms).toISOString().slice(11, 23);
  return [...groups].map(([status, list]) => `${status} x${list.length}, ${time(list[0]!.start)} .. ${time(list[list.length - 1]!.end)}${status === 'refused' ? ' (server not running)' : ''}`);
}

export function processChecks(exits: ExitRecord[], shutdown: { name: string; graceful: boolean; code: number | null }[]): Check[] {
  const unexpected = exits.filter((e) => !e.expected).map((e) => `${e.name} pid ${e.pid} exited at ${(e.t / 1000).toFixed(1)} s: code ${e.code}, signal ${e.signal}: ${e.cause ?? 'no output'}`);
  const unclean = shutdown.filter((s) => !s.graceful || s.code !== 0).map((s) => `${s.name}: ${s.graceful ? `exit code ${s.code}` : 'still running 15 s after SIGTERM'}`);
  return [
    check('no process exited unless killed by the harness', unexpected, `${exits.filter((e) => e.expected).length} exits caused by the harness`),
    check('every process stops cleanly on SIGTERM', unclean, `${shutdown.length} processes stopped`),
  ];
}

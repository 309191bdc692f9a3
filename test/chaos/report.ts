/** What a chaos run found, and the summary table printed at its end. */
import type { FailureClass } from './checks-jobs.js';
import { healthStats, healthWindows, type HealthSample, type Outage } from './health.js';
import { HEALTH_SETTLE_MS } from './checks-run.js';
import type { Settled } from './settle.js';
import type { Check } from './sql.js';

export interface ChaosReport {
  logDir: string;
  databaseUrl: string;
  seconds: { total: number; setup: number; settle: number };
  settled: Settled;
  uploads: { planned: number; accepted: number; retried: number; refusals: Record<string, number> };
  chaos: { kills: number; crashes: number; pgRestarts: number; downMs: number[]; modes: string[] };
  injected: {
    llamaparse: Record<string, number>;
    openai: Record<string, number>;
    webhookSwitches: Record<string, number>;
    parseErrors: number;
    served: { llamaparse: number; openai: number };
    requests: { llamaparse: number; openai: number };
  };
  /** Event-loop delay of the harness's own process (mocks, uploads), milliseconds. */
  harnessLagMs: { p99: number; max: number };
  failures: FailureClass[];
  health: { samples: HealthSample[]; outages: Outage[] };
  checks: Check[];
  /** Every invariant held and every job settled. */
  ok: boolean;
}

const counts = (record: Record<string, number>) =>
  Object.entries(record)
    .sort((a, b) => b[1] - a[1])
    .map(([key, n]) => `${key} x${n}`)
    .join(', ') || 'none';

export function renderReport(report: ChaosReport): string {
  const { seconds, uploads, chaos, injected, settled } = report;
  const lines = [
    `docket chaos: ${report.ok ? 'PASS' : 'FAIL'} in ${seconds.total.toFixed(0)} s (setup ${seconds.setup.toFixed(0)} s, settle ${seconds.settle.toFixed(0)} s: ${settled.outcome})`,
    `  logs      ${report.logDir}`,
    `  database  ${report.databaseUrl}`,
    '',
    row('uploads', `${uploads.planned} planned, ${uploads.accepted} accepted, ${uploads.retried} needed retries (refusals: ${counts(uploads.refusals)})`),
    row('jobs', counts(settled.byStage)),
    row('chaos', `${chaos.kills} worker SIGKILLs, ${chaos.pgRestarts} PostgreSQL restarts (${chaos.downMs.map((ms, i) => `${(ms / 1000).toFixed(1)} s down, ${chaos.modes[i]}`).join('; ') || 'none'}), ${chaos.crashes} unexpected exits`),
    row('LlamaParse', `${injected.requests.llamaparse} requests, ${injected.served.llamaparse} faulted (${counts(injected.llamaparse)}); webhook switches ${counts(injected.webhookSwitches)}; ${injected.parseErrors} scripted job ERRORs`),
    row('OpenAI', `${injected.requests.openai} requests, ${injected.served.openai} faulted (${counts(injected.openai)})`),
    ...healthLines(report.health.samples, report.health.outages),
    row('harness', `event-loop delay p99 ${report.harnessLagMs.p99} ms, max ${report.harnessLagMs.max} ms (the mocks run there)`),
    '',
    '  failed jobs by stage/code:',
    ...(report.failures.length ? report.failures.map((f) => `    ${String(f.count).padStart(5)}  ${`${f.stage}/${f.code}`.padEnd(44)} ${f.explained ?? 'NOT EXPLAINED'}`) : ['    none']),
    ...report.failures.filter((f) => !f.explained).map((f) => `           e.g. ${f.example.slice(0, 160)}`),
    '',
    '  invariants:',
    ...report.checks.flatMap((c) => [`    ${c.ok ? 'PASS' : 'FAIL'}  ${c.name.padEnd(50)} ${c.detail}`, ...c.evidence.map((e) => `            - ${e.slice(0, 300)}`)]),
  ];
  return lines.join('\n');
}

function row(label: string, text: string): string {
  return `  ${label.padEnd(11)} ${text}`;
}

function healthLines(samples: HealthSample[], outages: Outage[]): string[] {
  const { up, down, recoveryMs } = healthWindows(samples, outages, HEALTH_SETTLE_MS);
  const describe = (label: string, list: HealthSample[]) => {
    const stats = healthStats(list);
    return row(label, `${stats.count} samples: ${counts(stats.byStatus)}; latency p50 ${stats.p50} ms, p99 ${stats.p99} ms`);
  };
  return [
    describe('/health up', up),
    describe('/health dn', down),
    row('', `${samples.length} samples in all; first 200 after each restart: ${recoveryMs.map((ms) => (ms === null ? 'never' : `${ms} ms`)).join(', ') || 'n/a'}`),
  ];
}

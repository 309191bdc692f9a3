/**
 * One chaos run, top to bottom: set up (own PostgreSQL cluster, fresh database, provider mocks,
 * server and workers, /health poller); upload while the monkey kills workers, restarts the
 * database and injects provider faults; let the jobs settle; stop everything; check the invariants.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { PgCluster } from '../helpers/cluster.js';
import { chunkChecks, failureCheck, failureClasses, submissionCheck, terminalCheck, type FailureClass } from './checks-jobs.js';
import { effectResultCheck, leftoverCheck, seqCheck, timerCheck, webhookCheck } from './checks-journal.js';
import { healthChecks, processChecks } from './checks-run.js';
import { random } from './documents.js';
import { Fleet } from './fleet.js';
import { HealthPoller } from './health.js';
import { DbGate, Monkey, type Chaos } from './monkey.js';
import { TUNING, type ChaosOptions } from './options.js';
import { Providers } from './providers.js';
import { settle } from './settle.js';
import { Sql, type Check } from './sql.js';
import { Timeline } from './timeline.js';
import { renderReport, type ChaosReport } from './report.js';
import { uploadAll, type UploadResult } from './uploads.js';

export async function runChaos(options: ChaosOptions, echo: (line: string) => void = () => {}): Promise<ChaosReport> {
  // One run at a time per cluster (another work tree's npm test may be restarting it).
  const release = await new PgCluster(options.cluster).lock();
  try {
    const rig = await setUp(options, echo);
    try {
      const report = await exercise(rig, options);
      writeFileSync(join(rig.logDir, 'summary.txt'), `${renderReport(report)}\n`);
      writeFileSync(join(rig.logDir, 'report.json'), JSON.stringify({ ...report, health: { outages: report.health.outages } }, null, 2));
      return report;
    } finally {
      rig.providers.stopFaults();
      await rig.health.stop();
      await rig.fleet.stopAll();
      await rig.providers.close();
      await rig.sql.close();
      if (!options.keepCluster) await rig.cluster.stop();
    }
  } finally {
    release();
  }
}

interface Rig {
  started: number;
  logDir: string;
  timeline: Timeline;
  rand: () => number;
  cluster: PgCluster;
  databaseUrl: string;
  providers: Providers;
  gate: DbGate;
  fleet: Fleet;
  health: HealthPoller;
  sql: Sql;
}

/** A log folder, the cluster with a fresh database, the mocks listening, the processes ready to start. */
async function setUp(options: ChaosOptions, echo: (line: string) => void): Promise<Rig> {
  const started = Date.now();
  const logDir = mkdtempSync(join(tmpdir(), 'docket-chaos-'));
  const timeline = new Timeline(join(logDir, 'timeline.log'), echo);
  const rand = random(options.seed);
  const cluster = new PgCluster(options.cluster);
  timeline.add('setup', `logs in ${logDir}; cluster ${cluster.version}/${cluster.name} on port ${cluster.port}`);
  const databaseUrl = await cluster.freshDatabase(options.database);
  const providers = new Providers(rand, timeline);
  await providers.start();
  const gate = new DbGate(cluster);
  const port = await freePort();
  const env = {
    ...TUNING,
    DATABASE_URL: databaseUrl,
    LLAMA_CLOUD_API_KEY: 'llx-chaos',
    LLAMA_CLOUD_BASE_URL: providers.llamaparseUrl,
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    OPENAI_API_KEY: 'sk-chaos',
    OPENAI_BASE_URL: providers.openaiUrl,
  };
  const fleet = new Fleet({ env, port, workers: options.workers, logDir, ready: () => gate.ready(), timeline });
  return { started, logDir, timeline, rand, cluster, databaseUrl, providers, gate, fleet, health: new HealthPoller(fleet.url, join(logDir, 'health.jsonl')), sql: new Sql(databaseUrl) };
}

/** Start, upload under chaos, settle, stop, check. */
async function exercise(rig: Rig, options: ChaosOptions): Promise<ChaosReport> {
  const { fleet, health, timeline, sql, providers } = rig;
  await fleet.start();
  timeline.add('setup', `server ${fleet.url} and ${options.workers} workers running; database ${rig.databaseUrl}`);
  const setupMs = Date.now() - rig.started;
  // The mocks run on this thread: a stalled loop here would look like slow providers, so it is reported.
  const lag = monitorEventLoopDelay({ resolution: 20 });
  lag.enable();
  health.start();
  providers.startFaults();
  const monkey = new Monkey(rig, options.schedule);
  const [chaos, uploads] = await Promise.all([
    monkey.run(),
    uploadAll({ url: fleet.url, count: options.uploads, seed: options.seed, spreadMs: options.uploadSpreadMs, concurrency: options.uploadConcurrency, giveUpMs: 60_000 }),
  ]);
  timeline.add('uploads', `${uploads.filter((u) => u.jobId).length}/${uploads.length} accepted`);
  const jobIds = [...new Set(uploads.flatMap((u) => (u.jobId ? [u.jobId] : [])))];
  const settled = await settle(sql, jobIds, { timeoutMs: options.settleTimeoutMs, stallMs: options.stallMs, timeline });
  providers.stopFaults();
  await health.stop();
  lag.disable();
  const shutdown = await fleet.stopAll();
  const failures = await failureClasses(sql, providers);
  const checks = [...(await databaseChecks(sql, providers, jobIds, uploads, failures)), ...healthChecks(health.samples, chaos.outages), ...processChecks(fleet.exits, shutdown)];
  return {
    logDir: rig.logDir,
    databaseUrl: rig.databaseUrl,
    seconds: { total: (Date.now() - rig.started) / 1000, setup: setupMs / 1000, settle: settled.ms / 1000 },
    settled,
    uploads: uploadSummary(uploads),
    chaos: chaosSummary(chaos, fleet.exits.filter((e) => !e.expected).length),
    injected: { ...providers.injected, served: providers.served(), requests: providers.requests() },
    harnessLagMs: { p99: Math.round(lag.percentile(99) / 1e6), max: Math.round(lag.max / 1e6) },
    failures,
    health: { samples: health.samples, outages: chaos.outages },
    checks,
    ok: checks.every((c) => c.ok) && settled.outcome === 'settled',
  };
}

async function databaseChecks(sql: Sql, providers: Providers, jobIds: string[], uploads: UploadResult[], failures: FailureClass[]): Promise<Check[]> {
  const refused = uploads.filter((u) => !u.jobId).map((u) => `${u.name}: never accepted (${u.refusals.slice(-3).join(', ')})`);
  return [
    { name: 'every upload accepted', ok: refused.length === 0, detail: `${uploads.length} uploads`, evidence: refused.slice(0, 5) },
    await terminalCheck(sql, jobIds),
    failureCheck(failures),
    ...(await chunkChecks(sql, Number(TUNING.CHUNK_TOKENS))),
    await seqCheck(sql),
    await effectResultCheck(sql),
    await webhookCheck(sql, providers.deliveriesByJob()),
    await timerCheck(sql),
    await leftoverCheck(sql),
    (await submissionCheck(sql, providers)).check,
  ];
}

function uploadSummary(uploads: UploadResult[]): ChaosReport['uploads'] {
  const refusals: Record<string, number> = {};
  for (const refusal of uploads.flatMap((u) => u.refusals)) refusals[refusal] = (refusals[refusal] ?? 0) + 1;
  return { planned: uploads.length, accepted: uploads.filter((u) => u.jobId).length, retried: uploads.filter((u) => u.attempts > 1).length, refusals };
}

function chaosSummary(chaos: Chaos, crashes: number): ChaosReport['chaos'] {
  const downMs = chaos.outages.map((o) => o.startAt - o.downAt);
  return { kills: chaos.kills.length, crashes, pgRestarts: chaos.outages.length, downMs, modes: chaos.outages.map((o) => o.mode) };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

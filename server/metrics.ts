/**
 * The Prometheus metrics of one process (GET /metrics): the engine's counters and histograms, jobs
 * by stage, HTTP request times (the LlamaParse webhook's among them) and Node's own process metrics.
 * The engine keeps plain numbers (rt.metrics()); this module maps them to prom-client at each scrape.
 */
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import type { HistogramSnapshot, RuntimeMetrics } from '../index.js';
import type { Pipeline } from '../pipeline/index.js';
import { jobsByStage } from '../pipeline/stats.js';

type Labels = Record<string, string | number>;
interface Sample {
  value: number;
  labels: Labels;
  metricName?: string;
}

/** A job count older than this is read again; scrapes closer together share one query. */
const JOBS_CACHE_MS = 1000;
/** HTTP request buckets, seconds: a webhook answers in milliseconds, an upload of 50 MiB in seconds. */
const HTTP_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface ProcessMetrics {
  registry: Registry;
  /** Times each HTTP request, labelled by method, route pattern and status. */
  http: RequestHandler;
  /** The text format and its content type, for a scrape. */
  scrape(): Promise<{ contentType: string; body: string }>;
}

/** Collectors over this pipeline's runtime and tables, in a registry of their own (tests run many). */
export function processMetrics(pipeline: Pipeline, logger: Logger): ProcessMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let engine: RuntimeMetrics = pipeline.runtime.metrics();
  const read = () => engine;
  engineCollectors(registry, read);
  budgetCollectors(registry, pipeline);
  const jobs = jobCollectors(registry, pipeline, logger);
  const httpSeconds = new Histogram({
    name: 'docket_http_request_duration_seconds',
    help: 'HTTP requests by method, route pattern and status, from arrival to the end of the answer; route="/webhooks/llamaparse" is webhook handling time',
    labelNames: ['method', 'route', 'status'],
    buckets: HTTP_BUCKETS,
    registers: [registry],
  });
  return {
    registry,
    http: (req, res, next) => {
      const stop = httpSeconds.startTimer();
      // The route pattern, never the raw path: ids in paths would make a series per job.
      res.once('finish', () => stop({ method: req.method, route: req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched', status: res.statusCode }));
      next();
    },
    async scrape() {
      engine = pipeline.runtime.metrics();
      await jobs.refresh();
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

/** Jobs by stage, and whether the database answered the query. */
function jobCollectors(registry: Registry, pipeline: Pipeline, logger: Logger) {
  const stages = new Gauge({ name: 'docket_jobs', help: 'Upload jobs by stage, from upload_pipeline.upload_jobs (the same in every process: aggregate with max by (stage))', labelNames: ['stage'], registers: [registry] });
  const up = new Gauge({ name: 'docket_database_up', help: '1 when the last scrape could read the job counts, 0 when the database did not answer', registers: [registry] });
  let readAt = -Infinity;
  return {
    async refresh() {
      if (performance.now() - readAt < JOBS_CACHE_MS) return;
      try {
        const counts = await jobsByStage(pipeline.db);
        stages.reset();
        for (const [stage, count] of counts) stages.set({ stage }, count);
        up.set(1);
        readAt = performance.now();
      } catch (error) {
        // The engine's metrics are still worth serving while the database is away.
        logger.warn({ err: error }, 'metrics: could not count jobs by stage');
        stages.reset();
        up.set(0);
      }
    },
  };
}

/** The engine's metrics as counters, histograms and a summary, read from the latest rt.metrics(). */
function engineCollectors(registry: Registry, read: () => RuntimeMetrics): void {
  const counters: [string, string, (m: RuntimeMetrics) => number][] = [
    ['docket_steps_total', 'Instance steps applied (an instance in a batch counts once)', (m) => m.steps],
    ['docket_events_applied_total', 'Events applied to instances', (m) => m.eventsApplied],
    ['docket_events_dropped_total', 'Events dropped: stale effect results, events to finished instances', (m) => m.eventsDropped],
    ['docket_step_failures_total', 'Step transactions that failed (not database outages, which are waited out)', (m) => m.stepFailures],
    ['docket_timers_fired_total', 'Durable timers fired', (m) => m.timersFired],
  ];
  for (const [name, help, value] of counters) computed(new Counter({ name, help, registers: [registry] }), () => [{ value: value(read()), labels: {} }]);
  const perService = (pick: (e: RuntimeMetrics['effects'][string]) => Sample[]) => () => Object.entries(read().effects).flatMap(([service, e]) => pick(e).map((s) => ({ ...s, labels: { service, ...s.labels } })));
  computed(
    new Counter({ name: 'docket_effects_started_total', help: 'Effect attempts started, by service', labelNames: ['service'], registers: [registry] }),
    perService((e) => [{ value: e.started, labels: {} }]),
  );
  computed(
    new Counter({ name: 'docket_effects_finished_total', help: 'Effects that ended, by service and outcome (succeeded, failed, canceled: cancelled in flight or result dropped)', labelNames: ['service', 'outcome'], registers: [registry] }),
    perService((e) => (['succeeded', 'failed', 'canceled'] as const).map((outcome) => ({ value: e[outcome], labels: { outcome } }))),
  );
  computed(
    new Counter({ name: 'docket_effect_retries_total', help: 'Effect attempts that failed transiently and were scheduled again, by service', labelNames: ['service'], registers: [registry] }),
    perService((e) => [{ value: e.retries, labels: {} }]),
  );
  const histogram = (name: string, help: string, labelNames: string[], samples: () => Sample[]) =>
    computed(new Histogram({ name, help, labelNames, registers: [registry] }), samples);
  histogram('docket_effect_attempt_duration_seconds', 'Wall time of effect attempts, by service and outcome (ok: returned, error: threw)', ['service', 'outcome'], () =>
    Object.entries(read().effects).flatMap(([service, e]) => [
      ...histogramSamples('docket_effect_attempt_duration_seconds', e.attemptMs.ok, { service, outcome: 'ok' }),
      ...histogramSamples('docket_effect_attempt_duration_seconds', e.attemptMs.error, { service, outcome: 'error' }),
    ]),
  );
  histogram('docket_step_transaction_duration_seconds', 'Wall time of step transactions that applied something, from taking a connection to the commit', [], () =>
    histogramSamples('docket_step_transaction_duration_seconds', read().stepTransactionMs, {}),
  );
  histogram('docket_timer_lateness_seconds', 'How late durable timers fired after their due time', [], () => histogramSamples('docket_timer_lateness_seconds', read().timerLatenessMs, {}));
  const lag = 'docket_event_lag_seconds';
  computed(new Summary({ name: lag, help: 'From an event becoming applicable (sent, or its timer due) to the commit of its step; quantiles over the last 8192 events', registers: [registry] }), (): Sample[] => {
    const m = read().eventLagMs;
    return [
      { value: m.p50 / 1000, labels: { quantile: 0.5 } },
      { value: m.p99 / 1000, labels: { quantile: 0.99 } },
      { metricName: `${lag}_sum`, value: m.sum / 1000, labels: {} },
      { metricName: `${lag}_count`, value: m.count, labels: {} },
    ];
  });
}

/** The shared budgets' waits and pauses as this process saw them (pipeline/budget-metrics.ts). */
function budgetCollectors(registry: Registry, pipeline: Pipeline): void {
  const wait = 'docket_budget_wait_seconds';
  computed(
    new Histogram({
      name: wait,
      help: 'How long provider calls waited on a shared budget, by provider role (embedder, parser) and budget (concurrency: a slot; rate: tokens or requests per window; pause: a provider paused after a 429)',
      labelNames: ['provider', 'budget'],
      registers: [registry],
    }),
    () => pipeline.budgets.metrics().waitMs.flatMap(({ provider, budget, histogram }) => histogramSamples(wait, histogram, { provider, budget })),
  );
  computed(
    new Counter({ name: 'docket_provider_pauses_total', help: "A provider's 429s that this process recorded as a pause for every worker, by provider role", labelNames: ['provider'], registers: [registry] }),
    () => Object.entries(pipeline.budgets.metrics().pauses).map(([provider, value]) => ({ value, labels: { provider } })),
  );
  computed(
    new Counter({ name: 'docket_uploads_rate_limited_total', help: 'Uploads this process answered 429 RATE_LIMITED (UPLOAD_RATE_LIMIT)', registers: [registry] }),
    () => [{ value: pipeline.budgets.metrics().uploadsRateLimited, labels: {} }],
  );
}

/** An engine histogram (milliseconds) as Prometheus samples (seconds): buckets, +Inf, sum, count. */
function histogramSamples(name: string, h: Pick<HistogramSnapshot, 'bounds' | 'counts' | 'count' | 'sum'>, labels: Labels): Sample[] {
  return [
    ...h.bounds.map((bound, i) => ({ metricName: `${name}_bucket`, value: h.counts[i]!, labels: { ...labels, le: bound / 1000 } })),
    { metricName: `${name}_bucket`, value: h.count, labels: { ...labels, le: '+Inf' } },
    { metricName: `${name}_sum`, value: h.sum / 1000, labels },
    { metricName: `${name}_count`, value: h.count, labels },
  ];
}

/**
 * A prom-client metric whose samples are computed at each scrape from the engine's numbers, rather
 * than observed one by one: its name, help and type come from prom-client, its values from `samples`.
 */
function computed(metric: Counter | Histogram | Summary, samples: () => Sample[]): void {
  // The registry formats a histogram through getForPromString() when it has one, else get(); the
  // histogram's get() itself calls getForPromString(). Name, help and type come from the original.
  const base = metric as unknown as { get(): Promise<object>; getForPromString?(): Promise<object> };
  const own = (base.getForPromString ?? base.get).bind(metric);
  const get = async () => ({ ...(await own()), values: samples() });
  Object.assign(metric, base.getForPromString ? { get, getForPromString: get } : { get });
}

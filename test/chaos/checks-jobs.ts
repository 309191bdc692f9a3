/**
 * Invariants on the pipeline's tables (`upload_pipeline`) after the run has settled: every job
 * terminal, every failure explained by an injected fault, chunks written once and counted right,
 * LlamaParse submissions bounded by the submit effect's attempts.
 */
import { chunkMarkdown } from '../../adapters/local/chunker.js';
import type { Providers } from './providers.js';
import { SCRIPTED_PARSE_ERRORS } from './providers.js';
import { check, type Check, type Sql } from './sql.js';

/** Codes of the faults the harness injects at the providers: retries exhausted on these are explained. */
const INJECTED_CODES = /^(LLAMAPARSE_RATE_LIMITED|LLAMAPARSE_HTTP_5\d\d|OPENAI_RATE_LIMIT_EXCEEDED|OPENAI_HTTP_5\d\d)$/;
const MAX_ATTEMPTS = 5; // the runtime's default retry policy (runtime/retry.ts)

export async function terminalCheck(sql: Sql, jobIds: string[]): Promise<Check> {
  const rows = await sql.rows<{ job_id: string; stage: string; instance: string | null }>(
    `SELECT j.job_id, j.stage, i.status AS instance FROM upload_pipeline.upload_jobs j
     LEFT JOIN docket.instances i ON i.id = j.job_id
     WHERE NOT ((j.stage IN ('complete', 'canceled') AND i.status = 'done')
       -- failed waits for a RETRY (machine version 3): its instance stays active
       OR (j.stage = 'failed' AND i.status = 'active' AND i.snapshot->'value' = '"failed"'::jsonb))`,
  );
  const known = new Set((await sql.rows<{ job_id: string }>('SELECT job_id FROM upload_pipeline.upload_jobs')).map((r) => r.job_id));
  const missing = jobIds.filter((id) => !known.has(id)).map((id) => `accepted upload ${id} has no job row`);
  return check('every job terminal', [...rows, ...missing], `${jobIds.length} accepted jobs, ${known.size} job rows`);
}

export interface FailureClass {
  code: string;
  stage: string;
  count: number;
  explained: string | null;
  example: string;
}

/** Failed jobs by (stage, code), each explained by an injected fault or not. */
export async function failureClasses(sql: Sql, providers: Providers): Promise<FailureClass[]> {
  const rows = await sql.rows<{ job_id: string; stage: string; code: string; message: string; parse_job_id: string | null; effect: EffectRow | null }>(
    `SELECT j.job_id, j.error->>'stage' AS stage, j.error->>'code' AS code, j.error->>'message' AS message, j.parse_job_id,
       (SELECT row_to_json(e) FROM (SELECT service, attempts, attempt_log FROM docket.effects
          WHERE instance_id = j.job_id AND status = 'failed' ORDER BY id DESC LIMIT 1) e) AS effect
     FROM upload_pipeline.upload_jobs j WHERE j.stage = 'failed'`,
  );
  const classes = new Map<string, FailureClass>();
  for (const row of rows) {
    const explained = explain(row, providers);
    const key = `${row.stage}|${row.code}|${explained ?? ''}`;
    const effect = row.effect ? ` [${row.effect.service}, attempt ${row.effect.attempts}; failed attempts logged: ${row.effect.attempt_log.map((a) => a.code).join(', ') || 'none'}]` : '';
    const entry = classes.get(key) ?? { code: row.code, stage: row.stage, count: 0, explained, example: `${row.job_id}: ${row.message}${effect}` };
    entry.count += 1;
    classes.set(key, entry);
  }
  return [...classes.values()].sort((a, b) => b.count - a.count);
}

interface EffectRow {
  service: string;
  attempts: number;
  attempt_log: { code: string }[];
}

function explain(row: { code: string; parse_job_id: string | null; effect: EffectRow | null }, providers: Providers): string | null {
  const remote = row.parse_job_id ? providers.llamaparse.jobs.get(row.parse_job_id) : undefined;
  const scripted = SCRIPTED_PARSE_ERRORS.find((code) => row.code === `LLAMAPARSE_${code}`);
  if (scripted && remote?.status === 'ERROR' && remote.error_code === scripted) return 'scripted LlamaParse ERROR';
  const log = row.effect?.attempt_log ?? [];
  if (row.effect && row.effect.attempts >= MAX_ATTEMPTS && log.length > 0 && log.every((entry) => INJECTED_CODES.test(entry.code))) {
    return 'retries exhausted on injected faults';
  }
  return null;
}

export function failureCheck(classes: FailureClass[]): Check {
  const unexplained = classes.filter((c) => !c.explained).map((c) => `${c.count} x ${c.stage}/${c.code}: ${c.example}`);
  const failed = classes.reduce((sum, c) => sum + c.count, 0);
  return check('every failure explained by an injected fault', unexplained, `${failed} failed jobs`);
}

/**
 * Chunks: a job's rows are exactly the chunker's output for its stored document, each once (none for
 * a job that never got there), and the job's counters equal its rows.
 */
export async function chunkChecks(sql: Sql, chunkTokens: number): Promise<Check[]> {
  const rows = await sql.rows<ChunkStats>(
    `SELECT j.job_id, j.stage, j.chunks AS counter, j.embedded AS embedded_counter, d.markdown,
       coalesce(json_agg(c.text ORDER BY c.index) FILTER (WHERE c.index IS NOT NULL), '[]') AS texts,
       coalesce(max(c.index) + 1, 0)::int AS span, count(c.embedding)::int AS embedded_rows
     FROM upload_pipeline.upload_jobs j LEFT JOIN upload_pipeline.documents d USING (job_id)
     LEFT JOIN upload_pipeline.chunks c USING (job_id)
     GROUP BY j.job_id, j.stage, j.chunks, j.embedded, d.markdown`,
  );
  const total = rows.reduce((sum, r) => sum + r.texts.length, 0);
  const show = (r: ChunkStats) => ({ job: r.job_id, stage: r.stage, chunks: r.counter, embedded: r.embedded_counter, rows: r.texts.length, embedded_rows: r.embedded_rows });
  const written = (r: ChunkStats) => {
    const expected = r.markdown === null ? [] : chunkMarkdown(r.markdown, { maxTokens: chunkTokens }).map((c) => c.text);
    const exact = r.texts.length === expected.length && r.span === expected.length && r.texts.every((text, i) => text === expected[i]);
    return r.texts.length === 0 ? r.stage !== 'complete' || expected.length === 0 : exact;
  };
  const miscounted = rows.filter((r) => r.embedded_counter !== r.embedded_rows);
  return [
    check('no chunk written twice', rows.filter((r) => !written(r)).map((r) => ({ ...show(r), span: r.span, expected: r.markdown === null ? null : chunkMarkdown(r.markdown, { maxTokens: chunkTokens }).length })), `${total} chunk rows over ${rows.length} jobs, each compared with the chunker's output`),
    check('upload_jobs.chunks = chunk rows', rows.filter((r) => r.counter !== r.texts.length).map(show), 'per job'),
    check('upload_jobs.embedded = embedded rows', await withBatches(sql, miscounted.map(show)), 'per job'),
    check('complete jobs: every chunk embedded', rows.filter((r) => r.stage === 'complete' && r.embedded_rows !== r.texts.length).map(show), 'per complete job'),
  ];
}

/** The embedBatch effects of the first few offending jobs: attempts and outputs show a retried batch. */
async function withBatches(sql: Sql, jobs: { job: string }[]): Promise<unknown[]> {
  const shown = await Promise.all(
    jobs.slice(0, 3).map(async (job) => {
      const batches = await sql.rows<{ attempts: number; output: unknown }>(
        `SELECT attempts, output FROM docket.effects WHERE instance_id = $1 AND service = 'embedBatch' ORDER BY id`,
        [job.job],
      );
      return `${JSON.stringify(job)}; embedBatch effects: ${batches.map((b) => `attempts ${b.attempts} -> ${JSON.stringify(b.output)}`).join('; ')}`;
    }),
  );
  return [...shown, ...jobs.slice(3)];
}

interface ChunkStats {
  job_id: string;
  stage: string;
  counter: number;
  embedded_counter: number;
  markdown: string | null;
  texts: string[];
  span: number;
  embedded_rows: number;
}

/** LlamaParse uploads that reached the mock, per job, at most the submit effect's attempts (1 + retries and takeovers). */
export async function submissionCheck(sql: Sql, providers: Providers): Promise<{ check: Check; resubmitted: number }> {
  const effects = await sql.rows<{ instance_id: string; attempts: number; failed: number }>(
    `SELECT instance_id, sum(attempts)::int AS attempts, sum(jsonb_array_length(attempt_log))::int AS failed
     FROM docket.effects WHERE service = 'submitParse' GROUP BY instance_id`,
  );
  const byJob = new Map(effects.map((e) => [e.instance_id, e]));
  const violations: object[] = [];
  let resubmitted = 0;
  for (const [jobId, submissions] of providers.submissionsByJob()) {
    const effect = byJob.get(jobId);
    if (submissions > 1) resubmitted += 1;
    if (!effect || submissions > effect.attempts) violations.push({ job: jobId, submissions, attempts: effect?.attempts ?? 0, failed_attempts_logged: effect?.failed ?? 0 });
  }
  const submitted = [...providers.submissionsByJob().values()].reduce((a, b) => a + b, 0);
  return { check: check('LlamaParse submissions per job <= submit attempts', violations, `${submitted} uploads at the mock for ${byJob.size} jobs; ${resubmitted} jobs submitted more than once`), resubmitted };
}

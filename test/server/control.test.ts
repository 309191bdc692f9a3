import test from 'ava';
import { PermanentError, type ServiceHandler } from '../../index.js';
import { failOnLeakedRuntimes } from '../helpers/leaks.js';
import { gate, sections, serverWith } from '../helpers/control.js';
import { getJson, until, upload } from '../helpers/server.js';

failOnLeakedRuntimes();
const serial = test.serial;

const post = async (url: string) => {
  const response = await fetch(url, { method: 'POST' });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
};
const del = async (url: string) => {
  const response = await fetch(url, { method: 'DELETE' });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
};
const settled = (url: string, id: string) => until(`${url}/v1/jobs/${id}`, (job) => ['complete', 'failed', 'canceled'].includes(job.stage));

/** Validation fails every time. */
const refuseValidation = (name: string, handler: ServiceHandler): ServiceHandler =>
  name !== 'validateUpload'
    ? handler
    : async () => {
        throw new PermanentError('refused by the test', { code: 'INJECTED' });
      };

/** chunkDocument waits, ignoring its abort signal, until released; then returns a result of its own (a late one). */
function lateChunking() {
  const started = gate();
  const release = gate();
  const aborted = gate<unknown>();
  const returned = gate();
  const instrument = (name: string, handler: ServiceHandler): ServiceHandler =>
    name !== 'chunkDocument'
      ? handler
      : async (context) => {
          context.signal.addEventListener('abort', () => aborted.open(context.signal.reason), { once: true });
          started.open();
          await release.promise;
          returned.open();
          return { chunks: 99, warnings: [] };
        };
  return { started, release, aborted, returned, instrument };
}

serial('POST /v1/jobs/:id/cancel mid-pipeline: the running attempt is aborted, the job ends canceled, its late result changes nothing', async (t) => {
  const late = lateChunking();
  const { url, pipeline } = await serverWith(t, { pipeline: { instrument: late.instrument } });
  const { body } = await upload(url, { name: 'notes.md', content: sections(1) });
  await late.started.promise;
  const canceled = await post(`${url}/v1/jobs/${body.job_id}/cancel`);
  t.is(canceled.status, 202);
  t.like(canceled.body, { job_id: body.job_id, stage: 'chunking', requested: 'cancel' });
  const job = await settled(url, body.job_id);
  t.like(job, { stage: 'canceled', status: 'done', chunks: 0 });
  t.like(await late.aborted.promise, { code: 'EFFECT_CANCELED' }, 'the attempt was told to stop');

  late.release.open();
  await late.returned.promise;
  // Closing the runtime waits for whatever its effect runner still does with that result.
  await pipeline.runtime.close();
  const after = (await pipeline.store.job(body.job_id))!;
  t.like(after, { stage: 'canceled', chunks: 0 });
  const history = job.history.map((h: { stage: string; event: string }) => `${h.stage} ${h.event}`);
  t.is(history.at(-1), 'canceled CANCEL');
  const { rows } = await pipeline.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM docket.journal WHERE instance_id = $1`, [body.job_id]);
  t.is(rows[0]!.n, job.history.length, 'no step after canceled');
});

serial('cancel, retry and delete answer 409 with a reason when the stage forbids it, 404 for no job, 400 for a bad id', async (t) => {
  const { url } = await serverWith(t);
  const { body } = await upload(url, { name: 'notes.md', content: sections(2) });
  await settled(url, body.job_id);
  const cancel = await post(`${url}/v1/jobs/${body.job_id}/cancel`);
  t.is(cancel.status, 409);
  t.like(cancel.body, { error: { code: 'JOB_FINISHED' } });
  t.regex(cancel.body.error.message, /is complete; there is nothing to cancel/);
  const retry = await post(`${url}/v1/jobs/${body.job_id}/retry`);
  t.is(retry.status, 409);
  t.like(retry.body, { error: { code: 'JOB_NOT_FAILED', message: `job ${body.job_id} is complete; only a failed job can be retried` } });
  const none = '00000000-0000-4000-8000-000000000000';
  for (const answer of [await post(`${url}/v1/jobs/${none}/cancel`), await post(`${url}/v1/jobs/${none}/retry`), await del(`${url}/v1/jobs/${none}`)]) {
    t.is(answer.status, 404);
    t.like(answer.body, { error: { code: 'JOB_NOT_FOUND' } });
  }
  t.like(await post(`${url}/v1/jobs/x/cancel`), { status: 400, body: { error: { code: 'INVALID_JOB_ID' } } });
  t.like(await del(`${url}/v1/jobs/x`), { status: 400, body: { error: { code: 'INVALID_JOB_ID' } } });
});

serial('POST /v1/jobs/:id/retry resumes a failed job at the stage that failed: finished stages are not run again', async (t) => {
  const calls: Record<string, number> = {};
  let failOnce = true;
  const instrument = (name: string, handler: ServiceHandler): ServiceHandler => async (context) => {
    calls[name] = (calls[name] ?? 0) + 1;
    // The second embedding batch fails, permanently, once: the first batch's vectors are kept.
    if (name === 'embedBatch' && calls[name] === 2 && failOnce) {
      failOnce = false;
      throw new PermanentError('the embedder refused the batch', { code: 'INJECTED' });
    }
    return handler(context);
  };
  const { url, pipeline } = await serverWith(t, { env: { CHUNK_TOKENS: '64', EMBED_BATCH_SIZE: '2' }, pipeline: { instrument } });
  const { body } = await upload(url, { name: 'notes.md', content: sections(3) });
  const failed = await settled(url, body.job_id);
  t.like(failed, { stage: 'failed', status: 'active', embedded: 2, error: { stage: 'embedding', code: 'INJECTED' } });
  t.true(failed.chunks > 4, `${failed.chunks} chunks`);
  const before = { ...calls };

  const retried = await post(`${url}/v1/jobs/${body.job_id}/retry`);
  t.is(retried.status, 202);
  t.like(retried.body, { job_id: body.job_id, stage: 'failed', requested: 'retry', retry_from: 'embedding' });
  await pipeline.runtime.waitFor(body.job_id, (s) => s.status === 'done');
  const { body: job } = await getJson(`${url}/v1/jobs/${body.job_id}`);
  t.like(job, { stage: 'complete', error: null, embedded: failed.chunks, chunks: failed.chunks });
  t.deepEqual(
    { validateUpload: calls.validateUpload, submitParse: calls.submitParse, chunkDocument: calls.chunkDocument },
    { validateUpload: before.validateUpload, submitParse: before.submitParse, chunkDocument: before.chunkDocument },
    'validation, parsing and chunking ran once',
  );
  t.is(calls.embedBatch! - before.embedBatch!, Math.ceil((failed.chunks - 2) / 2), 'only the batches not yet embedded ran');
  const stages = job.history.map((h: { stage: string }) => h.stage);
  t.deepEqual(stages.slice(stages.indexOf('failed')), ['failed', ...Array(Math.ceil((failed.chunks - 2) / 2)).fill('embedding'), 'embedded', 'complete']);
  t.is(job.history[stages.indexOf('failed') + 1].event, 'RETRY');
  t.like(await post(`${url}/v1/jobs/${body.job_id}/retry`), { status: 409, body: { error: { code: 'JOB_NOT_FAILED' } } });
});

serial('a job that failed under machine version 2 (failed was final) answers 409 JOB_NOT_RETRYABLE', async (t) => {
  const { url, pipeline } = await serverWith(t, { pipeline: { instrument: refuseValidation } });
  const { body } = await upload(url, { name: 'notes.md', content: sections(6) });
  await settled(url, body.job_id);
  // What a version-2 runtime wrote: the failed snapshot is done.
  await pipeline.db.query(`UPDATE docket.instances SET machine_version = 2, status = 'done', snapshot = jsonb_set(snapshot, '{status}', '"done"') WHERE id = $1`, [body.job_id]);
  const retry = await post(`${url}/v1/jobs/${body.job_id}/retry`);
  t.is(retry.status, 409);
  t.like(retry.body, { error: { code: 'JOB_NOT_RETRYABLE' } });
  t.regex(retry.body.error.message, /version 2, whose failed state is final; delete it and upload the file again/);
  t.like(await post(`${url}/v1/jobs/${body.job_id}/cancel`), { status: 409, body: { error: { code: 'JOB_FINISHED' } } });
});

serial('a failed job can be canceled: it gives up on a retry', async (t) => {
  const { url } = await serverWith(t, { pipeline: { instrument: refuseValidation } });
  const { body } = await upload(url, { name: 'notes.md', content: sections(7) });
  t.like(await settled(url, body.job_id), { stage: 'failed', status: 'active', error: { stage: 'queued', code: 'INJECTED' } });
  t.is((await post(`${url}/v1/jobs/${body.job_id}/cancel`)).status, 202);
  t.like(await until(`${url}/v1/jobs/${body.job_id}`, (job) => job.stage !== 'failed'), { stage: 'canceled', status: 'done' });
  t.like(await post(`${url}/v1/jobs/${body.job_id}/retry`), { status: 409, body: { error: { code: 'JOB_NOT_FAILED' } } });
});

serial('DELETE /v1/jobs/:id removes the job, its chunks, its engine instance and its bytes; the same bytes can be uploaded again', async (t) => {
  const { url, pipeline } = await serverWith(t);
  const content = sections(4);
  const { body } = await upload(url, { name: 'notes.md', content });
  const done = await settled(url, body.job_id);
  t.true(done.chunks > 0);
  const sha = done.sha256 as string;
  const deleted = await del(`${url}/v1/jobs/${body.job_id}`);
  t.is(deleted.status, 200);
  t.deepEqual(deleted.body, { job_id: body.job_id, deleted: true, stage: 'complete', bytes_deleted: true });
  t.is((await getJson(`${url}/v1/jobs/${body.job_id}`)).status, 404);
  t.is((await getJson(`${url}/v1/jobs/${body.job_id}/chunks`)).status, 404);
  const count = async (sql: string, value: string) => (await pipeline.db.query<{ n: number }>(sql, [value])).rows[0]!.n;
  t.is(await count('SELECT count(*)::int AS n FROM upload_pipeline.chunks WHERE job_id = $1', body.job_id), 0);
  t.is(await count('SELECT count(*)::int AS n FROM upload_pipeline.documents WHERE job_id = $1', body.job_id), 0);
  t.is(await count('SELECT count(*)::int AS n FROM upload_pipeline.files WHERE sha256 = $1', sha), 0);
  t.is(await count('SELECT count(*)::int AS n FROM docket.journal WHERE instance_id = $1', body.job_id), 0);
  t.is(await pipeline.runtime.get(body.job_id), null);
  t.like(await del(`${url}/v1/jobs/${body.job_id}`), { status: 404, body: { error: { code: 'JOB_NOT_FOUND' } } });
  const again = await upload(url, { name: 'notes.md', content });
  t.is(again.status, 202, 'a new job, not a duplicate of the deleted one');
  t.not(again.body.job_id, body.job_id);
});

serial('DELETE of a running job stops it (its attempt aborted); bytes another job shares are kept', async (t) => {
  const late = lateChunking();
  const { url, pipeline } = await serverWith(t, { pipeline: { instrument: late.instrument } });
  const { body } = await upload(url, { name: 'notes.md', content: sections(5) });
  await late.started.promise;
  const job = (await pipeline.store.job(body.job_id))!;
  // Another tenant's job holding the same bytes (content dedupes within a tenant, never across).
  await pipeline.db.query(
    `INSERT INTO upload_pipeline.upload_jobs (job_id, tenant, stage, status, filename, bytes, sha256, created_at, updated_at)
     VALUES ('00000000-0000-4000-8000-0000000000aa', 'other', 'complete', 'done', 'copy.md', $1, $2, now(), now())`,
    [job.bytes, job.sha256],
  );
  const deleted = await del(`${url}/v1/jobs/${body.job_id}`);
  t.like(deleted, { status: 200, body: { stage: 'chunking', bytes_deleted: false } });
  t.like(await late.aborted.promise, { code: 'EFFECT_CANCELED' });
  t.truthy(await pipeline.store.file(job.sha256), 'the shared bytes stay');
  late.release.open();
  await late.returned.promise;
  await pipeline.runtime.close();
  t.is(await pipeline.store.job(body.job_id), null);
  t.deepEqual(await pipeline.store.chunks(body.job_id), []);
});

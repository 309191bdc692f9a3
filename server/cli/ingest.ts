import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { detectType } from '../../adapters/local/file-type.js';
import { isSettled, stageOf } from '../../machines/upload.js';
import { createPipeline } from '../../pipeline/index.js';
import { Progress } from './progress.js';
import type { CommandContext } from './run.js';

/**
 * `docket ingest <files…>`: runs the pipeline on the files in this process, with a progress bar per
 * file. Resolves with the exit code: 0 when every file completed, 1 when any failed or was refused.
 */
export async function ingest(files: string[], { config, logger }: CommandContext): Promise<number> {
  // Warm: the threads load PDF.js and the tokenizer while the database opens and migrates.
  const pipeline = await createPipeline(config, { logger, warmWorkers: true });
  const progress = new Progress(process.stdout);
  let failures = 0;
  try {
    await Promise.all(
      files.map(async (path) => {
        const row = progress.add({ file: path, stage: 'queued' });
        let content: Uint8Array;
        try {
          content = new Uint8Array(await readFile(path));
        } catch (error) {
          failures += 1;
          return progress.update(row, 'refused', `cannot read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
        }
        if (content.byteLength === 0 || content.byteLength > config.MAX_UPLOAD_BYTES || !detectType(content, path)) {
          failures += 1;
          const why = content.byteLength === 0 ? 'empty file' : content.byteLength > config.MAX_UPLOAD_BYTES ? `over ${config.MAX_UPLOAD_BYTES} bytes` : 'not a PDF, HTML, Markdown or text file';
          return progress.update(row, 'refused', why);
        }
        const { jobId, duplicate } = await pipeline.submit({ content, filename: basename(path) });
        const label = duplicate ? `job ${jobId}, seen before` : `job ${jobId}`;
        progress.update(row, 'queued', label);
        const unsubscribe = pipeline.runtime.subscribe(jobId, (state) => progress.update(row, stageOf(state.value), label));
        const done = await pipeline.runtime.waitFor(jobId, isSettled, { timeoutMs: 60 * 60_000 });
        unsubscribe();
        const job = await pipeline.store.job(jobId);
        const stage = stageOf(done.value);
        if (stage !== 'complete') failures += 1;
        const outcome = job?.error ? `${job.error.code}: ${job.error.message}` : `${job?.chunks ?? 0} chunk${job?.chunks === 1 ? '' : 's'}${job?.warnings.length ? `; ${job.warnings.join('; ')}` : ''}`;
        const detail = `${outcome}; ${label}`;
        progress.update(row, stage, detail);
      }),
    );
  } finally {
    await pipeline.close();
  }
  process.stdout.write(`${files.length - failures} of ${files.length} files complete\n`);
  return failures > 0 ? 1 : 0;
}

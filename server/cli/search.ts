import { runSearch, searchBody, searchRequest } from '../routes/search.js';
import { HttpError } from '../errors.js';
import { EXIT } from './exit.js';
import { CliError, openPipeline, type CommandContext } from './run.js';

export interface SearchCommandOptions {
  k?: number;
  job?: string;
  json?: boolean;
}

/** `docket search "<query>" [--k N] [--job <id>] [--json]`: what POST /v1/search answers. */
export async function searchCommand(query: string, options: SearchCommandOptions, { config, logger }: CommandContext): Promise<number> {
  const parsed = searchBody.safeParse({ query, ...(options.k !== undefined ? { k: options.k } : {}), ...(options.job ? { filter: { job_id: options.job } } : {}) });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new CliError(`${issue.path.join('.') || 'query'}: ${issue.message}`, EXIT.usage);
  }
  const pipeline = await openPipeline({ ...config, DATABASE_WAIT_MS: 0 }, logger, false);
  try {
    const answer = await runSearch(pipeline, searchRequest(parsed.data)).catch((error: unknown) => {
      throw error instanceof HttpError ? new CliError(`${error.code}: ${error.message}`, EXIT.failed) : error;
    });
    if (options.json) {
      process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
      return EXIT.ok;
    }
    if (answer.results.length === 0) process.stdout.write(`no results (search mode ${answer.mode})\n`);
    for (const hit of answer.results) {
      const where = [hit.filename, ...hit.headers].join(' > ');
      const text = hit.text.replace(/\s+/g, ' ').slice(0, 200);
      process.stdout.write(`${hit.score.toFixed(4)}  ${hit.job_id} #${hit.chunk_index}  ${where}\n    ${text}${hit.text.length > 200 ? '…' : ''}\n`);
    }
    return EXIT.ok;
  } finally {
    await pipeline.close();
  }
}

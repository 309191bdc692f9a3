import type { Parser, ParseRequest, Polled, Submitted } from '../contracts.js';
import { AdapterError } from '../errors.js';
import { cleanText } from '../local/text.js';
import type { LlamaParseClient } from './client.js';

/**
 * LlamaParse as a Parser: a submission uploads the file and starts a remote job; a poll reads its
 * status and, once it is done, its Markdown and page count. ERROR and CANCELLED jobs fail with
 * LLAMAPARSE_<error code>; PARTIAL_SUCCESS carries on with a warning.
 */
export class LlamaParseParser implements Parser {
  constructor(private readonly client: LlamaParseClient) {}

  async submit(request: ParseRequest, options: { webhookUrl?: string; webhookSecret?: string; signal?: AbortSignal }): Promise<Submitted> {
    const job = await this.client.upload(request.content, request.filename, options);
    return { kind: 'pending', jobId: job.id };
  }

  async poll(jobId: string, { signal }: { signal?: AbortSignal }): Promise<Polled> {
    const status = await this.client.status(jobId, signal);
    if (status.status === 'PENDING') return { kind: 'pending' };
    if (status.status === 'ERROR' || status.status === 'CANCELLED') {
      throw new AdapterError(`LLAMAPARSE_${status.error_code ?? status.status}`, status.error_message ?? `LlamaParse job ${status.status.toLowerCase()}`);
    }
    const result = await this.client.markdown(jobId, signal);
    const pages = result.job_metadata?.job_pages ?? (await this.client.pages(jobId, signal));
    // The remote text meets the same column as the local parser's: no NUL, no lone surrogates.
    const markdown = cleanText(result.markdown);
    const warnings = status.status === 'PARTIAL_SUCCESS' ? [`PARTIAL_SUCCESS: LlamaParse could not parse every page${status.error_message ? ` (${status.error_message})` : ''}`] : [];
    if (!markdown.trim()) warnings.push('NO_TEXT: the parser found no text; nothing to chunk');
    return { kind: 'done', document: { markdown, pages, warnings } };
  }
}

import type { EmbedInput, Embedder, Parser, ParseRequest, Polled, Submitted } from '../contracts.js';
import { AdapterError } from '../errors.js';
import type { DocumentWorkers } from './workers.js';

/** The local parser: finishes at submission, in a worker thread under the pool's limits. */
export class LocalParser implements Parser {
  constructor(private readonly workers: DocumentWorkers) {}

  async submit(request: ParseRequest, options: { signal?: AbortSignal }): Promise<Submitted> {
    const document = await this.workers.parse(request.content, request.mediaType, { signal: options.signal, transfer: request.handOver });
    return { kind: 'done', document };
  }

  async poll(jobId: string): Promise<Polled> {
    throw new AdapterError('NOTHING_TO_POLL', `the local parser finishes at submission; there is no job ${jobId} to poll`);
  }
}

/** The local embedder (feature hashing), in a worker thread. */
export class LocalEmbedder implements Embedder {
  constructor(
    private readonly workers: DocumentWorkers,
    private readonly dimensions: number,
  ) {}

  embed(inputs: EmbedInput[], options: { signal?: AbortSignal }): Promise<number[][]> {
    return this.workers.embed(inputs.map((input) => input.text), this.dimensions, { signal: options.signal });
  }
}

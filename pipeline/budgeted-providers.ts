import type { EmbedInput, Embedder, ParseRequest, Parser, Polled, Submitted } from '../adapters/contracts.js';
import { AdapterError } from '../adapters/errors.js';
import { LIMITS } from '../adapters/openai/embedder.js';
import type { ProviderBudget } from './budgets.js';

/**
 * An embedder whose calls run within the embedder's budget. The inputs go in groups that are one
 * vendor request each (OpenAI's per-request limits) and carry at most the token limit, so what a
 * reservation counts is exactly what one request sends. Vectors come back in order, as one call's.
 */
export class BudgetedEmbedder implements Embedder {
  constructor(
    private readonly inner: Embedder,
    private readonly budget: ProviderBudget,
  ) {}

  async embed(inputs: EmbedInput[], options: { signal?: AbortSignal }): Promise<number[][]> {
    const vectors: number[][] = [];
    for (const group of requestGroups(inputs, this.budget.maxTokensPerCall)) {
      const tokens = group.reduce((sum, input) => sum + input.tokens, 0);
      vectors.push(...(await this.budget.run(tokens, options.signal, () => this.inner.embed(group, options))));
    }
    return vectors;
  }
}

/** A parser whose submissions and status checks each run within the parser's budget, as one request. */
export class BudgetedParser implements Parser {
  constructor(
    private readonly inner: Parser,
    private readonly budget: ProviderBudget,
  ) {}

  submit(request: ParseRequest, options: { webhookUrl?: string; webhookSecret?: string; signal?: AbortSignal }): Promise<Submitted> {
    return this.budget.run(0, options.signal, () => this.inner.submit(request, options));
  }

  poll(jobId: string, options: { signal?: AbortSignal }): Promise<Polled> {
    return this.budget.run(0, options.signal, () => this.inner.poll(jobId, options));
  }
}

/** Splits inputs into requests: each within OpenAI's input and token limits and within `maxTokens`. */
export function requestGroups<T extends EmbedInput>(inputs: T[], maxTokens: number | undefined): T[][] {
  const cap = Math.min(LIMITS.requestTokens, maxTokens ?? Infinity);
  const groups: T[][] = [];
  let current: T[] = [];
  let tokens = 0;
  for (const input of inputs) {
    if (input.tokens > cap) {
      throw new AdapterError('BUDGET_TOO_SMALL', `a chunk of ${input.tokens} tokens is more than one embedding request may carry (${cap}); raise EMBEDDER_TOKEN_LIMIT`);
    }
    if (current.length === LIMITS.inputs || tokens + input.tokens > cap) {
      groups.push(current);
      current = [];
      tokens = 0;
    }
    current.push(input);
    tokens += input.tokens;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

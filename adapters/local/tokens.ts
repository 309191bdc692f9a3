import { getEncoding, type Tiktoken } from 'js-tiktoken';

let encoding: Tiktoken | undefined;

/** cl100k_base, the tokenizer of OpenAI's embedding models; its ranks ship inside js-tiktoken (no download). */
export function cl100k(): Tiktoken {
  encoding ??= getEncoding('cl100k_base');
  return encoding;
}

export function countTokens(text: string): number {
  return cl100k().encode(text).length;
}

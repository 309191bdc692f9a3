import { z } from 'zod';

/** A fault a mock server injects into its next responses. */
export interface Fault {
  /** HTTP status to answer with (429, 500, 503…); none: only the delay, then a normal answer. */
  status?: number;
  /** Sent as retry-after (whole seconds, rounded up) and retry-after-ms. */
  retryAfterMs?: number;
  /** Extra latency before answering, milliseconds. */
  delayMs?: number;
  /** How many requests it applies to. Default 1. */
  times?: number;
  /** Only requests whose path contains this. Default: any. */
  path?: string;
}

/**
 * Faults queued for a mock's next requests, in order: tests script an outage ("two 429s, then
 * fine") and the standalone mocks take the same list at POST /mock/faults.
 */
export class FaultQueue {
  readonly #queue: Fault[] = [];
  #served = 0;

  add(...faults: Fault[]): void {
    for (const fault of faults) this.#queue.push({ ...fault, times: fault.times ?? 1 });
  }

  /** The fault for this request, if one is due, counting it down. */
  take(path: string): Fault | undefined {
    const queue = this.#queue;
    const index = queue.findIndex((fault) => !fault.path || path.includes(fault.path));
    if (index === -1) return undefined;
    const fault = queue[index]!;
    fault.times = (fault.times ?? 1) - 1;
    if (fault.times <= 0) queue.splice(index, 1);
    this.#served += 1;
    return fault;
  }

  /** Faults injected so far. */
  get served(): number {
    return this.#served;
  }

  clear(): void {
    this.#queue.length = 0;
  }
}

export function retryHeaders(fault: Fault): Record<string, string> {
  if (fault.retryAfterMs === undefined) return {};
  return { 'retry-after': String(Math.ceil(fault.retryAfterMs / 1000)), 'retry-after-ms': String(fault.retryAfterMs) };
}

/** The body of POST /mock/faults on the standalone mocks. */
export const faultList = z.array(
  z.object({
    status: z.number().int().min(100).max(599).optional(),
    retryAfterMs: z.number().nonnegative().optional(),
    delayMs: z.number().nonnegative().optional(),
    times: z.number().int().positive().optional(),
    path: z.string().optional(),
  }),
);

/**
 * Gathers work that arrives together into batches: at most `maxBatch` items per batch and
 * `concurrency` batches in flight, the next one starting as soon as one ends. A burst of starts
 * or of effect results costs a few transactions, not one each; a lone item goes at once.
 */
export class Batcher<T> {
  readonly #queue: T[] = [];
  #inFlight = 0;

  constructor(
    private readonly options: {
      maxBatch: number;
      concurrency: number;
      /** Runs one batch; settles each item itself (it must not throw). */
      run: (batch: T[]) => Promise<void>;
    },
  ) {}

  push(...items: T[]): void {
    this.#queue.push(...items);
    this.#drain();
  }

  /** Puts items back at the head of the queue (to be retried before anything newer). */
  pushFront(items: T[]): void {
    this.#queue.unshift(...items);
    this.#drain();
  }

  #drain(): void {
    while (this.#inFlight < this.options.concurrency && this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.options.maxBatch);
      this.#inFlight += 1;
      void this.options.run(batch).finally(() => {
        this.#inFlight -= 1;
        this.#drain();
      });
    }
  }
}

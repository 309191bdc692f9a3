/**
 * Runs `work(key)` at most once at a time per key. A request while a run is in flight schedules
 * exactly one more run after it, however many arrive: the rerun reads everything the requests were
 * about, so notifications in a burst cost two reads, not one each, and never run out of order.
 */
export class KeyedCoalescer {
  readonly #running = new Map<string, Promise<void>>();
  readonly #again = new Set<string>();

  constructor(private readonly work: (key: string) => Promise<void>) {}

  request(key: string): void {
    if (this.#running.has(key)) {
      this.#again.add(key);
      return;
    }
    const run = this.work(key).finally(() => {
      this.#running.delete(key);
      if (this.#again.delete(key)) this.request(key);
    });
    this.#running.set(key, run);
  }

  /** Resolves when no run is in flight, reruns included. */
  async drain(): Promise<void> {
    while (this.#running.size > 0) await Promise.all(this.#running.values());
  }
}

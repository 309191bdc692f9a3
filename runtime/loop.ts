import type { Logger } from 'pino';
import { isTransientDatabaseError } from './db/errors.js';

/**
 * A background loop with start(), a stop() that waits for the current turn, an abortable sleep and
 * notify() for wake-ups. Errors back off exponentially (100 ms doubling to 5 s): never a hot loop.
 */
export abstract class Loop {
  #running = false;
  #done: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #woken = false;
  #errorDelayMs = 0;

  constructor(protected readonly logger: Logger) {}

  /**
   * One turn of work. Returns the time at which the loop should look again (null: only when notified
   * or at the safety poll), or 'again' to go on at once.
   */
  protected abstract turn(): Promise<Date | 'again' | null>;

  /** Milliseconds to wait when nothing is due: the safety poll. */
  protected abstract readonly pollIntervalMs: number;
  protected abstract now(): number;

  get running(): boolean {
    return this.#running;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#done = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.notify();
    await this.#done;
  }

  /** Wakes the loop if it sleeps; makes the next sleep return at once if it is busy. */
  notify(): void {
    this.#woken = true;
    this.#wake?.();
  }

  async #run(): Promise<void> {
    while (this.#running) {
      let next: Date | 'again' | null;
      this.#woken = false;
      try {
        next = await this.turn();
        this.#errorDelayMs = 0;
      } catch (error) {
        this.#errorDelayMs = Math.min(Math.max(this.#errorDelayMs * 2, 100), 5_000);
        if (isTransientDatabaseError(error)) this.logger.warn({ err: error, retry_in_ms: this.#errorDelayMs }, 'database unavailable or busy; worker loop backs off');
        else this.logger.error({ err: error, retry_in_ms: this.#errorDelayMs }, 'worker loop turn failed');
        await this.#sleep(this.#errorDelayMs);
        continue;
      }
      if (next === 'again' || !this.#running) continue;
      const wait = next ? Math.max(0, next.getTime() - this.now()) : this.pollIntervalMs;
      await this.#sleep(Math.min(wait, this.pollIntervalMs));
    }
  }

  #sleep(ms: number): Promise<void> {
    if (this.#woken || ms <= 0 || !this.#running) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }
}

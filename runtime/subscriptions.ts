import type { Logger } from 'pino';
import { KeyedCoalescer } from './coalesce.js';
import type { InstanceState } from './types.js';

type Listener = (state: InstanceState) => void;

/** One subscribe() call: its listener and what it saw last (status matters too: parking in error keeps the version). */
interface Subscription {
  listener: Listener;
  last?: { version: number; status: string };
}

/**
 * Fans step notifications (`<id>:<version>` on the steps channel, from any process) out to
 * subscribers. One read per notified instance however many listeners it has; states reach each
 * subscription once and in version order.
 */
export class Subscriptions {
  // What was delivered is kept per subscription, not per listener: one function watching several
  // instances (a page drawing every order) missed each instance's states below another's version.
  readonly #listeners = new Map<string, Set<Subscription>>();
  readonly #reads = new KeyedCoalescer((id) => this.#deliver(id));

  constructor(
    private readonly read: (id: string) => Promise<InstanceState | null>,
    private readonly logger: Logger,
  ) {}

  add(id: string, listener: Listener): () => void {
    let set = this.#listeners.get(id);
    if (!set) this.#listeners.set(id, (set = new Set()));
    const subscription: Subscription = { listener };
    set.add(subscription);
    return () => {
      set.delete(subscription);
      if (set.size === 0 && this.#listeners.get(id) === set) this.#listeners.delete(id);
    };
  }

  get size(): number {
    return this.#listeners.size;
  }

  /** Called with a steps-channel payload. */
  notified(payload: string): void {
    const id = payload.split(':', 1)[0]!;
    if (this.#listeners.has(id)) this.refresh(id);
  }

  /** Re-reads every watched instance: after a reconnect, notifications may have been missed. */
  refreshAll(): void {
    for (const id of this.#listeners.keys()) this.refresh(id);
  }

  refresh(id: string): void {
    this.#reads.request(id);
  }

  async #deliver(id: string): Promise<void> {
    let state: InstanceState | null;
    try {
      state = await this.read(id);
    } catch (error) {
      this.logger.warn({ err: error, instance_id: id }, 'could not read instance for subscribers');
      return;
    }
    if (!state) return;
    for (const subscription of this.#listeners.get(id) ?? []) {
      const { last } = subscription;
      if (last && (last.version > state.version || (last.version === state.version && last.status === state.status))) continue;
      subscription.last = { version: state.version, status: state.status };
      try {
        subscription.listener(state);
      } catch (error) {
        this.logger.error({ err: error, instance_id: id }, 'subscriber threw');
      }
    }
  }
}

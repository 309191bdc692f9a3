import type { AnyMachineSnapshot } from 'xstate';

/**
 * The machine snapshots this runtime's own steps produced, by instance, so the next step of an
 * instance it just stepped starts from the object instead of restoring the stored JSON (XState's
 * restore builds an actor per step: a fifth of a step's CPU at 8 connections).
 *
 * An entry is used only for the row it was written as: same creation time, same version, same
 * machine version. Every write of a snapshot bumps the version, so a step by any other process, a
 * stop, or a delete and re-create under the same id makes the entry miss and the JSON is restored.
 * Entries are added only after their transaction commits; a rollback leaves nothing behind.
 */
export class SnapshotCache {
  readonly #entries = new Map<string, { key: string; snapshot: AnyMachineSnapshot }>();

  constructor(private readonly capacity: number) {}

  static key(row: { createdAt: number; version: number; machineVersion: number }): string {
    return `${row.createdAt}:${row.version}:${row.machineVersion}`;
  }

  get(id: string, key: string): AnyMachineSnapshot | undefined {
    const entry = this.#entries.get(id);
    if (!entry || entry.key !== key) return undefined;
    // Least recently used goes first: re-inserting moves the entry to the end of the Map's order.
    this.#entries.delete(id);
    this.#entries.set(id, entry);
    return entry.snapshot;
  }

  set(id: string, key: string, snapshot: AnyMachineSnapshot): void {
    if (this.capacity <= 0) return;
    this.#entries.delete(id);
    this.#entries.set(id, { key, snapshot });
    if (this.#entries.size > this.capacity) this.#entries.delete(this.#entries.keys().next().value!);
  }

  /** Whether anything is ever kept: with capacity 0 the steps need not even compute keys. */
  get enabled(): boolean {
    return this.capacity > 0;
  }

  get size(): number {
    return this.#entries.size;
  }
}

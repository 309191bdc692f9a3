/**
 * Runs tasks one at a time, in the order they were given; a task that fails does not stop the ones
 * after it. For a connection that takes one query at a time (pg's LISTEN client, PGlite).
 */
export class Turns {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const done = this.#tail.then(task);
    this.#tail = done.catch(() => {});
    return done;
  }
}

/** What a part of `npm run bench` gets, and what it gives back. */
export interface BenchContext {
  /** PostgreSQL for this run (created when missing). */
  url: string;
  /** `--quick`: smaller workloads, for a smoke run; never written to docs/benchmarks.md. */
  quick: boolean;
  /** Progress on stderr. */
  log(message: string): void;
  /** A fresh schema name; dropped before and after the part runs it. */
  schema(name: string): Promise<string>;
  /** A fresh directory for a PGlite database, removed at the end of the run. */
  tempDir(name: string): Promise<string>;
}

/** One figure the issue sets a target for, with the measured value beside it. */
export interface Target {
  what: string;
  measured: string;
  target: string;
  met: boolean;
}

/** A plot: a Vega-Lite spec rendered to docs/bench-<name>.svg. */
export interface Plot {
  name: string;
  title: string;
  spec: Record<string, unknown>;
}

export interface Part<R = unknown> {
  /** Key in bench/results.json and the `--parts` option. */
  name: string;
  title: string;
  run(ctx: BenchContext): Promise<R>;
  /** Its section of docs/benchmarks.md: what was measured, how, and the figures. */
  markdown(result: R): string;
  /** A terminal summary. */
  summary(result: R): string;
  targets?(result: R): Target[];
  plots?(result: R): Plot[];
}

export function definePart<R>(part: Part<R>): Part<R> {
  return part;
}

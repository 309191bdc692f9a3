import { appendFileSync } from 'node:fs';

export interface TimelineEntry {
  /** Milliseconds since the run started. */
  t: number;
  kind: string;
  detail: string;
}

/**
 * What the harness did and saw, in order (kills, restarts, exits, phases), kept in memory for the
 * report and appended to `timeline.log` in the run's folder as it happens, for diagnosis.
 */
export class Timeline {
  readonly t0 = Date.now();
  readonly entries: TimelineEntry[] = [];

  constructor(
    private readonly file: string,
    private readonly echo: (line: string) => void = () => {},
  ) {}

  add(kind: string, detail = ''): void {
    const entry = { t: Date.now() - this.t0, kind, detail };
    this.entries.push(entry);
    const line = `${(entry.t / 1000).toFixed(1).padStart(7)}s  ${kind.padEnd(16)} ${detail}`;
    appendFileSync(this.file, `${line}\n`);
    this.echo(line);
  }

  count(kind: string): number {
    return this.entries.filter((e) => e.kind === kind).length;
  }
}

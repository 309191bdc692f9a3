import { UPLOAD_STAGES, type UploadStage } from '../../machines/upload.js';

/** The stages a job passes on its way to complete, for the bar. */
const PATH = UPLOAD_STAGES.slice(0, UPLOAD_STAGES.indexOf('complete') + 1);
const WIDTH = 24;

export interface Row {
  file: string;
  stage: UploadStage | 'refused';
  detail?: string;
}

/**
 * Progress bars, one line per file. On a terminal the block is redrawn in place; elsewhere (CI, a
 * pipe) each change is one plain line, so logs stay readable.
 */
export class Progress {
  readonly #rows: Row[] = [];
  #drawn = 0;

  constructor(private readonly out: NodeJS.WriteStream) {}

  add(row: Row): number {
    this.#rows.push(row);
    this.#changed(this.#rows.length - 1);
    return this.#rows.length - 1;
  }

  update(index: number, stage: Row['stage'], detail?: string): void {
    const row = this.#rows[index]!;
    if (row.stage === stage && row.detail === detail) return;
    row.stage = stage;
    row.detail = detail;
    this.#changed(index);
  }

  #changed(index: number): void {
    if (!this.out.isTTY) {
      this.out.write(`${line(this.#rows[index]!)}\n`);
      return;
    }
    if (this.#drawn > 0) this.out.write(`\x1b[${this.#drawn}A`);
    for (const row of this.#rows) this.out.write(`\x1b[2K${line(row)}\n`);
    this.#drawn = this.#rows.length;
  }
}

function line(row: Row): string {
  const done = row.stage === 'complete' ? PATH.length : Math.max(0, PATH.indexOf(row.stage as (typeof PATH)[number]) + 1);
  const filled = row.stage === 'failed' || row.stage === 'refused' || row.stage === 'canceled' ? 0 : Math.round((done / PATH.length) * WIDTH);
  const bar = `${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}`;
  return `[${bar}] ${row.stage.padEnd(13)} ${row.file}${row.detail ? `  (${row.detail})` : ''}`;
}

import pg from 'pg';

/** The harness's own connection to the run's database, for settling and the invariants. */
export class Sql {
  readonly #pool: pg.Pool;

  constructor(url: string) {
    this.#pool = new pg.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 5_000 });
    // A connection idle across a database restart errors; the pool drops it and the next query reconnects.
    this.#pool.on('error', () => {});
  }

  async rows<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<R[]> {
    return (await this.#pool.query(text, values)).rows as R[];
  }

  /** The number a `SELECT count(*)::int AS n …` returns. */
  async count(text: string, values?: unknown[]): Promise<number> {
    return (await this.rows<{ n: number }>(text, values))[0]?.n ?? 0;
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}

/** The result of one invariant: what was checked, and up to a few rows that break it. */
export interface Check {
  name: string;
  ok: boolean;
  /** One line: what was counted. */
  detail: string;
  /** Offending rows or log lines, at most a handful. */
  evidence: string[];
}

export function check(name: string, violations: unknown[], detail: string): Check {
  return {
    name,
    ok: violations.length === 0,
    detail: violations.length ? `${violations.length} violation(s); ${detail}` : detail,
    evidence: violations.slice(0, 5).map((v) => (typeof v === 'string' ? v : JSON.stringify(v))),
  };
}

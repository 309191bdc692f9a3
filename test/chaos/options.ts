import type { ClusterOptions } from '../helpers/cluster.js';
import type { ChaosSchedule } from './monkey.js';

export interface ChaosOptions {
  /** Seeds the documents, the kills and the faults. */
  seed: number;
  /** Documents uploaded through the HTTP API. */
  uploads: number;
  /** Milliseconds over which the uploads are spread. */
  uploadSpreadMs: number;
  /** Uploads in flight at once. */
  uploadConcurrency: number;
  /** `docket worker` processes besides the server (which runs workers too). */
  workers: number;
  schedule: ChaosSchedule;
  /** After the chaos, how long jobs get to settle at most, milliseconds. */
  settleTimeoutMs: number;
  /** Give up settling early when nothing was applied for this long, milliseconds. */
  stallMs: number;
  /** The suite's own PostgreSQL cluster (default docket_chaos on port 5499). */
  cluster?: ClusterOptions;
  /** Database created afresh on that cluster. */
  database: string;
  /** Leave the cluster running at the end, to query the run's database. Default false. */
  keepCluster?: boolean;
}

/** The version inside `npm test`: about a minute of chaos and settling on two cores. */
export const SHORT: ChaosOptions = {
  seed: 1,
  uploads: 70,
  uploadSpreadMs: 20_000,
  uploadConcurrency: 6,
  workers: 3,
  schedule: {
    durationMs: 26_000,
    killEveryMs: 2_000,
    deadMs: 500,
    // Two restarts under load: a PostgreSQL restart is what exposes lost results (retried chunking
    // and embedding batches) and clients without an error listener; one catches them about half the time.
    pgRestarts: [
      { atMs: 8_000, downMs: 3_000, mode: 'fast' },
      { atMs: 19_000, downMs: 2_000, mode: 'immediate' },
    ],
    parseErrors: 3,
  },
  settleTimeoutMs: 90_000,
  stallMs: 30_000,
  database: 'docket_chaos_short',
};

/** `npm run chaos`: 1,000 uploads, three database restarts (one down for 8 s, one a crash). */
export const FULL: ChaosOptions = {
  seed: 1,
  uploads: 1_000,
  uploadSpreadMs: 200_000,
  uploadConcurrency: 6,
  workers: 3,
  schedule: {
    durationMs: 230_000,
    killEveryMs: 3_000,
    deadMs: 500,
    pgRestarts: [
      { atMs: 45_000, downMs: 1_000, mode: 'fast' },
      { atMs: 110_000, downMs: 8_000, mode: 'immediate' },
      { atMs: 180_000, downMs: 3_000, mode: 'fast' },
    ],
    parseErrors: 20,
  },
  settleTimeoutMs: 300_000,
  stallMs: 45_000,
  database: 'docket_chaos_full',
};

/** The processes' environment besides DATABASE_URL and the provider addresses: small chunks and batches, so a job has several. */
export const TUNING = {
  CHUNK_TOKENS: '128',
  EMBED_BATCH_SIZE: '2',
  EMBEDDING_DIMENSIONS: '256',
  LOG_LEVEL: 'info',
};

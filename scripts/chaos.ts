/**
 * `npm run chaos`: the full chaos run (1,000 uploads, worker kills, three PostgreSQL restarts,
 * provider faults), then the invariants; exit code 1 when one fails. Options:
 *   --short        the version `npm test` runs (about 50 uploads, one restart)
 *   --uploads N    override the number of uploads
 *   --seed N       another seed for documents, kills and faults
 *   --keep         leave the chaos cluster running, to query the run's database afterwards
 * The cluster is docket_chaos on port 5499 (DOCKET_TEST_CLUSTER, DOCKET_TEST_CLUSTER_PORT).
 */
import { parseArgs } from 'node:util';
import { FULL, SHORT } from '../test/chaos/options.js';
import { renderReport } from '../test/chaos/report.js';
import { runChaos } from '../test/chaos/run.js';

const { values } = parseArgs({
  options: { short: { type: 'boolean' }, uploads: { type: 'string' }, seed: { type: 'string' }, keep: { type: 'boolean' } },
});
const base = values.short ? SHORT : FULL;
const options = {
  ...base,
  uploads: values.uploads ? Number(values.uploads) : base.uploads,
  seed: values.seed ? Number(values.seed) : base.seed,
  keepCluster: values.keep ?? false,
};

// The summary and report.json are also written to the run's log folder.
const report = await runChaos(options, (line) => process.stdout.write(`${line}\n`));
process.stdout.write(`\n${renderReport(report)}\n`);
process.exit(report.ok ? 0 : 1);

import test from 'ava';
import { backend } from '../helpers/db.js';
import { PgCluster } from '../helpers/cluster.js';
import { SHORT } from './options.js';
import { renderReport } from './report.js';
import { runChaos } from './run.js';

// Server, workers and database restarts need PostgreSQL processes of our own: only in the PostgreSQL
// pass, and only where Debian's cluster tools exist (CI has them; a laptop without them skips).
const chaos = backend === 'postgres' && (PgCluster.available() || process.env.CI) ? test : test.skip;

chaos('chaos (short): workers SIGKILLed, PostgreSQL restarted, provider faults; every invariant holds', async (t) => {
  t.timeout(240_000);
  const timeline: string[] = [];
  const report = await runChaos(SHORT, (line) => timeline.push(line));
  const table = renderReport(report);
  t.log(`\n${table}`);
  if (report.ok) return t.pass();
  t.log(`timeline (also in ${report.logDir}/timeline.log):\n${timeline.join('\n')}`);
  t.fail(`\n${table}`);
});

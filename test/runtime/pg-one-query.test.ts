import test from 'ava';
import { PgDatabase } from '../../runtime/db/pg.js';
import { backend, postgresUrl, silent } from '../helpers/db.js';

// pg runs one query at a time on a client: it queues a second with a deprecation warning, and pg 9
// will refuse it. The LISTEN connection is one client that many subscriptions share.
const pgTest = backend === 'postgres' ? test : test.skip;

pgTest('subscriptions made at once LISTEN and UNLISTEN one at a time on the shared connection', async (t) => {
  const warnings: string[] = [];
  const onWarning = (warning: Error) => void warnings.push(warning.message);
  process.on('warning', onWarning);
  t.teardown(() => void process.off('warning', onWarning));
  const db = new PgDatabase({ connectionString: postgresUrl, logger: silent });
  t.teardown(() => db.close());
  const channels = ['one', 'two', 'three', 'four'].map((name) => `docket_test_${name}_${process.pid}`);
  const heard: string[] = [];
  const stops = await Promise.all(channels.map((channel) => db.listen(channel, (payload) => void heard.push(payload))));
  for (const channel of channels) await db.query('SELECT pg_notify($1, $1)', [channel]);
  const deadline = Date.now() + 5_000;
  while (heard.length < channels.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  t.deepEqual(heard.sort(), [...channels].sort(), 'every channel is listened to');
  await Promise.all(stops.map((stop) => stop()));
  await new Promise((resolve) => setImmediate(resolve));
  t.deepEqual(warnings.filter((message) => message.includes('already executing a query')), []);
});

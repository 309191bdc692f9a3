import test from 'ava';
import { templatePglite } from '../helpers/pglite-template.js';

// PGlite answers in this thread. Each query's result starts the next caller's query as a microtask,
// so without a turn of the event loop now and then, a burst of queries kept timers and sockets
// waiting until the last one (the HTTP server's keep-alive sockets were reset after 8 s of it).
test('a burst of PGlite queries and transactions lets the event loop turn before it ends', async (t) => {
  const db = await templatePglite();
  t.teardown(() => db.close());
  await db.query('CREATE TABLE turns (n int)');
  let finished = 0;
  let turnedAt: number | undefined;
  const burst = Array.from({ length: 600 }, (_, i) =>
    (i % 3 === 0
      ? db.transaction(async (tx) => {
          await tx.query('INSERT INTO turns VALUES ($1)', [i]);
          await tx.query('SELECT count(*) FROM turns');
        })
      : db.query('SELECT $1::int + 1', [i])
    ).then(() => (finished += 1)),
  );
  setImmediate(() => (turnedAt = finished));
  await Promise.all(burst);
  t.not(turnedAt, undefined, 'the event loop turned');
  t.true(turnedAt! < burst.length, `a turn came after ${turnedAt} of ${burst.length} queries, not only once all had finished`);
});

test('queries asked for all at once, just after a turn, still let the loop turn while they run', async (t) => {
  const db = await templatePglite();
  t.teardown(() => db.close());
  // A fresh turn first: every query below is asked for well inside the thread's slice.
  await db.query('SELECT 1');
  await new Promise<void>((resume) => setImmediate(resume));
  let finished = 0;
  let turnedAt: number | undefined;
  const burst = Array.from({ length: 2000 }, (_, i) => db.query('SELECT $1::int + 1', [i]).then(() => (finished += 1)));
  setImmediate(() => (turnedAt = finished));
  await Promise.all(burst);
  t.not(turnedAt, undefined, 'the event loop turned');
  t.true(turnedAt! < burst.length, `a turn came after ${turnedAt} of ${burst.length} queries, not only once all had finished`);
});

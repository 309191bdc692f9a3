import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PGlite, type PGliteOptions } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PgliteDatabase } from '../../runtime/db/pglite.js';
import { inRepo } from './repo.js';

/**
 * A PGlite cluster as initdb leaves it, made once per machine and PGlite version, so that a test
 * wanting a new database loads one (0.3 s) instead of running initdb in WASM (3–5 s on these
 * cores; the suite opens well over a hundred). Nothing is in it but what initdb makes, less what
 * only makes it bigger or slower to load, and the settings below: every migration still runs in
 * the test.
 */
const versions = ['@electric-sql/pglite', '@electric-sql/pglite-pgvector']
  .map((name) => (JSON.parse(readFileSync(inRepo(`node_modules/${name}/package.json`), 'utf8')) as { version: string }).version)
  .join('-');
const ROOT = join(tmpdir(), `docket-pglite-template-4-${versions}`);

let made: Promise<string> | undefined;

function template(): Promise<string> {
  made ??= (async () => {
    if (existsSync(join(ROOT, 'ready'))) return ROOT;
    // Built aside and renamed into place whole, so concurrent test processes never see half of one.
    const build = mkdtempSync(`${ROOT}-build-`);
    // 1 MB WAL segments and no template databases: the dump is 16 MB rather than 40, and loading it
    // (reading, untarring into memory, starting up) takes half the time. No test creates a database.
    const db = await PGlite.create(join(build, 'data'), { extensions: { vector }, initDbStartParams: ['--wal-segsize=1'] });
    // A dump is taken from a running cluster, so each load replays it as after a crash, and PGlite
    // leaves that recovery's progress timer armed: a process that never closed its PGlite (a test
    // file's shared one) would never exit. With the timer off and a checkpoint, nothing is left armed.
    await db.exec('ALTER SYSTEM SET log_startup_progress_interval = 0');
    // Postgres zeroes its shared buffers as it starts: 128 MB of them took 0.45 s of every open.
    // A test's data fits in 16 MB, and pages evicted from them stay in PGlite's in-memory files.
    await db.exec(`ALTER SYSTEM SET shared_buffers = '16MB'`);
    await db.exec(`UPDATE pg_database SET datistemplate = false WHERE datname IN ('template0', 'template1')`);
    await db.exec('DROP DATABASE template0');
    await db.exec('DROP DATABASE template1');
    await db.exec('CHECKPOINT');
    const tar = await db.dumpDataDir('none');
    await db.close();
    writeFileSync(join(build, 'data.tar'), Buffer.from(await tar.arrayBuffer()));
    writeFileSync(join(build, 'ready'), '');
    try {
      renameSync(build, ROOT);
    } catch {
      rmSync(build, { recursive: true, force: true }); // another process put its own in place first
    }
    return ROOT;
  })();
  return made;
}

/** What every PGlite of this process loads: the dump, the compiled WASM and PGlite's files, read and compiled once. */
let loaded: Promise<Pick<PGliteOptions, 'loadDataDir' | 'pgliteWasmModule' | 'fsBundle'>> | undefined;

function load() {
  loaded ??= (async () => {
    const dist = pathToFileURL(inRepo('node_modules/@electric-sql/pglite/dist/'));
    return {
      loadDataDir: new Blob([readFileSync(join(await template(), 'data.tar'))]),
      pgliteWasmModule: await WebAssembly.compile(readFileSync(new URL('pglite.wasm', dist))),
      fsBundle: new Blob([readFileSync(new URL('pglite.data', dist))]),
    };
  })();
  return loaded;
}

/** A new in-memory PGlite (pgvector loadable) started from the template; the caller closes it. */
export async function templatePglite(): Promise<PgliteDatabase> {
  return PgliteDatabase.open(undefined, { extensions: { vector }, ...(await load()) });
}

/** Fills the folder `dir` (new or empty) with a copy of the template, for a process opening `pglite:<dir>`. */
export async function seedPgliteDir(dir: string): Promise<void> {
  cpSync(join(await template(), 'data'), dir, { recursive: true });
}

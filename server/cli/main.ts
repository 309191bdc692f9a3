/**
 * The docket command line: `docket serve | worker | ingest <files…> | status [--follow] <job_id> |
 * cancel | retry | delete <job_id> | replay <instance_id> | check-deploy | keys create|list|revoke`, with help
 * per command and --version. Configuration comes from the environment (server/config.ts).
 */
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { Command, CommanderError } from 'commander';
import { parseK, parseProcesses } from './arguments.js';
import type { CheckDeployCommandOptions } from './check-deploy.js';
import { EXIT } from './exit.js';
import type { ReplayCommandOptions } from './replay.js';
import type { CommandContext } from './run.js';
import type { SearchCommandOptions } from './search.js';
import type { StatusOptions } from './status.js';

// The package root is two folders up from the source (server/cli/) and three from the build (dist/server/cli/).
const PACKAGE_JSON = new URL(import.meta.url.includes('/dist/server/cli/') ? '../../../package.json' : '../../package.json', import.meta.url);
const VERSION = (JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { version: string }).version;

const ENVIRONMENT = `
Configuration comes from the environment: DATABASE_URL (postgres://…, pglite:<dir> or memory;
default pglite:./data), PORT, HOST, LLAMA_CLOUD_API_KEY, OPENAI_API_KEY and more; README.md lists them all.

Exit codes: 0 done, 1 the work failed (a file failed, no such job, a replay diverged), 2 bad usage
or configuration, 3 the database is out of reach.`;

/**
 * Runs a command from its module, loaded only now: `--help`, `--version` and usage errors never load
 * the engine, the pipeline or the server (a fifth of the CPU to start).
 */
async function execute<M>(load: () => Promise<M>, command: (module: M, context: CommandContext) => Promise<number>, options?: { quiet?: boolean; lasting?: boolean }): Promise<number> {
  // A command that ends in seconds compiles PGlite's WASM with V8's baseline compiler alone: the
  // optimizing tier's compiles cost more CPU than they save before the process exits (docket status
  // on PGlite: 3.9 s of CPU → 1.9; ingesting the 15 corpus files: 10.6 → 5.9). serve and worker keep
  // it: after some 20 s of steady work optimized code is a third cheaper. Set before anything loads WASM.
  if (!options?.lasting) setFlagsFromString('--liftoff-only');
  const [{ runCommand }, module] = await Promise.all([import('./run.js'), load()]);
  return runCommand((context) => command(module, context), options);
}

function program(setCode: (code: number) => void): Command {
  const cli = new Command('docket')
    .description('Durable XState machines on Postgres, and the document-upload pipeline built on them.')
    .version(VERSION, '-v, --version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .addHelpText('after', ENVIRONMENT)
    .showHelpAfterError('(docket --help lists the commands)')
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'docket: ')) })
    .exitOverride();
  cli
    .command('serve')
    .description('serve the HTTP API with its workers (PORT, default 8000)')
    .action(async () => setCode(await execute(() => import('./serve.js'), ({ serve }, context) => serve(context), { lasting: true })));
  cli
    .command('worker')
    .description('run workers only, no HTTP: as many as you like against one PostgreSQL')
    .option('--processes <n>', 'run n worker processes from this one command, sharing the cores (PostgreSQL only; see docs/scaling.md)', parseProcesses)
    .action(async ({ processes = 1 }: { processes?: number }) =>
      setCode(
        processes > 1
          ? await execute(() => import('./processes.js'), ({ workerProcesses }, context) => workerProcesses(processes, context), { lasting: true })
          : await execute(() => import('./serve.js'), ({ worker }, context) => worker(context), { lasting: true }),
      ),
    );
  cli
    .command('ingest')
    .description('run the pipeline on local files, with a progress bar per file; exits 1 when any failed')
    .argument('<files...>', 'PDF, HTML, Markdown or text files')
    .action(async (files: string[]) => setCode(await execute(() => import('./ingest.js'), ({ ingest }, context) => ingest(files, context), { quiet: true })));
  cli
    .command('status')
    .description('print a job as the HTTP API shows it (GET /v1/jobs/:id), with its stage history')
    .argument('<job_id>', 'the job id an upload or ingest returned')
    .option('-f, --follow', 'print each stage change as a JSON line until the job settles, then the job; exits 1 unless it completed')
    .action(async (jobId: string, options: StatusOptions) => setCode(await execute(() => import('./status.js'), ({ status }, context) => status(jobId, options, context), { quiet: true })));
  for (const [action, what] of [
    ['cancel', 'cancel a job (POST /v1/jobs/:id/cancel): it ends canceled, its running effect aborted'],
    ['retry', 'retry a failed job from the stage that failed (POST /v1/jobs/:id/retry)'],
    ['delete', 'delete a job, its chunks and its bytes unless another job shares them (DELETE /v1/jobs/:id)'],
  ] as const) {
    cli
      .command(action)
      .description(`${what}; exits 1 for no such job or a stage that forbids it`)
      .argument('<job_id>', 'the job id')
      .action(async (jobId: string) => setCode(await execute(() => import('./control.js'), ({ control }, context) => control(action, jobId, context), { quiet: true })));
  }
  cli
    .command('search')
    .description('the nearest chunks of complete jobs to a query, as POST /v1/search answers')
    .argument('<query>', 'the text to look for')
    .option('--k <n>', 'how many results (1-100, default 10)', parseK)
    .option('--job <job_id>', "only this job's chunks")
    .option('--json', 'print the answer as JSON')
    .action(async (query: string, options: SearchCommandOptions) => setCode(await execute(() => import('./search.js'), ({ searchCommand }, context) => searchCommand(query, options, context), { quiet: true })));
  cli
    .command('replay')
    .description("re-run an instance's journal through this code's upload machine, step by step, marking where it diverges; exits 1 when it does")
    .argument('<instance_id>', 'the instance id (a job id is one)')
    .option('--json', 'print the result as JSON')
    .action(async (id: string, options: ReplayCommandOptions) => setCode(await execute(() => import('./replay.js'), ({ replayCommand }, context) => replayCommand(id, options, context), { quiet: true })));
  cli
    .command('check-deploy')
    .description('before deploying: replay every in-flight upload through this code\'s machine and list those whose path would diverge; exits 1 when any would')
    .option('--status <list>', 'statuses to check, comma-separated (active, done, error, stopped)', 'active,error')
    .option('--json', 'print the result as JSON')
    .action(async (options: CheckDeployCommandOptions) => setCode(await execute(() => import('./check-deploy.js'), ({ checkDeployCommand }, context) => checkDeployCommand(options, context), { quiet: true })));
  const keys = cli.command('keys').description('API keys for the HTTP API: create (printed once), list, revoke');
  keys
    .command('create')
    .description('make a key for a tenant and print it; only its sha256 is stored')
    .argument('<tenant>', 'the tenant the key acts for')
    .action(async (tenant: string) => setCode(await execute(() => import('./keys.js'), ({ createKey }, context) => createKey(tenant, context), { quiet: true })));
  keys
    .command('list')
    .description('list the keys (id, tenant, prefix, created, revoked), never the keys themselves')
    .option('--json', 'print the list as JSON')
    .action(async (options: { json?: boolean }) => setCode(await execute(() => import('./keys.js'), ({ listKeys }, context) => listKeys(options, context), { quiet: true })));
  keys
    .command('revoke')
    .description('revoke a key by id: refused from the next request on')
    .argument('<id>', 'the key id, as docket keys list shows it')
    .action(async (id: string) => setCode(await execute(() => import('./keys.js'), ({ revokeKey }, context) => revokeKey(id, context), { quiet: true })));
  return cli;
}

/** Runs the CLI on `argv` (without node and the script); resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  // `docket … | head` closes the pipe early: that ends the output, not the process with a trace.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(EXIT.ok);
  });
  let code: number = EXIT.ok;
  const cli = program((value) => (code = value));
  if (argv.length === 0) {
    cli.outputHelp({ error: true });
    return EXIT.usage;
  }
  try {
    await cli.parseAsync(argv, { from: 'user' });
  } catch (error) {
    // Help and --version end with code 0; anything commander refused is a usage error.
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    throw error;
  }
  return code;
}

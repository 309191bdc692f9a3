import { checkDeploy, formatStateValue, IN_FLIGHT_STATUSES, type DeployCheck, type InstanceStatus } from '../../index.js';
import { describeDivergence, table } from './replay.js';
import { EXIT } from './exit.js';
import { CliError, openPipeline, type CommandContext } from './run.js';

const STATUSES: readonly InstanceStatus[] = ['active', 'done', 'error', 'stopped'];

export interface CheckDeployCommandOptions {
  /** Comma-separated statuses; default `active,error` (in flight). */
  status?: string;
  json?: boolean;
}

/**
 * `docket check-deploy`: run by the code about to be deployed, against the live database, before
 * its workers start. Replays every in-flight upload through this code's machine and lists the ones
 * whose recorded path it would not take. Exit 0 when none would diverge, 1 when any would.
 */
export async function checkDeployCommand(options: CheckDeployCommandOptions, { config, logger }: CommandContext): Promise<number> {
  const statuses = parseStatuses(options.status);
  const pipeline = await openPipeline({ ...config, DATABASE_WAIT_MS: 0 }, logger, false);
  try {
    const check = await checkDeploy(pipeline.runtime, { machine: 'upload', statuses });
    process.stdout.write(options.json ? `${JSON.stringify(check, null, 2)}\n` : formatDeployCheck(check));
    return check.diverging.length > 0 ? EXIT.failed : EXIT.ok;
  } finally {
    await pipeline.close();
  }
}

/** One line an instance that would diverge, then the counts. */
export function formatDeployCheck(check: DeployCheck): string {
  const rows = check.diverging.map((d) => [
    'diverges',
    d.instanceId,
    d.status,
    formatStateValue(d.value),
    `at ${describeDivergence(d.firstDivergence)} (${d.divergentSteps} ${d.divergentSteps === 1 ? 'entry diverges' : 'entries diverge'})`,
  ]);
  const would = check.diverging.length;
  const lines = [
    `replaying ${listed(check.statuses)} ${check.machine} instances through the ${check.machine} machine of this code`,
    ...(rows.length ? table(rows) : []),
    `${check.checked} checked: ${would} would diverge, ${check.checked - would} would take the same path`,
  ];
  return `${lines.join('\n')}\n`;
}

/** `active`, `active and error`, `active, error and done`. */
function listed(words: readonly string[]): string {
  return words.length < 2 ? words.join('') : `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`;
}

function parseStatuses(list: string | undefined): InstanceStatus[] {
  if (list === undefined) return [...IN_FLIGHT_STATUSES];
  const statuses = list.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = statuses.filter((s) => !(STATUSES as readonly string[]).includes(s));
  if (statuses.length === 0 || unknown.length > 0) {
    throw new CliError(`--status takes a comma-separated list of ${STATUSES.join(', ')}; got "${list}"`, EXIT.usage);
  }
  return statuses as InstanceStatus[];
}

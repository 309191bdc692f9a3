import { z } from 'zod';
import { formatStateValue, InstanceNotFoundError, replay, type InstanceStatus, type ReplayResult, type ReplayStep } from '../../index.js';
import { EXIT } from './exit.js';
import { CliError, openPipeline, type CommandContext } from './run.js';

export interface ReplayCommandOptions {
  /** Print the library's ReplayResult as JSON instead of the table. */
  json?: boolean;
}

/**
 * `docket replay <instance_id>`: the instance's journal through this code's upload machine, one
 * line a step, divergent steps marked. Exit 0 when the path is the same, 1 when it diverges.
 */
export async function replayCommand(instanceId: string, options: ReplayCommandOptions, { config, logger }: CommandContext): Promise<number> {
  if (!z.uuid().safeParse(instanceId).success) throw new CliError(`"${instanceId}" is not an instance id (a uuid, such as a job id)`, EXIT.usage);
  const pipeline = await openPipeline({ ...config, DATABASE_WAIT_MS: 0 }, logger, false);
  try {
    const result = await replay(pipeline.runtime, instanceId).catch((error: unknown) => {
      throw error instanceof InstanceNotFoundError ? new CliError(`no instance ${instanceId}`, EXIT.failed) : error;
    });
    process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : formatReplay(result));
    return result.diverged ? EXIT.failed : EXIT.ok;
  } finally {
    await pipeline.close();
  }
}

/** The replay as a table: a header, one row a journal entry (`!` marks a divergent one), a summary. */
export function formatReplay(result: ReplayResult): string {
  const rows = result.steps.map((step) => [
    step.divergence ? '!' : '',
    String(step.seq),
    step.event.type,
    recorded(step),
    replayed(step),
    step.divergence?.message ?? '',
  ]);
  const header = ['', 'seq', 'event', 'recorded', 'replayed', ''];
  const lines = [
    `instance ${result.instanceId}  ${result.machine} v${result.machineVersion}  ${result.status}  ${formatStateValue(result.value)}`,
    `replayed through the ${result.machine} machine of this code`,
    '',
    ...table([header, ...rows], [false, true, false, false, false, false]),
    '',
    summary(result),
  ];
  return `${lines.join('\n')}\n`;
}

/** Where the paths part, in one line: `seq 5 xstate.after.0.upload.chunked: replayed embedded, recorded embedding`. */
export function describeDivergence(step: ReplayStep): string {
  return `seq ${step.seq} ${step.event.type}: ${step.divergence?.message ?? 'no divergence'}`;
}

function summary(result: ReplayResult): string {
  const total = result.steps.length;
  if (!result.firstDivergence) return `same path: ${total} journal ${total === 1 ? 'entry' : 'entries'}, no divergence`;
  return `diverges at ${describeDivergence(result.firstDivergence)} (${result.divergentSteps} of ${total} entries diverge)`;
}

function withStatus(value: string, status: InstanceStatus): string {
  return status === 'active' ? value : `${value} (${status})`;
}

function recorded(step: ReplayStep): string {
  const to = withStatus(formatStateValue(step.recorded.to), step.recorded.status);
  return step.recorded.from === null ? `→ ${to}` : `${formatStateValue(step.recorded.from)} → ${to}`;
}

function replayed(step: ReplayStep): string {
  if (step.kind === 'engine') return "(the engine's entry, not replayed)";
  if (!step.replayed) return '(the machine did not start)';
  const value = withStatus(formatStateValue(step.replayed.value), step.replayed.status);
  return step.replayed.accepted || step.recorded.from === null ? value : `${value}, event not taken`;
}

/** Left-aligned columns (right-aligned where `right`), two spaces apart, trailing blanks trimmed. */
export function table(rows: string[][], right: boolean[] = []): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows.map((row) =>
    row
      .map((cell, column) => (right[column] ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd(),
  );
}

/**
 * The chaos itself, three loops for `durationMs`: a random working worker SIGKILLed every few
 * seconds and started again, PostgreSQL stopped and started on a schedule, and scripted LlamaParse
 * job ERRORs (the providers' other faults run for the whole run: Providers.startFaults). No process is starting when the database stops (the gate): a start that fails because
 * the harness pulled the database away mid-migration would prove nothing.
 */
import type { PgCluster, StopMode } from '../helpers/cluster.js';
import type { Fleet } from './fleet.js';
import type { Outage } from './health.js';
import type { Providers } from './providers.js';
import type { Timeline } from './timeline.js';

export interface ChaosSchedule {
  /** How long the chaos lasts, milliseconds from its start. */
  durationMs: number;
  /** Mean interval between worker kills, milliseconds (jittered ±50%). */
  killEveryMs: number;
  /** How long a killed worker stays dead before it is started again, milliseconds. */
  deadMs: number;
  /** Database restarts: when (ms from the start), how long it stays down, and how it stops. */
  pgRestarts: { atMs: number; downMs: number; mode: StopMode }[];
  /** LlamaParse job ERRORs scripted, spread over the chaos. */
  parseErrors: number;
}

export interface Chaos {
  kills: { name: string; t: number }[];
  outages: Outage[];
}

/** How long a database stop waits at most for processes still starting, milliseconds (a start takes 2-10 s on two busy cores). */
const STARTING_WAIT_MS = 30_000;
/** A restart comes at least this long after the previous one was ready, so processes restart and work in between, milliseconds. */
const MIN_GAP_MS = 8_000;

/** Whether processes may start now: the fleet waits on it, the monkey closes it around database restarts. */
export class DbGate {
  quiet = false;

  constructor(private readonly cluster: PgCluster) {}

  /**
   * Resolves when the database accepts connections and no restart is near. `quiet` is read again
   * after the last await: the caller spawns in the same run of microtasks, before any timer of the
   * monkey can close the gate and look for starting processes.
   */
  async ready(): Promise<void> {
    for (;;) {
      if (!this.quiet && (await this.cluster.isReady()) && !this.quiet) return;
      await sleep(200);
    }
  }
}

export class Monkey {
  readonly result: Chaos = { kills: [], outages: [] };
  #end = 0;

  constructor(
    private readonly ctx: { fleet: Fleet; cluster: PgCluster; gate: DbGate; providers: Providers; timeline: Timeline; rand: () => number },
    private readonly schedule: ChaosSchedule,
  ) {}

  async run(): Promise<Chaos> {
    const start = Date.now();
    this.#end = start + this.schedule.durationMs;
    this.ctx.timeline.add('chaos', `start: ${this.schedule.durationMs} ms`);
    await Promise.all([this.#killer(), this.#database(start), this.#faults(start)]);
    this.ctx.providers.calm();
    this.ctx.timeline.add('chaos', 'end');
    return this.result;
  }

  /** Kills go on through database restarts; the victim comes back once the gate opens, while the next kill is already coming. */
  async #killer(): Promise<void> {
    const { fleet, timeline, rand } = this.ctx;
    const comebacks: Promise<void>[] = [];
    for (;;) {
      await sleep(this.schedule.killEveryMs * (0.5 + rand()));
      if (Date.now() >= this.#end) break;
      const working = fleet.workerNames.filter((name) => fleet.ready(name));
      const victim = working[Math.floor(rand() * working.length)];
      if (!victim) continue;
      await fleet.kill(victim);
      this.result.kills.push({ name: victim, t: Date.now() - timeline.t0 });
      timeline.add('kill', `${victim} SIGKILL`);
      comebacks.push(sleep(this.schedule.deadMs).then(() => fleet.respawn(victim)));
    }
    await Promise.all(comebacks);
  }

  async #database(start: number): Promise<void> {
    const { cluster, timeline } = this.ctx;
    let previousReady = 0;
    for (const restart of this.schedule.pgRestarts) {
      await sleep(Math.max(start + restart.atMs, previousReady + MIN_GAP_MS) - Date.now());
      // No process half-started when the database goes: close the gate, let those starting finish.
      this.ctx.gate.quiet = true;
      const waitUntil = Date.now() + STARTING_WAIT_MS;
      while (this.ctx.fleet.starting().length > 0 && Date.now() < waitUntil) await sleep(100);
      const stopAt = Date.now();
      timeline.add('pg-stop', `mode ${restart.mode}, down for ${restart.downMs} ms`);
      await cluster.stop(restart.mode);
      const downAt = Date.now();
      await sleep(restart.downMs);
      const startAt = Date.now();
      await cluster.start();
      const readyAt = Date.now();
      previousReady = readyAt;
      this.result.outages.push({ stopAt, downAt, startAt, readyAt, mode: restart.mode });
      timeline.add('pg-ready', `down ${startAt - downAt} ms, ready ${readyAt - startAt} ms after start`);
      this.ctx.gate.quiet = false;
    }
  }

  /** Scripted LlamaParse ERRORs at even intervals over the first 80% (later ones might find no job left to fail). */
  async #faults(start: number): Promise<void> {
    const { parseErrors, durationMs } = this.schedule;
    for (let i = 0; i < parseErrors; i++) {
      await sleep(start + ((i + 0.5) * durationMs * 0.8) / parseErrors - Date.now());
      this.ctx.providers.scriptParseError();
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

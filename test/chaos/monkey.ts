/**
 * The chaos itself, three loops for `durationMs`: a random worker SIGKILLed every few seconds and
 * started again, PostgreSQL stopped and started on a schedule, and faults queued at the providers.
 * No process is started from a few seconds before a database stop until it is back (the gate): a
 * start that fails because the harness pulled the database away mid-migration would prove nothing.
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
  /** Interval between rounds of provider faults, milliseconds. */
  faultEveryMs: number;
  /** LlamaParse job ERRORs scripted, spread over the chaos. */
  parseErrors: number;
}

export interface Chaos {
  kills: { name: string; t: number }[];
  outages: Outage[];
}

/** No process starts this long before a database stop (one takes about 2 s to start and migrate), milliseconds. */
const QUIET_BEFORE_STOP_MS = 4_000;

/** Whether processes may start now: the fleet waits on it, the monkey closes it around database restarts. */
export class DbGate {
  quiet = false;

  constructor(private readonly cluster: PgCluster) {}

  /** Resolves when the database accepts connections and no restart is near. */
  async ready(): Promise<void> {
    while (this.quiet || !(await this.cluster.isReady())) await sleep(200);
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
      const alive = fleet.workerNames.filter((name) => fleet.alive(name));
      const victim = alive[Math.floor(rand() * alive.length)];
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
    for (const restart of this.schedule.pgRestarts) {
      await sleep(start + restart.atMs - QUIET_BEFORE_STOP_MS - Date.now());
      this.ctx.gate.quiet = true;
      await sleep(start + restart.atMs - Date.now());
      const stopAt = Date.now();
      timeline.add('pg-stop', `mode ${restart.mode}, down for ${restart.downMs} ms`);
      await cluster.stop(restart.mode);
      const downAt = Date.now();
      await sleep(restart.downMs);
      const startAt = Date.now();
      await cluster.start();
      const readyAt = Date.now();
      this.result.outages.push({ stopAt, downAt, startAt, readyAt, mode: restart.mode });
      timeline.add('pg-ready', `down ${startAt - downAt} ms, ready ${readyAt - startAt} ms after start`);
      this.ctx.gate.quiet = false;
    }
  }

  async #faults(start: number): Promise<void> {
    const { providers } = this.ctx;
    const { parseErrors, durationMs, faultEveryMs } = this.schedule;
    // Scripted ERRORs at even intervals over the first 80% (later ones might find no job left to fail).
    const errorTimes = Array.from({ length: parseErrors }, (_, i) => start + ((i + 0.5) * durationMs * 0.8) / parseErrors);
    while (Date.now() < this.#end) {
      providers.injectRound();
      while (errorTimes.length && errorTimes[0]! <= Date.now()) {
        errorTimes.shift();
        providers.scriptParseError();
      }
      await sleep(faultEveryMs);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

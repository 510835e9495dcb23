import { assert } from "../core/assert.js";
import type { TimerHandle } from "../core/clock.js";
import { SeededRandom } from "../core/random.js";
import {
  detectionBoundMs,
  disseminationRounds,
  IdIndex,
  lanConfig,
  localConfig,
  type MemberEvent,
  Membership,
  type MembershipConfig,
  type NodeMeta,
} from "../membership/index.js";
import { lanNetwork, SimNetwork, type SimNode } from "./network.js";
import { Scheduler } from "./scheduler.js";

/**
 * A membership scenario (STYLE.md, 2): N `Membership` instances on one SimNetwork and
 * Scheduler, every choice — join times, message delays, losses, which members crash or
 * pause and when — drawn from one seed, so a seed replays the run event for event.
 *
 * Phases: form (all join, wait until every member counts N live), faults (durationMs of the
 * fault schedule while crashes are timed and metadata updates spread), settle (faults
 * healed, settleMs to converge), then the invariant checks:
 * - correctness: every live member's checkInvariants() holds (and nothing asserted mid-run);
 * - liveness: no healthy member is dead in a majority of live views, and every member
 *   still crashed is dead (or forgotten) in every live view.
 */
export type FaultKind =
  | "crash"
  | "restart"
  | "pause"
  | "slow"
  | "partition"
  | "loss"
  | "dup"
  | "delay";

export const faultKinds: readonly FaultKind[] = [
  "crash",
  "restart",
  "pause",
  "slow",
  "partition",
  "loss",
  "dup",
  "delay",
];

export interface ScenarioOptions {
  nodes: number;
  seed: number;
  /**
   * Quiet time after formation, before the fault phase (whose traffic is measured): the
   * join broadcasts and each member's first push-pull (phased over the first
   * pushPullIntervalMs) are over by then, so traffic is the steady state's.
   */
  warmupMs: number;
  /** Virtual length of the fault phase. */
  durationMs: number;
  preset: "lan" | "local";
  lifeguard: boolean;
  faults: readonly FaultKind[];
  /** Members crashed (at random times in the first half of the fault phase) with "crash". */
  crashes: number;
  /** Share of members that "pause" and "slow" afflict (10%, as the measurement). */
  troubledFraction: number;
  /** Longest pause, and longest extra delivery delay of a slow member (2 s). */
  troubleMaxMs: number;
  lossProbability: number;
  duplicateProbability: number;
  /** Median of the random part of each delay with "delay" (LAN's is 0.25 ms). */
  delayMedianMs: number;
  /** Longest partition (isolate-one or split-in-two) before it heals. */
  partitionMaxMs: number;
  /** updateMeta calls spread over the fault phase, timed until every member has them. */
  metaUpdates: number;
  settleMs: number;
  /** Joins are spread over this; 0: max(1 s, N ms), a crowd joining at once. */
  joinSpreadMs: number;
  /** Formation must converge within this (after the last join), or the run fails on liveness. */
  formLimitMs: number;
  /** Member events kept in the result's log (all are counted and hashed). */
  eventLogMax: number;
}

export function scenarioDefaults(nodes: number, seed: number): ScenarioOptions {
  return {
    nodes,
    seed,
    warmupMs: 0,
    durationMs: 60_000,
    preset: "lan",
    lifeguard: true,
    faults: ["crash"],
    crashes: 3,
    troubledFraction: 0.1,
    troubleMaxMs: 2000,
    lossProbability: 0.05,
    duplicateProbability: 0.05,
    delayMedianMs: 5,
    partitionMaxMs: 10_000,
    metaUpdates: 3,
    settleMs: 60_000,
    joinSpreadMs: 0,
    formLimitMs: 300_000,
    eventLogMax: 10_000,
  };
}

export interface ScenarioFailure {
  kind: "correctness" | "liveness";
  message: string;
}

export interface LoggedMemberEvent {
  atMs: number;
  observer: string;
  kind: MemberEvent["kind"];
  id: string;
  incarnation: number;
}

export interface ScenarioResult {
  options: ScenarioOptions;
  config: MembershipConfig;
  /** Hash of every scheduler event and member event: equal seeds give equal traces. */
  trace: string;
  formedMs: number;
  virtualMs: number;
  eventsRun: number;
  detection: {
    crashes: number;
    samples: number;
    meanMs: number;
    p99Ms: number;
    maxMs: number;
    boundMs: number;
    /** Live observers that never declared a still-crashed member dead. */
    undetected: number;
  };
  dissemination: {
    samples: number;
    meanMs: number;
    maxMs: number;
    meanRounds: number;
    maxRounds: number;
    /** Updates that had not reached everyone by the end. */
    incomplete: number;
    boundRounds: number;
  };
  falsePositives: {
    /**
     * Distinct healthy members (never crashed, never paused or slowed) declared dead by
     * anyone after formation: Lifeguard's false positives.
     */
    healthyDeclaredDead: number;
    /** Distinct paused or slowed members declared dead (they did stop answering). */
    troubledDeclaredDead: number;
    /** (observer, member) "dead" events about healthy members. */
    declarations: number;
    /** "suspect" events about healthy members. */
    suspicions: number;
  };
  /** Over the fault phase, per member alive, per second of virtual time. */
  traffic: { msgsPerMemberPerS: number; bytesPerMemberPerS: number };
  eventCounts: Record<string, number>;
  log: LoggedMemberEvent[];
  failures: ScenarioFailure[];
}

interface SimMember {
  index: number;
  id: string;
  sim: SimNode;
  m: Membership;
  up: boolean;
  everCrashed: boolean;
  wake: TimerHandle | null;
  wakeAtMs: number;
}

interface CrashRecord {
  victim: SimMember;
  atMs: number;
  /** Members up at the crash: each one's first "dead" about the victim, once seen. */
  observers: Set<string>;
  detectedMs: Map<string, number>;
  restarted: boolean;
}

interface MetaTrack {
  id: string;
  version: number;
  startMs: number;
  pending: Set<string>;
  /** When the last member still waiting got it, from startMs; -1 until all have. */
  doneMs: number;
  lastMs: number;
}

export function metaOf(i: number, version = 0): NodeMeta {
  return {
    zone: `z${i % 3}`,
    addresses: [`n${i}:6379`],
    capacity: { memoryBytes: 1e9 },
    version,
  };
}

const noop = (): void => {};

class ScenarioRun {
  readonly scheduler = new Scheduler();
  readonly network: SimNetwork;
  /** Fault-schedule choices: a stream apart from the network's, both from the seed. */
  readonly random: SeededRandom;
  readonly config: MembershipConfig;
  readonly members: SimMember[] = [];
  readonly failures: ScenarioFailure[] = [];
  readonly log: LoggedMemberEvent[] = [];
  readonly eventCounts: Record<string, number> = {};
  readonly crashes: CrashRecord[] = [];
  readonly metaTracks: MetaTrack[] = [];
  readonly troubled = new Set<string>();
  eventHash = 0x811c9dc5;
  phase: "form" | "faults" | "settle" | "done" = "form";
  msgsSent = 0;
  bytesSent = 0;
  healthyDead = new Set<string>();
  troubledDead = new Set<string>();
  healthyDeadDeclarations = 0;
  healthySuspicions = 0;
  formedMs = -1;

  constructor(readonly o: ScenarioOptions) {
    const root = new SeededRandom(o.seed);
    this.network = new SimNetwork(this.scheduler, root.fork());
    this.random = root.fork();
    const preset = o.preset === "local" ? localConfig : lanConfig;
    this.config = { ...preset, lifeguard: o.lifeguard };
  }

  // ---- driving members ---------------------------------------------------------------

  addMember(index: number): SimMember {
    const id = `n${index}`;
    const sim = this.network.addNode(id);
    const member: SimMember = {
      index,
      id,
      sim,
      m: this.newMembership(index, sim),
      up: true,
      everCrashed: false,
      wake: null,
      wakeAtMs: Number.POSITIVE_INFINITY,
    };
    this.wire(member);
    this.members.push(member);
    return member;
  }

  private readonly ids = new IdIndex();

  private newMembership(index: number, sim: SimNode): Membership {
    const self = { id: sim.address, address: sim.address, meta: metaOf(index) };
    // One IdIndex for all: N members' tables share each id, its hash and its index.
    return new Membership(this.config, self, sim.random, this.ids);
  }

  private wire(member: SimMember): void {
    member.sim.transport.onMessage((from, data) => {
      member.m.receive(from, data, this.scheduler.nowMs);
      this.flush(member);
    });
  }

  /** Runs `fn` on a member now, then ships what it produced. */
  act(member: SimMember, fn: (m: Membership, nowMs: number) => void): void {
    fn(member.m, this.scheduler.nowMs);
    this.flush(member);
  }

  private flush(member: SimMember): void {
    const { messages, events } = member.m.ready();
    member.m.advance();
    const transport = member.sim.transport;
    for (const msg of messages) {
      if (this.phase === "faults") {
        this.msgsSent += 1;
        this.bytesSent += msg.data.length;
      }
      if (msg.reliable) transport.sendReliable(msg.to, msg.data).catch(noop);
      else transport.send(msg.to, msg.data);
    }
    for (const event of events) this.onEvent(member, event);
    this.rearm(member);
  }

  /** One wake timer per member, at nextWakeMs(); an earlier one already armed is kept. */
  private rearm(member: SimMember): void {
    const nowMs = this.scheduler.nowMs;
    const wakeMs = Math.max(member.m.nextWakeMs(), nowMs);
    if (!Number.isFinite(wakeMs) || member.wakeAtMs <= wakeMs) return;
    member.wake?.cancel();
    member.wakeAtMs = wakeMs;
    member.wake = member.sim.timers.schedule(wakeMs - nowMs, () => {
      member.wake = null;
      member.wakeAtMs = Number.POSITIVE_INFINITY;
      if (member.m.nextWakeMs() <= this.scheduler.nowMs) member.m.tick(this.scheduler.nowMs);
      this.flush(member);
    });
  }

  private onEvent(observer: SimMember, e: MemberEvent): void {
    const nowMs = this.scheduler.nowMs;
    this.eventCounts[e.kind] = (this.eventCounts[e.kind] ?? 0) + 1;
    let h = Math.imul(this.eventHash ^ observer.index, 0x01000193);
    h = Math.imul(h ^ e.kind.charCodeAt(0) ^ (e.kind.length << 8), 0x01000193);
    h = Math.imul(h ^ Number(e.id.slice(1)), 0x01000193);
    this.eventHash = Math.imul(h ^ e.incarnation, 0x01000193);
    if (this.log.length < this.o.eventLogMax) {
      const { kind, id, incarnation } = e;
      this.log.push({ atMs: nowMs, observer: observer.id, kind, id, incarnation });
    }
    const subject = this.members[Number(e.id.slice(1))];
    if (e.kind === "dead") {
      const crash = this.crashes.find((c) => c.victim === subject && !c.restarted);
      if (crash !== undefined && !subject.up) {
        if (crash.observers.has(observer.id) && !crash.detectedMs.has(observer.id)) {
          crash.detectedMs.set(observer.id, nowMs - crash.atMs);
        }
      } else if (this.phase !== "form" && !subject.everCrashed) {
        if (this.troubled.has(e.id)) {
          this.troubledDead.add(e.id);
        } else {
          this.healthyDead.add(e.id);
          this.healthyDeadDeclarations += 1;
        }
      }
    }
    const healthy = !subject.everCrashed && !this.troubled.has(e.id);
    if (e.kind === "suspect" && this.phase !== "form" && healthy) {
      this.healthySuspicions += 1;
    }
    if (e.kind === "updated" || e.kind === "alive" || e.kind === "joined") {
      for (const t of this.metaTracks) {
        if (t.id !== e.id || e.meta.version < t.version || !t.pending.delete(observer.id)) continue;
        t.lastMs = nowMs;
        if (t.pending.size === 0) t.doneMs = nowMs - t.startMs;
      }
    }
  }

  crash(member: SimMember): void {
    const nowMs = this.scheduler.nowMs;
    this.network.crash(member.id);
    member.up = false;
    member.everCrashed = true;
    member.wake = null;
    member.wakeAtMs = Number.POSITIVE_INFINITY;
    const observers = new Set(this.up().map((x) => x.id));
    this.crashes.push({
      victim: member,
      atMs: nowMs,
      observers,
      detectedMs: new Map(),
      restarted: false,
    });
    for (const c of this.crashes) c.observers.delete(member.id);
    for (const t of this.metaTracks) {
      if (t.pending.delete(member.id) && t.pending.size === 0) t.doneMs = t.lastMs - t.startMs;
    }
  }

  /** A fresh process on the same address: a new Membership that joins through a live one. */
  restart(member: SimMember): void {
    for (const c of this.crashes) if (c.victim === member) c.restarted = true;
    member.sim = this.network.restart(member.id);
    member.m = this.newMembership(member.index, member.sim);
    member.up = true;
    member.wake = null;
    member.wakeAtMs = Number.POSITIVE_INFINITY;
    this.wire(member);
    const seeds = this.up().filter((x) => x !== member);
    if (seeds.length === 0) return;
    const seed = seeds[this.random.int(seeds.length)];
    this.act(member, (m, nowMs) => m.join([seed.id], nowMs));
  }

  up(): SimMember[] {
    return this.members.filter((x) => x.up);
  }

  // ---- phases ------------------------------------------------------------------------

  run(): void {
    this.form();
    if (this.failures.length > 0) return;
    this.scheduler.runFor(this.o.warmupMs);
    this.phase = "faults";
    const t0 = this.scheduler.nowMs;
    this.scheduleFaults(t0);
    this.scheduleMetaUpdates(t0);
    this.scheduler.runUntil(t0 + this.o.durationMs);
    this.phase = "settle";
    this.heal();
    this.scheduler.runUntil(t0 + this.o.durationMs + this.o.settleMs);
    this.phase = "done";
    this.check();
  }

  /** Joins spread over joinSpreadMs, each through a member that joined ≥ 1 s earlier. */
  private form(): void {
    const n = this.o.nodes;
    for (let i = 0; i < n; i++) this.addMember(i);
    this.act(this.members[0], (m, nowMs) => m.tick(nowMs));
    const spreadMs = this.o.joinSpreadMs > 0 ? this.o.joinSpreadMs : Math.max(1000, n);
    const times = Array.from({ length: n - 1 }, () => this.random.next() * spreadMs).sort(
      (a, b) => a - b,
    );
    let settled = 0; // members 0..settled-1 joined at least 1 s before the current one
    const joinAt = [0, ...times];
    for (let i = 1; i < n; i++) {
      while (settled + 1 < i && joinAt[settled + 1] <= joinAt[i] - 1000) settled++;
      const seedIndex = settled === 0 ? 0 : this.random.int(settled + 1);
      const member = this.members[i];
      this.scheduler.at(joinAt[i], () => {
        this.act(member, (m, nowMs) => m.join([`n${seedIndex}`], nowMs));
      });
    }
    const limitMs = spreadMs + this.o.formLimitMs;
    for (;;) {
      this.scheduler.runFor(500);
      if (this.members.every((x) => x.m.liveMembers === n)) {
        this.formedMs = this.scheduler.nowMs;
        return;
      }
      if (this.scheduler.nowMs > limitMs) {
        const short = this.members.filter((x) => x.m.liveMembers !== n).length;
        this.fail(
          "liveness",
          `formation: ${short} members do not see all ${n} after ${limitMs} ms`,
        );
        return;
      }
    }
  }

  private has(kind: FaultKind): boolean {
    return this.o.faults.includes(kind);
  }

  private pick(from: SimMember[]): SimMember | null {
    return from.length === 0 ? null : from[this.random.int(from.length)];
  }

  private scheduleFaults(t0: number): void {
    const o = this.o;
    const s = this.scheduler;
    const endMs = t0 + o.durationMs;
    const n = o.nodes;
    const pool = [...this.members];
    const take = (): SimMember | null => {
      if (pool.length <= 1) return null;
      const i = this.random.int(pool.length);
      const [member] = pool.splice(i, 1);
      return member;
    };
    if (this.has("crash")) {
      const bound = detectionBoundMs(this.config, n);
      for (let k = 0; k < Math.min(o.crashes, n - 2); k++) {
        const victim = take();
        if (victim === null) break;
        const atMs = t0 + o.durationMs * (0.05 + 0.45 * this.random.next());
        s.at(atMs, () => this.crash(victim));
        if (this.has("restart")) s.at(atMs + bound + 1000, () => this.restart(victim));
      }
    }
    if (this.has("pause") || this.has("slow")) {
      const count = Math.max(1, Math.round(n * o.troubledFraction));
      for (let k = 0; k < count; k++) {
        const member = take();
        if (member === null) break;
        this.troubled.add(member.id);
        if (this.has("pause")) this.pauseLoop(member, t0, endMs);
        if (this.has("slow")) this.slowLoop(member, t0, endMs);
      }
    }
    if (this.has("partition")) this.partitionLoop(t0, endMs);
    const net: Partial<typeof lanNetwork> = {};
    if (this.has("loss")) net.lossProbability = o.lossProbability;
    if (this.has("dup")) net.duplicateProbability = o.duplicateProbability;
    if (this.has("delay")) {
      net.latencyMedianMs = o.delayMedianMs;
      net.latencySigma = 1;
    }
    this.network.setOptions(net);
  }

  /** Pauses of up to troubleMaxMs, 0.5–5 s apart, while the fault phase lasts. */
  private pauseLoop(member: SimMember, fromMs: number, endMs: number): void {
    const nextMs = fromMs + 500 + this.random.next() * 4500;
    if (nextMs >= endMs) return;
    this.scheduler.at(nextMs, () => {
      if (this.phase !== "faults") return;
      const forMs = Math.max(1, Math.ceil(this.random.next() * this.o.troubleMaxMs));
      if (member.up) this.network.pause(member.id, forMs);
      this.pauseLoop(member, this.scheduler.nowMs + forMs, endMs);
    });
  }

  /** Slow spells (deliveries delayed by up to troubleMaxMs) of 1–5 s, 1–5 s apart. */
  private slowLoop(member: SimMember, fromMs: number, endMs: number): void {
    const startMs = fromMs + 1000 + this.random.next() * 4000;
    if (startMs >= endMs) return;
    this.scheduler.at(startMs, () => {
      if (this.phase !== "faults") return;
      this.network.setSlow(member.id, (this.random.next() * this.o.troubleMaxMs) / 2);
      const forMs = 1000 + this.random.next() * 4000;
      this.scheduler.at(this.scheduler.nowMs + forMs, () => {
        this.network.setSlow(member.id, 0);
        this.slowLoop(member, this.scheduler.nowMs, endMs);
      });
    });
  }

  /** One partition at a time: isolate-one or split-in-two, healed after ≤ partitionMaxMs. */
  private partitionLoop(fromMs: number, endMs: number): void {
    const startMs = fromMs + 5000 + this.random.next() * 15_000;
    if (startMs >= endMs) return;
    this.scheduler.at(startMs, () => {
      if (this.phase !== "faults") return;
      if (this.random.next() < 0.5) {
        const member = this.pick(this.up());
        if (member !== null) this.network.isolate(member.id);
      } else {
        this.network.splitInTwo();
      }
      const forMs = 1000 + this.random.next() * (this.o.partitionMaxMs - 1000);
      this.scheduler.at(this.scheduler.nowMs + forMs, () => {
        this.network.heal();
        this.partitionLoop(this.scheduler.nowMs, endMs);
      });
    });
  }

  private scheduleMetaUpdates(t0: number): void {
    const count = this.o.metaUpdates;
    for (let j = 0; j < count; j++) {
      const atMs = t0 + ((j + 0.5) * this.o.durationMs) / count;
      this.scheduler.at(atMs, () => {
        const healthy = this.up().filter((x) => !this.troubled.has(x.id));
        const member = this.pick(healthy);
        if (member === null) return;
        const version = member.m.member(member.id)?.meta.version ?? 0;
        const pending = new Set(this.up().map((x) => x.id));
        pending.delete(member.id);
        const track: MetaTrack = {
          id: member.id,
          version: version + 1,
          startMs: this.scheduler.nowMs,
          pending,
          doneMs: -1,
          lastMs: this.scheduler.nowMs,
        };
        this.metaTracks.push(track);
        this.act(member, (m, nowMs) => m.updateMeta(metaOf(member.index, version + 1), nowMs));
      });
    }
  }

  private heal(): void {
    this.network.heal();
    this.network.setOptions({
      lossProbability: 0,
      duplicateProbability: 0,
      latencyMedianMs: lanNetwork.latencyMedianMs,
      latencySigma: lanNetwork.latencySigma,
    });
    for (const member of this.members) this.network.setSlow(member.id, 0);
  }

  private check(): void {
    const live = this.up();
    for (const member of live) {
      try {
        member.m.checkInvariants();
      } catch (err) {
        this.fail("correctness", `${member.id}: ${(err as Error).message}`);
      }
    }
    const majority = Math.floor(live.length / 2) + 1;
    for (const subject of this.members) {
      if (subject.up) {
        const deadViews = live.filter((x) => {
          const state = x.m.stateOf(subject.id);
          return state === undefined || state === "dead" || state === "left";
        }).length;
        if (deadViews >= majority) {
          this.fail(
            "liveness",
            `${subject.id} is up but dead in ${deadViews}/${live.length} views`,
          );
        }
      } else {
        const stale = live.filter((x) => {
          const state = x.m.stateOf(subject.id);
          return state === "alive" || state === "suspect";
        });
        if (stale.length > 0) {
          this.fail(
            "liveness",
            `${subject.id} crashed but ${stale.length} live members (e.g. ${stale[0].id}) still see it live`,
          );
        }
      }
    }
  }

  fail(kind: ScenarioFailure["kind"], message: string): void {
    this.failures.push({ kind, message });
  }

  // ---- figures -----------------------------------------------------------------------

  result(): ScenarioResult {
    const n = this.o.nodes;
    const samples: number[] = [];
    let undetected = 0;
    for (const c of this.crashes) {
      for (const ms of c.detectedMs.values()) samples.push(ms);
      if (c.restarted) continue;
      for (const id of c.observers) {
        if (this.members[Number(id.slice(1))].up && !c.detectedMs.has(id)) undetected += 1;
      }
    }
    const times = this.metaTracks.filter((t) => t.doneMs >= 0).map((t) => t.doneMs);
    const g = this.config.gossipIntervalMs;
    // Crashes fall uniformly in the first half of the phase: on average each victim was
    // up for about half of it (an approximation; traffic runs are best made without).
    const upMembers = Math.max(1, n - this.crashes.filter((c) => !c.restarted).length / 2);
    const seconds = this.o.durationMs / 1000;
    const trace = (Math.imul(this.scheduler.trace, 0x01000193) ^ this.eventHash) >>> 0;
    return {
      options: this.o,
      config: this.config,
      trace: trace.toString(16).padStart(8, "0"),
      formedMs: this.formedMs,
      virtualMs: this.scheduler.nowMs,
      eventsRun: this.scheduler.eventsRun,
      detection: {
        crashes: this.crashes.length,
        samples: samples.length,
        meanMs: mean(samples),
        p99Ms: percentile(samples, 0.99),
        maxMs: samples.length === 0 ? 0 : Math.max(...samples),
        boundMs: detectionBoundMs(this.config, n),
        undetected,
      },
      dissemination: {
        samples: times.length,
        meanMs: mean(times),
        maxMs: times.length === 0 ? 0 : Math.max(...times),
        meanRounds: mean(times) / g,
        maxRounds: (times.length === 0 ? 0 : Math.max(...times)) / g,
        incomplete: this.metaTracks.length - times.length,
        boundRounds: disseminationRounds(this.config, n),
      },
      falsePositives: {
        healthyDeclaredDead: this.healthyDead.size,
        troubledDeclaredDead: this.troubledDead.size,
        declarations: this.healthyDeadDeclarations,
        suspicions: this.healthySuspicions,
      },
      traffic: {
        msgsPerMemberPerS: this.msgsSent / upMembers / seconds,
        bytesPerMemberPerS: this.bytesSent / upMembers / seconds,
      },
      eventCounts: { ...this.eventCounts },
      log: this.log,
      failures: [...this.failures],
    };
  }
}

/** Runs one scenario; an assertion thrown mid-run becomes a correctness failure. */
export function runMembershipScenario(options: ScenarioOptions): ScenarioResult {
  assert(Number.isInteger(options.nodes) && options.nodes >= 2, "scenario: nodes >= 2");
  assert(options.durationMs > 0 && options.settleMs >= 0, "scenario: durations");
  const run = new ScenarioRun(options);
  try {
    run.run();
  } catch (err) {
    const e = err as Error;
    run.fail("correctness", `t=${run.scheduler.nowMs}: ${e.stack ?? e.message}`);
  }
  return run.result();
}

function mean(xs: number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Nearest-rank percentile. */
function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

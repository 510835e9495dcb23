import type { SeededRandom } from "../../core/random.js";
import { lanNetwork, type SimNetwork } from "../network.js";
import type { Scheduler } from "../scheduler.js";
import type { RaftHost } from "./host.js";

/**
 * The raft scenario's nemesis: one independent loop per enabled fault kind, each drawing
 * when, whom, how and how long from the seed, so kinds overlap freely in a mixed run.
 * Partitions cut only replica-to-replica links (clients reach every replica): a client's
 * view of a partition is "my leader stopped answering", which timeouts already model.
 */
export type RaftFaultKind = "crash" | "partition" | "loss" | "dup" | "delay" | "pause" | "slow";

export const raftFaultKinds: readonly RaftFaultKind[] = [
  "crash",
  "partition",
  "loss",
  "dup",
  "delay",
  "pause",
  "slow",
];

export interface NemesisOptions {
  /** Quiet time between the end of one spell of a kind and the start of the next. */
  gapMinMs: number;
  gapMaxMs: number;
  /** How long a spell (a partition, a loss burst, a crash until restart...) lasts. */
  spellMinMs: number;
  spellMaxMs: number;
  /** Probability that a crash, pause or partition picks the current leader. */
  leaderBias: number;
  lossMax: number;
  dupMax: number;
  /** With "delay": median of the random part of each delivery, up to this. */
  delayMedianMaxMs: number;
  /** With "slow": extra delivery delay up to this, and disk writes this many times slower. */
  slowMaxMs: number;
  slowDiskFactor: number;
  pauseMaxMs: number;
}

export const nemesisDefaults: NemesisOptions = {
  gapMinMs: 500,
  gapMaxMs: 3_000,
  spellMinMs: 300,
  spellMaxMs: 4_000,
  leaderBias: 0.5,
  lossMax: 0.3,
  dupMax: 0.3,
  delayMedianMaxMs: 30,
  slowMaxMs: 50,
  slowDiskFactor: 10,
  pauseMaxMs: 3_000,
};

export interface NemesisWorld {
  readonly scheduler: Scheduler;
  readonly network: SimNetwork;
  readonly hosts: readonly RaftHost[];
  /** The leader of the highest term among live hosts, if any. */
  leader(): RaftHost | null;
  crash(host: RaftHost): void;
  restart(host: RaftHost): void;
}

export class Nemesis {
  /** Spells started, by kind ("partition:split", "crash:leader", ...). */
  readonly counts: Record<string, number> = {};
  private running = false;
  private partitioned = false;

  constructor(
    private readonly world: NemesisWorld,
    private readonly random: SeededRandom,
    private readonly kinds: readonly RaftFaultKind[],
    private readonly o: NemesisOptions,
  ) {}

  start(): void {
    this.running = true;
    for (const kind of this.kinds) this.loop(kind);
  }

  /** No new spell starts; heal() ends those under way. */
  stop(): void {
    this.running = false;
  }

  /** Every fault gone: links, loss, delays, slowness, pauses; crashed hosts restarted. */
  heal(): void {
    const { network, scheduler, hosts } = this.world;
    network.heal();
    this.partitioned = false;
    network.setOptions({
      lossProbability: 0,
      duplicateProbability: 0,
      latencyMedianMs: lanNetwork.latencyMedianMs,
      latencySigma: lanNetwork.latencySigma,
    });
    for (const h of hosts) {
      network.setSlow(h.address, 0);
      h.diskSlowFactor = 1;
      const simHost = network.host(h.address);
      if (simHost.paused) scheduler.resume(simHost);
      if (!h.up) this.world.restart(h);
    }
  }

  private count(kind: string): void {
    this.counts[kind] = (this.counts[kind] ?? 0) + 1;
  }

  private between(lo: number, hi: number): number {
    return lo + this.random.next() * (hi - lo);
  }

  private loop(kind: RaftFaultKind): void {
    const s = this.world.scheduler;
    s.at(s.nowMs + this.between(this.o.gapMinMs, this.o.gapMaxMs), () => {
      if (!this.running) return;
      const spellMs = this.between(this.o.spellMinMs, this.o.spellMaxMs);
      const end = this.spell(kind, spellMs);
      s.at(s.nowMs + spellMs, () => {
        if (this.running) end();
        this.loop(kind);
      });
    });
  }

  /** Starts one spell of `kind`; returns what ends it. */
  private spell(kind: RaftFaultKind, spellMs: number): () => void {
    const { network } = this.world;
    switch (kind) {
      case "crash":
        return this.crashSpell();
      case "partition":
        return this.partitionSpell();
      case "loss": {
        this.count("loss");
        network.setOptions({ lossProbability: this.random.next() * this.o.lossMax });
        return () => network.setOptions({ lossProbability: 0 });
      }
      case "dup": {
        this.count("dup");
        network.setOptions({ duplicateProbability: this.random.next() * this.o.dupMax });
        return () => network.setOptions({ duplicateProbability: 0 });
      }
      case "delay": {
        this.count("delay");
        const medianMs = this.between(1, this.o.delayMedianMaxMs);
        network.setOptions({ latencyMedianMs: medianMs, latencySigma: 1 });
        return () =>
          network.setOptions({
            latencyMedianMs: lanNetwork.latencyMedianMs,
            latencySigma: lanNetwork.latencySigma,
          });
      }
      case "pause": {
        const host = this.victim("pause");
        if (host !== null) {
          network.pause(host.address, Math.max(1, Math.min(spellMs, this.o.pauseMaxMs)));
        }
        return () => {};
      }
      case "slow": {
        const host = this.pickUp();
        if (host === null) return () => {};
        this.count("slow");
        network.setSlow(host.address, this.between(1, this.o.slowMaxMs));
        host.diskSlowFactor = this.o.slowDiskFactor;
        return () => {
          network.setSlow(host.address, 0);
          host.diskSlowFactor = 1;
        };
      }
    }
  }

  /** Crashes the leader (with leaderBias) or any live host, keeping a majority up. */
  private crashSpell(): () => void {
    const hosts = this.world.hosts;
    const down = hosts.filter((h) => !h.up).length;
    if (down + 1 > (hosts.length - 1) >> 1) return () => {};
    const host = this.victim("crash");
    if (host === null) return () => {};
    this.world.crash(host);
    return () => {
      if (!host.up) this.world.restart(host);
    };
  }

  /** The leader with probability leaderBias, else any live host; counted as kind:who. */
  private victim(kind: string): RaftHost | null {
    const leader = this.world.leader();
    if (leader !== null && this.random.next() < this.o.leaderBias) {
      this.count(`${kind}:leader`);
      return leader;
    }
    const host = this.pickUp();
    if (host !== null) this.count(`${kind}:${host === leader ? "leader" : "other"}`);
    return host;
  }

  private pickUp(): RaftHost | null {
    const up = this.world.hosts.filter((h) => h.up);
    return up.length === 0 ? null : (up[this.random.int(up.length)] as RaftHost);
  }

  /**
   * One partition at a time, of one of five shapes: isolate the leader, isolate another
   * host, split in two at random, one-way (the leader's outbound or inbound links cut),
   * or a bridge (two sides that only one host hears both of).
   */
  private partitionSpell(): () => void {
    const { network } = this.world;
    if (this.partitioned) return () => {};
    const addresses = this.world.hosts.map((h) => h.address);
    const leader = this.world.leader();
    const shape = ["isolate-leader", "isolate", "split", "one-way", "bridge"][this.random.int(5)];
    const cut = (a: string, b: string): void => {
      network.blockOneWay(a, b);
      network.blockOneWay(b, a);
    };
    const shuffled = [...addresses];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = this.random.int(i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j] as string, shuffled[i] as string];
    }
    const one = leader?.address ?? (shuffled[0] as string);
    switch (shape) {
      case "isolate-leader":
      case "isolate": {
        const victim = shape === "isolate" ? (shuffled[0] as string) : one;
        for (const a of addresses) if (a !== victim) cut(victim, a);
        break;
      }
      case "split": {
        const k = 1 + this.random.int(addresses.length - 1);
        for (const a of shuffled.slice(0, k)) for (const b of shuffled.slice(k)) cut(a, b);
        break;
      }
      case "one-way": {
        const outbound = this.random.next() < 0.5;
        for (const a of addresses) {
          if (a === one) continue;
          if (outbound) network.blockOneWay(one, a);
          else network.blockOneWay(a, one);
        }
        break;
      }
      default: {
        // bridge: shuffled[0] hears both halves of the rest, which do not hear each other.
        const rest = shuffled.slice(1);
        const half = rest.length >> 1;
        for (const a of rest.slice(0, half)) for (const b of rest.slice(half)) cut(a, b);
      }
    }
    this.count(`partition:${shape}`);
    this.partitioned = true;
    return () => {
      network.heal();
      this.partitioned = false;
    };
  }
}

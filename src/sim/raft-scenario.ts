import { assert } from "../core/assert.js";
import { SeededRandom } from "../core/random.js";
import {
  type Entry,
  lanConfig,
  leaseTicks,
  type NodeId,
  type RaftConfig,
  SafetyChecker,
} from "../raft/index.js";
import { SimNetwork } from "./network.js";
import {
  type ClientCounts,
  type ClientOptions,
  newClientCounts,
  SimClient,
} from "./raft/client.js";
import { KvHistory } from "./raft/history.js";
import { type HostOptions, RaftHost, type ScenarioBug } from "./raft/host.js";
import {
  Nemesis,
  type NemesisOptions,
  nemesisDefaults,
  type RaftFaultKind,
  raftFaultKinds,
} from "./raft/nemesis.js";
import { Scheduler } from "./scheduler.js";

/**
 * A raft scenario (STYLE.md, 2): one raft group of 3 or 5 replicas on the SimNetwork, each
 * with a durable log whose writes take virtual time, a replicated KV state machine, and
 * clients sending Redis string commands — every choice drawn from one seed, so a seed
 * replays the run event for event (the trace hash says so).
 *
 * Phases:
 * - elect: until a first leader serves (bounded by electLimitMs);
 * - faults (durationMs): clients run while the nemesis injects the chosen fault kinds;
 * - drain: no new commands; faults healed, crashed replicas restarted, in-flight commands
 *   finish (bounded by the clients' opTimeoutMs);
 * - liveness: a probe write must complete within livenessBoundMs, and every replica must
 *   then apply it within the same bound again.
 * Checks: raft's SafetyChecker on every replica whose state changed, after every event
 * (election safety, log matching, leader completeness, state machine safety); every
 * replica's KV digest equal at the end; the client history linearizable per key.
 * docs/raft-simulation.md has the model, the figures and the commands.
 */

export type { RaftFaultKind, ScenarioBug };
export { raftFaultKinds };

export interface RaftScenarioOptions {
  seed: number;
  nodes: number;
  clients: number;
  /** Keys the clients use: few keys, many operations per key, so conflicts are common. */
  keys: number;
  durationMs: number;
  faults: readonly RaftFaultKind[];
  /** Virtual milliseconds per raft tick (lanConfig assumes ~100 ms). */
  tickMs: number;
  electionTicks: number;
  /** Lease reads with this drift bound (0: read-index only). */
  leaseDriftBound: number;
  /** The actual drift of each replica's clock, drawn in [0, clockDrift); must be ≤ the bound. */
  clockDrift: number;
  snapshotEvery: number;
  /**
   * A replica whose log or commit changed is checked by raft's SafetyChecker at most this
   * often, in virtual ms (0: after every change); any change of term or role is checked
   * at once. See RaftHost.observe().
   */
  checkIntervalMs: number;
  diskMeanMs: number;
  tornProbability: number;
  client: ClientOptions;
  nemesis: NemesisOptions;
  electLimitMs: number;
  livenessBoundMs: number;
  /** Model steps per key for the linearizability search before it says "unknown". */
  checkStepsMax: number;
  bug: ScenarioBug;
}

export function raftScenarioDefaults(seed: number): RaftScenarioOptions {
  const tickMs = 100;
  const electionTicks = 10;
  return {
    seed,
    nodes: 3,
    clients: 5,
    keys: 4,
    durationMs: 20_000,
    faults: raftFaultKinds,
    tickMs,
    electionTicks,
    leaseDriftBound: 0,
    clockDrift: 0,
    snapshotEvery: 64,
    checkIntervalMs: 5,
    diskMeanMs: 1.5,
    tornProbability: 0.5,
    client: {
      // A client gives up after a second, as an interactive caller would: a failover
      // (one to two election timeouts) then costs availability, which the figures show.
      attemptTimeoutMs: 250,
      opTimeoutMs: 1_000,
      thinkMeanMs: 20,
      backoffMinMs: 10,
      backoffMaxMs: 200,
      keys: 4,
      keyGenerationMs: 5_000,
      readAnywhere: false,
    },
    nemesis: nemesisDefaults,
    electLimitMs: 10_000,
    // A restarted replica refuses votes for T (leases), then an election takes up to 2T
    // plus rounds; a lagging one may need a snapshot: 8 election timeouts is generous.
    livenessBoundMs: 8 * electionTicks * tickMs,
    checkStepsMax: 2_000_000,
    bug: "none",
  };
}

export interface RaftScenarioFailure {
  kind: "correctness" | "liveness";
  message: string;
}

export interface RaftScenarioResult {
  options: RaftScenarioOptions;
  trace: string;
  virtualMs: number;
  eventsRun: number;
  ops: ClientCounts & { total: number; ok: number; failed: number; unknown: number };
  /** Share of the operations that succeeded. */
  availability: number;
  /** Call to reply of the operations that succeeded. */
  latency: { p50Ms: number; p99Ms: number; maxMs: number };
  /** Fault spells started, by kind and shape. */
  faults: Record<string, number>;
  failover: {
    /** Leaders crashed. */
    leaderCrashes: number;
    /** Per leader crash: ms until a leader of a higher term applied a client write. */
    servingMs: number[];
    /** Per leader crash: ms until a leader of a higher term was elected. */
    electedMs: number[];
    electionTimeoutMs: number;
  };
  liveness: { writeMs: number; convergeMs: number; boundMs: number };
  raft: {
    elections: number;
    preElections: number;
    terms: number;
    committed: number;
    snapshotsTaken: number;
    snapshotsSent: number;
    snapshotsInstalled: number;
    diskWrites: number;
    tornWrites: number;
    leaseTicks: number;
  };
  check: { verdict: string; steps: number; operations: number; message: string };
  failures: RaftScenarioFailure[];
}

interface PendingFailover {
  atMs: number;
  term: number;
  electedMs: number;
}

const fnvPrime = 0x01000193;

class RaftScenarioRun {
  readonly scheduler = new Scheduler();
  readonly network: SimNetwork;
  readonly random: SeededRandom;
  readonly checker = new SafetyChecker();
  readonly hosts: RaftHost[] = [];
  readonly clients: SimClient[] = [];
  readonly history = new KvHistory();
  readonly counts = newClientCounts();
  readonly failures: RaftScenarioFailure[] = [];
  readonly nemesis: Nemesis;
  readonly config: (id: NodeId) => RaftConfig;
  hash = 0x811c9dc5;
  failovers: PendingFailover[] = [];
  servingMs: number[] = [];
  electedMs: number[] = [];
  leaderCrashes = 0;
  /** Call to reply, of every operation that succeeded. */
  readonly latencyMs: number[] = [];
  maxTerm = 0;
  liveness = { writeMs: -1, convergeMs: -1, boundMs: 0 };
  check = { verdict: "not run", steps: 0, operations: 0, message: "" };
  /** Statistics of hosts' earlier lives (a restart makes a new RaftNode). */
  private readonly pastStats = { elections: 0, preElections: 0, sent: 0, installed: 0 };

  constructor(readonly o: RaftScenarioOptions) {
    const root = new SeededRandom(o.seed);
    this.network = new SimNetwork(this.scheduler, root.fork());
    this.random = root.fork();
    this.config = (id) => ({
      ...lanConfig(id),
      electionTicks: o.electionTicks,
      // Every message must fit one datagram (1,350 bytes): small appends and chunks, so
      // batching, flow control and chunked snapshot transfer all happen.
      maxMsgBytes: 1024,
      maxEntryBytes: 1024,
      maxInflightMsgs: 32,
      maxInflightBytes: 16 * 1024,
      maxUncommittedBytes: 64 * 1024,
      maxApplyBytes: 4096,
      snapshotChunkBytes: 512,
      clockDriftBound: o.leaseDriftBound,
    });
    this.nemesis = new Nemesis(this, root.fork(), o.faults, o.nemesis);
    const voters = Array.from({ length: o.nodes }, (_, i) => i + 1);
    const hostOptions: HostOptions = {
      tickMs: o.tickMs,
      diskMeanMs: o.diskMeanMs,
      diskMinMs: 0.2,
      diskMaxMs: 50,
      tornProbability: o.tornProbability,
      snapshotEvery: o.snapshotEvery,
      checkIntervalMs: o.checkIntervalMs,
      bug: o.bug,
    };
    for (const id of voters) {
      const random = root.fork();
      const drift = random.next() * o.clockDrift;
      this.hosts.push(
        new RaftHost(
          id,
          this.config(id),
          voters,
          this.scheduler,
          this.network,
          this.checker,
          random,
          hostOptions,
          this,
          drift,
        ),
      );
    }
    const addresses = this.hosts.map((h) => h.address);
    const clientOptions = {
      ...o.client,
      keys: o.keys,
      readAnywhere: o.client.readAnywhere || o.bug === "follower-reads",
    };
    for (let c = 1; c <= o.clients + 1; c++) {
      const sim = this.network.addNode(`c${c}`);
      const client = new SimClient(
        c,
        sim,
        this.scheduler,
        addresses,
        root.fork(),
        clientOptions,
        this.history,
        this.counts,
        this,
      );
      this.clients.push(client);
    }
  }

  // ---- hooks (HostEvents, ClientHooks) -------------------------------------------------

  becameLeader(host: RaftHost, term: number): void {
    this.mix(0x1ead, host.id, term);
    this.maxTerm = Math.max(this.maxTerm, term);
    for (const f of this.failovers) {
      if (f.electedMs < 0 && term > f.term) f.electedMs = this.scheduler.nowMs - f.atMs;
    }
  }

  servedWrite(_host: RaftHost, term: number): void {
    if (this.failovers.length === 0) return;
    const keep: PendingFailover[] = [];
    for (const f of this.failovers) {
      if (term <= f.term) {
        keep.push(f);
        continue;
      }
      this.servingMs.push(this.scheduler.nowMs - f.atMs);
      this.electedMs.push(f.electedMs >= 0 ? f.electedMs : this.scheduler.nowMs - f.atMs);
    }
    this.failovers = keep;
  }

  applied(host: RaftHost, e: Entry): void {
    this.mix(host.id, e.index, e.term);
  }

  done(
    client: SimClient,
    outcome: "ok" | "failed" | "unknown",
    isRead: boolean,
    latencyMs: number,
  ): void {
    if (outcome === "ok") this.latencyMs.push(latencyMs);
    const code = outcome === "ok" ? 1 : outcome === "failed" ? 2 : 3;
    this.mix(client.id, code, isRead ? 1 : 0);
  }

  private mix(a: number, b: number, c: number): void {
    let h = Math.imul(this.hash ^ a, fnvPrime);
    h = Math.imul(h ^ b, fnvPrime);
    this.hash = Math.imul(h ^ c, fnvPrime);
  }

  // ---- world (NemesisWorld) ------------------------------------------------------------

  leader(): RaftHost | null {
    let best: RaftHost | null = null;
    for (const h of this.hosts) {
      const n = h.node;
      if (n === null || n.state !== "leader") continue;
      if (best === null || n.term > (best.node?.term ?? 0)) best = h;
    }
    return best;
  }

  crash(host: RaftHost): void {
    const node = host.node;
    if (node !== null) {
      const s = node.stats;
      this.pastStats.elections += s.elections;
      this.pastStats.preElections += s.preElections;
      this.pastStats.sent += s.snapshotsSent;
      this.pastStats.installed += s.snapshotsInstalled;
      if (this.leader() === host) {
        this.leaderCrashes += 1;
        this.failovers.push({ atMs: this.scheduler.nowMs, term: node.term, electedMs: -1 });
      }
    }
    this.mix(0xdead, host.id, 0);
    host.crash();
  }

  restart(host: RaftHost): void {
    this.mix(0xbeef, host.id, 0);
    host.restart();
  }

  // ---- phases --------------------------------------------------------------------------

  run(): void {
    const o = this.o;
    const s = this.scheduler;
    if (!this.elect()) return;
    const t0 = s.nowMs;
    this.nemesis.start();
    const workers = this.clients.slice(0, o.clients);
    for (const c of workers) c.start();
    s.runUntil(t0 + o.durationMs);
    this.nemesis.stop();
    for (const c of workers) c.active = false;
    this.nemesis.heal();
    const drainLimitMs = s.nowMs + o.client.opTimeoutMs + o.client.attemptTimeoutMs + 1;
    while (workers.some((c) => c.busy) && s.nowMs < drainLimitMs) s.runFor(10);
    this.probe();
    this.finalChecks();
  }

  private elect(): boolean {
    const s = this.scheduler;
    while (s.nowMs < this.o.electLimitMs) {
      s.runFor(10);
      const leader = this.leader();
      if (leader !== null && leader.node?.log.committed === leader.node?.log.lastIndex()) {
        return true;
      }
    }
    this.fail("liveness", `no leader within ${this.o.electLimitMs} ms of the start`);
    return false;
  }

  /** After healing: a new write completes, then every replica applies it, within bounds. */
  private probe(): void {
    const s = this.scheduler;
    const bound = this.o.livenessBoundMs;
    this.liveness.boundMs = bound;
    const probe = this.clients[this.o.clients] as SimClient;
    const t0 = s.nowMs;
    let outcome: boolean | null = null;
    probe.runOne({ op: "set", key: "k0", value: "probe" }, bound, (ok) => {
      outcome = ok;
    });
    while (outcome === null && s.nowMs <= t0 + bound + this.o.client.attemptTimeoutMs) {
      s.runFor(5);
    }
    if (outcome !== true || s.nowMs - t0 > bound) {
      const leader = this.leader();
      this.fail(
        "liveness",
        `no write completed within ${bound} ms after faults healed (leader ${leader?.id ?? "none"})`,
      );
      return;
    }
    this.liveness.writeMs = s.nowMs - t0;
    const target = Math.max(...this.hosts.map((h) => h.node?.log.committed ?? 0));
    const t1 = s.nowMs;
    const converged = (): boolean => this.hosts.every((h) => h.kv.appliedIndex >= target);
    while (!converged() && s.nowMs <= t1 + bound) s.runFor(5);
    if (!converged()) {
      const lag = this.hosts.map((h) => `${h.id}:${h.kv.appliedIndex}`).join(" ");
      this.fail("liveness", `replicas did not apply index ${target} within ${bound} ms (${lag})`);
      return;
    }
    this.liveness.convergeMs = s.nowMs - t1;
  }

  private finalChecks(): void {
    this.checker.observe(this.hosts.flatMap((h) => (h.node === null ? [] : [h.node])));
    // Equal applied index, equal state (sessions included).
    const byIndex = new Map<number, { id: NodeId; digest: number }>();
    for (const h of this.hosts) {
      const prior = byIndex.get(h.kv.appliedIndex);
      const digest = h.kv.digest();
      if (prior === undefined) byIndex.set(h.kv.appliedIndex, { id: h.id, digest });
      else if (prior.digest !== digest) {
        this.fail(
          "correctness",
          `replicas ${prior.id} and ${h.id} differ at applied index ${h.kv.appliedIndex}`,
        );
      }
    }
    const verdict = this.history.check(this.o.checkStepsMax);
    this.check = { ...verdict, operations: this.history.length };
    if (verdict.verdict === "not-linearizable") this.fail("correctness", verdict.message);
  }

  fail(kind: RaftScenarioFailure["kind"], message: string): void {
    this.failures.push({ kind, message });
  }

  // ---- figures -------------------------------------------------------------------------

  result(): RaftScenarioResult {
    const c = this.counts;
    const ok = c.readsOk + c.writesOk;
    const failed = c.readsFailed + c.writesFailed;
    const unknown = c.writesUnknown;
    const total = ok + failed + unknown;
    const stats = { ...this.pastStats };
    let committed = 0;
    for (const h of this.hosts) {
      const n = h.node;
      if (n === null) continue;
      stats.elections += n.stats.elections;
      stats.preElections += n.stats.preElections;
      stats.sent += n.stats.snapshotsSent;
      stats.installed += n.stats.snapshotsInstalled;
      committed = Math.max(committed, n.log.committed);
    }
    const sum = (f: (h: RaftHost) => number): number => this.hosts.reduce((a, h) => a + f(h), 0);
    const trace = (Math.imul(this.scheduler.trace, fnvPrime) ^ this.hash) >>> 0;
    return {
      options: this.o,
      trace: trace.toString(16).padStart(8, "0"),
      virtualMs: this.scheduler.nowMs,
      eventsRun: this.scheduler.eventsRun,
      ops: { ...c, total, ok, failed, unknown },
      availability: total === 0 ? 1 : ok / total,
      latency: {
        p50Ms: percentile(this.latencyMs, 0.5),
        p99Ms: percentile(this.latencyMs, 0.99),
        maxMs: this.latencyMs.reduce((a, b) => Math.max(a, b), 0),
      },
      faults: { ...this.nemesis.counts },
      failover: {
        leaderCrashes: this.leaderCrashes,
        servingMs: [...this.servingMs],
        electedMs: [...this.electedMs],
        electionTimeoutMs: this.o.electionTicks * this.o.tickMs,
      },
      liveness: { ...this.liveness },
      raft: {
        elections: stats.elections,
        preElections: stats.preElections,
        terms: this.maxTerm,
        committed,
        snapshotsTaken: sum((h) => h.snapshotsTaken),
        snapshotsSent: stats.sent,
        snapshotsInstalled: stats.installed,
        diskWrites: sum((h) => h.diskWrites),
        tornWrites: sum((h) => h.tornWrites),
        leaseTicks: leaseTicks(this.config(1)),
      },
      check: { ...this.check },
      failures: [...this.failures],
    };
  }
}

/** Runs one scenario; an assertion thrown mid-run (raft's or the checker's) is a correctness failure. */
export function runRaftScenario(options: RaftScenarioOptions): RaftScenarioResult {
  assert(options.nodes === 3 || options.nodes === 5, "raft scenario: nodes must be 3 or 5");
  assert(options.clients >= 1 && options.clients <= 100, "raft scenario: clients in [1, 100]");
  assert(options.durationMs > 0, "raft scenario: duration");
  assert(
    options.clockDrift <= options.leaseDriftBound || options.leaseDriftBound === 0,
    "raft scenario: clock drift beyond the lease bound",
  );
  const run = new RaftScenarioRun(options);
  try {
    run.run();
  } catch (err) {
    const e = err as Error;
    run.fail("correctness", `t=${run.scheduler.nowMs.toFixed(3)}: ${e.stack ?? e.message}`);
  }
  return run.result();
}

export function mean(xs: readonly number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Nearest-rank percentile. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] as number;
}

/**
 * A seed's own mix of fault kinds (`--faults mix`): one to three kinds drawn from the seed,
 * so a range of seeds covers kinds alone and in combination, and a seed replays its mix.
 */
export function mixFaults(seed: number): RaftFaultKind[] {
  const random = new SeededRandom((seed ^ 0x5eed_f00d) >>> 0);
  const pool = [...raftFaultKinds];
  const count = 1 + random.int(3);
  const out: RaftFaultKind[] = [];
  for (let i = 0; i < count; i++)
    out.push(pool.splice(random.int(pool.length), 1)[0] as RaftFaultKind);
  return raftFaultKinds.filter((k) => out.includes(k));
}

/** Figures over a range of seeds: what `homeostat sim raft --seeds A..B` prints. */
export class RaftSummary {
  runs = 0;
  failedSeeds: { seed: number; trace: string; failures: RaftScenarioFailure[] }[] = [];
  readonly ops = { total: 0, ok: 0, failed: 0, unknown: 0, readsOk: 0, writesOk: 0 };
  readonly faults: Record<string, number> = {};
  leaderCrashes = 0;
  readonly servingMs: number[] = [];
  readonly electedMs: number[] = [];
  electionTimeoutMs = 0;
  /** Per fault set ("crash", "loss,pause", "none"): operations and successes. */
  readonly byFaults = new Map<
    string,
    { runs: number; total: number; ok: number; p99Ms: number[] }
  >();
  readonly verdicts: Record<string, number> = {};
  /** The runs' p99 latencies (each run's own), to show their spread. */
  readonly latencyP99Ms: number[] = [];
  livenessWriteMsMax = 0;
  livenessConvergeMsMax = 0;
  snapshotsInstalled = 0;
  tornWrites = 0;
  virtualMs = 0;

  add(r: RaftScenarioResult): void {
    this.runs += 1;
    if (r.failures.length > 0) {
      this.failedSeeds.push({ seed: r.options.seed, trace: r.trace, failures: r.failures });
    }
    for (const k of Object.keys(this.ops) as (keyof RaftSummary["ops"])[]) {
      this.ops[k] += r.ops[k];
    }
    for (const [kind, n] of Object.entries(r.faults)) {
      this.faults[kind] = (this.faults[kind] ?? 0) + n;
    }
    this.leaderCrashes += r.failover.leaderCrashes;
    this.servingMs.push(...r.failover.servingMs);
    this.electedMs.push(...r.failover.electedMs);
    this.electionTimeoutMs = r.failover.electionTimeoutMs;
    const set = r.options.faults.join(",") || "none";
    const g = this.byFaults.get(set) ?? { runs: 0, total: 0, ok: 0, p99Ms: [] };
    g.runs += 1;
    if (r.ops.ok > 0) g.p99Ms.push(r.latency.p99Ms);
    g.total += r.ops.total;
    g.ok += r.ops.ok;
    this.byFaults.set(set, g);
    if (r.ops.ok > 0) this.latencyP99Ms.push(r.latency.p99Ms);
    this.verdicts[r.check.verdict] = (this.verdicts[r.check.verdict] ?? 0) + 1;
    this.livenessWriteMsMax = Math.max(this.livenessWriteMsMax, r.liveness.writeMs);
    this.livenessConvergeMsMax = Math.max(this.livenessConvergeMsMax, r.liveness.convergeMs);
    this.snapshotsInstalled += r.raft.snapshotsInstalled;
    this.tornWrites += r.raft.tornWrites;
    this.virtualMs += r.virtualMs;
  }

  /** Fault spells by kind alone ("crash" sums "crash:leader" and "crash:other"). */
  faultsByKind(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, n] of Object.entries(this.faults)) {
      const kind = k.split(":")[0] as string;
      out[kind] = (out[kind] ?? 0) + n;
    }
    return out;
  }
}

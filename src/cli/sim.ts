import { type Command, InvalidArgumentError, Option } from "commander";
import {
  type FaultKind,
  faultKinds,
  runMembershipScenario,
  type ScenarioOptions,
  type ScenarioResult,
  scenarioDefaults,
} from "../sim/membership-scenario.js";
import {
  mean,
  mixFaults,
  percentile,
  type RaftFaultKind,
  type RaftScenarioOptions,
  type RaftScenarioResult,
  RaftSummary,
  raftFaultKinds,
  raftScenarioDefaults,
  runRaftScenario,
  type ScenarioBug,
} from "../sim/raft-scenario.js";

/** Exit codes (STYLE.md, 2): a crash of the simulator itself exits 1, as any error does. */
export const exitCorrectness = 3;
export const exitLiveness = 4;

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("must be a positive integer");
  return n;
}

function seedNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) {
    throw new InvalidArgumentError("must be an integer in [0, 2^32)");
  }
  return n;
}

function seedRange(value: string): [number, number] {
  const m = /^(\d+)\.\.(\d+)$/.exec(value);
  if (m === null) throw new InvalidArgumentError("must be A..B");
  const a = seedNumber(m[1]);
  const b = seedNumber(m[2]);
  if (b < a) throw new InvalidArgumentError("B must be at least A");
  return [a, b];
}

function faultList(value: string): FaultKind[] {
  if (value === "" || value === "none") return [];
  const kinds = value.split(",").map((x) => x.trim());
  for (const kind of kinds) {
    if (!faultKinds.includes(kind as FaultKind)) {
      throw new InvalidArgumentError(`unknown fault ${kind}; known: ${faultKinds.join(", ")}`);
    }
  }
  return kinds as FaultKind[];
}

function fraction(value: string): number {
  const n = Number(value);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError("must be in [0, 1]");
  return n;
}

interface SimMembershipOptions {
  nodes: number;
  seed: number;
  seeds?: [number, number];
  durationS: number;
  warmupS: number;
  joinSpreadS: number;
  settleS: number;
  faults: FaultKind[];
  lifeguard: boolean;
  preset: string;
  crashes: number;
  troubled: number;
  troubleMaxMs: number;
  loss: number;
}

/** `homeostat sim membership ...`: one scenario (or a range of seeds) on virtual time. */
export function registerSimCommand(program: Command): void {
  const sim = program
    .command("sim")
    .description("Run protocols in the deterministic simulator (virtual time, one seed).");
  sim
    .command("membership")
    .description(
      "Run N members of the SWIM/Lifeguard protocol on a simulated network under faults and\n" +
        "print failure-detection, dissemination, false-positive and traffic figures.\n" +
        `Exit ${exitCorrectness}: an invariant broke; ${exitLiveness}: liveness (a healthy member dead, a crash undetected).`,
    )
    .requiredOption("-n, --nodes <n>", "members", positiveInt)
    .option("-s, --seed <s>", "seed: the same seed replays the same run", seedNumber, 1)
    .option("--seeds <a..b>", "run every seed in a range and summarize", seedRange)
    .option("--warmup-s <d>", "virtual seconds of quiet after forming, unmeasured", Number, 0)
    .option(
      "--join-spread-s <d>",
      "virtual seconds the joins are spread over (default: max(1 s, N ms))",
      Number,
      0,
    )
    .option("--duration-s <d>", "virtual seconds of the fault phase (measured)", positiveInt, 60)
    .option("--settle-s <d>", "virtual seconds to converge after faults heal", positiveInt, 60)
    .option("--faults <list>", `comma-separated: ${faultKinds.join(", ")}; or none`, faultList, [
      "crash",
    ] as FaultKind[])
    .option("--no-lifeguard", "plain SWIM: fixed suspicion timeout, no health awareness")
    .option("--preset <name>", "membership parameters: lan or local", "lan")
    .option("--crashes <k>", "members crashed with --faults crash", positiveInt, 3)
    .option("--troubled <fraction>", "share of members paused or slowed", fraction, 0.1)
    .option("--trouble-max-ms <ms>", "longest pause / slow delivery", positiveInt, 2000)
    .option("--loss <p>", "datagram loss (and duplication) with --faults loss,dup", fraction, 0.05)
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  homeostat sim membership --nodes 100 --seed 7\n" +
        "  homeostat sim membership --nodes 100 --faults pause,slow --no-lifeguard\n" +
        "  homeostat sim membership --nodes 50 --seeds 1..20 --faults crash,restart,partition,loss",
    )
    .action((opts: SimMembershipOptions) => {
      if (opts.preset !== "lan" && opts.preset !== "local") {
        throw new InvalidArgumentError("--preset must be lan or local");
      }
      const [first, last] = opts.seeds ?? [opts.seed, opts.seed];
      const single = first === last;
      let code = 0;
      let failed = 0;
      for (let seed = first; seed <= last; seed++) {
        const options: ScenarioOptions = {
          ...scenarioDefaults(opts.nodes, seed),
          warmupMs: opts.warmupS * 1000,
          joinSpreadMs: opts.joinSpreadS * 1000,
          durationMs: opts.durationS * 1000,
          settleMs: opts.settleS * 1000,
          faults: opts.faults,
          lifeguard: opts.lifeguard,
          preset: opts.preset,
          crashes: opts.crashes,
          troubledFraction: opts.troubled,
          troubleMaxMs: opts.troubleMaxMs,
          lossProbability: opts.loss,
          duplicateProbability: opts.loss,
        };
        const startMs = performance.now();
        const result = runMembershipScenario(options);
        const wallMs = performance.now() - startMs;
        if (single) process.stdout.write(formatResult(result, wallMs));
        else process.stdout.write(formatLine(result, wallMs));
        if (result.failures.length > 0) {
          failed++;
          process.stdout.write(formatFailures(result));
          const runCode = result.failures.some((f) => f.kind === "correctness")
            ? exitCorrectness
            : exitLiveness;
          // Correctness outranks liveness: the exit code names the worst seen.
          if (code !== exitCorrectness) code = runCode;
        }
      }
      if (!single) {
        process.stdout.write(`${last - first + 1} seeds, ${failed} failed\n`);
      }
      if (code !== 0) process.exitCode = code;
    });
  registerSimRaft(sim);
}

/** --faults for raft: a list, "none", "all", or "mix" (each seed draws its own 1–3 kinds). */
function raftFaultList(value: string): RaftFaultKind[] | "mix" {
  if (value === "" || value === "none") return [];
  if (value === "all") return [...raftFaultKinds];
  if (value === "mix") return "mix";
  const kinds = value.split(",").map((x) => x.trim());
  for (const kind of kinds) {
    if (!raftFaultKinds.includes(kind as RaftFaultKind)) {
      throw new InvalidArgumentError(
        `unknown fault ${kind}; known: ${raftFaultKinds.join(", ")}, or none, all, mix`,
      );
    }
  }
  return kinds as RaftFaultKind[];
}

function nodesThreeOrFive(value: string): number {
  if (value !== "3" && value !== "5") throw new InvalidArgumentError("must be 3 or 5");
  return Number(value);
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("must be an integer ≥ 0");
  return n;
}

const raftBugs: readonly ScenarioBug[] = ["none", "ack-before-commit", "follower-reads"];

function raftBug(value: string): ScenarioBug {
  if (!raftBugs.includes(value as ScenarioBug)) {
    throw new InvalidArgumentError(`must be one of ${raftBugs.join(", ")}`);
  }
  return value as ScenarioBug;
}

interface SimRaftOptions {
  nodes: number;
  seed: number;
  seeds?: [number, number];
  durationS: number;
  faults: RaftFaultKind[] | "mix";
  clients: number;
  keys: number;
  lease: number;
  snapshotEvery: number;
  checkIntervalMs: number;
  torn: number;
  bug: ScenarioBug;
}

/** `homeostat sim raft ...`: one raft group, clients and a nemesis on virtual time. */
function registerSimRaft(sim: Command): void {
  sim
    .command("raft")
    .description(
      "Run one raft group (3 or 5 replicas) with a replicated KV store, clients and a nemesis " +
        "on virtual time; check raft's safety invariants, the clients' history for " +
        "linearizability (per key) and that a write completes once faults heal; print failover " +
        "and availability figures.\n" +
        `Exit ${exitCorrectness}: a safety invariant or linearizability broke; ${exitLiveness}: liveness.`,
    )
    .option("-n, --nodes <n>", "replicas: 3 or 5", nodesThreeOrFive, 3)
    .option("-s, --seed <s>", "seed: the same seed replays the same run", seedNumber, 1)
    .option("--seeds <a..b>", "run every seed in a range and summarize", seedRange)
    .option("--duration-s <d>", "virtual seconds of the fault phase", positiveInt, 20)
    .addOption(
      new Option(
        "--faults <list>",
        `comma-separated: ${raftFaultKinds.join(", ")}; or none, all, mix (1–3 kinds drawn per seed)`,
      )
        .argParser(raftFaultList)
        .default([...raftFaultKinds], "all"),
    )
    .option("--clients <c>", "concurrent clients", positiveInt, 5)
    .option("--keys <k>", "keys the clients share", positiveInt, 4)
    .option(
      "--lease <drift>",
      "lease reads with this clock drift bound (clocks drift within it)",
      fraction,
      0,
    )
    .option("--snapshot-every <k>", "snapshot and compact every K applied entries", positiveInt, 64)
    .option(
      "--check-interval-ms <ms>",
      "safety checks of a changing replica at most this far apart (0: after every change)",
      nonNegativeInt,
      5,
    )
    .option(
      "--torn <p>",
      "a crash mid-write keeps a prefix of it with this probability",
      fraction,
      0.5,
    )
    .option(
      "--bug <name>",
      `a deliberate bug the checks must catch: ${raftBugs.join(", ")}`,
      raftBug,
      "none",
    )
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  homeostat sim raft --seed 7\n" +
        "  homeostat sim raft --seeds 1..200 --faults mix --duration-s 10\n" +
        "  homeostat sim raft --seeds 1..100 --faults crash --nodes 5\n" +
        "  homeostat sim raft --seeds 1..20 --bug follower-reads --faults none   # must fail",
    )
    .action((opts: SimRaftOptions) => {
      if (opts.lease >= 1) throw new InvalidArgumentError("--lease must be below 1");
      const [first, last] = opts.seeds ?? [opts.seed, opts.seed];
      const single = first === last;
      const summary = new RaftSummary();
      const startMs = performance.now();
      let code = 0;
      for (let seed = first; seed <= last; seed++) {
        const base = raftScenarioDefaults(seed);
        const options: RaftScenarioOptions = {
          ...base,
          nodes: opts.nodes,
          clients: opts.clients,
          keys: opts.keys,
          durationMs: opts.durationS * 1000,
          faults: opts.faults === "mix" ? mixFaults(seed) : opts.faults,
          leaseDriftBound: opts.lease,
          clockDrift: opts.lease,
          snapshotEvery: opts.snapshotEvery,
          checkIntervalMs: opts.checkIntervalMs,
          tornProbability: opts.torn,
          bug: opts.bug,
        };
        const runStartMs = performance.now();
        const result = runRaftScenario(options);
        const wallMs = performance.now() - runStartMs;
        summary.add(result);
        if (single) process.stdout.write(formatRaftResult(result, wallMs));
        else process.stdout.write(formatRaftLine(result, wallMs));
        if (result.failures.length > 0) {
          process.stdout.write(formatRaftFailures(result));
          const runCode = result.failures.some((f) => f.kind === "correctness")
            ? exitCorrectness
            : exitLiveness;
          if (code !== exitCorrectness) code = runCode;
        }
      }
      if (!single) process.stdout.write(formatRaftSummary(summary, performance.now() - startMs));
      if (code !== 0) process.exitCode = code;
    });
}

/** Milliseconds with one decimal below 100 ms (latencies), as ms() above. */
function ms1(x: number): string {
  return x < 100 ? `${x.toFixed(1)} ms` : ms(x);
}

function pct(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}

function spread(xs: readonly number[]): string {
  if (xs.length === 0) return "no samples";
  const maxMs = xs.reduce((a, b) => Math.max(a, b), 0);
  return `mean ${ms(mean(xs))}, p99 ${ms(percentile(xs, 0.99))}, max ${ms(maxMs)} (${xs.length} samples)`;
}

function kinds(faults: Record<string, number>): string {
  const entries = Object.entries(faults).sort(([a], [b]) => (a < b ? -1 : 1));
  return entries.length === 0 ? "none" : entries.map(([k, n]) => `${k} ${n}`).join(", ");
}

export function formatRaftResult(r: RaftScenarioResult, wallMs: number): string {
  const o = r.options;
  const f = r.failover;
  const t = f.electionTimeoutMs;
  const rows: [string, string][] = [
    [
      "scenario",
      `nodes=${o.nodes} seed=${o.seed} clients=${o.clients} keys=${o.keys} faults=${o.faults.join(",") || "none"}` +
        ` reads=${o.leaseDriftBound > 0 ? `lease (drift ${o.leaseDriftBound})` : "read-index"}` +
        (o.bug !== "none" ? ` bug=${o.bug}` : ""),
    ],
    [
      "time",
      `${ms(r.virtualMs)} virtual, ${(wallMs / 1000).toFixed(2)} s wall, ${r.eventsRun} events`,
    ],
    [
      "operations",
      `${r.ops.total}: ok ${r.ops.ok} (reads ${r.ops.readsOk}, writes ${r.ops.writesOk}), failed ${r.ops.failed}, unknown ${r.ops.unknown}; availability ${pct(r.availability)}`,
    ],
    [
      "latency",
      `p50 ${ms1(r.latency.p50Ms)}, p99 ${ms1(r.latency.p99Ms)}, max ${ms1(r.latency.maxMs)} (successful operations, call to reply)`,
    ],
    ["faults", kinds(r.faults)],
    [
      "failover",
      f.leaderCrashes === 0
        ? "no leader crashed"
        : `${f.leaderCrashes} leader crashes; new leader serving writes: ${spread(f.servingMs)}; elected: ${spread(f.electedMs)}; election timeout ${ms(t)}–${ms(2 * t)}`,
    ],
    [
      "raft",
      `${r.raft.terms} terms, ${r.raft.elections} elections (${r.raft.preElections} pre-votes), ${r.raft.committed} committed, ` +
        `${r.raft.snapshotsTaken} snapshots taken, ${r.raft.snapshotsSent} sent, ${r.raft.snapshotsInstalled} installed, ` +
        `${r.raft.diskWrites} disk writes (${r.raft.tornWrites} torn by crashes)`,
    ],
    [
      "liveness",
      r.liveness.writeMs < 0
        ? "not reached"
        : `write after heal in ${ms(r.liveness.writeMs)}, all replicas applied it ${ms(r.liveness.convergeMs)} later (bound ${ms(r.liveness.boundMs)})`,
    ],
    [
      "history",
      r.check.verdict === "unknown"
        ? `${r.check.operations} operations, undecided: ${r.check.message}`
        : `${r.check.operations} operations, ${r.check.verdict} (${r.check.steps} steps)`,
    ],
    ["trace", r.trace],
    ["result", r.failures.length === 0 ? "ok" : `${r.failures.length} failures`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return `${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n")}\n`;
}

function formatRaftLine(r: RaftScenarioResult, wallMs: number): string {
  const f = r.failover;
  return (
    `seed=${r.options.seed} trace=${r.trace} ${r.failures.length === 0 ? "ok" : "FAIL"}` +
    ` faults=${r.options.faults.join(",") || "none"}` +
    ` ops ${r.ops.ok}/${r.ops.failed}/${r.ops.unknown} avail ${pct(r.availability)}` +
    (f.servingMs.length > 0 ? ` failover ${f.servingMs.map((x) => ms(x)).join(",")}` : "") +
    ` ${r.check.verdict} wall ${(wallMs / 1000).toFixed(2)} s\n`
  );
}

function formatRaftFailures(r: RaftScenarioResult): string {
  const lines = r.failures.slice(0, 5).map((f) => {
    const text = f.message.split("\n").slice(0, 14).join("\n    ");
    return `  ${f.kind}: ${text}`;
  });
  const more = r.failures.length > 5 ? `\n  ... ${r.failures.length - 5} more` : "";
  return `seed=${r.options.seed} failed (trace ${r.trace}):\n${lines.join("\n")}${more}\n`;
}

function formatRaftSummary(s: RaftSummary, wallMs: number): string {
  const o = s.ops;
  const t = s.electionTimeoutMs;
  const lines = [
    `runs          ${s.runs} (${ms(s.virtualMs)} virtual, ${(wallMs / 1000).toFixed(1)} s wall), ${s.failedSeeds.length} failed`,
    `operations    ${o.total}: ok ${o.ok} (reads ${o.readsOk}, writes ${o.writesOk}), failed ${o.failed}, unknown ${o.unknown}; availability ${pct(o.total === 0 ? 1 : o.ok / o.total)}`,
    `latency       per-run p99: median ${ms1(percentile(s.latencyP99Ms, 0.5))}, max ${ms1(s.latencyP99Ms.reduce((a, b) => Math.max(a, b), 0))}`,
    `faults        ${kinds(s.faultsByKind())}`,
    `  by shape    ${kinds(s.faults)}`,
    `failover      ${s.leaderCrashes} leader crashes; new leader serving writes: ${spread(s.servingMs)}`,
    `  elected     ${spread(s.electedMs)}; election timeout ${ms(t)}–${ms(2 * t)}`,
    `liveness      slowest write after heal ${ms(s.livenessWriteMsMax)}, slowest convergence ${ms(s.livenessConvergeMsMax)}`,
    `history       ${kinds(s.verdicts)}; ${s.snapshotsInstalled} snapshots installed, ${s.tornWrites} torn writes`,
    "availability by fault set:",
    ...[...s.byFaults]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(
        ([set, g]) =>
          `  ${set.padEnd(24)} ${pct(g.total === 0 ? 1 : g.ok / g.total)} of ${g.total} operations (${g.runs} runs)`,
      ),
  ];
  if (s.failedSeeds.length > 0) {
    lines.push("failures:");
    for (const f of s.failedSeeds.slice(0, 50)) {
      const first = f.failures[0];
      lines.push(
        `  seed=${f.seed} trace=${f.trace} ${first?.kind}: ${first?.message.split("\n")[0]}`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

function ms(x: number): string {
  return x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${Math.round(x)} ms`;
}

export function formatResult(r: ScenarioResult, wallMs: number): string {
  const o = r.options;
  const d = r.detection;
  const s = r.dissemination;
  const f = r.falsePositives;
  const rows: [string, string][] = [
    [
      "scenario",
      `nodes=${o.nodes} seed=${o.seed} preset=${o.preset} lifeguard=${o.lifeguard ? "on" : "off"} faults=${o.faults.join(",") || "none"}`,
    ],
    [
      "time",
      `formed in ${ms(r.formedMs)}, ${ms(r.virtualMs)} virtual, ${(wallMs / 1000).toFixed(2)} s wall, ${r.eventsRun} events`,
    ],
    [
      "detection",
      d.crashes === 0
        ? "no crashes"
        : `${d.crashes} crashes, ${d.samples} observers: mean ${ms(d.meanMs)}, p99 ${ms(d.p99Ms)}, max ${ms(d.maxMs)}; bound ${ms(d.boundMs)}; undetected ${d.undetected}`,
    ],
    [
      "dissemination",
      s.samples === 0
        ? `no complete update (${s.incomplete} incomplete)`
        : `${s.samples} updates: mean ${ms(s.meanMs)} (${s.meanRounds.toFixed(1)} rounds), max ${ms(s.maxMs)} (${s.maxRounds.toFixed(1)} rounds); ln N ${Math.log(o.nodes).toFixed(1)}, bound ${s.boundRounds} rounds`,
    ],
    [
      "false positives",
      `${f.healthyDeclaredDead} healthy members declared dead (${f.declarations} declarations), ${f.suspicions} suspicions; ${f.troubledDeclaredDead} paused/slow members declared dead`,
    ],
    [
      "traffic",
      `${r.traffic.msgsPerMemberPerS.toFixed(2)} msgs and ${Math.round(r.traffic.bytesPerMemberPerS)} bytes per member per second`,
    ],
    ["trace", r.trace],
    ["result", r.failures.length === 0 ? "ok" : `${r.failures.length} failures`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return `${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n")}\n`;
}

function formatLine(r: ScenarioResult, wallMs: number): string {
  const d = r.detection;
  return (
    `seed=${r.options.seed} trace=${r.trace} ${r.failures.length === 0 ? "ok" : "FAIL"}` +
    ` detect mean ${ms(d.meanMs)} p99 ${ms(d.p99Ms)} (bound ${ms(d.boundMs)})` +
    ` fp ${r.falsePositives.healthyDeclaredDead} (${r.falsePositives.declarations} decl,` +
    ` troubled ${r.falsePositives.troubledDeclaredDead},` +
    ` ${r.falsePositives.suspicions} susp) wall ${(wallMs / 1000).toFixed(2)} s\n`
  );
}

function formatFailures(r: ScenarioResult): string {
  const lines = r.failures.slice(0, 20).map((f) => `  ${f.kind}: ${f.message.split("\n")[0]}`);
  const more = r.failures.length > 20 ? `\n  ... ${r.failures.length - 20} more` : "";
  return `seed=${r.options.seed} failed (trace ${r.trace}):\n${lines.join("\n")}${more}\n`;
}

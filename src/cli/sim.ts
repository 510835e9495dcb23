import { type Command, InvalidArgumentError } from "commander";
import {
  type FaultKind,
  faultKinds,
  runMembershipScenario,
  type ScenarioOptions,
  type ScenarioResult,
  scenarioDefaults,
} from "../sim/membership-scenario.js";

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

// Throughput benchmark: redis-benchmark (SET and GET, unpipelined and pipelined)
// against redis-server without persistence, redis-server with appendfsync always,
// and a Homeostat node (which acknowledges writes only after fsync), alternating
// targets over several rounds and reporting the median requests/s of each. Then, when
// etcd is installed, the cluster section (scripts/bench-cluster.ts): a 3-node Homeostat
// cluster against a 3-member etcd cluster, durable writes/s with p50 and p99, and
// redis-benchmark against one cluster node. With --repair, last, the repair section
// (scripts/bench-repair.ts): time from a node's death to full replication restored in a
// 5-node cluster, against data size; off by default because it takes minutes.
//
//   npm run bench                       # build, then 5 rounds of ~2 s per test (2-3 minutes),
//                                       # then the cluster section (about 3 minutes)
//   node dist/scripts/bench.js --quick  # 1 short round
//   node dist/scripts/bench.js --repair-only
//   node dist/scripts/bench.js --help

import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import {
  type ClusterBenchOptions,
  defaultClusterBenchOptions,
  etcdMissing,
  runClusterBench,
} from "./bench-cluster.js";
import { defaultRepairBenchOptions, runRepairBench } from "./bench-repair.js";
import { intArg } from "./lib/options.js";
import { interrupted, repoRoot, run, runMain, which } from "./lib/proc.js";
import { median } from "./lib/stats.js";
import {
  homeostatCli,
  type RunningServer,
  redisVersion,
  startHomeostat,
  startRedis,
} from "./lib/targets.js";

const TARGETS = ["redis", "redis-aof-always", "homeostat"] as const;
type TargetName = (typeof TARGETS)[number];

const HELP = `Usage: node dist/scripts/bench.js [options]

Runs redis-benchmark -c C -n N -t set,get,hset -q --csv (and with -P 16) against
redis-server (no persistence), redis-server (appendonly, appendfsync always) and a
Homeostat node, alternating targets over several rounds; prints the median
requests/s per test and target, the ratios Homeostat/Redis and each server's peak RSS.

Options:
  --rounds R               rounds (default 5)
  --seconds S              aim each redis-benchmark test at about S seconds (default 2):
                           -n comes from the median rate seen so far for that target
                           and pipeline depth, starting with an uncounted warm-up run
  --requests N             fixed -n for unpipelined tests instead (no calibration)
  --pipelined-requests N   fixed -n for pipelined tests instead (default 10 x --requests)
  --pipeline P             pipeline depth of the pipelined tests (default 16)
  --clients C              parallel connections (default 50)
  --quick                  1 round of about 1 s per test
  --targets a,b            subset of ${TARGETS.join(",")} (default: all; homeostat is left
                           out with a warning when dist/src/cli/main.js is missing)
  --run-timeout S          give up on one redis-benchmark run after S seconds (default 90)
  --json FILE              also write the results as JSON (default .cache/bench-last.json)
  --skip-cluster           leave out the cluster section
  --cluster-only           run only the cluster section: a 3-node Homeostat cluster against
                           a 3-member etcd cluster, durable writes/s, p50, p99 at 1, 50
                           and 200 clients (10 s each; 3 s with --quick), then redis-benchmark
                           against one cluster node and redis-server (appendfsync always);
                           skipped with a message when etcd is not installed. More options:
                           node dist/scripts/bench-cluster.js --help
  --repair                 after the other sections, the repair section (off by default: it
                           takes several minutes): 5 cluster nodes, 1, 16 and 64 MB of data,
                           one node SIGKILLed, time until every shard is back at 3 voters.
                           More options: node dist/scripts/bench-repair.js --help
  --repair-only            run only the repair section
  -h, --help               this text`;

interface Options {
  rounds: number;
  /** Fixed request counts, or undefined to calibrate from `seconds`. */
  requests?: number;
  pipelinedRequests?: number;
  seconds: number;
  pipeline: number;
  clients: number;
  targets: TargetName[];
  /** Targets named by --targets: failing to start one is an error, not a warning. */
  explicitTargets: boolean;
  runTimeoutS: number;
  jsonFile: string;
  /** The cluster section: after the single-node one, instead of it, or not at all. */
  cluster: "after" | "only" | "skip";
  /** The repair section: after every other section, instead of them, or not at all. */
  repair: "after" | "only" | "skip";
  quick: boolean;
}

function parseOptions(): Options | undefined {
  const { values } = parseArgs({
    options: {
      rounds: { type: "string" },
      seconds: { type: "string" },
      requests: { type: "string" },
      "pipelined-requests": { type: "string" },
      pipeline: { type: "string", default: "16" },
      clients: { type: "string", default: "50" },
      quick: { type: "boolean", default: false },
      targets: { type: "string" },
      "run-timeout": { type: "string", default: "90" },
      json: { type: "string" },
      "skip-cluster": { type: "boolean", default: false },
      "cluster-only": { type: "boolean", default: false },
      repair: { type: "boolean", default: false },
      "repair-only": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return undefined;
  }
  if (values["cluster-only"] && values["skip-cluster"]) {
    throw new Error("--cluster-only and --skip-cluster exclude each other");
  }
  if (values["repair-only"] && values["cluster-only"]) {
    throw new Error("--repair-only and --cluster-only exclude each other");
  }
  const rounds = intArg("--rounds", values.rounds ?? (values.quick ? "1" : "5"));
  const requests =
    values.requests === undefined ? undefined : intArg("--requests", values.requests);
  const pipelinedRequests =
    values["pipelined-requests"] !== undefined
      ? intArg("--pipelined-requests", values["pipelined-requests"])
      : requests === undefined
        ? undefined
        : requests * 10;
  const seconds = Number(values.seconds ?? (values.quick ? "1" : "2"));
  if (!(seconds > 0)) throw new Error(`--seconds must be > 0, not ${values.seconds}`);
  let targets: TargetName[];
  if (values.targets !== undefined) {
    targets = values.targets.split(",").map((t) => {
      const name = t.trim();
      if (!(TARGETS as readonly string[]).includes(name)) {
        throw new Error(`unknown target ${name}; known: ${TARGETS.join(", ")}`);
      }
      return name as TargetName;
    });
  } else {
    targets = [...TARGETS];
    if (!homeostatCli()) {
      process.stdout.write(
        "warning: dist/src/cli/main.js not found, benchmarking redis-server only\n",
      );
      targets = targets.filter((t) => t !== "homeostat");
    }
  }
  return {
    rounds,
    requests,
    pipelinedRequests,
    seconds,
    pipeline: intArg("--pipeline", values.pipeline),
    clients: intArg("--clients", values.clients),
    targets,
    explicitTargets: values.targets !== undefined,
    runTimeoutS: intArg("--run-timeout", values["run-timeout"]),
    jsonFile: values.json ?? path.join(repoRoot(), ".cache", "bench-last.json"),
    cluster: values["cluster-only"] ? "only" : values["skip-cluster"] ? "skip" : "after",
    repair: values["repair-only"] ? "only" : values.repair ? "after" : "skip",
    quick: values.quick,
  };
}

/** One redis-benchmark test row, e.g. "SET" at pipeline 16. */
interface Case {
  test: (typeof TESTS)[number];
  pipeline: number;
}

/**
 * redis-benchmark's tests run. HSET writes one field of one hash (`myhash`, field
 * `element:000000000000` without -r): a hash command's cost beside SET's.
 */
const TESTS = ["SET", "GET", "HSET"] as const;

/** Warm-up size (times the pipeline depth when pipelined). */
const CALIBRATION_REQUESTS = 20_000;
const REQUESTS_MIN = 2_000;
/** Bounds a run's memory and time even if the calibration run was an outlier. */
const REQUESTS_MAX = 10_000_000;

function runBenchmark(s: RunningServer, opts: Options, pipeline: number, n: number) {
  const args = ["-h", s.host, "-p", String(s.port), "-c", String(opts.clients)];
  args.push("-n", String(n), "-t", TESTS.join(",").toLowerCase(), "-q", "--csv");
  if (pipeline > 1) args.push("-P", String(pipeline));
  return run("redis-benchmark", args, { timeoutMs: opts.runTimeoutS * 1000 });
}

function caseKey(c: Case): string {
  return c.pipeline === 1 ? c.test : `${c.test} -P ${c.pipeline}`;
}

/**
 * Targets from the issue: unpipelined ≥ 0.8 × Redis, pipelined ≥ 0.6 × Redis, for SET and
 * GET; HSET has none (reported for its ratio).
 */
function goalFor(c: Case): number | undefined {
  if (c.test === "HSET") return undefined;
  return c.pipeline === 1 ? 0.8 : 0.6;
}

interface MachineInfo {
  nproc: number;
  cpu: string;
  memGiB: number;
  kernel: string;
  node: string;
  redis: string;
  tmpdir: string;
}

async function machineInfo(): Promise<MachineInfo> {
  const cpus = os.cpus();
  return {
    nproc: os.availableParallelism(),
    cpu: cpus[0]?.model ?? "unknown",
    memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    redis: await redisVersion(),
    tmpdir: `${os.tmpdir()} (${await fsType(os.tmpdir())})`,
  };
}

/** File system type of a dir ("ext4", "tmpfs"...): fsync costs depend on it. */
async function fsType(dir: string): Promise<string> {
  const r = await run("df", ["--output=fstype", dir]).catch(() => undefined);
  return r?.stdout.split("\n")[1]?.trim() || "?";
}

/** Parses `redis-benchmark -q --csv`: "SET","84388.19",... → Map SET → 84388.19. */
function parseCsv(out: string): Map<string, number> {
  const rows = new Map<string, number>();
  for (const line of out.split("\n")) {
    const m = /^"([A-Z_]+)[^"]*","([\d.]+)"/.exec(line.trim());
    if (m) rows.set(m[1], Number(m[2]));
  }
  return rows;
}

async function startTarget(name: TargetName): Promise<RunningServer> {
  if (name === "redis") return startRedis("none");
  if (name === "redis-aof-always") return startRedis("aof-always");
  return startHomeostat();
}

async function main(): Promise<number> {
  const opts = parseOptions();
  if (!opts) return 0;
  // Needs neither redis-benchmark nor redis-server.
  if (opts.repair === "only") return repairSection();
  if (!(await which("redis-benchmark"))) {
    throw new Error("redis-benchmark not found: apt-get install -y redis-tools");
  }
  if (opts.targets.length === 0) throw new Error("no target to benchmark");
  const machine = await machineInfo();
  const w = (s: string) => process.stdout.write(`${s}\n`);
  w(
    `machine: ${machine.nproc} CPUs (${machine.cpu}), ${machine.memGiB} GiB, ${machine.kernel}; ` +
      `node ${machine.node}; redis-server ${machine.redis}; tmp ${machine.tmpdir}`,
  );
  if (opts.cluster === "only") return Math.max(await clusterSection(opts), await repairAfter(opts));
  w(
    `redis-benchmark -c ${opts.clients} -t ${TESTS.join(",").toLowerCase()}, unpipelined and -P ${opts.pipeline}, ` +
      `${opts.rounds} round(s); -n: ${
        opts.requests === undefined
          ? `calibrated to about ${opts.seconds} s per test`
          : `${opts.requests} unpipelined, ${opts.pipelinedRequests} pipelined`
      }`,
  );

  const servers = new Map<TargetName, RunningServer>();
  for (const name of [...opts.targets]) {
    try {
      const s = await startTarget(name);
      servers.set(name, s);
      w(`started ${name} (pid ${s.pid}) on ${s.host}:${s.port}`);
    } catch (err) {
      if (opts.explicitTargets || name !== "homeostat") throw err;
      w(`warning: homeostat did not start, benchmarking redis-server only:\n${String(err)}`);
      opts.targets = opts.targets.filter((t) => t !== name);
    }
  }

  const cases: Case[] = [
    ...TESTS.map((test) => ({ test, pipeline: 1 })),
    ...TESTS.map((test) => ({ test, pipeline: opts.pipeline })),
  ];
  const samples = new Map<string, number[]>(); // `${target}|${caseKey}` → rps per round
  const failures: string[] = [];
  const t0 = Date.now();
  // -n per target and pipeline depth (`${target}|${pipeline}`): fixed by options, or
  // re-derived before every run from the median rate seen so far (calibration run
  // included), so one slow or fast outlier does not make every later run too short.
  const fixedCounts = new Map<string, number>();
  const observed = new Map<string, number[]>(); // slower of SET/GET per run
  const requestsFor = (name: TargetName, pipeline: number): number => {
    const fixed = fixedCounts.get(`${name}|${pipeline}`);
    if (fixed !== undefined) return fixed;
    const rate = median(observed.get(`${name}|${pipeline}`) ?? []);
    if (!Number.isFinite(rate)) return REQUESTS_MIN;
    const n = Math.round((rate * opts.seconds) / 1000) * 1000;
    return Math.min(REQUESTS_MAX, Math.max(REQUESTS_MIN, n));
  };
  const observe = (name: TargetName, pipeline: number, rows: Map<string, number>) => {
    const slowest = Math.min(...(["SET", "GET"] as const).map((t) => rows.get(t) ?? Number.NaN));
    const key = `${name}|${pipeline}`;
    if (Number.isFinite(slowest)) observed.set(key, [...(observed.get(key) ?? []), slowest]);
    return slowest;
  };
  for (const name of opts.targets) {
    const s = servers.get(name);
    if (!s) continue;
    for (const pipeline of [1, opts.pipeline]) {
      const fixed = pipeline === 1 ? opts.requests : opts.pipelinedRequests;
      if (fixed !== undefined) {
        fixedCounts.set(`${name}|${pipeline}`, fixed);
        continue;
      }
      // Warm-up and first calibration; its figures are not counted.
      const n = pipeline === 1 ? CALIBRATION_REQUESTS : CALIBRATION_REQUESTS * pipeline;
      const r = await runBenchmark(s, opts, pipeline, n);
      if (interrupted()) return 130;
      const slowest = observe(name, pipeline, parseCsv(r.stdout));
      w(
        `  warm-up, ${name}, -P ${pipeline}, -n ${n}: ${fmtRps(slowest)} req/s -> -n ${requestsFor(name, pipeline)}`,
      );
    }
  }
  for (let round = 0; round < opts.rounds; round++) {
    // Rotate the order each round so no target always runs first (warm caches, CPU boost).
    const order = opts.targets.map((_, i) => opts.targets[(i + round) % opts.targets.length]);
    for (const name of order) {
      const s = servers.get(name);
      if (!s) continue;
      for (const pipeline of [1, opts.pipeline]) {
        const n = requestsFor(name, pipeline);
        const r = await runBenchmark(s, opts, pipeline, n);
        if (interrupted()) return 130;
        const rows = parseCsv(r.stdout);
        observe(name, pipeline, rows);
        const label = `round ${round + 1}, ${name}, -P ${pipeline}, -n ${n}`;
        if (r.timedOut || r.code !== 0 || rows.size === 0) {
          const why = r.timedOut ? `timed out after ${opts.runTimeoutS} s` : `exit ${r.code}`;
          failures.push(`${label}: ${why} ${r.stderr.trim().slice(0, 300)}`);
          w(`  ${label}: FAILED (${why})`);
        }
        const parts: string[] = [];
        for (const test of TESTS) {
          const key = `${name}|${caseKey({ test, pipeline })}`;
          const rps = rows.get(test) ?? Number.NaN;
          samples.set(key, [...(samples.get(key) ?? []), rps]);
          parts.push(`${test} ${fmtRps(rps)}`);
        }
        w(`  ${label}: ${parts.join(", ")}`);
        if (!s.process.isRunning()) {
          failures.push(`${name} exited during the benchmark (log: ${s.logFile})`);
          servers.delete(name);
          break;
        }
      }
    }
  }
  const elapsedS = Math.round((Date.now() - t0) / 1000);

  const peakRss = new Map<TargetName, number | undefined>();
  for (const [name, s] of servers) peakRss.set(name, s.peakRssKiB());
  for (const s of servers.values()) await s.stop();

  const med = (t: TargetName, c: Case) => median(samples.get(`${t}|${caseKey(c)}`) ?? []);
  printTable(opts, cases, med, (t, c) => samples.get(`${t}|${caseKey(c)}`) ?? [], elapsedS);
  w("");
  w("Peak RSS (VmHWM) during the run:");
  for (const name of opts.targets) {
    const kib = peakRss.get(name);
    w(`  ${name.padEnd(18)} ${kib === undefined ? "n/a" : `${(kib / 1024).toFixed(1)} MiB`}`);
  }
  if (failures.length > 0) {
    w("");
    w("Problems:");
    for (const f of failures) w(`  - ${f}`);
  }

  const json = {
    date: new Date().toISOString(),
    machine,
    options: opts,
    elapsedSeconds: elapsedS,
    results: opts.targets.map((t) => ({
      target: t,
      peakRssKiB: peakRss.get(t) ?? null,
      cases: cases.map((c) => ({
        case: caseKey(c),
        rpsPerRound: samples.get(`${t}|${caseKey(c)}`) ?? [],
        medianRps: med(t, c),
      })),
    })),
    failures,
  };
  mkdirSync(path.dirname(opts.jsonFile), { recursive: true });
  writeFileSync(opts.jsonFile, `${JSON.stringify(json, null, 2)}\n`);
  w(`\nResults (JSON): ${opts.jsonFile}`);
  let code = failures.length > 0 ? 1 : 0;
  if (opts.cluster !== "skip") {
    w("");
    code = Math.max(code, await clusterSection(opts));
  }
  return Math.max(code, await repairAfter(opts));
}

/** The repair section when --repair asked for it after the others; 0 otherwise. */
async function repairAfter(opts: Options): Promise<number> {
  if (opts.repair !== "after" || interrupted()) return 0;
  w0("");
  return repairSection();
}

/** The repair section (scripts/bench-repair.ts) with its default options. */
async function repairSection(): Promise<number> {
  w0("== Repair: time from a node's death to full replication restored, against data size ==");
  if (!homeostatCli()) {
    w0("repair section SKIPPED: dist/src/cli/main.js not found (npm run build)");
    return 0;
  }
  return runRepairBench(defaultRepairBenchOptions());
}

/** The cluster section (scripts/bench-cluster.ts), or a message saying why it is skipped. */
async function clusterSection(opts: Options): Promise<number> {
  w0("== Cluster: 3 Homeostat nodes against 3 etcd members, durable writes ==");
  if (!homeostatCli()) {
    w0("cluster section SKIPPED: dist/src/cli/main.js not found (npm run build)");
    return 0;
  }
  const missing = await etcdMissing();
  if (missing) {
    w0(`cluster section SKIPPED: ${missing}`);
    w0("(without etcd: node dist/scripts/bench-cluster.js --skip-etcd measures Homeostat alone)");
    return 0;
  }
  const clusterOpts: ClusterBenchOptions = defaultClusterBenchOptions(opts.quick);
  return runClusterBench(clusterOpts);
}

function w0(s: string): void {
  process.stdout.write(`${s}\n`);
}

function fmtRps(x: number): string {
  return Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "n/a";
}

/** "108,578 ±12%": the median and half the min-max range relative to it. */
function fmtCell(xs: number[]): string {
  const m = median(xs);
  const ok = xs.filter((x) => Number.isFinite(x));
  if (!Number.isFinite(m) || ok.length < 2) return fmtRps(m);
  const spread = (Math.max(...ok) - Math.min(...ok)) / 2 / m;
  return `${fmtRps(m)} ±${Math.round(spread * 100)}%`;
}

function fmtRatio(x: number, goal: number | undefined): string {
  if (!Number.isFinite(x)) return "n/a";
  if (goal === undefined) return `${x.toFixed(2)}x`;
  return `${x.toFixed(2)}x ${x >= goal ? "ok" : "LOW"}`;
}

function printTable(
  opts: Options,
  cases: Case[],
  med: (t: TargetName, c: Case) => number,
  samples: (t: TargetName, c: Case) => number[],
  elapsedS: number,
): void {
  const has = (t: TargetName) => opts.targets.includes(t);
  const header = ["test", ...opts.targets.map((t) => `${t} rps`)];
  const withRatios = has("homeostat") && (has("redis") || has("redis-aof-always"));
  if (withRatios) {
    if (has("redis")) header.push("homeostat/redis");
    if (has("redis-aof-always")) header.push("homeostat/aof-always");
    header.push("goal");
  }
  const rows: string[][] = [header];
  for (const c of cases) {
    const row = [caseKey(c), ...opts.targets.map((t) => fmtCell(samples(t, c)))];
    if (withRatios) {
      const h = med("homeostat", c);
      const goal = goalFor(c);
      if (has("redis")) row.push(fmtRatio(h / med("redis", c), goal));
      if (has("redis-aof-always")) row.push(fmtRatio(h / med("redis-aof-always", c), goal));
      row.push(goal === undefined ? "-" : `>= ${goal}x`);
    }
    rows.push(row);
  }
  const widths = header.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join("  ");
  process.stdout.write(
    `\nMedian requests/s over ${opts.rounds} round(s), ${opts.clients} clients (${elapsedS} s of benchmarking);\n` +
      "±: half the spread between the slowest and fastest round, relative to the median.\n",
  );
  process.stdout.write(`${line(rows[0])}\n${widths.map((n) => "-".repeat(n)).join("  ")}\n`);
  for (const r of rows.slice(1)) process.stdout.write(`${line(r)}\n`);
}

runMain(main);

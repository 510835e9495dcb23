// Cluster benchmark: durable writes/s and latency of a 3-node Homeostat cluster
// (`start --cluster`) against a 3-member etcd cluster (Debian's etcd-server), both on
// this machine and both acknowledging a write only after fsync, at the same client
// concurrency and value size; then redis-benchmark GET/SET against one node of the
// cluster (plain mode: the node forwards to each shard's leader) and against
// redis-server with appendfsync always.
//
//   npm run build && node dist/scripts/bench-cluster.js      # about 3 minutes
//   node dist/scripts/bench-cluster.js --quick              # short runs
//   node dist/scripts/bench-cluster.js --help
//
// `npm run bench` runs it after the single-node section (see scripts/bench.ts).

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { Cluster } from "ioredis";
import { type GroupRow, groupsOf, leadersOf, waitUntil } from "./lib/cluster-groups.js";
import { spawnClusterNodes, withLogTails } from "./lib/cluster-nodes.js";
import { type Floor, startFloor } from "./lib/floor.js";
import { intArg } from "./lib/options.js";
import {
  freePorts,
  interrupted,
  type ManagedProcess,
  makeTempDir,
  repoRoot,
  run,
  runMain,
  sleep,
  startProcess,
  waitForPong,
  which,
} from "./lib/proc.js";
import { median, percentileOfSorted } from "./lib/stats.js";
import { homeostatCli, type RunningServer, startRedis, tail } from "./lib/targets.js";

export interface ClusterBenchOptions {
  /** Closed-loop clients (requests in flight), one run per value. */
  concurrency: number[];
  /** Measured time per run, after `warmupSeconds` that are not counted. */
  seconds: number;
  /**
   * Times the whole schedule (every concurrency, every system) is run; the summary gives
   * each system's median over the rounds. This machine is shared: one system's writes/s
   * moves by up to 60% from one minute to the next, so one round can mislead.
   */
  rounds: number;
  warmupSeconds: number;
  /**
   * Uncounted writes at concurrency 50 to each system before the first run, so the runs
   * measure a warm server: V8 compiles the write path only after it has run many times.
   */
  primeSeconds: number;
  valueBytes: number;
  /** Keys written are key space `bench:0` .. `bench:<keys - 1>`, chosen at random. */
  keys: number;
  /** Shards of the Homeostat cluster (the node's default is 16). */
  shards: number;
  /** redis-benchmark -n and -c. */
  requests: number;
  clients: number;
  /** Skip the etcd comparison (also skipped, with a message, when etcd is missing). */
  skipEtcd: boolean;
  /**
   * Also measure the floor (scripts/lib/floor.ts): three processes doing only the hops and
   * syncs of a replicated write, what this machine allows any system written in Node.
   */
  floor: boolean;
  /** Skip the redis-benchmark part. */
  skipRedisBenchmark: boolean;
  /** Keep the data dirs and logs of both clusters (their paths are printed). */
  keepDirs: boolean;
  /**
   * Node's own flags for each Homeostat node, e.g. `--cpu-prof --cpu-prof-dir D`: a CPU
   * profile of each node, written when it stops (with --keep-dirs, where to find them).
   */
  nodeFlags: string[];
  jsonFile: string;
}

export function defaultClusterBenchOptions(quick = false): ClusterBenchOptions {
  return {
    concurrency: [1, 50, 200],
    seconds: quick ? 3 : 10,
    rounds: 1,
    warmupSeconds: quick ? 1 : 2,
    primeSeconds: quick ? 2 : 20,
    valueBytes: 100,
    keys: 100_000,
    shards: 16,
    requests: quick ? 20_000 : 100_000,
    clients: 50,
    skipEtcd: false,
    floor: false,
    skipRedisBenchmark: false,
    keepDirs: false,
    nodeFlags: [],
    jsonFile: path.join(repoRoot(), ".cache", "bench-cluster-last.json"),
  };
}

const HELP = `Usage: node dist/scripts/bench-cluster.js [options]

Starts a 3-node Homeostat cluster (--cluster) and a 3-member etcd cluster on free
ports, both durable (fsync before the reply), and for each concurrency runs closed-loop
clients writing values of the same size for a fixed time: writes/s, p50 and p99 of each
and the ratio Homeostat/etcd. Then redis-benchmark -t set,get against one cluster node
and against redis-server (appendonly yes, appendfsync always).

Options:
  --concurrency a,b,c   clients in flight, one run each (default 1,50,200)
  --seconds S           measured seconds per run (default 10)
  --rounds N            run the whole schedule N times, systems interleaved; the
                        summary gives medians over the rounds (default 1)
  --warmup S            uncounted seconds before each run (default 2)
  --prime S             uncounted seconds of writes at concurrency 50 to each system
                        before the first run, so both are measured warm (default 20)
  --value-bytes B       value size (default 100)
  --keys K              distinct keys written, at random (default 100000)
  --shards N            shards of the Homeostat cluster (default 16)
  --requests N          redis-benchmark -n (default 100000)
  --clients C           redis-benchmark -c (default 50)
  --skip-etcd           only Homeostat in the write runs
  --floor               also the floor: 3 processes doing only a replicated write's hops
                        and syncs (no raft, no key space), what the machine allows
  --skip-redis-benchmark
  --keep-dirs           keep both clusters' data dirs and logs (paths printed)
  --node-flags="F..."   Node's own flags for each Homeostat node (with "=": they start
                        with dashes), e.g. --node-flags="--cpu-prof --cpu-prof-dir
                        /tmp/prof" (a V8 profile per node, written as it stops)
  --quick               3 s runs after 1 s of warm-up, redis-benchmark -n 20000
  --json FILE           results as JSON (default .cache/bench-cluster-last.json)
  -h, --help            this text`;

const HOST = "127.0.0.1";
const MEMBERS = 3;
const w = (s: string) => process.stdout.write(`${s}\n`);

// ---------------------------------------------------------------------------
// Processes

interface Member {
  readonly label: string;
  /** Homeostat: the Redis port; etcd: the client (HTTP/gRPC) port. */
  readonly port: number;
  readonly proc: ManagedProcess;
  readonly logFile: string;
}

interface Group {
  readonly members: Member[];
  /**
   * Homeostat: starts the members at `indices` again on their data dirs and ports (what a
   * supervisor does for a node that exited); resolves once every shard is back at 3 voters.
   */
  restart?(indices: number[]): Promise<void>;
  /** Stops every member. */
  stop(): Promise<void>;
}

function groupOf(members: Member[], graceMs: number): Group {
  return {
    members,
    stop: async () => {
      await Promise.all(members.map((m) => m.proc.stop(graceMs)));
    },
  };
}

/**
 * A 3-member etcd cluster on 127.0.0.1 with free client and peer ports, data under a temp
 * dir (removed at clean-up), default durability (the WAL is fsynced before a reply).
 */
async function startEtcd(etcdBin: string, keep: boolean): Promise<Group> {
  const base = makeTempDir("homeostat-bench-etcd", keep);
  if (keep) w(`  etcd: data and logs in ${base} (kept)`);
  const ports = await freePorts(2 * MEMBERS, HOST);
  const clientPort = (i: number) => ports[i];
  const peerPort = (i: number) => ports[MEMBERS + i];
  const names = Array.from({ length: MEMBERS }, (_, i) => `m${i + 1}`);
  const initialCluster = names.map((n, i) => `${n}=http://${HOST}:${peerPort(i)}`).join(",");
  const members: Member[] = [];
  for (let i = 0; i < MEMBERS; i++) {
    const logFile = path.join(base, `${names[i]}.log`);
    const args = [
      "--name",
      names[i],
      "--data-dir",
      path.join(base, names[i]),
      "--listen-client-urls",
      `http://${HOST}:${clientPort(i)}`,
      "--advertise-client-urls",
      `http://${HOST}:${clientPort(i)}`,
      "--listen-peer-urls",
      `http://${HOST}:${peerPort(i)}`,
      "--initial-advertise-peer-urls",
      `http://${HOST}:${peerPort(i)}`,
      "--initial-cluster",
      initialCluster,
      "--initial-cluster-state",
      "new",
      "--initial-cluster-token",
      `bench-${process.pid}`,
      "--logger",
      "zap",
    ];
    const proc = startProcess(`etcd ${names[i]}`, etcdBin, args, { logFile });
    members.push({ label: names[i], port: clientPort(i), proc, logFile });
  }
  try {
    const deadline = Date.now() + 30_000;
    for (const m of members) {
      for (;;) {
        if (!m.proc.isRunning()) throw new Error(`etcd ${m.label} exited`);
        if (Date.now() > deadline) throw new Error("etcd members not healthy within 30 s");
        const r = await fetch(`http://${HOST}:${m.port}/health`).catch(() => undefined);
        const body = r ? await r.text().catch(() => "") : "";
        if (/"health"\s*:\s*"true"/.test(body)) break;
        await sleep(200);
      }
    }
  } catch (err) {
    await Promise.all(members.map((m) => m.proc.stop(2000)));
    throw withLogTails("etcd did not start", err, members);
  }
  return groupOf(members, 5000);
}

/**
 * A 3-node Homeostat cluster: the first node creates it (`--cluster --shards N`), the
 * others `--join` it; each node has its own data dir and explicit free Redis and bus
 * ports. Ready once every shard has a leader with 3 voters and no learner.
 */
async function startHomeostatCluster(cli: string, opts: ClusterBenchOptions): Promise<Group> {
  const { shards, keepDirs: keep, nodeFlags } = opts;
  const base = makeTempDir("homeostat-bench-cluster", keep);
  if (keep) w(`  homeostat: data and logs in ${base} (kept)`);
  const members: Member[] = [];
  const placed = async () => {
    const led = await ledGroups(members);
    return (
      led.length === shards &&
      led.every((g) => g.voters.length === MEMBERS && g.learners.length === 0)
    );
  };
  const spawned = await spawnClusterNodes({
    cli,
    base,
    host: HOST,
    count: MEMBERS,
    shards,
    nodeFlags,
  });
  for (const n of spawned)
    members.push({ label: n.label, port: n.port, proc: n.proc, logFile: n.logFile });
  try {
    const t0 = Date.now();
    await waitUntil("every shard at 3 voters with no learner", 120_000, members, placed);
    w(`  homeostat: every shard placed on 3 voters after ${secs(Date.now() - t0)}`);
    // The controller then spreads leaders; moving them during a run would cost elections.
    const spread = await waitUntil("shard leaders spread", 30_000, members, async () => {
      const c = [...leaderCounts(await ledGroups(members)).values()];
      return c.length === MEMBERS && Math.max(...c) - Math.min(...c) <= 1;
    }).then(
      () => true,
      () => false,
    );
    const counts = leaderCounts(await ledGroups(members));
    const byNode = [...counts.entries()].map(([id, n]) => `raft id ${id}: ${n}`).join(", ");
    w(`  homeostat: shard leaders ${spread ? "" : "NOT evenly "}spread (${byNode})`);
  } catch (err) {
    await Promise.all(members.map((m) => m.proc.stop(2000)));
    throw withLogTails("the Homeostat cluster did not form", err, members);
  }
  const restarts = new Map<number, number>();
  const restart = async (indices: number[]) => {
    for (const i of indices) {
      const n = (restarts.get(i) ?? 0) + 1;
      restarts.set(i, n);
      const label = `n${i + 1}`;
      const logFile = path.join(base, `${label}.restart${n}.log`);
      // --shards only matters when the first node creates the cluster: every node rejoins
      // through the others.
      const seeds = spawned.filter((_, j) => j !== i).map((m) => `${HOST}:${m.port}`);
      const args = [...(spawned[i]?.args ?? []), "--join", seeds.join(",")];
      const proc = startProcess(`homeostat ${label} (restart ${n})`, process.execPath, args, {
        logFile,
        cwd: repoRoot(),
      });
      members[i] = { label, port: members[i].port, proc, logFile };
    }
    for (const i of indices) await waitForPong(HOST, members[i].port, 30_000, members[i].proc);
    await waitUntil("every shard back at 3 voters", 90_000, members, placed);
  };
  return { ...groupOf(members, 10_000), restart };
}

/** Each shard as its leader reports it. */
async function ledGroups(members: Member[]): Promise<GroupRow[]> {
  const rows: GroupRow[] = [];
  for (const m of members) rows.push(...(await groupsOf(HOST, m.port)));
  return [...leadersOf(rows).values()].filter((g) => g.group !== 0);
}

function leaderCounts(groups: GroupRow[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const g of groups) counts.set(g.lead, (counts.get(g.lead) ?? 0) + 1);
  return counts;
}

/** ": <msg>: <error>" of the first fatal (pino level 60) line of a node's JSON log, or "". */
function firstFatal(logFile: string): string {
  let text = "";
  try {
    text = readFileSync(logFile, "utf8");
  } catch {
    return "";
  }
  for (const line of text.split("\n")) {
    if (!line.includes('"level":60')) continue;
    try {
      const rec = JSON.parse(line) as { msg?: string; err?: { message?: string } };
      return `: ${rec.msg ?? ""}: ${(rec.err?.message ?? "").split("\n")[0]}`;
    } catch {
      return `: ${line.slice(0, 300)}`;
    }
  }
  return "";
}

/** CPU seconds (user + system) a process used so far, from /proc/PID/stat. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // After ")": state is field 3, utime 14 and stime 15 (1-based) → indexes 11 and 12.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

// ---------------------------------------------------------------------------
// Load

type SystemName = "homeostat" | "etcd" | "floor";

/** The floor's replicas as a Group, so a run checks them as it checks the clusters. */
function floorGroup(floor: Floor): Group {
  const members = floor.procs.map((proc, i) => ({
    label: `r${i + 1}`,
    port: 0,
    proc,
    logFile: floor.logFiles[i] as string,
  }));
  return { members, stop: () => floor.stop() };
}

/** One write; rejects on any failure. `worker` is 0..concurrency-1. */
type WriteOp = (worker: number, key: string) => Promise<void>;

interface RunResult {
  system: string;
  /** Index of the run's concurrency in the options' list. */
  step: number;
  /** Which round of the schedule (0 when there is one). */
  round?: number;
  concurrency: number;
  seconds: number;
  writes: number;
  writesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Failed writes by first word of the error, e.g. "TRYAGAIN", "HTTP-503". */
  errors: Record<string, number>;
  /** The first message seen for each of those words. */
  errorSamples: Record<string, string>;
  /** Homeostat: errors ioredis retried by itself (MOVED, TRYAGAIN...), by first word. */
  ioredisRetries?: Record<string, number>;
  /** Servers' CPU use during the measured window, in cores (2 = both CPUs busy). */
  serverCores: number;
  /** This process's (the clients') CPU use during the measured window, in cores. */
  clientCores: number;
}

/**
 * `concurrency` closed loops of `op` for warm-up + measured time. A write counts when it
 * completes inside the measured window; its latency is start to completion.
 */
async function closedLoop(
  system: string,
  step: number,
  concurrency: number,
  opts: ClusterBenchOptions,
  op: WriteOp,
  serverPids: number[],
): Promise<RunResult> {
  const latencies: number[] = [];
  const errors = new Map<string, number>();
  const errorSamples = new Map<string, string>();
  const t0 = performance.now();
  const measureFrom = t0 + opts.warmupSeconds * 1000;
  const measureTo = measureFrom + opts.seconds * 1000;
  // CPU seconds of the servers and of this process at the window's start and end.
  const cpuNow = () => {
    const u = process.cpuUsage();
    return {
      at: performance.now(),
      server: serverPids.reduce((s, pid) => s + cpuSeconds(pid), 0),
      client: (u.user + u.system) / 1e6,
    };
  };
  let cpuAtStart: ReturnType<typeof cpuNow> | undefined;
  let cpuAtEnd: ReturnType<typeof cpuNow> | undefined;
  const startSampler = setTimeout(() => {
    cpuAtStart = cpuNow();
  }, measureFrom - t0);
  const endSampler = setTimeout(() => {
    cpuAtEnd = cpuNow();
  }, measureTo - t0);
  const loop = async (worker: number) => {
    for (;;) {
      const start = performance.now();
      if (start >= measureTo || interrupted()) return;
      const key = `bench:${Math.floor(Math.random() * opts.keys)}`;
      try {
        await op(worker, key);
        const end = performance.now();
        if (end >= measureFrom && end < measureTo) latencies.push(end - start);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        const word = message.split(/[\s:]/)[0] || "?";
        errors.set(word, (errors.get(word) ?? 0) + 1);
        if (!errorSamples.has(word)) errorSamples.set(word, message.slice(0, 200));
        await sleep(10);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => loop(i)));
  clearTimeout(startSampler);
  clearTimeout(endSampler);
  // The last writes can finish before the end timer fires: sample now then.
  cpuAtEnd ??= cpuNow();
  const cores = (field: "server" | "client") =>
    cpuAtStart && cpuAtEnd
      ? (cpuAtEnd[field] - cpuAtStart[field]) / ((cpuAtEnd.at - cpuAtStart.at) / 1000)
      : Number.NaN;
  const sorted = Float64Array.from(latencies).sort();
  return {
    system,
    step,
    concurrency,
    seconds: opts.seconds,
    writes: latencies.length,
    writesPerSecond: latencies.length / opts.seconds,
    p50Ms: percentileOfSorted(sorted, 0.5),
    p99Ms: percentileOfSorted(sorted, 0.99),
    maxMs: sorted.length > 0 ? sorted[sorted.length - 1] : Number.NaN,
    errors: Object.fromEntries(errors),
    errorSamples: Object.fromEntries(errorSamples),
    serverCores: cores("server"),
    clientCores: cores("client"),
  };
}

/** A printable value of `bytes` ASCII characters (neither side compresses values). */
function makeValue(bytes: number): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  let s = "";
  for (let i = 0; i < bytes; i++) s += alphabet[Math.floor(Math.random() * alphabet.length)];
  return s;
}

/**
 * etcd through its JSON gRPC gateway: POST /v3/kv/put with base64 key and value over
 * node:http with keep-alive connections (HTTP/1.1: one request in flight per connection,
 * so one connection per worker); worker i talks to member i mod 3, and followers forward
 * the proposal to the leader. node:http rather than fetch: measured here, fetch (undici)
 * spent 0.6-1 ms of client CPU per request against 0.1-0.25 ms, CPU the etcd members
 * would lose on a 2-CPU machine.
 */
function etcdWriter(etcd: Group, value: string): { write: WriteOp; close(): void } {
  const agents = etcd.members.map(
    () => new http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY }),
  );
  const value64 = Buffer.from(value).toString("base64");
  const write: WriteOp = (worker, key) =>
    new Promise<void>((resolve, reject) => {
      const i = worker % etcd.members.length;
      const body = `{"key":"${Buffer.from(key).toString("base64")}","value":"${value64}"}`;
      const req = http.request(
        {
          host: HOST,
          port: etcd.members[i].port,
          path: "/v3/kv/put",
          method: "POST",
          agent: agents[i],
          headers: { "content-type": "application/json", "content-length": body.length },
        },
        (res) => {
          let reply = "";
          res.setEncoding("utf8");
          res.on("data", (d: string) => {
            reply += d;
          });
          res.on("error", reject);
          res.on("end", () => {
            if (res.statusCode !== 200) {
              reject(new Error(`HTTP-${res.statusCode} ${reply.slice(0, 200)}`));
            } else if (!reply.includes('"header"')) {
              reject(new Error(`BADREPLY ${reply.slice(0, 200)}`));
            } else {
              resolve();
            }
          });
        },
      );
      req.setTimeout(10_000, () => req.destroy(new Error("TIMEOUT no reply in 10 s")));
      req.on("error", reject);
      req.end(body);
    });
  return {
    write,
    close: () => {
      for (const a of agents) a.destroy();
    },
  };
}

/** Cluster errors ioredis handled, by first word (it retries MOVED, TRYAGAIN... by itself). */
type Redirections = Map<string, number>;

/**
 * ioredis in cluster mode over the 3 nodes: it learns the slot map (CLUSTER SLOTS) and
 * sends each SET to its shard's leader over one connection per node, pipelining the
 * commands of concurrent workers.
 */
async function homeostatClient(cluster: Group): Promise<{ client: Cluster; seen: Redirections }> {
  const client = new Cluster(
    cluster.members.map((m) => ({ host: HOST, port: m.port })),
    { scaleReads: "master", redisOptions: { connectTimeout: 5000 } },
  );
  client.on("error", () => {});
  const seen: Redirections = new Map();
  // Count the errors ioredis redirects or retries on (not exposed by its API).
  const c = client as unknown as {
    handleError: (error: Error, ttl: unknown, handlers: unknown) => void;
  };
  const handleError = c.handleError.bind(client);
  c.handleError = (error, ttl, handlers) => {
    const word = error.message.split(" ")[0] ?? "?";
    seen.set(word, (seen.get(word) ?? 0) + 1);
    handleError(error, ttl, handlers);
  };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("ioredis cluster not ready in 15 s")), 15_000);
    client.once("ready", () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return { client, seen };
}

// ---------------------------------------------------------------------------
// redis-benchmark part

interface RedisBenchmarkResult {
  target: string;
  set: number;
  get: number;
  error?: string;
}

async function redisBenchmark(
  target: string,
  port: number,
  opts: ClusterBenchOptions,
): Promise<RedisBenchmarkResult> {
  // -r spreads keys over the key space (and so over the shards); without it every SET
  // hits the one key "key:__rand_int__", i.e. one shard.
  const args = ["-h", HOST, "-p", String(port), "-t", "set,get", "-n", String(opts.requests)];
  args.push("-c", String(opts.clients), "-r", String(opts.keys), "-q", "--csv");
  const r = await run("redis-benchmark", args, { timeoutMs: 180_000 });
  const rows = new Map<string, number>();
  for (const line of r.stdout.split("\n")) {
    const m = /^"([A-Z_]+)[^"]*","([\d.]+)"/.exec(line.trim());
    if (m) rows.set(m[1], Number(m[2]));
  }
  const bad = r.timedOut || r.code !== 0 || rows.size < 2;
  return {
    target,
    set: rows.get("SET") ?? Number.NaN,
    get: rows.get("GET") ?? Number.NaN,
    error: bad
      ? `${r.timedOut ? "timed out" : `exit ${r.code}`} ${r.stderr.trim().slice(0, 300)}`
      : undefined,
  };
}

// ---------------------------------------------------------------------------
// Main

/** Why the etcd comparison cannot run here, or undefined when it can. */
export async function etcdMissing(): Promise<string | undefined> {
  return (await which("etcd"))
    ? undefined
    : "etcd not found (Debian: apt-get install -y etcd-server)";
}

/**
 * Runs the cluster benchmark and prints its tables. Everything it starts is stopped and
 * its temp dirs removed at the end (and by the clean-up of lib/proc.ts on error or signal).
 * Returns 0, or 1 when a run failed.
 */
export async function runClusterBench(opts: ClusterBenchOptions): Promise<number> {
  const cli = homeostatCli();
  if (!cli) throw new Error("dist/src/cli/main.js not found: run `npm run build`");
  const problems: string[] = [];
  let etcdBin: string | undefined;
  if (!opts.skipEtcd) {
    const missing = await etcdMissing();
    if (missing) w(`etcd comparison SKIPPED: ${missing}`);
    else etcdBin = await which("etcd");
  }
  const etcdVersion = etcdBin
    ? ((await run(etcdBin, ["--version"])).stdout.split("\n")[0] ?? "").replace(/^etcd /, "")
    : "";
  w(
    `cluster: 3 Homeostat nodes (--cluster, ${opts.shards} shards, 3 replicas each)` +
      (etcdBin ? ` against 3 etcd members (${etcdVersion})` : "") +
      `, all on ${HOST}; SET of ${opts.valueBytes}-byte values over ${opts.keys} keys; ` +
      `concurrency ${opts.concurrency.join(", ")}; ${opts.seconds} s per run after ` +
      `${opts.warmupSeconds} s of warm-up, each system primed for ${opts.primeSeconds} s first`,
  );
  const t0 = Date.now();
  const etcd = etcdBin ? await startEtcd(etcdBin, opts.keepDirs) : undefined;
  if (etcd)
    w(`  etcd: 3 members healthy on client ports ${etcd.members.map((m) => m.port).join(", ")}`);
  const homeostat = await startHomeostatCluster(cli, opts);
  w(`  homeostat: nodes on ports ${homeostat.members.map((m) => m.port).join(", ")}`);

  // What each cluster costs doing nothing (heartbeats, ticks), since both stay up
  // while the other is measured.
  const idle = async (g: Group) => {
    const pids = g.members.map((m) => m.proc.pid);
    const before = pids.reduce((s, pid) => s + cpuSeconds(pid), 0);
    await sleep(2000);
    return (pids.reduce((s, pid) => s + cpuSeconds(pid), 0) - before) / 2;
  };
  const idleCores = { homeostat: await idle(homeostat), etcd: etcd ? await idle(etcd) : 0 };
  w(
    `  idle CPU: homeostat ${idleCores.homeostat.toFixed(2)} cores` +
      (etcd ? `, etcd ${idleCores.etcd.toFixed(2)} cores` : ""),
  );
  const value = makeValue(opts.valueBytes);
  const { client, seen } = await homeostatClient(homeostat);
  const homeostatWrite: WriteOp = async (_worker, key) => {
    await client.set(key, value);
  };
  const etcdClient = etcd ? etcdWriter(etcd, value) : undefined;
  const results: RunResult[] = [];
  const pids = (g: Group) => g.members.map((m) => m.proc.pid);
  // Each system measured: how to write to it and its processes.
  const floor = opts.floor ? await startFloor(value) : undefined;
  if (floor) w(`  floor: 3 replicas, pids ${floor.procs.map((p) => p.pid).join(", ")}`);
  const systems = new Map<SystemName, { write: WriteOp; group: Group }>();
  systems.set("homeostat", { write: homeostatWrite, group: homeostat });
  if (etcd && etcdClient) systems.set("etcd", { write: etcdClient.write, group: etcd });
  if (floor)
    systems.set("floor", { write: (_worker, key) => floor.write(key), group: floorGroup(floor) });
  const runOne = async (system: SystemName, step: number, concurrency: number, round: number) => {
    const before = new Map(seen);
    const { write, group } = systems.get(system) as { write: WriteOp; group: Group };
    const r = await closedLoop(system, step, concurrency, opts, write, pids(group));
    r.round = round;
    results.push(r);
    let extra = "";
    if (system === "homeostat") {
      const delta: Record<string, number> = {};
      for (const [k, n] of seen)
        if (n - (before.get(k) ?? 0) > 0) delta[k] = n - (before.get(k) ?? 0);
      r.ioredisRetries = delta;
      if (Object.keys(delta).length > 0)
        extra += `; errors ioredis handled (it retries MOVED, TRYAGAIN): ${fmtCounts(delta)}`;
    }
    if (Object.keys(r.errors).length > 0) extra += `; FAILED writes: ${fmtCounts(r.errors)}`;
    const label = opts.rounds > 1 ? `round ${round + 1} ` : "";
    w(
      `  ${label}${system.padEnd(9)} c=${String(concurrency).padEnd(3)} ${fmtInt(r.writesPerSecond).padStart(7)} writes/s` +
        `  p50 ${fmtMs(r.p50Ms)}  p99 ${fmtMs(r.p99Ms)}  max ${fmtMs(r.maxMs)}` +
        `  (CPU: servers ${fmtCores(r.serverCores)}, client ${fmtCores(r.clientCores)})${extra}`,
    );
    if (Object.keys(r.errors).length > 0) {
      const samples = Object.values(r.errorSamples).map((m) => `\n      e.g. ${m}`);
      problems.push(
        `${system} c=${concurrency}: failed writes ${fmtCounts(r.errors)}${samples.join("")}`,
      );
    }
    const dead: number[] = [];
    for (const [i, m] of group.members.entries()) {
      if (m.proc.isRunning()) continue;
      dead.push(i);
      const code = await m.proc.exited.catch(() => -1);
      const fatal = firstFatal(m.logFile);
      w(`  ${m.proc.name} EXITED with ${code} during this run${fatal}`);
      problems.push(
        `${m.proc.name} exited with ${code} during the ${system} c=${concurrency} run` +
          `${fatal}; end of its log (${m.logFile}):\n` +
          tail(m.logFile, 12)
            .split("\n")
            .map((l) => `      ${l.slice(0, 400)}`)
            .join("\n"),
      );
    }
    if (dead.length === 0) return true;
    if (!group.restart) return false;
    // As a supervisor would: start them again on their data, then go on with the next run.
    const t = Date.now();
    const labels = dead.map((i) => `n${i + 1}`).join(", ");
    try {
      await group.restart(dead);
      const again = `restarted ${labels} on their data: every shard has a leader again after ${secs(Date.now() - t)}`;
      w(`  ${again}`);
      problems.push(`${again} (later runs measure the restarted cluster)`);
      return true;
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      problems.push(`restarting ${labels} failed: ${why}`);
      return false;
    }
  };
  // Both systems warm before anything counts: a Node server at its first thousands of
  // writes still runs them interpreted or half-compiled (docs/benchmarks.md, "Warm
  // servers, the floor, and the garbage collector").
  if (opts.primeSeconds > 0) {
    const prime = { ...opts, warmupSeconds: 0, seconds: opts.primeSeconds };
    for (const [system, { write, group }] of systems) {
      const r = await closedLoop(system, -1, primeConcurrency, prime, write, pids(group));
      const failed = Object.keys(r.errors).length > 0 ? `, failed ${fmtCounts(r.errors)}` : "";
      w(
        `  primed ${system}: ${fmtInt(r.writesPerSecond)} writes/s at c=${primeConcurrency} ` +
          `for ${opts.primeSeconds} s, not counted${failed}`,
      );
      if (interrupted()) return 130;
    }
  }
  let alive = true;
  for (let round = 0; round < opts.rounds && alive; round++) {
    for (const [i, concurrency] of opts.concurrency.entries()) {
      // Alternate which system goes first, so neither always runs on a fresher machine.
      const names = [...systems.keys()];
      const order = (i + round) % 2 === 0 ? names.reverse() : names;
      for (const system of order) {
        alive = (await runOne(system, i, concurrency, round)) && alive;
        if (interrupted()) return 130;
      }
      if (!alive) break;
    }
  }
  client.disconnect();
  etcdClient?.close();
  await etcd?.stop();
  await floor?.stop();

  const rb: RedisBenchmarkResult[] = [];
  let durableRedis: RunningServer | undefined;
  if (!opts.skipRedisBenchmark && alive) {
    w(
      `  redis-benchmark -t set,get -n ${opts.requests} -c ${opts.clients} -r ${opts.keys} -q: ` +
        "cluster node n1 (plain mode, forwarding) and redis-server --appendfsync always",
    );
    durableRedis = await startRedis("aof-always");
    const targets: [string, number][] = [
      ["homeostat cluster (node n1)", homeostat.members[0].port],
      ["redis-server (aof always)", durableRedis.port],
    ];
    for (const [target, port] of targets) {
      // redis-benchmark stops at the first error reply (a TRYAGAIN from a failed forward,
      // say): such a run is reported and run once more.
      for (let attempt = 1; attempt <= 2; attempt++) {
        const r = await redisBenchmark(target, port, opts);
        const failed = r.error !== undefined;
        w(
          `  ${target.padEnd(28)} SET ${fmtInt(r.set).padStart(7)}/s  GET ${fmtInt(r.get).padStart(7)}/s` +
            (failed ? `  FAILED (${r.error})` : ""),
        );
        if (failed)
          problems.push(`redis-benchmark against ${target}, attempt ${attempt}: ${r.error}`);
        if (!failed || attempt === 2) {
          rb.push(r);
          break;
        }
      }
    }
    await durableRedis.stop();
  }
  await homeostat.stop();
  const elapsedS = Math.round((Date.now() - t0) / 1000);

  printSummary(opts, results, rb, elapsedS);
  if (problems.length > 0) {
    w("\nProblems:");
    for (const p of problems) w(`  - ${p}`);
  }
  const json = {
    date: new Date().toISOString(),
    options: opts,
    etcdVersion,
    elapsedSeconds: elapsedS,
    idleCores,
    writes: results,
    redisBenchmark: rb,
    problems,
  };
  mkdirSync(path.dirname(opts.jsonFile), { recursive: true });
  writeFileSync(opts.jsonFile, `${JSON.stringify(json, null, 2)}\n`);
  w(`\nResults (JSON): ${opts.jsonFile}`);
  return problems.length > 0 ? 1 : 0;
}

/** Clients in flight while priming: enough to run every path of a write many times. */
const primeConcurrency = 50;

/** Goals from the issue: ≥ 3 × etcd's writes/s with a p99 no worse than etcd's. */
const GOAL_RATIO = 3;

function printSummary(
  opts: ClusterBenchOptions,
  results: RunResult[],
  rb: RedisBenchmarkResult[],
  elapsedS: number,
): void {
  // One round: its run. Several: the median of each figure over the rounds.
  const find = (system: string, step: number): Figures | undefined =>
    medianFigures(results.filter((r) => r.system === system && r.step === step));
  const perRound = (step: number): string => {
    if (opts.rounds < 2) return "";
    const ratios: string[] = [];
    for (let round = 0; round < opts.rounds; round++) {
      const at = (system: string) =>
        results.find((r) => r.system === system && r.step === step && r.round === round);
      const h = at("homeostat");
      const e = at("etcd");
      if (h && e) ratios.push(`${(h.writesPerSecond / e.writesPerSecond).toFixed(2)}x`);
    }
    return ratios.join(" ");
  };
  const hasEtcd = results.some((r) => r.system === "etcd");
  const header = ["clients", "homeostat writes/s", "p50 ms", "p99 ms"];
  if (hasEtcd) header.push("etcd writes/s", "p50 ms", "p99 ms", "homeostat/etcd", "p99 <= etcd");
  const hasFloor = results.some((r) => r.system === "floor");
  if (hasFloor) header.push("floor writes/s", "p50 ms", "p99 ms", "homeostat/floor");
  if (hasEtcd && opts.rounds > 1) header.push("homeostat/etcd by round");
  const rows: string[][] = [header];
  for (const [step, c] of opts.concurrency.entries()) {
    const h = find("homeostat", step);
    if (!h) continue;
    const row = [String(c), fmtInt(h.writesPerSecond), fmtMs(h.p50Ms), fmtMs(h.p99Ms)];
    const e = find("etcd", step);
    if (hasEtcd && e) {
      const ratio = h.writesPerSecond / e.writesPerSecond;
      row.push(fmtInt(e.writesPerSecond), fmtMs(e.p50Ms), fmtMs(e.p99Ms));
      row.push(
        Number.isFinite(ratio)
          ? `${ratio.toFixed(2)}x ${ratio >= GOAL_RATIO ? "ok" : "LOW"}`
          : "n/a",
      );
      row.push(h.p99Ms <= e.p99Ms ? "yes" : "NO");
    }
    const f = find("floor", step);
    if (hasFloor && f) {
      row.push(fmtInt(f.writesPerSecond), fmtMs(f.p50Ms), fmtMs(f.p99Ms));
      row.push(`${(h.writesPerSecond / f.writesPerSecond).toFixed(2)}x`);
    }
    if (hasEtcd && opts.rounds > 1) row.push(perRound(step));
    rows.push(row);
  }
  w(
    `\nDurable writes, ${opts.valueBytes}-byte values, ${opts.seconds} s per run ` +
      (opts.rounds > 1 ? `(medians of ${opts.rounds} rounds) ` : "") +
      `(${elapsedS} s in all for the cluster section)` +
      (hasEtcd ? `; goal: homeostat/etcd >= ${GOAL_RATIO}x with p99 no worse` : ""),
  );
  printRows(rows);
  if (rb.length === 2) {
    const [h, r] = rb;
    w(`\nredis-benchmark -n ${opts.requests} -c ${opts.clients} -r ${opts.keys}, requests/s:`);
    printRows([
      ["test", h.target, r.target, "ratio"],
      ["SET", fmtInt(h.set), fmtInt(r.set), `${(h.set / r.set).toFixed(2)}x`],
      ["GET", fmtInt(h.get), fmtInt(r.get), `${(h.get / r.get).toFixed(2)}x`],
    ]);
  }
}

interface Figures {
  writesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/** Each figure's median over `runs` (for an even count, the mean of the middle two). */
function medianFigures(runs: readonly RunResult[]): Figures | undefined {
  if (runs.length === 0) return undefined;
  return {
    writesPerSecond: median(runs.map((r) => r.writesPerSecond)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
  };
}

function printRows(rows: string[][]): void {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join("  ");
  w(line(rows[0]));
  w(widths.map((n) => "-".repeat(n)).join("  "));
  for (const r of rows.slice(1)) w(line(r));
}

function fmtInt(x: number): string {
  return Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "n/a";
}

function fmtMs(x: number): string {
  if (!Number.isFinite(x)) return "n/a";
  return x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : Math.round(x).toString();
}

/** CPU use in cores; n/a when a server exited during the run (its /proc entry is gone). */
function fmtCores(x: number): string {
  return Number.isFinite(x) ? x.toFixed(2) : "n/a";
}

function fmtCounts(c: Record<string, number>): string {
  return Object.entries(c)
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function parseOptions(): ClusterBenchOptions | undefined {
  const { values } = parseArgs({
    options: {
      concurrency: { type: "string" },
      seconds: { type: "string" },
      rounds: { type: "string" },
      warmup: { type: "string" },
      prime: { type: "string" },
      "value-bytes": { type: "string" },
      keys: { type: "string" },
      shards: { type: "string" },
      requests: { type: "string" },
      clients: { type: "string" },
      "skip-etcd": { type: "boolean", default: false },
      floor: { type: "boolean", default: false },
      "skip-redis-benchmark": { type: "boolean", default: false },
      "keep-dirs": { type: "boolean", default: false },
      "node-flags": { type: "string" },
      quick: { type: "boolean", default: false },
      json: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    w(HELP);
    return undefined;
  }
  const o = defaultClusterBenchOptions(values.quick);
  if (values.concurrency !== undefined) {
    o.concurrency = values.concurrency.split(",").map((c) => intArg("--concurrency", c));
  }
  if (values.seconds !== undefined) o.seconds = intArg("--seconds", values.seconds);
  if (values.rounds !== undefined) o.rounds = intArg("--rounds", values.rounds);
  if (values.warmup !== undefined) o.warmupSeconds = Number(values.warmup);
  if (!(o.warmupSeconds >= 0)) throw new Error(`--warmup must be >= 0, not ${values.warmup}`);
  if (values.prime !== undefined) o.primeSeconds = Number(values.prime);
  if (!(o.primeSeconds >= 0)) throw new Error(`--prime must be >= 0, not ${values.prime}`);
  if (values["value-bytes"] !== undefined) {
    o.valueBytes = intArg("--value-bytes", values["value-bytes"]);
  }
  if (values.keys !== undefined) o.keys = intArg("--keys", values.keys);
  if (values.shards !== undefined) o.shards = intArg("--shards", values.shards);
  if (values.requests !== undefined) o.requests = intArg("--requests", values.requests);
  if (values.clients !== undefined) o.clients = intArg("--clients", values.clients);
  o.skipEtcd = values["skip-etcd"];
  o.floor = values.floor;
  o.skipRedisBenchmark = values["skip-redis-benchmark"];
  o.keepDirs = values["keep-dirs"];
  o.nodeFlags = (values["node-flags"] ?? "").split(/\s+/).filter((f) => f !== "");
  if (values.json !== undefined) o.jsonFile = values.json;
  return o;
}

async function main(): Promise<number> {
  const opts = parseOptions();
  if (!opts) return 0;
  if (!opts.skipRedisBenchmark && !(await which("redis-benchmark"))) {
    throw new Error("redis-benchmark not found: apt-get install -y redis-tools redis-server");
  }
  return runClusterBench(opts);
}

// Run when executed directly (bench.ts imports runClusterBench instead).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) runMain(main);

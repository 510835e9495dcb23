// Big-writes benchmark: what one SET of megabytes costs on a 3-node cluster, and what it
// does to the small writes around it, against redis-server (appendfsync always) in the
// same run.
//
// For each size, `--writes` SETs of a value of that size, one after another, through
// ioredis in cluster mode (redis-server: a plain client), each followed by a GET of it;
// meanwhile a second client SETs small keys spread over every shard, one at a time. Prints
// per size and target: the big SET's median and worst time, its MB/s, the small SETs'
// p50, p99 and worst latency while the big ones ran, and (cluster) the elections the big
// writes caused, counted from the raft terms of HOMEOSTAT GROUPS before and after.
//
//   npm run build && node dist/scripts/bench-big-writes.js           # 1, 4, 16 MiB
//   node dist/scripts/bench-big-writes.js --sizes 1,8 --writes 10
//   node dist/scripts/bench-big-writes.js --help

import { randomBytes } from "node:crypto";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { Cluster, Redis } from "ioredis";
import { type GroupRow, groupsOf, leadersOf, waitUntil } from "./lib/cluster-groups.js";
import { type SpawnedNode, spawnClusterNodes } from "./lib/cluster-nodes.js";
import { intArg } from "./lib/options.js";
import { makeTempDir, runMain } from "./lib/proc.js";
import { percentile } from "./lib/stats.js";
import { homeostatCli, startRedis } from "./lib/targets.js";

const HELP = `Usage: node dist/scripts/bench-big-writes.js [options]

Starts a 3-node Homeostat cluster (--cluster --shards 4) and redis-server (appendonly,
appendfsync always) on free ports. For each size: SETs of one value of that size, one after
another, each read back with GET, while another client SETs small keys one at a time.
Prints the big SET's median and worst time and MB/s, the small SETs' p50/p99/worst latency
meanwhile, and the elections the big writes caused on the cluster.

Options:
  --sizes a,b,c   value sizes in MiB (default 1,4,16; the cluster takes at most 16 MiB
                  less a few bytes of framing in one command, so 16 means 16 MiB − 1 KiB)
  --writes N      big SETs per size and target (default 5)
  -h, --help      this text`;

const HOST = "127.0.0.1";
const MiB = 1024 * 1024;
/** Room for the command's own framing in a 16 MiB log entry. */
const framingBytes = 1024;

interface Figures {
  target: string;
  mib: number;
  setMs: number[];
  getMs: number[];
  smallMs: number[];
  elections: number | null;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      sizes: { type: "string", default: "1,4,16" },
      writes: { type: "string", default: "5" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const sizes = values.sizes.split(",").map((s) => intArg("--sizes", s));
  const writes = intArg("--writes", values.writes);
  const cli = homeostatCli();
  if (cli === undefined) throw new Error("dist/src/cli/main.js is missing: npm run build first");

  const base = makeTempDir("homeostat-big-writes");
  const nodes = await spawnClusterNodes({ cli, base, host: HOST, count: 3, shards: 4 });
  const redis = await startRedis("aof-always");
  const results: Figures[] = [];
  try {
    await waitUntil("every shard at 3 voters", 120_000, nodes, async () => {
      const led = leadersOf(await groupRows(nodes));
      return led.size === 5 && [...led.values()].every((g) => g.voters.length === 3);
    });
    const cluster = () =>
      new Cluster([{ host: HOST, port: (nodes[0] as SpawnedNode).port }], {
        scaleReads: "master",
      });
    const plain = () => new Redis({ host: HOST, port: redis.port });
    for (const mib of sizes) {
      const value = randomBytes(mib * MiB - framingBytes);
      for (const [target, open] of [
        ["homeostat", cluster],
        ["redis-aof-always", plain],
      ] as const) {
        const terms = target === "homeostat" ? await termSum(nodes) : 0;
        const figures = await measure(target, mib, value, writes, open(), open());
        if (target === "homeostat") figures.elections = (await termSum(nodes)) - terms;
        results.push(figures);
        print(figures);
      }
    }
  } finally {
    await Promise.all([...nodes.map((n) => n.proc.stop(5000)), redis.stop()]);
  }
  return 0;
}

/** The big SETs and GETs of one size on one target, with the small SETs beside them. */
async function measure(
  target: string,
  mib: number,
  value: Buffer,
  writes: number,
  big: Redis | Cluster,
  small: Redis | Cluster,
): Promise<Figures> {
  const figures: Figures = { target, mib, setMs: [], getMs: [], smallMs: [], elections: null };
  try {
    await small.set("bench:warm", "x");
    let running = true;
    const probe = (async () => {
      for (let i = 0; running; i++) {
        const t0 = performance.now();
        await small.set(`bench:small:${i % 64}`, "x");
        figures.smallMs.push(performance.now() - t0);
      }
    })();
    for (let i = 0; i < writes; i++) {
      const t0 = performance.now();
      await big.set(`bench:big:${i}`, value);
      const t1 = performance.now();
      const back = await big.getBuffer(`bench:big:${i}`);
      figures.getMs.push(performance.now() - t1);
      figures.setMs.push(t1 - t0);
      if (back === null || !back.equals(value)) throw new Error(`${target}: value ${i} differs`);
    }
    running = false;
    await probe;
    for (let i = 0; i < writes; i++) await big.del(`bench:big:${i}`);
  } finally {
    big.disconnect();
    small.disconnect();
  }
  return figures;
}

function print(f: Figures): void {
  const ms = (v: number) => `${v.toFixed(v < 10 ? 1 : 0)} ms`;
  const setMedian = percentile(f.setMs, 0.5);
  const mbs = (f.mib * MiB) / 1e6 / (setMedian / 1000);
  console.log(
    `${f.mib} MiB ${f.target}: SET median ${ms(setMedian)} (${mbs.toFixed(0)} MB/s), ` +
      `worst ${ms(Math.max(...f.setMs))}; GET median ${ms(percentile(f.getMs, 0.5))}; ` +
      `small SETs meanwhile: ${f.smallMs.length}, p50 ${ms(percentile(f.smallMs, 0.5))}, ` +
      `p99 ${ms(percentile(f.smallMs, 0.99))}, worst ${ms(Math.max(...f.smallMs))}` +
      (f.elections === null ? "" : `; elections ${f.elections}`),
  );
}

async function groupRows(nodes: readonly SpawnedNode[]): Promise<GroupRow[]> {
  const rows: GroupRow[] = [];
  for (const n of nodes) rows.push(...(await groupsOf(HOST, n.port)));
  return rows;
}

/** The sum of the groups' terms as their leaders see them: it grows by one an election. */
async function termSum(nodes: readonly SpawnedNode[]): Promise<number> {
  let sum = 0;
  for (const g of leadersOf(await groupRows(nodes)).values()) sum += g.term;
  return sum;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) runMain(main);

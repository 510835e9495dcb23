// Hashes, lists and sorted sets against their size: redis-benchmark's HSET and HGET of random
// fields of one hash of N fields (or, with --type list, LMOVE rotating one list of N elements
// and LRANGE of its first 10; with --type zset, ZINCRBY of random members of one sorted set
// of N and ZREVRANGE of its top 10), against a standalone Homeostat node and redis-server with
// appendfsync always, both started here, the targets alternating. A hash or a list is one
// value in Homeostat (a write costs a pass over it and a copy, docs/commands.md, "hash",
// "list", "sorted set"); Redis keeps a hash of more than 128 fields in a hash table, a list
// in a quicklist and a sorted set of more than 128 members in a skip list. This measures what that choice costs as N grows.
//
//   npm run build && node dist/scripts/bench-hash.js [--type hash|list|zset|stream] [--sizes 10,100,1000,10000]

import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { intArg, UsageError } from "./lib/options.js";
import { interrupted, run, runMain, which } from "./lib/proc.js";
import { median } from "./lib/stats.js";
import { type RunningServer, startHomeostat, startRedis } from "./lib/targets.js";

const HELP = `Usage: node dist/scripts/bench-hash.js [options]

For each size N, fills hash "h" with N fields (field:<12 digits>, 10-byte values) on a
standalone Homeostat node and on redis-server (appendonly, appendfsync always), then runs
redis-benchmark -c 50 -r N "HSET h field:__rand_int__ <value>" and "HGET h
field:__rand_int__" against each, alternating, and prints the median requests/s and the
ratio Homeostat/Redis. With --type list: fills list "l" with N 10-byte elements and runs
"LMOVE l l LEFT RIGHT" (a pop and a push, the list's size kept) and "LRANGE l 0 9". With
--type zset: fills sorted set "z" with N members scored 0..N-1 and runs "ZINCRBY z 1
field:__rand_int__" and "ZREVRANGE z 0 9 WITHSCORES". With --type stream: fills stream "x"
with N entries and runs "XADD x MAXLEN N * f <value>" (an append that trims one, the
stream's size kept) and "XREVRANGE x + - COUNT 10".

Options:
  --type T        hash (default), list, zset or stream
  --sizes a,b,c   sizes in fields or elements (default 10,100,1000,10000)
  --rounds R      rounds per size (default 3)
  --requests N    redis-benchmark -n per run (default 20000)
  -h, --help      this text`;

const VALUE = "v".repeat(10);

function field(i: number): string {
  return `field:${String(i).padStart(12, "0")}`;
}

/** What is measured for a type: how to fill it, and a write and a read command. */
interface Workload {
  readonly fill: (c: Redis, from: number, to: number) => Promise<unknown>;
  readonly size: (c: Redis) => Promise<number>;
  readonly write: readonly [string, string[]];
  readonly read: readonly [string, string[]];
}

const WORKLOADS: Record<string, Workload> = {
  hash: {
    fill: (c, from, to) => {
      const args: string[] = [];
      for (let j = from; j < to; j++) args.push(field(j), VALUE);
      return c.hset("h", ...args);
    },
    size: (c) => c.hlen("h"),
    write: ["HSET", ["HSET", "h", "field:__rand_int__", VALUE]],
    read: ["HGET", ["HGET", "h", "field:__rand_int__"]],
  },
  list: {
    fill: (c, from, to) => c.rpush("l", ...Array.from({ length: to - from }, () => VALUE)),
    size: (c) => c.llen("l"),
    write: ["LMOVE", ["LMOVE", "l", "l", "LEFT", "RIGHT"]],
    read: ["LRANGE", ["LRANGE", "l", "0", "9"]],
  },
  stream: {
    fill: (c, from, to) => {
      const p = c.pipeline();
      for (let j = from; j < to; j++) p.xadd("x", "*", "f", VALUE);
      return p.exec();
    },
    size: (c) => c.xlen("x"),
    // An append that trims the oldest entry: the stream keeps its size.
    write: ["XADD", ["XADD", "x", "MAXLEN", "__N__", "*", "f", VALUE]],
    read: ["XREVRANGE", ["XREVRANGE", "x", "+", "-", "COUNT", "10"]],
  },
  zset: {
    fill: (c, from, to) => {
      const args: (string | number)[] = [];
      for (let j = from; j < to; j++) args.push(j, field(j));
      return c.zadd("z", ...args);
    },
    size: (c) => c.zcard("z"),
    write: ["ZINCRBY", ["ZINCRBY", "z", "1", "field:__rand_int__"]],
    read: ["ZREVRANGE", ["ZREVRANGE", "z", "0", "9", "WITHSCORES"]],
  },
};

async function fill(s: RunningServer, n: number, work: Workload): Promise<void> {
  const c = new Redis({ host: s.host, port: s.port, lazyConnect: true });
  await c.connect();
  try {
    await c.del("h", "l", "z", "x");
    for (let i = 0; i < n; i += 500) await work.fill(c, i, Math.min(n, i + 500));
    const len = await work.size(c);
    if (len !== n) throw new Error(`${s.label}: size ${len}, expected ${n}`);
  } finally {
    c.disconnect();
  }
}

async function rps(
  s: RunningServer,
  n: number,
  requests: number,
  cmd: readonly string[],
): Promise<number> {
  const args = ["-h", s.host, "-p", String(s.port), "-c", "50", "-n", String(requests)];
  args.push("-r", String(n), "-q", "--csv", ...cmd.map((a) => (a === "__N__" ? String(n) : a)));
  const r = await run("redis-benchmark", args, { timeoutMs: 300_000 });
  const m = /"[^"]*","([\d.]+)"/.exec(r.stdout);
  if (r.code !== 0 || m === null)
    throw new Error(`redis-benchmark failed: ${r.stderr.slice(0, 300)}`);
  return Number(m[1]);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      type: { type: "string", default: "hash" },
      sizes: { type: "string", default: "10,100,1000,10000" },
      rounds: { type: "string", default: "3" },
      requests: { type: "string", default: "20000" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const work = WORKLOADS[values.type];
  if (work === undefined)
    throw new UsageError(`--type must be hash, list, zset or stream, not ${values.type}`);
  if (!(await which("redis-benchmark"))) throw new Error("redis-benchmark not found");
  const sizes = values.sizes.split(",").map((n) => intArg("--sizes", n.trim()));
  const rounds = intArg("--rounds", values.rounds);
  const requests = intArg("--requests", values.requests);
  const servers = [await startRedis("aof-always"), await startHomeostat()];
  const w = (line: string) => process.stdout.write(`${line}\n`);
  const [wn, wcmd] = work.write;
  const [rn, rcmd] = work.read;
  w(`${wn}/${rn} on one ${values.type} of N, -c 50 -n ${requests}, ${rounds} rounds`);
  w(
    `N        ${`redis ${wn}`.padStart(11)}  ${`homeostat ${wn}`.padStart(14)}  ratio   ${`redis ${rn}`.padStart(11)}  ${`homeostat ${rn}`.padStart(14)}  ratio`,
  );
  try {
    for (const n of sizes) {
      const got = new Map<string, number[]>();
      for (const s of servers) await fill(s, n, work);
      for (let r = 0; r < rounds && !interrupted(); r++) {
        const order = r % 2 === 0 ? servers : [...servers].reverse();
        for (const s of order) {
          const set = await rps(s, n, requests, wcmd);
          const get = await rps(s, n, requests, rcmd);
          for (const [k, v] of [
            [`${s.label} write`, set],
            [`${s.label} read`, get],
          ] as const) {
            got.set(k, [...(got.get(k) ?? []), v]);
          }
        }
      }
      const m = (k: string) => median(got.get(k) ?? []);
      const [rs, hs, rg, hg] = [
        m("redis-aof-always write"),
        m("homeostat write"),
        m("redis-aof-always read"),
        m("homeostat read"),
      ];
      const f = (x: number) => Math.round(x).toLocaleString("en-US").padStart(10);
      w(
        `${String(n).padEnd(7)}  ${f(rs)}      ${f(hs)}  ${(hs / rs).toFixed(2)}x  ${f(rg)}      ${f(hg)}  ${(hg / rg).toFixed(2)}x`,
      );
    }
  } finally {
    for (const s of servers) await s.stop();
  }
  return 0;
}

runMain(main);

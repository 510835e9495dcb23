// Hashes against their size: redis-benchmark's HSET and HGET of random fields of one hash of
// N fields, against a standalone Homeostat node and redis-server with appendfsync always,
// both started here, the targets alternating. A hash is one value in Homeostat (a write
// costs a pass over it and a copy, docs/commands.md, "hash"); Redis keeps a hash of more
// than 128 fields in a hash table. This measures what that choice costs as N grows.
//
//   npm run build && node dist/scripts/bench-hash.js [--sizes 10,100,1000,10000] [--rounds 3]

import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { interrupted, run, runMain, which } from "./lib/proc.js";
import { median } from "./lib/stats.js";
import { type RunningServer, startHomeostat, startRedis } from "./lib/targets.js";

const HELP = `Usage: node dist/scripts/bench-hash.js [options]

For each size N, fills hash "h" with N fields (field:<12 digits>, 10-byte values) on a
standalone Homeostat node and on redis-server (appendonly, appendfsync always), then runs
redis-benchmark -c 50 -r N "HSET h field:__rand_int__ <value>" and "HGET h
field:__rand_int__" against each, alternating, and prints the median requests/s and the
ratio Homeostat/Redis.

Options:
  --sizes a,b,c   hash sizes in fields (default 10,100,1000,10000)
  --rounds R      rounds per size (default 3)
  --requests N    redis-benchmark -n per run (default 20000)
  -h, --help      this text`;

const VALUE = "v".repeat(10);

function field(i: number): string {
  return `field:${String(i).padStart(12, "0")}`;
}

async function fill(s: RunningServer, n: number): Promise<void> {
  const c = new Redis({ host: s.host, port: s.port, lazyConnect: true });
  await c.connect();
  try {
    await c.del("h");
    for (let i = 0; i < n; i += 500) {
      const args: string[] = [];
      for (let j = i; j < Math.min(n, i + 500); j++) args.push(field(j), VALUE);
      await c.hset("h", ...args);
    }
    const len = await c.hlen("h");
    if (len !== n) throw new Error(`${s.label}: HLEN ${len}, expected ${n}`);
  } finally {
    c.disconnect();
  }
}

async function rps(s: RunningServer, n: number, requests: number, cmd: string[]): Promise<number> {
  const args = ["-h", s.host, "-p", String(s.port), "-c", "50", "-n", String(requests)];
  args.push("-r", String(n), "-q", "--csv", ...cmd);
  const r = await run("redis-benchmark", args, { timeoutMs: 300_000 });
  const m = /"[^"]*","([\d.]+)"/.exec(r.stdout);
  if (r.code !== 0 || m === null)
    throw new Error(`redis-benchmark failed: ${r.stderr.slice(0, 300)}`);
  return Number(m[1]);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
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
  if (!(await which("redis-benchmark"))) throw new Error("redis-benchmark not found");
  const sizes = values.sizes.split(",").map(Number);
  const rounds = Number(values.rounds);
  const requests = Number(values.requests);
  const servers = [await startRedis("aof-always"), await startHomeostat()];
  const w = (line: string) => process.stdout.write(`${line}\n`);
  w(`HSET/HGET of random fields of one hash of N fields, -c 50 -n ${requests}, ${rounds} rounds`);
  w("N        redis HSET  homeostat HSET  ratio   redis HGET  homeostat HGET  ratio");
  try {
    for (const n of sizes) {
      const got = new Map<string, number[]>();
      for (const s of servers) await fill(s, n);
      for (let r = 0; r < rounds && !interrupted(); r++) {
        const order = r % 2 === 0 ? servers : [...servers].reverse();
        for (const s of order) {
          const set = await rps(s, n, requests, ["HSET", "h", "field:__rand_int__", VALUE]);
          const get = await rps(s, n, requests, ["HGET", "h", "field:__rand_int__"]);
          for (const [k, v] of [
            [`${s.label} HSET`, set],
            [`${s.label} HGET`, get],
          ] as const) {
            got.set(k, [...(got.get(k) ?? []), v]);
          }
        }
      }
      const m = (k: string) => median(got.get(k) ?? []);
      const [rs, hs, rg, hg] = [
        m("redis-aof-always HSET"),
        m("homeostat HSET"),
        m("redis-aof-always HGET"),
        m("homeostat HGET"),
      ];
      const f = (x: number) => Math.round(x).toLocaleString("en-US").padStart(10);
      w(
        `${String(n).padEnd(7)} ${f(rs)}  ${f(hs)}      ${(hs / rs).toFixed(2)}x  ${f(rg)}  ${f(hg)}      ${(hg / rg).toFixed(2)}x`,
      );
    }
  } finally {
    for (const s of servers) await s.stop();
  }
  return 0;
}

runMain(main);

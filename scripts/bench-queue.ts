// A work queue on lists: one producer LPUSHes jobs, one consumer takes them with BRPOP,
// against redis-server (appendfsync always), a standalone Homeostat node and a one-node
// Homeostat cluster (each write a raft entry), all started here. Two measures: the
// latency of a job when the consumer is already blocked (the producer waits 2 ms between
// jobs: a push wakes a blocked client, docs/commands.md, "list"), and the jobs/s of a
// producer pushing as fast as its pushes are acknowledged.
//
//   npm run build && node dist/scripts/bench-queue.js [--jobs 1000] [--rounds 3]

import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { intArg } from "./lib/options.js";
import { interrupted, runMain } from "./lib/proc.js";
import { median } from "./lib/stats.js";
import { type RunningServer, startHomeostat, startRedis } from "./lib/targets.js";

const HELP = `Usage: node dist/scripts/bench-queue.js [options]

Starts redis-server (appendonly, appendfsync always), a standalone Homeostat node and a
one-node Homeostat cluster. For each, in rounds with the targets alternating: one
consumer blocks in "BRPOP q 0" in a loop; one producer sends JOBS "LPUSH q <time>",
waiting for each reply, first 2 ms apart (latency from LPUSH sent to BRPOP's reply, p50
and p99), then back to back (jobs/s until the consumer has taken them all). Medians of
the rounds.

Options:
  --jobs N      jobs per measure (default 1000)
  --rounds R    rounds (default 3)
  -h, --help    this text`;

interface Figures {
  p50: number;
  p99: number;
  jobsPerS: number;
}

async function connect(s: RunningServer): Promise<Redis> {
  const c = new Redis({ host: s.host, port: s.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  await c.connect();
  return c;
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/** Runs `jobs` jobs through q; `gapMs` between pushes. Latencies in ms and the jobs/s. */
async function pass(
  s: RunningServer,
  jobs: number,
  gapMs: number,
): Promise<{ latencies: number[]; jobsPerS: number }> {
  const producer = await connect(s);
  const consumer = await connect(s);
  const latencies: number[] = [];
  try {
    await producer.del("q");
    const started = performance.now();
    const consumed = (async () => {
      for (let i = 0; i < jobs; i++) {
        const got = await consumer.brpop("q", 0);
        if (got === null) throw new Error(`${s.label}: BRPOP timed out`);
        latencies.push(performance.now() - Number(got[1]));
      }
    })();
    for (let i = 0; i < jobs; i++) {
      await producer.lpush("q", String(performance.now()));
      if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
    }
    await consumed;
    return { latencies, jobsPerS: jobs / ((performance.now() - started) / 1000) };
  } finally {
    producer.disconnect();
    consumer.disconnect();
  }
}

async function measure(s: RunningServer, jobs: number): Promise<Figures> {
  const paced = await pass(s, jobs, 2);
  const sorted = [...paced.latencies].sort((a, b) => a - b);
  const flat = await pass(s, jobs, 0);
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), jobsPerS: flat.jobsPerS };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      jobs: { type: "string", default: "1000" },
      rounds: { type: "string", default: "3" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const jobs = intArg("--jobs", values.jobs);
  const rounds = intArg("--rounds", values.rounds);
  const servers = [
    await startRedis("aof-always"),
    await startHomeostat(),
    await startHomeostat({ label: "homeostat-cluster", cluster: true }),
  ];
  const w = (line: string) => process.stdout.write(`${line}\n`);
  try {
    // A one-node cluster serves once its shards have a leader: wait for a write to pass.
    const c = await connect(servers[2] as RunningServer);
    for (let i = 0; ; i++) {
      try {
        await c.set("ready", "1");
        break;
      } catch (err) {
        if (i > 300) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    c.disconnect();
    const got = new Map<string, Figures[]>();
    for (let r = 0; r < rounds && !interrupted(); r++) {
      const order = r % 2 === 0 ? servers : [...servers].reverse();
      for (const s of order)
        got.set(s.label, [...(got.get(s.label) ?? []), await measure(s, jobs)]);
    }
    w(`LPUSH -> BRPOP, ${jobs} jobs per measure, medians of ${rounds} rounds`);
    w("target               latency p50 ms  p99 ms  jobs/s back to back");
    for (const s of servers) {
      const f = got.get(s.label) ?? [];
      const m = (k: keyof Figures) => median(f.map((x) => x[k]));
      w(
        `${s.label.padEnd(20)} ${m("p50").toFixed(3).padStart(14)}  ${m("p99").toFixed(2).padStart(6)}  ${Math.round(m("jobsPerS")).toLocaleString("en-US").padStart(20)}`,
      );
    }
  } finally {
    for (const s of servers) await s.stop();
  }
  return 0;
}

runMain(main);

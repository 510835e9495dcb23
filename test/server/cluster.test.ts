import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Cluster, Redis } from "ioredis";
import { createClient, createCluster, RESP_TYPES } from "redis";
import { HistoryRecorder } from "../../src/sim/checkers/history.js";
import { type KvInput, type KvOutput, kvModel } from "../../src/sim/checkers/kv-model.js";
import { checkLinearizability } from "../../src/sim/checkers/linearizability.js";
import { DirectAppender } from "../../src/storage/direct-append.js";
import {
  CLI,
  cleanUpAfter,
  type RunningNode,
  startNode,
  tempDir,
  waitFor,
  waitForBlocked,
} from "./harness.js";

/**
 * Real processes on loopback in sharded mode (`--cluster`): they form a cluster, every
 * shard reaches its replica target with leaders spread, ioredis works in cluster and in
 * single-node mode against any node, and a write workload survives SIGKILL and SIGSTOP of
 * a shard leader with a client-side history that checks linearizable.
 */

const shards = 8;

interface Group {
  group: number;
  role: string;
  lead: number;
  applied: number;
  voters: number[];
  learners: number[];
}

async function groupsOf(port: number): Promise<Group[]> {
  const r = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await r.connect();
    const rows = (await r.call("HOMEOSTAT", "GROUPS")) as string[];
    return rows.map((row) => {
      const f = Object.fromEntries(row.split(" ").map((kv) => kv.split("=") as [string, string]));
      const ids = (s: string | undefined) => (s ? s.split(",").filter(Boolean).map(Number) : []);
      return {
        group: Number(f.group),
        role: String(f.role),
        lead: Number(f.lead),
        applied: Number(f.applied),
        voters: ids(f.voters),
        learners: ids(f.learners),
      };
    });
  } finally {
    r.disconnect();
  }
}

/** Starts `n` nodes: the first creates the cluster, the others join through it. */
async function startCluster(
  n: number,
  nodes: RunningNode[],
  dirs: string[],
  extra: string[] = [],
): Promise<void> {
  const first = tempDir();
  dirs.push(first);
  nodes.push(await startNode(first, ["--cluster", "--shards", String(shards), ...extra]));
  for (let i = 1; i < n; i++) {
    const dir = tempDir();
    dirs.push(dir);
    const seed = `127.0.0.1:${(nodes[0] as RunningNode).port}`;
    nodes.push(await startNode(dir, ["--cluster", "--join", seed, ...extra]));
  }
}

/** A node's raft id (INFO raft). */
async function raftIdOf(port: number): Promise<number> {
  const r = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await r.connect();
    const info = await r.info("raft");
    return Number(/raft_id:(\d+)/.exec(info)?.[1]);
  } finally {
    r.disconnect();
  }
}

/** Each shard as its leader sees it (the leader's view is the authoritative one). */
async function ledGroups(nodes: RunningNode[]): Promise<Group[]> {
  const led = new Map<number, Group>();
  for (const n of nodes) {
    if (n.proc.exitCode !== null || n.proc.signalCode !== null) continue;
    for (const g of await groupsOf(n.port)) {
      if (g.role === "leader" && g.group !== 0) led.set(g.group, g);
    }
  }
  return [...led.values()];
}

/** Every shard has a leader, min(3, n) voters and no learner. */
async function waitPlaced(nodes: RunningNode[], n: number): Promise<Group[]> {
  let last: Group[] = [];
  await waitFor(`every shard at ${Math.min(3, n)} voters`, 90_000, async () => {
    last = await ledGroups(nodes);
    return (
      last.length === shards &&
      last.every((g) => g.voters.length === Math.min(3, n) && g.learners.length === 0)
    );
  });
  return last;
}

/**
 * Every node's registry (CLUSTER NODES, as each node answers it) has every node at the
 * port it runs on now: after a restart on new ports, until a node has registered again,
 * clients and forwards are sent to its old address.
 */
async function waitRegistered(nodes: RunningNode[]): Promise<void> {
  await waitFor("every node registered at its current port", 30_000, async () => {
    for (const n of nodes) {
      const r = new Redis({ port: n.port, lazyConnect: true, maxRetriesPerRequest: 0 });
      try {
        await r.connect();
        const listed = String(await r.call("CLUSTER", "NODES"));
        // The slot map names each node's redirect port (the one cluster clients use).
        if (!nodes.every((m) => listed.includes(`:${m.redirectPort}@`))) return false;
      } finally {
        r.disconnect();
      }
    }
    return true;
  });
}

/** Leaders per raft id, as the first node sees them. */
function leaderCounts(groups: Group[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const g of groups) if (g.group !== 0) counts.set(g.lead, (counts.get(g.lead) ?? 0) + 1);
  return counts;
}

interface Workload {
  stop(): Promise<void>;
  history: HistoryRecorder<KvInput, KvOutput>;
  acked: number;
  errors: number;
  /** The error replies and failures the clients saw, in order. */
  messages: string[];
}

/**
 * `clients` loops of SET (unique values) and GET on a few keys through plain connections to
 * the given nodes (forwarded to each shard's leader). Errors and lost connections are
 * unknown outcomes, as a client would have to treat them.
 */
function runWorkload(ports: number[], keys: string[], clients: number): Workload {
  const history = new HistoryRecorder<KvInput, KvOutput>();
  const w: Workload = { stop: async () => {}, history, acked: 0, errors: 0, messages: [] };
  let running = true;
  let counter = 0;
  const loops: Promise<void>[] = [];
  for (let c = 0; c < clients; c++) {
    const port = ports[c % ports.length] as number;
    const r = new Redis({
      port,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => 100,
      commandTimeout: 3000,
    });
    r.on("error", () => {});
    loops.push(
      (async () => {
        while (running) {
          const key = keys[(counter * 7 + c) % keys.length] as string;
          const write = counter % 2 === 0;
          const value = `v${c}-${counter++}`;
          const input: KvInput = write ? { op: "set", key, value } : { op: "get", key };
          const h = history.invoke(c, input, performance.now());
          try {
            const out = write ? await r.set(key, value) : await r.get(key);
            history.ok(h, out, performance.now());
            if (write) w.acked += 1;
          } catch (e) {
            history.fail(h);
            w.errors += 1;
            w.messages.push(e instanceof Error ? e.message : String(e));
            await new Promise((res) => setTimeout(res, 50));
          }
        }
        r.disconnect();
      })(),
    );
  }
  w.stop = async () => {
    running = false;
    await Promise.all(loops);
  };
  return w;
}

function assertLinearizable(history: HistoryRecorder<KvInput, KvOutput>): void {
  const result = checkLinearizability(kvModel, history.history());
  assert.equal(result.verdict, "linearizable", result.message);
}

describe("a 3-node cluster (real processes)", { timeout: 240_000 }, () => {
  const nodes: RunningNode[] = [];
  const dirs: string[] = [];
  cleanUpAfter(nodes, dirs);

  it("forms: every shard reaches 3 voters, leaders spread", async () => {
    await startCluster(3, nodes, dirs);
    const groups = await waitPlaced(nodes, 3);
    const counts = [...leaderCounts(groups).values()];
    await waitFor("leaders spread over the 3 nodes", 30_000, async () => {
      const c = [...leaderCounts(await ledGroups(nodes)).values()];
      return c.length === 3 && Math.max(...c) - Math.min(...c) <= 1;
    });
    assert.ok(counts.length >= 1);
    // The raft log writes with O_DIRECT where the file system has it (INFO raft says).
    const probe = join(dirs[0] as string, "direct-probe");
    writeFileSync(probe, Buffer.alloc(4096));
    const appender = DirectAppender.open(probe);
    appender?.close();
    for (const n of nodes) {
      const r = new Redis({ port: n.port, lazyConnect: true, maxRetriesPerRequest: 0 });
      try {
        await r.connect();
        const direct = /raft_log_direct_writes:(\d)/.exec(await r.info("raft"))?.[1];
        assert.equal(direct, appender === null ? "0" : "1");
      } finally {
        r.disconnect();
      }
    }
  });

  it("serves ioredis in cluster mode and in single-node mode through any node", async () => {
    const cluster = new Cluster([{ host: "127.0.0.1", port: (nodes[1] as RunningNode).port }]);
    try {
      for (let i = 0; i < 50; i++) assert.equal(await cluster.set(`key:${i}`, `value:${i}`), "OK");
      for (let i = 0; i < 50; i++) assert.equal(await cluster.get(`key:${i}`), `value:${i}`);
      await assert.rejects(cluster.mset("a", "1", "b", "2"), /CROSSSLOT/);
      assert.equal(await cluster.mset("{u}a", "1", "{u}b", "2"), "OK");
      assert.deepEqual(await cluster.mget("{u}a", "{u}b"), ["1", "2"]);
    } finally {
      cluster.disconnect();
    }
    for (const node of nodes) {
      const plain = new Redis({ port: node.port });
      try {
        for (let i = 0; i < 50; i += 7) assert.equal(await plain.get(`key:${i}`), `value:${i}`);
      } finally {
        plain.disconnect();
      }
    }
  });

  it("replicates a 12 MiB SET to every replica, over the bus in sealed parts", async () => {
    const big = Buffer.alloc(12 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE(i, i);
    const cluster = new Cluster([{ host: "127.0.0.1", port: (nodes[0] as RunningNode).port }]);
    try {
      // Acknowledged once a quorum has it: at least one follower got it over the bus.
      assert.equal(await cluster.set("big:12", big), "OK");
    } finally {
      cluster.disconnect();
    }
    await waitFor("every replica applied what its leader committed", 30_000, async () => {
      const rows = (await Promise.all(nodes.map((n) => groupsOf(n.port)))).flat();
      const led = new Map(rows.filter((g) => g.role === "leader").map((g) => [g.group, g]));
      return rows.every((g) => g.applied >= (led.get(g.group)?.applied ?? Infinity));
    });
    for (const node of nodes) {
      const plain = new Redis({ port: node.port });
      try {
        assert.ok((await plain.getBuffer("big:12"))?.equals(big));
        await assert.rejects(
          plain.set("big:17", Buffer.alloc(17 * 1024 * 1024)),
          /too large for one log entry \(at most 16 MiB on a cluster\)/,
        );
      } finally {
        plain.disconnect();
      }
    }
    const plain = new Redis({ port: (nodes[2] as RunningNode).port });
    try {
      assert.equal(await plain.del("big:12"), 1);
    } finally {
      plain.disconnect();
    }
  });

  it("runs Lua scripts through ioredis's cluster mode, each on its keys' shard", async () => {
    const cluster = new Cluster([{ host: "127.0.0.1", port: (nodes[2] as RunningNode).port }]);
    cluster.defineCommand("bump", {
      numberOfKeys: 2,
      lua:
        "local v = redis.call('INCR', KEYS[1]); redis.call('RPUSH', KEYS[2], v); " +
        "return {v, redis.call('LLEN', KEYS[2])}",
    });
    type Bump = { bump(a: string, b: string): Promise<[number, number]> };
    try {
      // 20 keys over the shards, 5 rounds each, from concurrent callers: every script ran
      // once, whole (its counter and its list agree).
      await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          for (let round = 1; round <= 5; round++) {
            const [v, len] = await (cluster as unknown as Bump).bump(`{s${i}}n`, `{s${i}}l`);
            assert.deepEqual([v, len], [round, round]);
          }
        }),
      );
      await assert.rejects(cluster.eval("return 1", 2, "a", "b"), /CROSSSLOT/);
      assert.equal(await cluster.eval("return redis.call('GET', KEYS[1])", 1, "{s3}n"), "5");
    } finally {
      cluster.disconnect();
    }
    // Any node answers a script for any key, forwarding it to the shard's leader.
    for (const node of nodes) {
      const plain = new Redis({ port: node.port });
      try {
        assert.deepEqual(
          await plain.eval_ro("return redis.call('LRANGE', KEYS[1], 0, -1)", 1, "{s7}l"),
          ["1", "2", "3", "4", "5"],
        );
      } finally {
        plain.disconnect();
      }
    }
  });

  it("serves hashes through ioredis's cluster mode, and through any node in RESP2 and RESP3", async () => {
    const cluster = new Cluster([{ host: "127.0.0.1", port: (nodes[0] as RunningNode).port }]);
    try {
      for (let i = 0; i < 24; i++) {
        assert.equal(await cluster.hset(`user:${i}`, { name: `n${i}`, visits: "0" }), 2);
        assert.equal(await cluster.hincrby(`user:${i}`, "visits", i), i);
      }
      assert.deepEqual(await cluster.hgetall("user:5"), { name: "n5", visits: "5" });
    } finally {
      cluster.disconnect();
    }
    // Plain clients on every node: most keys are led elsewhere, so these are forwarded, in
    // the client's own protocol (a RESP3 client gets maps, and HRANDFIELD's nested pairs).
    for (const node of nodes) {
      const plain = new Redis({ port: node.port });
      const r3 = createClient({ socket: { port: node.port, host: "127.0.0.1" }, RESP: 3 });
      await r3.connect();
      try {
        for (let i = 0; i < 24; i += 5) {
          assert.deepEqual(await plain.hmget(`user:${i}`, "name", "visits"), [`n${i}`, String(i)]);
          const all = await r3.withTypeMapping({ [RESP_TYPES.MAP]: Map }).hGetAll(`user:${i}`);
          assert.ok(all instanceof Map, "a map in RESP3");
          assert.deepEqual(
            [...all.entries()],
            [
              ["name", `n${i}`],
              ["visits", String(i)],
            ],
          );
          const pairs = await r3.sendCommand(["HRANDFIELD", `user:${i}`, "-1", "WITHVALUES"]);
          assert.equal((pairs as unknown as unknown[][])[0]?.length, 2, "nested pairs in RESP3");
          const flat = await plain.call("HRANDFIELD", `user:${i}`, "-1", "WITHVALUES");
          assert.equal((flat as unknown[]).length, 2, "flat pairs in RESP2");
        }
      } finally {
        plain.disconnect();
        r3.destroy();
      }
    }
  });

  it("serves a client blocked on one node by a push (or ZADD, or XADD) through another", async () => {
    // Keys over many slots, so that the shards' leaders are spread over the nodes: a
    // client blocked on a node is served once that node's replica applies the push, and
    // its pop goes to the shard's leader (forwarded when that is another node).
    for (let i = 0; i < 6; i++) {
      const key = `queue:${i}`;
      const waiterNode = nodes[i % 3] as RunningNode;
      const pusherNode = nodes[(i + 1) % 3] as RunningNode;
      const waiter = new Redis({ port: waiterNode.port });
      const pusher = new Redis({ port: pusherNode.port });
      const observer = new Redis({ port: waiterNode.port });
      try {
        const popped = waiter.brpop(key, 10);
        await waitForBlocked(observer, 1);
        assert.equal(await pusher.lpush(key, `job-${i}`), 1);
        assert.deepEqual(await popped, [key, `job-${i}`]);
        assert.equal(await pusher.exists(key), 0);
        // A sorted set's blocking pop, the same way: a delayed job's due time as its score.
        const delayed = `delayed:${i}`;
        const due = waiter.bzpopmin(delayed, 10);
        await waitForBlocked(observer, 1);
        assert.equal(await pusher.zadd(delayed, 1700000000 + i, `job-${i}`), 1);
        assert.deepEqual(await due, [delayed, `job-${i}`, String(1700000000 + i)]);
        // A stream's reader, the same way: XREAD BLOCK $ gets the entry added after it blocked.
        const stream = `events:${i}`;
        await pusher.xadd(stream, "1-0", "before", "blocking");
        const read = waiter.xread("BLOCK", 10_000, "STREAMS", stream, "$");
        await waitForBlocked(observer, 1);
        assert.equal(await pusher.xadd(stream, "2-0", "job", String(i)), "2-0");
        assert.deepEqual(await read, [[stream, [["2-0", ["job", String(i)]]]]]);
        // And a consumer group's reader: XREADGROUP is a write, run on the shard's leader.
        await pusher.xgroup("CREATE", stream, "workers", "$");
        const job = waiter.xreadgroup(
          "GROUP",
          "workers",
          "w",
          "BLOCK",
          10_000,
          "STREAMS",
          stream,
          ">",
        );
        await waitForBlocked(observer, 1);
        assert.equal(await pusher.xadd(stream, "3-0", "job", "next"), "3-0");
        assert.deepEqual(await job, [[stream, [["3-0", ["job", "next"]]]]]);
        assert.equal(await pusher.xack(stream, "workers", "3-0"), 1);
      } finally {
        waiter.disconnect();
        pusher.disconnect();
        observer.disconnect();
      }
    }
  });

  it("runs MULTI/EXEC and WATCH through ioredis's cluster mode and through any node", async () => {
    const cluster = new Cluster([{ host: "127.0.0.1", port: (nodes[0] as RunningNode).port }]);
    try {
      // Tags over many slots, so the shards of every node's leaderships take part.
      for (let i = 0; i < 24; i++) {
        const t = `{tx${i}}`;
        assert.deepEqual(
          await cluster.multi().set(`${t}a`, "1").incr(`${t}a`).get(`${t}a`).exec(),
          [
            [null, "OK"],
            [null, 2],
            [null, "2"],
          ],
        );
      }
      await assert.rejects(cluster.multi().set("a", "1").set("b", "2").exec(), /same slot/);
    } finally {
      cluster.disconnect();
    }
    // Plain clients: a node that does not lead the shard forwards the whole transaction,
    // and WATCH's read, to the leader.
    for (const [k, node] of nodes.entries()) {
      const plain = new Redis({ port: node.port, maxRetriesPerRequest: 0 });
      const writer = new Redis({ port: (nodes[(k + 1) % nodes.length] as RunningNode).port });
      try {
        for (let i = 0; i < 8; i++) {
          const t = `{plain${i}}`;
          await plain.set(`${t}v`, "10");
          await plain.watch(`${t}v`);
          const v = Number(await plain.get(`${t}v`));
          assert.deepEqual(
            await plain
              .multi()
              .set(`${t}v`, String(v + 1))
              .exec(),
            [[null, "OK"]],
          );
          await plain.watch(`${t}v`);
          await writer.set(`${t}v`, "99");
          assert.equal(await plain.multi().set(`${t}v`, "0").exec(), null, "watched key changed");
          assert.equal(await plain.get(`${t}v`), "99");
        }
        assert.equal(await plain.call("MULTI"), "OK");
        assert.equal(await plain.call("SET", "a", "1"), "QUEUED");
        assert.equal(await plain.call("SET", "b", "1"), "QUEUED");
        await assert.rejects(plain.call("EXEC"), /CROSSSLOT/);
        assert.equal(await plain.call("MULTI"), "OK");
        await assert.rejects(plain.call("DBSIZE"), /not supported by a sharded cluster/);
        await assert.rejects(plain.call("EXEC"), /EXECABORT/);
        // A client that read the slot map is sent MOVED while queuing, as by Redis Cluster:
        // EXEC aborts and the client sends the transaction to the leader.
        await plain.call("CLUSTER", "SLOTS");
        let moved = 0;
        for (let i = 0; i < 40 && moved === 0; i++) {
          assert.equal(await plain.call("MULTI"), "OK");
          const queued = await plain.call("SET", `{m${i}}k`, "1").catch((e: Error) => e.message);
          if (queued !== "QUEUED") {
            assert.match(String(queued), /^MOVED \d+ 127\.0\.0\.1:\d+$/);
            moved += 1;
            await assert.rejects(plain.call("EXEC"), /EXECABORT/);
          } else {
            assert.deepEqual(await plain.call("EXEC"), ["OK"]);
          }
        }
        assert.equal(moved, 1, "some shard is led by another node");
      } finally {
        plain.disconnect();
        writer.disconnect();
      }
    }
  });

  it("delivers a message PUBLISHed on one node to the subscribers of every node", async () => {
    const subs = nodes.map(
      (n) => new Redis({ port: n.port, maxRetriesPerRequest: 0, lazyConnect: true }),
    );
    const got: string[][] = subs.map(() => []);
    try {
      for (const [k, sub] of subs.entries()) {
        await sub.connect();
        sub.on("message", (channel: string, message: string) =>
          got[k]?.push(`${channel}:${message}`),
        );
        assert.equal(await sub.subscribe("cluster-news"), 1);
      }
      for (const [k, node] of nodes.entries()) {
        const publisher = new Redis({ port: node.port, maxRetriesPerRequest: 0 });
        try {
          // PUBLISH counts this node's receivers, as on a Redis Cluster node.
          assert.equal(await publisher.publish("cluster-news", `from ${k}`), 1);
        } finally {
          publisher.disconnect();
        }
      }
      // Sharded Pub/Sub reaches every node too: a shard channel's subscribers may be on
      // any node, whichever leads the channel's slot.
      const sharded = new Redis({ port: (nodes[2] as RunningNode).port, lazyConnect: true });
      const smessages: string[] = [];
      try {
        await sharded.connect();
        sharded.on("smessage", (channel: string, message: string) =>
          smessages.push(`${channel}:${message}`),
        );
        await sharded.ssubscribe("shard-news");
        const publisher = new Redis({ port: (nodes[0] as RunningNode).port });
        try {
          assert.equal(await publisher.call("SPUBLISH", "shard-news", "s"), 0);
        } finally {
          publisher.disconnect();
        }
        await waitFor("the shard message", 10_000, async () => smessages.length === 1);
        assert.deepEqual(smessages, ["shard-news:s"]);
      } finally {
        sharded.disconnect();
      }
      await waitFor("every subscriber has every message", 10_000, async () =>
        got.every((g) => g.length === nodes.length),
      );
      for (const g of got) {
        assert.deepEqual(g.sort(), nodes.map((_, k) => `cluster-news:from ${k}`).sort());
      }
    } finally {
      for (const s of subs) s.disconnect();
    }
  });

  it("sends each keyspace notification once, from the node that leads the key's shard", async () => {
    const subs = nodes.map((n) => new Redis({ port: n.port, maxRetriesPerRequest: 0 }));
    const got: string[][] = subs.map(() => []);
    const cluster = new Cluster([{ host: "127.0.0.1", port: (nodes[0] as RunningNode).port }]);
    // Connected before they subscribe: ioredis's ready check (INFO) fails on a connection
    // already in subscriber mode. Disconnected whatever happens: a subscriber left
    // connected keeps reconnecting after the cluster is gone, and the test process alive.
    const listeners = subs.map((n) => new Redis({ port: n.options.port, lazyConnect: true }));
    try {
      for (const [k, sub] of subs.entries()) {
        assert.equal(await sub.config("SET", "notify-keyspace-events", "E$"), "OK");
        sub.on("message", (_channel: string, key: string) => got[k]?.push(key));
      }
      for (const [k, l] of listeners.entries()) {
        await l.connect();
        l.on("message", (_channel: string, key: string) => got[k]?.push(key));
        await l.subscribe("__keyevent@0__:set");
      }
      const keys = Array.from({ length: 24 }, (_, i) => `{ev${i}}k`);
      for (const key of keys) await cluster.set(key, "v");
      await waitFor("every set event", 10_000, async () => got.flat().length >= keys.length).catch(
        (e: unknown) => {
          const missing = keys.filter((k) => !got.flat().includes(k));
          throw new Error(`${e}; missing: ${missing.join(" ")}; by node: ${JSON.stringify(got)}`);
        },
      );
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(got.flat().sort(), [...keys].sort(), "each event once, in all");
      assert.ok(got.filter((g) => g.length > 0).length >= 2, "events come from several leaders");
      for (const sub of subs) await sub.config("SET", "notify-keyspace-events", "");
    } finally {
      cluster.disconnect();
      for (const l of listeners) l.disconnect();
      for (const s of subs) s.disconnect();
    }
  });

  it("keeps every acknowledged write across SIGKILL of a shard leader, linearizably", async () => {
    const ports = nodes.map((n) => n.port);
    const keys = Array.from({ length: 12 }, (_, i) => `lin:${i}`);
    const work = runWorkload(ports, keys, 6);
    // Beside it, transactions of two INCRs each through node 1 (never the victim below),
    // forwarded to the shards' leaders: each must apply whole or not at all.
    const txTags = Array.from({ length: 6 }, (_, i) => `{tx-kill${i}}`);
    const txAcked = new Map<string, number>(txTags.map((t) => [t, 0]));
    const txSent = new Map<string, number>(txTags.map((t) => [t, 0]));
    let txRunning = true;
    const txClient = new Redis({ port: ports[0], maxRetriesPerRequest: 0 });
    const txLoops = txTags.map(async (tag) => {
      while (txRunning) {
        txSent.set(tag, (txSent.get(tag) as number) + 1);
        const r = await txClient
          .multi()
          .incr(`${tag}a`)
          .incr(`${tag}b`)
          .exec()
          .catch(() => null);
        if (r?.every(([e]) => e === null)) {
          txAcked.set(tag, (txAcked.get(tag) as number) + 1);
        }
      }
    });
    await new Promise((r) => setTimeout(r, 2000));
    // A node that leads a shard but not the meta group (raft id 1 bootstrapped it).
    const groups = await ledGroups(nodes);
    const victimId = [...leaderCounts(groups).keys()].find((id) => id !== 1) as number;
    let victim: RunningNode | undefined;
    for (const n of nodes.slice(1)) {
      const own = await groupsOf(n.port);
      if (own.some((g) => g.role === "leader" && g.lead === victimId)) victim = n;
    }
    assert.ok(victim !== undefined, "found the leader's process");
    const ackedBefore = work.acked;
    await victim.kill();
    await new Promise((r) => setTimeout(r, 6000));
    const ackedAfter = work.acked;
    await work.stop();
    txRunning = false;
    await Promise.all(txLoops);
    assert.ok(ackedAfter > ackedBefore + 20, "writes resumed after the kill");
    assertLinearizable(work.history);
    try {
      for (const tag of txTags) {
        const [a, b] = (await txClient.mget(`${tag}a`, `${tag}b`)).map(Number);
        assert.equal(a, b, `${tag}: both INCRs of every transaction, or neither`);
        assert.ok(
          (a as number) >= (txAcked.get(tag) as number),
          `${tag}: no acknowledged one lost`,
        );
        assert.ok((a as number) <= (txSent.get(tag) as number), `${tag}: none ran twice`);
      }
    } finally {
      txClient.disconnect();
    }
    // A forward that could not even connect to the dead leader's node never left: it is
    // retried, not answered "may or may not have run" (forwarder.ts).
    const refused = work.messages.filter((m) => /ECONNREFUSED.*may or may not have run/.test(m));
    assert.deepEqual(refused, [], "no command that was never sent is reported as uncertain");

    // Restarted on its data folder, it catches up and serves again.
    const idx = nodes.indexOf(victim);
    const again = await startNode(victim.dir, ["--cluster", "--join", `127.0.0.1:${ports[0]}`]);
    nodes[idx] = again;
    await waitFor("the restarted node catches up", 60_000, async () => {
      const mine = await groupsOf(again.port);
      const theirs = await groupsOf((nodes[0] as RunningNode).port);
      return (
        mine.length === theirs.length &&
        mine.every((g) => {
          const t = theirs.find((x) => x.group === g.group);
          return t !== undefined && g.applied >= t.applied - 2 && g.lead !== 0;
        })
      );
    });
    const plain = new Redis({ port: again.port });
    try {
      assert.equal(await plain.get("key:3"), "value:3");
    } finally {
      plain.disconnect();
    }
  });

  it("stays linearizable across SIGSTOP of a shard leader for 5 s", async () => {
    const ports = nodes.map((n) => n.port);
    const keys = Array.from({ length: 12 }, (_, i) => `stop:${i}`);
    const leaders = leaderCounts(await ledGroups(nodes));
    let victim: RunningNode | undefined;
    for (const n of nodes.slice(1)) {
      const own = await groupsOf(n.port);
      if (own.some((g) => g.role === "leader" && leaders.has(g.lead))) victim = n;
    }
    assert.ok(victim !== undefined);
    const others = ports.filter((p) => p !== victim.port);
    const work = runWorkload(others, keys, 4);
    await new Promise((r) => setTimeout(r, 1000));
    victim.proc.kill("SIGSTOP");
    await new Promise((r) => setTimeout(r, 5000));
    victim.proc.kill("SIGCONT");
    await new Promise((r) => setTimeout(r, 3000));
    await work.stop();
    assert.ok(work.acked > 20, "writes went on");
    assertLinearizable(work.history);
  });

  it("sends cluster clients straight to a shard's new leader: MOVED on the redirect port", async () => {
    const key = "moves:{r}";
    const seed = nodes[0] as RunningNode;
    const ask = new Redis({ port: seed.port });
    const info = async (n: RunningNode): Promise<number> => {
      const r = new Redis({ port: n.port, lazyConnect: true, maxRetriesPerRequest: 0 });
      try {
        const text = String(await r.info("cluster"));
        return Number(/cluster_forwarded_commands:(\d+)/.exec(text)?.[1]);
      } finally {
        r.disconnect();
      }
    };
    const forwardedTotal = async (): Promise<number> =>
      (await Promise.all(nodes.map(info))).reduce((a, b) => a + b, 0);
    const slot = Number(await ask.call("CLUSTER", "KEYSLOT", key));
    /** The redirect port CLUSTER SLOTS names for the key's slot, asked on `port`. */
    const masterPort = async (port: number): Promise<number> => {
      const r = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0 });
      try {
        const ranges = (await r.call("CLUSTER", "SLOTS")) as [number, number, [string, number]][];
        const range = ranges.find(([from, to]) => from <= slot && slot <= to);
        return Number(range?.[2][1]);
      } finally {
        r.disconnect();
      }
    };
    const nr = createCluster({ rootNodes: [{ url: `redis://127.0.0.1:${seed.port}` }] });
    nr.on("error", () => {});
    await nr.connect();
    // No periodic refresh of the slot map: only MOVED can send it to the new leader.
    const io = new Cluster([{ host: "127.0.0.1", port: seed.port }], {
      slotsRefreshInterval: 600_000,
    });
    const plainClients: Redis[] = [];
    try {
      for (const n of nodes) assert.ok(n.redirectPort > 0 && n.redirectPort !== n.port);
      const leaderPort = await masterPort(seed.port);
      const led = nodes.find((n) => n.redirectPort === leaderPort);
      assert.ok(led !== undefined, `slot ${slot} led at ${leaderPort}`);
      const other = nodes.find((n) => n !== led) as RunningNode;
      // On the Redis port a command for a slot led elsewhere is forwarded; on the redirect
      // port it is answered MOVED with the leader's redirect port, as the slot map says.
      const viaPort = new Redis({ port: other.port });
      const viaRedirect = new Redis({ port: other.redirectPort, maxRetriesPerRequest: 0 });
      plainClients.push(ask, viaPort, viaRedirect);
      const before = await info(other);
      assert.equal(await viaPort.set(key, "plain"), "OK");
      assert.equal(await info(other), before + 1);
      await assert.rejects(
        viaRedirect.set(key, "aware"),
        new RegExp(`^ReplyError: MOVED ${slot} 127\\.0\\.0\\.1:${led.redirectPort}$`),
      );
      const line = String(await viaPort.call("CLUSTER", "NODES"))
        .split("\n")
        .find((l) => l.includes(`:${led.redirectPort}@`));
      assert.ok(line !== undefined, "CLUSTER NODES names the redirect port");
      // Both cluster clients write there, then the shard's leader moves away from a node
      // that stays up with their connections open (SIGSTOP, then SIGCONT).
      assert.equal(await nr.set(key, "nr"), "OK");
      assert.equal(await io.set(key, "io"), "OK");
      led.proc.kill("SIGSTOP");
      try {
        await waitFor("another node to lead the key's shard", 20_000, async () => {
          const p = await masterPort(other.port).catch(() => leaderPort);
          return p !== leaderPort;
        });
      } finally {
        led.proc.kill("SIGCONT");
      }
      await waitFor("the resumed node to know the new leader", 20_000, async () => {
        const p = await masterPort(led.port).catch(() => leaderPort);
        return p !== leaderPort;
      });
      const start = await forwardedTotal();
      for (let i = 0; i < 20; i++) {
        assert.equal(await nr.set(key, `nr${i}`), "OK");
        assert.equal(await io.set(key, `io${i}`), "OK");
      }
      assert.equal(await io.get(key), "io19");
      assert.equal(await forwardedTotal(), start, "no node forwarded a cluster client's write");
    } finally {
      await nr.close().catch(() => {});
      io.disconnect();
      for (const c of plainClients) c.disconnect();
    }
  });

  it("hands its leaderships over before a clean stop, and rejoins", async () => {
    const victim = nodes[1] as RunningNode;
    const id = await raftIdOf(victim.port);
    await waitFor("node 2 leads a shard", 30_000, async () =>
      (await groupsOf(victim.port)).some((g) => g.role === "leader" && g.lead === id),
    );
    const stopped = await Promise.race([
      victim.stop(),
      new Promise<string>((r) => setTimeout(() => r("still running after 20 s"), 20_000)),
    ]);
    assert.equal(
      stopped,
      0,
      `exit: ${stopped}; last log lines:\n${victim.logs.slice(-25).join("\n")}`,
    );
    const line = victim.logs.find((l) => l.includes("leaderships handed over before stopping"));
    assert.ok(line !== undefined, "the node says what it handed over");
    const { moved, kept } = JSON.parse(line) as { moved: number; kept: number };
    assert.ok(moved >= 1, line);
    assert.equal(kept, 0, line);
    nodes[1] = await startNode(victim.dir, [
      "--cluster",
      "--join",
      `127.0.0.1:${(nodes[0] as RunningNode).port}`,
    ]);
    await waitPlaced(nodes, 3);
    await waitRegistered(nodes);
  });

  it("stops cleanly on SIGTERM and restarts as a whole with its data", async () => {
    // Every node at once: no shard leader is left to recreate a replica by messaging it,
    // so each node must reopen its shards from its own raft log.
    for (const code of await Promise.all(nodes.map((n) => n.stop()))) assert.equal(code, 0);
    const first = await startNode((nodes[0] as RunningNode).dir, ["--cluster"]);
    nodes[0] = first;
    const seed = `127.0.0.1:${first.port}`;
    for (let i = 1; i < nodes.length; i++) {
      nodes[i] = await startNode((nodes[i] as RunningNode).dir, ["--cluster", "--join", seed]);
    }
    await waitPlaced(nodes, 3);
    await waitRegistered(nodes);
    const cluster = new Cluster([{ host: "127.0.0.1", port: first.port }]);
    try {
      for (let i = 0; i < 50; i++) assert.equal(await cluster.get(`key:${i}`), `value:${i}`);
      assert.equal(await cluster.set("after-restart", "yes"), "OK");
      assert.equal(await cluster.get("after-restart"), "yes");
    } finally {
      cluster.disconnect();
    }
  });

  it("answers DBSIZE, KEYS and SCAN for each node's share, RANDOMKEY and FLUSHALL for all", async () => {
    const plain = new Redis({ port: (nodes[2] as RunningNode).port });
    const other = new Redis({ port: (nodes[0] as RunningNode).port });
    const each = nodes.map((n) => new Redis({ port: n.port }));
    try {
      for (let i = 0; i < 100; i++) await plain.set(`ks:${i}`, "v");
      // What cluster clients send: accepted; redis-cli --cluster checks cluster_enabled.
      assert.equal(await plain.call("READONLY"), "OK");
      assert.equal(await plain.call("ASKING"), "OK");
      assert.equal(await plain.call("READWRITE"), "OK");
      assert.match(await plain.info("cluster"), /cluster_enabled:1/);
      // Each node answers for the shards it leads, as a Redis Cluster primary does for its
      // slots: the shares are disjoint and together the whole key space. Counted node after
      // node, so a leadership the controller moves meanwhile (it still spreads leaders
      // after the restart above) can count a shard twice or not at all: counted again then.
      const shares = async () => {
        let total = 0;
        const listed: string[] = [];
        const scanned: string[] = [];
        for (const r of each) {
          const size = await r.dbsize();
          const info = Number(/db0:keys=(\d+)/.exec(await r.info("keyspace"))?.[1] ?? 0);
          assert.equal(info, size, "INFO keyspace and DBSIZE count the same share");
          total += size;
          listed.push(...(await r.keys("ks:*")));
          let cursor = "0";
          let calls = 0;
          do {
            const [next, keys] = await r.scan(cursor, "MATCH", "ks:*", "COUNT", 7);
            scanned.push(...keys);
            cursor = next;
            calls += 1;
          } while (cursor !== "0" && calls < 1000);
        }
        return { total, listed, scanned };
      };
      let s = await shares();
      for (let i = 0; i < 20 && (s.listed.length !== 100 || new Set(s.scanned).size !== 100); i++) {
        await new Promise((r) => setTimeout(r, 500));
        s = await shares();
      }
      assert.ok(s.total >= 100, `DBSIZE summed over the nodes: ${s.total}`);
      assert.equal(s.listed.length, 100, "KEYS over the nodes: every key once");
      assert.equal(new Set(s.listed).size, 100);
      assert.equal(new Set(s.scanned).size, 100, "SCAN over the nodes visits every key");
      // node-redis's cluster mode sends DBSIZE and SCAN to every primary and adds up.
      const nr = createCluster({ rootNodes: [{ url: `redis://127.0.0.1:${other.options.port}` }] });
      nr.on("error", () => {});
      await nr.connect();
      try {
        await waitFor("node-redis's DBSIZE to be the nodes' sum", 10_000, async () => {
          const total = (await shares()).total;
          return (await nr.dbSize()) === total;
        });
        assert.equal((await nr.keys("ks:*")).length, 100);
        // A leadership the controller moves during a scan can hide a shard from it, as
        // above: scanned again then (a few times at most).
        const scanAll = async () => {
          const seen: string[] = [];
          let cursor = "0";
          let calls = 0;
          do {
            const r = await nr.scan(cursor, { MATCH: "ks:*", COUNT: 10 });
            seen.push(...r.keys);
            cursor = String(r.cursor);
            calls += 1;
          } while (cursor !== "0" && calls < 1000);
          return new Set(seen).size;
        };
        let visited = await scanAll();
        for (let i = 0; i < 5 && visited !== 100; i++) {
          await new Promise((r) => setTimeout(r, 500));
          visited = await scanAll();
        }
        assert.equal(visited, 100, "node-redis's SCAN visits every key");
      } finally {
        await nr.close();
      }
      // With ioredis one asks each master, as of a Redis Cluster.
      const io = new Cluster([{ host: "127.0.0.1", port: other.options.port }]);
      try {
        await waitFor("ioredis's masters' DBSIZE to be the nodes' sum", 10_000, async () => {
          await io.dbsize(); // connects and learns the slot map
          const masters = io.nodes("master");
          const sizes = await Promise.all(masters.map((m) => m.dbsize()));
          return sizes.reduce((a, b) => a + b, 0) === (await shares()).total;
        });
      } finally {
        io.disconnect();
      }
      assert.notEqual(await plain.randomkey(), null);
      assert.equal(await plain.flushall(), "OK", "FLUSHALL from one node empties every shard");
      for (const r of each) assert.equal(await r.dbsize(), 0);
      assert.equal(await other.randomkey(), null);
    } finally {
      plain.disconnect();
      other.disconnect();
      for (const r of each) r.disconnect();
    }
  });

  it("answers CLUSTER COUNTKEYSINSLOT and GETKEYSINSLOT for the whole cluster from any node", async () => {
    const each = nodes.map((n) => new Redis({ port: n.port }));
    const io = new Cluster([{ host: "127.0.0.1", port: (nodes[0] as RunningNode).port }]);
    try {
      const keys = Array.from({ length: 25 }, (_, i) => `{slotted}:${i}`);
      for (const k of keys) await io.set(k, "v");
      await io.set("elsewhere", "v");
      const slot = Number(await (each[0] as Redis).call("CLUSTER", "KEYSLOT", "{slotted}"));
      for (const r of each) {
        // Every node answers for the slot, whichever leads its shard (Redis Cluster answers
        // for its own slots only).
        assert.equal(await r.call("CLUSTER", "COUNTKEYSINSLOT", String(slot)), 25);
        const all = (await r.call("CLUSTER", "GETKEYSINSLOT", String(slot), "100")) as string[];
        assert.deepEqual([...all].sort(), [...keys].sort());
        const some = (await r.call("CLUSTER", "GETKEYSINSLOT", String(slot), "10")) as string[];
        assert.equal(some.length, 10);
        assert.equal(await r.call("CLUSTER", "COUNTKEYSINSLOT", String((slot + 1) % 16384)), 0);
      }
      // A cluster-aware connection is answered, not redirected.
      const master = io.nodes("master")[0] as Redis;
      assert.equal(await master.call("CLUSTER", "COUNTKEYSINSLOT", String(slot)), 25);
      // Redis's errors.
      const r = each[1] as Redis;
      await assert.rejects(
        r.call("CLUSTER", "COUNTKEYSINSLOT", "16384"),
        /^ReplyError: ERR Invalid slot$/,
      );
      await assert.rejects(r.call("CLUSTER", "COUNTKEYSINSLOT", "x"), /not an integer/);
      await assert.rejects(
        r.call("CLUSTER", "GETKEYSINSLOT", String(slot), "-1"),
        /ERR Invalid slot or number of keys/,
      );
      await assert.rejects(
        r.call("CLUSTER", "GETKEYSINSLOT", String(slot)),
        /wrong number of arguments/,
      );
      await assert.rejects(r.call("HOMEOSTAT", "SLOTKEYS", "0"), /sent between nodes/);
      await io.del(...keys);
      await io.del("elsewhere");
    } finally {
      io.disconnect();
      for (const r of each) r.disconnect();
    }
  });

  it("applies, shows and lists contract versions, and journals them", () => {
    const port = String((nodes[1] as RunningNode).port);
    const dir = tempDir();
    dirs.push(dir);
    const good = join(dir, "contract.yaml");
    writeFileSync(good, "durability:\n  replicas: 3\navailability:\n  deadNodeAfter: 10m\n");
    const applied = cli(["contract", "apply", good, "-p", port]);
    assert.equal(applied.code, 0, applied.err);
    assert.match(applied.out, /contract version 1 applied/);
    assert.match(applied.out, /feasible with the nodes present/);
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "durability:\n  replica: 3\n");
    const refused = cli(["contract", "apply", bad, "-p", port]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.err,
      /bad.yaml:2:3 durability.replica: unknown field 'replica' \(did you mean 'replicas'\?\)/,
    );
    const show = cli(["contract", "show", "-p", String((nodes[2] as RunningNode).port)]);
    assert.match(show.out, /# version 1, applied/);
    assert.match(show.out, /deadNodeAfter: 10m/);
    const history = cli(["contract", "history", "-p", port]);
    assert.match(history.out, /version 1 .* replicas 3 {2}dead node after 600 s/);
    const journal = cli(["journal", "-p", port]);
    assert.match(journal.out, /contract {2}contract version 1 applied \(replicas 3\)/);
  });

  it("answers a contract applied across a pause of the meta leader with its outcome", async () => {
    const metaRoles = async (n: RunningNode) =>
      (await groupsOf(n.port)).find((g) => g.group === 0)?.role;
    let leader: RunningNode | undefined;
    for (const n of nodes) if ((await metaRoles(n)) === "leader") leader = n;
    assert.ok(leader !== undefined, "a meta leader");
    const others = nodes.filter((n) => n !== leader);
    const r = new Redis({ port: leader.port, maxRetriesPerRequest: 0 });
    try {
      await r.ping();
      // The followers cannot answer: the proposal waits on the leader, its append in their
      // sockets. Then the leader pauses, the followers elect another, and it resumes to
      // find itself a follower with the proposal still unsettled.
      for (const n of others) n.proc.kill("SIGSTOP");
      const text = "durability:\n  replicas: 3\navailability:\n  deadNodeAfter: 20m\n";
      const reply = r.call("HOMEOSTAT", "CONTRACT", "APPLY", text).then(
        (v) => ({ ok: true, text: JSON.stringify(v) }),
        (e: Error) => ({ ok: false, text: e.message }),
      );
      await new Promise((res) => setTimeout(res, 300));
      leader.proc.kill("SIGSTOP");
      for (const n of others) n.proc.kill("SIGCONT");
      await waitFor("another meta leader", 20_000, async () => {
        for (const n of others) if ((await metaRoles(n)) === "leader") return true;
        return false;
      });
      leader.proc.kill("SIGCONT");
      const got = await reply;
      // The append reached the followers, so the new leader commits it: the paused one
      // learns so as it applies the meta log, and answers with the result. A lost append
      // would give "not applied"; never an internal error, never a dead node.
      if (got.ok) assert.match(got.text, /contract version 2 applied/);
      else assert.match(got.text, /not applied|outcome unknown/);
    } finally {
      for (const n of nodes) n.proc.kill("SIGCONT");
      r.disconnect();
    }
    await new Promise((res) => setTimeout(res, 1000));
    for (const n of nodes) assert.equal(n.proc.exitCode, null, "every node is still up");
  });
});

/** Runs the homeostat CLI; its exit code, stdout and stderr. */
function cli(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe("a 5-node cluster (real processes)", { timeout: 300_000 }, () => {
  const nodes: RunningNode[] = [];
  const dirs: string[] = [];
  cleanUpAfter(nodes, dirs);

  it("places 3 replicas per shard over 5 nodes and serves a workload linearizably", async () => {
    // A node silent for 3 s counts as dead (the last test), not the default 5 minutes.
    await startCluster(5, nodes, dirs, ["--dead-node-after", "3"]);
    await waitPlaced(nodes, 5);
    await waitFor("leaders on at least 4 of the 5 nodes", 30_000, async () => {
      const c = leaderCounts(await ledGroups(nodes));
      return c.size >= 4 && Math.max(...c.values()) <= 2;
    });
    const work = runWorkload(
      nodes.map((n) => n.port),
      Array.from({ length: 10 }, (_, i) => `five:${i}`),
      5,
    );
    await new Promise((r) => setTimeout(r, 3000));
    await work.stop();
    assert.ok(work.acked > 20);
    assertLinearizable(work.history);
  });

  it("rebuilds a SIGKILLed node's replicas on the other nodes", async (t) => {
    const cluster = new Cluster([{ host: "127.0.0.1", port: (nodes[0] as RunningNode).port }]);
    try {
      for (let i = 0; i < 40; i++) {
        assert.equal(await cluster.set(`dead:${i}`, `v${i}`), "OK");
        assert.equal(await cluster.hset(`deadh:${i}`, "f", `v${i}`, "g", String(i)), 2);
      }
    } finally {
      cluster.disconnect();
    }
    // Not the first node (raft id 1, which created the cluster and likely leads meta).
    const victim = nodes[3] as RunningNode;
    const deadId = await raftIdOf(victim.port);
    const held = (await ledGroups(nodes)).filter((g) => g.voters.includes(deadId));
    assert.ok(held.length > 0, "the victim holds replicas");
    const killedAt = Date.now();
    await victim.kill();
    const live = nodes.filter((n) => n !== victim);
    await waitFor("every shard at 3 live voters, none on the dead node", 120_000, async () => {
      const groups = await ledGroups(live);
      return (
        groups.length === shards &&
        groups.every(
          (g) => g.voters.length === 3 && !g.voters.includes(deadId) && g.learners.length === 0,
        )
      );
    });
    const restoredS = (Date.now() - killedAt) / 1000;
    assert.ok(restoredS >= 3, `nothing moved before the dead-node time (${restoredS} s)`);
    const journal = cli(["journal", "-p", String((live[0] as RunningNode).port)]).out;
    assert.match(journal, /repair {2}group \d+: add-learner/, "repairs journaled");
    assert.match(journal, new RegExp(`node ${deadId} silent for`), "with how long it was silent");
    assert.match(journal, /repair {2}done: group \d+: remove/);
    t.diagnostic(
      `${held.length} shards back at 3 live voters ${restoredS.toFixed(1)} s after the kill`,
    );
    const plain = new Redis({ port: (live[1] as RunningNode).port });
    try {
      for (let i = 0; i < 40; i++) {
        assert.equal(await plain.get(`dead:${i}`), `v${i}`);
        assert.deepEqual(await plain.hgetall(`deadh:${i}`), { f: `v${i}`, g: String(i) });
      }
    } finally {
      plain.disconnect();
    }
  });

  it("drains a node with `homeostat node remove` while ioredis keeps writing", async (t) => {
    const live = nodes.filter((n) => n.proc.exitCode === null && n.proc.signalCode === null);
    const leaving = live[live.length - 1] as RunningNode;
    const leavingId = await raftIdOf(leaving.port);
    const stay = live.filter((n) => n !== leaving);
    const cluster = new Cluster([{ host: "127.0.0.1", port: (stay[0] as RunningNode).port }]);
    let writes = 0;
    const errors: string[] = [];
    let stop = false;
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        try {
          await cluster.set(`drain:${i % 200}`, String(i));
          writes += 1;
        } catch (err) {
          errors.push(String(err));
        }
      }
    })();
    try {
      await new Promise((r) => setTimeout(r, 500));
      const out = execFileSync(
        process.execPath,
        [CLI, "node", "remove", String(leavingId), "-p", String((stay[1] as RunningNode).port)],
        { encoding: "utf8" },
      );
      assert.match(out, /draining/);
      const started = Date.now();
      await waitFor("the node holds no replica and is removed", 120_000, async () => {
        const groups = await ledGroups(stay);
        return (
          groups.length === shards &&
          groups.every(
            (g) =>
              g.voters.length === 3 &&
              !g.voters.includes(leavingId) &&
              !g.learners.includes(leavingId),
          )
        );
      });
      t.diagnostic(`drained in ${((Date.now() - started) / 1000).toFixed(1)} s, ${writes} writes`);
    } finally {
      stop = true;
      await writer;
      cluster.disconnect();
    }
    assert.deepEqual(errors, [], "no write failed beyond ioredis's own retries");
    assert.ok(writes > 50, `writes went on (${writes})`);
  });
});

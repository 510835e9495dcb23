import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { describe, it } from "node:test";
import { Cluster } from "ioredis";
import {
  CLUSTER_ERRORS,
  type ClusterView,
  clusterDown,
  clusterInfo,
  clusterKeyslot,
  clusterMyId,
  clusterNodes,
  clusterShards,
  clusterSlots,
  crossSlot,
  moved,
  tryAgain,
} from "../../src/cluster/replies.js";
import type { ClusterNode } from "../../src/cluster/shard-map.js";
import { encodeReply } from "../../src/resp/encoder.js";
import { array, bulk, error, integer, map } from "../../src/resp/reply.js";
import type { Reply } from "../../src/resp/types.js";
import { outcomeUnknownText } from "../../src/server/cluster-router.js";
import { node, shard, shardMap } from "./helpers.js";

const [n1, n2, n3, n4, n5] = [1, 2, 3, 4, 5].map((id) => node(id)) as [
  ClusterNode,
  ClusterNode,
  ClusterNode,
  ClusterNode,
  ClusterNode,
];

/**
 * Five nodes: 1 leads shards 1 and 3, 2 leads shard 2 (and answers), 3 only follows,
 * 4 is a learner of shard 3, 5 holds nothing yet.
 */
const view: ClusterView = {
  myself: 2,
  nodes: [n1, n2, n3, n4, n5],
  map: shardMap(
    [
      shard(1, [[0, 5460]], [1, 2, 3], 1),
      shard(2, [[5461, 10922]], [3, 2, 1], 2),
      shard(3, [[10923, 16383]], [1, 2, 3], 1, [4]),
    ],
    7,
  ),
  offset: (s, raftId) => s * 1000 + raftId,
};

const slotsNode = (n: ClusterNode): Reply =>
  array([bulk(n.host), integer(n.port), bulk(n.id), map([])]);
const slotsEntry = (start: number, end: number, ...nodes: ClusterNode[]): Reply =>
  array([integer(start), integer(end), ...nodes.map(slotsNode)]);
const text = (reply: Reply): string => {
  assert.equal(reply.kind, "verbatim");
  return reply.kind === "verbatim" ? reply.value : "";
};
const wire = (reply: Reply, proto: 2 | 3) => encodeReply(reply, proto).toString("latin1");

describe("CLUSTER SLOTS", () => {
  it("lists each shard's range with its leader first, then its other voters", () => {
    assert.deepEqual(
      clusterSlots(view),
      array([
        slotsEntry(0, 5460, n1, n2, n3),
        slotsEntry(5461, 10922, n2, n1, n3),
        slotsEntry(10923, 16383, n1, n2, n3),
      ]),
    );
  });

  it("encodes each node as Redis 7 does: endpoint, port, id and an empty map", () => {
    const one = clusterSlots({ ...view, map: shardMap([shard(1, [[0, 16383]], [1], 1)]) });
    const node1 = `*4\r\n$8\r\n10.0.0.1\r\n:6379\r\n$40\r\n${n1.id}\r\n`;
    assert.equal(wire(one, 2), `*1\r\n*3\r\n:0\r\n:16383\r\n${node1}*0\r\n`);
    assert.equal(wire(one, 3), `*1\r\n*3\r\n:0\r\n:16383\r\n${node1}%0\r\n`);
  });

  it("stands a live voter in for a failed leader, drops failed replicas, joins ranges", () => {
    const failed = { ...view, failed: new Set([1]) };
    // Every shard is now served by node 2 then node 3: one range, as Redis would merge it.
    assert.deepEqual(clusterSlots(failed), array([slotsEntry(0, 16383, n2, n3)]));
    const leaderless = {
      ...view,
      map: shardMap([shard(1, [[0, 16383]], [3, 2], null)]),
    };
    assert.deepEqual(clusterSlots(leaderless), array([slotsEntry(0, 16383, n2, n3)]));
  });

  it("leaves out shards with no voter in the registry and learners", () => {
    const partial = {
      ...view,
      map: shardMap([shard(1, [[0, 99]], [9], 9), shard(2, [[100, 16383]], [5], 5, [4])]),
    };
    assert.deepEqual(clusterSlots(partial), array([slotsEntry(100, 16383, n5)]));
  });
});

describe("CLUSTER SHARDS", () => {
  const shardsNode = (
    n: ClusterNode,
    role: string,
    offset: number,
    health = "online",
    hostname?: string,
  ): Reply =>
    map(
      (
        [
          ["id", bulk(n.id)],
          ["port", integer(n.port)],
          ["ip", bulk(n.host)],
          ["endpoint", bulk(n.host)],
          ...(hostname === undefined ? [] : [["hostname", bulk(hostname)]]),
          ["role", bulk(role)],
          ["replication-offset", integer(offset)],
          ["health", bulk(health)],
        ] as [string, Reply][]
      ).map(([k, v]) => [bulk(k), v] as const),
    );

  it("gives each shard its slots and its nodes, master first, in Redis 7's shape", () => {
    const reply = clusterShards(view);
    assert.equal(reply.kind, "array");
    if (reply.kind !== "array") return;
    assert.equal(reply.value.length, 3);
    assert.deepEqual(
      reply.value[2],
      map([
        [bulk("slots"), array([integer(10923), integer(16383)])],
        [
          bulk("nodes"),
          array([
            shardsNode(n1, "master", 3001),
            shardsNode(n2, "replica", 3002),
            shardsNode(n3, "replica", 3003),
            shardsNode(n4, "replica", 3004, "loading"),
          ]),
        ],
      ]),
    );
    assert.deepEqual(
      reply.value[1],
      map([
        [bulk("slots"), array([integer(5461), integer(10922)])],
        [
          bulk("nodes"),
          array([
            shardsNode(n2, "master", 2002),
            shardsNode(n1, "replica", 2001),
            shardsNode(n3, "replica", 2003),
          ]),
        ],
      ]),
    );
  });

  it("lists a shard's ranges flat, reports failed nodes and host names", () => {
    const named = { ...n1, host: "db-1.example.com" };
    const reply = clusterShards({
      myself: 1,
      nodes: [named, n2],
      map: shardMap([
        shard(
          1,
          [
            [100, 16383],
            [0, 9],
          ],
          [1, 2],
          1,
        ),
      ]),
      failed: new Set([2]),
    });
    assert.deepEqual(
      reply,
      array([
        map([
          [bulk("slots"), array([integer(0), integer(9), integer(100), integer(16383)])],
          [
            bulk("nodes"),
            array([
              shardsNode(named, "master", 0, "online", "db-1.example.com"),
              shardsNode(n2, "replica", 0, "fail"),
            ]),
          ],
        ]),
      ]),
    );
  });
});

describe("CLUSTER NODES", () => {
  it("gives each node one line: masters own the slots they lead, others follow one", () => {
    assert.equal(
      text(clusterNodes(view)),
      [
        `${n1.id} 10.0.0.1:6379@16379 master - 0 0 7 connected 0-5460 10923-16383\n`,
        `${n2.id} 10.0.0.2:6379@16379 myself,master - 0 0 7 connected 5461-10922\n`,
        `${n3.id} 10.0.0.3:6379@16379 slave ${n1.id} 0 0 7 connected\n`,
        `${n4.id} 10.0.0.4:6379@16379 slave ${n1.id} 0 0 7 connected\n`,
        `${n5.id} 10.0.0.5:6379@16379 master - 0 0 7 connected\n`,
      ].join(""),
    );
  });

  it("flags failed nodes, hands their slots to a stand-in, prints single slots bare", () => {
    const lines = text(
      clusterNodes({
        ...view,
        nodes: [n1, n2, n3, { ...n4, host: "db-4.example.com" }],
        map: shardMap(
          [shard(1, [[0, 0]], [1, 2, 3], 1), shard(2, [[1, 16383]], [1, 2, 3], 2, [4])],
          7,
        ),
        failed: new Set([1]),
      }),
    ).split("\n");
    assert.deepEqual(lines, [
      `${n1.id} 10.0.0.1:6379@16379 slave,fail ${n2.id} 0 0 7 disconnected`,
      `${n2.id} 10.0.0.2:6379@16379 myself,master - 0 0 7 connected 0-16383`,
      `${n3.id} 10.0.0.3:6379@16379 slave ${n2.id} 0 0 7 connected`,
      `${n4.id} db-4.example.com:6379@16379,db-4.example.com slave ${n2.id} 0 0 7 connected`,
      "",
    ]);
    const single = text(
      clusterNodes({ ...view, map: shardMap([shard(1, [[5, 5]], [1], 1)]), failed: new Set() }),
    );
    assert.match(single, / connected 5\n/);
  });

  it("is a verbatim string in RESP3 and a bulk string in RESP2", () => {
    const reply = clusterNodes(view);
    const body = text(reply);
    assert.equal(wire(reply, 2), `$${body.length}\r\n${body}\r\n`);
    assert.equal(wire(reply, 3), `=${body.length + 4}\r\ntxt:${body}\r\n`);
  });
});

describe("CLUSTER INFO", () => {
  const fields = (v: ClusterView) =>
    Object.fromEntries(
      text(clusterInfo(v))
        .split("\r\n")
        .filter((l) => l !== "")
        .map((l) => l.split(":") as [string, string]),
    );

  it("prints Redis's fields in Redis's order, CRLF-terminated", () => {
    assert.equal(
      text(clusterInfo(view, { messagesSent: 12, messagesReceived: 34 })),
      [
        "cluster_state:ok",
        "cluster_slots_assigned:16384",
        "cluster_slots_ok:16384",
        "cluster_slots_pfail:0",
        "cluster_slots_fail:0",
        "cluster_known_nodes:5",
        "cluster_size:2",
        "cluster_current_epoch:7",
        "cluster_my_epoch:7",
        "cluster_stats_messages_sent:12",
        "cluster_stats_messages_received:34",
        "total_cluster_links_buffer_limit_exceeded:0",
        "",
      ].join("\r\n"),
    );
  });

  it("counts slots electing a leader as pfail and slots without a majority as fail", () => {
    const one = fields({ ...view, failed: new Set([1]) });
    assert.equal(one.cluster_state, "ok");
    assert.equal(one.cluster_slots_ok, "5462");
    assert.equal(one.cluster_slots_pfail, "10922");
    assert.equal(one.cluster_slots_fail, "0");
    assert.equal(one.cluster_size, "1");
    const two = fields({ ...view, failed: new Set([1, 2]) });
    assert.equal(two.cluster_state, "fail");
    assert.equal(two.cluster_slots_ok, "0");
    assert.equal(two.cluster_slots_fail, "16384");
  });

  it("fails while some slots have no shard", () => {
    const partial = fields({ ...view, map: shardMap([shard(1, [[0, 8191]], [1], 1)], 3) });
    assert.equal(partial.cluster_state, "fail");
    assert.equal(partial.cluster_slots_assigned, "8192");
    assert.equal(partial.cluster_current_epoch, "3");
  });
});

describe("small replies and errors", () => {
  it("answers CLUSTER KEYSLOT and CLUSTER MYID", () => {
    assert.deepEqual(clusterKeyslot(Buffer.from("somekey")), integer(11058));
    assert.deepEqual(clusterKeyslot(Buffer.from("foo{hash_tag}")), integer(2515));
    assert.deepEqual(clusterMyId(n2), bulk(n2.id));
  });

  it("uses Redis's exact error texts", () => {
    assert.equal(wire(moved(3999, n3), 2), "-MOVED 3999 10.0.0.3:6379\r\n");
    assert.equal(wire(moved(1, { host: "::1", port: 7000 }), 2), "-MOVED 1 ::1:7000\r\n");
    assert.equal(
      wire(crossSlot(), 2),
      "-CROSSSLOT Keys in request don't hash to the same slot\r\n",
    );
    assert.equal(
      wire(tryAgain(), 3),
      "-TRYAGAIN Multiple keys request during rehashing of slot\r\n",
    );
    assert.equal(wire(clusterDown(), 2), "-CLUSTERDOWN The cluster is down\r\n");
    assert.equal(
      wire(clusterDown("readonly"), 2),
      "-CLUSTERDOWN The cluster is down and only accepts read commands\r\n",
    );
    assert.equal(wire(clusterDown("unbound"), 2), "-CLUSTERDOWN Hash slot not served\r\n");
    for (const [name, entry] of Object.entries(CLUSTER_ERRORS)) {
      assert.match(entry.message, /^(CROSSSLOT|TRYAGAIN|CLUSTERDOWN) \S/, name);
      assert.ok(entry.meaning.length > 10, name);
    }
  });

  it("names a node's redirect port, where cluster clients go, in MOVED and the slot map", () => {
    const r1 = { ...n1, redirectPort: 26379 };
    const r2 = { ...n2, redirectPort: 26380 };
    const v: ClusterView = { ...view, nodes: [r1, r2, n3, n4, n5] };
    assert.equal(wire(moved(3999, r1), 2), "-MOVED 3999 10.0.0.1:26379\r\n");
    const items = (r: Reply): readonly Reply[] => (r.kind === "array" ? r.value : []);
    const first = items(items(clusterSlots(v))[0] as Reply);
    assert.deepEqual(first[2], array([bulk(r1.host), integer(26379), bulk(r1.id), map([])]));
    assert.deepEqual(first[4], slotsNode(n3), "a node without one: its Redis port");
    const lines = text(clusterNodes(v)).split("\n");
    assert.ok(lines.some((l) => l.startsWith(`${r2.id} 10.0.0.2:26380@16379 myself,`)));
    assert.ok(lines.some((l) => l.startsWith(`${n3.id} 10.0.0.3:6379@16379 `)));
    const shardPorts = wire(clusterShards(v), 2).match(/\$4\r\nport\r\n:(\d+)/g) ?? [];
    assert.ok(
      shardPorts.some((p) => p.endsWith(":26379")),
      "CLUSTER SHARDS",
    );
  });
});

// ---- through ioredis's own code ----------------------------------------------------------

/** ioredis's RESP parser (redis-parser, its dependency), reached from ioredis itself. */
interface RespParser {
  execute(bytes: Buffer): void;
}
type RespParserClass = new (options: {
  returnReply: (reply: unknown) => void;
  returnError: (error: Error) => void;
}) => RespParser;
const requireFromIoredis = createRequire(createRequire(import.meta.url).resolve("ioredis"));
const RedisParser = requireFromIoredis("redis-parser") as RespParserClass;

/** What an ioredis connection hands its callback for this reply, sent as RESP2. */
function asIoredisSees(reply: Reply): unknown {
  const out: unknown[] = [];
  const parser = new RedisParser({
    returnReply: (r) => out.push(r),
    returnError: (e) => out.push(e),
  });
  parser.execute(encodeReply(reply, 2));
  assert.equal(out.length, 1);
  return out[0];
}

type Callback = (err: Error | null, result?: unknown) => void;

/** The parts of ioredis's Cluster these tests drive, all present in ioredis 5. */
interface ClusterInternals {
  slots: string[][];
  getInfoFromNode(redis: unknown, callback: (err?: Error) => void): void;
  handleError(error: Error, ttl: object, handlers: Record<string, (...a: string[]) => void>): void;
  natMapper(key: string): { host: string; port: number };
  readyCheck(callback: (err: Error | null | undefined, state?: string) => void): void;
  cluster(sub: string, callback: Callback): void;
}

function lazyCluster(): { cluster: Cluster; internals: ClusterInternals } {
  const cluster = new Cluster([{ host: n1.host, port: n1.port }], { lazyConnect: true });
  return { cluster, internals: cluster as unknown as ClusterInternals };
}

describe("ioredis cluster mode reads these replies", () => {
  it("builds its slot table and master/replica pools from CLUSTER SLOTS", async () => {
    const { cluster, internals } = lazyCluster();
    const answer = asIoredisSees(clusterSlots(view));
    const connection = {
      on: () => undefined,
      disconnect: () => undefined,
      cluster: (sub: string, callback: Callback) => {
        assert.equal(sub, "SLOTS");
        callback(null, answer);
      },
    };
    await new Promise<void>((resolve, reject) =>
      internals.getInfoFromNode({ duplicate: () => connection }, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    const key = (n: ClusterNode) => `${n.host}:${n.port}`;
    assert.deepEqual(internals.slots[0], [key(n1), key(n2), key(n3)]);
    assert.deepEqual(internals.slots[5461], [key(n2), key(n1), key(n3)]);
    assert.deepEqual(internals.slots[16383], [key(n1), key(n2), key(n3)]);
    assert.equal(internals.slots.filter((s) => s !== undefined).length, 16384);
    // A node that is master of one range and replica of another is kept as a master.
    const pool = (role: "master" | "slave") =>
      cluster
        .nodes(role)
        .map((r) => `${r.options.host}:${r.options.port}`)
        .sort();
    assert.deepEqual(pool("master"), [key(n1), key(n2)]);
    assert.deepEqual(pool("slave"), [key(n3)]);
    cluster.disconnect();
  });

  it("follows MOVED to the node it names, IPv6 included", () => {
    const { cluster, internals } = lazyCluster();
    const seen: string[][] = [];
    const handlers = {
      moved: (slot: string, key: string) => seen.push(["moved", slot, key]),
      defaults: () => seen.push(["defaults"]),
    };
    internals.handleError(asIoredisSees(moved(3999, n3)) as Error, {}, handlers);
    internals.handleError(
      asIoredisSees(moved(1, { host: "::1", port: 7000 })) as Error,
      {},
      handlers,
    );
    assert.deepEqual(seen, [
      ["moved", "3999", "10.0.0.3:6379"],
      ["moved", "1", "::1:7000"],
    ]);
    assert.deepEqual(internals.natMapper("::1:7000"), { host: "::1", port: 7000 });
    cluster.disconnect();
  });

  it("sends a TRYAGAIN command again by itself, but hands UNCERTAIN to the caller", async () => {
    const { cluster, internals } = lazyCluster();
    const seen: string[] = [];
    const handlers = {
      tryagain: () => seen.push("sent again"),
      defaults: () => seen.push("to the caller"),
    };
    // A write whose outcome is unknown: sent again, it could run twice.
    internals.handleError(asIoredisSees(error(outcomeUnknownText)) as Error, {}, handlers);
    assert.deepEqual(seen, ["to the caller"]);
    const noLeader = error("TRYAGAIN the shard is electing a leader; retry shortly");
    internals.handleError(asIoredisSees(noLeader) as Error, {}, handlers);
    await new Promise((r) => setTimeout(r, 250)); // retryDelayOnTryAgain: 100 ms
    assert.deepEqual(seen, ["to the caller", "sent again"]);
    cluster.disconnect();
  });

  it("reads cluster_state from CLUSTER INFO in its ready check", async () => {
    const { cluster, internals } = lazyCluster();
    const stateFor = (v: ClusterView) =>
      new Promise<string | undefined>((resolve, reject) => {
        internals.cluster = (sub, callback) => {
          assert.equal(sub, "INFO");
          callback(null, asIoredisSees(clusterInfo(v)));
        };
        internals.readyCheck((err, state) => (err ? reject(err) : resolve(state)));
      });
    assert.equal(await stateFor(view), undefined);
    assert.equal(await stateFor({ ...view, failed: new Set([1, 2]) }), "fail");
    cluster.disconnect();
  });

  it("sees CLUSTER NODES and CLUSTER SHARDS as plain strings and arrays", () => {
    assert.equal(asIoredisSees(clusterNodes(view)), text(clusterNodes(view)));
    const shards = asIoredisSees(clusterShards(view)) as unknown[][];
    assert.equal(shards.length, 3);
    assert.deepEqual((shards[0] as unknown[]).slice(0, 3), ["slots", [0, 5460], "nodes"]);
  });
});

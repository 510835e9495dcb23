import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import type { Redis } from "ioredis";
import { createClient } from "redis";
import { nodeForSuite, waitForBlocked, waitUntilServed } from "./harness.js";

/**
 * Streams against a real node over loopback, in both modes: a standalone node (the key
 * space in LMDB) and a one-node sharded cluster (every write a raft entry). Replies and
 * errors are checked in test/kv/streams.test.ts and by Redis's own unit/type/stream (npm run
 * conformance); here, what a client sees end to end, XREAD BLOCK, and that a stream
 * outlives a restart.
 */
for (const mode of ["--standalone", "--cluster"] as const) {
  describe(`streams on a node (${mode})`, () => {
    const suite = nodeForSuite([mode]);
    const connect = () => suite.connect();
    let client: Redis;

    before(async () => {
      client = await connect();
    });

    it("serves an event log through ioredis", async () => {
      const first = await client.xadd("events", "*", "type", "signup", "user", "ann");
      assert.match(String(first), /^\d+-\d+$/);
      await client.xadd("events", "*", "type", "login", "user", "ann");
      await client.xadd("events", "MAXLEN", "~", "1000", "*", "type", "logout", "user", "ann");
      assert.equal(await client.xlen("events"), 3);
      const all = await client.xrange("events", "-", "+");
      assert.deepEqual(
        all.map(([, fields]) => fields[1]),
        ["signup", "login", "logout"],
      );
      assert.equal(all[0]?.[0], first);
      const last = await client.xrevrange("events", "+", "-", "COUNT", 1);
      assert.deepEqual(last[0]?.[1], ["type", "logout", "user", "ann"]);
      const read = await client.xread("COUNT", 2, "STREAMS", "events", "0");
      assert.equal(read?.[0]?.[0], "events");
      assert.equal(read?.[0]?.[1].length, 2);
      assert.equal(await client.type("events"), "stream");
      await assert.rejects(client.get("events"), /WRONGTYPE/);
      assert.equal(await client.xdel("events", String(first)), 1);
      assert.equal(await client.xtrim("events", "MAXLEN", 1), 1);
      assert.equal(await client.xlen("events"), 1);
    });

    it("keeps its streams across a restart", async () => {
      for (let i = 1; i <= 150; i++) await client.xadd("kept", `${i}-0`, "i", String(i));
      await client.xdel("kept", "150-0");
      await suite.restart();
      client = await connect();
      await waitUntilServed(() => client.xlen("kept"));
      assert.equal(await client.xlen("kept"), 149);
      await assert.rejects(client.xadd("kept", "150-0", "i", "again"), /equal or smaller/);
      const info = (await client.call("XINFO", "STREAM", "kept")) as unknown[];
      assert.equal(info[info.indexOf("last-generated-id") + 1], "150-0");
      assert.equal(info[info.indexOf("radix-tree-keys") + 1], 2, "two nodes of entries");
    });

    it("XREAD BLOCK $ waits for an XADD from another client, then answers it", async () => {
      await client.xadd("{s}feed", "1-0", "old", "entry");
      const waiter = await connect();
      const read = waiter.xread("BLOCK", 0, "STREAMS", "{s}other", "{s}feed", "$", "$");
      await waitForBlocked(client, 1);
      await client.xadd("{s}feed", "2-0", "new", "entry");
      assert.deepEqual(await read, [["{s}feed", [["2-0", ["new", "entry"]]]]]);
      assert.equal(await waiter.ping(), "PONG");
      const started = Date.now();
      assert.equal(await waiter.xread("BLOCK", 200, "STREAMS", "{s}feed", "$"), null);
      assert.ok(Date.now() - started >= 190, "waited the timeout");
    });

    it("answers a RESP3 client's XREAD with a map", async () => {
      const r3 = createClient({ socket: { port: suite.node.port, host: "127.0.0.1" }, RESP: 3 });
      await r3.connect();
      try {
        await r3.sendCommand(["XADD", "r3", "7-0", "f", "v"]);
        const reply = await r3.sendCommand(["XREAD", "STREAMS", "r3", "0"]);
        // node-redis gives a RESP3 map as a plain object.
        assert.deepEqual({ ...(reply as object) }, { r3: [["7-0", ["f", "v"]]] });
      } finally {
        r3.destroy();
      }
    });
  });
}

for (const mode of ["--standalone", "--cluster"] as const) {
  describe(`stream consumer groups on a node (${mode})`, () => {
    const suite = nodeForSuite([mode]);
    let client: Redis;

    before(async () => {
      client = await suite.connect();
    });

    it("hands each entry to one consumer, keeps it pending until acknowledged, and lets another claim it", async () => {
      assert.equal(await client.xgroup("CREATE", "jobs", "workers", "$", "MKSTREAM"), "OK");
      await assert.rejects(
        client.xgroup("CREATE", "jobs", "workers", "$"),
        /^ReplyError: BUSYGROUP/,
      );
      // A worker blocks for new jobs; a producer's XADD wakes it.
      const worker = await suite.connect();
      const got = worker.xreadgroup("GROUP", "workers", "w1", "BLOCK", 0, "STREAMS", "jobs", ">");
      await waitForBlocked(client, 1);
      const id = await client.xadd("jobs", "*", "task", "resize", "image", "a.png");
      assert.deepEqual(await got, [["jobs", [[id, ["task", "resize", "image", "a.png"]]]]]);
      await client.xadd("jobs", "*", "task", "resize", "image", "b.png");
      const second = (await client.xreadgroup(
        "GROUP",
        "workers",
        "w2",
        "COUNT",
        1,
        "STREAMS",
        "jobs",
        ">",
      )) as [string, [string, string[]][]][];
      const secondId = second[0]?.[1][0]?.[0] as string;
      // Both are pending, one per consumer.
      const summary = (await client.xpending("jobs", "workers")) as unknown[];
      assert.equal(summary[0], 2);
      assert.deepEqual(summary[3], [
        ["w1", "1"],
        ["w2", "1"],
      ]);
      assert.equal(await client.xack("jobs", "workers", String(id)), 1);
      assert.equal(await client.xack("jobs", "workers", String(id)), 0);
      // w2 went away: w3 claims its job (min idle 0) and gets it with one more delivery.
      const claimed = (await client.xclaim("jobs", "workers", "w3", 0, secondId)) as [
        string,
        string[],
      ][];
      assert.equal(claimed[0]?.[0], secondId);
      const detail = (await client.xpending("jobs", "workers", "-", "+", 10)) as unknown[][];
      assert.equal(detail.length, 1);
      assert.equal(detail[0]?.[1], "w3");
      assert.equal(detail[0]?.[3], 2);
      const groups = (await client.xinfo("GROUPS", "jobs")) as unknown[][];
      const g = groups[0] as unknown[];
      assert.equal(g[g.indexOf("pending") + 1], 1);
      assert.equal(g[g.indexOf("lag") + 1], 0);
      await suite.restart();
      client = await suite.connect();
      await waitUntilServed(() => client.xlen("jobs"));
      const after = (await client.xpending("jobs", "workers", "-", "+", 10)) as unknown[][];
      assert.equal(after[0]?.[1], "w3", "the pending list outlives a restart");
      assert.equal(await client.xgroup("DESTROY", "jobs", "workers"), 1);
    });
  });
}

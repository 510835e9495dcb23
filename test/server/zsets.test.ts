import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import type { Redis } from "ioredis";
import { createClient } from "redis";
import { nodeForSuite, waitForBlocked, waitUntilServed } from "./harness.js";

/**
 * Sorted sets against a real node over loopback, in both modes: a standalone node (the
 * key space in LMDB) and a one-node sharded cluster (every write a raft entry). Replies and
 * errors are checked in test/kv/zsets.test.ts and by Redis's own unit/type/zset (npm run
 * conformance); here, what a client sees end to end, the blocking pops, and that a sorted
 * set outlives a restart.
 */
for (const mode of ["--standalone", "--cluster"] as const) {
  describe(`sorted sets on a node (${mode})`, () => {
    const suite = nodeForSuite([mode]);
    const connect = () => suite.connect();
    let client: Redis;

    before(async () => {
      client = await connect();
    });

    it("serves a leaderboard through ioredis", async () => {
      assert.equal(await client.zadd("board", 120, "ann", 80, "bob", 95.5, "cy"), 3);
      assert.equal(await client.zincrby("board", 30, "bob"), "110");
      assert.deepEqual(await client.zrevrange("board", 0, 1, "WITHSCORES"), [
        "ann",
        "120",
        "bob",
        "110",
      ]);
      assert.equal(await client.zrevrank("board", "cy"), 2);
      assert.equal(await client.zscore("board", "cy"), "95.5");
      assert.deepEqual(await client.zrangebyscore("board", "(95.5", "+inf"), ["bob", "ann"]);
      assert.equal(await client.zcount("board", "-inf", 100), 1);
      assert.equal(await client.type("board"), "zset");
      await assert.rejects(client.get("board"), /WRONGTYPE/);
      await assert.rejects(client.zadd("board", "high", "dan"), /not a valid float/);
      assert.equal(await client.zunionstore("{board}all", 1, "board"), 3);
      assert.deepEqual(await client.zpopmin("board"), ["cy", "95.5"]);
    });

    it("keeps its sorted sets across a restart", async () => {
      const members: (string | number)[] = [];
      for (let i = 0; i < 50; i++) members.push(i * 1.5, `m${i}`);
      await client.zadd("kept", ...members);
      await client.zrem("kept", "m0");
      await suite.restart();
      client = await connect();
      await waitUntilServed(() => client.zcard("kept"));
      assert.equal(await client.zcard("kept"), 49);
      assert.deepEqual(await client.zrange("kept", 0, 1, "WITHSCORES"), ["m1", "1.5", "m2", "3"]);
      assert.equal(await client.zscore("kept", "m49"), "73.5");
    });

    it("answers a RESP3 client with doubles, and WITHSCORES as pairs", async () => {
      const r3 = createClient({ socket: { port: suite.node.port, host: "127.0.0.1" }, RESP: 3 });
      await r3.connect();
      try {
        await r3.zAdd("r3", [
          { score: 1.5, value: "a" },
          { score: 2, value: "b" },
        ]);
        assert.equal(await r3.sendCommand(["ZSCORE", "r3", "a"]), 1.5);
        assert.deepEqual(await r3.sendCommand(["ZRANGE", "r3", "0", "-1", "WITHSCORES"]), [
          ["a", 1.5],
          ["b", 2],
        ]);
        assert.deepEqual(await r3.sendCommand(["ZPOPMIN", "r3"]), ["a", 1.5]);
      } finally {
        r3.destroy();
      }
    });

    it("BZPOPMIN waits for a ZADD from another client, then answers it", async () => {
      const waiter = await connect();
      const popped = waiter.bzpopmin("{q}delayed", "{q}other", 0);
      await waitForBlocked(client, 1);
      assert.equal(await client.zadd("{q}other", 5, "job-5", 3, "job-3"), 2);
      assert.deepEqual(await popped, ["{q}other", "job-3", "3"]);
      assert.deepEqual(await client.zrange("{q}other", 0, -1), ["job-5"]);
      assert.equal(await waiter.ping(), "PONG");
    });

    it("BZMPOP and BZPOPMAX: COUNT, and null at the timeout", async () => {
      const waiter = await connect();
      const mpop = waiter.call("BZMPOP", "0", "2", "{p}a", "{p}b", "MAX", "COUNT", "2");
      await waitForBlocked(client, 1);
      await client.zadd("{p}b", 1, "x", 2, "y", 3, "z");
      assert.deepEqual(await mpop, [
        "{p}b",
        [
          ["z", "3"],
          ["y", "2"],
        ],
      ]);
      const started = Date.now();
      assert.equal(await waiter.bzpopmax("{p}none", 0.2), null);
      assert.ok(Date.now() - started >= 190, "waited the timeout");
      await assert.rejects(waiter.bzpopmax("{p}none", -1), /timeout is negative/);
    });
  });
}

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { type RunningNode, removeDir, startNode, tempDir } from "./harness.js";

/**
 * MULTI/EXEC, DISCARD, WATCH and UNWATCH against a real node over loopback, in both
 * modes: a standalone node and a one-node sharded cluster (the same code paths as a
 * bigger cluster's leader: the transaction is one raft entry). Redis's own unit/multi
 * runs too (npm run conformance).
 */
for (const mode of ["--standalone", "--cluster"] as const) {
  describe(`transactions on a node (${mode})`, () => {
    let node: RunningNode;
    let dir: string;
    let client: Redis;
    let other: Redis;
    const connect = async () => {
      const c = new Redis({
        port: node.port,
        host: "127.0.0.1",
        lazyConnect: true,
        maxRetriesPerRequest: 0,
      });
      await c.connect();
      return c;
    };

    before(async () => {
      dir = tempDir();
      node = await startNode(dir, [mode]);
      client = await connect();
      other = await connect();
    });

    after(async () => {
      client.disconnect();
      other.disconnect();
      assert.equal(await node.stop(), 0);
      removeDir(dir);
    });

    it("runs the queued commands in order and answers all their replies, errors among them", async () => {
      await client.set("{t}s", "text");
      const replies = await client
        .multi()
        .set("{t}a", "1")
        .incr("{t}a")
        .incr("{t}s")
        .get("{t}a")
        .ping()
        .exec();
      assert.deepEqual(
        replies?.map(([e, v]) => (e === null ? v : `error: ${e.message}`)),
        ["OK", 2, "error: ERR value is not an integer or out of range", "2", "PONG"],
      );
    });

    it("answers QUEUED, refuses what cannot run and then aborts EXEC", async () => {
      assert.equal(await client.call("MULTI"), "OK");
      assert.equal(await client.call("SET", "{t}x", "1"), "QUEUED");
      await assert.rejects(client.call("NOSUCH"), /unknown command/);
      await assert.rejects(client.call("GET"), /wrong number of arguments/);
      await assert.rejects(client.call("EXEC"), /^ReplyError: EXECABORT Transaction discarded/);
      assert.equal(await client.get("{t}x"), null);
      await assert.rejects(client.call("EXEC"), /ERR EXEC without MULTI/);
      await assert.rejects(client.call("DISCARD"), /ERR DISCARD without MULTI/);
      assert.equal(await client.call("MULTI"), "OK");
      await assert.rejects(client.call("MULTI"), /MULTI calls can not be nested/);
      await assert.rejects(client.call("WATCH", "{t}x"), /WATCH inside MULTI is not allowed/);
      assert.equal(await client.call("INCR", "{t}y"), "QUEUED");
      assert.equal(await client.call("DISCARD"), "OK");
      assert.equal(await client.get("{t}y"), null);
      assert.equal(await client.call("MULTI"), "OK");
      assert.equal(await client.call("RESET"), "RESET");
      await assert.rejects(client.call("EXEC"), /ERR EXEC without MULTI/);
    });

    it("runs after WATCH only if no watched key changed", async () => {
      await client.set("{w}balance", "100");
      // Check-and-set: nobody else wrote, so it runs.
      await client.watch("{w}balance", "{w}absent");
      const seen = Number(await client.get("{w}balance"));
      assert.deepEqual(
        await client
          .multi()
          .set("{w}balance", String(seen - 30))
          .exec(),
        [[null, "OK"]],
      );
      // Another client writes between WATCH and EXEC: EXEC answers null, nothing ran.
      await client.watch("{w}balance");
      await other.set("{w}balance", "5");
      assert.equal(await client.multi().set("{w}balance", "0").exec(), null);
      assert.equal(await client.get("{w}balance"), "5");
      // A key that appears, and one that expires, count as changed.
      await client.watch("{w}absent");
      await other.set("{w}absent", "now");
      assert.equal(await client.multi().incr("{w}n").exec(), null);
      await other.set("{w}short", "v", "PX", 50);
      await client.watch("{w}short");
      await new Promise((r) => setTimeout(r, 120));
      assert.equal(await client.multi().incr("{w}n").exec(), null);
      // A transaction of connection commands only still checks its watches.
      await client.watch("{w}balance");
      await other.set("{w}balance", "4");
      assert.equal(await client.multi().ping().exec(), null);
      await client.watch("{w}balance");
      assert.deepEqual(await client.multi().ping().echo("e").exec(), [
        [null, "PONG"],
        [null, "e"],
      ]);
      // UNWATCH, and EXEC itself, forget the keys.
      await client.watch("{w}balance");
      await other.set("{w}balance", "6");
      await client.unwatch();
      assert.deepEqual(await client.multi().incr("{w}n").exec(), [[null, 1]]);
      await other.set("{w}balance", "7");
      assert.deepEqual(await client.multi().incr("{w}n").exec(), [[null, 2]]);
    });

    it("keeps a transaction's writes together: no other client's write lands between them", async () => {
      const writers = 8;
      const rounds = 50;
      const clients = await Promise.all(Array.from({ length: writers }, connect));
      try {
        await Promise.all(
          clients.map(async (c) => {
            for (let i = 0; i < rounds; i++) {
              const r = await c.multi().incr("{c}first").incr("{c}second").exec();
              const [[, a], [, b]] = r as [[null, number], [null, number]];
              assert.equal(a, b, "the two counters moved together");
            }
          }),
        );
      } finally {
        for (const c of clients) c.disconnect();
      }
      assert.equal(await client.get("{c}first"), String(writers * rounds));
    });
  });
}

describe("a transaction acknowledged by a standalone node survives SIGKILL", () => {
  it("reads back every EXEC's writes after a restart", async () => {
    const dir = tempDir();
    let node = await startNode(dir, ["--standalone"]);
    try {
      const c = new Redis({ port: node.port, host: "127.0.0.1", maxRetriesPerRequest: 0 });
      for (let i = 0; i < 20; i++) await c.multi().incr("{d}a").set(`{d}k${i}`, "v").exec();
      c.disconnect();
      await node.kill();
      node = await startNode(dir, ["--standalone"]);
      const d = new Redis({ port: node.port, host: "127.0.0.1", maxRetriesPerRequest: 0 });
      assert.equal(await d.get("{d}a"), "20");
      assert.equal(await d.get("{d}k19"), "v");
      d.disconnect();
    } finally {
      await node.stop();
      removeDir(dir);
    }
  });
});

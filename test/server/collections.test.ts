import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { createClient, RESP_TYPES } from "redis";
import { type RunningNode, removeDir, startNode, tempDir, waitUntilServed } from "./harness.js";

/**
 * Hashes and sets against a real node over loopback, in both modes: a standalone node and
 * a one-node sharded cluster (where every write is a raft entry of the key's shard). The
 * commands' replies and errors are checked in test/kv/hashes.test.ts and sets.test.ts and
 * by Redis's own unit/type/hash and unit/type/set (npm run conformance); here: real
 * clients, both protocols, keys with expiry, transactions, and writes kept across a
 * SIGKILL.
 */
for (const mode of ["--standalone", "--cluster"] as const) {
  describe(`hashes and sets on a node (${mode})`, () => {
    let node: RunningNode;
    let dir: string;
    let client: Redis;
    const connect = async (port: number) => {
      const c = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0 });
      await c.connect();
      return c;
    };

    before(async () => {
      dir = tempDir();
      node = await startNode(dir, [mode]);
      client = await connect(node.port);
    });

    after(async () => {
      client.disconnect();
      await node.kill();
      removeDir(dir);
    });

    it("serves ioredis's hash commands", async () => {
      assert.equal(await client.hset("user:1", { name: "Ada", lang: "en", visits: "0" }), 3);
      assert.equal(await client.hincrby("user:1", "visits", 5), 5);
      assert.equal(await client.hincrbyfloat("user:1", "score", "1.25"), "1.25");
      assert.deepEqual(await client.hgetall("user:1"), {
        name: "Ada",
        lang: "en",
        visits: "5",
        score: "1.25",
      });
      assert.deepEqual(await client.hmget("user:1", "name", "nope"), ["Ada", null]);
      assert.equal(await client.hdel("user:1", "lang", "nope"), 1);
      assert.equal(await client.hlen("user:1"), 3);
      assert.equal(await client.type("user:1"), "hash");
      await assert.rejects(client.get("user:1"), /WRONGTYPE/);
      const [cursor, pairs] = await client.hscan("user:1", 0, "MATCH", "s*");
      assert.equal(cursor, "0");
      assert.deepEqual(pairs, ["score", "1.25"]);
    });

    it("answers MEMORY USAGE for a key, MEMORY HELP, and refuses other subcommands", async () => {
      await client.hset("sized", "field", "value");
      await client.set("plain", "12345");
      // Key, the value's 10-byte header, then the data: count, and each length and bytes.
      assert.equal(await client.call("MEMORY", "USAGE", "sized"), 5 + 10 + 4 + 4 + 5 + 4 + 5);
      assert.equal(await client.call("MEMORY", "USAGE", "plain", "SAMPLES", "0"), 5 + 10 + 5);
      assert.equal(await client.call("MEMORY", "USAGE", "missing"), null);
      const help = (await client.call("MEMORY", "HELP")) as string[];
      assert.match(help[0] ?? "", /^MEMORY <subcommand>/);
      await assert.rejects(client.call("MEMORY", "DOCTOR"), /unknown subcommand 'DOCTOR'/);
      await assert.rejects(client.call("MEMORY", "USAGE"), /wrong number of arguments/);
    });

    it("serves ioredis's set commands, the multi-key ones within one slot", async () => {
      assert.equal(await client.sadd("{s}a", "1", "2", "3"), 3);
      assert.equal(await client.sadd("{s}b", "2", "3", "4"), 3);
      assert.deepEqual((await client.sinter("{s}a", "{s}b")).sort(), ["2", "3"]);
      assert.equal(await client.sunionstore("{s}u", "{s}a", "{s}b"), 4);
      assert.deepEqual((await client.smembers("{s}u")).sort(), ["1", "2", "3", "4"]);
      assert.equal(await client.smove("{s}a", "{s}b", "1"), 1);
      assert.deepEqual(await client.smismember("{s}b", "1", "9"), [1, 0]);
      assert.equal(await client.call("SINTERCARD", "2", "{s}a", "{s}b", "LIMIT", "1"), 1);
      await assert.rejects(client.call("SINTERCARD", "x", "{s}a"), /numkeys should be greater/);
      const popped = await client.spop("{s}u", 2);
      assert.equal(popped.length, 2);
      assert.equal(await client.scard("{s}u"), 2);
      assert.equal(await client.type("{s}u"), "set");
      if (mode === "--cluster") {
        await assert.rejects(client.sinter("{s}a", "{other}b"), /CROSSSLOT/);
        await assert.rejects(client.call("SINTERCARD", "2", "{s}a", "{o}b"), /CROSSSLOT/);
      }
    });

    it("keeps a hash's expiry across changes, and drops the hash when it expires", async () => {
      await client.hset("session", "a", "1");
      await client.pexpire("session", 300);
      await client.hset("session", "b", "2");
      const ttl = await client.pttl("session");
      assert.ok(ttl > 0 && ttl <= 300, `pttl ${ttl}`);
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(await client.hlen("session"), 0);
      assert.equal(await client.exists("session"), 0);
    });

    it("runs hash commands in MULTI/EXEC and aborts on a watched hash's change", async () => {
      const replies = await client
        .multi()
        .hset("{t}h", "f", "1")
        .hincrby("{t}h", "f", 2)
        .hget("{t}h", "f")
        .exec();
      assert.deepEqual(
        replies?.map(([, v]) => v),
        [1, 3, "3"],
      );
      const other = await connect(node.port);
      try {
        await client.watch("{t}h");
        await other.hset("{t}h", "g", "x");
        assert.equal(await client.multi().hset("{t}h", "f", "9").exec(), null);
        assert.equal(await client.hget("{t}h", "f"), "3");
      } finally {
        other.disconnect();
      }
    });

    it("answers a RESP3 client with maps, and pairs as RESP3 nests them", async () => {
      const r3 = createClient({ socket: { port: node.port, host: "127.0.0.1" }, RESP: 3 });
      await r3.connect();
      try {
        await r3.hSet("r3", { a: "1", b: "2" });
        const all = await r3.withTypeMapping({ [RESP_TYPES.MAP]: Map }).hGetAll("r3");
        assert.ok(all instanceof Map, "HGETALL is a map in RESP3");
        assert.deepEqual(
          [...all.entries()],
          [
            ["a", "1"],
            ["b", "2"],
          ],
        );
        const raw = await r3.sendCommand(["HRANDFIELD", "r3", "2", "WITHVALUES"]);
        assert.deepEqual(
          (raw as unknown as [string, string][]).map(([f, v]) => `${f}=${v}`).sort(),
          ["a=1", "b=2"],
        );
      } finally {
        r3.destroy();
      }
    });

    it("keeps every acknowledged hash write across a SIGKILL", async () => {
      const writer = new Redis({
        port: node.port,
        host: "127.0.0.1",
        maxRetriesPerRequest: 0,
        enableOfflineQueue: false,
        retryStrategy: () => null,
        lazyConnect: true,
      });
      writer.on("error", () => {}); // expected: the node is killed under it
      await writer.connect();
      let acked = 0;
      let stop = false;
      const loop = (async () => {
        for (let i = 0; !stop; i++) {
          try {
            await writer.hset("durable", `f${i}`, `v${i}`);
            await writer.hincrby("durable", "count", 1);
            acked = i + 1;
          } catch {
            return;
          }
        }
      })();
      await new Promise((r) => setTimeout(r, 600));
      await node.kill();
      stop = true;
      await loop;
      writer.disconnect();
      client.disconnect();
      assert.ok(acked > 20, `only ${acked} writes were acknowledged`);

      node = await startNode(dir, [mode]);
      client = await connect(node.port);
      await waitUntilServed(() => client.hget("durable", "count"));
      const count = Number(await client.hget("durable", "count"));
      assert.ok(count >= acked, `count ${count} < acknowledged ${acked}`);
      assert.ok(count <= acked + 1, `count ${count} > sent ${acked + 1}`);
      const fields = await client.hgetall("durable");
      for (let i = 0; i < acked; i++) assert.equal(fields[`f${i}`], `v${i}`, `f${i}`);
    });
  });
}

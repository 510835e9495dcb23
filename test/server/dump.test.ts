import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import type { Redis } from "ioredis";
import { installed, nodeForSuite, startRedisServer } from "./harness.js";

/**
 * DUMP and RESTORE on a real node in both modes, and against a real redis-server: a value
 * Redis dumps restores here and one dumped here restores in Redis. The payloads' details
 * (encodings, errors) are checked in test/kv/dump.test.ts.
 */

/** One key of each type, written the same way to `c`. */
async function fill(c: Redis): Promise<void> {
  await c.set("str", "x".repeat(300));
  await c.set("num", "-42");
  await c.rpush("list", "a", "1", "70000", "b".repeat(100));
  await c.sadd("ints", "1", "2", "-3");
  await c.sadd("names", "ann", "bob");
  await c.hset("hash", "f", "v", "n", "12");
  await c.zadd("zset", "1.5", "a", "-2", "b", "3", "c");
  await c.del("stream");
  for (let i = 1; i <= 150; i++) await c.xadd("stream", `${i}-1`, i % 5 ? "f" : "g", String(i));
  await c.xdel("stream", "7-1");
  await c.xgroup("CREATE", "stream", "workers", "0");
  await c.xreadgroup("GROUP", "workers", "ann", "COUNT", "3", "STREAMS", "stream", ">");
}

/** What each key of fill() holds, read back from `c` (under `prefix`). */
async function read(c: Redis, prefix = ""): Promise<unknown[]> {
  return [
    await c.get(`${prefix}str`),
    await c.get(`${prefix}num`),
    await c.lrange(`${prefix}list`, 0, -1),
    (await c.smembers(`${prefix}ints`)).sort(),
    (await c.smembers(`${prefix}names`)).sort(),
    await c.hgetall(`${prefix}hash`),
    await c.zrange(`${prefix}zset`, 0, -1, "WITHSCORES"),
    await c.xrange(`${prefix}stream`, "-", "+"),
    await c.xinfo("GROUPS", `${prefix}stream`),
    // Without the idle times, which move with the clock.
    ((await c.xpending(`${prefix}stream`, "workers", "-", "+", 10)) as unknown[][]).map((p) =>
      p.filter((_, k) => k !== 2),
    ),
  ];
}

const KEYS = ["str", "num", "list", "ints", "names", "hash", "zset", "stream"];

for (const mode of ["--standalone", "--cluster"] as const) {
  describe(`DUMP and RESTORE on a node (${mode})`, () => {
    const suite = nodeForSuite([mode]);
    let client: Redis;
    let redis: Awaited<ReturnType<typeof startRedisServer>> = null;

    before(async () => {
      client = await suite.connect();
      redis = await startRedisServer();
    });

    after(async () => {
      redis?.client.disconnect();
      redis?.proc.kill("SIGKILL");
    });

    it("copies every type under another name, with its TTL", async () => {
      await fill(client);
      const expected = await read(client);
      for (const key of KEYS) {
        const payload = await client.dumpBuffer(key);
        assert.ok(payload !== null, key);
        assert.equal(await client.restore(`copy:${key}`, 60_000, payload), "OK");
      }
      assert.deepEqual(await read(client, "copy:"), expected);
      const ttl = await client.pttl("copy:str");
      assert.ok(ttl > 50_000 && ttl <= 60_000, `pttl ${ttl}`);
      const payload = await client.dumpBuffer("str");
      assert.ok(payload !== null);
      await assert.rejects(client.restore("str", 0, payload), /^ReplyError: BUSYKEY/);
      assert.equal(await client.restore("str", 0, payload, "REPLACE"), "OK");
      assert.equal(await client.dumpBuffer("nosuchkey"), null);
      await assert.rejects(
        client.restore("bad", 0, Buffer.from("not a payload")),
        /DUMP payload version or checksum are wrong/,
      );
      // Payloads are always checked whole, as Redis's sanitize-dump-payload yes does.
      assert.deepEqual(await client.config("GET", "sanitize-dump-payload"), [
        "sanitize-dump-payload",
        "yes",
      ]);
      assert.equal(await client.config("SET", "sanitize-dump-payload", "yes"), "OK");
      await assert.rejects(
        client.config("SET", "sanitize-dump-payload", "no"),
        /checks every RESTORE payload whole/,
      );
    });

    it("restores what redis-server dumps, and redis-server what it dumps", async (t) => {
      if (redis === null) {
        t.skip("redis-server is not installed");
        return;
      }
      const r = redis.client;
      await r.flushall();
      await fill(r);
      const fromRedis = await read(r);
      for (const key of KEYS) {
        const payload = await r.dumpBuffer(key);
        assert.ok(payload !== null, key);
        assert.equal(await client.restore(`redis:${key}`, 0, payload), "OK", key);
      }
      assert.deepEqual(await read(client, "redis:"), fromRedis);
      for (const key of KEYS) {
        const payload = await client.dumpBuffer(`redis:${key}`);
        assert.ok(payload !== null, key);
        assert.equal(await r.restore(`back:${key}`, 0, payload), "OK", key);
      }
      assert.deepEqual(await read(r, "back:"), fromRedis);
    });

    // On a cluster only: redis-cli asks the node for CLUSTER NODES first.
    if (mode === "--cluster") {
      it("takes a Redis's keys through redis-cli --cluster import", async (t) => {
        if (redis === null || !installed("redis-cli")) {
          t.skip("redis-server or redis-cli is not installed");
          return;
        }
        const r = redis.client;
        await r.flushall();
        await fill(r);
        const fromRedis = await read(r);
        for (const key of KEYS) await client.del(key);
        await r.set("str", "changed in Redis");
        // MIGRATE on the source sends a RESTORE of each key to the node that owns its slot.
        const run = (options: string[]) =>
          execFileSync(
            "redis-cli",
            [
              "--cluster",
              "import",
              `127.0.0.1:${suite.node.port}`,
              "--cluster-from",
              `127.0.0.1:${redis?.port ?? 0}`,
              ...options,
            ],
            { encoding: "utf8", timeout: 60_000 },
          );
        const first = run(["--cluster-copy"]);
        assert.match(first, /Importing 8 keys from DB 0/);
        assert.equal(await client.get("str"), "changed in Redis");
        await r.set("str", "x".repeat(300));
        // Without --cluster-replace a key already here stops the import (BUSYKEY).
        assert.throws(
          () => run(["--cluster-copy"]),
          (e: { stdout?: string }) =>
            /BUSYKEY Target key name already exists/.test(String(e.stdout)),
        );
        run(["--cluster-copy", "--cluster-replace"]);
        assert.deepEqual(await read(client), fromRedis);
        assert.equal(await r.dbsize(), KEYS.length, "--cluster-copy leaves the source whole");
      });
    }
  });
}

import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import type { Redis } from "ioredis";
import { nodeForSuite, startRedisServer } from "./harness.js";

/**
 * Lua scripts on a real node in both modes, through ioredis (its defineCommand sends
 * EVALSHA and falls back to EVAL on NOSCRIPT, as most clients' script helpers do), and
 * the same scripts' replies against a real redis-server. The conversions and errors in
 * detail are in test/kv/script.test.ts.
 */

/** Scripts whose replies (or errors) must be Redis's, with their keys and arguments. */
const SCRIPTS: [string, string[], string[]][] = [
  ["redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[1])", ["{s}a"], ["v"]],
  ["return {1, 2.5, 'x', false, true, {ok='fine'}, {1, {2}}}", [], []],
  ["return redis.call('INCRBY', KEYS[1], ARGV[1])", ["{s}n"], ["5"]],
  ["return redis.pcall('HSET', KEYS[1], 'f', 'v')", ["{s}a"], []],
  ["return redis.call('RPUSH', KEYS[1], unpack(ARGV))", ["{s}l"], ["a", "b", "c"]],
  ["return redis.call('LRANGE', KEYS[1], 0, -1)", ["{s}l"], []],
  ["return redis.call('ZADD', KEYS[1], 1.5, 'm')", ["{s}z"], []],
  ["return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')", ["{s}z"], []],
  ["return redis.call('NOSUCH')", [], []],
  ["return redis.call('GET', KEYS[1], 'x')", ["{s}a"], []],
  ["return nope", [], []],
  ["return {err='CUSTOM failure'}", [], []],
  ["return redis.sha1hex('abc')", [], []],
  // Numbers are Lua 5.1's: floats that print without ".0", and never wrap at 32 bits.
  [
    "local v = redis.call('INCRBY', KEYS[1], 3000000000); return {v + 1, tostring(v)}",
    ["{s}big"],
    [],
  ],
  [
    "return {tostring(4/2), tostring(tonumber(ARGV[1]) * 1000), tostring(math.floor(7.5))}",
    [],
    ["1764000000"],
  ],
  // The libraries Redis bundles.
  ["return cjson.encode({1, 'a/b', {k=2.5}, {true, false}})", [], []],
  [
    "local t = cjson.decode(ARGV[1]); return {t.a[2], tostring(t.b), type(t.c)}",
    [],
    ['{"a":[1,"x\\u00e9"],"b":1e3,"c":null}'],
  ],
  ["return cjson.decode('[1,')", [], []],
  ["return {cmsgpack.unpack(cmsgpack.pack({1, 2, {x=3}}, 'abc', -5, 300, 2^40))}", [], []],
  ["return cmsgpack.pack({1, 2}, 'abc', -5, 300, 1.5, 0.1, 2^40, -2^40, {x=true})", [], []],
  [
    "return {bit.band(0xff, 0x0f), bit.tohex(255), bit.tohex(-1, -4), bit.lshift(1, 31), bit.bnot(0), bit.rol(0x12345678, 8), bit.tobit(2^32 + 5)}",
    [],
    [],
  ],
];

/** A script's reply, or its error's message, as comparable data. */
async function outcome(c: Redis, body: string, keys: string[], argv: string[]): Promise<unknown> {
  try {
    return await c.eval(body, keys.length, ...keys, ...argv);
  } catch (e) {
    return { error: (e as Error).message };
  }
}

for (const mode of ["--standalone", "--cluster"] as const) {
  describe(`Lua scripts on a node (${mode})`, () => {
    const suite = nodeForSuite([mode]);
    let c: Redis;
    before(async () => {
      c = await suite.connect();
    });

    it("EVAL, SCRIPT LOAD, EVALSHA, SCRIPT EXISTS and SCRIPT FLUSH", async () => {
      await c.script("FLUSH");
      assert.equal(await c.eval("return redis.call('SET', KEYS[1], ARGV[1])", 1, "k", "v"), "OK");
      assert.equal(await c.get("k"), "v");
      const sha = (await c.script("LOAD", "return redis.call('GET', KEYS[1])")) as string;
      assert.match(sha, /^[0-9a-f]{40}$/);
      assert.equal(await c.evalsha(sha, 1, "k"), "v");
      assert.equal(await c.evalsha_ro(sha, 1, "k"), "v");
      assert.deepEqual(await c.script("EXISTS", sha, "0".repeat(40)), [1, 0]);
      await c.script("FLUSH");
      await assert.rejects(c.evalsha(sha, 1, "k"), /NOSCRIPT No matching script/);
      await assert.rejects(c.script("LOAD", "return +"), /Error compiling script/);
      await assert.rejects(c.script("KILL"), /NOTBUSY/);
      await assert.rejects(
        c.eval_ro("return redis.call('DEL', KEYS[1])", 1, "k"),
        /Write commands are not allowed from read-only scripts/,
      );
      assert.equal(await c.get("k"), "v");
    });

    it("a script is atomic: concurrent increments through a defined command lose nothing", async () => {
      const clients = await Promise.all([suite.connect(), suite.connect(), suite.connect()]);
      for (const x of clients) {
        x.defineCommand("bump", {
          numberOfKeys: 1,
          lua: "local v = tonumber(redis.call('GET', KEYS[1]) or '0'); redis.call('SET', KEYS[1], v + 1); return v + 1",
        });
      }
      await c.del("counter");
      const per = 60;
      const bump = (x: Redis) =>
        (x as unknown as { bump(k: string): Promise<number> }).bump("counter");
      await Promise.all(
        clients.map(async (x) => {
          for (let i = 0; i < per; i++) await bump(x);
        }),
      );
      assert.equal(await c.get("counter"), String(per * clients.length));
    });

    it("scripts in MULTI run in the transaction, in their place", async () => {
      await c.set("{t}x", "1");
      const sha = (await c.script("LOAD", "return redis.call('INCR', KEYS[1])")) as string;
      const replies = await c
        .multi()
        .evalsha(sha, 1, "{t}x")
        .eval("return redis.call('INCR', KEYS[1])", 1, "{t}x")
        .incr("{t}x")
        .exec();
      assert.deepEqual(replies, [
        [null, 2],
        [null, 3],
        [null, 4],
      ]);
    });

    it("a key another shard holds is refused on a cluster, CROSSSLOT for declared keys", async () => {
      if (mode === "--standalone") {
        assert.equal(await c.eval("return redis.call('SET', 'a', 1)", 0), "OK");
        return;
      }
      await assert.rejects(c.eval("return 1", 2, "a", "b"), /CROSSSLOT/);
      // One shard alone (a one-node cluster of 16 shards): "a" and "b" are in two of them.
      await assert.rejects(
        c.eval("return redis.call('GET', KEYS[1]) or redis.call('GET', 'b')", 1, "a"),
        /Script attempted to access a non local key in a cluster node/,
      );
    });

    it("answers what redis-server answers for the same scripts", async (t) => {
      const redis = await startRedisServer();
      if (redis === null) {
        t.skip("redis-server is not installed");
        return;
      }
      try {
        await c.del("{s}a", "{s}n", "{s}l", "{s}z", "{s}big");
        for (const [body, keys, argv] of SCRIPTS) {
          const ours = await outcome(c, body, keys, argv);
          const theirs = await outcome(redis.client, body, keys, argv);
          assert.deepEqual(ours, theirs, body);
        }
      } finally {
        redis.client.disconnect();
        redis.proc.kill("SIGKILL");
      }
    });
  });
}

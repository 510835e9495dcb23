import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Redis } from "ioredis";
import {
  cleanUpAfter,
  nodeForSuite,
  type RunningNode,
  replyOf,
  sameAsRedis,
  startFormedCluster,
  startNode,
  startRedisServer,
  waitFor,
} from "./harness.js";

/**
 * Redis 7.0's functions (FUNCTION LOAD, FCALL...): replies and errors compared with
 * redis-server's on the same commands, in both modes; FUNCTION DUMP payloads restored
 * across the two; FCALL in MULTI and under CLIENT PAUSE WRITE; the libraries kept across a
 * restart; on a 3-node cluster, a library loaded through one node is called through every
 * node, and a restarted node has it.
 */

const lib1 = `#!lua name=lib1
redis.register_function('echo2', function(keys, args) return {keys[1], args[1]} end)
redis.register_function{function_name='reader', callback=function(keys, args)
  return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads a key'}
redis.register_function('incr2', function(keys, args)
  return redis.call('incrby', keys[1], args[1]) end)`;

const lib2 = `#!lua name=lib2
local helper = function(x) return x * 2 end
redis.register_function('double', function(keys, args) return helper(tonumber(args[1])) end)`;

/** Libraries and calls whose replies must be redis-server's, error text included. */
const workload: (string | number)[][] = [
  ["FUNCTION", "FLUSH"],
  ["FUNCTION", "LOAD", lib1],
  ["FUNCTION", "LOAD", lib2],
  ["FCALL", "echo2", 1, "{n}k", "a"],
  ["FCALL", "incr2", 1, "{n}c", 5],
  ["FCALL", "incr2", 1, "{n}c", 5],
  ["FCALL_RO", "reader", 1, "{n}c"],
  ["FCALL_RO", "incr2", 1, "{n}c", 1],
  ["FCALL", "double", 0, 21],
  ["FCALL", "nosuch", 0],
  ["FCALL", "echo2", "abc"],
  ["FCALL", "echo2", 5, "a"],
  ["FCALL", "echo2", -1],
  // Load errors.
  ["FUNCTION", "LOAD", lib1],
  ["FUNCTION", "LOAD", "#!lua name=other\nredis.register_function('echo2', function() end)"],
  ["FUNCTION", "LOAD", "#!lua name=x\nreturn 1"],
  ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('f', 5)"],
  ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('f')"],
  ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function{function_name='f'}"],
  ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function{callback=function() end}"],
  [
    "FUNCTION",
    "LOAD",
    "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, flags={'bad'}}",
  ],
  ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function{function_name='f', foo=1}"],
  ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('a-b', function() end)"],
  [
    "FUNCTION",
    "LOAD",
    "#!lua name=x\nredis.register_function('f', function() end)\nredis.register_function('f', function() end)",
  ],
  ["FUNCTION", "LOAD", "#!lua name=x\nlocal s = string.len('a')"],
  ["FUNCTION", "LOAD", "#!lua name=x\nredis.call('ping')"],
  ["FUNCTION", "LOAD", "no shebang"],
  ["FUNCTION", "LOAD", "#!lua"],
  ["FUNCTION", "LOAD", "#!lua name=a name=b\n"],
  ["FUNCTION", "LOAD", "#!lua foo=bar\n"],
  ["FUNCTION", "LOAD", "#!js name=b\n"],
  ["FUNCTION", "LOAD", "#!lua name=b-c\n"],
  ["FUNCTION", "LOAD", "FOO", "x"],
  // Errors a function raises, and what it may not do.
  [
    "FUNCTION",
    "LOAD",
    `#!lua name=bad
redis.register_function('boom', function(k, a) error('boom') end)
redis.register_function('unknown', function(k, a) return redis.call('nosuch') end)
redis.register_function('global', function(k, a) x = 5 end)
redis.register_function('keys', function(k, a) return KEYS end)
redis.register_function{function_name='ro', callback=function(k, a) return redis.call('set', k[1], 1) end, flags={'no-writes'}}`,
  ],
  ["FCALL", "boom", 0],
  ["FCALL", "unknown", 0],
  ["FCALL", "global", 0],
  ["FCALL", "keys", 0],
  ["FCALL", "ro", 1, "{n}k"],
  // Replace, delete, list, stats.
  [
    "FUNCTION",
    "LOAD",
    "REPLACE",
    "#!lua name=lib2\nredis.register_function('double', function() return 'v2' end)",
  ],
  ["FCALL", "double", 0],
  ["FUNCTION", "DELETE", "bad"],
  ["FUNCTION", "DELETE", "bad"],
  ["FUNCTION", "LIST", "LIBRARYNAME", "lib2", "WITHCODE"],
  ["FUNCTION", "LIST", "LIBRARYNAME"],
  ["FUNCTION", "LIST", "foo"],
  ["FUNCTION", "STATS"],
  ["FUNCTION", "KILL"],
  ["FUNCTION", "RESTORE", "not a payload"],
  ["FUNCTION", "RESTORE", "x", "sideways"],
  ["FUNCTION", "FLUSH", "sideways"],
  ["FUNCTION", "NOSUCH"],
  ["FUNCTION", "HELP"],
  ["FUNCTION", "HELP", "x"],
  ["FUNCTION", "DUMP", "x"],
  ["FUNCTION", "STATS", "x"],
];

for (const mode of ["--standalone", "--cluster"] as const) {
  describe(`functions on a node (${mode})`, { timeout: 60_000 }, () => {
    const suite = nodeForSuite([mode]);

    it("answers FUNCTION and FCALL as redis-server does", async (t) => {
      const client = await suite.connect();
      await sameAsRedis(t, client, ["{n}k", "{n}c"], [workload]);
    });

    it("lists libraries as redis-server does (its order aside), and dumps what it restores", async (t) => {
      const redis = await startRedisServer();
      if (redis === null) {
        t.skip("redis-server is not installed");
        return;
      }
      const client = await suite.connect();
      try {
        for (const c of [client, redis.client]) {
          await c.call("FUNCTION", "FLUSH");
          await c.call("FUNCTION", "LOAD", lib1);
          await c.call("FUNCTION", "LOAD", lib2);
        }
        // Redis lists libraries, and a library's functions, in its hash tables' order.
        const byName = (r: unknown) =>
          (r as unknown[][])
            .map((library) =>
              library.map((v, i) =>
                library[i - 1] === "functions"
                  ? [...(v as unknown[][])].sort((x, y) => String(x[1]).localeCompare(String(y[1])))
                  : v,
              ),
            )
            .sort((a, b) => String(a[1]).localeCompare(String(b[1])));
        const ours = await replyOf(client, ["FUNCTION", "LIST", "WITHCODE"]);
        const theirs = await replyOf(redis.client, ["FUNCTION", "LIST", "WITHCODE"]);
        assert.deepEqual(byName(ours), byName(theirs));
        // Redis's payload restores here, and ours on redis-server.
        const theirDump = (await redis.client.callBuffer("FUNCTION", "DUMP")) as Buffer;
        const ourDump = (await client.callBuffer("FUNCTION", "DUMP")) as Buffer;
        for (const [c, dump] of [
          [client, theirDump],
          [redis.client, ourDump],
        ] as const) {
          await assert.rejects(
            c.call("FUNCTION", "RESTORE", dump),
            /ERR Library lib[12] already exists/,
          );
          assert.equal(await c.call("FUNCTION", "RESTORE", dump, "REPLACE"), "OK");
          assert.equal(await c.call("FUNCTION", "RESTORE", dump, "FLUSH"), "OK");
        }
        const damaged = Buffer.from(theirDump);
        damaged[5] = (damaged[5] as number) ^ 1;
        assert.deepEqual(
          await replyOf(client, ["FUNCTION", "RESTORE", damaged.toString("latin1")]),
          await replyOf(redis.client, ["FUNCTION", "RESTORE", damaged.toString("latin1")]),
        );
        assert.deepEqual(
          byName(await replyOf(client, ["FUNCTION", "LIST", "WITHCODE"])),
          byName(await replyOf(redis.client, ["FUNCTION", "LIST", "WITHCODE"])),
        );
      } finally {
        redis.client.disconnect();
        redis.proc.kill("SIGKILL");
      }
      assert.equal(await client.call("FCALL", "double", 0, 4), 8);
      const memory = await client.info("memory");
      assert.match(memory, /^number_of_functions:4\r$/m);
      assert.match(memory, /^number_of_libraries:2\r$/m);
    });

    it("runs FCALL in MULTI, and CLIENT PAUSE WRITE lets a no-writes function through", async () => {
      const client = await suite.connect();
      await client.call("FUNCTION", "LOAD", "REPLACE", lib1);
      await client.set("{n}c", "10");
      const multi = client
        .multi()
        .call("FCALL", "incr2", 1, "{n}c", 2)
        .call("FCALL_RO", "reader", 1, "{n}c")
        .call("FCALL", "nosuch", 1, "{n}c");
      // A bad key count is refused at EXEC, as Redis does. (On a cluster the keys must name
      // one slot when queued, which a bad count cannot.)
      if (mode === "--standalone") multi.call("FCALL", "incr2", 2, "{n}c");
      const tx = await multi.exec();
      assert.deepEqual(
        tx?.map(([e, r]) => (e === null ? r : e.message)),
        [
          12,
          "12",
          "ERR Function not found",
          ...(mode === "--standalone"
            ? ["ERR Number of keys can't be greater than number of args"]
            : []),
        ],
      );
      const other = await suite.connect();
      await other.call("CLIENT", "PAUSE", 10_000, "WRITE");
      try {
        assert.equal(await client.call("FCALL_RO", "reader", 1, "{n}c"), "12");
        assert.equal(await client.call("FCALL", "reader", 1, "{n}c"), "12");
      } finally {
        await other.call("CLIENT", "UNPAUSE");
      }
    });

    it("keeps the libraries across a restart", async () => {
      const client = await suite.connect();
      await client.call("FUNCTION", "FLUSH");
      await client.call("FUNCTION", "LOAD", lib2);
      await suite.restart();
      const again = await suite.connect();
      await waitFor("the library after the restart", 30_000, async () => {
        try {
          return (await again.call("FCALL", "double", 0, 5)) === 10;
        } catch {
          return false;
        }
      });
      // A cluster node answers FUNCTION DELETE once its meta group has a leader again.
      await waitFor("FUNCTION DELETE after the restart", 30_000, async () => {
        try {
          return (await again.call("FUNCTION", "DELETE", "lib2")) === "OK";
        } catch {
          return false;
        }
      });
      await suite.restart();
      const third = await suite.connect();
      await waitFor("the node serves again", 30_000, async () => {
        try {
          return (await third.ping()) === "PONG";
        } catch {
          return false;
        }
      });
      await assert.rejects(third.call("FCALL", "double", 0, 5), /ERR Function not found/);
    });
  });
}

describe("functions on a 3-node cluster", { timeout: 120_000 }, () => {
  it("a library loaded through one node is called through every node, and a restarted node has it", async () => {
    const nodes: RunningNode[] = [];
    const dirs: string[] = [];
    const clients: Redis[] = [];
    try {
      clients.push(...(await startFormedCluster(4, nodes, dirs)));
      const [a, b, c] = clients as [Redis, Redis, Redis];
      // Every node's meta replica has the others before a library is loaded through one.
      await waitFor("a meta leader", 60_000, async () => {
        try {
          return (await b.call("FUNCTION", "LOAD", "REPLACE", lib1)) === "lib1";
        } catch {
          return false;
        }
      });
      // Loaded through b, at once known to b; and through any other node soon after.
      assert.equal(await b.call("FCALL", "incr2", 1, "counter", 1), 1);
      for (const client of [a, c]) {
        await waitFor("the library on every node", 10_000, async () => {
          try {
            return typeof (await client.call("FCALL", "incr2", 1, "counter", 1)) === "number";
          } catch {
            return false;
          }
        });
      }
      assert.equal(await c.call("FCALL_RO", "reader", 1, "counter"), "3");
      assert.equal(await a.call("FUNCTION", "LOAD", lib2), "lib2");
      assert.equal(await c.call("FCALL", "double", 0, 8), 16);
      const listed = (await b.call("FUNCTION", "LIST")) as unknown[][];
      assert.deepEqual(listed.map((l) => l[1]).sort(), ["lib1", "lib2"]);
      await assert.rejects(c.call("FUNCTION", "LOAD", lib2), /ERR Library 'lib2' already exists/);
      // A node restarts: it has the libraries from its meta replica (and catches up).
      c.disconnect();
      await (nodes[2] as RunningNode).stop();
      const seed = `127.0.0.1:${(nodes[0] as RunningNode).port}`;
      nodes[2] = await startNode(dirs[2] as string, ["--cluster", "--join", seed]);
      const d = new Redis({
        port: (nodes[2] as RunningNode).port,
        lazyConnect: true,
        maxRetriesPerRequest: 0,
      });
      clients.push(d);
      await d.connect();
      await waitFor("the libraries on the restarted node", 60_000, async () => {
        try {
          return (await d.call("FCALL_RO", "reader", 1, "counter")) === "3";
        } catch {
          return false;
        }
      });
      assert.equal(await d.call("FCALL", "double", 0, 1), 2);
    } finally {
      for (const cl of clients) cl.disconnect();
      cleanUpAfter(nodes, dirs);
    }
  });
});

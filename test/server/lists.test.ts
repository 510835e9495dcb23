import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import type { Redis } from "ioredis";
import { nodeForSuite, waitForBlocked } from "./harness.js";

/**
 * Lists and the blocking pops against a real node over loopback, in both modes: a
 * standalone node and a one-node sharded cluster (every write a raft entry, a blocked
 * client tried again when its shard applies a write to its key). Replies and errors are
 * checked in test/kv/lists.test.ts and by Redis's own unit/type/list (npm run conformance).
 */
for (const mode of ["--standalone", "--cluster"] as const) {
  describe(`lists and blocking pops on a node (${mode})`, () => {
    const suite = nodeForSuite([mode]);
    const connect = () => suite.connect();
    let client: Redis;

    before(async () => {
      client = await connect();
    });

    it("serves ioredis's list commands", async () => {
      assert.equal(await client.rpush("{j}jobs", "a", "b", "c"), 3);
      assert.equal(await client.lpush("{j}jobs", "z"), 4);
      assert.deepEqual(await client.lrange("{j}jobs", 0, -1), ["z", "a", "b", "c"]);
      assert.equal(await client.lindex("{j}jobs", -1), "c");
      assert.equal(await client.linsert("{j}jobs", "AFTER", "a", "a2"), 5);
      assert.equal(await client.lpos("{j}jobs", "b"), 3);
      assert.equal(await client.lmove("{j}jobs", "{j}done", "LEFT", "RIGHT"), "z");
      assert.deepEqual(await client.lpop("{j}jobs", 2), ["a", "a2"]);
      assert.equal(await client.llen("{j}jobs"), 2);
      assert.equal(await client.type("{j}jobs"), "list");
      await assert.rejects(client.get("{j}jobs"), /WRONGTYPE/);
      assert.deepEqual(
        await client.call("LMPOP", "2", "{j}nothing", "{j}jobs", "RIGHT", "COUNT", "5"),
        ["{j}jobs", ["c", "b"]],
      );
      assert.equal(await client.exists("{j}jobs"), 0);
    });

    it("SORT and SORT ... STORE, within one slot; BY patterns only on a standalone node", async () => {
      await client.rpush("{s}nums", "3", "1", "2");
      assert.deepEqual(await client.sort("{s}nums"), ["1", "2", "3"]);
      assert.equal(await client.sort("{s}nums", "DESC", "STORE", "{s}sorted"), 3);
      assert.deepEqual(await client.lrange("{s}sorted", 0, -1), ["3", "2", "1"]);
      assert.deepEqual(await client.call("SORT_RO", "{s}nums", "LIMIT", "0", "1"), ["1"]);
      await client.mset("{s}w_1", "9", "{s}w_2", "8", "{s}w_3", "7");
      if (mode === "--cluster") {
        await assert.rejects(
          client.sort("{s}nums", "BY", "{s}w_*"),
          /BY option of SORT denied in Cluster mode/,
        );
        await assert.rejects(client.sort("{s}nums", "STORE", "elsewhere"), /CROSSSLOT/);
      } else {
        assert.deepEqual(await client.sort("{s}nums", "BY", "{s}w_*"), ["3", "2", "1"]);
      }
    });

    it("BLPOP waits for a push from another client, then answers it", async () => {
      const waiter = await connect();
      const popped = waiter.blpop("queue", 0);
      await waitForBlocked(client, 1);
      assert.equal(await client.rpush("queue", "job-1"), 1);
      assert.deepEqual(await popped, ["queue", "job-1"]);
      assert.equal(await client.exists("queue"), 0, "the element went to the waiter");
      // Its next command runs once it is answered.
      assert.equal(await waiter.ping(), "PONG");
    });

    it("serves blocked clients in the order they blocked, one element each", async () => {
      const first = await connect();
      const second = await connect();
      const a = first.brpop("fifo", 0);
      await waitForBlocked(client, 1);
      const b = second.brpop("fifo", 0);
      await waitForBlocked(client, 2);
      await client.rpush("fifo", "one", "two");
      assert.deepEqual(await a, ["fifo", "two"]);
      assert.deepEqual(await b, ["fifo", "one"]);
    });

    it("answers null at the timeout, and pops at once when it can", async () => {
      const waiter = await connect();
      const started = Date.now();
      assert.equal(await waiter.blpop("empty", 0.2), null);
      assert.ok(Date.now() - started >= 190, "waited the timeout");
      assert.equal(await waiter.call("BLMOVE", "empty", "{empty}d", "LEFT", "LEFT", "0.1"), null);
      await client.rpush("full", "x");
      assert.deepEqual(await waiter.blpop("full", 5), ["full", "x"]);
      await assert.rejects(waiter.blpop("full", -1), /timeout is negative/);
    });

    it("BRPOPLPUSH and BLMOVE move what another client pushes", async () => {
      const waiter = await connect();
      const moved = waiter.brpoplpush("{m}src", "{m}dst", 0);
      await waitForBlocked(client, 1);
      await client.lpush("{m}src", "item");
      assert.equal(await moved, "item");
      assert.deepEqual(await client.lrange("{m}dst", 0, -1), ["item"]);
      const blmpop = waiter.call("BLMPOP", "0", "2", "{m}a", "{m}b", "LEFT", "COUNT", "2");
      await waitForBlocked(client, 1);
      await client.rpush("{m}b", "1", "2", "3");
      assert.deepEqual(await blmpop, ["{m}b", ["1", "2"]]);
    });

    it("CLIENT UNBLOCK answers a blocked client with its null or an error", async () => {
      const waiter = await connect();
      const id = (await waiter.call("CLIENT", "ID")) as number;
      const timedOut = waiter.blpop("never", 0);
      await waitForBlocked(client, 1);
      assert.match((await client.call("CLIENT", "LIST", "ID", String(id))) as string, /flags=b /);
      assert.equal(await client.call("CLIENT", "UNBLOCK", String(id)), 1);
      assert.equal(await timedOut, null);
      const failed = waiter.call("BLMOVE", "never", "{never}d", "LEFT", "LEFT", "0");
      await waitForBlocked(client, 1);
      assert.equal(await client.call("CLIENT", "UNBLOCK", String(id), "ERROR"), 1);
      await assert.rejects(failed, /UNBLOCKED client unblocked via CLIENT UNBLOCK/);
      assert.equal(await client.call("CLIENT", "UNBLOCK", String(id)), 0, "not blocked now");
      await assert.rejects(client.call("CLIENT", "UNBLOCK", "x"), /not an integer/);
      await assert.rejects(
        client.call("CLIENT", "UNBLOCK", String(id), "LATER"),
        /reason should be TIMEOUT or ERROR/,
      );
    });

    it("does not block in MULTI, and a client that leaves loses nothing", async () => {
      const tx = await client.multi().blpop("{t}none", 0).rpush("{t}none", "v").exec();
      assert.deepEqual(tx, [
        [null, null],
        [null, 1],
      ]);
      const leaver = await connect();
      void leaver.blpop("abandoned", 0).catch(() => undefined);
      await waitForBlocked(client, 1);
      leaver.disconnect();
      await waitForBlocked(client, 0);
      await client.rpush("abandoned", "kept");
      assert.deepEqual(await client.lrange("abandoned", 0, -1), ["kept"]);
    });
  });
}

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Redis } from "ioredis";
import {
  cleanUpAfter,
  nodeForSuite,
  type RunningNode,
  sameAsRedis,
  startFormedCluster,
  waitFor,
} from "./harness.js";

/**
 * WAIT: on a standalone node, Redis's answers without replicas (compared with
 * redis-server's); on a 3-node cluster, the other voters of the shards a connection wrote
 * to that have its writes: 2 with every node up, 1 with one of the shard's followers
 * stopped, and at once inside MULTI.
 */

describe("WAIT on a standalone node", () => {
  const suite = nodeForSuite(["--standalone"]);

  it("answers as redis-server without replicas does", async (t) => {
    const r = await suite.connect();
    await sameAsRedis(
      t,
      r,
      ["w"],
      [
        [
          ["WAIT", 0, 0],
          ["SET", "w", 1],
          ["WAIT", 0, 0],
          ["WAIT", 1, 100],
          ["WAIT", "x", 1],
          ["WAIT", 1, "x"],
          ["WAIT", 1, -1],
          ["WAIT", 1],
        ],
      ],
    );
  });
});

describe("WAIT on a 3-node cluster", { timeout: 120_000 }, () => {
  it("counts the other voters that have the connection's writes", async () => {
    const nodes: RunningNode[] = [];
    const dirs: string[] = [];
    const clients: Redis[] = [];
    try {
      clients.push(...(await startFormedCluster(4, nodes, dirs)));
      const a = clients[0] as Redis;
      // A connection that wrote nothing: every shard's other voters (as the meta group's
      // shard map has them, which records a change once raft made it).
      await waitFor("WAIT of a connection that wrote nothing", 30_000, async () => {
        return (await a.call("WAIT", 0, 0)) === 2;
      });
      // A key whose shard node 0 leads (the slot map names the leader first).
      const slots = (await a.call("CLUSTER", "SLOTS")) as [number, number, [string, number]][];
      const ledHere = (slot: number) =>
        slots.some(
          ([lo, hi, leader]) => lo <= slot && slot <= hi && leader[1] === nodes[0]?.redirectPort,
        );
      let key = "";
      for (let i = 0; key === ""; i++) {
        if (ledHere(Number(await a.call("CLUSTER", "KEYSLOT", `k${i}`)))) key = `k${i}`;
      }
      await a.set(key, "1");
      assert.equal(await a.call("WAIT", 2, 5_000), 2);
      let started = Date.now();
      assert.equal(await a.call("WAIT", 3, 200), 2, "a shard has 2 other voters");
      assert.ok(Date.now() - started >= 190, "waited for its timeout");
      // Inside MULTI, WAIT does not block: the count as it is, at least the commit's quorum
      // (the other follower may get the entry only at the next heartbeat).
      const tx = await a.multi().set(key, "2").call("WAIT", 3, 0).exec();
      assert.equal(tx?.[0]?.[1], "OK");
      const inTx = tx?.[1]?.[1] as number;
      assert.ok(inTx >= 1 && inTx <= 2, `WAIT in MULTI: ${inTx}`);
      // One follower of the shard stopped: its writes reach one other voter only.
      const follower = nodes[1] as RunningNode;
      follower.proc.kill("SIGSTOP");
      try {
        await a.set(key, "3");
        started = Date.now();
        assert.equal(await a.call("WAIT", 2, 300), 1);
        assert.ok(Date.now() - started >= 290);
        assert.equal(await a.call("WAIT", 1, 0), 1);
      } finally {
        follower.proc.kill("SIGCONT");
      }
      // Back, it catches up, and WAIT sees it.
      assert.equal(await a.call("WAIT", 2, 10_000), 2);
    } finally {
      for (const c of clients) c.disconnect();
      cleanUpAfter(nodes, dirs);
    }
  });
});

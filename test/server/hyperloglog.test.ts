import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import type { Redis } from "ioredis";
import { SeededRandom } from "../../src/core/random.js";
import { nodeForSuite, sameAsRedis } from "./harness.js";

/**
 * HyperLogLog against a real node over loopback, in both modes (a standalone node, a
 * one-node sharded cluster where every write is a raft entry): random PFADD, PFCOUNT and
 * PFMERGE answered as redis-server answers them, and the HLLs they leave byte for byte
 * Redis's, but for the cached count (bytes 8 to 15), which PFCOUNT writes in Redis and
 * not here. Also checked in test/kv/hyperloglog.test.ts and by Redis's own
 * unit/hyperloglog (npm run conformance).
 */

const KEYS = ["{h}a", "{h}b", "{h}c"];

function workload(seed: number): string[][] {
  const rnd = new SeededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[rnd.int(xs.length)] as T;
  const cmds: string[][] = [];
  for (let n = 0; n < 150; n++) {
    const roll = rnd.next();
    if (roll < 0.6) {
      const elements = Array.from({ length: 1 + rnd.int(rnd.next() < 0.2 ? 400 : 8) }, () =>
        String(rnd.int(seed * 5000)),
      );
      cmds.push(["pfadd", pick(KEYS), ...elements]);
    } else if (roll < 0.85) {
      cmds.push(["pfcount", ...KEYS.filter(() => rnd.next() < 0.6), pick(KEYS)]);
    } else {
      cmds.push(["pfmerge", pick(KEYS), ...KEYS.filter(() => rnd.next() < 0.5)]);
    }
  }
  for (const k of KEYS) {
    cmds.push(["getrange", k, "0", "7"], ["getrange", k, "16", "-1"], ["pfdebug", "encoding", k]);
  }
  return cmds;
}

for (const mode of ["--standalone", "--cluster"] as const) {
  describe(`HyperLogLog on a node (${mode})`, () => {
    const suite = nodeForSuite([mode]);
    let client: Redis;

    before(async () => {
      client = await suite.connect();
    });

    it("counts distinct visitors through ioredis", async () => {
      for (let day = 0; day < 3; day++) {
        const visitors = Array.from({ length: 500 }, (_, i) => `user:${day * 250 + i}`);
        assert.equal(await client.pfadd(`{v}day${day}`, ...visitors), 1);
      }
      const one = await client.pfcount("{v}day0");
      assert.ok(Math.abs(one - 500) <= 10, `${one}`);
      const all = await client.pfcount("{v}day0", "{v}day1", "{v}day2");
      assert.ok(Math.abs(all - 1000) <= 20, `${all}`);
      assert.equal(await client.pfmerge("{v}week", "{v}day0", "{v}day1", "{v}day2"), "OK");
      assert.equal(await client.pfcount("{v}week"), all);
      await client.set("{v}text", "hello");
      await assert.rejects(client.pfadd("{v}text", "x"), /not a valid HyperLogLog/);
    });

    it("answers what redis-server answers, and leaves the same bytes", (t) =>
      sameAsRedis(t, client, KEYS, [1, 2, 3].map(workload)));
  });
}

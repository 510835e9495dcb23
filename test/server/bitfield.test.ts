import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import type { Redis } from "ioredis";
import { SeededRandom } from "../../src/core/random.js";
import { nodeForSuite, sameAsRedis } from "./harness.js";

/**
 * BITOP and BITFIELD against a real node over loopback, in both modes (a standalone node,
 * a one-node sharded cluster where every write is a raft entry): random sequences of
 * commands answered as redis-server answers them, and the strings they leave behind
 * equal byte for byte. Replies and errors are also checked in test/kv/bitfield.test.ts
 * and by Redis's own unit/bitops and unit/bitfield (npm run conformance).
 */

const KEYS = ["{b}x", "{b}y", "{b}z"];

function workload(seed: number): string[][] {
  const rnd = new SeededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[rnd.int(xs.length)] as T;
  const cmds: string[][] = [];
  for (let n = 0; n < 300; n++) {
    if (rnd.next() < 0.15) {
      const op = pick(["and", "or", "xor", "not"]);
      const sources = op === "not" ? [pick(KEYS)] : KEYS.filter(() => rnd.next() < 0.7);
      cmds.push(["bitop", op, pick(KEYS), ...(sources.length > 0 ? sources : [pick(KEYS)])]);
      continue;
    }
    const cmd = [rnd.next() < 0.1 ? "bitfield_ro" : "bitfield", pick(KEYS)];
    for (let k = 1 + rnd.int(3); k > 0; k--) {
      if (rnd.next() < 0.3) cmd.push("overflow", pick(["wrap", "sat", "fail"]));
      const signed = rnd.next() < 0.5;
      const bits = 1 + rnd.int(signed ? 64 : 63);
      const type = `${signed ? "i" : "u"}${bits}`;
      const offset = rnd.next() < 0.3 ? `#${rnd.int(8)}` : String(rnd.int(200));
      const magnitude = 2n ** BigInt(rnd.int(64));
      const value = String(rnd.next() < 0.5 ? -magnitude : magnitude - 1n);
      const what = pick(["get", "set", "incrby"]);
      if (what === "get") cmd.push("get", type, offset);
      else cmd.push(what, type, offset, value);
    }
    cmds.push(cmd);
  }
  for (const k of KEYS) cmds.push(["get", k]);
  return cmds;
}

for (const mode of ["--standalone", "--cluster"] as const) {
  describe(`BITOP and BITFIELD on a node (${mode})`, () => {
    const suite = nodeForSuite([mode]);
    let client: Redis;

    before(async () => {
      client = await suite.connect();
    });

    it("counts with packed counters through ioredis", async () => {
      // 16 counters of 4 bits in 8 bytes, saturating at 15.
      const incr = (i: number) =>
        client.bitfield("counters", "OVERFLOW", "SAT", "INCRBY", "u4", `#${i}`, 1);
      for (let n = 0; n < 20; n++) await incr(3);
      assert.deepEqual(await incr(7), [1]);
      assert.deepEqual(
        await client.call("bitfield", "counters", "GET", "u4", "#3", "GET", "u4", "#7"),
        [15, 1],
      );
      assert.deepEqual(await client.call("bitfield_ro", "counters", "GET", "u4", "#3"), [15]);
      await client.set("{m}a", Buffer.from([0xff, 0x0f]));
      await client.set("{m}b", Buffer.from([0x0f]));
      assert.equal(await client.bitop("AND", "{m}both", "{m}a", "{m}b"), 2);
      assert.equal(await client.bitcount("{m}both"), 4);
    });

    it("answers what redis-server answers for the same commands", (t) =>
      sameAsRedis(t, client, KEYS, [1, 2, 3].map(workload)));
  });
}

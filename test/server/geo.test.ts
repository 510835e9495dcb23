import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import type { Redis } from "ioredis";
import { SeededRandom } from "../../src/core/random.js";
import { nodeForSuite, sameAsRedis } from "./harness.js";

/**
 * The GEO commands against a real node over loopback, in both modes (a standalone node, a
 * one-node sharded cluster where every write is a raft entry): what a client sees end to
 * end, and the same random searches answered as redis-server answers them. Replies and
 * errors are checked in test/kv/geo.test.ts, and by Redis's own unit/geo (npm run
 * conformance).
 */

/** Random points around a centre, then searches of every kind over them. */
function workload(seed: number): (string | number)[][] {
  const rnd = new SeededRandom(seed);
  const cmds: (string | number)[][] = [];
  const cx = rnd.next() * 300 - 150;
  const cy = rnd.next() * 140 - 70;
  const spread = [0.01, 0.5, 5][seed % 3] as number;
  const add: (string | number)[] = ["geoadd", "{g}pts"];
  for (let i = 0; i < 200; i++) {
    const lon = Math.max(-180, Math.min(180, cx + (rnd.next() - 0.5) * 2 * spread));
    const lat = Math.max(-85, Math.min(85, cy + (rnd.next() - 0.5) * spread));
    add.push(lon.toFixed(6), lat.toFixed(6), `p${i}`);
  }
  cmds.push(add);
  const units = ["m", "km", "mi", "ft"] as const;
  const toMeters = { m: 1, km: 1000, mi: 1609.34, ft: 0.3048 };
  for (let q = 0; q < 40; q++) {
    const unit = units[q % 4] as (typeof units)[number];
    const size = ((spread * 111_000 * (0.05 + rnd.next())) / toMeters[unit]).toFixed(3);
    const from =
      q % 2 === 0
        ? ["frommember", `p${Math.floor(rnd.next() * 200)}`]
        : ["fromlonlat", cx.toFixed(5), cy.toFixed(5)];
    const by = q % 3 === 0 ? ["bybox", size, size, unit] : ["byradius", size, unit];
    // Sorted, so that the order is Redis's: its unsorted order is its cells' order, ours too,
    // but ties under COUNT are cut in an order of its own (docs/commands.md, "geo").
    cmds.push(["geosearch", "{g}pts", ...from, ...by, "asc", "withdist", "withhash", "withcoord"]);
    cmds.push(["geosearchstore", "{g}dst", "{g}pts", ...from, ...by, "storedist"]);
    cmds.push(["zrange", "{g}dst", 0, -1, "withscores"]);
    const a = `p${Math.floor(rnd.next() * 200)}`;
    const b = `p${Math.floor(rnd.next() * 200)}`;
    cmds.push(
      ["geodist", "{g}pts", a, b, unit],
      ["geopos", "{g}pts", a, b],
      ["geohash", "{g}pts", a],
    );
  }
  cmds.push(["georadius", "{g}pts", cx.toFixed(5), cy.toFixed(5), 500, "km", "count", 5, "asc"]);
  return cmds;
}

/**
 * STOREDIST's scores, the members equal and each distance within a few ulps: sin, cos and
 * asin are V8's here and glibc's in Redis, which may round the last bit apart (the four
 * decimals WITHDIST shows do not move).
 */
function sameDistances(ours: unknown, theirs: unknown, what: string): void {
  assert.ok(Array.isArray(ours) && Array.isArray(theirs), what);
  assert.equal(ours.length, theirs.length, what);
  for (let i = 0; i < ours.length; i += 2) {
    assert.equal(ours[i], theirs[i], what);
    const a = Number(ours[i + 1]);
    const b = Number(theirs[i + 1]);
    assert.ok(Math.abs(a - b) <= Math.abs(b) * 1e-14, `${what}: ${a} against ${b}`);
  }
}

for (const mode of ["--standalone", "--cluster"] as const) {
  describe(`GEO commands on a node (${mode})`, () => {
    const suite = nodeForSuite([mode]);
    let client: Redis;

    before(async () => {
      client = await suite.connect();
    });

    it("serves a store locator through ioredis", async () => {
      assert.equal(
        await client.geoadd(
          "shops",
          13.361389,
          38.115556,
          "Palermo",
          15.087269,
          37.502669,
          "Catania",
        ),
        2,
      );
      assert.equal(await client.geodist("shops", "Palermo", "Catania", "KM"), "166.2742");
      assert.deepEqual(await client.geopos("shops", "Palermo", "nowhere"), [
        ["13.36138933897018433", "38.11555639549629859"],
        null,
      ]);
      assert.deepEqual(await client.geohash("shops", "Catania"), ["sqdtr74hyu0"]);
      assert.deepEqual(
        await client.geosearch(
          "shops",
          "FROMLONLAT",
          15,
          37,
          "BYRADIUS",
          200,
          "km",
          "ASC",
          "WITHDIST",
        ),
        [
          ["Catania", "56.4413"],
          ["Palermo", "190.4424"],
        ],
      );
      assert.equal(
        await client.geosearchstore(
          "{shops}near",
          "shops",
          "FROMMEMBER",
          "Catania",
          "BYBOX",
          50,
          50,
          "km",
        ),
        1,
      );
      assert.deepEqual(await client.zrange("{shops}near", 0, -1), ["Catania"]);
      await assert.rejects(
        client.geoadd("shops", 200, 100, "x"),
        /invalid longitude,latitude pair/,
      );
    });

    if (mode === "--cluster") {
      it("a destination in another slot is CROSSSLOT", async () => {
        await assert.rejects(
          client.geosearchstore("elsewhere", "shops", "FROMMEMBER", "Catania", "BYRADIUS", 1, "km"),
          /CROSSSLOT/,
        );
        await assert.rejects(
          client.call("georadius", "shops", "15", "37", "10", "km", "store", "elsewhere"),
          /CROSSSLOT/,
        );
      });
    }

    it("answers what redis-server answers for the same points and searches", (t) =>
      sameAsRedis(t, client, ["{g}pts", "{g}dst"], [1, 2, 3].map(workload), (ours, theirs, cmd) => {
        if (cmd[0] === "zrange") sameDistances(ours, theirs, cmd.join(" "));
        else assert.deepEqual(ours, theirs, cmd.join(" "));
      }));
  });
}

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  applyStep,
  bootstrapShardMap,
  byteBalanceFloor,
  type ClusterNode,
  type PlacementStep,
  planPlacement,
  type ShardMap,
} from "../../src/cluster/shard-map.js";
import { elect, node, nodes, shard, shardMap } from "./helpers.js";

/**
 * Placement with shard sizes (PlacementOptions.shardBytes): without them it plans exactly
 * as before; with them it evens bytes per node with hysteresis, keeps counts within one
 * and zones spread, moves each replica at most once, and its own result is a fixed point.
 */

const MiB = 1024 ** 2;
const GiB = 1024 * MiB;

/** mulberry32: a small deterministic generator, so every fleet below replays exactly. */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

interface Settled {
  readonly map: ShardMap;
  readonly plans: PlacementStep[][];
  /** Replicas added (learners), as "shard@node". */
  readonly added: string[];
  /** Replicas this run added and a later plan moved on, as "shard@node". */
  readonly movedAgain: string[];
  /** Replicas added to a node a second time, as "shard@node". */
  readonly addedTwice: string[];
  /** Σ over nodes of squared bytes (in MiB²) at each settled map on the way (no learner). */
  readonly potentials: number[];
}

/**
 * Plans and applies every step until a plan is empty, as the reconciler would. If `once`,
 * fails when a replica is added to the same node twice or a replica this run added is
 * removed again; else counts them.
 */
function settle(
  start: ShardMap,
  live: readonly ClusterNode[],
  shardBytes?: ReadonlyMap<number, number>,
  once = true,
  roundsMax = 30,
): Settled {
  let map = elect(start, live);
  const plans: PlacementStep[][] = [];
  const added: string[] = [];
  const movedAgain: string[] = [];
  const addedTwice: string[] = [];
  const potentials: number[] = [];
  const w = (id: number) => shardBytes?.get(id) ?? 0;
  for (let round = 0; round < roundsMax; round++) {
    if (map.shards.every((s) => s.learners.length === 0)) {
      potentials.push(squares(perNode(map, live, w)));
    }
    const plan = planPlacement(live, map, 3, shardBytes === undefined ? {} : { shardBytes });
    if (plan.length === 0) return { map, plans, added, movedAgain, addedTwice, potentials };
    plans.push(plan);
    for (const step of plan) {
      if (step.kind === "add-learner") {
        const key = `${step.shard}@${step.node}`;
        assert.ok(!once || !added.includes(key), `replica ${key} added twice`);
        if (added.includes(key)) addedTwice.push(key);
        added.push(key);
      }
      if (step.kind === "remove") {
        const key = `${step.shard}@${step.node}`;
        assert.ok(!once || !added.includes(key), `replica ${key} moved again`);
        if (added.includes(key)) movedAgain.push(key);
      }
      map = applyStep(map, step);
    }
    map = elect(map, live);
  }
  assert.fail(`no fixed point after ${roundsMax} rounds`);
}

function perNode(map: ShardMap, live: readonly ClusterNode[], w: (id: number) => number) {
  return live.map((n) =>
    map.shards.filter((s) => s.replicas.includes(n.raftId)).reduce((a, s) => a + w(s.id), 0),
  );
}

const counts = (map: ShardMap, live: readonly ClusterNode[]) => perNode(map, live, () => 1);
const spread = (v: readonly number[]) => Math.max(...v) - Math.min(...v);
const ratio = (v: readonly number[]) => Math.max(...v) / Math.max(1, Math.min(...v));
/** (max − min) over the mean. */
const gapShare = (v: readonly number[]) => (spread(v) * v.length) / v.reduce((a, b) => a + b, 0);
const squares = (v: readonly number[]) => v.reduce((a, b) => a + (b / MiB) ** 2, 0);
const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
const mib = (v: readonly number[]) => v.map((b) => (b / MiB).toFixed(0)).join(" ");

function zonesSpanned(map: ShardMap, live: readonly ClusterNode[]): number[] {
  const zone = new Map(live.map((n) => [n.raftId, n.zone]));
  return map.shards.map((s) => new Set(s.replicas.map((id) => zone.get(id))).size);
}

/**
 * 6 nodes, 24 shards of 3 replicas on consecutive nodes (each node holds 12 and leads 4),
 * so counts are even; the 4 shards on nodes 1, 2, 3 (all led by node 1) weigh `big`, the
 * others `small`.
 */
function evenCountsSkewedBytes(live: readonly ClusterNode[], big: number, small: number) {
  const shards = Array.from({ length: 24 }, (_, i) => {
    const replicas = [0, 1, 2].map((k) => ((i + k) % 6) + 1).sort((a, b) => a - b);
    return shard(i + 1, [[i, i]], replicas, (i % 6) + 1);
  });
  const map = shardMap(shards);
  const size = new Map(map.shards.map((s) => [s.id, s.id % 6 === 1 ? big : small]));
  assert.deepEqual(counts(map, live), [12, 12, 12, 12, 12, 12]);
  return { map, size };
}

describe("planPlacement without shard sizes", () => {
  // Plans of the placement before shard sizes existed (commit 642f04a), pinned.
  const cases: [string, ClusterNode[], ShardMap, PlacementStep[]][] = [
    [
      "growth onto two new nodes",
      nodes(5),
      shardMap([1, 2, 3, 4, 5, 6].map((i) => shard(i, [[i, i]], [1, 2, 3], (i % 3) + 1))),
      [
        { kind: "add-learner", shard: 1, node: 4 },
        { kind: "add-learner", shard: 1, node: 5 },
        { kind: "add-learner", shard: 2, node: 5 },
        { kind: "add-learner", shard: 3, node: 4 },
        { kind: "add-learner", shard: 4, node: 5 },
        { kind: "add-learner", shard: 5, node: 4 },
      ],
    ],
    [
      "zones to spread",
      nodes(6, ["a", "b", "c"]),
      shardMap([1, 2, 3, 4].map((i) => shard(i, [[i, i]], [1, 2, 4], 1))),
      [
        { kind: "add-learner", shard: 1, node: 3 },
        { kind: "add-learner", shard: 1, node: 5 },
        { kind: "transfer-leader", shard: 2, to: 4 },
        { kind: "add-learner", shard: 2, node: 5 },
        { kind: "add-learner", shard: 2, node: 6 },
        { kind: "transfer-leader", shard: 3, to: 2 },
        { kind: "add-learner", shard: 3, node: 3 },
        { kind: "add-learner", shard: 4, node: 6 },
      ],
    ],
    [
      "moves under way",
      nodes(4),
      shardMap([
        shard(1, [[0, 0]], [1, 2, 3], 3, [4]),
        shard(2, [[1, 1]], [1, 2, 3], 1),
        shard(3, [[2, 2]], [2, 3, 4], 2, [1]),
      ]),
      [
        { kind: "promote", shard: 1, node: 4 },
        { kind: "remove", shard: 1, node: 2 },
        { kind: "promote", shard: 3, node: 1 },
        { kind: "remove", shard: 3, node: 3 },
      ],
    ],
    [
      // Counts alone drop the learner here (every node holds one, highest id goes); with
      // sizes the learner is kept (below).
      "a learner that counts alone drop",
      nodes(5),
      shardMap([shard(1, [[0, 0]], [1, 2, 3], 1, [4])]),
      [{ kind: "remove", shard: 1, node: 4 }],
    ],
  ];

  for (const [name, live, map, expected] of cases) {
    it(`plans as before: ${name}`, () => {
      assert.deepEqual(planPlacement(live, map, 3), expected);
      assert.deepEqual(planPlacement(live, map, 3, {}), expected);
    });
  }

  it("with sizes below the floor, counts alone decide (a learner under way is kept)", () => {
    for (const [, live, map, expected] of cases.slice(0, 2)) {
      const tiny = new Map(map.shards.map((s) => [s.id, s.id * MiB]));
      assert.deepEqual(planPlacement(live, map, 3, { shardBytes: tiny }), expected);
    }
    const [, live, map] = cases[3] as (typeof cases)[number];
    assert.deepEqual(planPlacement(live, map, 3, { shardBytes: new Map() }), [
      { kind: "promote", shard: 1, node: 4 },
      { kind: "remove", shard: 1, node: 3 },
    ]);
  });
});

describe("planPlacement with shard sizes", () => {
  it("evens bytes that even counts leave skewed, each replica moved once, then stays put", (t) => {
    const live = nodes(6);
    const { map, size } = evenCountsSkewedBytes(live, GiB, 10 * MiB);
    const w = (id: number) => size.get(id) ?? 0;
    const before = perNode(map, live, w);
    const after = settle(map, live, size);
    const bytes = perNode(after.map, live, w);
    t.diagnostic(
      `MiB per node before ${mib(before)} (max/min ${ratio(before).toFixed(1)}), ` +
        `after ${mib(bytes)} (max/min ${ratio(bytes).toFixed(2)}); ` +
        `${after.added.length} replicas copied in ${after.plans.length} plans`,
    );
    assert.ok(ratio(before) > 30);
    // 12 big replicas on 6 nodes: 2 each is possible, and reached.
    assert.ok(ratio(bytes) <= 1.1, `MiB per node ${mib(bytes)}`);
    assert.ok(spread(counts(after.map, live)) <= 1, `counts ${counts(after.map, live)}`);
    // Nodes 1, 2, 3 each give 2 big shards and take a small one back for each: 12 copies
    // at the least; a change is made only when the next plan will finish it exactly
    // (balanceBytes), which spreads the work over a few waves and costs a little more.
    assert.ok(after.added.length <= 16, `${after.added.length} copies`);
    assert.deepEqual(planPlacement(live, after.map, 3, { shardBytes: size }), []);
  });

  it("uses sizes to pick which replica a count move takes", () => {
    // Node 1 holds two shards too many (4 against 2): two move to nodes 4 and 5; a heavy
    // giver gives its big shards, not the first ones in shard order.
    const live = nodes(5);
    const map = shardMap([
      shard(1, [[0, 0]], [1, 2, 3], 2),
      shard(2, [[1, 1]], [1, 2, 3], 3),
      shard(3, [[2, 2]], [1, 4, 5], 4),
      shard(4, [[3, 3]], [1, 2, 3], 5),
    ]);
    const size = new Map([
      [1, 10 * MiB],
      [2, 10 * MiB],
      [3, 10 * MiB],
      [4, 2 * GiB],
    ]);
    const counted = planPlacement(live, map, 3).filter((s) => s.kind === "add-learner");
    const sized = planPlacement(live, map, 3, { shardBytes: size }).filter(
      (s) => s.kind === "add-learner",
    );
    assert.equal(sized.length, counted.length);
    assert.ok(
      sized.some((s) => s.shard === 4),
      JSON.stringify(sized),
    );
    assert.ok(!counted.some((s) => s.shard === 4));
  });

  it("leaves a small skew alone (hysteresis), and any skew below the floor", () => {
    const live = nodes(6);
    const { map } = evenCountsSkewedBytes(live, 0, 0);
    // Every shard 400 MiB (4.7 GiB per node), one 3% of a node's mean bigger.
    const size = new Map(map.shards.map((s) => [s.id, 400 * MiB]));
    size.set(1, 400 * MiB + 0.03 * 12 * 400 * MiB);
    assert.deepEqual(planPlacement(live, map, 3, { shardBytes: size }), []);
    // 9% neither: a change must narrow two nodes' gap by twice the margin (10% of the mean).
    size.set(1, 400 * MiB + 0.09 * 12 * 400 * MiB);
    assert.deepEqual(planPlacement(live, map, 3, { shardBytes: size }), []);
    // (A single big shard would not move at any size: swapping it for a 400 MiB one only
    // turns the gap round.) The big skew of the test above is acted on:
    const { map: skewed, size: big } = evenCountsSkewedBytes(live, GiB, 10 * MiB);
    assert.ok(planPlacement(live, skewed, 3, { shardBytes: big }).length > 0);
    // The same shape 100 times smaller is below the floor (64 MiB per node): nothing.
    const small = new Map([...big].map(([id, b]) => [id, b / 100]));
    const mean = perNode(skewed, live, (id) => small.get(id) ?? 0).reduce((a, b) => a + b) / 6;
    assert.ok(mean < byteBalanceFloor);
    assert.deepEqual(planPlacement(live, skewed, 3, { shardBytes: small }), []);
  });

  it("keeps every shard in 3 zones", (t) => {
    // Zones a, b, c: nodes 1 and 4, 2 and 5, 3 and 6. Consecutive nodes span all three.
    const live = nodes(6, ["a", "b", "c"]);
    const { map, size } = evenCountsSkewedBytes(live, GiB, 10 * MiB);
    assert.ok(zonesSpanned(map, live).every((z) => z === 3));
    const w = (id: number) => size.get(id) ?? 0;
    const before = perNode(map, live, w);
    const after = settle(map, live, size);
    const bytes = perNode(after.map, live, w);
    t.diagnostic(
      `MiB per node before ${mib(before)}, after ${mib(bytes)}; ${after.added.length} copies`,
    );
    assert.ok(zonesSpanned(after.map, live).every((z) => z === 3));
    assert.ok(spread(counts(after.map, live)) <= 1);
    // Only same-zone exchanges keep 3 zones: node 1 with 4, 2 with 5, 3 with 6 — enough.
    assert.ok(ratio(bytes) <= 1.1, `MiB per node ${mib(bytes)}`);
    assert.deepEqual(planPlacement(live, after.map, 3, { shardBytes: size }), []);
  });

  it("terminates, keeps counts and zones, and is stable on random fleets", (t) => {
    let copies = 0;
    let worstBefore = 0;
    let worstAfter = 0;
    let meanBefore = 0;
    let meanAfter = 0;
    let rounds = 0;
    let again = 0;
    let fleetsAgain = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const rand = prng(seed);
      const nodeCount = 3 + rand(10);
      const zoneCount = 1 + rand(3);
      const live = nodes(nodeCount, ["a", "b", "c"].slice(0, zoneCount));
      const shardCount = 6 + rand(43);
      // Placed by counts alone first (as a cluster grows), then sizes arrive.
      const grown = settle(
        bootstrapShardMap([node(1, "a")], shardCount, 3),
        live,
        undefined,
        false,
      );
      const start = grown.map;
      const size = new Map(
        start.shards.map((s) => [s.id, rand(7) === 0 ? (512 + rand(3584)) * MiB : rand(100) * MiB]),
      );
      const w = (id: number) => size.get(id) ?? 0;
      const before = perNode(start, live, w);
      const after = settle(start, live, size, false);
      const bytes = perNode(after.map, live, w);
      const what = `seed ${seed}: ${nodeCount} nodes, ${zoneCount} zones, ${shardCount} shards`;
      assert.ok(
        spread(counts(after.map, live)) <= Math.max(1, spread(counts(start, live))),
        `${what}: counts ${counts(after.map, live)}`,
      );
      const r = Math.min(3, zoneCount);
      assert.ok(
        zonesSpanned(after.map, live).every((z) => z === r),
        `${what}: zones`,
      );
      // The potential falls from one settled map to the next: no state comes back.
      for (let i = 1; i < after.potentials.length; i++) {
        const [was, is] = [after.potentials[i - 1] as number, after.potentials[i] as number];
        assert.ok(is < was, `${what}: Σ bytes² ${was} then ${is}`);
      }
      assert.ok(squares(bytes) <= squares(before), `${what}: Σ bytes² grew`);
      assert.deepEqual(after.addedTwice, [], `${what}: a replica added to a node twice`);
      assert.deepEqual(planPlacement(live, after.map, 3, { shardBytes: size }), [], what);
      copies += after.added.length;
      again += after.movedAgain.length;
      if (after.movedAgain.length > 0) fleetsAgain++;
      rounds = Math.max(rounds, after.plans.length);
      worstBefore = Math.max(worstBefore, gapShare(before));
      worstAfter = Math.max(worstAfter, gapShare(bytes));
      meanBefore += gapShare(before) / 40;
      meanAfter += gapShare(bytes) / 40;
    }
    t.diagnostic(
      `40 fleets: ${copies} copies in all, at most ${rounds} plans each; ${again} replicas ` +
        `moved again by a later wave, in ${fleetsAgain} fleets; bytes per node, (max − min) / ` +
        `mean: ${pct(meanBefore)} before, ${pct(meanAfter)} after on average, worst ` +
        `${pct(worstBefore)} and ${pct(worstAfter)}`,
    );
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  applyStep,
  bootstrapShardMap,
  type ClusterNode,
  initialShards,
  type PlacementOptions,
  type PlacementStep,
  planPlacement,
  type ShardMap,
  validateShardMap,
} from "../../src/cluster/shard-map.js";
import { elect, node, nodes, shard, shardMap } from "./helpers.js";

/**
 * Checks the rules every step must keep, given the map before it and the learners the
 * plan started with: promote only learners an earlier plan added; remove a voter only
 * while the shard keeps `r` voters, and never its live leader.
 */
function checkStep(
  before: ShardMap,
  step: PlacementStep,
  startLearners: ReadonlyMap<number, readonly number[]>,
  r: number,
  alive: ReadonlySet<number>,
): void {
  const s = before.shards.find((x) => x.id === step.shard);
  assert.ok(s !== undefined);
  if (step.kind === "promote") {
    assert.ok(startLearners.get(s.id)?.includes(step.node), `promoted a new learner ${step.node}`);
  }
  if (step.kind === "remove" && s.replicas.includes(step.node)) {
    assert.ok(s.replicas.length > r, `shard ${s.id} would drop below ${r} voters`);
    assert.ok(
      s.leader !== step.node || !alive.has(step.node),
      `removed the live leader of ${s.id}`,
    );
  }
  if (step.kind === "add-learner") assert.ok(alive.has(step.node), "learner on a dead node");
  if (step.kind === "transfer-leader") assert.ok(alive.has(step.to), "leader on a dead node");
}

interface Settled {
  map: ShardMap;
  plans: PlacementStep[][];
}

/** Plans and applies until the plan is empty, as the reconciler would, checking each step. */
function settle(
  start: ShardMap,
  live: readonly ClusterNode[],
  target: number,
  options: PlacementOptions = {},
  roundsMax = 30,
): Settled {
  const alive = new Set(live.map((n) => n.raftId));
  const r = Math.min(target, live.length);
  let map = elect(start, live);
  const plans: PlacementStep[][] = [];
  for (let round = 0; round < roundsMax; round++) {
    const plan = planPlacement(live, map, target, options);
    if (plan.length === 0) return { map, plans };
    plans.push(plan);
    const startLearners = new Map(map.shards.map((s) => [s.id, s.learners]));
    for (const step of plan) {
      checkStep(map, step, startLearners, r, alive);
      map = applyStep(map, step);
    }
    map = elect(map, live);
  }
  assert.fail(`no fixed point after ${roundsMax} rounds`);
}

function replicaCounts(map: ShardMap, live: readonly ClusterNode[]): number[] {
  return live.map((n) => map.shards.filter((s) => s.replicas.includes(n.raftId)).length);
}

function leaderCounts(map: ShardMap, live: readonly ClusterNode[]): number[] {
  return live.map((n) => map.shards.filter((s) => s.leader === n.raftId).length);
}

const spread = (counts: readonly number[]) => Math.max(...counts) - Math.min(...counts);

/** Every shard has `r` distinct live voters, no learners, a live leader; all is balanced. */
function assertBalanced(map: ShardMap, live: readonly ClusterNode[], r: number): void {
  const alive = new Set(live.map((n) => n.raftId));
  assert.deepEqual(validateShardMap(map, live), []);
  for (const s of map.shards) {
    assert.equal(new Set(s.replicas).size, r, `shard ${s.id} voters ${s.replicas}`);
    assert.ok(
      s.replicas.every((id) => alive.has(id)),
      `shard ${s.id} keeps a dead voter`,
    );
    assert.deepEqual(s.learners, []);
    assert.ok(s.leader !== null && alive.has(s.leader));
  }
  assert.ok(spread(replicaCounts(map, live)) <= 1, `replicas ${replicaCounts(map, live)}`);
  const leaders = leaderCounts(map, live);
  assert.ok(spread(leaders) <= 1, `leaders ${leaders}`);
  assert.ok(Math.max(...leaders) <= Math.ceil(map.shards.length / live.length));
}

describe("planPlacement", () => {
  it("grows 1 → 3 → 5 nodes to an even spread of replicas and leaders", () => {
    const start = bootstrapShardMap(nodes(1), 16, 3);
    assert.deepEqual(
      start.shards.map((s) => s.replicas),
      Array.from({ length: 16 }, () => [1]),
    );
    const three = settle(start, nodes(3), 3);
    assertBalanced(three.map, nodes(3), 3);
    const five = settle(three.map, nodes(5), 3);
    assertBalanced(five.map, nodes(5), 3);
    assert.deepEqual(replicaCounts(five.map, nodes(5)).sort(), [10, 10, 10, 9, 9].sort());
    assert.deepEqual(planPlacement(nodes(5), five.map, 3), []);
    // Growth is a few rounds: add learners, promote and drop, move leaders.
    assert.ok(five.plans.length <= 4, `${five.plans.length} rounds`);
  });

  it("adds a replica as a learner and promotes it only in a later plan", () => {
    const start = elect(bootstrapShardMap(nodes(1), 4, 3), nodes(1));
    const first = planPlacement(nodes(3), start, 3);
    assert.deepEqual(
      first.filter((s) => s.shard === 1),
      [
        { kind: "add-learner", shard: 1, node: 2 },
        { kind: "add-learner", shard: 1, node: 3 },
      ],
    );
    assert.ok(first.every((s) => s.kind === "add-learner"));
    let map = start;
    for (const step of first) map = applyStep(map, step);
    const second = planPlacement(nodes(3), map, 3);
    assert.deepEqual(
      second.filter((s) => s.shard === 1 && s.kind !== "transfer-leader"),
      [
        { kind: "promote", shard: 1, node: 2 },
        { kind: "promote", shard: 1, node: 3 },
      ],
    );
  });

  it("spreads each shard's replicas over the zones", () => {
    const live = nodes(6, ["a", "b", "c"]);
    const { map } = settle(bootstrapShardMap(nodes(1, ["a"]), 12, 3), live, 3);
    assertBalanced(map, live, 3);
    const zone = new Map(live.map((n) => [n.raftId, n.zone]));
    for (const s of map.shards) {
      assert.deepEqual(new Set(s.replicas.map((id) => zone.get(id))), new Set(["a", "b", "c"]));
    }
  });

  it("moves replicas into new zones even when that cannot be even", () => {
    // Three nodes of zone a hold everything; one node each joins in zones b and c.
    const live = [node(1, "a"), node(2, "a"), node(3, "a"), node(4, "b"), node(5, "c")];
    const { map } = settle(bootstrapShardMap(live.slice(0, 3), 9, 3), live, 3);
    const zone = new Map(live.map((n) => [n.raftId, n.zone]));
    for (const s of map.shards) {
      assert.deepEqual(new Set(s.replicas.map((id) => zone.get(id))), new Set(["a", "b", "c"]));
    }
    // Zone a's nodes share its third of the replicas evenly.
    assert.deepEqual(replicaCounts(map, live), [3, 3, 3, 9, 9]);
    assert.deepEqual(planPlacement(live, map, 3), []);
  });

  it("returns nothing for a balanced map", () => {
    const live = nodes(3);
    const map = shardMap([
      shard(1, [[0, 5461]], [1, 2, 3], 1),
      shard(2, [[5462, 10922]], [1, 2, 3], 2),
      shard(3, [[10923, 16383]], [1, 2, 3], 3),
    ]);
    assert.deepEqual(planPlacement(live, map, 3), []);
    assert.deepEqual(planPlacement(live, map, 5), []);
  });

  it("replaces the replicas of a dead node, adding before removing", () => {
    const five = settle(bootstrapShardMap(nodes(5), 16, 3), nodes(5), 3).map;
    assertBalanced(five, nodes(5), 3);
    const live = nodes(5).filter((n) => n.raftId !== 3);
    const after = settle(five, live, 3);
    assertBalanced(after.map, live, 3);
    assert.deepEqual(replicaCounts(after.map, live), [12, 12, 12, 12]);
    // The first plan adds learners (and evens out leaders): the dead replica stays a voter
    // until its replacement can vote.
    const first = after.plans[0] as PlacementStep[];
    assert.ok(first.some((s) => s.kind === "add-learner"));
    assert.ok(first.every((s) => s.kind === "add-learner" || s.kind === "transfer-leader"));
  });

  it("shrinks shards to the nodes there are, dropping dead voters first", () => {
    const map = shardMap([shard(1, [[0, 16383]], [1, 2, 3], 1)]);
    assert.deepEqual(planPlacement([node(1), node(2)], map, 3), [
      { kind: "remove", shard: 1, node: 3 },
    ]);
    const { map: settled } = settle(map, [node(1), node(2)], 3);
    assert.deepEqual(settled.shards[0]?.replicas, [1, 2]);
  });

  it("moves leadership off a replica before removing it", () => {
    // Node 1 leads both shards and holds one replica too many: shard 1 moves to node 3.
    const live = nodes(3);
    const map = shardMap([shard(1, [[0, 8191]], [1, 2], 1), shard(2, [[8192, 16383]], [1, 2], 1)]);
    assert.deepEqual(planPlacement(live, map, 2), [
      { kind: "transfer-leader", shard: 1, to: 2 },
      { kind: "add-learner", shard: 1, node: 3 },
    ]);
    // With the learner already there it is kept (a move under way continues), and the
    // shard gives up another replica; leadership moves first (to the newcomer, whose node
    // leads nothing) and a replica that does not lead goes.
    const caughtUp = shardMap([
      shard(1, [[0, 8191]], [1, 2], 1, [3]),
      shard(2, [[8192, 16383]], [1, 2], 1),
    ]);
    assert.deepEqual(planPlacement(live, caughtUp, 2), [
      { kind: "promote", shard: 1, node: 3 },
      { kind: "transfer-leader", shard: 1, to: 3 },
      { kind: "remove", shard: 1, node: 2 },
    ]);
    const { map: settled } = settle(map, live, 2);
    assertBalanced(settled, live, 2);
  });

  it("keeps replicas on distinct nodes when asked for more than there are", () => {
    const { map } = settle(bootstrapShardMap(nodes(1), 5, 5), nodes(2), 5);
    for (const s of map.shards) assert.deepEqual([...s.replicas].sort(), [1, 2]);
    assert.ok(spread(leaderCounts(map, nodes(2))) <= 1);
  });

  it("leaves alone shards it cannot help: unplaced, or with no live voter", () => {
    const map = shardMap([shard(1, [[0, 8191]], []), shard(2, [[8192, 16383]], [7, 8, 9], 7)]);
    assert.deepEqual(planPlacement(nodes(3), map, 3), []);
    assert.deepEqual(planPlacement([], map, 3), []);
  });

  it("bounds a plan by whole shards, repairs first, and still converges", () => {
    const start = bootstrapShardMap(nodes(1), 32, 3);
    const plan = planPlacement(nodes(5), elect(start, nodes(1)), 3, { stepsMax: 5 });
    assert.ok(plan.length <= 5 && plan.length > 0);
    assert.ok(plan.every((s, i) => i === 0 || s.shard >= (plan[i - 1] as PlacementStep).shard));
    // A shard's steps come whole: both of shard 1's learners, or none.
    const { map } = settle(start, nodes(5), 3, { stepsMax: 5 }, 200);
    assertBalanced(map, nodes(5), 3);
    const degraded = shardMap([
      shard(1, [[0, 8191]], [1, 2, 3], 1, []),
      shard(2, [[8192, 16383]], [1, 2, 5], 1, []),
    ]);
    // Shard 2 lost node 5: it is repaired first even with a bound of one shard.
    const repair = planPlacement(nodes(4), degraded, 3, { stepsMax: 1 });
    assert.ok(repair.length > 0 && repair.every((s) => s.shard === 2), JSON.stringify(repair));
  });

  it("is deterministic: the order nodes and shards come in does not matter", () => {
    const start = elect(bootstrapShardMap(nodes(2), 10, 3), nodes(2));
    const reversed: ShardMap = { ...start, shards: [...start.shards].reverse() };
    const plan = planPlacement(nodes(6, ["x", "y"]), start, 3);
    assert.deepEqual(planPlacement([...nodes(6, ["x", "y"])].reverse(), reversed, 3), plan);
    assert.deepEqual(planPlacement(nodes(6, ["x", "y"]), start, 3), plan);
  });

  it("settles any growth and loss of nodes into an even spread", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 9 }),
        fc.uniqueArray(fc.integer({ min: 1, max: 9 }), { maxLength: 4 }),
        (before, shardCount, target, after, dead) => {
          const first = settle(
            bootstrapShardMap(nodes(before), shardCount, target),
            nodes(before),
            target,
          );
          assertBalanced(first.map, nodes(before), Math.min(target, before));
          const live = nodes(after).filter((n) => !dead.includes(n.raftId));
          const alive = new Set(live.map((n) => n.raftId));
          // A shard whose every voter died is beyond placement's help (and its data lost).
          fc.pre(first.map.shards.every((s) => s.replicas.some((id) => alive.has(id))));
          const second = settle(first.map, live, target);
          assertBalanced(second.map, live, Math.min(target, live.length));
          assert.ok(second.plans.length <= 6, `${second.plans.length} rounds`);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("spreads over as many zones as a shard has replicas, whatever the growth", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        (before, shardCount, target, zoneCount, perZone) => {
          const zones = ["a", "b", "c"].slice(0, zoneCount);
          const live = nodes(zoneCount * perZone, zones);
          const start = bootstrapShardMap(
            live.slice(0, Math.min(before, live.length)),
            shardCount,
            target,
          );
          const { map } = settle(start, live, target);
          const r = Math.min(target, live.length);
          const zone = new Map(live.map((n) => [n.raftId, n.zone]));
          for (const s of map.shards) {
            assert.equal(s.replicas.length, r);
            const spanned = new Set(s.replicas.map((id) => zone.get(id))).size;
            assert.equal(spanned, Math.min(r, zoneCount), `shard ${s.id}: ${s.replicas}`);
          }
          // With a replica per zone, each zone's nodes share its replicas evenly.
          if (r === zoneCount) {
            const counts = replicaCounts(map, live);
            assert.ok(spread(counts) <= 1, `replicas ${counts}`);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it("refuses a replica target that is not a positive integer", () => {
    const map = shardMap(initialShards(1));
    for (const bad of [0, -1, 2.5])
      assert.throws(() => planPlacement(nodes(3), map, bad), RangeError);
  });
});

describe("planPlacement with shard sizes (balance by bytes)", () => {
  const GiB = 1024 ** 3;
  const MiB = 1024 ** 2;
  const nodeBytes = (
    map: ShardMap,
    live: readonly ClusterNode[],
    size: ReadonlyMap<number, number>,
  ) =>
    live.map((n) =>
      map.shards
        .filter((s) => s.replicas.includes(n.raftId))
        .reduce((sum, s) => sum + (size.get(s.id) ?? 0), 0),
    );
  /** Every (shard, node) a plan added a learner on, over all plans: none twice. */
  const addedOnce = (plans: readonly PlacementStep[][]) => {
    const added = new Set<string>();
    for (const plan of plans) {
      for (const step of plan) {
        if (step.kind !== "add-learner") continue;
        const key = `${step.shard}@${step.node}`;
        assert.ok(!added.has(key), `replica ${key} added twice`);
        added.add(key);
      }
    }
    return added.size;
  };
  /** An even count placement of `shards` shards on `live`, and sizes: big ones on node 1. */
  const skewed = (live: readonly ClusterNode[], shards: number, bigOnOne: number) => {
    const { map } = settle(bootstrapShardMap(live.slice(0, 1), shards, 3), live, 3);
    const size = new Map(map.shards.map((s) => [s.id, 10 * MiB]));
    for (const s of map.shards.filter((x) => x.replicas.includes(1)).slice(0, bigOnOne))
      size.set(s.id, GiB);
    return { map, size };
  };

  it("evens out bytes that counts leave skewed, each replica moved once, then stays put", () => {
    const live = nodes(6);
    const { map, size } = skewed(live, 24, 6);
    const before = nodeBytes(map, live, size);
    const mean = before.reduce((a, b) => a + b, 0) / live.length;
    const after = settle(map, live, 3, { shardBytes: size });
    assertBalanced(after.map, live, 3);
    const bytes = nodeBytes(after.map, live, size);
    assert.ok(spread(before) > 0.9 * mean, `before: ${before.map((b) => (b / MiB).toFixed(0))}`);
    assert.ok(spread(bytes) <= 0.2 * mean, `after: ${bytes.map((b) => (b / MiB).toFixed(0))} MiB`);
    const moves = addedOnce(after.plans);
    assert.ok(moves > 0 && moves <= 12, `${moves} replicas moved`);
    // Stable: planning again on what the steps produced moves nothing.
    assert.deepEqual(planPlacement(live, after.map, 3, { shardBytes: size }), []);
  });

  it("leaves a small skew alone (hysteresis), and any skew below the floor", () => {
    const live = nodes(6);
    const { map } = skewed(live, 24, 0);
    // One shard 3% of a node's mean bigger than the rest: not worth a copy.
    const size = new Map(map.shards.map((s) => [s.id, 400 * MiB]));
    size.set(1, 400 * MiB + 0.03 * 1600 * MiB);
    assert.deepEqual(planPlacement(live, map, 3, { shardBytes: size }), []);
    // Wildly uneven but tiny: a young cluster is not shuffled for kilobytes.
    const tiny = new Map(map.shards.map((s) => [s.id, s.replicas.includes(1) ? 5 * MiB : 1024]));
    assert.deepEqual(planPlacement(live, map, 3, { shardBytes: tiny }), []);
    // And without sizes, placement is what it always was.
    assert.deepEqual(planPlacement(live, map, 3), planPlacement(live, map, 3, {}));
  });

  // Not asserted here: that no replica moves twice. Across waves (each plan computed afresh,
  // with no memory of earlier ones) a replica a wave placed can be moved on by a later one,
  // rarely: fast-check once found 9 nodes in 2 zones with shards of 1, 3855, 0, 271, 826,
  // 271 and 2 MiB, where a replica of the 271 MiB shard 6 went from node 5 to 3 and then to
  // 8 (docs/control.md, "Not done yet"). The deterministic cases above do assert it.
  it("keeps zones, counts within one and terminates, whatever the sizes", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 3, max: 9 }),
        fc.integer({ min: 3, max: 30 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.integer({ min: 0, max: 4096 }), { minLength: 30, maxLength: 30 }),
        (count, shardCount, zoneCount, sizesMiB) => {
          const zones = ["a", "b", "c"].slice(0, zoneCount);
          const live = nodes(count, zones);
          const { map } = settle(bootstrapShardMap(live.slice(0, 1), shardCount, 3), live, 3);
          const size = new Map(map.shards.map((s, i) => [s.id, (sizesMiB[i] as number) * MiB]));
          const after = settle(map, live, 3, { shardBytes: size });
          // Zones can keep counts apart (a zone of one node holds a replica of every
          // shard); the byte pass must not spread them further than counts alone do.
          if (zoneCount === 1) assertBalanced(after.map, live, 3);
          const counts = spread(replicaCounts(after.map, live));
          assert.ok(
            counts <= Math.max(1, spread(replicaCounts(map, live))),
            `replicas spread ${counts}`,
          );
          const zone = new Map(live.map((n) => [n.raftId, n.zone]));
          for (const s of after.map.shards) {
            const spanned = new Set(s.replicas.map((id) => zone.get(id))).size;
            assert.equal(spanned, Math.min(3, zoneCount), `shard ${s.id}: ${s.replicas}`);
          }
          assert.deepEqual(planPlacement(live, after.map, 3, { shardBytes: size }), []);
        },
      ),
      {
        numRuns: 100,
        examples: [[9, 7, 2, [1, 3855, 0, 271, 826, 271, 2, ...Array<number>(23).fill(0)]]],
      },
    );
  });
});

describe("applyStep", () => {
  const map = shardMap([shard(1, [[0, 16383]], [1, 2], 1, [3])], 4);

  it("applies each kind of step and bumps the epoch", () => {
    const promoted = applyStep(map, { kind: "promote", shard: 1, node: 3 });
    assert.equal(promoted.epoch, 5);
    assert.deepEqual(promoted.shards[0], shard(1, [[0, 16383]], [1, 2, 3], 1, []));
    const moved = applyStep(promoted, { kind: "transfer-leader", shard: 1, to: 3 });
    assert.equal(moved.shards[0]?.leader, 3);
    const removed = applyStep(moved, { kind: "remove", shard: 1, node: 3 });
    assert.deepEqual(removed.shards[0], shard(1, [[0, 16383]], [1, 2], null, []));
    const added = applyStep(removed, { kind: "add-learner", shard: 1, node: 4 });
    assert.deepEqual(added.shards[0]?.learners, [4]);
    assert.equal(added.epoch, 8);
    // The map it was given is untouched.
    assert.deepEqual(map.shards[0], shard(1, [[0, 16383]], [1, 2], 1, [3]));
  });

  it("refuses steps that do not fit the map", () => {
    const bad: PlacementStep[] = [
      { kind: "add-learner", shard: 1, node: 2 },
      { kind: "promote", shard: 1, node: 2 },
      { kind: "remove", shard: 1, node: 9 },
      { kind: "transfer-leader", shard: 1, to: 3 },
      { kind: "promote", shard: 2, node: 3 },
    ];
    for (const step of bad) assert.throws(() => applyStep(map, step), RangeError);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ClusterSim, type MoveRecord } from "../../src/sim/cluster-sim.js";

/**
 * The controller's loops on a simulated 50-node cluster in 3 zones under a write workload
 * (src/sim/cluster-sim.ts; one step is 100 ms of virtual time): nodes killed one by one are
 * repaired within a stated bound, a short partition moves no data, ten new nodes even out
 * the load with each replica moving at most once, and no acknowledged write is lost.
 */

const suspectSteps = 20;
const deadNodeAfterSteps = 100;
/**
 * Repair bound, in steps after a kill: suspicion (20) + the dead-node time (100) + moving
 * every replica of the node. A move is 3 controller rounds (learner, promote, remove; 5
 * steps each) plus a snapshot's catch-up; at most 4 shards move at once and a node holds
 * about 3 shards here, so one wave of moves: 150 steps is a generous allowance for it.
 */
const repairBoundSteps = suspectSteps + deadNodeAfterSteps + 150;
const writesPerStep = 3;

/** Every shard at exactly 3 voters and no learner: no move under way. */
function healthyIn(sim: ClusterSim): boolean {
  const h = sim.healthyShards();
  return h.settled === h.total;
}

/** Runs the workload until no move has been made for 100 steps and `done()` holds. */
function untilQuiet(
  sim: ClusterSim,
  what: string,
  done: () => boolean,
  stepsMax: number,
): Promise<number> {
  let lastMoves = sim.moves.length;
  let quietSince = sim.step;
  return sim.runUntilAsync(
    what,
    () => {
      if (sim.moves.length !== lastMoves) {
        lastMoves = sim.moves.length;
        quietSince = sim.step;
      }
      return sim.step - quietSince >= 100 && done();
    },
    stepsMax,
    writesPerStep,
  );
}

function movesOf(sim: ClusterSim, from: number): MoveRecord[] {
  return sim.moves.slice(from);
}

/**
 * Groups with a voter on `node` as any live replica sees them: a repair is done only once
 * every replica has applied the removal. (Only the leader's view is not enough: a follower
 * that holds the removal in its log but has not learnt it is committed still counts the
 * removed voter — see docs/cluster.md, open bugs.)
 */
function groupsHeldBy(sim: ClusterSim, node: number): number[] {
  const out = new Set<number>();
  for (const n of sim.nodes.values()) {
    if (!n.alive) continue;
    for (const g of n.multi.groupIds()) {
      if (g === 0) continue;
      if (n.multi.raftOf(g)?.confState().voters.includes(node) === true) out.add(g);
    }
  }
  return [...out].sort((a, b) => a - b);
}

describe("the controller on a simulated 50-node cluster in 3 zones", { timeout: 300_000 }, () => {
  const sim = new ClusterSim({
    nodes: 50,
    zones: 3,
    shards: 48,
    seed: 2026,
    suspectSteps,
    deadNodeAfterSteps,
  });
  /** Every shard back at its replica target, on reachable nodes (moves may be under way). */
  const atTarget = () => {
    const h = sim.healthyShards();
    return h.atTarget === h.total;
  };
  const healthy = () => healthyIn(sim);
  /** Healthy, and voters per node within one of each other. */
  const balanced = () => {
    const c = [...sim.replicasPerNode().values()];
    return healthy() && Math.max(...c) - Math.min(...c) <= 1;
  };

  /** Runs until no move has been made for 100 steps, every shard settled and spread evenly. */
  const quiesce = (stepsMax: number) => untilQuiet(sim, "quiescent", balanced, stepsMax);

  it("forms: every shard at 3 voters in 3 zones, spread evenly", async () => {
    const steps = await sim.runUntilAsync("formed", healthy, 3000, writesPerStep);
    await sim.runUntilAsync("balanced", balanced, 3000, writesPerStep);
    assert.ok(sim.healthyShards().zonesSpread, "each shard's voters in 3 zones");
    assert.ok(steps > 0);
  });

  it("repairs each of 5 nodes killed one by one within the bound, moving nothing early", async () => {
    for (let k = 0; k < 5; k++) {
      const counts = sim.replicasPerNode();
      // The node holding the most replicas (ties: the lowest id); the meta leader too at k = 2.
      const meta = sim.metaLeader()?.raftId ?? 0;
      const victim =
        k === 2
          ? meta
          : ([...counts]
              .filter(([id]) => id !== meta)
              .sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]?.[0] ?? 0);
      const held = groupsHeldBy(sim, victim);
      assert.ok(held.length > 0, `node ${victim} holds replicas`);
      const before = sim.moves.length;
      sim.kill(victim);
      // Before the node can have expired, no shard it holds gets a replica elsewhere.
      await sim.run(suspectSteps + deadNodeAfterSteps - 5, writesPerStep);
      // (Moves under way before the kill may finish: only new copies count.)
      const early = movesOf(sim, before).filter(
        (m) => held.includes(m.group) && m.change === "add-learner",
      );
      assert.deepEqual(early, [], `shards of node ${victim} copied before its dead-node time`);
      const steps = await sim.runUntilAsync(
        `node ${victim}'s shards repaired`,
        () => atTarget() && groupsHeldBy(sim, victim).length === 0,
        repairBoundSteps,
        writesPerStep,
      );
      assert.ok(steps + suspectSteps + deadNodeAfterSteps - 5 <= repairBoundSteps);
      assert.ok(sim.healthyShards().zonesSpread, "repairs keep the zones spread");
    }
  });

  it("moves no data for a partition shorter than the dead-node time", async () => {
    await quiesce(3000);
    const counts = [...sim.replicasPerNode()].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    const meta = sim.metaLeader()?.raftId ?? 0;
    const node = (counts.find(([id]) => id !== meta) as [number, number])[0];
    const before = sim.moves.length;
    sim.partition(node, suspectSteps + deadNodeAfterSteps - 20);
    await sim.run(suspectSteps + deadNodeAfterSteps + 30, writesPerStep);
    const learners = movesOf(sim, before).filter((m) => m.change === "add-learner");
    assert.deepEqual(learners, [], "no replica was copied");
    await quiesce(3000);
  });

  it("evens out 10 new nodes, each replica moving at most once", async (t) => {
    const before = sim.moves.length;
    const start = sim.step;
    for (let i = 0; i < 10; i++) sim.join();
    const steps = await sim.runUntilAsync(
      "balanced over 55 live nodes",
      balanced,
      3000,
      writesPerStep,
    );
    const moves = movesOf(sim, before);
    // The fewest copies that even out the load: what the 10 new nodes must end up holding.
    const counts = sim.replicasPerNode();
    let minimumMoves = 0;
    for (let id = 51; id <= 60; id++) minimumMoves += counts.get(id) ?? 0;
    const added = moves.filter((m) => m.change === "add-learner");
    const pairs = new Set(added.map((m) => `${m.group}/${m.node}`));
    const twice = added.filter((m, i) =>
      added.some((o, j) => j < i && o.group === m.group && o.node === m.node),
    );
    assert.deepEqual(
      twice.map((m) => [m.group, m.node, m.step, moves.filter((x) => x.group === m.group)]),
      [],
      "no replica was added to the same node twice",
    );
    const removedAfterAdd = moves.filter(
      (m) => m.change === "remove" && pairs.has(`${m.group}/${m.node}`),
    );
    assert.deepEqual(removedAfterAdd, [], "no new replica was moved again (no oscillation)");
    const removedFrom = new Map<number, number>();
    for (const m of moves) {
      if (m.change === "remove") removedFrom.set(m.group, (removedFrom.get(m.group) ?? 0) + 1);
    }
    const addedTo = new Map<number, number>();
    for (const m of added) addedTo.set(m.group, (addedTo.get(m.group) ?? 0) + 1);
    for (const [g, n] of removedFrom) {
      assert.ok(n <= (addedTo.get(g) ?? 0), `shard ${g}: each removal has its replacement`);
    }
    assert.ok(steps < 3000);
    assert.ok(sim.healthyShards().zonesSpread);
    t.diagnostic(
      `10 nodes joined: balanced after ${sim.step - start} steps (${((sim.step - start) / 10).toFixed(0)} virtual s), ` +
        `${added.length} replicas copied (minimum for an even spread: ${minimumMoves})`,
    );
  });

  it("lost no acknowledged write", (t) => {
    t.diagnostic(`${sim.writesAcked} writes acknowledged, ${sim.writesRefused} refused`);
    assert.ok(sim.writesAcked > 5000, `${sim.writesAcked} writes acknowledged`);
    assert.deepEqual(sim.lostWrites(), []);
  });
});

describe("byte balancing on a simulated 12-node cluster in 3 zones", { timeout: 300_000 }, () => {
  const MiB = 1024 ** 2;
  const GiB = 1024 * MiB;
  // 24 shards of 64 MiB, until some of them grow while the cluster runs.
  const size = new Map<number, number>();
  const sizeOf = (g: number) => size.get(g) ?? 64 * MiB;
  const sim = new ClusterSim({
    nodes: 12,
    zones: 3,
    shards: 24,
    seed: 77,
    suspectSteps,
    deadNodeAfterSteps,
    shardBytes: sizeOf,
  });
  const spreadOf = (m: Map<number, number>) => {
    const v = [...m.values()];
    return Math.max(...v) - Math.min(...v);
  };
  /** Settled and no move for 100 steps. */
  const quiet = async (what: string) => {
    await untilQuiet(sim, what, () => healthyIn(sim), 4000);
  };
  const gib = (m: Map<number, number>) =>
    [...m.values()].map((b) => (b / GiB).toFixed(1)).join(" ");
  const votersOf = (g: number) => sim.leaderOf(g)?.multi.raftOf(g)?.confState().voters ?? [];

  it("forms evenly", async () => {
    await quiet("formed and quiet");
    assert.ok(spreadOf(sim.replicasPerNode()) <= 1);
    assert.ok(spreadOf(sim.bytesPerNode(sizeOf)) <= 64 * MiB);
  });

  it("moves replicas of shards that grew off the node they crowd, each at most once", async (t) => {
    // The shards one node holds grow to 4 GiB each: that node now holds 6 of the 18 big
    // replicas, where an even spread gives each node 1 or 2.
    const crowded = votersOf(1)[0] as number;
    const grown = [...Array(24).keys()]
      .map((i) => i + 1)
      .filter((g) => votersOf(g).includes(crowded));
    for (const g of grown) size.set(g, 4 * GiB);
    const skewed = sim.bytesPerNode(sizeOf);
    const before = sim.moves.length;
    const start = sim.step;
    await quiet("rebalanced");
    const moves = sim.moves.slice(before);
    const added = moves.filter((m) => m.change === "add-learner");
    const pairs = added.map((m) => `${m.group}/${m.node}`);
    assert.equal(new Set(pairs).size, pairs.length, "no replica added to the same node twice");
    const removedAgain = moves.filter(
      (m) => m.change === "remove" && pairs.includes(`${m.group}/${m.node}`),
    );
    assert.deepEqual(removedAgain, [], "no new replica moved again");
    const bytes = sim.bytesPerNode(sizeOf);
    t.diagnostic(
      `${grown.length} shards of node ${crowded} grew to 4 GiB: GiB per node before ${gib(skewed)}; after ${gib(bytes)} ` +
        `(${sim.step - start} steps, ${added.length} copies)`,
    );
    // 18 big replicas on 12 nodes: the best spread is one big shard (4 GiB) between nodes.
    assert.ok(spreadOf(skewed) > 8 * GiB);
    assert.ok(spreadOf(bytes) <= 4 * GiB + 256 * MiB, `GiB per node ${gib(bytes)}`);
    assert.ok(spreadOf(sim.replicasPerNode()) <= 1);
    assert.ok(sim.healthyShards().zonesSpread);
  });

  it("lost no acknowledged write", () => {
    assert.deepEqual(sim.lostWrites(), []);
  });
});

describe("raft logs that cannot be written, on a simulated 6-node cluster", {
  timeout: 120_000,
}, () => {
  const sim = new ClusterSim({
    nodes: 6,
    zones: 3,
    shards: 8,
    seed: 11,
    suspectSteps,
    deadNodeAfterSteps,
  });

  it("loses no acknowledged write while disks fail and recover, and the replicas agree", async (t) => {
    await sim.runUntilAsync("formed", () => healthyIn(sim), 3000, writesPerStep);
    // A node's raft log writes fail for 1 to 8 s, then work again; the meta leader's
    // among them. Two at once in some rounds (a shard may then have no quorum for a while).
    const plan = [
      [1, 30],
      [4, 80],
      [2, 10],
      [5, 60],
      [3, 45],
      [6, 20],
      [1, 70],
      [2, 40],
    ] as const;
    for (const [k, [node, steps]] of plan.entries()) {
      sim.failDisk(node, steps);
      if (k % 3 === 2) sim.failDisk((node % 6) + 1, steps / 2);
      await sim.run(50, writesPerStep);
    }
    await sim.runUntilAsync("healed", () => healthyIn(sim), 3000, writesPerStep);
    await sim.run(50);
    let failed = 0;
    for (const n of sim.nodes.values()) failed += n.multi.stats.persistsFailed;
    t.diagnostic(
      `${failed} failed raft log writes; ${sim.writesAcked} writes acknowledged, ` +
        `${sim.writesRefused} refused`,
    );
    assert.ok(failed >= plan.length, "the disks failed");
    assert.ok(sim.writesAcked > 500, `${sim.writesAcked} writes acknowledged`);
    assert.deepEqual(sim.lostWrites(), []);
    assert.deepEqual(sim.divergentReplicas(), []);
  });
});

describe("compaction images built in slices, on a simulated 6-node cluster", {
  timeout: 120_000,
}, () => {
  const sim = new ClusterSim({
    nodes: 6,
    zones: 3,
    shards: 8,
    seed: 7,
    suspectSteps,
    // Nothing is repaired: the node cut off must catch up by itself.
    deadNodeAfterSteps: 100_000,
  });

  it("a node cut off past compaction catches up from snapshots; nothing lost, replicas agree", async (t) => {
    await sim.runUntilAsync("formed", () => healthyIn(sim), 3000, 10);
    const cut = sim.nodes.get(2);
    assert.ok(cut !== undefined);
    // Long enough for the leaders to compact past it (laggardLogFactor × 500 entries).
    sim.partition(2, 2500);
    sim.failDisk(4, 40);
    await sim.run(1200, 10);
    sim.failDisk(5, 60);
    await sim.run(1400, 10);
    await sim.runUntilAsync("healed", () => healthyIn(sim), 3000, 10);
    await sim.run(300);
    let begun = 0;
    let taken = 0;
    for (const n of sim.nodes.values()) {
      begun += n.multi.stats.imagesBegun;
      taken += n.multi.stats.snapshotsTaken;
    }
    t.diagnostic(
      `${begun} images begun, ${taken} snapshots stored, ` +
        `${cut.multi.stats.snapshotsInstalled} installed on the node cut off; ` +
        `${sim.writesAcked} writes acknowledged`,
    );
    assert.ok(begun > 50 && taken > 50, "the groups compacted, in slices");
    assert.ok(cut.multi.stats.snapshotsInstalled > 0, "the node cut off installed snapshots");
    assert.deepEqual(sim.lostWrites(), []);
    assert.deepEqual(sim.divergentReplicas(), []);
  });
});

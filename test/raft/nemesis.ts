import { SeededRandom } from "../../src/core/random.js";
import type { RaftConfig } from "../../src/raft/index.js";
import { Cluster } from "./harness.js";

/**
 * Seeded nemesis runs: random ticks, delivery in random order, loss, duplication,
 * stalls (a replica that stops handling its Ready), crashes that lose what was not
 * persisted, partitions and snapshots, with every safety property checked after every
 * step. Then a liveness phase: heal everything, and a new proposal must reach every
 * replica. A failure names the seed; runSeed(seed, n) replays it.
 */

const small = (c: RaftConfig): RaftConfig => ({
  ...c,
  // Small bounds, so batching, pipelining limits and chunked snapshots all happen, and
  // some entries are bigger than an append's batch (they go alone).
  maxMsgBytes: 256,
  maxEntryBytes: 1024,
  maxInflightMsgs: 4,
  maxInflightBytes: 1024,
  maxUncommittedBytes: 4096,
  snapshotChunkBytes: 64,
});

export function runSeed(seed: number, n: number, steps: number): void {
  const rnd = new SeededRandom(seed);
  const cluster = new Cluster(seed);
  const voters = Array.from({ length: n }, (_, i) => i + 1);
  // Odd seeds with spares (sparesAtHeartbeat, the default), even seeds without.
  const configure = (c: RaftConfig): RaftConfig => ({
    ...small(c),
    sparesAtHeartbeat: seed % 2 === 1,
  });
  for (const id of voters) cluster.add(id, { voters, learners: [] }, configure);
  const pick = <T>(xs: T[]): T | undefined =>
    xs.length === 0 ? undefined : xs[rnd.int(xs.length)];
  const liveIds = (): number[] => voters.filter((id) => cluster.get(id).node !== null);
  let proposed = 0;
  let reads = 0;
  for (let step = 0; step < steps; step++) {
    const a = rnd.int(100);
    if (a < 35) {
      const id = pick(liveIds());
      if (id !== undefined) cluster.tick(id);
    } else if (a < 65) {
      if (cluster.queue.length > 0) cluster.deliverAt(rnd.int(cluster.queue.length));
    } else if (a < 70) {
      if (cluster.queue.length > 0) cluster.queue.splice(rnd.int(cluster.queue.length), 1);
    } else if (a < 73) {
      const env = pick(cluster.queue);
      if (env !== undefined && cluster.queue.length < 500) cluster.queue.push(env);
    } else if (a < 81) {
      // Mostly to a leader, so the log grows; sometimes anywhere (refused off-leader).
      const leader = cluster.leader();
      const id = leader !== null && rnd.int(4) > 0 ? leader.id : pick(liveIds());
      // One in eight is past maxMsgBytes; a few of those past maxEntryBytes (refused).
      const pad = rnd.int(8) === 0 ? "x".repeat(200 + rnd.int(900)) : "";
      if (id !== undefined) cluster.propose(id, `p${proposed++}${pad}`);
    } else if (a < 82) {
      const id = pick(liveIds());
      if (id !== undefined) cluster.get(id).stalled = true;
    } else if (a < 84) {
      const id = pick(liveIds());
      if (id !== undefined) {
        cluster.get(id).stalled = false;
        cluster.process(id);
      }
    } else if (a < 85) {
      const id = pick(liveIds());
      if (id !== undefined) cluster.crash(id);
    } else if (a < 87) {
      const id = pick(voters.filter((v) => cluster.get(v).node === null));
      if (id !== undefined) cluster.restart(id);
    } else if (a < 88) {
      const shuffled = [...voters].sort(() => rnd.next() - 0.5);
      const cut = 1 + rnd.int(n - 1);
      cluster.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
    } else if (a < 90) {
      cluster.heal();
    } else if (a < 91) {
      const id = pick(liveIds());
      if (id !== undefined) cluster.snapshot(id);
    } else if (a < 92) {
      const leader = cluster.leader();
      const to = pick(voters);
      if (leader !== null && to !== undefined) {
        leader.transferLeader(to);
        cluster.process(leader.id);
      }
    } else if (a < 93) {
      changeMembers(cluster, rnd, voters);
    } else if (a < 95) {
      read(cluster, reads++);
    } else {
      const id = pick(liveIds());
      if (id !== undefined) cluster.tick(id);
    }
    cluster.check();
  }
  liveness(cluster, voters);
}

/**
 * Removes a random voter (keeping a majority of the original count), or brings one back:
 * first as a learner, then promoted (refused until it has caught up).
 */
function changeMembers(cluster: Cluster, rnd: SeededRandom, all: number[]): void {
  const leader = cluster.leader();
  if (leader === null) return;
  const conf = leader.confState();
  const out = all.filter((id) => !conf.voters.includes(id));
  const node =
    conf.voters.length > Math.floor(all.length / 2) + 1 && rnd.int(2) === 0
      ? conf.voters[rnd.int(conf.voters.length)]
      : out[rnd.int(Math.max(1, out.length))];
  if (node === undefined) return;
  const type = conf.voters.includes(node)
    ? "remove"
    : conf.learners.includes(node)
      ? "add-voter"
      : "add-learner";
  leader.proposeConfChange({ type, node });
  cluster.process(leader.id);
}

/**
 * A read-index read on the leader. Linearizability's part that raft owns: the read index
 * is at least every commit index any replica knew when the read started, so the read
 * sees every write acknowledged before it.
 */
function read(cluster: Cluster, id: number): void {
  const leader = cluster.leader();
  if (leader === null) return;
  let known = 0;
  for (const n of cluster.live()) known = Math.max(known, n.log.committed);
  if (!leader.readIndex(id).ok) return;
  cluster.readFloor.set(id, known);
  cluster.process(leader.id);
}

/** With every fault gone, a leader emerges and a new proposal reaches every replica. */
function liveness(cluster: Cluster, voters: number[]): void {
  cluster.heal();
  for (const id of voters) {
    cluster.get(id).stalled = false;
    cluster.restart(id);
  }
  cluster.processAll();
  let target = -1;
  const members = (): number[] => {
    const conf = cluster.leader()?.confState();
    return conf === undefined ? voters : [...conf.voters, ...conf.learners];
  };
  for (let round = 0; round < 300; round++) {
    for (const id of voters) cluster.tick(id);
    cluster.stabilize();
    cluster.check();
    const leader = cluster.leader();
    if (leader === null) continue;
    if (target < 0) {
      const r = leader.propose(new TextEncoder().encode("final"));
      cluster.process(leader.id);
      if (r.ok) target = r.index;
      continue;
    }
    if (members().every((id) => cluster.get(id).smIndex >= target)) return;
  }
  throw new Error(`liveness: no convergence (target ${target}, leader ${cluster.leader()?.id})`);
}

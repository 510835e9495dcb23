import assert from "node:assert/strict";
import { it } from "node:test";
import { metaGroupId } from "../../src/cluster/meta.js";
import type { MultiRaft } from "../../src/cluster/multi-raft.js";
import { removedReplicaQuietTicks, replicasToDrop } from "../../src/cluster/replica-gc.js";
import type { ConfState, RaftNode } from "../../src/raft/index.js";

type Host = Pick<MultiRaft, "groupIds" | "raftOf" | "ticksSinceLeader">;

function host(groups: Map<number, { conf: ConfState; quiet: number }>): Host {
  return {
    groupIds: () => [...groups.keys()],
    raftOf: (g) => {
      const x = groups.get(g);
      if (x === undefined) return undefined;
      const hasMember = (id: number) => x.conf.voters.includes(id) || x.conf.learners.includes(id);
      return { hasMember } as unknown as RaftNode;
    },
    ticksSinceLeader: (g) => groups.get(g)?.quiet ?? null,
  };
}

it("drops a replica only once it was a member, is out, and its leader has gone quiet", () => {
  const me = 1;
  const groups = new Map<number, { conf: ConfState; quiet: number }>([
    [metaGroupId, { conf: { voters: [2, 3], learners: [] }, quiet: 100 }],
    [1, { conf: { voters: [1, 2, 3], learners: [] }, quiet: 0 }],
    [2, { conf: { voters: [2, 3, 4], learners: [] }, quiet: 0 }],
    [3, { conf: { voters: [2, 3], learners: [] }, quiet: 100 }],
  ]);
  const memberOf = new Set<number>([metaGroupId, 2]);
  const h = host(groups);
  // Group 2 left us, but its leader still sends: a replay that may re-add us later.
  assert.deepEqual(replicasToDrop(h, me, memberOf), []);
  assert.ok(memberOf.has(1), "a group whose configuration holds us is remembered");
  // Group 3 never held us (a new replica from an older configuration): kept.
  assert.ok(!memberOf.has(3));
  // Replaying on, the log adds us to group 2 as a learner again: kept for good.
  groups.set(2, { conf: { voters: [2, 3, 4], learners: [1] }, quiet: 0 });
  assert.deepEqual(replicasToDrop(h, me, memberOf), []);
  // Removed for real: the leader stops sending; dropped once quiet long enough.
  groups.set(2, { conf: { voters: [2, 3, 4], learners: [] }, quiet: removedReplicaQuietTicks - 1 });
  assert.deepEqual(replicasToDrop(h, me, memberOf), []);
  groups.set(2, { conf: { voters: [2, 3, 4], learners: [] }, quiet: removedReplicaQuietTicks });
  assert.deepEqual(replicasToDrop(h, me, memberOf), [2]);
  assert.ok(!memberOf.has(2));
  assert.deepEqual(replicasToDrop(h, me, memberOf), [], "once");
});

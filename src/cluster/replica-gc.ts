import type { ConfState } from "../raft/index.js";
import { firstRaftId, metaGroupId } from "./meta.js";
import type { MultiRaft } from "./multi-raft.js";

/**
 * How a replica starts that a leader creates by sending to a node (a group the node does
 * not hold yet): from the configuration every group had at index 0, when raft id 1
 * bootstrapped the cluster (voters [1]). That configuration is not in the log, and the
 * conf changes replayed after it (or a snapshot) bring the replica to the current one;
 * starting from an empty one instead would replay the changes without voter 1 and let the
 * new replicas elect a leader of their own. On raft id 1 itself that configuration is "me
 * alone": the replica is passive (never campaigns) until the log has given it its real one.
 */
export function newReplicaStart(self: number): { conf: ConfState; passive: boolean } {
  return { conf: { voters: [firstRaftId], learners: [] }, passive: self === firstRaftId };
}

/**
 * Raft ticks a replica whose applied configuration leaves it out must go without a word
 * from its leader before it is dropped (two election timeouts). A replica still replaying
 * the log passes through every past configuration, among them the removals of this node
 * from earlier placements; its leader keeps sending to it, so it stays.
 */
export const removedReplicaQuietTicks = 20;

/**
 * The replicas a node drops after a flush: those whose group it was a member of (in
 * `memberOf`, which this keeps: a group is added once its configuration holds `self`) and
 * whose applied configuration no longer holds it, once its leader has stopped sending to
 * it for `quietTicks`. The meta group is never dropped (its membership follows the
 * registry). Returns the groups to drop, already taken out of `memberOf`; the caller
 * removes them from the host and drops their data.
 *
 * Why both conditions: a new replica starts from a configuration (a snapshot's, or the
 * bootstrap one) that predates its addition, so only one that was a member can have been
 * removed; and a replica that meets this node's removal while replaying the log may meet
 * its addition again further on (a placement moved back), which its leader, still
 * sending, vouches for. Dropping it there lost its log under a leader that remembered the
 * log's length, and the replica never caught up (docs/control.md, the repair stall).
 */
export function replicasToDrop(
  host: Pick<MultiRaft, "groupIds" | "raftOf" | "ticksSinceLeader">,
  self: number,
  memberOf: Set<number>,
  quietTicks = removedReplicaQuietTicks,
): number[] {
  const drop: number[] = [];
  for (const g of host.groupIds()) {
    const raft = host.raftOf(g);
    if (raft === undefined) continue;
    // After every flush, for every group: a lookup, not confState()'s sorted copies.
    if (raft.hasMember(self)) memberOf.add(g);
    else if (
      memberOf.has(g) &&
      g !== metaGroupId &&
      (host.ticksSinceLeader(g) ?? 0) >= quietTicks
    ) {
      memberOf.delete(g);
      drop.push(g);
    }
  }
  return drop;
}

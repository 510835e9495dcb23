/**
 * Can the cluster, as it is, keep the contract? A pure check of the contract against the
 * nodes, so `validate` can run it offline against a list, and the control loop against
 * live membership, with the same messages.
 *
 * Each problem names the clause, what it needs, what there is, and what to do about it:
 * these lines end up in front of an operator, who should not need the docs to act on them.
 */
import type { Contract } from "./schema.js";

/** A node as the check sees it. `zone` is the node's --zone; "" when it has none. */
export interface FeasibilityNode {
  id: string;
  zone: string;
  alive: boolean;
}

export interface Feasibility {
  feasible: boolean;
  /** One sentence per unmet clause; empty when feasible. */
  problems: string[];
}

/** "feasible", or "INFEASIBLE: " and the problems: for the journal, logs and replies. */
export function feasibilityVerdict(f: Feasibility): string {
  return f.feasible ? "feasible" : `INFEASIBLE: ${f.problems.join("; ")}`;
}

/** Checks the clauses the node set alone decides: enough live nodes, and enough zones. */
export function checkFeasibility(
  contract: Contract,
  nodes: readonly FeasibilityNode[],
): Feasibility {
  // A node listed twice is still one machine: count ids, not rows.
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const live = [...byId.values()].filter((node) => node.alive);
  const down = [...byId.values()].filter((node) => !node.alive);
  const problems: string[] = [];
  const nodeProblem = tooFewNodes(contract.durability.replicas, live.length, down);
  if (nodeProblem !== undefined) problems.push(nodeProblem);
  if (contract.durability.spreadOverZones) {
    const zoneProblem = tooFewZones(contract.durability.replicas, live);
    if (zoneProblem !== undefined) problems.push(zoneProblem);
  }
  return { feasible: problems.length === 0, problems };
}

/** Each replica of a shard lives on its own node, so `replicas` live nodes are the floor. */
function tooFewNodes(
  replicas: number,
  liveCount: number,
  down: readonly FeasibilityNode[],
): string | undefined {
  if (liveCount >= replicas) return undefined;
  const missing = replicas - liveCount;
  const need =
    `${replicas} ${plural(replicas, "replica", "replicas")} per shard ` +
    `${replicas === 1 ? "needs" : "need"} ${replicas} live ${plural(replicas, "node", "nodes")}`;
  const have = `${liveCount} ${liveCount === 1 ? "is" : "are"} live`;
  let fix = `add ${missing} ${plural(missing, "node", "nodes")}`;
  if (down.length > 0) {
    const ids = idList(down);
    if (down.length < missing) {
      fix += `; bringing back the down ${plural(down.length, "node", "nodes")} (${ids}) covers ${down.length}`;
    } else if (down.length === missing) {
      fix += `, or bring back the down ${plural(missing, "node", "nodes")} (${ids})`;
    } else {
      fix += `, or bring back ${missing} of the down nodes (${ids})`;
    }
  }
  return `${need}; ${have} (${fix})`;
}

/**
 * With spreadOverZones, each replica of a shard wants its own zone, so a zone outage takes
 * at most one copy. Nodes without a zone share one: the zone "". A cluster where no node
 * names a zone has no zones to spread over (a local or single-room cluster): the clause
 * does not apply, rather than making the default contract infeasible there.
 */
function tooFewZones(replicas: number, live: readonly FeasibilityNode[]): string | undefined {
  // One replica has nothing to spread; with no live node, tooFewNodes already says it all.
  if (replicas <= 1 || live.length === 0) return undefined;
  if (live.every((node) => node.zone === "")) return undefined;
  const zones = [...new Set(live.map((node) => node.zone))].sort();
  if (zones.length >= replicas) return undefined;
  const names = zones.map((zone) => (zone === "" ? "no zone set" : zone)).join(", ");
  const unzoned = zones.includes("") ? " (nodes started without --zone count as one zone)" : "";
  return (
    `${replicas} replicas spread over zones need ${replicas} zones; live nodes are in ` +
    `${zones.length} ${plural(zones.length, "zone", "zones")} (${names})${unzoned}: add a node ` +
    "in another zone, or set durability.spreadOverZones: false"
  );
}

/** Most node ids named in one message; a long list hides the sentence around it. */
const idsShownMax = 5;

function idList(nodes: readonly FeasibilityNode[]): string {
  const shown = nodes.slice(0, idsShownMax).map((node) => node.id);
  const more = nodes.length - shown.length;
  return more > 0 ? `${shown.join(", ")} and ${more} more` : shown.join(", ");
}

function plural(count: number, one: string, many: string): string {
  return count === 1 ? one : many;
}

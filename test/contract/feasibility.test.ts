import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkFeasibility, type FeasibilityNode } from "../../src/contract/feasibility.js";
import { type Contract, defaultContract } from "../../src/contract/schema.js";

function contract(replicas: number, spreadOverZones = true): Contract {
  const c = defaultContract();
  return { ...c, durability: { ...c.durability, replicas, spreadOverZones } };
}

/** Nodes n1, n2, ... in the zones given; "-" marks a dead node, as in "eu-1a-". */
function nodes(...zones: string[]): FeasibilityNode[] {
  return zones.map((zone, i) => ({
    id: `n${i + 1}`,
    zone: zone.replace(/-$/, ""),
    alive: !zone.endsWith("-"),
  }));
}

describe("checkFeasibility", () => {
  it("is feasible with a live node per replica, each in its own zone", () => {
    assert.deepEqual(checkFeasibility(contract(3), nodes("eu-1a", "eu-1b", "eu-1c")), {
      feasible: true,
      problems: [],
    });
    assert.ok(checkFeasibility(contract(3), nodes("a", "b", "c", "a", "b")).feasible);
  });

  it("says how many nodes to add when too few are live", () => {
    assert.deepEqual(checkFeasibility(contract(3, false), nodes("a", "b")), {
      feasible: false,
      problems: ["3 replicas per shard need 3 live nodes; 2 are live (add 1 node)"],
    });
    assert.deepEqual(checkFeasibility(contract(1), []).problems, [
      "1 replica per shard needs 1 live node; 0 are live (add 1 node)",
    ]);
    assert.deepEqual(checkFeasibility(contract(5, false), nodes("", "", "")).problems, [
      "5 replicas per shard need 5 live nodes; 3 are live (add 2 nodes)",
    ]);
  });

  it("does not count dead nodes, and says which could come back", () => {
    assert.deepEqual(checkFeasibility(contract(3, false), nodes("a", "b", "c-")).problems, [
      "3 replicas per shard need 3 live nodes; 2 are live (add 1 node, or bring back the " +
        "down node (n3))",
    ]);
    assert.deepEqual(checkFeasibility(contract(5, false), nodes("a", "b", "c", "d-")).problems, [
      "5 replicas per shard need 5 live nodes; 3 are live (add 2 nodes; bringing back the " +
        "down node (n4) covers 1)",
    ]);
    assert.deepEqual(checkFeasibility(contract(3, false), nodes("a", "b-", "c-", "d-")).problems, [
      "3 replicas per shard need 3 live nodes; 1 is live (add 2 nodes, or bring back 2 of the " +
        "down nodes (n2, n3, n4))",
    ]);
    // A dead node's zone does not count either.
    assert.deepEqual(checkFeasibility(contract(3), nodes("a", "b", "c-", "a")).problems, [
      "3 replicas spread over zones need 3 zones; live nodes are in 2 zones (a, b): add a " +
        "node in another zone, or set durability.spreadOverZones: false",
    ]);
  });

  it("says how many zones are missing when replicas should spread over zones", () => {
    assert.deepEqual(checkFeasibility(contract(3), nodes("eu-1a", "eu-1b", "eu-1a")), {
      feasible: false,
      problems: [
        "3 replicas spread over zones need 3 zones; live nodes are in 2 zones (eu-1a, " +
          "eu-1b): add a node in another zone, or set durability.spreadOverZones: false",
      ],
    });
  });

  it("counts nodes without a zone as one zone, and says so", () => {
    assert.deepEqual(checkFeasibility(contract(3), nodes("", "", "a")).problems, [
      "3 replicas spread over zones need 3 zones; live nodes are in 2 zones (no zone set, a) " +
        "(nodes started without --zone count as one zone): add a node in another zone, or " +
        "set durability.spreadOverZones: false",
    ]);
    assert.ok(checkFeasibility(contract(3), nodes("", "a", "b")).feasible);
    // No node names a zone: there is nothing to spread over, so the clause does not apply.
    assert.ok(checkFeasibility(contract(3), nodes("", "", "")).feasible);
  });

  it("ignores zones when the contract does not ask for spreading, or for one replica", () => {
    assert.ok(checkFeasibility(contract(3, false), nodes("a", "a", "a")).feasible);
    assert.ok(checkFeasibility(contract(1), nodes("a")).feasible);
  });

  it("reports both problems when nodes and zones are short", () => {
    const result = checkFeasibility(contract(3), nodes("a", "b"));
    assert.equal(result.feasible, false);
    assert.equal(result.problems.length, 2);
  });

  it("counts a node listed twice once", () => {
    const twice = [...nodes("a", "b"), { id: "n1", zone: "a", alive: true }];
    assert.match(checkFeasibility(contract(3, false), twice).problems[0] ?? "", /2 are live/);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type Action,
  actionSettled,
  type GroupObservation,
  observeGroup,
  plan,
} from "../../src/cluster/controller.js";
import { MemoryRaftLogs } from "../../src/cluster/memory-logs.js";
import {
  encodeMetaCommand,
  type MetaCommand,
  MetaMachine,
  type MetaResult,
  metaGroupId,
  type NodeAddress,
} from "../../src/cluster/meta.js";
import { MultiRaft } from "../../src/cluster/multi-raft.js";
import { validateShardMap } from "../../src/cluster/shard-map.js";
import { SeededRandom } from "../../src/core/random.js";
import type { MemberState } from "../../src/membership/types.js";
import { encodeConfChange, lanConfig } from "../../src/raft/index.js";

const hex = (n: number): string => n.toString(16).padStart(40, "0");
const addr = (n: number, zone = ""): NodeAddress => ({
  id: hex(n),
  host: `10.0.0.${n}`,
  port: 6379,
  busPort: 16379,
  zone,
});

/** One raft group as the model keeps it: the configuration and its leader's view. */
interface ModelGroup {
  voters: number[];
  learners: number[];
  leader: number;
  term: number;
  applied: number;
  /** Each learner's match; a learner catches up one round after it is added. */
  match: Map<number, number>;
}

/**
 * A small cluster in which every action takes effect at once: conf changes and transfers
 * change a group's configuration (checked against raft's rules), proposals are applied to
 * a real MetaMachine. The meta group's own log is the MetaMachine's.
 */
class Model {
  readonly meta = new MetaMachine();
  readonly liveness = new Map<string, MemberState>();
  readonly groups = new Map<number, ModelGroup>();
  rounds = 0;
  /** Most shards with a learner at once (each a snapshot stream in a real cluster). */
  maxShardsWithLearners = 0;
  readonly actionsSeen: Action[] = [];

  constructor(
    shardCount: number,
    settings: Partial<Record<"conf-changes-max" | "replica-target", number>> = {},
    zone = "",
  ) {
    this.groups.set(metaGroupId, group([1]));
    this.mustPropose({
      kind: "bootstrap",
      clusterId: "model",
      node: addr(1, zone),
      shardCount,
      replicaTarget: settings["replica-target"] ?? 3,
    });
    for (const s of this.meta.shardMap().shards) this.groups.set(s.id, group([1]));
    if (settings["conf-changes-max"] !== undefined) {
      this.mustPropose({
        kind: "set-setting",
        name: "conf-changes-max",
        value: settings["conf-changes-max"],
      });
    }
    this.liveness.set(hex(1), "alive");
  }

  /** Applies a meta command at the next index of the meta log; returns its result. */
  propose(cmd: MetaCommand): MetaResult {
    const g = this.groups.get(metaGroupId) as ModelGroup;
    const index = this.meta.applied + 1;
    let result: MetaResult | undefined;
    this.meta.expect(index, g.term, {
      resolve: (r) => {
        result = r;
      },
      reject: (e) => assert.fail(e),
    });
    this.meta.apply([{ index, term: g.term, type: "normal", data: encodeMetaCommand(cmd) }]);
    g.applied = this.meta.applied;
    assert.ok(result !== undefined);
    return result;
  }

  mustPropose(cmd: MetaCommand): MetaResult {
    const result = this.propose(cmd);
    assert.ok(result.ok, result.ok ? "" : `${cmd.kind}: ${result.code} ${result.message}`);
    return result;
  }

  addNode(n: number, zone = ""): void {
    const result = this.mustPropose({ kind: "register-node", node: addr(n, zone) });
    assert.equal(result.ok && result.raftId, n, "raft ids follow registration order");
    this.liveness.set(hex(n), "alive");
  }

  /** A node's process dies: membership says so, and its groups elect someone else. */
  kill(n: number): void {
    this.liveness.set(hex(n), "dead");
    for (const g of this.groups.values()) {
      if (g.leader !== n) continue;
      const next = g.voters.find((v) => v !== n && this.alive(v));
      assert.ok(next !== undefined, "a live voter to elect");
      g.leader = next;
      g.term += 1;
      g.applied += 1;
    }
  }

  /** Nodes dead for longer than the dead-node time (PlanInput.expired). */
  readonly expired = new Set<string>();
  /** Nodes whose disks are nearly full (PlanInput.full). */
  readonly full = new Set<number>();

  alive(n: number): boolean {
    return this.liveness.get(hex(n)) === "alive";
  }

  observations(): Map<number, GroupObservation> {
    const out = new Map<number, GroupObservation>();
    for (const [id, g] of this.groups) {
      out.set(id, {
        group: id,
        leader: g.leader,
        term: g.term,
        applied: id === metaGroupId ? this.meta.applied : g.applied,
        commit: id === metaGroupId ? this.meta.applied : g.applied,
        voters: [...g.voters],
        learners: [...g.learners],
        learnerMatch: new Map(g.match),
      });
    }
    return out;
  }

  plan(): Action[] {
    return plan({
      meta: this.meta.state,
      liveness: this.liveness,
      expired: this.expired,
      full: this.full,
      groups: this.observations(),
      inflight: [],
    });
  }

  /** One round: plan, check the plan, carry it out, let learners catch up. */
  round(): Action[] {
    const actions = this.plan();
    assert.deepEqual(this.plan(), actions, "plan is deterministic");
    const perGroup = new Map<number, number>();
    for (const a of actions) perGroup.set(a.group, (perGroup.get(a.group) ?? 0) + 1);
    for (const [g, n] of perGroup) assert.equal(n, 1, `${n} actions for group ${g} in one plan`);
    const catchingUp = [...this.groups.values()].map((g) => [g, [...g.learners]] as const);
    for (const a of actions) this.carryOut(a);
    for (const [g, learners] of catchingUp) {
      for (const l of learners)
        if (g.learners.includes(l) && this.alive(l)) g.match.set(l, this.commitOf(g));
    }
    this.check();
    this.actionsSeen.push(...actions);
    this.rounds += 1;
    return actions;
  }

  commitOf(g: ModelGroup): number {
    return g === this.groups.get(metaGroupId) ? this.meta.applied : g.applied;
  }

  carryOut(a: Action): void {
    if (a.kind === "propose") {
      this.mustPropose(a.command);
      return;
    }
    const g = this.groups.get(a.group) as ModelGroup;
    assert.equal(a.at, g.leader, `${a.kind} on group ${a.group} sent to its leader`);
    assert.ok(this.alive(a.at), "actions go to live leaders");
    if (a.kind === "transfer-leader") {
      assert.ok(g.voters.includes(a.to) && this.alive(a.to), "transfer to a live voter");
      g.leader = a.to;
      g.term += 1;
      this.bump(a.group, g);
      return;
    }
    const { type, node } = a.change;
    if (type === "add-voter") {
      assert.ok(g.learners.includes(node), "only a learner is promoted");
      assert.ok(
        (g.match.get(node) ?? -1) >= this.commitOf(g),
        "only a caught-up learner is promoted",
      );
      g.learners = g.learners.filter((x) => x !== node);
      g.voters = [...g.voters, node].sort((x, y) => x - y);
      g.match.delete(node);
    } else if (type === "add-learner") {
      assert.ok(!g.learners.includes(node), "learner added twice");
      g.voters = g.voters.filter((x) => x !== node);
      g.learners = [...g.learners, node].sort((x, y) => x - y);
      g.match.set(node, 0);
    } else {
      assert.ok(g.voters.includes(node) || g.learners.includes(node), "remove a member");
      assert.notEqual(node, g.leader, "the leader is never removed");
      g.voters = g.voters.filter((x) => x !== node);
      g.learners = g.learners.filter((x) => x !== node);
      g.match.delete(node);
    }
    assert.ok(g.voters.length > 0, "a group keeps a voter");
    this.bump(a.group, g);
  }

  /** A conf change or a new leader's no-op is one more entry in the group's log. */
  bump(group: number, g: ModelGroup): void {
    if (group === metaGroupId) {
      const index = this.meta.applied + 1;
      this.meta.apply([
        { index, term: g.term, type: "conf", data: encodeConfChange({ type: "remove", node: 1 }) },
      ]);
      g.applied = index;
    } else g.applied += 1;
  }

  check(): void {
    const shardsWithLearners = [...this.groups].filter(
      ([id, g]) => id !== metaGroupId && g.learners.length > 0,
    ).length;
    this.maxShardsWithLearners = Math.max(this.maxShardsWithLearners, shardsWithLearners);
    for (const [id, g] of this.groups) {
      const live = g.voters.filter((v) => this.alive(v)).length;
      const frozen = g.voters.some((v) => !this.alive(v));
      if (!frozen)
        assert.ok(live >= Math.floor(g.voters.length / 2) + 1, `group ${id} has a live majority`);
    }
    assert.deepEqual(validateShardMap(this.meta.shardMap(), this.meta.nodes()), []);
  }

  /** Rounds until a plan is empty; returns how many it took. */
  converge(roundsMax: number): number {
    for (let i = 1; i <= roundsMax; i++) if (this.round().length === 0) return i;
    assert.fail(`not converged in ${roundsMax} rounds; last plan: ${JSON.stringify(this.plan())}`);
  }

  liveActive(): number[] {
    return this.meta
      .nodes()
      .filter((n) => n.status === "active" && this.alive(n.raftId))
      .map((n) => n.raftId);
  }

  /** The converged cluster is what it should be, and the map says so. */
  checkBalanced(): void {
    const nodes = this.liveActive();
    const r = Math.min(3, nodes.length);
    const leads = new Map(nodes.map((n) => [n, 0]));
    for (const shard of this.meta.shardMap().shards) {
      const g = this.groups.get(shard.id) as ModelGroup;
      assert.equal(g.voters.length, r, `shard ${shard.id} has ${r} voters`);
      assert.deepEqual(g.learners, []);
      assert.deepEqual(
        [...shard.replicas].sort((a, b) => a - b),
        g.voters,
        "the map records the voters",
      );
      assert.deepEqual(shard.learners, []);
      assert.equal(shard.leader, g.leader, "the map records the leader");
      leads.set(g.leader, (leads.get(g.leader) ?? 0) + 1);
    }
    const counts = [...leads.values()];
    assert.ok(
      Math.max(...counts) - Math.min(...counts) <= 1,
      `leaders spread: ${JSON.stringify([...leads])}`,
    );
    const metaGroup = this.groups.get(metaGroupId) as ModelGroup;
    assert.equal(this.meta.metaVoters().length, Math.min(3, nodes.length));
    assert.deepEqual(metaGroup.voters, [...this.meta.metaVoters()]);
    const others = nodes.filter((n) => !metaGroup.voters.includes(n));
    assert.deepEqual(metaGroup.learners, others, "every other node follows the meta group");
  }
}

function group(voters: number[]): ModelGroup {
  return {
    voters,
    learners: [],
    leader: voters[0] as number,
    term: 1,
    applied: 1,
    match: new Map(),
  };
}

describe("controller over a model cluster", () => {
  it("grows 1 → 3 → 5 nodes: min(3, nodes) voters per shard, leaders spread, meta voters", () => {
    const k = 2;
    const m = new Model(12, { "conf-changes-max": k });
    assert.deepEqual(
      m.round().filter((a) => a.kind !== "propose" || a.command.kind !== "record-shard-change"),
      [],
    );
    m.converge(5);
    m.checkBalanced();

    m.addNode(2);
    m.addNode(3);
    const to3 = m.converge(200);
    m.checkBalanced();
    assert.deepEqual([...m.meta.metaVoters()], [1, 2, 3]);

    m.addNode(4);
    m.addNode(5);
    const to5 = m.converge(200);
    m.checkBalanced();
    assert.ok(m.maxShardsWithLearners <= k, `${m.maxShardsWithLearners} shards caught up at once`);
    assert.ok(m.maxShardsWithLearners === k, "the bound is used");
    // Each shard change is an action, a record, and a round for the learner to catch up.
    assert.ok(to3 < 120 && to5 < 120, `rounds: ${to3}, ${to5}`);
    const addLearners = m.actionsSeen.filter(
      (a) => a.kind === "conf-change" && a.change.type === "add-learner",
    );
    assert.ok(addLearners.length > 0);
    assert.deepEqual(m.plan(), [], "a balanced cluster gets no actions");
  });

  it("spreads replicas and meta voters over zones", () => {
    const m = new Model(8, { "conf-changes-max": 4 }, "a");
    m.addNode(2, "a");
    m.addNode(3, "a");
    m.addNode(4, "b");
    m.addNode(5, "c");
    m.converge(200);
    m.checkBalanced();
    const zoneOf = (id: number) => m.meta.nodeByRaftId(id)?.zone;
    assert.deepEqual(new Set(m.meta.metaVoters().map(zoneOf)), new Set(["a", "b", "c"]));
    for (const s of m.meta.shardMap().shards) {
      assert.equal(new Set(s.replicas.map(zoneOf)).size, 3, `shard ${s.id} spans the zones`);
    }
  });

  it("replaces a failed meta voter, never losing the meta group's live majority", () => {
    const m = new Model(6, { "conf-changes-max": 4 });
    for (const n of [2, 3, 4, 5]) m.addNode(n);
    m.converge(200);
    assert.deepEqual([...m.meta.metaVoters()], [1, 2, 3]);
    m.kill(2);
    const before = m.actionsSeen.length;
    m.converge(60);
    const metaGroup = m.groups.get(metaGroupId) as ModelGroup;
    assert.deepEqual([...m.meta.metaVoters()], [1, 3, 4]);
    assert.deepEqual(metaGroup.voters, [1, 3, 4]);
    const after = m.actionsSeen.slice(before);
    const metaConf = after.filter((a) => a.group === metaGroupId && a.kind === "conf-change");
    assert.deepEqual(
      metaConf.map((a) => (a.kind === "conf-change" ? `${a.change.type} ${a.change.node}` : "")),
      ["add-voter 4", "remove 2"],
      "promote the replacement, then remove the dead voter",
    );
    // Shards with a voter on the dead node are left alone (dead-node handling comes later).
    for (const a of after) {
      if (a.group === metaGroupId || a.kind === "propose") continue;
      const g = m.groups.get(a.group) as ModelGroup;
      assert.ok(!g.voters.includes(2), `shard ${a.group} with a dead voter was changed`);
    }
    for (const s of m.meta.shardMap().shards) {
      const g = m.groups.get(s.id) as ModelGroup;
      assert.equal(s.leader, g.leader, "new leaders of the dead node's shards are recorded");
    }
    assert.deepEqual(m.plan(), []);
  });

  it("rebuilds a dead node's replicas once it has been dead for the dead-node time", () => {
    const m = new Model(8, { "conf-changes-max": 3 });
    for (const n of [2, 3, 4, 5]) m.addNode(n);
    m.converge(200);
    const held = () =>
      [...m.groups].filter(([id, g]) => id !== metaGroupId && g.voters.includes(3)).length;
    assert.ok(held() > 0, "node 3 holds replicas");
    m.kill(3);
    // Only down: the shards it holds are left alone (leaders re-elected and recorded).
    const before = m.actionsSeen.length;
    m.converge(60);
    const moved = m.actionsSeen
      .slice(before)
      .filter((a) => a.kind === "conf-change" && a.group !== metaGroupId);
    assert.deepEqual(moved, [], "no data moves while the node is only down");
    assert.ok(held() > 0);
    // Expired: every shard gets a live replica in its place, learner first, then the
    // dead voter is removed, never more than 3 shards mid-move.
    m.expired.add(hex(3));
    m.converge(300);
    assert.equal(held(), 0, "no shard keeps a voter on the dead node");
    for (const [id, g] of m.groups) {
      if (id === metaGroupId) continue;
      assert.equal(g.voters.length, 3, `shard ${id} is back at 3 voters`);
      assert.ok(
        g.voters.every((v) => m.alive(v)),
        `shard ${id}'s voters are live`,
      );
    }
    const after = m.actionsSeen.slice(before);
    for (const [id] of m.groups) {
      if (id === metaGroupId) continue;
      const steps = after
        .filter((a) => a.group === id && a.kind === "conf-change")
        .map((a) => (a.kind === "conf-change" ? a.change.type : ""));
      if (steps.length === 0) continue;
      assert.deepEqual(steps, ["add-learner", "add-voter", "remove"], `shard ${id}`);
    }
    assert.ok(m.maxShardsWithLearners <= 3);
    assert.deepEqual(m.plan(), []);
  });

  it("puts no new replica on a node whose disk is nearly full", () => {
    const m = new Model(6, { "conf-changes-max": 3 });
    for (const n of [2, 3]) m.addNode(n);
    m.converge(200);
    m.full.add(4);
    m.addNode(4);
    m.converge(200);
    for (const [id, g] of m.groups) {
      if (id === metaGroupId) continue;
      assert.ok(!g.voters.includes(4) && !g.learners.includes(4), `shard ${id} stayed off node 4`);
    }
    // Once it has room again, balance uses it.
    m.full.delete(4);
    m.converge(200);
    assert.ok([...m.groups].some(([id, g]) => id !== metaGroupId && g.voters.includes(4)));
  });

  it("keeps a dead meta voter when no live node can replace it", () => {
    const m = new Model(3);
    m.addNode(2);
    m.addNode(3);
    m.converge(200);
    m.kill(3);
    m.converge(20);
    assert.deepEqual([...m.meta.metaVoters()], [1, 2, 3]);
    assert.deepEqual((m.groups.get(metaGroupId) as ModelGroup).voters, [1, 2, 3]);
  });

  it("drains a node being removed, marks it removed and drops it from the meta group", () => {
    const m = new Model(8, { "conf-changes-max": 3 });
    for (const n of [2, 3, 4]) m.addNode(n);
    m.converge(200);
    m.mustPropose({ kind: "set-node-status", id: hex(3), status: "removing" });
    m.converge(200);
    assert.equal(m.meta.nodeByRaftId(3)?.status, "removed");
    for (const g of m.groups.values()) {
      assert.ok(!g.voters.includes(3) && !g.learners.includes(3), "nothing left on node 3");
    }
    m.checkBalanced();
    assert.ok(m.maxShardsWithLearners <= 3);
  });

  it("waits for a learner to catch up before promoting it", () => {
    const m = new Model(1);
    m.addNode(2);
    const g = m.groups.get(1) as ModelGroup;
    // Rounds until the shard has a learner, then freeze its progress.
    for (let i = 0; i < 10 && !g.learners.includes(2); i++) m.round();
    assert.ok(g.learners.includes(2));
    for (let i = 0; i < 5; i++) {
      g.match.set(2, g.applied - 1);
      const actions = m.plan();
      assert.ok(
        !actions.some(
          (a) => a.group === 1 && a.kind === "conf-change" && a.change.type === "add-voter",
        ),
        "no promotion while behind",
      );
      m.round();
    }
  });
});

describe("controller inputs", () => {
  it("ignores an observation older than what the map recorded, and groups with actions in flight", () => {
    const m = new Model(1);
    m.addNode(2);
    const g = m.groups.get(1) as ModelGroup;
    for (let i = 0; i < 10 && !g.learners.includes(2); i++) m.round();
    const obs = m.observations();
    const input = { meta: m.meta.state, liveness: m.liveness, groups: obs, inflight: [] };
    const records = plan(input).filter((a) => a.kind === "propose" && a.group === 1);
    assert.equal(records.length, 1);
    for (const a of records) m.carryOut(a);
    // A report from before the change: the map's mark is newer, nothing to record or do.
    const stale = new Map(obs);
    const shard = obs.get(1) as GroupObservation;
    stale.set(1, { ...shard, applied: shard.applied - 1, learners: [] });
    const again = plan({ ...input, meta: m.meta.state, groups: stale });
    assert.deepEqual(
      again.filter((a) => a.group === 1),
      [],
    );
    // With an action in flight for shard 1, nothing new for it either.
    const inflight: Action[] = [
      { kind: "conf-change", group: 1, at: 1, change: { type: "add-voter", node: 2 }, why: "" },
    ];
    const busy = plan({ ...input, meta: m.meta.state, groups: m.observations(), inflight });
    assert.deepEqual(
      busy.filter((a) => a.group === 1),
      [],
    );
  });

  it("actionSettled tells when a conf change or transfer shows in an observation", () => {
    const o: GroupObservation = {
      group: 1,
      leader: 2,
      term: 3,
      applied: 10,
      commit: 10,
      voters: [1, 2],
      learners: [3],
      learnerMatch: new Map([[3, 10]]),
    };
    const cc = (type: "add-voter" | "add-learner" | "remove", node: number): Action => ({
      kind: "conf-change",
      group: 1,
      at: 2,
      change: { type, node },
      why: "",
    });
    assert.equal(actionSettled(cc("add-learner", 3), o), true);
    assert.equal(actionSettled(cc("add-voter", 3), o), false);
    assert.equal(actionSettled(cc("remove", 4), o), true);
    assert.equal(actionSettled(cc("remove", 1), o), false);
    assert.equal(
      actionSettled({ kind: "transfer-leader", group: 1, at: 1, to: 2, why: "" }, o),
      true,
    );
    assert.equal(actionSettled(cc("add-learner", 3), undefined), false);
  });

  it("observeGroup reads a MultiRaft host's status, configuration and learners' progress", () => {
    const mr = new MultiRaft(1, lanConfig(1), new SeededRandom(5), new MemoryRaftLogs(), () => {});
    const meta = new MetaMachine();
    mr.addGroup(metaGroupId, { voters: [1], learners: [7] }, meta);
    mr.campaign(metaGroupId);
    for (let i = 0; i < 10 && mr.flush(); i++);
    const o = observeGroup(mr, metaGroupId);
    assert.ok(o !== null);
    assert.equal(o.leader, 1);
    assert.deepEqual([o.voters, o.learners], [[1], [7]]);
    assert.equal(o.applied, o.commit);
    assert.deepEqual([...o.learnerMatch.keys()], [7]);
    assert.equal(observeGroup(mr, 99), null);
  });
});

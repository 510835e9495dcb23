import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { decodeEnvelope, encodeEnvelope } from "../../src/cluster/envelope.js";
import { type MemoryGroupLog, MemoryRaftLogs } from "../../src/cluster/memory-logs.js";
import {
  type GroupLog,
  type GroupMachine,
  type GroupStatus,
  MultiRaft,
  type MultiRaftOptions,
  type RaftLogs,
} from "../../src/cluster/multi-raft.js";
import { SeededRandom } from "../../src/core/random.js";
import {
  type ConfState,
  type Entry,
  encodeMessage,
  lanConfig,
  type Message,
  type NodeId,
  type RaftConfig,
  type ReadState,
  type Snapshot,
} from "../../src/raft/index.js";
import { type LmdbLogStorage, LmdbRaftLogs } from "../../src/storage/raft-log.js";
import { type WalLogStorage, WalRaftLogs } from "../../src/storage/wal-raft-log.js";

const text = new TextEncoder();
const untext = new TextDecoder();

/**
 * A state machine that remembers the data of every applied command in order, so replicas
 * can be compared entry for entry; its image is that list.
 */
class ListMachine implements GroupMachine {
  values: string[] = [];
  applied = 0;
  served: ReadState[] = [];
  roles: GroupStatus[] = [];

  apply(entries: readonly Entry[]): void {
    for (const e of entries) {
      assert.equal(e.index, this.applied + 1, "entries contiguous");
      this.applied = e.index;
      if (e.type === "normal" && e.data.length > 0) this.values.push(untext.decode(e.data));
    }
  }

  restore(s: Snapshot): void {
    this.values = s.data.length === 0 ? [] : (JSON.parse(untext.decode(s.data)) as string[]);
    this.applied = s.meta.index;
  }

  snapshot(): Uint8Array {
    return text.encode(JSON.stringify(this.values));
  }

  reads(reads: readonly ReadState[]): void {
    for (const r of reads) {
      assert.ok(r.index <= this.applied, "a read served before its index applied");
      this.served.push(r);
    }
  }

  roleChanged(status: GroupStatus): void {
    this.roles.push(status);
  }
}

interface TestNode<L extends GroupLog> {
  id: NodeId;
  logs: RaftLogs<L>;
  mr: MultiRaft<L>;
  machines: Map<number, ListMachine>;
}

interface Wire {
  from: NodeId;
  to: NodeId;
  bytes: Uint8Array;
}

interface ClusterOptions extends Omit<MultiRaftOptions, "onUnknownGroup"> {
  seed?: number;
  raft?: Partial<RaftConfig>;
  /** MultiRaftOptions.onUnknownGroup, told which node it runs on. */
  onUnknownGroup?: (node: TestNode<GroupLog>, group: number, from: NodeId, m: Message) => void;
}

/**
 * N MultiRaft nodes in one process on a lock-step network: a step delivers everything
 * sent in the previous step, then every node ticks once and flushes once. So one step is
 * one tick, and a node sends at most one envelope per peer per step unless it splits one.
 */
class Cluster<L extends GroupLog> {
  readonly nodes = new Map<NodeId, TestNode<L>>();
  readonly conf: ConfState;
  private queue: Wire[] = [];
  /** Nodes whose traffic is dropped both ways (a partition, or a crashed process). */
  readonly cut = new Set<NodeId>();
  /** The most envelopes one node sent one peer in one step. */
  maxEnvelopesPerPeerPerStep = 0;
  steps = 0;
  readonly random: SeededRandom;
  private readonly config: RaftConfig;

  constructor(
    readonly ids: NodeId[],
    readonly groups: number[],
    makeLogs: (id: NodeId) => RaftLogs<L>,
    private readonly options: ClusterOptions = {},
  ) {
    this.conf = { voters: [...ids], learners: [] };
    this.random = new SeededRandom(options.seed ?? 1);
    this.config = { ...lanConfig(1), ...options.raft };
    for (const id of ids) this.start(id, makeLogs(id));
  }

  /** Starts node `id` on `logs` (a fresh disk, or the one a crashed process left). */
  start(id: NodeId, logs: RaftLogs<L>): TestNode<L> {
    const send = (to: NodeId, bytes: Uint8Array) => this.queue.push({ from: id, to, bytes });
    const hook = this.options.onUnknownGroup;
    const options: MultiRaftOptions = {
      ...this.options,
      onUnknownGroup:
        hook === undefined ? undefined : (group, from, m) => hook(node, group, from, m),
    };
    const mr = new MultiRaft(id, this.config, this.random.fork(), logs, send, options);
    const node: TestNode<L> = { id, logs, mr, machines: new Map() };
    for (const g of this.groups) this.addGroup(node, g);
    this.nodes.set(id, node);
    return node;
  }

  addGroup(node: TestNode<L>, group: number): void {
    const machine = new ListMachine();
    node.machines.set(group, machine);
    node.mr.addGroup(group, this.conf, machine);
  }

  node(id: NodeId): TestNode<L> {
    return this.nodes.get(id) as TestNode<L>;
  }

  step(): void {
    const inflight = this.queue;
    this.queue = [];
    for (const w of inflight) {
      if (this.cut.has(w.from) || this.cut.has(w.to)) continue;
      this.nodes.get(w.to)?.mr.receive(w.from, w.bytes);
    }
    for (const n of this.nodes.values()) {
      n.mr.tick();
      try {
        if (n.mr.stalled === null) n.mr.flush();
        else n.mr.retryFlush();
      } catch (e) {
        // A failed persist stalls the node until a retry goes through; nothing else may throw.
        if (n.mr.stalled === null) throw e;
      }
    }
    const perPair = new Map<string, number>();
    for (const w of this.queue) {
      // Every envelope is well-formed and addressed as the send was.
      const d = decodeEnvelope(w.bytes);
      assert.ok(d.ok && d.value.from === w.from && d.value.to === w.to);
      const key = `${w.from}>${w.to}`;
      const count = (perPair.get(key) ?? 0) + 1;
      perPair.set(key, count);
      this.maxEnvelopesPerPeerPerStep = Math.max(this.maxEnvelopesPerPeerPerStep, count);
    }
    this.steps += 1;
  }

  run(steps: number): void {
    for (let i = 0; i < steps; i++) this.step();
  }

  runUntil(what: string, done: () => boolean, stepsMax = 500): void {
    for (let i = 0; i < stepsMax; i++) {
      if (done()) return;
      this.step();
    }
    assert.fail(`not ${what} after ${stepsMax} steps`);
  }

  /** The group's leader if every live node agrees on one and it leads; else 0. */
  leader(group: number, among: NodeId[] = this.live()): NodeId {
    const first = this.node(among[0] as NodeId).mr.status(group) as GroupStatus;
    const lead = first.lead;
    if (lead === 0 || !among.includes(lead)) return 0;
    for (const id of among) {
      const s = this.node(id).mr.status(group) as GroupStatus;
      if (s.lead !== lead) return 0;
      if ((id === lead) !== (s.role === "leader")) return 0;
    }
    return lead;
  }

  allLed(among: NodeId[] = this.live()): boolean {
    return this.groups.every((g) => this.leader(g, among) !== 0);
  }

  live(): NodeId[] {
    return this.ids.filter((id) => !this.cut.has(id));
  }

  /** Every replica among `ids` of every group has applied `count` commands. */
  appliedEverywhere(count: number, among: NodeId[] = this.live()): boolean {
    return among.every((id) =>
      this.groups.every((g) => this.node(id).machines.get(g)?.values.length === count),
    );
  }

  values(id: NodeId, group: number): string[] {
    return this.node(id).machines.get(group)?.values ?? [];
  }

  /** Proposes `data(group)` on every group's leader; every proposal must be accepted. */
  proposeEverywhere(data: (group: number) => string, among: NodeId[] = this.live()): void {
    for (const g of this.groups) {
      const lead = this.leader(g, among);
      assert.notEqual(lead, 0, `group ${g} has no leader`);
      const r = this.node(lead).mr.propose(g, text.encode(data(g)));
      assert.ok(r.ok, `propose to group ${g}: ${r.ok ? "" : r.reason}`);
    }
  }

  sum(field: keyof MultiRaft["stats"]): number {
    let total = 0;
    for (const n of this.nodes.values()) total += n.mr.stats[field];
    return total;
  }
}

const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, k) => from + k);
const memoryCluster = (nodes: number, groups: number, options: ClusterOptions = {}) =>
  new Cluster<MemoryGroupLog>(range(nodes, 1), range(groups), () => new MemoryRaftLogs(), options);

/** Elect, then write `rounds` commands to every group, one round per step. */
function electAndWrite<L extends GroupLog>(c: Cluster<L>, rounds: number): void {
  c.runUntil("all groups led", () => c.allLed());
  for (let k = 0; k < rounds; k++) {
    c.proposeEverywhere((g) => `g${g}/${k}`);
    c.step();
  }
  c.runUntil("all applied", () => c.appliedEverywhere(rounds));
}

function assertSameOrderEverywhere<L extends GroupLog>(c: Cluster<L>, rounds: number): void {
  for (const g of c.groups) {
    const expected = range(rounds).map((k) => `g${g}/${k}`);
    for (const id of c.live()) assert.deepEqual(c.values(id, g), expected, `group ${g} on ${id}`);
  }
}

describe("multi-raft host", () => {
  it("3 nodes × 100 groups: all elect, commit and apply in one order; one envelope per peer per tick", () => {
    const c = memoryCluster(3, 100);
    electAndWrite(c, 10);
    assertSameOrderEverywhere(c, 10);
    // One per peer per flush, or two when it persists: a leader's appends leave before its
    // own write, the rest after (MultiRaft.flush, step 0).
    assert.ok(c.maxEnvelopesPerPeerPerStep <= 2);
    // Leadership is spread: every node leads some groups (elections race independently).
    const led = new Map<NodeId, number>();
    for (const g of c.groups) led.set(c.leader(g), (led.get(c.leader(g)) ?? 0) + 1);
    assert.equal(led.size, 3, `leaders: ${[...led]}`);
    // One transaction per flush with writes, carrying many groups' writes.
    for (const n of c.nodes.values()) {
      const s = (n.logs as MemoryRaftLogs).stats();
      assert.equal(s.commits, n.mr.stats.persists);
      assert.ok(s.groupWrites > 5 * s.commits, `${s.groupWrites} writes in ${s.commits}`);
      assert.ok(n.mr.stats.persists <= n.mr.stats.flushes);
    }
    assert.equal(c.sum("envelopesRejected"), 0);
    assert.equal(c.sum("itemsUnknownGroup"), 0);
  });

  it("5 nodes × 100 groups: all elect, commit and apply in one order", () => {
    const c = memoryCluster(5, 100, { seed: 5 });
    electAndWrite(c, 6);
    assertSameOrderEverywhere(c, 6);
    // One per peer per flush, or two when it persists: a leader's appends leave before its
    // own write, the rest after (MultiRaft.flush, step 0).
    assert.ok(c.maxEnvelopesPerPeerPerStep <= 2);
  });

  it("coalesces idle heartbeats: one envelope per peer per round, a few bytes per group", () => {
    for (const n of [3, 5]) {
      const c = memoryCluster(n, 100, { seed: n });
      electAndWrite(c, 1);
      c.run(5);
      const bytes0 = c.sum("bytesSent");
      const envelopes0 = c.sum("envelopesSent");
      const messages0 = c.sum("messagesSent");
      const coalesced0 = c.sum("heartbeatsCoalesced");
      const persists0 = c.sum("persists");
      const rounds = 20;
      c.run(rounds);
      const bytes = c.sum("bytesSent") - bytes0;
      const envelopes = c.sum("envelopesSent") - envelopes0;
      const messages = c.sum("messagesSent") - messages0;
      // Every message of an idle cluster is a heartbeat or its answer, and each group's
      // leader sends one to each follower per tick (heartbeatTicks = 1).
      assert.equal(c.sum("heartbeatsCoalesced") - coalesced0, messages);
      assert.equal(messages, rounds * 100 * (n - 1) * 2);
      assert.equal(c.sum("persists"), persists0, "an idle cluster writes nothing");
      // One envelope per ordered node pair per round: heartbeats of the groups A leads,
      // and answers to those B leads, travel A→B together.
      assert.equal(envelopes, rounds * n * (n - 1));
      const perGroupRound = bytes / (100 * rounds);
      // What the same messages cost whole (raft codec bytes alone, before any framing).
      const hb = encodeMessage({
        type: "heartbeat",
        from: 1,
        to: 2,
        term: 3,
        commit: 9,
        context: 99,
      });
      const resp = encodeMessage({ type: "heartbeat-resp", from: 2, to: 1, term: 3, context: 99 });
      const wholePerGroupRound = (n - 1) * (hb.length + resp.length);
      console.log(
        `${n} nodes × 100 idle groups: ${perGroupRound.toFixed(1)} bytes per group per heartbeat ` +
          `round in ${envelopes / rounds} envelopes/round, vs ${wholePerGroupRound} bytes in ` +
          `${100 * (n - 1) * 2} messages/round uncoalesced`,
      );
      assert.ok(perGroupRound < wholePerGroupRound / 2.5, `${perGroupRound} bytes per group`);
    }
  });

  it("serves read-index reads once applied, transfers leadership, reports status", () => {
    const c = memoryCluster(3, 10, { seed: 3 });
    electAndWrite(c, 2);
    for (const g of c.groups) {
      const lead = c.leader(g);
      assert.ok(c.node(lead).mr.readIndex(g, 1000 + g).ok);
    }
    c.run(3);
    for (const g of c.groups) {
      const served = c.node(c.leader(g)).machines.get(g)?.served ?? [];
      assert.deepEqual(
        served.map((r) => r.id),
        [1000 + g],
      );
    }
    const before = c.leader(0);
    const target = before === 1 ? 2 : 1;
    assert.ok(c.node(before).mr.transferLeader(0, target));
    c.runUntil("leadership moved", () => c.leader(0) === target, 50);
    const s = c.node(target).mr.status(0) as GroupStatus;
    assert.equal(s.role, "leader");
    assert.equal(s.lead, target);
    assert.ok(s.commit >= 3 && s.applied === s.commit && s.lastIndex >= s.commit);
    assert.ok(
      c
        .node(target)
        .machines.get(0)
        ?.roles.some((r) => r.role === "leader"),
    );
    // Refusals name their reason; unknown groups are not an exception.
    const follower = c.node(before).mr;
    const refused = follower.propose(0, text.encode("x"));
    assert.equal(refused.ok, false);
    assert.equal(refused.ok ? "" : refused.reason, "not-leader");
    assert.equal(follower.propose(999, text.encode("x")).ok, false);
    assert.equal(follower.status(999), null);
    assert.equal(follower.readIndex(999, 1).ok, false);
    assert.equal(follower.transferLeader(999, 1), false);
  });

  it("a partitioned, then crashed node catches up from its logs (with snapshots)", () => {
    // Compaction every 10 entries, so the majority compacts past what node 3 has.
    const c = memoryCluster(3, 100, { seed: 11, compactEntries: 10 });
    electAndWrite(c, 3);
    c.cut.add(3);
    c.runUntil("majority led", () => c.allLed([1, 2]), 300);
    const rounds = 60;
    for (let k = 3; k < rounds; k++) {
      c.proposeEverywhere((g) => `g${g}/${k}`, [1, 2]);
      if (k % 4 === 0) c.step();
    }
    c.runUntil("majority applied", () => c.appliedEverywhere(rounds, [1, 2]));
    assert.ok(c.sum("snapshotsTaken") > 0, "the majority compacted");
    // Node 3 crashes while cut off: memory gone, its disk (MemoryRaftLogs) stays.
    const old = c.node(3);
    const restarted = c.start(3, (old.logs as MemoryRaftLogs).restart());
    assert.equal(restarted.mr.size, 100);
    c.cut.delete(3);
    c.runUntil("node 3 caught up", () => c.appliedEverywhere(rounds), 300);
    assertSameOrderEverywhere(c, rounds);
    assert.equal(restarted.mr.stats.snapshotsLoaded, 0, "node 3 had not compacted");
    assert.ok(restarted.mr.stats.snapshotsInstalled > 0, "some groups needed a snapshot");
    // One per peer per flush, or two when it persists: a leader's appends leave before its
    // own write, the rest after (MultiRaft.flush, step 0).
    assert.ok(c.maxEnvelopesPerPeerPerStep <= 2);
  });

  it("a restarted node rebuilds every machine from its snapshot and log", () => {
    const c = memoryCluster(3, 20, { seed: 12, compactEntries: 5 });
    electAndWrite(c, 12);
    const before = new Map(c.groups.map((g) => [g, [...c.values(2, g)]]));
    const logs = (c.node(2).logs as MemoryRaftLogs).restart();
    const again = c.start(2, logs);
    // addGroup restored the compacted prefix; the first flush re-applies the log up to
    // the commit index it wrote last (a commit-only hard state may not have been written:
    // see MultiRaft.persist), and the leader's next message brings the rest.
    assert.equal(again.mr.stats.snapshotsLoaded, 20);
    again.mr.flush();
    for (const g of c.groups) {
      const now = c.values(2, g);
      const then = before.get(g) as string[];
      assert.deepEqual(now, then.slice(0, now.length), `group ${g}: a prefix`);
    }
    c.run(20);
    for (const g of c.groups) assert.deepEqual(c.values(2, g), before.get(g), `group ${g}`);
    assertSameOrderEverywhere(c, 12);
  });

  it("splits envelopes above the byte bound and still commits everything", () => {
    const small = {
      maxMsgBytes: 1024,
      maxEntryBytes: 1024,
      maxApplyBytes: 1024,
      snapshotChunkBytes: 1024,
    };
    const c = memoryCluster(3, 40, { seed: 4, raft: small, envelopeBytesMax: 2048 });
    c.runUntil("all groups led", () => c.allLed());
    const pad = "x".repeat(300);
    for (let k = 0; k < 4; k++) {
      c.proposeEverywhere((g) => `g${g}/${k}/${pad}`);
      c.step();
    }
    c.runUntil("all applied", () => c.appliedEverywhere(4));
    assert.ok(
      c.maxEnvelopesPerPeerPerStep > 2,
      "envelopes were split (beyond the early/late pair)",
    );
    for (const g of c.groups) {
      const expected = range(4).map((k) => `g${g}/${k}/${pad}`);
      for (const id of c.ids) assert.deepEqual(c.values(id, g), expected);
    }
  });

  it("counts and drops garbage, misaddressed envelopes and unknown groups", () => {
    const c = memoryCluster(3, 5, { seed: 6 });
    c.runUntil("all groups led", () => c.allLed());
    const mr = c.node(1).mr;
    const rnd = new SeededRandom(3);
    for (let i = 0; i < 300; i++) {
      const b = new Uint8Array(rnd.int(100));
      for (let k = 0; k < b.length; k++) b[k] = rnd.int(256);
      if (b.length > 0 && i % 2 === 0) b[0] = 1;
      mr.receive(2, b);
    }
    assert.equal(mr.stats.envelopesRejected, 300);
    assert.notEqual(mr.lastRejection, "");
    const hb = (from: NodeId, to: NodeId, group: number) =>
      encodeEnvelope({
        from,
        to,
        items: [
          { group, message: { type: "heartbeat", from, to, term: 1, commit: 0, context: 0 } },
        ],
      });
    mr.receive(2, hb(2, 3, 0));
    mr.receive(2, hb(3, 1, 0));
    mr.receive(1, hb(1, 1, 0));
    assert.equal(mr.stats.envelopesMisaddressed, 3);
    mr.receive(2, hb(2, 1, 4242));
    assert.equal(mr.stats.itemsUnknownGroup, 1);
    // Nothing broke: the cluster still commits.
    c.proposeEverywhere((g) => `after-garbage-${g}`);
    c.runUntil("applied", () => c.appliedEverywhere(1));
  });

  it("creates a group lazily when a peer's message arrives for it", () => {
    const created: Array<[number, NodeId]> = [];
    let c: Cluster<MemoryGroupLog> | null = null;
    const options: ClusterOptions = {
      seed: 8,
      onUnknownGroup: (node, group, from, message) => {
        assert.ok(c !== null);
        created.push([group, from]);
        // The shard map would say whether this replica belongs here; here it does, and a
        // (pre-)vote is how a new group's first election reaches it.
        if (group === 500 && message.type === "vote")
          c.addGroup(node as TestNode<MemoryGroupLog>, 500);
      },
    };
    c = memoryCluster(3, 3, options);
    c.runUntil("all groups led", () => (c as Cluster<MemoryGroupLog>).allLed());
    const n1 = c.node(1);
    c.addGroup(n1, 500);
    n1.mr.campaign(500);
    c.run(30);
    assert.ok(c.node(2).mr.has(500) && c.node(3).mr.has(500));
    assert.deepEqual(
      created.map(([g, from]) => `${g}<${from}`),
      ["500<1", "500<1"],
      "one hook call per node, then the group exists",
    );
    const lead = (n1.mr.status(500) as GroupStatus).lead;
    assert.notEqual(lead, 0);
    assert.ok(c.node(lead).mr.propose(500, text.encode("lazy")).ok);
    c.run(5);
    for (const id of c.ids) assert.deepEqual(c.node(id).machines.get(500)?.values, ["lazy"]);
  });

  it("removes a group: its log is deleted and later traffic for it is counted", () => {
    const c = memoryCluster(3, 4, { seed: 9 });
    electAndWrite(c, 1);
    const n3 = c.node(3);
    assert.ok(n3.mr.removeGroup(2));
    assert.equal(n3.mr.removeGroup(2), false);
    assert.deepEqual((n3.logs as MemoryRaftLogs).groupIds(), [0, 1, 3]);
    c.run(3);
    assert.ok(n3.mr.stats.itemsUnknownGroup > 0);
    // Group 2 runs on with its two other replicas (a quorum of the three).
    const lead = c.leader(2, [1, 2]);
    assert.ok(c.node(lead).mr.propose(2, text.encode("two")).ok);
    c.runUntil("applied by two", () => [1, 2].every((id) => c.values(id, 2).at(-1) === "two"));
  });

  it("refuses every call after a flush failed other than in its persist (a machine's throw)", () => {
    class FailingMachine extends ListMachine {
      override apply(entries: readonly Entry[]): void {
        if (entries.some((e) => e.data.length > 0)) throw new Error("machine bug");
        super.apply(entries);
      }
    }
    const mr = new MultiRaft(1, lanConfig(1), new SeededRandom(1), new MemoryRaftLogs(), () => {});
    mr.addGroup(7, { voters: [1], learners: [] }, new FailingMachine());
    mr.campaign(7);
    while (mr.flush());
    assert.ok(mr.propose(7, text.encode("boom")).ok);
    assert.throws(() => {
      while (mr.flush());
    }, /machine bug/);
    assert.equal(mr.stalled, null);
    assert.throws(() => mr.tick(), /unusable after a failed flush/);
  });

  it("a failed persist stalls the node; a retry that goes through resumes it as if the disk were slow", () => {
    let fail = false;
    const logs = new MemoryRaftLogs(new Map(), () => fail);
    const mr = new MultiRaft(1, lanConfig(1), new SeededRandom(1), logs, () => {});
    const m = new ListMachine();
    mr.addGroup(7, { voters: [1], learners: [] }, m);
    mr.campaign(7);
    while (mr.flush());
    assert.ok(mr.propose(7, text.encode("before")).ok);
    fail = true;
    assert.throws(() => mr.flush(), /disk full/);
    assert.match(String(mr.stalled), /disk full/);
    assert.equal(mr.stats.persistsFailed, 1);
    // Paused: nothing reaches raft, proposals and reads are refused, the machine heard it
    // does not lead any more (its waiting clients get "may or may not have applied").
    assert.deepEqual(m.roles.at(-1)?.role, "follower");
    const refused = mr.propose(7, text.encode("during"));
    assert.ok(!refused.ok && refused.reason === "stalled");
    const read = mr.readIndex(7, 1);
    assert.ok(!read.ok && read.reason === "stalled");
    mr.tick();
    assert.equal(mr.stats.droppedStalled, 1);
    assert.equal(mr.flushStart(), null, "no new flush while stalled");
    assert.throws(() => mr.retryFlush(), /disk full/);
    assert.equal(mr.stats.persistsFailed, 2);
    assert.deepEqual(m.values, []);
    // The disk takes writes again: the same writes go through, and it carries on.
    fail = false;
    mr.retryFlush();
    assert.equal(mr.stalled, null);
    while (mr.flush());
    assert.deepEqual(m.values, ["before"]);
    assert.ok(mr.propose(7, text.encode("after")).ok);
    while (mr.flush());
    assert.deepEqual(m.values, ["before", "after"]);
    // And what it wrote is what a restart reads back.
    const again = new MultiRaft(1, lanConfig(1), new SeededRandom(2), logs.restart(), () => {});
    const m2 = new ListMachine();
    again.addGroup(7, { voters: [1], learners: [] }, m2);
    again.campaign(7);
    while (again.flush());
    assert.deepEqual(m2.values, ["before", "after"]);
  });

  it("3 nodes: a leader whose disk fails is left behind, then catches up when it recovers", () => {
    const failing = new Set<NodeId>();
    const c = new Cluster<MemoryGroupLog>(
      range(3, 1),
      range(6),
      (id) => new MemoryRaftLogs(new Map(), () => failing.has(id)),
    );
    electAndWrite(c, 3);
    const victim = c.leader(0);
    const led = c.groups.filter((g) => c.leader(g) === victim);
    // Its disk fails with proposals of its groups in flight.
    for (const g of led) assert.ok(c.node(victim).mr.propose(g, text.encode(`g${g}/x`)).ok);
    failing.add(victim);
    c.step();
    assert.notEqual(c.node(victim).mr.stalled, null);
    const others = c.ids.filter((id) => id !== victim);
    c.runUntil("the others lead every group", () => c.allLed(others));
    for (let k = 3; k < 8; k++) {
      c.proposeEverywhere((g) => `g${g}/${k}`, others);
      c.step();
    }
    c.runUntil("the others applied it all", () =>
      others.every((id) => c.groups.every((g) => c.values(id, g).includes(`g${g}/7`))),
    );
    assert.ok(c.node(victim).mr.stats.droppedStalled > 0);
    // The disk recovers: the victim finishes its flush, hears the new leaders and catches up.
    failing.delete(victim);
    c.runUntil("the victim caught up", () =>
      c.groups.every((g) => c.values(victim, g).includes(`g${g}/7`)),
    );
    for (const g of c.groups) {
      const expected = c.values(others[0] as NodeId, g);
      for (const id of c.ids) assert.deepEqual(c.values(id, g), expected, `group ${g} on ${id}`);
      assert.deepEqual(
        expected.filter((v) => !v.endsWith("/x")),
        range(8).map((k) => `g${g}/${k}`),
      );
    }
  });

  it("applies what was durable before a flush ahead of its sync, and nothing newer", () => {
    // What one node's disk and machine see, in order.
    const events: string[] = [];
    const values = (entries: readonly Entry[]) =>
      entries.filter((e) => e.data.length > 0).map((e) => untext.decode(e.data));
    class RecordingLogs extends MemoryRaftLogs {
      override persist(writes: Parameters<MemoryRaftLogs["persist"]>[0]): void {
        const written = writes.flatMap((w) => values(w.write.entries));
        if (written.length > 0) events.push(`persist ${written.join(",")}`);
        super.persist(writes);
      }
    }
    class RecordingMachine extends ListMachine {
      override apply(entries: readonly Entry[]): void {
        const applied = values(entries);
        if (applied.length > 0) events.push(`apply ${applied.join(",")}`);
        super.apply(entries);
      }
    }
    const c = new Cluster<MemoryGroupLog>([1, 2, 3], [0], (id) =>
      id === 1 ? new RecordingLogs() : new MemoryRaftLogs(),
    );
    const leader = c.node(1);
    leader.mr.campaign(0);
    c.runUntil("node 1 leads", () => c.leader(0) === 1);
    const machine = new RecordingMachine();
    // Swap in the recording machine before anything is applied but the leader's no-op.
    Object.assign(leader.machines.get(0) as ListMachine, { apply: machine.apply });
    events.length = 0;
    assert.ok(leader.mr.propose(0, text.encode("a")).ok);
    c.step(); // the leader sends and persists a
    c.step(); // the followers persist a and answer
    // In the next step the leader hears that a is committed, and has b to persist.
    assert.ok(leader.mr.propose(0, text.encode("b")).ok);
    c.step();
    assert.deepEqual(events.slice(0, 3), ["persist a", "apply a", "persist b"]);
    c.runUntil("b applied", () => c.appliedEverywhere(2));

    // A group of one: its entry commits as it is appended, so it is applied after its sync.
    events.length = 0;
    const alone = new MultiRaft(
      1,
      lanConfig(1),
      new SeededRandom(3),
      new RecordingLogs(),
      () => {},
    );
    alone.addGroup(5, { voters: [1], learners: [] }, new RecordingMachine());
    alone.campaign(5);
    while (alone.flush());
    assert.ok(alone.propose(5, text.encode("x")).ok);
    const half = alone.flushStart();
    assert.ok(half !== null && !half.applied, "x is not durable yet");
    assert.deepEqual(events, []);
    // Nothing may be received between the halves (an answer must not count before the sync).
    assert.throws(() => alone.receive(2, new Uint8Array(8)), /during a flush/);
    alone.flushEnd(half);
    while (alone.flush());
    assert.deepEqual(events, ["persist x", "apply x"]);
  });

  it("counts the ticks since a group's leader last spoke to each replica", () => {
    const c = memoryCluster(3, 2, { seed: 12 });
    c.runUntil("all groups led", () => c.allLed());
    const follower = c.ids.find((id) => id !== c.leader(0)) as NodeId;
    c.run(3);
    assert.ok((c.node(follower).mr.ticksSinceLeader(0) as number) <= 2, "heartbeats arrive");
    assert.equal(c.node(follower).mr.ticksSinceLeader(99), null);
    c.cut.add(follower);
    c.run(6);
    assert.ok((c.node(follower).mr.ticksSinceLeader(0) as number) >= 6, "cut off: it counts up");
    c.cut.delete(follower);
    c.runUntil("heard again", () => (c.node(follower).mr.ticksSinceLeader(0) as number) <= 2);
  });

  it("a passive replica does not elect itself from a configuration that is not yet its own", () => {
    // Node 1 recreating a replica from the bootstrap configuration (voters [1]): passive,
    // it waits for the log; an ordinary one would be its own leader within a few ticks.
    const mr = new MultiRaft(1, lanConfig(1), new SeededRandom(3), new MemoryRaftLogs(), () => {});
    mr.addGroup(7, { voters: [1], learners: [] }, new ListMachine(), { passive: true });
    mr.addGroup(8, { voters: [1], learners: [] }, new ListMachine());
    for (let i = 0; i < 100; i++) {
      mr.tick();
      while (mr.flush());
    }
    assert.equal(mr.status(7)?.role, "follower", "the passive replica never campaigned");
    assert.equal(mr.status(8)?.role, "leader");
  });
});

/** What the on-disk test needs of a RaftLogs, beyond the type. */
interface DiskLogs<L extends GroupLog> extends RaftLogs<L> {
  stats(): { commits: number; groupWrites: number };
  groupIds(): number[];
  close(): Promise<void>;
}

/**
 * Persists the Readies of all groups of a flush in one durable commit, deletes removed
 * replicas' logs, and restarts from the folder. `gone` checks group 29 left nothing.
 */
async function onDisk<L extends GroupLog>(
  open: (id: NodeId) => DiskLogs<L>,
  gone: (logs: DiskLogs<L>) => void,
): Promise<void> {
  const c = new Cluster<L>(range(3, 1), range(30), open, { seed: 21 });
  const logsOf = (id: NodeId) => c.node(id).logs as DiskLogs<L>;
  try {
    c.runUntil("all groups led", () => c.allLed());
    c.run(3);
    const before = c.ids.map((id) => ({ ...logsOf(id).stats(), ...c.node(id).mr.stats }));
    c.proposeEverywhere((g) => `g${g}/0`);
    c.step();
    for (const [k, id] of c.ids.entries()) {
      const s = logsOf(id).stats();
      const b = before[k] as (typeof before)[number];
      const led = c.groups.filter((g) => c.leader(g) === id).length;
      // The leader appended its proposals to `led` groups: one commit carried them all.
      assert.equal(s.commits - b.commits, led > 0 ? 1 : 0, `node ${id}`);
      // (plus the commit-only hard states deferred from earlier flushes, see persist)
      assert.ok(s.groupWrites - b.groupWrites >= led, `node ${id}`);
      assert.equal(c.node(id).mr.stats.persists - b.persists, s.commits - b.commits);
    }
    c.runUntil("all applied", () => c.appliedEverywhere(1));
    for (const id of c.ids) {
      const s = logsOf(id).stats();
      const mr = c.node(id).mr.stats;
      // Every persist was one commit (beyond the 30 that created the groups).
      assert.equal(s.commits, mr.persists + 30);
      assert.ok(s.groupWrites > 3 * mr.persists, `${s.groupWrites} in ${mr.persists}`);
    }
    // Removing a replica deletes its log (the logs want the group closed first).
    const n3 = c.node(3);
    assert.ok(n3.mr.removeGroup(29));
    assert.deepEqual(logsOf(3).groupIds(), range(29));
    gone(logsOf(3));
    // A process restart on the same folder: the machine comes back from the log.
    const expected = c.groups.map((g) => c.values(1, g));
    await logsOf(1).close();
    const node = c.start(1, open(1));
    node.mr.flush();
    // Up to the commit index it wrote last; the groups' leaders (re-elected where it
    // led) bring the rest.
    const same = (a: string[], b: string[] | undefined) => a.join() === b?.join();
    c.runUntil("node 1 caught up", () =>
      c.groups.every((g, k) => same(c.values(1, g), expected[k])),
    );
    assert.deepEqual(
      c.groups.map((g) => c.values(1, g)),
      expected,
    );
  } finally {
    for (const id of c.ids) await logsOf(id).close();
  }
}

describe("multi-raft host on disk", () => {
  const root = mkdtempSync(join(tmpdir(), "homeostat-multi-raft-"));
  after(() => rmSync(root, { recursive: true, force: true }));

  it("on LMDB: persists the Readies of all groups of a flush in one synced transaction", () =>
    onDisk<LmdbLogStorage>(
      (id) => new LmdbRaftLogs({ path: join(root, `lmdb-n${id}`) }),
      (logs) =>
        assert.deepEqual((logs as LmdbRaftLogs).groupKeyCounts(29), {
          entries: 0,
          snapshotParts: 0,
          state: 0,
        }),
    ));

  it("on the write-ahead log: persists the Readies of all groups of a flush in one write", () =>
    onDisk<WalLogStorage>(
      (id) => new WalRaftLogs({ path: join(root, `wal-n${id}`) }),
      // Its records go with their segments (wal-raft-log.test.ts checks that).
      () => undefined,
    ));
});

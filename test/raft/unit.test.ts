import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AssertionError } from "../../src/core/assert.js";
import { SeededRandom } from "../../src/core/random.js";
import {
  decodeMessage,
  type Entry,
  lanConfig,
  leaseTicks,
  MemoryLogStorage,
  messageBytesMax,
  type RaftConfig,
  RaftLog,
  RaftNode,
  validateConfig,
} from "../../src/raft/index.js";
import { Inflights } from "../../src/raft/progress.js";
import { Cluster, logOf } from "./harness.js";

const e = (term: number, index: number, data = ""): Entry => ({
  term,
  index,
  type: "normal",
  data: new TextEncoder().encode(data),
});

describe("raft storage and log", () => {
  it("MemoryLogStorage appends, truncates, snapshots and compacts", () => {
    const s = new MemoryLogStorage({ voters: [1], learners: [] });
    assert.equal(s.firstIndex(), 1);
    assert.equal(s.lastIndex(), 0);
    assert.equal(s.term(0), 0);
    s.append([e(1, 1), e(1, 2), e(1, 3)]);
    s.append([e(2, 3), e(2, 4)]);
    assert.deepEqual(
      s.entries(1, 5, Number.POSITIVE_INFINITY).map((x) => `${x.term}/${x.index}`),
      ["1/1", "1/2", "2/3", "2/4"],
    );
    assert.equal(s.entries(1, 5, 0).length, 1, "at least one entry whatever the budget");
    s.createSnapshot(3, { voters: [1], learners: [] }, new Uint8Array([1]));
    assert.equal(s.firstIndex(), 4);
    assert.equal(s.term(3), 2);
    assert.equal(s.term(2), null);
    assert.throws(() => s.append([e(2, 2)]), AssertionError);
    assert.throws(() => s.append([e(2, 9)]), AssertionError);
  });

  it("RaftLog finds conflicts by term for the fast back-off", () => {
    const s = new MemoryLogStorage({ voters: [1], learners: [] });
    s.append([e(1, 1), e(1, 2), e(2, 3), e(2, 4), e(4, 5), e(4, 6)]);
    const log = new RaftLog(s);
    assert.deepEqual(log.findConflictByTerm(6, 3), [4, 2]);
    assert.deepEqual(log.findConflictByTerm(6, 1), [2, 1]);
    assert.deepEqual(log.findConflictByTerm(6, 4), [6, 4]);
    assert.deepEqual(log.findConflictByTerm(9, 4), [6, 4]);
    assert.equal(log.findConflict([e(2, 4), e(4, 5), e(5, 7)]), 7);
    assert.equal(log.findConflict([e(2, 4), e(3, 5)]), 5);
    assert.equal(log.maybeAppend(4, 2, 3, [e(3, 5)]), 5);
    assert.equal(log.lastIndex(), 5);
    assert.equal(log.committed, 3);
    assert.equal(log.maybeAppend(4, 9, 3, []), null);
  });

  it("Inflights bounds count and bytes", () => {
    const f = new Inflights(3, 100);
    f.add(1, 10);
    f.add(2, 10);
    assert.equal(f.full(), false);
    f.add(5, 90);
    assert.equal(f.full(), true);
    assert.throws(() => f.add(6, 1), AssertionError);
    f.freeLE(2);
    assert.equal(f.size, 1);
    assert.equal(f.inflightBytes, 90);
    f.freeFirst();
    assert.equal(f.size, 0);
    f.add(7, 200);
    assert.equal(f.full(), true, "one large append fills the byte budget");
  });
});

describe("raft node", () => {
  it("validates its configuration", () => {
    assert.doesNotThrow(() => validateConfig(lanConfig(1)));
    assert.throws(() => validateConfig({ ...lanConfig(1), electionTicks: 1 }), AssertionError);
    assert.throws(() => validateConfig({ ...lanConfig(0) }), AssertionError);
    assert.throws(
      () => validateConfig({ ...lanConfig(1), clockDriftBound: 0.1, checkQuorum: false }),
      AssertionError,
    );
    assert.equal(leaseTicks(lanConfig(1)), 0);
    assert.equal(leaseTicks({ ...lanConfig(1), clockDriftBound: 0.1 }), 8);
  });

  it("randomizes election timeouts in [T, 2T) and a lone voter elects itself", () => {
    const seen = new Set<number>();
    for (let seed = 0; seed < 200; seed++) {
      const storage = new MemoryLogStorage({ voters: [1], learners: [] });
      const n = new RaftNode(lanConfig(1), storage, new SeededRandom(seed));
      let ticks = 0;
      while (n.state !== "leader") {
        n.tick();
        ticks += 1;
        assert.ok(ticks < 20, "no election within 2T");
      }
      seen.add(ticks);
      assert.equal(n.log.committed, 1, "its no-op commits at once");
    }
    assert.ok(Math.min(...seen) >= 10 && Math.max(...seen) <= 19);
    assert.ok(seen.size >= 8, "timeouts spread over the range");
  });

  it("drops misaddressed and malformed messages and counts them", () => {
    const storage = new MemoryLogStorage({ voters: [1, 2, 3], learners: [] });
    const n = new RaftNode(lanConfig(1), storage, new SeededRandom(1));
    n.step({ type: "heartbeat", from: 2, to: 9, term: 1, commit: 0, context: 0 });
    n.step({ type: "heartbeat", from: 1, to: 1, term: 1, commit: 0, context: 0 });
    // Entries that do not follow the append's index.
    n.step({
      type: "app",
      from: 2,
      to: 1,
      term: 1,
      index: 0,
      logTerm: 0,
      commit: 0,
      entries: [e(1, 5)],
    });
    assert.equal(n.stats.droppedMisaddressed, 2);
    assert.equal(n.stats.droppedMalformed, 1);
    assert.equal(n.term, 0);
  });

  it("enforces ready() / advance() alternation", () => {
    const storage = new MemoryLogStorage({ voters: [1], learners: [] });
    const n = new RaftNode(lanConfig(1), storage, new SeededRandom(1));
    n.campaign();
    const rd = n.ready();
    assert.equal(n.hasReady(), false, "nothing new until advance()");
    assert.throws(() => n.ready(), AssertionError);
    storage.append(rd.entries);
    if (rd.hardState !== null) storage.setHardState(rd.hardState);
    n.advance();
    assert.equal(n.log.applied, 1);
    assert.throws(() => n.advance(), AssertionError);
  });

  it("an idle follower's tick produces no Ready", () => {
    const storage = new MemoryLogStorage({ voters: [1, 2, 3], learners: [] });
    const n = new RaftNode({ ...lanConfig(1), heartbeatTicks: 5 }, storage, new SeededRandom(1));
    for (let i = 0; i < 3; i++) n.tick();
    assert.equal(n.hasReady(), false, "a follower's tick is a counter bump");
  });
});

describe("raft membership changes", () => {
  it("promotes only a learner, and only once it has caught up", () => {
    const c = new Cluster(3);
    const conf = { voters: [1, 2, 3], learners: [] };
    for (const id of [1, 2, 3]) c.add(id, conf);
    c.node(1).campaign();
    c.process(1);
    c.stabilize();
    const leader = c.node(1);
    assert.equal(leader.state, "leader");
    for (let i = 0; i < 5; i++) c.propose(1, `v${i}`);
    c.stabilize();
    const refused = leader.proposeConfChange({ type: "add-voter", node: 4 });
    assert.equal(refused.ok ? "ok" : refused.reason, "not-learner", "a voter starts as a learner");
    assert.ok(leader.proposeConfChange({ type: "add-learner", node: 4 }).ok);
    c.process(1);
    c.stabilize();
    // Node 4 exists but hears nothing yet: it is behind the commit index.
    c.add(4, { voters: [1, 2, 3], learners: [4] });
    c.drop((e) => e.to === 4);
    c.propose(1, "more");
    c.drop((e) => e.to === 4);
    c.stabilize();
    const behind = leader.proposeConfChange({ type: "add-voter", node: 4 });
    assert.equal(behind.ok ? "ok" : behind.reason, "not-caught-up");
    // Let it catch up: then the promotion goes through and it votes.
    c.tick(1, 2);
    c.stabilize();
    assert.ok(leader.proposeConfChange({ type: "add-voter", node: 4 }).ok);
    c.process(1);
    c.stabilize();
    assert.deepEqual(leader.confState().voters, [1, 2, 3, 4]);
    c.check();
  });
});

describe("raft entry size bounds", () => {
  it("an entry past maxMsgBytes goes alone, one past maxEntryBytes is refused, and a big one pending holds back no small one", () => {
    const c = new Cluster(3);
    const conf = { voters: [1, 2, 3], learners: [] };
    const bounds = (x: RaftConfig): RaftConfig => ({
      ...x,
      maxMsgBytes: 1024,
      maxEntryBytes: 8192,
      maxUncommittedBytes: 4096,
      snapshotChunkBytes: 1024,
    });
    for (const id of [1, 2, 3]) c.add(id, conf, bounds);
    c.node(1).campaign();
    c.process(1);
    c.stabilize();
    const leader = c.node(1);
    assert.equal(leader.state, "leader");

    const tooBig = leader.propose(new Uint8Array(8192));
    assert.equal(tooBig.ok ? "ok" : tooBig.reason, "too-large", "data and overhead past 8192");
    // Nothing is delivered meanwhile: everything below stays uncommitted.
    assert.ok(c.propose(1, "a".repeat(6000)), "bigger than an append, within maxEntryBytes");
    for (let i = 0; i < 3; i++) assert.ok(c.propose(1, `small${i}`), "not held back by it");
    // It counts as one append (1,024 bytes): small ones fill the rest of the 4,096.
    let admitted = 3;
    while (c.propose(1, "b".repeat(200))) admitted++;
    assert.ok(admitted >= 3 + 10, `${admitted} small proposals admitted`);
    const refused = leader.propose(new TextEncoder().encode("b".repeat(200)));
    assert.equal(refused.ok ? "ok" : refused.reason, "overloaded");

    const appends = c.queue
      .map((env) => decodeMessage(env.bytes, messageBytesMax(c.get(env.to).config)))
      .flatMap((d) => (d.ok && d.value.type === "app" ? [d.value.entries] : []));
    const withBig = appends.filter((es) => es.some((x) => x.data.length === 6000));
    assert.ok(withBig.length > 0 && withBig.every((es) => es.length === 1), "alone in its append");
    assert.ok(
      appends.every((es) => es.length === 1 || es.reduce((n, x) => n + x.data.length, 0) <= 1024),
      "several entries only within maxMsgBytes",
    );

    c.stabilize();
    c.tick(1);
    c.stabilize();
    for (const id of [2, 3]) assert.deepEqual(logOf(c.node(id)), logOf(leader));
    assert.equal(leader.log.committed, leader.log.lastIndex());
    assert.ok(c.propose(1, "after"), "room again once committed");
    c.check();
  });
});

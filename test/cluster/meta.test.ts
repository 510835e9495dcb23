import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { MemoryRaftLogs } from "../../src/cluster/memory-logs.js";
import {
  applyMetaCommand,
  decodeMetaCommand,
  decodeMetaState,
  emptyMetaState,
  encodeMetaCommand,
  encodeMetaState,
  functionsBytesMax,
  type MetaChanges,
  type MetaCommand,
  MetaMachine,
  type MetaResult,
  type MetaState,
  metaGroupId,
  type NodeAddress,
  ProposalLostError,
} from "../../src/cluster/meta.js";
import { MultiRaft } from "../../src/cluster/multi-raft.js";
import { validateShardMap } from "../../src/cluster/shard-map.js";
import { SeededRandom } from "../../src/core/random.js";
import { type Entry, lanConfig } from "../../src/raft/index.js";

const hex = (n: number): string => n.toString(16).padStart(40, "0");
const addr = (n: number, zone = ""): NodeAddress => ({
  id: hex(n),
  host: `10.0.0.${n}`,
  port: 6379,
  busPort: 16379,
  zone,
});
const bootstrapCmd: MetaCommand = {
  kind: "bootstrap",
  clusterId: "test-cluster",
  node: addr(1),
  shardCount: 4,
  replicaTarget: 3,
};

/** Applies commands in order from `state`, returning the final state and every result. */
function run(
  state: MetaState,
  cmds: readonly MetaCommand[],
): { state: MetaState; results: MetaResult[] } {
  const results: MetaResult[] = [];
  for (const cmd of cmds) {
    const applied = applyMetaCommand(state, cmd);
    state = applied.state;
    results.push(applied.result);
  }
  return { state, results };
}

function okOf(result: MetaResult): Extract<MetaResult, { ok: true }> {
  assert.ok(result.ok, result.ok ? "" : `${result.code}: ${result.message}`);
  return result;
}

function codeOf(result: MetaResult): string {
  assert.ok(!result.ok, "expected a refusal");
  return result.code;
}

function entry(index: number, term: number, cmd: MetaCommand | Uint8Array): Entry {
  const data = cmd instanceof Uint8Array ? cmd : encodeMetaCommand(cmd);
  return { index, term, type: "normal", data };
}

describe("meta commands", () => {
  it("bootstrap makes the first node raft id 1, sole voter of every shard and of the meta group", () => {
    const { state, results } = run(emptyMetaState, [bootstrapCmd]);
    assert.deepEqual(okOf(results[0] as MetaResult), { ok: true, epoch: 1, raftId: 1 });
    assert.equal(state.clusterId, "test-cluster");
    assert.deepEqual(state.nodes, [{ ...addr(1), raftId: 1, status: "active" }]);
    assert.equal(state.shardMap.epoch, 1);
    assert.equal(state.shardMap.shards.length, 4);
    for (const s of state.shardMap.shards) assert.deepEqual([s.replicas, s.learners], [[1], []]);
    assert.deepEqual(state.metaVoters, [1]);
    assert.deepEqual(state.settings, {
      replicaTarget: 3,
      shardCount: 4,
      confChangesMax: 4,
      metaVoters: 3,
    });
    assert.deepEqual(validateShardMap(state.shardMap, state.nodes), []);
    assert.equal(codeOf(applyMetaCommand(state, bootstrapCmd).result), "already-bootstrapped");
  });

  it("refuses everything before bootstrap, and bad bootstrap arguments", () => {
    for (const cmd of [
      { kind: "register-node", node: addr(2) },
      { kind: "set-setting", name: "replica-target", value: 3 },
    ] as MetaCommand[]) {
      const applied = applyMetaCommand(emptyMetaState, cmd);
      assert.equal(codeOf(applied.result), "not-bootstrapped");
      assert.equal(applied.state, emptyMetaState);
    }
    const bad: [Partial<Extract<MetaCommand, { kind: "bootstrap" }>>, string][] = [
      [{ clusterId: "" }, "invalid-cluster-id"],
      [{ shardCount: 0 }, "invalid-setting"],
      [{ shardCount: 16_385 }, "invalid-setting"],
      [{ replicaTarget: 0 }, "invalid-setting"],
      [{ replicaTarget: 8 }, "invalid-setting"],
      [{ node: { ...addr(1), host: "a b" } }, "invalid-node"],
      [{ node: { ...addr(1), port: 0 } }, "invalid-node"],
    ];
    for (const [patch, code] of bad) {
      const cmd = { ...bootstrapCmd, ...patch } as MetaCommand;
      assert.equal(
        codeOf(applyMetaCommand(emptyMetaState, cmd).result),
        code,
        JSON.stringify(patch),
      );
    }
  });

  it("register-node assigns raft ids from the log and is idempotent per node id", () => {
    const { state, results } = run(emptyMetaState, [
      bootstrapCmd,
      { kind: "register-node", node: addr(2) },
      { kind: "register-node", node: addr(3) },
    ]);
    assert.deepEqual(
      results.map((r) => okOf(r).raftId),
      [1, 2, 3],
    );
    const again = applyMetaCommand(state, { kind: "register-node", node: addr(2) });
    assert.equal(okOf(again.result).raftId, 2);
    assert.equal(again.state, state, "a repeated registration changes nothing");
    // A restart on another address keeps the raft id and updates the address.
    const moved = applyMetaCommand(state, {
      kind: "register-node",
      node: { ...addr(2), host: "10.9.9.9", zone: "b" },
    });
    assert.equal(okOf(moved.result).raftId, 2);
    assert.equal(moved.state.nodes[1]?.host, "10.9.9.9");
    assert.equal(moved.state.nodes[1]?.zone, "b");
    assert.equal(moved.state.nextRaftId, 4);
    // Another node id at a taken address is refused; a malformed one too.
    const clash = applyMetaCommand(state, {
      kind: "register-node",
      node: { ...addr(4), host: "10.0.0.2" },
    });
    assert.equal(codeOf(clash.result), "address-in-use");
    const malformed = applyMetaCommand(state, {
      kind: "register-node",
      node: { ...addr(4), host: "" },
    });
    assert.equal(codeOf(malformed.result), "invalid-node");
    assert.equal(malformed.state, state);
  });

  it("record-shard-change is a compare-and-set on the epoch, and checks the change", () => {
    const { state } = run(emptyMetaState, [bootstrapCmd, { kind: "register-node", node: addr(2) }]);
    const rec = (
      expectedEpoch: number,
      kind: "add-learner" | "promote" | "remove" | "leader",
      node: number,
      observedIndex = 10,
      observedTerm = 1,
    ): MetaCommand => ({
      kind: "record-shard-change",
      expectedEpoch,
      shard: 1,
      change: { kind, node },
      observedIndex,
      observedTerm,
    });
    const moved = applyMetaCommand(state, rec(7, "add-learner", 2));
    assert.equal(codeOf(moved.result), "epoch-moved");
    assert.match(moved.result.ok ? "" : moved.result.message, /expected epoch 7, the map is at 1/);
    assert.equal(moved.state, state);

    const added = applyMetaCommand(state, rec(1, "add-learner", 2));
    assert.equal(okOf(added.result).epoch, 2);
    const s1 = added.state.shardMap.shards[0];
    assert.deepEqual([s1?.replicas, s1?.learners], [[1], [2]]);
    // The same record again: its precondition no longer holds.
    assert.equal(
      codeOf(applyMetaCommand(added.state, rec(1, "add-learner", 2)).result),
      "epoch-moved",
    );
    // An older observation cannot undo a newer one.
    assert.equal(
      codeOf(applyMetaCommand(added.state, rec(2, "remove", 2, 9)).result),
      "stale-observation",
    );
    const refusals: [MetaCommand, string][] = [
      [rec(2, "add-learner", 2), "invalid-change"],
      [rec(2, "promote", 1), "invalid-change"],
      [rec(2, "remove", 1), "invalid-change"],
      [rec(2, "leader", 2), "invalid-change"],
      [rec(2, "add-learner", 9), "unknown-node"],
      [{ ...(rec(2, "add-learner", 2) as object), shard: 99 } as MetaCommand, "unknown-shard"],
    ];
    for (const [cmd, code] of refusals) {
      const r = applyMetaCommand(added.state, cmd);
      assert.equal(codeOf(r.result), code, JSON.stringify(cmd));
      assert.equal(r.state, added.state);
    }
    const { state: done, results } = run(added.state, [
      rec(2, "promote", 2, 11),
      rec(3, "leader", 2, 12, 2),
      rec(4, "remove", 1, 13, 2),
    ]);
    assert.deepEqual(
      results.map((r) => okOf(r).epoch),
      [3, 4, 5],
    );
    const s = done.shardMap.shards[0];
    assert.deepEqual([s?.replicas, s?.learners, s?.leader], [[2], [], 2]);
    assert.deepEqual(done.marks.get(1), { index: 13, term: 2 });
    // A leader seen in an older term is refused; in the same term it is a no-op.
    assert.equal(
      codeOf(applyMetaCommand(done, rec(5, "leader", 2, 20, 1)).result),
      "stale-observation",
    );
    const same = applyMetaCommand(done, rec(5, "leader", 2, 20, 2));
    assert.equal(okOf(same.result).epoch, 5);
    assert.equal(same.state.shardMap, done.shardMap);
  });

  it("node status: drain, then removed only once the node holds nothing; removed is final", () => {
    const rec = (
      epoch: number,
      kind: "add-learner" | "promote" | "remove",
      node: number,
      index: number,
    ) =>
      ({
        kind: "record-shard-change",
        expectedEpoch: epoch,
        shard: 1,
        change: { kind, node },
        observedIndex: index,
        observedTerm: 1,
      }) as MetaCommand;
    let { state } = run(emptyMetaState, [
      { ...bootstrapCmd, shardCount: 1 } as MetaCommand,
      { kind: "register-node", node: addr(2) },
    ]);
    const status = (id: number, s: "active" | "removing" | "removed") =>
      applyMetaCommand(state, { kind: "set-node-status", id: hex(id), status: s });
    assert.equal(codeOf(status(9, "removing").result), "unknown-node");
    // Node 2 holds nothing yet (no shard, no meta vote): it could go at once.
    assert.ok(status(2, "removed").result.ok);
    // Node 1 holds shard 1 and the meta vote.
    state = status(1, "removing").state;
    assert.equal(state.nodes[0]?.status, "removing");
    assert.equal(codeOf(status(2, "removing").result), "last-active-node");
    const inUse = status(1, "removed");
    assert.equal(codeOf(inUse.result), "node-in-use");
    assert.match(inUse.result.ok ? "" : inUse.result.message, /1 shard replicas \(shards 1\)/);
    state = run(state, [
      rec(1, "add-learner", 2, 5),
      rec(2, "promote", 2, 6),
      rec(3, "remove", 1, 7),
    ]).state;
    assert.equal(codeOf(status(1, "removed").result), "node-in-use", "still the meta voter");
    state = run(state, [{ kind: "set-meta-voters", from: [1], to: [2] }]).state;
    state = status(1, "removed").state;
    assert.equal(state.nodes[0]?.status, "removed");
    assert.equal(codeOf(status(1, "active").result), "node-removed");
    assert.ok(status(1, "removed").result.ok, "the same status again is a no-op");
    const back = applyMetaCommand(state, { kind: "register-node", node: addr(1) });
    assert.equal(codeOf(back.result), "node-removed");
    // Its address is free again for a new node id; raft ids are never reused.
    const fresh = applyMetaCommand(state, {
      kind: "register-node",
      node: { ...addr(7), host: "10.0.0.1" },
    });
    assert.equal(okOf(fresh.result).raftId, 3);
    assert.equal(
      codeOf(
        applyMetaCommand(state, {
          kind: "record-shard-change",
          expectedEpoch: 4,
          shard: 1,
          change: { kind: "add-learner", node: 1 },
          observedIndex: 8,
          observedTerm: 1,
        }).result,
      ),
      "node-removed",
    );
  });

  it("set-meta-voters is a compare-and-set on the voters; settings have ranges", () => {
    const { state } = run(emptyMetaState, [
      bootstrapCmd,
      { kind: "register-node", node: addr(2) },
      { kind: "register-node", node: addr(3) },
    ]);
    const set = (from: number[], to: number[]) =>
      applyMetaCommand(state, { kind: "set-meta-voters", from, to }).result;
    assert.equal(codeOf(set([2], [1, 2, 3])), "meta-voters-moved");
    assert.equal(codeOf(set([1], [])), "invalid-meta-voters");
    assert.equal(codeOf(set([1], [1, 1])), "invalid-meta-voters");
    assert.equal(codeOf(set([1], [1, 9])), "invalid-meta-voters");
    assert.ok(set([1], [3, 1, 2]).ok);
    assert.deepEqual(
      applyMetaCommand(state, { kind: "set-meta-voters", from: [1], to: [3, 1, 2] }).state
        .metaVoters,
      [1, 2, 3],
    );
    const setting = (name: "replica-target" | "conf-changes-max" | "meta-voters", value: number) =>
      applyMetaCommand(state, { kind: "set-setting", name, value });
    assert.equal(codeOf(setting("replica-target", 0).result), "invalid-setting");
    assert.equal(codeOf(setting("replica-target", 8).result), "invalid-setting");
    assert.equal(codeOf(setting("conf-changes-max", 0).result), "invalid-setting");
    assert.equal(codeOf(setting("meta-voters", 9).result), "invalid-setting");
    assert.equal(setting("conf-changes-max", 2).state.settings.confChangesMax, 2);
    assert.equal(setting("replica-target", 3).state, state, "an unchanged value is a no-op");
  });

  it("set-functions is a compare-and-set on the libraries' version, and bounds the payload", () => {
    const { state } = run(emptyMetaState, [bootstrapCmd]);
    assert.deepEqual(state.functions, { version: 0, payload: new Uint8Array(0) });
    const set = (expectedVersion: number, payload: Uint8Array): MetaCommand => ({
      kind: "set-functions",
      expectedVersion,
      payload,
    });
    const payload = Uint8Array.of(1, 2, 3);
    const first = applyMetaCommand(state, set(0, payload));
    assert.deepEqual(okOf(first.result), { ok: true, epoch: 1, raftId: 0 });
    assert.deepEqual(first.state.functions, { version: 1, payload: Uint8Array.of(1, 2, 3) });
    assert.equal(first.state.shardMap, state.shardMap, "nothing else changes");
    payload[0] = 9;
    assert.equal(first.state.functions.payload[0], 1, "the state keeps a copy");
    // The same command again: its precondition no longer holds, and nothing changes.
    const stale = applyMetaCommand(first.state, set(0, Uint8Array.of(4)));
    assert.equal(codeOf(stale.result), "functions-moved");
    assert.equal(
      stale.result.ok ? "" : stale.result.message,
      "function libraries changed meanwhile (version 1, expected 0)",
    );
    assert.equal(stale.state, first.state);
    // FUNCTION FLUSH: an empty payload is a change like any other.
    const flushed = applyMetaCommand(first.state, set(1, new Uint8Array(0)));
    assert.deepEqual(okOf(flushed.result).raftId, 0);
    assert.deepEqual(flushed.state.functions, { version: 2, payload: new Uint8Array(0) });
    const big = applyMetaCommand(first.state, set(1, new Uint8Array(functionsBytesMax + 1)));
    assert.equal(codeOf(big.result), "invalid-functions");
    assert.equal(big.state, first.state);
    const most = applyMetaCommand(first.state, set(1, new Uint8Array(functionsBytesMax)));
    assert.equal(most.state.functions.payload.length, functionsBytesMax, "the bound itself fits");
    assert.equal(
      codeOf(applyMetaCommand(emptyMetaState, set(0, payload)).result),
      "not-bootstrapped",
    );
  });
});

// ---- codecs ------------------------------------------------------------------------------

const nodeIdArb = fc.stringMatching(/^[0-9a-f]{40}$/);
const str = (maxLength: number) => fc.string({ maxLength, unit: "grapheme-ascii" });
const plainAddressArb: fc.Arbitrary<NodeAddress> = fc.record(
  {
    id: nodeIdArb,
    host: str(40),
    port: fc.integer({ min: 0, max: 0xffff }),
    busPort: fc.integer({ min: 0, max: 0xffff }),
    zone: str(20),
  },
  { noNullPrototype: true },
);
/** With a redirect port of its own or none (one equal to the port is none, as decoded). */
const addressArb: fc.Arbitrary<NodeAddress> = fc
  .tuple(plainAddressArb, fc.option(fc.integer({ min: 0, max: 0xffff }), { nil: undefined }))
  .map(([a, r]) => (r === undefined || r === a.port ? a : { ...a, redirectPort: r }));
const raftId = fc.integer({ min: 1, max: 0xffff_ffff });
const safe = fc.oneof(fc.nat(1000), fc.maxSafeNat());
const commandArb: fc.Arbitrary<MetaCommand> = fc.oneof(
  fc.record(
    {
      kind: fc.constant("bootstrap" as const),
      clusterId: str(30),
      node: addressArb,
      shardCount: fc.integer({ min: 0, max: 0xffff }),
      replicaTarget: fc.integer({ min: 0, max: 0xff }),
    },
    { noNullPrototype: true },
  ),
  fc.record(
    { kind: fc.constant("register-node" as const), node: addressArb },
    { noNullPrototype: true },
  ),
  fc.record(
    {
      kind: fc.constant("set-node-status" as const),
      id: nodeIdArb,
      status: fc.constantFrom("active" as const, "removing" as const, "removed" as const),
    },
    { noNullPrototype: true },
  ),
  fc.record(
    {
      kind: fc.constant("record-shard-change" as const),
      expectedEpoch: safe,
      shard: fc.integer({ min: 0, max: 0xffff_ffff }),
      change: fc.record(
        {
          kind: fc.constantFrom(
            "add-learner" as const,
            "promote" as const,
            "remove" as const,
            "leader" as const,
          ),
          node: raftId,
        },
        { noNullPrototype: true },
      ),
      observedIndex: safe,
      observedTerm: safe,
    },
    { noNullPrototype: true },
  ),
  fc.record(
    {
      kind: fc.constant("set-meta-voters" as const),
      from: fc.array(raftId, { maxLength: 7 }),
      to: fc.array(raftId, { maxLength: 7 }),
    },
    { noNullPrototype: true },
  ),
  fc.record(
    {
      kind: fc.constant("set-setting" as const),
      name: fc.constantFrom(
        "replica-target" as const,
        "conf-changes-max" as const,
        "meta-voters" as const,
      ),
      value: fc.integer({ min: 0, max: 0xffff_ffff }),
    },
    { noNullPrototype: true },
  ),
  fc.record(
    {
      kind: fc.constant("set-functions" as const),
      expectedVersion: fc.integer({ min: 0, max: 0xffff_ffff }),
      payload: fc.uint8Array({ maxLength: 64 }),
    },
    { noNullPrototype: true },
  ),
);

describe("meta command codec", () => {
  it("round-trips every command", () => {
    fc.assert(
      fc.property(commandArb, (cmd) => {
        const decoded = decodeMetaCommand(encodeMetaCommand(cmd));
        assert.ok(decoded.ok);
        assert.deepEqual(decoded.value, cmd);
      }),
    );
  });

  it("refuses every truncation, trailing bytes, unknown versions and codes", () => {
    fc.assert(
      fc.property(commandArb, (cmd) => {
        const bytes = encodeMetaCommand(cmd);
        for (let n = 0; n < bytes.length; n++) {
          assert.equal(decodeMetaCommand(bytes.subarray(0, n)).ok, false, `prefix ${n}`);
        }
        assert.equal(decodeMetaCommand(Uint8Array.of(...bytes, 0)).ok, false);
        assert.equal(decodeMetaCommand(Uint8Array.of(9, ...bytes.subarray(1))).ok, false);
      }),
      { numRuns: 200 },
    );
    assert.deepEqual(decodeMetaCommand(Uint8Array.of(1, 99)), {
      ok: false,
      error: "unknown meta command 99",
    });
  });

  it("reads the commands of a log written before redirect ports (version 1)", () => {
    const cmd: MetaCommand = { kind: "register-node", node: { ...addr(2), redirectPort: 26379 } };
    const bytes = encodeMetaCommand(cmd);
    // Version 1 is version 2 without the address's last field.
    const v1 = Uint8Array.of(1, ...bytes.subarray(1, bytes.length - 2));
    assert.deepEqual(decodeMetaCommand(v1), {
      ok: true,
      value: { kind: "register-node", node: addr(2) },
    });
    const withPort: MetaCommand = { ...bootstrapCmd, node: { ...addr(1), redirectPort: 26379 } };
    const boot = encodeMetaCommand(withPort);
    assert.equal(boot[0], 2);
    const bootV1 = Uint8Array.of(1, ...boot.subarray(1, boot.length - 5), ...boot.subarray(-3));
    assert.deepEqual(decodeMetaCommand(bootV1), { ok: true, value: bootstrapCmd });
  });

  it("writes version 1, which the version before reads, unless an address has its own port", () => {
    const plain = encodeMetaCommand({ kind: "register-node", node: addr(2) });
    assert.equal(plain[0], 1);
    assert.equal(encodeMetaCommand(bootstrapCmd)[0], 1);
    assert.equal(encodeMetaCommand({ kind: "set-setting", name: "meta-voters", value: 3 })[0], 1);
    const own = encodeMetaCommand({
      kind: "register-node",
      node: { ...addr(2), redirectPort: 26379 },
    });
    assert.equal(own[0], 2);
    assert.equal(own.length, plain.length + 2);
  });

  it("carries set-functions' payload whole, an empty one too, and bounds its length", () => {
    for (const payload of [new Uint8Array(0), Uint8Array.of(0, 255, 7)]) {
      const cmd: MetaCommand = { kind: "set-functions", expectedVersion: 41, payload };
      const bytes = encodeMetaCommand(cmd);
      assert.equal(bytes[0], 1, "version 1: a new kind needs no new version");
      assert.equal(bytes.length, 2 + 4 + 4 + payload.length);
      assert.deepEqual(decodeMetaCommand(bytes), { ok: true, value: cmd });
      assert.deepEqual(decodeMetaCommand(bytes.subarray(0, bytes.length - 1)), {
        ok: false,
        error: "truncated",
      });
    }
    const most = new Uint8Array(functionsBytesMax).fill(7);
    const decoded = decodeMetaCommand(
      encodeMetaCommand({ kind: "set-functions", expectedVersion: 0, payload: most }),
    );
    assert.ok(decoded.ok && decoded.value.kind === "set-functions");
    assert.deepEqual(decoded.value.payload, most);
    // A length above the bound is refused before its bytes are looked for.
    const over = new Uint8Array(10);
    over.set([1, 8, 0, 0, 0, 0]);
    new DataView(over.buffer).setUint32(6, functionsBytesMax + 1);
    assert.deepEqual(decodeMetaCommand(over), {
      ok: false,
      error: "function libraries too large",
    });
    assert.throws(
      () =>
        encodeMetaCommand({
          kind: "set-functions",
          expectedVersion: 0,
          payload: new Uint8Array(functionsBytesMax + 1),
        }),
      RangeError,
    );
  });

  it("registers a node's new redirect port when it comes back with one", () => {
    const { state } = run(emptyMetaState, [bootstrapCmd, { kind: "register-node", node: addr(2) }]);
    const moved = { ...addr(2), redirectPort: 26379 };
    const again = applyMetaCommand(state, { kind: "register-node", node: moved });
    assert.equal(okOf(again.result).raftId, 2);
    assert.deepEqual(
      again.state.nodes.find((n) => n.id === hex(2)),
      { ...moved, raftId: 2, status: "active" },
    );
  });

  it("never throws on garbage, and a decoded garbage command applies without throwing", () => {
    const { state } = run(emptyMetaState, [bootstrapCmd, { kind: "register-node", node: addr(2) }]);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
        const garbled = Uint8Array.of(1, (bytes[0] ?? 0) % 9, ...bytes.subarray(1));
        for (const b of [bytes, garbled]) {
          const decoded = decodeMetaCommand(b);
          if (decoded.ok) applyMetaCommand(state, decoded.value);
        }
        decodeMetaState(bytes);
      }),
      { numRuns: 2000 },
    );
  });

  it("refuses to encode what it could not decode", () => {
    assert.throws(() =>
      encodeMetaCommand({ kind: "register-node", node: { ...addr(1), id: "xyz" } }),
    );
    assert.throws(() =>
      encodeMetaCommand({ kind: "set-meta-voters", from: [], to: [1, 2, 3, 4, 5, 6, 7, 8] }),
    );
  });
});

// ---- the machine -------------------------------------------------------------------------

/** A seeded stream of mostly sensible commands, with some nonsense and garbage mixed in. */
function commandStream(seed: number, count: number): Uint8Array[] {
  const random = new SeededRandom(seed);
  const out: Uint8Array[] = [encodeMetaCommand(bootstrapCmd)];
  /** The state so far, so that most records name the current epoch and succeed. */
  let state = applyMetaCommand(emptyMetaState, bootstrapCmd).state;
  for (let i = 0; i < count; i++) {
    const n = 2 + random.int(8);
    const pick = random.int(10);
    let cmd: MetaCommand;
    if (pick < 3) cmd = { kind: "register-node", node: addr(n, ["a", "b", "c"][n % 3]) };
    else if (pick < 7) {
      cmd = {
        kind: "record-shard-change",
        expectedEpoch: state.shardMap.epoch + (random.int(4) === 0 ? 1 : 0),
        shard: 1 + random.int(4),
        change: {
          kind:
            (["add-learner", "promote", "remove", "leader"] as const)[random.int(4)] ?? "leader",
          node: 1 + random.int(6),
        },
        observedIndex: i,
        observedTerm: 1 + (i >> 4),
      };
    } else if (pick < 8) {
      cmd = {
        kind: "set-node-status",
        id: hex(n),
        status: (["active", "removing", "removed"] as const)[random.int(3)] ?? "active",
      };
    } else if (pick < 9)
      cmd = { kind: "set-setting", name: "conf-changes-max", value: random.int(6) };
    else {
      out.push(Uint8Array.of(1, random.int(9), random.int(256)));
      continue;
    }
    out.push(encodeMetaCommand(cmd));
    state = applyMetaCommand(state, cmd).state;
  }
  return out;
}

describe("MetaMachine", () => {
  it("is deterministic: three replicas applying the same log in different batches agree", () => {
    const log = commandStream(42, 400).map(
      (data, i): Entry => ({
        index: i + 1,
        term: 1,
        type: "normal",
        data,
      }),
    );
    // A leader's no-op and a conf entry in the middle, as a real log has.
    log.splice(5, 0, { index: 0, term: 1, type: "normal", data: new Uint8Array() });
    log.splice(9, 0, { index: 0, term: 1, type: "conf", data: Uint8Array.of(1, 0, 0, 0, 2) });
    const entries = log.map((e, i) => ({ ...e, index: i + 1 }));
    const machines = [new MetaMachine(), new MetaMachine(), new MetaMachine()];
    machines.forEach((m, k) => {
      for (let i = 0; i < entries.length; ) {
        const size = 1 + ((i * (k + 3)) % 17) * k;
        m.apply(entries.slice(i, i + size));
        i += size;
      }
    });
    const images = machines.map((m) => m.snapshot());
    assert.deepEqual(images[1], images[0]);
    assert.deepEqual(images[2], images[0]);
    assert.deepEqual(machines[1]?.state, machines[0]?.state);
    const m0 = machines[0] as MetaMachine;
    assert.ok(m0.nodes().length >= 3, "the stream registered nodes");
    assert.ok(m0.epoch > 3, "the stream changed shards");
    assert.deepEqual(validateShardMap(m0.shardMap(), m0.nodes()), []);
    // A replica restored from the image is the same replica.
    const restored = new MetaMachine();
    restored.restore({
      meta: { index: entries.length, term: 1, conf: { voters: [1], learners: [] } },
      data: images[0] as Uint8Array,
    });
    assert.deepEqual(restored.snapshot(), images[0]);
    assert.deepEqual(restored.state, m0.state);
    assert.equal(restored.applied, entries.length);
    assert.equal(restored.nodeByRaftId(2)?.id, m0.nodeByRaftId(2)?.id);
  });

  it("an image round-trips, the empty one too, and a damaged one is refused", () => {
    const empty = decodeMetaState(encodeMetaState(emptyMetaState));
    assert.ok(empty.ok);
    assert.equal(empty.value, emptyMetaState);
    const m = new MetaMachine();
    m.apply(
      commandStream(7, 100).map((data, i) => ({ index: i + 1, term: 1, type: "normal", data })),
    );
    const image = m.snapshot();
    const decoded = decodeMetaState(image);
    assert.ok(decoded.ok);
    assert.deepEqual(decoded.value, m.state);
    for (let n = 0; n < image.length; n += 7)
      assert.equal(decodeMetaState(image.subarray(0, n)).ok, false);
    // The meta voter's raft id comes before the (here empty) contract versions (u8),
    // journal seq (u64) and journal (u16), then the function libraries' version (u32) and
    // empty payload (u32): 0 is no node.
    const at = image.length - 19 - 4;
    const bad = image.slice();
    bad.fill(0, at, at + 4);
    assert.equal(decodeMetaState(bad).ok, false, "meta voter raft id 0");
    // A meta voter that is no registered node.
    bad.set([0, 0, 0, 99], at);
    assert.deepEqual(decodeMetaState(bad), { ok: false, error: "meta voter 99 is not a node" });
  });

  it("keeps contract versions (compare-and-set) and a bounded, numbered journal in its image", () => {
    const m = new MetaMachine();
    const stream = commandStream(7, 20);
    m.apply(stream.map((data, i) => ({ index: i + 1, term: 1, type: "normal", data })));
    let index = stream.length + 1;
    const run = (cmd: MetaCommand): MetaResult => {
      const data = encodeMetaCommand(cmd);
      const decoded = decodeMetaCommand(data);
      assert.ok(decoded.ok);
      assert.deepEqual(decoded.value, cmd, "the command round-trips");
      return applyMetaCommand(m.state, cmd).result;
    };
    const apply = (cmd: MetaCommand) => {
      m.apply([{ index, term: 1, type: "normal", data: encodeMetaCommand(cmd) }]);
      index += 1;
    };
    const contract = {
      kind: "apply-contract",
      expectedVersion: 0,
      appliedAtMs: 1_700_000_000_000,
      text: "durability:\n  replicas: 5\n",
      replicas: 5,
      deadNodeAfterMs: 60_000,
    } as const;
    assert.ok(run(contract).ok);
    apply(contract);
    assert.equal(m.state.contracts.length, 1);
    assert.equal(m.state.settings.replicaTarget, 5, "the contract sets the replica target");
    const stale = run({ ...contract, replicas: 3 });
    assert.ok(!stale.ok && stale.code === "contract-moved", "version 0 is no longer current");
    apply({ ...contract, expectedVersion: 1, replicas: 3 });
    assert.deepEqual(
      m.state.contracts.map((c) => [c.version, c.replicas]),
      [
        [1, 5],
        [2, 3],
      ],
    );
    for (let i = 0; i < 600; i += 50) {
      const entries = Array.from({ length: 50 }, (_, k) => ({
        atMs: 1000 + i + k,
        reconciler: "repair",
        observed: `node ${i + k} silent for 300 s`,
        action: "add-learner",
      }));
      apply({ kind: "journal", entries });
    }
    assert.equal(m.state.journalSeq, 600);
    assert.equal(m.state.journal.length, 512, "bounded: the oldest are dropped");
    assert.equal(m.state.journal[0]?.seq, 89);
    const r = run({ kind: "journal", entries: [] });
    assert.ok(!r.ok && r.code === "invalid-journal");
    const decoded = decodeMetaState(m.snapshot());
    assert.ok(decoded.ok);
    assert.deepEqual(decoded.value, m.state, "contracts and journal are in the image");
  });

  it("keeps the function libraries in its image; an image of version 2 or 1 has none", () => {
    const m = new MetaMachine();
    const stream = commandStream(7, 20);
    m.apply(stream.map((data, i) => ({ index: i + 1, term: 1, type: "normal", data })));
    const before = m.snapshot();
    assert.equal(before[0], 3);
    // Version 2 is version 3 without the function libraries (u32 version, u32 length).
    const v2 = Uint8Array.of(2, ...before.subarray(1, before.length - 8));
    const fromV2 = decodeMetaState(v2);
    assert.ok(fromV2.ok);
    assert.deepEqual(fromV2.value, m.state);
    assert.equal(fromV2.value.functions, emptyMetaState.functions);
    // Version 1 has no contract versions (u8), journal seq (u64) or journal (u16) either.
    const v1 = Uint8Array.of(1, ...v2.subarray(1, v2.length - 11));
    const fromV1 = decodeMetaState(v1);
    assert.ok(fromV1.ok);
    assert.deepEqual(fromV1.value, m.state);
    assert.equal(decodeMetaState(Uint8Array.of(4, ...before.subarray(1))).ok, false);
    // A length above the bound is refused.
    const over = before.slice();
    new DataView(over.buffer).setUint32(over.length - 4, functionsBytesMax + 1);
    assert.deepEqual(decodeMetaState(over), { ok: false, error: "function libraries too large" });

    const payload = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);
    m.apply([entry(stream.length + 1, 1, { kind: "set-functions", expectedVersion: 0, payload })]);
    assert.deepEqual(m.functions(), { version: 1, payload });
    const image = m.snapshot();
    assert.equal(image.length, before.length + payload.length);
    const decoded = decodeMetaState(image);
    assert.ok(decoded.ok);
    assert.deepEqual(decoded.value, m.state);
    assert.deepEqual(encodeMetaState(decoded.value), image, "the same state, the same bytes");
    for (let n = before.length - 8; n < image.length; n += 97) {
      assert.equal(decodeMetaState(image.subarray(0, n)).ok, false, `prefix ${n}`);
    }
    // Read as version 2, the libraries are trailing bytes.
    assert.equal(decodeMetaState(Uint8Array.of(2, ...image.subarray(1))).ok, false);
    const restored = new MetaMachine();
    restored.restore({
      meta: { index: stream.length + 1, term: 1, conf: { voters: [1], learners: [] } },
      data: image,
    });
    assert.deepEqual(restored.functions(), { version: 1, payload });
  });

  it("expect: resolves with the result when the index applies with the proposal's term", () => {
    const m = new MetaMachine();
    const got: (MetaResult | ProposalLostError)[] = [];
    const waiter = {
      resolve: (r: MetaResult) => got.push(r),
      reject: (e: ProposalLostError) => got.push(e),
    };
    m.expect(2, 1, waiter);
    m.expect(3, 1, waiter);
    m.expect(4, 1, waiter);
    m.apply([
      { index: 1, term: 1, type: "normal", data: new Uint8Array() },
      entry(2, 1, bootstrapCmd),
      entry(3, 1, { kind: "register-node", node: addr(2) }),
      entry(4, 1, bootstrapCmd),
    ]);
    assert.deepEqual(got.slice(0, 2), [
      { ok: true, epoch: 1, raftId: 1 },
      { ok: true, epoch: 1, raftId: 2 },
    ]);
    assert.equal(codeOf(got[2] as MetaResult), "already-bootstrapped");
    assert.equal(m.waiters, 0);
  });

  it("expect: another term's entry at the index means not applied; a snapshot past it, unknown", () => {
    const m = new MetaMachine();
    const lost: ProposalLostError[] = [];
    const waiter = {
      resolve: (r: MetaResult) => assert.fail(`resolved ${JSON.stringify(r)}`),
      reject: (e: ProposalLostError) => lost.push(e),
    };
    m.expect(1, 1, waiter);
    m.apply([entry(1, 2, bootstrapCmd)]);
    assert.equal(lost[0]?.reason, "overwritten");
    assert.equal(lost[0]?.code, "proposal-lost");
    assert.equal(lost[0]?.didNotRun, true);
    assert.match(lost[0]?.message ?? "", /not applied/);
    m.expect(1, 2, waiter);
    assert.equal(lost[1]?.reason, "not-waited", "index 1 is already applied");
    assert.equal(lost[1]?.didNotRun, false);
    // A newer term's proposal at an index takes it from an older one's.
    m.expect(3, 2, waiter);
    m.expect(3, 4, waiter);
    assert.deepEqual([lost[2]?.reason, lost[2]?.index, lost[2]?.term], ["overwritten", 3, 2]);
    m.expect(8, 4, waiter);
    m.restore({
      meta: { index: 10, term: 4, conf: { voters: [1], learners: [] } },
      data: m.snapshot(),
    });
    assert.deepEqual(
      lost.slice(3).map((e) => [e.reason, e.index, e.didNotRun]),
      [
        ["snapshot", 3, false],
        ["snapshot", 8, false],
      ],
    );
    assert.equal(m.waiters, 0);
    assert.ok(lost[3] instanceof ProposalLostError);
  });

  it("expect: a proposal whose leader stepped down waits, as an orphan, for its index", () => {
    const m = new MetaMachine();
    const got: [number, MetaResult | ProposalLostError][] = [];
    const waiterFor = (index: number) => ({
      resolve: (r: MetaResult) => got.push([index, r]),
      reject: (e: ProposalLostError) => got.push([index, e]),
    });
    const status = (role: "leader" | "follower", term: number) => ({
      group: metaGroupId,
      lead: role === "leader" ? 1 : 2,
      term,
      role,
      commit: 1,
      applied: 1,
      lastIndex: 6,
      snapshotIndex: 0,
    });
    m.apply([entry(1, 2, bootstrapCmd)]);
    m.expect(2, 2, waiterFor(2));
    m.expect(3, 2, waiterFor(3));
    m.expect(4, 2, waiterFor(4));
    m.roleChanged(status("leader", 2));
    assert.equal(m.waiters, 3, "still leading in the proposals' term");
    m.roleChanged(status("follower", 3));
    m.dropOrphans();
    assert.deepEqual(got, [], "an orphan outlives the round it was orphaned in");
    assert.equal(m.waiters, 3);
    // The new leader committed index 2 (sent before the step-down) and its own entry at 3.
    m.apply([
      entry(2, 2, { kind: "register-node", node: addr(2) }),
      entry(3, 3, { kind: "register-node", node: addr(3) }),
    ]);
    assert.deepEqual(got[0], [2, { ok: true, epoch: 1, raftId: 2 }], "its own entry: its result");
    const [index, lostAt3] = got[1] as [number, ProposalLostError];
    assert.equal(index, 3);
    assert.ok(lostAt3 instanceof ProposalLostError);
    assert.equal(lostAt3.didNotRun, true, "another term's entry took index 3");
    // Index 4 never learnt of: given up at the next round, outcome unknown.
    m.dropOrphans();
    const [index4, lostAt4] = got[2] as [number, ProposalLostError];
    assert.equal(index4, 4);
    assert.equal(lostAt4.reason, "leadership-lost");
    assert.equal(lostAt4.didNotRun, false);
    assert.match(lostAt4.message, /outcome unknown/);
    assert.equal(m.waiters, 0);
    // Leading again in a newer term: the older term's proposals are orphans too.
    m.expect(5, 3, waiterFor(5));
    m.roleChanged(status("leader", 5));
    m.dropOrphans();
    m.dropOrphans();
    const [index5, lostAt5] = got[3] as [number, ProposalLostError];
    assert.deepEqual([index5, lostAt5.reason], [5, "leadership-lost"]);
  });

  it("tells its listener what changed, once per apply", () => {
    const seen: MetaChanges[] = [];
    const m = new MetaMachine({ onChange: (c) => seen.push(c) });
    m.apply([entry(1, 1, bootstrapCmd), entry(2, 1, { kind: "register-node", node: addr(2) })]);
    m.apply([entry(3, 1, { kind: "register-node", node: addr(2) })]);
    m.apply([
      entry(4, 1, {
        kind: "record-shard-change",
        expectedEpoch: 1,
        shard: 2,
        change: { kind: "add-learner", node: 2 },
        observedIndex: 3,
        observedTerm: 1,
      }),
    ]);
    m.apply([entry(5, 1, { kind: "set-setting", name: "meta-voters", value: 5 })]);
    const functions: MetaCommand = {
      kind: "set-functions",
      expectedVersion: 0,
      payload: Uint8Array.of(1),
    };
    m.apply([entry(6, 1, functions)]);
    m.apply([entry(7, 1, functions)]); // refused: version 0 is gone
    assert.deepEqual(seen, [
      { nodes: true, shardMap: true, settings: true, metaVoters: true, functions: false },
      { nodes: false, shardMap: true, settings: false, metaVoters: false, functions: false },
      { nodes: false, shardMap: false, settings: true, metaVoters: false, functions: false },
      { nodes: false, shardMap: false, settings: false, metaVoters: false, functions: true },
    ]);
    seen.length = 0;
    m.restore({
      meta: { index: 7, term: 1, conf: { voters: [1], learners: [] } },
      data: m.snapshot(),
    });
    assert.deepEqual(seen, [
      { nodes: true, shardMap: true, settings: true, metaVoters: true, functions: true },
    ]);
  });

  it("bootstraps a one-node meta group through MultiRaft: the waiter gets raft id 1", () => {
    const mr = new MultiRaft(1, lanConfig(1), new SeededRandom(3), new MemoryRaftLogs(), () => {});
    const meta = new MetaMachine();
    mr.addGroup(metaGroupId, { voters: [1], learners: [] }, meta);
    mr.campaign(metaGroupId);
    for (let i = 0; i < 10 && mr.flush(); i++);
    const proposed = mr.propose(metaGroupId, encodeMetaCommand(bootstrapCmd));
    assert.ok(proposed.ok);
    const got: MetaResult[] = [];
    meta.expect(proposed.index, proposed.term, {
      resolve: (r) => got.push(r),
      reject: (e) => assert.fail(e),
    });
    for (let i = 0; i < 10 && (mr.flush() || got.length === 0); i++);
    assert.deepEqual(got, [{ ok: true, epoch: 1, raftId: 1 }]);
    assert.equal(meta.clusterId, "test-cluster");
    assert.equal(meta.shardMap().shards.length, 4);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type ClusterNode,
  decodeNodes,
  decodeShardMap,
  encodeNodes,
  encodeShardMap,
  initialShards,
  type Shard,
  type ShardMap,
  shardMembersMax,
  shardOfSlot,
  validateNodes,
  validateShardMap,
} from "../../src/cluster/shard-map.js";
import { SLOT_COUNT } from "../../src/cluster/slots.js";
import { node, nodes, shard, shardMap } from "./helpers.js";

describe("initialShards", () => {
  it("covers every slot once, in contiguous ranges differing in size by at most one", () => {
    for (const count of [1, 2, 3, 5, 7, 16, 1000, SLOT_COUNT]) {
      const shards = initialShards(count);
      assert.equal(shards.length, count);
      let next = 0;
      const sizes: number[] = [];
      for (const [i, s] of shards.entries()) {
        assert.equal(s.id, i + 1);
        assert.equal(s.slots.length, 1);
        const [start, end] = s.slots[0] as [number, number];
        assert.equal(start, next);
        sizes.push(end - start + 1);
        next = end + 1;
        assert.deepEqual([s.replicas, s.learners, s.leader], [[], [], null]);
      }
      assert.equal(next, SLOT_COUNT);
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `count ${count}`);
      assert.deepEqual(validateShardMap(shardMap(shards), []), []);
    }
  });

  it("splits 16384 slots into 3 as 5462, 5461, 5461", () => {
    assert.deepEqual(
      initialShards(3).map((s) => s.slots),
      [[[0, 5461]], [[5462, 10922]], [[10923, 16383]]],
    );
    assert.deepEqual(
      initialShards(2, 10).map((s) => s.id),
      [10, 11],
    );
  });

  it("refuses counts that cannot be", () => {
    for (const bad of [0, -1, 1.5, SLOT_COUNT + 1, Number.NaN]) {
      assert.throws(() => initialShards(bad), RangeError, String(bad));
    }
  });
});

describe("shardOfSlot", () => {
  const map = shardMap([
    shard(7, [[0, 99]], [1]),
    shard(
      3,
      [
        [100, 199],
        [300, 16383],
      ],
      [2],
    ),
  ]);

  it("finds the owner of every slot, and null where there is none", () => {
    const of = shardOfSlot(map);
    assert.equal(of(0)?.id, 7);
    assert.equal(of(99)?.id, 7);
    assert.equal(of(100)?.id, 3);
    assert.equal(of(199)?.id, 3);
    assert.equal(of(200), null);
    assert.equal(of(299), null);
    assert.equal(of(300)?.id, 3);
    assert.equal(of(16383)?.id, 3);
    assert.equal(of(16384), null);
    assert.equal(of(-1), null);
  });

  it("agrees with a linear search on the initial maps", () => {
    for (const count of [1, 3, 10, 333]) {
      const m = shardMap(initialShards(count));
      const of = shardOfSlot(m);
      for (let slot = 0; slot < SLOT_COUNT; slot += 7) {
        const expected = m.shards.find((s) =>
          s.slots.some(([start, end]) => start <= slot && slot <= end),
        );
        assert.equal(of(slot), expected);
      }
    }
  });
});

describe("validateNodes", () => {
  it("accepts a sound registry", () => {
    assert.deepEqual(validateNodes(nodes(5, ["a", "b"])), []);
    assert.deepEqual(validateNodes([{ ...node(1), host: "db-1.example.com" }]), []);
  });

  it("names each problem", () => {
    const one = node(1);
    assert.deepEqual(
      validateNodes([
        one,
        { ...node(2), id: one.id },
        { ...node(3), raftId: 1 },
        { ...node(4), id: "ABC" },
        { ...node(5), raftId: 0 },
        { ...node(6), host: "a b" },
        { ...node(7), port: 0, busPort: 70000 },
        { ...node(8), host: one.host },
        { ...node(9), zone: "z".repeat(65) },
      ]),
      [
        `node ${one.id}: id is used twice`,
        `node ${node(3).id}: raft id 1 is used twice`,
        "node ABC: id is not 40 lowercase hex characters",
        `node ${node(5).id}: raft id 0 is not a u32 above 0`,
        `node ${node(6).id}: host "a b" is empty, too long or has a space, ',' or '@'`,
        `node ${node(7).id}: port 0 is not 1..65535`,
        `node ${node(7).id}: bus port 70000 is not 1..65535`,
        `node ${node(8).id}: address 10.0.0.1:6379 is used twice`,
        `node ${node(9).id}: zone exceeds 64 bytes`,
      ],
    );
  });
});

describe("validateShardMap", () => {
  const registry = nodes(4);

  it("accepts a sound map, and shards not placed yet", () => {
    const map = shardMap([shard(1, [[0, 8191]], [1, 2, 3], 2, [4]), shard(2, [[8192, 16383]], [])]);
    assert.deepEqual(validateShardMap(map, registry), []);
  });

  it("names overlaps and gaps as slot runs", () => {
    const map = shardMap([
      shard(1, [[0, 100]], [1]),
      shard(
        2,
        [
          [50, 120],
          [200, 200],
        ],
        [2],
      ),
      shard(3, [[201, 16000]], [3]),
    ]);
    assert.deepEqual(validateShardMap(map, registry), [
      "slots 50-100 belong to both shard 1 and shard 2",
      "slots 121-199 belong to no shard",
      "slots 16001-16383 belong to no shard",
    ]);
  });

  it("names bad ids, ranges and members", () => {
    const map: ShardMap = {
      epoch: -1,
      shards: [
        shard(1, [[0, 16383]], [1, 1, 9], 4, [2, 3, 3]),
        shard(1, [[5, 2]], [2]),
        shard(2, [[16000, 16384]], [], null, [1]),
        { ...shard(3, [], []), replicas: [2], learners: [2] },
        shard(
          4,
          [],
          Array.from({ length: shardMembersMax + 1 }, (_, i) => (i % 4) + 1),
        ),
      ],
    };
    assert.deepEqual(validateShardMap(map, registry), [
      "epoch -1 is not a non-negative safe integer",
      "shard 1: replica 1 is listed more than once",
      "shard 1: replica 9 is not a known node",
      "shard 1: learner 3 is listed more than once",
      "shard 1: leader 4 is not one of its replicas",
      "shard 1: id is used twice",
      "shard 1: range 5-2 is not a range of slots",
      "shard 2: range 16000-16384 goes past slot 16383",
      "shard 3: node 2 is both a replica and a learner",
      `shard 4: ${shardMembersMax + 1} members exceed ${shardMembersMax}`,
      "shard 4: replica 1 is listed more than once",
      "shard 4: replica 2 is listed more than once",
      "shard 4: replica 3 is listed more than once",
      "shard 4: replica 4 is listed more than once",
    ]);
  });
});

// ---- codec -------------------------------------------------------------------------------

/** Records with Object's prototype, so deepEqual can compare them with decoded ones. */
const rec = <T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> =>
  fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;
const raftId = fc.integer({ min: 1, max: 0xffff_ffff });

const rangeArb = fc
  .tuple(fc.nat(SLOT_COUNT - 1), fc.nat(SLOT_COUNT - 1))
  .map(([a, b]): [number, number] => [Math.min(a, b), Math.max(a, b)]);

const shardArb: fc.Arbitrary<Shard> = fc
  .tuple(
    fc.integer({ min: 0, max: 0xffff_ffff }),
    fc.array(rangeArb, { maxLength: 5 }),
    fc.uniqueArray(raftId, { maxLength: 7 }),
    fc.uniqueArray(raftId, { maxLength: 3 }),
    fc.boolean(),
  )
  .map(([id, slots, replicas, learners, led]) => ({
    id,
    slots,
    replicas,
    learners,
    leader: led && replicas.length > 0 ? (replicas[0] as number) : null,
  }));

const mapArb: fc.Arbitrary<ShardMap> = rec({
  epoch: fc.maxSafeNat(),
  shards: fc.array(shardArb, { maxLength: 20 }),
});

const plainNodeArb: fc.Arbitrary<ClusterNode> = rec({
  id: fc.stringMatching(/^[0-9a-f]{40}$/),
  raftId,
  host: fc.oneof(
    fc.ipV4(),
    fc.ipV6(),
    fc.domain().filter((d) => d.length <= 255),
  ),
  port: fc.integer({ min: 1, max: 0xffff }),
  busPort: fc.integer({ min: 1, max: 0xffff }),
  zone: fc.oneof(fc.constant(""), fc.string({ maxLength: 16 }), fc.constant("zone-ü-東")),
});

/** With a redirect port of its own or none (one equal to the port is none, as decoded). */
const nodeArb: fc.Arbitrary<ClusterNode> = fc
  .tuple(plainNodeArb, fc.option(fc.integer({ min: 1, max: 0xffff }), { nil: undefined }))
  .map(([n, r]) => (r === undefined || r === n.port ? n : { ...n, redirectPort: r }));

describe("shard map and node registry codec", () => {
  it("round-trips any shard map", () => {
    fc.assert(
      fc.property(mapArb, (map) => {
        assert.deepEqual(decodeShardMap(encodeShardMap(map)), { ok: true, value: map });
      }),
    );
  });

  it("round-trips any node registry", () => {
    fc.assert(
      fc.property(fc.array(nodeArb, { maxLength: 20 }), (list) => {
        assert.deepEqual(decodeNodes(encodeNodes(list)), { ok: true, value: list });
      }),
    );
  });

  it("is compact: a 16-shard, 3-replica map in under 500 bytes", () => {
    const map = shardMap(
      initialShards(16).map((s, i) => ({
        ...s,
        replicas: [(i % 5) + 1, ((i + 1) % 5) + 1, ((i + 2) % 5) + 1],
        leader: (i % 5) + 1,
      })),
    );
    assert.ok(encodeShardMap(map).length < 500);
    assert.equal(encodeNodes([node(1)]).length, 3 + 20 + 4 + 1 + 8 + 2 + 2 + 1);
    // A redirect port of its own: version 2, two bytes more a node.
    assert.equal(
      encodeNodes([{ ...node(1), redirectPort: 26379 }]).length,
      3 + 20 + 4 + 1 + 8 + 2 + 2 + 1 + 2,
    );
  });

  it("reads a registry written before redirect ports: each node's is its port", () => {
    const withOne = { ...node(1), redirectPort: 26380 };
    const bytes = encodeNodes([withOne]);
    assert.equal(bytes[0], 2);
    // Version 1 is version 2 without the last field of each node, and what a registry with
    // no redirect port of its own is written in (the version before reads it).
    const v1 = Uint8Array.from([1, ...bytes.subarray(1, bytes.length - 2)]);
    assert.deepEqual(v1, encodeNodes([node(1)]));
    assert.deepEqual(decodeNodes(v1), { ok: true, value: [node(1)] });
    assert.deepEqual(decodeNodes(bytes), { ok: true, value: [withOne] });
    assert.equal(decodeNodes(Uint8Array.from([3, 0, 0])).ok, false);
  });

  it("rejects every truncation and any trailing byte, without throwing", () => {
    const map = shardMap([shard(1, [[0, 16383]], [1, 2, 3], 2, [4])], 9);
    const bytes = encodeShardMap(map);
    for (let n = 0; n < bytes.length; n++) {
      assert.equal(decodeShardMap(bytes.subarray(0, n)).ok, false, `prefix ${n}`);
    }
    assert.deepEqual(decodeShardMap(Uint8Array.from([...bytes, 0])), {
      ok: false,
      error: "trailing bytes",
    });
    const registry = encodeNodes(nodes(3, ["a"]));
    for (let n = 0; n < registry.length; n++) {
      assert.equal(decodeNodes(registry.subarray(0, n)).ok, false, `prefix ${n}`);
    }
    assert.deepEqual(decodeNodes(Uint8Array.from([...registry, 0])), {
      ok: false,
      error: "trailing bytes",
    });
  });

  it("names what is wrong with a lying input", () => {
    const withBytes = (bytes: Uint8Array, at: number, ...values: number[]) => {
      const copy = Uint8Array.from(bytes);
      copy.set(values, at);
      return copy;
    };
    const map = encodeShardMap(shardMap([shard(1, [[0, 16383]], [1], 1)], 1));
    // version(1) epoch(8) count(4) | id(4) ranges(2) start(2) end(2) | replicas(1) id(4) ...
    const cases: [Uint8Array, string][] = [
      [withBytes(map, 0, 2), "unknown shard map version"],
      [withBytes(map, 9, 0, 0, 0x40, 1), "more shards than slots"],
      [withBytes(map, 19, 0x40, 0x00), "bad slot range"],
      [withBytes(map, 21, 0x40, 0x00), "bad slot range"],
      [withBytes(map, 23, shardMembersMax + 1), "too many shard members"],
      [withBytes(map, 24, 0, 0, 0, 0), "raft id 0"],
      [withBytes(map, 1, 0xff), "integer beyond 2^53"],
    ];
    for (const [bytes, error] of cases)
      assert.deepEqual(decodeShardMap(bytes), { ok: false, error });
    const registry = encodeNodes([node(1, "a")]);
    // version(1) count(2) | id(20) raftId(4) host(1 + 8) port(2) busPort(2) zone(1 + 1)
    const nodeCases: [Uint8Array, string][] = [
      [withBytes(registry, 0, 0), "unknown node registry version"],
      [withBytes(registry, 23, 0, 0, 0, 0), "raft id 0"],
      [withBytes(registry, 28, 0xff), "host is not UTF-8"],
      [withBytes(registry, 40, 65), "zone too long"],
    ];
    for (const [bytes, error] of nodeCases)
      assert.deepEqual(decodeNodes(bytes), { ok: false, error });
  });

  it("never throws on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        decodeShardMap(bytes);
        decodeNodes(bytes);
        // Mostly valid headers, so the decoders get past the version byte.
        decodeShardMap(Uint8Array.from([1, ...bytes]));
        decodeNodes(Uint8Array.from([1, ...bytes]));
      }),
      { numRuns: 2000 },
    );
  });

  it("refuses to encode what it could not decode", () => {
    assert.throws(() => encodeShardMap(shardMap([shard(1, [[0, 16384]], [1])])), RangeError);
    assert.throws(() => encodeShardMap(shardMap([shard(1, [[0, 1]], [0])])), RangeError);
    assert.throws(() => encodeNodes([{ ...node(1), id: "xyz" }]), RangeError);
    assert.throws(() => encodeNodes([{ ...node(1), host: "h".repeat(256) }]), RangeError);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { murmurHash64A, patternOf } from "../../src/kv/hyperloglog.js";
import { NOTIFY_ALL, NOTIFY_KEYEVENT } from "../../src/kv/notify.js";
import { err, newDb, r, recordEvents, type TestDb, WRONGTYPE } from "./helpers.js";

// Expected values are what redis-server 7.0.15 answers for the same commands.

const NOT_HLL = err("WRONGTYPE Key is not a valid HyperLogLog string value.");
const CORRUPTED = err("INVALIDOBJ Corrupted HLL object detected");

/** MurmurHash64A with BigInts, as its C source reads: the reference the fast one must match. */
function murmurReference(data: Uint8Array, seed: bigint): bigint {
  const m = 0xc6a4a7935bd1e995n;
  const u = (x: bigint) => BigInt.asUintN(64, x);
  let h = u(seed ^ u(BigInt(data.length) * m));
  const words = data.length - (data.length & 7);
  for (let i = 0; i < words; i += 8) {
    let k = 0n;
    for (let j = 7; j >= 0; j--) k = (k << 8n) | BigInt(data[i + j] as number);
    k = u(k * m);
    k ^= k >> 47n;
    k = u(k * m);
    h ^= k;
    h = u(h * m);
  }
  const rest = data.length & 7;
  if (rest > 0) {
    for (let j = rest - 1; j >= 0; j--) h ^= BigInt(data[words + j] as number) << BigInt(8 * j);
    h = u(h * m);
  }
  h ^= h >> 47n;
  h = u(h * m);
  h ^= h >> 47n;
  return h;
}

function raw(db: TestDb, key: string): Buffer {
  const v = db.store.get(Buffer.from(key));
  assert.ok(v !== undefined);
  return v.data;
}

describe("HyperLogLog encoding", () => {
  it("hashes elements with MurmurHash64A as Redis does, whatever their length", () => {
    for (let len = 0; len < 40; len++) {
      const data = Uint8Array.from({ length: len }, (_, i) => (i * 37 + len * 11) & 0xff);
      const [hi, lo] = murmurHash64A(data, 0xadc83b19);
      assert.equal(
        (BigInt(hi) << 32n) | BigInt(lo),
        murmurReference(data, 0xadc83b19n),
        `length ${len}`,
      );
    }
    const { index, count } = patternOf(Buffer.from("a"));
    assert.ok(index >= 0 && index < 16384 && count >= 1 && count <= 51);
  });

  it("writes the sparse and dense bytes Redis writes", () => {
    const db = newDb();
    assert.equal(r(db, "pfadd", "h", "a", "b", "c"), 1);
    assert.equal(
      raw(db, "h").toString("hex"),
      `48594c4c010000000000000000000080${"60f38050b1844bfb80425a"}`,
    );
    assert.equal(r(db, "pfdebug", "decode", "h"), "Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603");
    assert.equal(r(db, "pfadd", "e"), 1);
    assert.equal(raw(db, "e").toString("hex"), "48594c4c0100000000000000000000807fff");
    for (let i = 1; i <= 200; i++) r(db, "pfadd", "big", `el${i}`);
    assert.deepEqual(r(db, "pfdebug", "encoding", "big"), { status: "sparse" });
    assert.equal(raw(db, "big").length, 515);
    for (let i = 1; i <= 3000; i++) r(db, "pfadd", "big2", `x${i}`, `y${i}`, `z${i}`);
    assert.deepEqual(r(db, "pfdebug", "encoding", "big2"), { status: "dense" });
    assert.equal(raw(db, "big2").length, 16 + 12288);
  });
});

describe("HyperLogLog commands", () => {
  it("PFADD, PFCOUNT and PFMERGE count as redis-server counts", () => {
    const db = newDb();
    r(db, "pfadd", "h", "a", "b", "c");
    assert.equal(r(db, "pfadd", "h", "a"), 0);
    assert.equal(r(db, "pfcount", "h"), 3);
    assert.equal(r(db, "pfcount", "nokey"), 0);
    for (let i = 1; i <= 200; i++) r(db, "pfadd", "big", `el${i}`);
    assert.equal(r(db, "pfcount", "big"), 201);
    for (let i = 1; i <= 3000; i++) r(db, "pfadd", "big2", `x${i}`, `y${i}`, `z${i}`);
    assert.equal(r(db, "pfcount", "big2"), 8968);
    assert.deepEqual(r(db, "pfmerge", "m", "h", "big"), { status: "OK" });
    assert.equal(r(db, "pfcount", "m"), 204);
    assert.equal(r(db, "pfcount", "h", "big", "big2"), 9157);
    assert.deepEqual(r(db, "pfmerge", "m2", "big2", "h"), { status: "OK" });
    assert.deepEqual(r(db, "pfdebug", "encoding", "m2"), { status: "dense" });
  });

  it("a valid cached count is used; PFCOUNT never writes it", () => {
    const db = newDb();
    r(db, "pfadd", "h", "a", "b", "c");
    const before = Buffer.from(raw(db, "h"));
    assert.equal(r(db, "pfcount", "h"), 3);
    assert.ok(raw(db, "h").equals(before));
    // A value whose cache says 1234 (as Redis leaves it after a PFCOUNT) answers that.
    const cached = Buffer.from(before);
    cached.writeBigUInt64LE(1234n, 8);
    r(db, "set", "c", cached);
    assert.equal(r(db, "pfcount", "c"), 1234);
  });

  it("notifies pfadd for PFADD and PFMERGE, and keeps the key's expiry", () => {
    const db = newDb();
    const events = recordEvents(db, NOTIFY_ALL | NOTIFY_KEYEVENT);
    r(db, "pfadd", "h", "a");
    r(db, "pfadd", "h", "a");
    r(db, "expire", "h", "100");
    r(db, "pfmerge", "h", "h");
    assert.equal(r(db, "ttl", "h"), 100);
    assert.deepEqual(events, ["pfadd h", "expire h", "pfadd h"]);
  });

  it("refuses strings that are not HLLs, and detects corrupted ones", () => {
    const db = newDb();
    r(db, "set", "s", "not an hll");
    r(db, "lpush", "l", "x");
    assert.deepEqual(r(db, "pfadd", "s", "a"), NOT_HLL);
    assert.deepEqual(r(db, "pfcount", "s"), NOT_HLL);
    assert.deepEqual(r(db, "pfmerge", "d", "s"), NOT_HLL);
    assert.deepEqual(r(db, "pfadd", "l", "a"), WRONGTYPE);
    r(db, "pfadd", "h", "a", "b", "c");
    r(db, "append", "h", "hello");
    assert.deepEqual(r(db, "pfcount", "h"), CORRUPTED);
    assert.deepEqual(r(db, "pfcount", "h", "h"), CORRUPTED);
    assert.deepEqual(r(db, "pfdebug", "getreg", "h"), CORRUPTED);
    r(db, "pfadd", "d", "a");
    r(db, "pfdebug", "todense", "d");
    r(db, "setrange", "d", "4", "\x00");
    r(db, "append", "d", "x");
    assert.deepEqual(r(db, "pfcount", "d"), NOT_HLL);
    assert.deepEqual(
      r(db, "pfdebug", "getreg", "nokey"),
      err("ERR The specified key does not exist"),
    );
    r(db, "pfadd", "d2", "a");
    r(db, "pfdebug", "todense", "d2");
    assert.deepEqual(r(db, "pfdebug", "decode", "d2"), err("ERR HLL encoding is not sparse"));
    assert.deepEqual(r(db, "pfdebug", "nope", "d2"), err("ERR Unknown PFDEBUG subcommand 'nope'"));
  });

  it("PFDEBUG GETREG and TODENSE make a sparse HLL dense", () => {
    const db = newDb();
    r(db, "pfadd", "h", "a", "b", "c");
    assert.equal(r(db, "pfdebug", "todense", "h"), 1);
    assert.equal(r(db, "pfdebug", "todense", "h"), 0);
    const regs = r(db, "pfdebug", "getreg", "h") as number[];
    assert.equal(regs.length, 16384);
    assert.equal(regs.filter((v) => v !== 0).length, 3);
    assert.equal(r(db, "pfcount", "h"), 3);
  });
});

describe("HyperLogLog and expiry", () => {
  it("PFADD and PFMERGE on an expired key start a new HLL, without the old expiry", () => {
    const db = newDb();
    r(db, "pfadd", "h", "a");
    r(db, "pexpire", "h", "100");
    r(db, "pfadd", "m", "x");
    r(db, "pexpire", "m", "100");
    db.advance(200);
    assert.equal(r(db, "pfadd", "h", "b"), 1);
    assert.equal(r(db, "pttl", "h"), -1);
    assert.equal(r(db, "pfcount", "h"), 1);
    assert.deepEqual(r(db, "pfmerge", "m", "h"), { status: "OK" });
    assert.equal(r(db, "pttl", "m"), -1);
    assert.equal(r(db, "pfcount", "m"), 1);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { crc64 } from "../../src/core/crc64.js";
import { NOTIFY_ALL, NOTIFY_KEYEVENT, NOTIFY_NEW } from "../../src/kv/notify.js";
import { err, newDb, ok, r, recordEvents, START_MS, SYNTAX, type TestDb } from "./helpers.js";

const BAD_FORMAT = err("ERR Bad data format");
const BAD_PAYLOAD = err("ERR DUMP payload version or checksum are wrong");

/** DUMP's payload as bytes (the test helpers give bulk replies as latin1 text). */
function dump(db: TestDb, key: string): Buffer {
  const reply = r(db, "dump", key);
  assert.equal(typeof reply, "string", `DUMP ${key}`);
  return Buffer.from(reply as string, "latin1");
}

/** An RDB object with Redis's footer: the version (little-endian) and the CRC-64. */
function withFooter(body: Buffer, version = 10): Buffer {
  const head = Buffer.concat([body, Buffer.from([version & 0xff, version >> 8])]);
  const crc = Buffer.alloc(8);
  crc.writeBigUInt64LE(crc64(0n, head), 0);
  return Buffer.concat([head, crc]);
}

/** Payloads redis-server 7.0.15 gave for DUMP (hex), with what the key held. */
const FROM_REDIS = {
  // SET lzf (ab × 40): an LZF-compressed string.
  lzf: "00c30a405002616261e042010161620a00949d5f0eb1dea445",
  // SET int -12345: an integer-encoded string.
  int: "00c1c7cf0a0067eda236b4db26d0",
  // HSET hash f v n -300 big 70000: a listpack with strings and integers.
  hash: "101d1d0000000600816602817602816e02ded4028362696704f270110104ff0a004299a25356722088",
  // SADD intset 5 -70000 3000000000: an intset of 8-byte integers.
  intset:
    "0b20080000000300000090eefeffffffffff0500000000000000005ed0b2000000000a00d34c240b2820d489",
  // RPUSH list x 1 -2 yy: a quicklist of one listpack node.
  list: "120102131300000004008178020101dffe0282797903ff0a00c80286460b071201",
  // ZADD zset 1.5 a 2 b -3 c: a listpack of members and scores.
  zset: "111a1a0000000600816302dffd0281610283312e35048162020201ff0a0088c4c030f0ae8276",
};

describe("DUMP and RESTORE", () => {
  it("computes Redis's CRC-64", () => {
    assert.equal(crc64(0n, Buffer.from("123456789")), 0xe9c6d914c4b8d9can);
    assert.equal(crc64(0n, Buffer.alloc(0)), 0n);
  });

  it("round-trips every type, with the value's own encoding rebuilt", () => {
    const db = newDb();
    const bin = Buffer.from([0, 1, 13, 10, 255]);
    r(db, "set", "s", bin);
    r(db, "rpush", "l", "a", bin, "12", "");
    r(db, "sadd", "set", "x", "y", "100");
    r(db, "hset", "h", "f1", "v1", "f2", bin);
    r(db, "zadd", "z", "1.5", "a", "-inf", "b", "2", "c");
    r(db, "xadd", "st", "1-1", "f", "v");
    r(db, "xadd", "st", "2-0", "g", "w");
    r(db, "xgroup", "create", "st", "grp", "0");
    r(db, "xreadgroup", "group", "grp", "alice", "count", "1", "streams", "st", ">");
    for (const key of ["s", "l", "set", "h", "z", "st"]) {
      const payload = dump(db, key);
      assert.deepEqual(r(db, "restore", `${key}2`, "0", payload), ok, key);
      assert.deepEqual(
        db.store.get(Buffer.from(`${key}2`))?.data,
        db.store.get(Buffer.from(key))?.data,
        key,
      );
      assert.deepEqual(dump(db, `${key}2`), payload, `${key}: the same payload again`);
    }
    assert.deepEqual(r(db, "xpending", "st2", "grp"), [1, "1-1", "1-1", [["alice", "1"]]]);
    assert.equal(r(db, "dump", "nosuchkey"), null);
  });

  it("writes the plain RDB types and Redis's footer", () => {
    const db = newDb();
    r(db, "set", "s", "hello");
    const p = dump(db, "s");
    assert.deepEqual(p.subarray(0, 7), Buffer.from([0, 5, ...Buffer.from("hello")]));
    assert.equal(p.readUInt16LE(p.length - 10), 10, "RDB version 10, Redis 7.0's");
    assert.equal(p.readBigUInt64LE(p.length - 8), crc64(0n, p.subarray(0, p.length - 8)));
    r(db, "rpush", "l", "a");
    r(db, "sadd", "t", "a");
    r(db, "hset", "h", "a", "b");
    r(db, "zadd", "z", "1", "a");
    assert.deepEqual(
      ["l", "t", "h", "z"].map((k) => dump(db, k)[0]),
      [1, 2, 4, 5],
      "RDB_TYPE_LIST, _SET, _HASH, _ZSET_2",
    );
  });

  it("reads what Redis 7 writes: LZF and integer strings, listpacks, intsets, quicklists", () => {
    const db = newDb();
    for (const [key, hex] of Object.entries(FROM_REDIS)) {
      assert.deepEqual(r(db, "restore", key, "0", Buffer.from(hex, "hex")), ok, key);
    }
    assert.equal(r(db, "get", "lzf"), "ab".repeat(40));
    assert.equal(r(db, "get", "int"), "-12345");
    assert.deepEqual(r(db, "hgetall", "hash"), ["f", "v", "n", "-300", "big", "70000"]);
    assert.deepEqual(r(db, "smembers", "intset"), ["-70000", "5", "3000000000"]);
    assert.deepEqual(r(db, "lrange", "list", "0", "-1"), ["x", "1", "-2", "yy"]);
    assert.deepEqual(r(db, "zrange", "zset", "0", "-1", "withscores"), ["c", -3, "a", 1.5, "b", 2]);
  });

  it("reads a Redis 6 ziplist, and refuses one with a duplicate field", () => {
    const db = newDb();
    // tests/integration/corrupt-dump.tcl's hash ziplist {"a\0": "b\0", "c\0": "d\0"}.
    const entries = ["a", "b", "c", "d"].map((c) => [0x02, c.charCodeAt(0), 0x00]);
    const ziplist = (e: number[][]) =>
      Buffer.from([
        0x0d,
        0x1b,
        ...[0x1b, 0, 0, 0, 0x16, 0, 0, 0, 0x04, 0],
        ...e.flatMap((x, i) => [i === 0 ? 0 : 4, ...x]),
        0xff,
      ]);
    assert.deepEqual(r(db, "restore", "h", "0", withFooter(ziplist(entries), 9)), ok);
    assert.deepEqual(r(db, "hgetall", "h"), ["a\0", "b\0", "c\0", "d\0"]);
    // The same file's "valid zipped hash header, dup records", as Redis's test sends it.
    const dup = Buffer.from(
      "0d1b1b00000016000000040000026100040262000402610004026400ff0900a1983678cc8e932e",
      "hex",
    );
    assert.deepEqual(r(db, "restore", "d", "0", dup), BAD_FORMAT);
    assert.equal(r(db, "exists", "d"), 0);
  });

  it("refuses a bad checksum or a newer version, and payloads it cannot read", () => {
    const db = newDb();
    r(db, "set", "s", "hello");
    const good = dump(db, "s");
    const flipped = Buffer.from(good);
    flipped[3] = (flipped[3] as number) ^ 1;
    assert.deepEqual(r(db, "restore", "k", "0", flipped), BAD_PAYLOAD);
    assert.deepEqual(r(db, "restore", "k", "0", "short"), BAD_PAYLOAD);
    const body = good.subarray(0, good.length - 10);
    assert.deepEqual(r(db, "restore", "k", "0", withFooter(body, 11)), BAD_PAYLOAD);
    assert.deepEqual(r(db, "restore", "old", "0", withFooter(body, 9)), ok, "older versions read");
    const cannotRead: [string, number[]][] = [
      ["a truncated string", [0, 10, 0x61]],
      ["bytes after the value", [0, 1, 0x61, 0x61]],
      ["an empty set", [2, 0]],
      ["a set with a member twice", [2, 2, 1, 0x61, 1, 0x61]],
      ["a hash with a field twice", [4, 2, 1, 0x61, 1, 0x62, 1, 0x61, 1, 0x63]],
      ["a sorted set with a NaN score", [3, 1, 1, 0x61, 253]],
      ["a module value", [6, 0]],
      ["Redis's stream encoding", [19, 0]],
      ["an unknown type", [0x42]],
      ["a bad LZF run", [0, 0xc3, 2, 5, 0x20, 0x00]],
      ["a listpack whose length lies", [16, 7, 9, 0, 0, 0, 0, 0, 0xff]],
      ["a stream of Homeostat's that is not one", [0xf6, 3, 1, 2, 3]],
    ];
    for (const [what, bytes] of cannotRead) {
      assert.deepEqual(
        r(db, "restore", "k", "0", withFooter(Buffer.from(bytes))),
        BAD_FORMAT,
        what,
      );
    }
    assert.equal(r(db, "exists", "k"), 0);
  });

  it("takes RESTORE's options and errors in Redis's order", () => {
    const db = newDb();
    r(db, "set", "s", "v");
    const p = dump(db, "s");
    assert.deepEqual(r(db, "restore", "s", "0", p), err("BUSYKEY Target key name already exists."));
    assert.deepEqual(
      r(db, "restore", "s", "x", p),
      err("BUSYKEY Target key name already exists."),
      "the key is looked at before the TTL",
    );
    assert.deepEqual(
      r(db, "restore", "n", "x", p),
      err("ERR value is not an integer or out of range"),
    );
    assert.deepEqual(r(db, "restore", "n", "-1", p), err("ERR Invalid TTL value, must be >= 0"));
    assert.deepEqual(r(db, "restore", "n", "0", p, "bogus"), SYNTAX);
    assert.deepEqual(r(db, "restore", "n", "0", p, "idletime", "1", "freq", "1"), SYNTAX);
    assert.deepEqual(
      r(db, "restore", "n", "0", p, "idletime", "-1"),
      err("ERR Invalid IDLETIME value, must be >= 0"),
    );
    assert.deepEqual(
      r(db, "restore", "n", "0", p, "freq", "256"),
      err("ERR Invalid FREQ value, must be >= 0 and <= 255"),
    );
    assert.deepEqual(r(db, "restore", "n", "0", p, "idletime", "100"), ok);
    assert.deepEqual(r(db, "restore", "f", "0", p, "freq", "100"), ok);
    // TTLs: relative to the command's time, absolute with ABSTTL, none with 0.
    assert.deepEqual(r(db, "restore", "t1", "5000", p), ok);
    assert.equal(r(db, "pttl", "t1"), 5000);
    assert.deepEqual(r(db, "restore", "t2", String(START_MS + 9000), p, "absttl"), ok);
    assert.equal(r(db, "pttl", "t2"), 9000);
    assert.equal(r(db, "pttl", "n"), -1);
    // Already expired: nothing stored, and REPLACE deletes what was there.
    const events = recordEvents(db, NOTIFY_ALL | NOTIFY_NEW | NOTIFY_KEYEVENT);
    assert.deepEqual(r(db, "restore", "gone", "1000", p, "absttl"), ok);
    assert.equal(r(db, "exists", "gone"), 0);
    assert.deepEqual(r(db, "restore", "s", "1000", p, "absttl", "replace"), ok);
    assert.equal(r(db, "exists", "s"), 0);
    assert.deepEqual(r(db, "restore", "s", "0", p, "replace"), ok);
    assert.deepEqual(r(db, "restore", "s", "0", p, "replace"), ok);
    assert.deepEqual(events, ["del s", "new s", "restore s", "new s", "restore s"]);
  });

  it("holds restored values to proto-max-bulk-len", () => {
    const db = newDb();
    r(db, "rpush", "l", "x".repeat(100));
    r(db, "set", "s", "x".repeat(100));
    const small = newDb({ maxBulkBytes: 64 });
    assert.deepEqual(
      r(small, "restore", "l", "0", dump(db, "l")),
      err("ERR list exceeds maximum allowed size (proto-max-bulk-len)"),
    );
    assert.deepEqual(
      r(small, "restore", "s", "0", dump(db, "s")),
      err("ERR string exceeds maximum allowed size (proto-max-bulk-len)"),
    );
    assert.deepEqual([r(small, "exists", "l"), r(small, "exists", "s")], [0, 0]);
  });
});

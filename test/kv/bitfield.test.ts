import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NOTIFY_ALL, NOTIFY_KEYEVENT, NOTIFY_NEW } from "../../src/kv/notify.js";
import { err, NOT_INT, newDb, r, recordEvents, SYNTAX, WRONGTYPE } from "./helpers.js";

// Expected values are what redis-server 7.0.15 answers for the same commands.

const TYPE_ERR = err(
  "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
);
const OFFSET_ERR = err("ERR bit offset is not an integer or out of range");

describe("BITOP", () => {
  it("AND, OR, XOR and NOT, shorter strings counting as zeros", () => {
    const db = newDb();
    r(db, "set", "a", "foobar");
    r(db, "set", "b", "abcdef");
    r(db, "set", "short", "ab");
    assert.equal(r(db, "bitop", "and", "dest", "a", "b"), 6);
    assert.equal(r(db, "get", "dest"), "`bc`ab");
    assert.equal(r(db, "bitop", "or", "dest", "a", "b"), 6);
    assert.equal(r(db, "get", "dest"), "goofev");
    assert.equal(r(db, "bitop", "xor", "dest", "a", "b"), 6);
    assert.equal(r(db, "get", "dest"), "\x07\r\x0c\x06\x04\x14");
    assert.equal(r(db, "bitop", "not", "dest", "a"), 6);
    assert.equal(r(db, "get", "dest"), "\x99\x90\x90\x9d\x9e\x8d");
    assert.equal(r(db, "bitop", "and", "dest", "a", "short"), 6);
    assert.equal(r(db, "get", "dest"), "`b\x00\x00\x00\x00");
    assert.equal(r(db, "bitop", "or", "dest", "a", "short", "nokey"), 6);
    assert.equal(r(db, "get", "dest"), "goobar");
  });

  it("an empty result deletes the destination; a result drops its expiry", () => {
    const db = newDb();
    const events = recordEvents(db, NOTIFY_ALL | NOTIFY_KEYEVENT | NOTIFY_NEW);
    r(db, "set", "dest", "x");
    assert.equal(r(db, "bitop", "or", "dest", "nokey"), 0);
    assert.equal(r(db, "exists", "dest"), 0);
    assert.equal(r(db, "bitop", "and", "dest", "nokey1", "nokey2"), 0);
    r(db, "set", "a", "ab", "ex", "100");
    assert.equal(r(db, "bitop", "and", "a", "a", "a"), 2);
    assert.equal(r(db, "ttl", "a"), -1);
    assert.deepEqual(events, [
      "new dest",
      "set dest",
      "del dest",
      "new a",
      "set a",
      "expire a",
      "set a",
    ]);
  });

  it("refuses what Redis refuses", () => {
    const db = newDb();
    r(db, "lpush", "l", "x");
    assert.deepEqual(
      r(db, "bitop", "not", "dest", "a", "b"),
      err("ERR BITOP NOT must be called with a single source key."),
    );
    assert.deepEqual(r(db, "bitop", "nand", "dest", "a", "b"), SYNTAX);
    assert.deepEqual(r(db, "bitop", "and", "dest", "a", "l"), WRONGTYPE);
  });
});

describe("BITFIELD", () => {
  it("signed and unsigned fields, at bit offsets and at #N widths", () => {
    const db = newDb();
    assert.deepEqual(r(db, "bitfield", "bf", "set", "i8", "0", "100", "get", "i8", "0"), [0, 100]);
    assert.deepEqual(
      r(db, "bitfield", "bf", "set", "u8", "8", "255", "get", "u8", "8", "incrby", "u8", "8", "10"),
      [0, 255, 9],
    );
    assert.deepEqual(
      r(db, "bitfield", "bf", "set", "i64", "100", "-9223372036854775808", "get", "i64", "100"),
      [0, "-9223372036854775808"],
    );
    assert.deepEqual(
      r(db, "bitfield", "bf", "get", "u63", "3", "get", "i64", "#2", "get", "u1", "#100"),
      ["1163054603768430592", 0, 1],
    );
    assert.equal(r(db, "strlen", "bf"), 21);
    assert.deepEqual(r(db, "bitfield", "bf", "set", "u8", "#1000", "1"), [0]);
    assert.equal(r(db, "strlen", "bf"), 1001);
    assert.deepEqual(r(db, "bitfield_ro", "bf", "get", "u8", "0", "get", "i16", "#3"), [100, 0]);
    assert.deepEqual(r(db, "bitfield", "bf"), []);
  });

  it("OVERFLOW WRAP, SAT and FAIL, as Redis computes them", () => {
    const db = newDb();
    r(db, "bitfield", "bf", "set", "i8", "0", "100");
    assert.deepEqual(r(db, "bitfield", "bf", "incrby", "i8", "0", "100"), [-56]);
    assert.deepEqual(
      r(db, "bitfield", "bf", "overflow", "sat", "incrby", "i8", "0", "-100"),
      [-128],
    );
    assert.deepEqual(r(db, "bitfield", "bf", "overflow", "fail", "incrby", "i8", "0", "-1"), [
      null,
    ]);
    assert.deepEqual(r(db, "bitfield", "bf", "overflow", "wrap", "incrby", "i8", "0", "-1"), [127]);
    r(db, "bitfield", "bf", "set", "u8", "8", "250");
    assert.deepEqual(r(db, "bitfield", "bf", "overflow", "sat", "incrby", "u8", "8", "300"), [255]);
    assert.deepEqual(r(db, "bitfield", "bf", "overflow", "sat", "incrby", "u8", "8", "-300"), [0]);
    assert.deepEqual(r(db, "bitfield", "bf", "overflow", "fail", "set", "u8", "8", "256"), [null]);
    assert.deepEqual(r(db, "bitfield", "bf", "overflow", "sat", "set", "i4", "0", "100"), [7]);
    assert.deepEqual(r(db, "bitfield", "bf", "overflow", "wrap", "set", "i4", "0", "100"), [7]);
    assert.deepEqual(r(db, "bitfield", "bf", "get", "i4", "0"), [4]);
    r(db, "bitfield", "bf", "set", "i64", "100", "-9223372036854775808");
    assert.deepEqual(r(db, "bitfield", "bf", "overflow", "sat", "incrby", "i64", "100", "-1"), [
      "-9223372036854775808",
    ]);
    assert.deepEqual(r(db, "bitfield", "bf", "overflow", "wrap", "incrby", "i64", "100", "-1"), [
      "9223372036854775807",
    ]);
  });

  it("a write creates or zero-extends the key before its ops, even when FAIL refuses them", () => {
    const db = newDb();
    const events = recordEvents(db, NOTIFY_ALL | NOTIFY_KEYEVENT | NOTIFY_NEW);
    assert.deepEqual(r(db, "bitfield", "k", "overflow", "fail", "set", "u8", "0", "256"), [null]);
    assert.equal(r(db, "get", "k"), "\x00");
    assert.deepEqual(r(db, "bitfield", "k", "set", "u8", "0", "0"), [0]);
    assert.deepEqual(r(db, "bitfield", "k", "set", "u8", "0", "1"), [0]);
    assert.deepEqual(r(db, "bitfield", "nokey", "get", "u8", "0"), [0]);
    assert.equal(r(db, "exists", "nokey"), 0);
    assert.deepEqual(events, ["new k", "setbit k"]);
  });

  it("refuses what Redis refuses", () => {
    const db = newDb();
    r(db, "lpush", "l", "x");
    for (const t of ["u64", "i65", "x8", "u0", "i", "u8x"]) {
      assert.deepEqual(r(db, "bitfield", "bf", "set", t, "0", "1"), TYPE_ERR, t);
    }
    assert.deepEqual(r(db, "bitfield", "bf", "set", "u8", "-1", "1"), OFFSET_ERR);
    assert.deepEqual(r(db, "bitfield", "bf", "set", "u8", "#-1", "1"), OFFSET_ERR);
    assert.deepEqual(r(db, "bitfield", "bf", "set", "u8", "4294967296", "1"), OFFSET_ERR);
    assert.deepEqual(r(db, "bitfield", "bf", "set", "u8", "0", "x"), NOT_INT);
    assert.deepEqual(
      r(db, "bitfield", "bf", "overflow", "nope", "incrby", "u8", "0", "1"),
      err("ERR Invalid OVERFLOW type specified"),
    );
    assert.deepEqual(r(db, "bitfield", "bf", "overflow"), SYNTAX);
    assert.deepEqual(r(db, "bitfield", "bf", "get", "u8"), SYNTAX);
    assert.deepEqual(r(db, "bitfield", "bf", "foo", "u8", "0"), SYNTAX);
    assert.deepEqual(
      r(db, "bitfield_ro", "bf", "get", "u8", "0", "set", "u8", "0", "1"),
      err("ERR BITFIELD_RO only supports the GET subcommand"),
    );
    assert.deepEqual(r(db, "bitfield", "l", "get", "u8", "0"), WRONGTYPE);
    assert.deepEqual(r(db, "bitfield", "l", "set", "u8", "0", "1"), WRONGTYPE);
    assert.deepEqual(r(db, "bitfield_ro", "l", "get", "u8", "0"), WRONGTYPE);
    assert.equal(r(db, "exists", "bf"), 0);
  });
});

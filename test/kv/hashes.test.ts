import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeHash, hashGet, hashLength, hashPairs } from "../../src/kv/hashes.js";
import { NOTIFY_ALL, NOTIFY_KEYEVENT, NOTIFY_NEW } from "../../src/kv/notify.js";
import { encodeReply } from "../../src/resp/encoder.js";
import {
  err,
  NOT_FLOAT,
  NOT_INT,
  newDb,
  ok,
  r,
  recordEvents,
  SYNTAX,
  type TestDb,
  WRONGTYPE,
} from "./helpers.js";

describe("hash encoding", () => {
  it("round-trips fields in order, binary and empty ones included", () => {
    const pairs: [Buffer, Buffer][] = [
      [Buffer.from("a"), Buffer.from("1")],
      [Buffer.alloc(0), Buffer.from([0, 0xff, 0x0d, 0x0a])],
      [Buffer.from([0xfe, 0]), Buffer.alloc(0)],
    ];
    const data = encodeHash(pairs);
    assert.equal(hashLength(data), 3);
    assert.deepEqual(hashPairs(data), pairs);
    assert.deepEqual(hashGet(data, Buffer.alloc(0)), Buffer.from([0, 0xff, 0x0d, 0x0a]));
    assert.equal(hashGet(data, Buffer.from("b")), undefined);
  });

  it("refuses data that does not hold what its count says", () => {
    const data = encodeHash([[Buffer.from("field"), Buffer.from("value")]]);
    assert.throws(() => hashPairs(data.subarray(0, data.length - 1)), /truncated/);
    assert.throws(() => hashPairs(Buffer.concat([data, Buffer.from([0])])), /trailing/);
  });
});

describe("HSET, HGET and the reads", () => {
  it("sets fields, counts the new ones, and reads them back in insertion order", () => {
    const db = newDb();
    assert.equal(r(db, "hset", "h", "a", "1", "b", "2"), 2);
    assert.equal(r(db, "hset", "h", "b", "3", "c", "4"), 1);
    assert.equal(r(db, "hget", "h", "b"), "3");
    assert.equal(r(db, "hget", "h", "zz"), null);
    assert.equal(r(db, "hget", "missing", "a"), null);
    assert.equal(r(db, "hlen", "h"), 3);
    assert.equal(r(db, "hlen", "missing"), 0);
    assert.deepEqual(r(db, "hkeys", "h"), ["a", "b", "c"]);
    assert.deepEqual(r(db, "hvals", "h"), ["1", "3", "4"]);
    assert.deepEqual(r(db, "hgetall", "h"), ["a", "1", "b", "3", "c", "4"]);
    assert.deepEqual(r(db, "hgetall", "missing"), []);
    assert.deepEqual(r(db, "hmget", "h", "a", "x", "c"), ["1", null, "4"]);
    assert.deepEqual(r(db, "hmget", "missing", "a", "b"), [null, null]);
    assert.equal(r(db, "hexists", "h", "a"), 1);
    assert.equal(r(db, "hexists", "h", "x"), 0);
    assert.equal(r(db, "hstrlen", "h", "a"), 1);
    assert.equal(r(db, "hstrlen", "h", "x"), 0);
    assert.deepEqual(r(db, "type", "h"), { status: "hash" });
  });

  it("a command naming many fields (decoded once) keeps the same order and counts", () => {
    const db = newDb();
    db.run("hset", "h", "f3", "old", "f7", "old");
    const pairs: string[] = [];
    for (let i = 0; i < 20; i++) pairs.push(`f${i}`, `v${i}`);
    pairs.push("f3", "last");
    assert.equal(r(db, "hset", "h", ...pairs), 18);
    const keys = r(db, "hkeys", "h") as string[];
    assert.deepEqual(keys.slice(0, 3), ["f3", "f7", "f0"]);
    assert.equal(keys.length, 20);
    assert.equal(r(db, "hget", "h", "f3"), "last");
    const dels = keys.filter((_, i) => i % 2 === 0);
    assert.equal(r(db, "hdel", "h", ...dels, ...dels), 10);
    assert.equal(r(db, "hlen", "h"), 10);
    // The same with a few fields, edited in place: a field named twice takes its last value.
    assert.equal(r(db, "hset", "g", "a", "1", "b", "2", "a", "3"), 2);
    assert.deepEqual(r(db, "hgetall", "g"), ["a", "3", "b", "2"]);
  });

  it("HMSET answers OK; an unpaired field is an arity error naming the command", () => {
    const db = newDb();
    assert.deepEqual(r(db, "hmset", "h", "a", "1", "b", "2"), ok);
    assert.deepEqual(
      r(db, "hset", "h", "a", "1", "b"),
      err("ERR wrong number of arguments for 'hset' command"),
    );
    assert.deepEqual(
      r(db, "hmset", "h", "a", "1", "b"),
      err("ERR wrong number of arguments for 'hmset' command"),
    );
    assert.equal(r(db, "hlen", "h"), 2);
  });

  it("HGETALL is a map (RESP3) or a flat array (RESP2)", () => {
    const db = newDb();
    db.run("hset", "h", "f", "v");
    const reply = db.run("hgetall", "h");
    assert.equal(reply.kind, "map");
    assert.equal(encodeReply(reply, 2).toString(), "*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
    assert.equal(encodeReply(reply, 3).toString(), "%1\r\n$1\r\nf\r\n$1\r\nv\r\n");
  });

  it("keeps binary fields and values, and keeps no view of the arguments", () => {
    const db = newDb();
    const field = Buffer.from([0, 0xff, 0x0d, 0x0a]);
    const value = Buffer.from([1, 2, 0, 0xfe]);
    db.run("hset", "h", field, value);
    db.run("hset", "h", "other", "x");
    const got = db.run("hget", "h", field);
    assert.deepEqual(got.kind === "bulk" ? got.value : undefined, value);
  });

  it("string commands refuse a hash and hash commands a string", () => {
    const db = newDb();
    db.run("hset", "h", "f", "v");
    db.run("set", "s", "v");
    for (const cmd of [
      ["get", "h"],
      ["append", "h", "x"],
      ["incr", "h"],
      ["strlen", "h"],
      ["setrange", "h", "0", "x"],
      ["getbit", "h", "0"],
    ]) {
      assert.deepEqual(r(db, ...cmd), WRONGTYPE, cmd.join(" "));
    }
    for (const cmd of [
      ["hset", "s", "f", "v"],
      ["hget", "s", "f"],
      ["hmget", "s", "f"],
      ["hdel", "s", "f"],
      ["hlen", "s"],
      ["hgetall", "s"],
      ["hincrby", "s", "f", "1"],
      ["hincrbyfloat", "s", "f", "1"],
      ["hrandfield", "s"],
      ["hrandfield", "s", "0"],
      ["hscan", "s", "0"],
    ]) {
      assert.deepEqual(r(db, ...cmd), WRONGTYPE, cmd.join(" "));
    }
    assert.deepEqual(r(db, "mget", "h", "s"), [null, "v"]);
    // SET overwrites whatever the key holds.
    assert.deepEqual(r(db, "set", "h", "x"), ok);
    assert.deepEqual(r(db, "type", "h"), { status: "string" });
  });
});

describe("the size bound", () => {
  it("refuses a write that would take a hash past proto-max-bulk-len, and changes nothing", () => {
    const db = newDb({ maxBulkBytes: 64 });
    assert.equal(r(db, "hset", "h", "a", "x".repeat(20)), 1);
    const tooLong = err("ERR hash exceeds maximum allowed size (proto-max-bulk-len)");
    assert.deepEqual(r(db, "hset", "h", "b", "y".repeat(40)), tooLong);
    assert.deepEqual(r(db, "hsetnx", "h", "b", "y".repeat(40)), tooLong);
    assert.deepEqual(r(db, "hset", "fresh", "b", "y".repeat(60)), tooLong);
    assert.deepEqual(r(db, "hkeys", "h"), ["a"]);
    assert.equal(r(db, "exists", "fresh"), 0);
    // Many fields at once go the decoded way; the bound is the same.
    const many: string[] = [];
    for (let i = 0; i < 20; i++) many.push(`f${i}`, "v");
    assert.deepEqual(r(db, "hset", "h", ...many), tooLong);
    assert.equal(r(db, "hlen", "h"), 1);
  });
});

describe("HSETNX and HDEL", () => {
  it("HSETNX sets only a missing field", () => {
    const db = newDb();
    assert.equal(r(db, "hsetnx", "h", "f", "1"), 1);
    assert.equal(r(db, "hsetnx", "h", "f", "2"), 0);
    assert.equal(r(db, "hget", "h", "f"), "1");
  });

  it("HDEL counts what it removed and deletes the key with its last field", () => {
    const db = newDb();
    db.run("hset", "h", "a", "1", "b", "2", "c", "3");
    assert.equal(r(db, "hdel", "h", "a", "x", "a"), 1);
    assert.equal(r(db, "hdel", "missing", "a"), 0);
    assert.deepEqual(r(db, "hkeys", "h"), ["b", "c"]);
    assert.equal(r(db, "hdel", "h", "b", "c"), 2);
    assert.equal(r(db, "exists", "h"), 0);
    assert.deepEqual(r(db, "type", "h"), { status: "none" });
  });

  it("a change keeps the key's expiry; an expired hash is gone", () => {
    const db = newDb();
    db.run("hset", "h", "a", "1");
    db.run("pexpire", "h", "1000");
    db.run("hset", "h", "b", "2");
    db.run("hdel", "h", "a");
    db.run("hincrby", "h", "n", "5");
    assert.equal(r(db, "pttl", "h"), 1000);
    db.advance(1000);
    assert.equal(r(db, "hlen", "h"), 0);
    assert.equal(r(db, "hget", "h", "b"), null);
    assert.equal(r(db, "hset", "h", "c", "3"), 1);
    assert.equal(r(db, "pttl", "h"), -1);
    assert.deepEqual(r(db, "hkeys", "h"), ["c"]);
  });

  it("RENAME and COPY carry a hash whole", () => {
    const db = newDb();
    db.run("hset", "h", "a", "1", "b", "2");
    db.run("copy", "h", "h2");
    db.run("rename", "h", "h3");
    assert.deepEqual(r(db, "hgetall", "h2"), ["a", "1", "b", "2"]);
    assert.deepEqual(r(db, "hgetall", "h3"), ["a", "1", "b", "2"]);
    const [, found] = r(db, "scan", "0", "type", "hash", "count", "100") as [string, string[]];
    assert.deepEqual(found.sort(), ["h2", "h3"]);
  });
});

describe("HINCRBY and HINCRBYFLOAT", () => {
  it("HINCRBY adds to an integer field, from 0 when missing", () => {
    const db = newDb();
    assert.equal(r(db, "hincrby", "h", "n", "5"), 5);
    assert.equal(r(db, "hincrby", "h", "n", "-7"), -2);
    assert.equal(r(db, "hget", "h", "n"), "-2");
    assert.deepEqual(r(db, "hincrby", "h", "n", "x"), NOT_INT);
    db.run("hset", "h", "s", "abc", "big", "9223372036854775807", "sp", " 1");
    assert.deepEqual(r(db, "hincrby", "h", "s", "1"), err("ERR hash value is not an integer"));
    assert.deepEqual(r(db, "hincrby", "h", "sp", "1"), err("ERR hash value is not an integer"));
    assert.deepEqual(
      r(db, "hincrby", "h", "big", "1"),
      err("ERR increment or decrement would overflow"),
    );
    assert.equal(r(db, "hget", "h", "big"), "9223372036854775807");
  });

  it("HINCRBYFLOAT formats as INCRBYFLOAT does and refuses infinities", () => {
    const db = newDb();
    assert.equal(r(db, "hincrbyfloat", "h", "f", "10.5"), "10.5");
    assert.equal(r(db, "hincrbyfloat", "h", "f", "0.25"), "10.75");
    assert.equal(r(db, "hincrbyfloat", "h", "f", "5.0e3"), "5010.75");
    db.run("hset", "h", "i", "17");
    assert.equal(r(db, "hincrbyfloat", "h", "i", "-1"), "16");
    assert.deepEqual(r(db, "hincrbyfloat", "h", "f", "x"), NOT_FLOAT);
    assert.deepEqual(r(db, "hincrbyfloat", "h", "f", "+inf"), err("ERR value is NaN or Infinity"));
    assert.deepEqual(r(db, "hincrbyfloat", "h", "f", "nan"), NOT_FLOAT);
    db.run("hset", "h", "s", "abc");
    assert.deepEqual(r(db, "hincrbyfloat", "h", "s", "1"), err("ERR hash value is not a float"));
    assert.deepEqual(r(db, "hincrbyfloat", "h", "f", "1e5000"), NOT_FLOAT);
  });
});

describe("HRANDFIELD", () => {
  const fill = (db: TestDb, n: number) => {
    const args: string[] = [];
    for (let i = 0; i < n; i++) args.push(`f${i}`, `v${i}`);
    db.run("hset", "h", ...args);
  };

  it("without a count: one field, or null", () => {
    const db = newDb();
    assert.equal(r(db, "hrandfield", "h"), null);
    fill(db, 5);
    for (let i = 0; i < 20; i++) assert.match(String(r(db, "hrandfield", "h")), /^f[0-4]$/);
  });

  it("a positive count gives distinct fields, all of them past the size", () => {
    const db = newDb();
    assert.deepEqual(r(db, "hrandfield", "h", "3"), []);
    fill(db, 10);
    for (let i = 0; i < 20; i++) {
      const got = r(db, "hrandfield", "h", "4") as string[];
      assert.equal(got.length, 4);
      assert.equal(new Set(got).size, 4);
    }
    assert.equal((r(db, "hrandfield", "h", "100") as string[]).length, 10);
    assert.deepEqual(r(db, "hrandfield", "h", "0"), []);
  });

  it("a negative count may repeat and gives exactly |count|, drawn evenly", () => {
    const db = newDb();
    fill(db, 4);
    const got = r(db, "hrandfield", "h", "-4000") as string[];
    assert.equal(got.length, 4000);
    const counts = new Map<string, number>();
    for (const f of got) counts.set(f, (counts.get(f) ?? 0) + 1);
    assert.equal(counts.size, 4);
    for (const n of counts.values()) assert.ok(n > 850 && n < 1150, `${n}`);
  });

  it("WITHVALUES pairs each field with its value; RESP3 nests the pairs", () => {
    const db = newDb();
    fill(db, 3);
    const got = r(db, "hrandfield", "h", "-5", "withvalues") as string[];
    assert.equal(got.length, 10);
    for (let i = 0; i < got.length; i += 2) {
      assert.equal(got[i + 1], `v${String(got[i]).slice(1)}`);
    }
    db.run("del", "h");
    db.run("hset", "h", "f", "v");
    const reply = db.run("hrandfield", "h", "1", "withvalues");
    assert.equal(encodeReply(reply, 3).toString(), "*1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
    assert.equal(encodeReply(reply, 2).toString(), "*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
  });

  it("refuses a bad count or option as Redis does", () => {
    const db = newDb();
    fill(db, 3);
    assert.deepEqual(r(db, "hrandfield", "h", "x"), NOT_INT);
    assert.deepEqual(r(db, "hrandfield", "h", "1", "withscores"), SYNTAX);
    assert.deepEqual(r(db, "hrandfield", "h", "1", "withvalues", "x"), SYNTAX);
    assert.deepEqual(
      r(db, "hrandfield", "h", "-9223372036854775808"),
      err(
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
      ),
    );
    assert.deepEqual(
      r(db, "hrandfield", "h", "-9223372036854775807", "withvalues"),
      err("ERR value is out of range"),
    );
  });

  it("draws the same on every replica: the draws come from the command's random", () => {
    const a = newDb({ seed: 7 });
    const b = newDb({ seed: 7 });
    fill(a, 50);
    fill(b, 50);
    assert.deepEqual(r(a, "hrandfield", "h", "-20"), r(b, "hrandfield", "h", "-20"));
    assert.deepEqual(r(a, "hrandfield", "h", "7"), r(b, "hrandfield", "h", "7"));
  });
});

describe("HSCAN", () => {
  it("returns every pair at once with cursor 0, filtered by MATCH", () => {
    const db = newDb();
    db.run("hset", "h", "a1", "x", "b1", "y", "a2", "z");
    assert.deepEqual(r(db, "hscan", "h", "0"), ["0", ["a1", "x", "b1", "y", "a2", "z"]]);
    assert.deepEqual(r(db, "hscan", "h", "0", "match", "a*", "count", "1"), [
      "0",
      ["a1", "x", "a2", "z"],
    ]);
    assert.deepEqual(r(db, "hscan", "missing", "0", "bogus"), ["0", []]);
    assert.deepEqual(r(db, "hscan", "h", "0", "type", "string"), SYNTAX);
    assert.deepEqual(r(db, "hscan", "h", "0", "count", "0"), SYNTAX);
    assert.deepEqual(r(db, "hscan", "h", "x"), err("ERR invalid cursor"));
  });
});

describe("hash notifications", () => {
  it("sends hset, hdel, hincrby, hincrbyfloat, and del with the last field", () => {
    const db = newDb();
    const events = recordEvents(db, NOTIFY_ALL | NOTIFY_NEW | NOTIFY_KEYEVENT);
    db.run("hset", "h", "a", "1");
    db.run("hsetnx", "h", "a", "2");
    db.run("hincrby", "h", "n", "1");
    db.run("hincrbyfloat", "h", "n", "1.5");
    db.run("hdel", "h", "zz");
    db.run("hdel", "h", "a", "n");
    assert.deepEqual(events, ["new h", "hset h", "hincrby h", "hincrbyfloat h", "hdel h", "del h"]);
  });
});

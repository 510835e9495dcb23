import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NOTIFY_ALL, NOTIFY_KEYEVENT } from "../../src/kv/notify.js";
import { encodeReply } from "../../src/resp/encoder.js";
import { err, newDb, r, recordEvents, SYNTAX, type TestDb, WRONGTYPE } from "./helpers.js";

/** A set reply's members, sorted: Redis's order is its hash table's, so tests sort. */
function sorted(db: TestDb, ...parts: string[]): string[] {
  return (r(db, ...parts) as string[]).slice().sort();
}

describe("SADD, SREM and the reads of one set", () => {
  it("adds, counts the new members, and answers membership", () => {
    const db = newDb();
    assert.equal(r(db, "sadd", "s", "a", "b", "a"), 2);
    assert.equal(r(db, "sadd", "s", "b", "c"), 1);
    assert.equal(r(db, "sadd", "s", "c"), 0);
    assert.equal(r(db, "scard", "s"), 3);
    assert.equal(r(db, "scard", "missing"), 0);
    assert.equal(r(db, "sismember", "s", "b"), 1);
    assert.equal(r(db, "sismember", "s", "z"), 0);
    assert.deepEqual(r(db, "smismember", "s", "a", "z", "c"), [1, 0, 1]);
    assert.deepEqual(r(db, "smismember", "missing", "a"), [0]);
    assert.deepEqual(r(db, "smembers", "s"), ["a", "b", "c"]);
    assert.deepEqual(r(db, "smembers", "missing"), []);
    assert.deepEqual(r(db, "type", "s"), { status: "set" });
  });

  it("SMEMBERS is a set in RESP3 and an array in RESP2", () => {
    const db = newDb();
    db.run("sadd", "s", "x");
    const reply = db.run("smembers", "s");
    assert.equal(encodeReply(reply, 3).toString(), "~1\r\n$1\r\nx\r\n");
    assert.equal(encodeReply(reply, 2).toString(), "*1\r\n$1\r\nx\r\n");
  });

  it("SREM removes, and the last member takes the key; a change keeps the expiry", () => {
    const db = newDb();
    db.run("sadd", "s", "a", "b", "c");
    db.run("pexpire", "s", "5000");
    assert.equal(r(db, "srem", "s", "a", "z", "a"), 1);
    assert.equal(r(db, "pttl", "s"), 5000);
    assert.equal(r(db, "srem", "missing", "a"), 0);
    assert.equal(r(db, "srem", "s", "b", "c"), 2);
    assert.equal(r(db, "exists", "s"), 0);
  });

  it("refuses other types, and other commands refuse a set", () => {
    const db = newDb();
    db.run("set", "str", "v");
    db.run("sadd", "s", "a");
    for (const cmd of [
      ["sadd", "str", "a"],
      ["srem", "str", "a"],
      ["scard", "str"],
      ["sismember", "str", "a"],
      ["smismember", "str", "a"],
      ["smembers", "str"],
      ["spop", "str"],
      ["srandmember", "str"],
      ["sscan", "str", "0"],
      ["sinter", "s", "str"],
      ["sunion", "str", "s"],
      ["sdiff", "s", "str"],
      ["get", "s"],
      ["hget", "s", "a"],
    ]) {
      assert.deepEqual(r(db, ...cmd), WRONGTYPE, cmd.join(" "));
    }
    // A missing first key does not hide the wrong type of a later one.
    assert.deepEqual(r(db, "sinter", "missing", "str"), WRONGTYPE);
  });
});

describe("SMOVE", () => {
  it("moves a member, creating the destination and deleting an emptied source", () => {
    const db = newDb();
    db.run("sadd", "src", "a", "b");
    assert.equal(r(db, "smove", "src", "dst", "a"), 1);
    assert.equal(r(db, "smove", "src", "dst", "z"), 0);
    assert.equal(r(db, "smove", "missing", "dst", "a"), 0);
    db.run("sadd", "dst", "b");
    assert.equal(r(db, "smove", "src", "dst", "b"), 1);
    assert.equal(r(db, "exists", "src"), 0);
    assert.deepEqual(sorted(db, "smembers", "dst"), ["a", "b"]);
    assert.equal(r(db, "smove", "dst", "dst", "a"), 1);
    assert.equal(r(db, "smove", "dst", "dst", "z"), 0);
    db.run("set", "str", "v");
    assert.deepEqual(r(db, "smove", "dst", "str", "a"), WRONGTYPE);
    assert.equal(r(db, "smove", "missing", "str", "a"), 0);
  });
});

describe("SPOP and SRANDMEMBER", () => {
  const fill = (db: TestDb, n: number) => {
    const members: string[] = [];
    for (let i = 0; i < n; i++) members.push(`m${i}`);
    db.run("sadd", "s", ...members);
  };

  it("SPOP takes one member, or count distinct ones, and deletes an emptied set", () => {
    const db = newDb();
    assert.equal(r(db, "spop", "s"), null);
    assert.deepEqual(r(db, "spop", "s", "3"), []);
    fill(db, 10);
    const one = r(db, "spop", "s") as string;
    assert.equal(r(db, "sismember", "s", one), 0);
    const three = r(db, "spop", "s", "3") as string[];
    assert.equal(new Set(three).size, 3);
    assert.equal(r(db, "scard", "s"), 6);
    assert.deepEqual(r(db, "spop", "s", "0"), []);
    assert.equal((r(db, "spop", "s", "100") as string[]).length, 6);
    assert.equal(r(db, "exists", "s"), 0);
    assert.deepEqual(r(db, "spop", "s", "-1"), err("ERR value is out of range, must be positive"));
    assert.deepEqual(r(db, "spop", "s", "x"), err("ERR value is out of range, must be positive"));
    assert.deepEqual(r(db, "spop", "s", "1", "2"), SYNTAX);
  });

  it("SRANDMEMBER: distinct with a positive count, repeats with a negative one", () => {
    const db = newDb();
    assert.equal(r(db, "srandmember", "s"), null);
    assert.deepEqual(r(db, "srandmember", "s", "5"), []);
    fill(db, 5);
    assert.match(String(r(db, "srandmember", "s")), /^m[0-4]$/);
    const three = r(db, "srandmember", "s", "3") as string[];
    assert.equal(new Set(three).size, 3);
    assert.equal((r(db, "srandmember", "s", "50") as string[]).length, 5);
    assert.equal((r(db, "srandmember", "s", "-50") as string[]).length, 50);
    assert.equal(r(db, "scard", "s"), 5);
    assert.deepEqual(
      r(db, "srandmember", "s", "-9223372036854775808"),
      err(
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
      ),
    );
    assert.deepEqual(r(db, "srandmember", "s", "-2000000"), err("ERR value is out of range"));
  });

  it("draws the same on every replica", () => {
    const a = newDb({ seed: 3 });
    const b = newDb({ seed: 3 });
    fill(a, 40);
    fill(b, 40);
    assert.deepEqual(r(a, "spop", "s", "7"), r(b, "spop", "s", "7"));
    assert.deepEqual(r(a, "srandmember", "s", "-9"), r(b, "srandmember", "s", "-9"));
  });
});

describe("SINTER, SUNION, SDIFF and their STORE forms", () => {
  const three = (db: TestDb) => {
    db.run("sadd", "a", "1", "2", "3", "4");
    db.run("sadd", "b", "2", "3", "5");
    db.run("sadd", "c", "3", "6");
  };

  it("combines sets, a missing key being an empty set", () => {
    const db = newDb();
    three(db);
    assert.deepEqual(sorted(db, "sinter", "a", "b"), ["2", "3"]);
    assert.deepEqual(sorted(db, "sinter", "a", "b", "c"), ["3"]);
    assert.deepEqual(r(db, "sinter", "a", "missing"), []);
    assert.deepEqual(sorted(db, "sunion", "a", "c", "missing"), ["1", "2", "3", "4", "6"]);
    assert.deepEqual(sorted(db, "sdiff", "a", "b", "missing"), ["1", "4"]);
    assert.deepEqual(r(db, "sdiff", "missing", "a"), []);
    assert.equal(r(db, "sintercard", "2", "a", "b"), 2);
    assert.equal(r(db, "sintercard", "2", "a", "b", "limit", "1"), 1);
    assert.equal(r(db, "sintercard", "2", "a", "b", "limit", "0"), 2);
    assert.equal(r(db, "sintercard", "2", "a", "missing"), 0);
  });

  it("SINTERCARD checks its counts as Redis does", () => {
    const db = newDb();
    three(db);
    assert.deepEqual(r(db, "sintercard", "0", "a"), err("ERR numkeys should be greater than 0"));
    assert.deepEqual(r(db, "sintercard", "x", "a"), err("ERR numkeys should be greater than 0"));
    assert.deepEqual(
      r(db, "sintercard", "3", "a", "b"),
      err("ERR Number of keys can't be greater than number of args"),
    );
    assert.deepEqual(
      r(db, "sintercard", "1", "a", "limit", "-1"),
      err("ERR LIMIT can't be negative"),
    );
    assert.deepEqual(r(db, "sintercard", "1", "a", "bogus", "1"), SYNTAX);
    db.run("set", "str", "v");
    assert.deepEqual(r(db, "sintercard", "2", "a", "str"), WRONGTYPE);
  });

  it("STORE forms replace the destination, its type and expiry, and delete it when empty", () => {
    const db = newDb();
    three(db);
    db.run("set", "dst", "old");
    db.run("pexpire", "dst", "1000");
    assert.equal(r(db, "sinterstore", "dst", "a", "b"), 2);
    assert.deepEqual(r(db, "type", "dst"), { status: "set" });
    assert.equal(r(db, "pttl", "dst"), -1);
    assert.equal(r(db, "sunionstore", "dst", "a", "b"), 5);
    assert.equal(r(db, "sdiffstore", "dst", "a", "b"), 2);
    assert.deepEqual(sorted(db, "smembers", "dst"), ["1", "4"]);
    // The destination may be one of the sources.
    assert.equal(r(db, "sunionstore", "a", "a", "c"), 5);
    assert.equal(r(db, "sinterstore", "dst", "a", "missing"), 0);
    assert.equal(r(db, "exists", "dst"), 0);
  });
});

describe("SSCAN and notifications", () => {
  it("SSCAN returns every member at once, filtered by MATCH", () => {
    const db = newDb();
    db.run("sadd", "s", "a1", "b1", "a2");
    assert.deepEqual(r(db, "sscan", "s", "0", "match", "a*"), ["0", ["a1", "a2"]]);
    assert.deepEqual(r(db, "sscan", "missing", "0"), ["0", []]);
    assert.deepEqual(r(db, "sscan", "s", "0", "count", "0"), SYNTAX);
  });

  it("sends sadd, srem, spop, smove's pair, the STORE events and del", () => {
    const db = newDb();
    const events = recordEvents(db, NOTIFY_ALL | NOTIFY_KEYEVENT);
    db.run("sadd", "s", "a", "b");
    db.run("sadd", "s", "a");
    db.run("srem", "s", "zz");
    db.run("smove", "s", "t", "a");
    db.run("spop", "s");
    db.run("sinterstore", "u", "t", "t");
    db.run("sinterstore", "u", "t", "missing");
    assert.deepEqual(events, [
      "sadd s",
      "srem s",
      "sadd t",
      "spop s",
      "del s",
      "sinterstore u",
      "del u",
    ]);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeList, listElements, listLength } from "../../src/kv/lists.js";
import { NOTIFY_ALL, NOTIFY_KEYEVENT, NOTIFY_NEW } from "../../src/kv/notify.js";
import {
  err,
  NOT_INT,
  newDb,
  ok,
  r,
  recordEvents,
  SYNTAX,
  type TestDb,
  WRONGTYPE,
} from "./helpers.js";

function list(db: TestDb, key: string) {
  return r(db, "lrange", key, "0", "-1");
}

describe("list encoding", () => {
  it("round-trips elements in order, binary and empty ones included", () => {
    const db = newDb();
    const elements = [Buffer.from("a"), Buffer.alloc(0), Buffer.from([0, 0xff, 0x0d, 0x0a])];
    const data = encodeList(db.ctx, elements) as Buffer;
    assert.equal(listLength(data), 3);
    assert.deepEqual(listElements(data), elements);
  });

  it("refuses data that does not hold what its count says", () => {
    const db = newDb();
    const data = encodeList(db.ctx, [Buffer.from("element")]) as Buffer;
    assert.throws(() => listElements(data.subarray(0, data.length - 1)), /truncated/);
    assert.throws(() => listElements(Buffer.concat([data, Buffer.from([0])])), /trailing/);
  });

  it("walks from either end: pops, LINDEX and pushes agree with a decoded copy", () => {
    const db = newDb();
    const model: string[] = [];
    for (let i = 0; i < 200; i++) {
      const v = "x".repeat(i % 7) + String(i);
      if (i % 3 === 0) {
        r(db, "lpush", "l", v);
        model.unshift(v);
      } else {
        r(db, "rpush", "l", v);
        model.push(v);
      }
      if (i % 11 === 0) assert.equal(r(db, "rpop", "l"), model.pop() ?? null);
      if (i % 13 === 0) assert.equal(r(db, "lpop", "l"), model.shift() ?? null);
    }
    assert.deepEqual(list(db, "l"), model);
    for (let i = -model.length; i < model.length; i++) {
      assert.equal(r(db, "lindex", "l", String(i)), model.at(i));
    }
    const n = model.length;
    for (const [from, to] of [
      [0, 9],
      [-10, -1],
      [5, n - 6],
      [n - 3, n + 5],
      [3, 3],
      [-1, -1],
    ] as const) {
      const a = from < 0 ? n + from : from;
      const b = Math.min(to < 0 ? n + to : to, n - 1);
      assert.deepEqual(r(db, "lrange", "l", String(from), String(to)), model.slice(a, b + 1));
    }
  });
});

describe("pushes and pops", () => {
  it("LPUSH pushes each element to the head in turn, RPUSH to the tail", () => {
    const db = newDb();
    assert.equal(r(db, "lpush", "l", "a", "b", "c"), 3);
    assert.equal(r(db, "rpush", "l", "d", "e"), 5);
    assert.deepEqual(list(db, "l"), ["c", "b", "a", "d", "e"]);
    assert.deepEqual(r(db, "type", "l"), { status: "list" });
    assert.equal(r(db, "llen", "l"), 5);
    assert.equal(r(db, "llen", "missing"), 0);
  });

  it("LPUSHX and RPUSHX push only onto an existing list", () => {
    const db = newDb();
    assert.equal(r(db, "lpushx", "l", "a"), 0);
    assert.equal(r(db, "rpushx", "l", "a"), 0);
    assert.equal(r(db, "exists", "l"), 0);
    r(db, "rpush", "l", "m");
    assert.equal(r(db, "lpushx", "l", "a", "b"), 3);
    assert.equal(r(db, "rpushx", "l", "z"), 4);
    assert.deepEqual(list(db, "l"), ["b", "a", "m", "z"]);
    r(db, "set", "s", "v");
    assert.deepEqual(r(db, "lpushx", "s", "a"), WRONGTYPE);
  });

  it("LPOP and RPOP: one element, or an array with a count; the last pop deletes the key", () => {
    const db = newDb();
    r(db, "rpush", "l", "a", "b", "c", "d", "e");
    assert.equal(r(db, "lpop", "l"), "a");
    assert.equal(r(db, "rpop", "l"), "e");
    assert.deepEqual(r(db, "lpop", "l", "0"), []);
    assert.deepEqual(r(db, "rpop", "l", "2"), ["d", "c"]);
    assert.deepEqual(r(db, "lpop", "l", "10"), ["b"]);
    assert.equal(r(db, "exists", "l"), 0);
    assert.equal(db.run("lpop", "l").kind, "null");
    assert.equal(db.run("lpop", "l", "3").kind, "nullArray");
    const negative = err("ERR value is out of range, must be positive");
    assert.deepEqual(r(db, "lpop", "l", "-1"), negative);
    assert.deepEqual(r(db, "rpop", "l", "x"), negative);
  });

  it("answers WRONGTYPE for a key of another type", () => {
    const db = newDb();
    r(db, "set", "s", "v");
    for (const cmd of [
      ["lpush", "s", "a"],
      ["lpop", "s"],
      ["llen", "s"],
      ["lrange", "s", "0", "-1"],
      ["lindex", "s", "0"],
      ["lset", "s", "0", "a"],
      ["linsert", "s", "before", "a", "b"],
      ["lrem", "s", "0", "a"],
      ["ltrim", "s", "0", "1"],
      ["lpos", "s", "a"],
      ["lmove", "s", "d", "left", "right"],
      ["blpop", "s", "0"],
    ]) {
      assert.deepEqual(r(db, ...cmd), WRONGTYPE, cmd.join(" "));
    }
    r(db, "rpush", "l", "a");
    assert.deepEqual(r(db, "lmove", "l", "s", "left", "left"), WRONGTYPE);
    assert.deepEqual(list(db, "l"), ["a"], "nothing moved");
  });

  it("keeps the key's TTL across writes", () => {
    const db = newDb();
    r(db, "rpush", "l", "a", "b");
    r(db, "pexpire", "l", "5000");
    r(db, "lpush", "l", "c");
    r(db, "lpop", "l");
    r(db, "lset", "l", "0", "z");
    assert.ok((r(db, "pttl", "l") as number) > 4000);
    db.advance(5001);
    assert.equal(r(db, "llen", "l"), 0);
  });

  it("refuses a list that would pass proto-max-bulk-len", () => {
    const db = newDb({ maxBulkBytes: 64 });
    assert.equal(r(db, "rpush", "l", "x".repeat(40)), 1);
    assert.deepEqual(
      r(db, "rpush", "l", "y".repeat(20)),
      err("ERR list exceeds maximum allowed size (proto-max-bulk-len)"),
    );
    assert.deepEqual(list(db, "l"), ["x".repeat(40)]);
  });
});

describe("reads and edits in the middle", () => {
  it("LRANGE follows Redis's index rules", () => {
    const db = newDb();
    r(db, "rpush", "l", "0", "1", "2", "3", "4");
    assert.deepEqual(r(db, "lrange", "l", "1", "3"), ["1", "2", "3"]);
    assert.deepEqual(r(db, "lrange", "l", "-2", "-1"), ["3", "4"]);
    assert.deepEqual(r(db, "lrange", "l", "-100", "100"), ["0", "1", "2", "3", "4"]);
    assert.deepEqual(r(db, "lrange", "l", "3", "1"), []);
    assert.deepEqual(r(db, "lrange", "l", "5", "10"), []);
    assert.deepEqual(r(db, "lrange", "missing", "0", "-1"), []);
    assert.deepEqual(r(db, "lrange", "l", "a", "1"), NOT_INT);
  });

  it("LINDEX: null out of range or without a list", () => {
    const db = newDb();
    r(db, "rpush", "l", "a", "b");
    assert.equal(r(db, "lindex", "l", "-1"), "b");
    assert.equal(r(db, "lindex", "l", "2"), null);
    assert.equal(r(db, "lindex", "l", "-3"), null);
    assert.equal(r(db, "lindex", "missing", "x"), null, "a missing key before the index check");
    assert.deepEqual(r(db, "lindex", "l", "x"), NOT_INT);
  });

  it("LSET replaces an element; errors for no key and out of range", () => {
    const db = newDb();
    r(db, "rpush", "l", "a", "b", "c");
    assert.deepEqual(r(db, "lset", "l", "1", "B"), ok);
    assert.deepEqual(r(db, "lset", "l", "-1", "C"), ok);
    assert.deepEqual(list(db, "l"), ["a", "B", "C"]);
    assert.deepEqual(r(db, "lset", "l", "3", "x"), err("ERR index out of range"));
    assert.deepEqual(r(db, "lset", "missing", "0", "x"), err("ERR no such key"));
    assert.deepEqual(r(db, "lset", "l", "x", "x"), NOT_INT);
  });

  it("LINSERT before or after the first pivot", () => {
    const db = newDb();
    assert.equal(r(db, "linsert", "l", "before", "a", "x"), 0);
    r(db, "rpush", "l", "a", "b", "a");
    assert.equal(r(db, "linsert", "l", "BEFORE", "a", "x"), 4);
    assert.equal(r(db, "linsert", "l", "after", "b", "y"), 5);
    assert.equal(r(db, "linsert", "l", "after", "zz", "y"), -1);
    assert.deepEqual(list(db, "l"), ["x", "a", "b", "y", "a"]);
    assert.deepEqual(r(db, "linsert", "l", "middle", "a", "y"), SYNTAX);
  });

  it("LREM from the head, from the tail, or all", () => {
    const db = newDb();
    r(db, "rpush", "l", "a", "b", "a", "c", "a");
    assert.equal(r(db, "lrem", "l", "1", "a"), 1);
    assert.deepEqual(list(db, "l"), ["b", "a", "c", "a"]);
    assert.equal(r(db, "lrem", "l", "-1", "a"), 1);
    assert.deepEqual(list(db, "l"), ["b", "a", "c"]);
    assert.equal(r(db, "lrem", "l", "0", "zz"), 0);
    r(db, "rpush", "l", "a");
    assert.equal(r(db, "lrem", "l", "0", "a"), 2);
    assert.deepEqual(list(db, "l"), ["b", "c"]);
    assert.equal(r(db, "lrem", "l", "0", "b"), 1);
    assert.equal(r(db, "lrem", "l", "0", "c"), 1);
    assert.equal(r(db, "exists", "l"), 0);
    assert.equal(r(db, "lrem", "missing", "0", "c"), 0);
    assert.deepEqual(r(db, "lrem", "l", "x", "c"), NOT_INT);
  });

  it("LTRIM keeps a range; an empty range deletes the key", () => {
    const db = newDb();
    r(db, "rpush", "l", "0", "1", "2", "3", "4");
    assert.deepEqual(r(db, "ltrim", "l", "1", "-2"), ok);
    assert.deepEqual(list(db, "l"), ["1", "2", "3"]);
    assert.deepEqual(r(db, "ltrim", "l", "0", "100"), ok);
    assert.deepEqual(list(db, "l"), ["1", "2", "3"]);
    assert.deepEqual(r(db, "ltrim", "l", "2", "1"), ok);
    assert.equal(r(db, "exists", "l"), 0);
    assert.deepEqual(r(db, "ltrim", "missing", "0", "1"), ok);
  });

  it("LPOS with RANK, COUNT and MAXLEN", () => {
    const db = newDb();
    r(db, "rpush", "l", "a", "b", "c", "1", "2", "3", "c", "c");
    assert.equal(r(db, "lpos", "l", "c"), 2);
    assert.equal(r(db, "lpos", "l", "c", "rank", "2"), 6);
    assert.equal(r(db, "lpos", "l", "c", "rank", "-1"), 7);
    assert.deepEqual(r(db, "lpos", "l", "c", "count", "0"), [2, 6, 7]);
    assert.deepEqual(r(db, "lpos", "l", "c", "count", "2"), [2, 6]);
    assert.deepEqual(r(db, "lpos", "l", "c", "count", "0", "rank", "-2"), [6, 2]);
    assert.deepEqual(r(db, "lpos", "l", "c", "count", "0", "maxlen", "7"), [2, 6]);
    assert.equal(r(db, "lpos", "l", "c", "maxlen", "2"), null);
    assert.equal(r(db, "lpos", "l", "zz"), null);
    assert.deepEqual(r(db, "lpos", "l", "zz", "count", "0"), []);
    assert.equal(r(db, "lpos", "missing", "zz"), null);
    assert.deepEqual(r(db, "lpos", "missing", "zz", "count", "1"), []);
    assert.match(
      (r(db, "lpos", "l", "c", "rank", "0") as { error: string }).error,
      /^ERR RANK can't be zero/,
    );
    assert.deepEqual(r(db, "lpos", "l", "c", "count", "-1"), err("ERR COUNT can't be negative"));
    assert.deepEqual(r(db, "lpos", "l", "c", "maxlen", "-1"), err("ERR MAXLEN can't be negative"));
    assert.deepEqual(r(db, "lpos", "l", "c", "rank"), SYNTAX);
  });
});

describe("moves and multi-key pops", () => {
  it("LMOVE from either end to either end, and RPOPLPUSH", () => {
    const db = newDb();
    r(db, "rpush", "src", "a", "b", "c");
    assert.equal(r(db, "lmove", "src", "dst", "left", "right"), "a");
    assert.equal(r(db, "lmove", "src", "dst", "right", "left"), "c");
    assert.deepEqual(list(db, "dst"), ["c", "a"]);
    assert.equal(r(db, "rpoplpush", "src", "dst"), "b");
    assert.equal(r(db, "exists", "src"), 0);
    assert.deepEqual(list(db, "dst"), ["b", "c", "a"]);
    assert.equal(r(db, "rpoplpush", "src", "dst"), null);
    assert.deepEqual(r(db, "lmove", "dst", "x", "up", "left"), SYNTAX);
  });

  it("LMOVE onto the same list rotates it", () => {
    const db = newDb();
    r(db, "rpush", "l", "a", "b", "c");
    assert.equal(r(db, "lmove", "l", "l", "left", "right"), "a");
    assert.deepEqual(list(db, "l"), ["b", "c", "a"]);
    assert.equal(r(db, "rpoplpush", "l", "l"), "a");
    assert.deepEqual(list(db, "l"), ["a", "b", "c"]);
    r(db, "rpush", "one", "x");
    assert.equal(r(db, "lmove", "one", "one", "right", "left"), "x");
    assert.deepEqual(list(db, "one"), ["x"]);
  });

  it("LMPOP pops from the first key holding a list", () => {
    const db = newDb();
    r(db, "rpush", "b", "1", "2", "3");
    assert.deepEqual(r(db, "lmpop", "2", "a", "b", "left"), ["b", ["1"]]);
    assert.deepEqual(r(db, "lmpop", "2", "a", "b", "right", "count", "5"), ["b", ["3", "2"]]);
    assert.equal(db.run("lmpop", "2", "a", "b", "left").kind, "nullArray");
    const numkeys = err("ERR numkeys should be greater than 0");
    assert.deepEqual(r(db, "lmpop", "0", "a", "left"), numkeys);
    assert.deepEqual(r(db, "lmpop", "x", "a", "left"), numkeys);
    assert.deepEqual(r(db, "lmpop", "3", "a", "left"), SYNTAX);
    assert.deepEqual(r(db, "lmpop", "1", "a", "up"), SYNTAX);
    const count = err("ERR count should be greater than 0");
    assert.deepEqual(r(db, "lmpop", "1", "a", "left", "count", "0"), count);
    assert.deepEqual(r(db, "lmpop", "1", "a", "left", "count", "1", "count", "1"), SYNTAX);
  });

  it("the blocking pops pop when they can and answer null when they cannot", () => {
    const db = newDb();
    r(db, "rpush", "b", "1", "2", "3");
    assert.deepEqual(r(db, "blpop", "a", "b", "0"), ["b", "1"]);
    assert.deepEqual(r(db, "brpop", "a", "b", "0.5"), ["b", "3"]);
    assert.deepEqual(r(db, "blmpop", "0", "2", "a", "b", "left", "count", "9"), ["b", ["2"]]);
    assert.equal(db.run("blpop", "a", "b", "0").kind, "nullArray");
    assert.equal(db.run("blmpop", "1", "1", "a", "right").kind, "nullArray");
    assert.equal(db.run("brpoplpush", "a", "b", "0").kind, "null");
    assert.equal(db.run("blmove", "a", "b", "left", "left", "0").kind, "null");
    r(db, "rpush", "a", "x");
    assert.equal(r(db, "blmove", "a", "b", "left", "left", "1"), "x");
    assert.deepEqual(r(db, "blpop", "a", "-1"), err("ERR timeout is negative"));
    assert.deepEqual(r(db, "blpop", "a", "abc"), err("ERR timeout is not a float or out of range"));
    assert.deepEqual(
      r(db, "blmpop", "x", "1", "a", "left"),
      err("ERR timeout is not a float or out of range"),
    );
  });
});

describe("list notifications", () => {
  it("sends Redis's events, del when the last element goes", () => {
    const db = newDb();
    const events = recordEvents(db, NOTIFY_ALL | NOTIFY_KEYEVENT | NOTIFY_NEW);
    r(db, "rpush", "l", "a", "b");
    r(db, "lpush", "l", "c");
    r(db, "linsert", "l", "after", "c", "d");
    r(db, "lset", "l", "0", "e");
    r(db, "lrem", "l", "1", "e");
    r(db, "ltrim", "l", "0", "-1");
    r(db, "lmove", "l", "m", "left", "right");
    r(db, "lpop", "l", "5");
    assert.deepEqual(events, [
      "new l",
      "rpush l",
      "lpush l",
      "linsert l",
      "lset l",
      "lrem l",
      "ltrim l",
      "new m",
      "rpush m",
      "lpop l",
      "lpop l",
      "del l",
    ]);
  });
});

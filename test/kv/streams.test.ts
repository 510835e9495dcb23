import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NOTIFY_ALL, NOTIFY_KEYEVENT } from "../../src/kv/notify.js";
import { streamEntries, streamLength } from "../../src/kv/streams.js";
import { ReplyWriter } from "../../src/resp/encoder.js";
import { err, newDb, r, recordEvents, START_MS, SYNTAX, WRONGTYPE } from "./helpers.js";

const ID_INVALID = err("ERR Invalid stream ID specified as stream command argument");
const TOO_SMALL = err(
  "ERR The ID specified in XADD is equal or smaller than the target stream top item",
);

function data(db: ReturnType<typeof newDb>, key: string): Buffer {
  const v = db.store.get(Buffer.from(key));
  assert.ok(v !== undefined && v.type === "stream");
  return v.data;
}

describe("streams: XADD and the IDs", () => {
  it("makes IDs from the command's time, then sequences within a millisecond", () => {
    const db = newDb();
    assert.equal(r(db, "xadd", "s", "*", "a", "1"), `${START_MS}-0`);
    assert.equal(r(db, "xadd", "s", "*", "a", "2"), `${START_MS}-1`);
    db.advance(5);
    assert.equal(r(db, "xadd", "s", "*", "a", "3"), `${START_MS + 5}-0`);
    // A clock behind the last ID: the last ID's millisecond, next sequence.
    db.advance(-10);
    assert.equal(r(db, "xadd", "s", "*", "a", "4"), `${START_MS + 5}-1`);
    assert.equal(r(db, "xlen", "s"), 4);
    assert.equal(streamLength(data(db, "s")), 4);
  });

  it("takes explicit IDs, ms-* and 64-bit parts, and refuses what is not above the top", () => {
    const db = newDb();
    assert.equal(r(db, "xadd", "s", "5", "f", "v"), "5-0");
    assert.equal(r(db, "xadd", "s", "5-*", "f", "v"), "5-1");
    assert.deepEqual(r(db, "xadd", "s", "5-1", "f", "v"), TOO_SMALL);
    assert.equal(r(db, "xadd", "s", "18446744073709551615-1", "f", "v"), "18446744073709551615-1");
    assert.deepEqual(r(db, "xadd", "s", "18446744073709551616-0", "f", "v"), ID_INVALID);
    assert.deepEqual(
      r(db, "xadd", "t", "0-0", "f", "v"),
      err("ERR The ID specified in XADD must be greater than 0-0"),
    );
    assert.equal(r(db, "exists", "t"), 0, "a refused XADD makes no stream");
    for (const bad of ["-", "+", "1-x", "-1", "1-2-3", ""]) {
      assert.deepEqual(r(db, "xadd", "t", bad, "f", "v"), ID_INVALID, bad);
    }
    assert.deepEqual(
      r(db, "xadd", "t", "*", "f", "v", "g"),
      err("ERR wrong number of arguments for 'xadd' command"),
    );
    assert.equal(r(db, "xadd", "t", "nomkstream", "*", "f", "v"), null);
    assert.equal(r(db, "exists", "t"), 0);
    r(db, "set", "str", "x");
    assert.deepEqual(r(db, "xadd", "str", "*", "f", "v"), WRONGTYPE);
  });

  it("keeps fields in order, binary ones included, and reads them back by range", () => {
    const db = newDb();
    const bin = Buffer.from([0, 13, 10, 255]);
    r(db, "xadd", "s", "1-1", "a", "1", bin, bin);
    r(db, "xadd", "s", "2-0", "b", "2");
    r(db, "xadd", "s", "3-0", "c", "3");
    const all = streamEntries(data(db, "s"));
    assert.deepEqual(
      all.map((e) => [e.id, ...e.parts.map((p) => p.toString("latin1"))]),
      [
        ["1-1", "a", "1", bin.toString("latin1"), bin.toString("latin1")],
        ["2-0", "b", "2"],
        ["3-0", "c", "3"],
      ],
    );
    assert.deepEqual(r(db, "xrange", "s", "2", "+"), [
      ["2-0", ["b", "2"]],
      ["3-0", ["c", "3"]],
    ]);
    assert.deepEqual(r(db, "xrange", "s", "(1-1", "(3-0"), [["2-0", ["b", "2"]]]);
    assert.deepEqual(r(db, "xrevrange", "s", "+", "-", "count", "1"), [["3-0", ["c", "3"]]]);
    assert.equal(r(db, "xrange", "s", "-", "+", "count", "0"), null);
    assert.deepEqual(r(db, "xrange", "nosuch", "-", "+"), []);
    assert.deepEqual(r(db, "xrange", "s", "-", "+", "limit", "1"), SYNTAX);
    assert.deepEqual(
      r(db, "xrange", "s", "(18446744073709551615-18446744073709551615", "+"),
      err("ERR invalid start ID for the interval"),
    );
  });
});

describe("streams: trimming, deleting, XSETID", () => {
  it("trims exactly with MAXLEN and MINID, and by whole nodes of 100 with ~", () => {
    const db = newDb();
    for (let i = 1; i <= 250; i++) r(db, "xadd", "s", `${i}-0`, "i", String(i));
    assert.equal(r(db, "xtrim", "s", "maxlen", "~", "120"), 100, "one whole node");
    assert.equal(r(db, "xlen", "s"), 150);
    assert.equal(r(db, "xtrim", "s", "maxlen", "120"), 30);
    assert.deepEqual(r(db, "xrange", "s", "-", "+", "count", "1"), [["131-0", ["i", "131"]]]);
    assert.equal(r(db, "xtrim", "s", "minid", "200"), 69);
    assert.equal(r(db, "xlen", "s"), 51);
    assert.equal(r(db, "xadd", "s", "maxlen", "=", "10", "300-0", "i", "300"), "300-0");
    assert.equal(r(db, "xlen", "s"), 10);
    assert.deepEqual(
      r(db, "xtrim", "s", "maxlen", "5", "limit", "2"),
      err("ERR syntax error, LIMIT cannot be used without the special ~ option"),
    );
    assert.deepEqual(
      r(db, "xtrim", "s", "maxlen", "5", "minid", "1"),
      err("ERR syntax error, MAXLEN and MINID options at the same time are not compatible"),
    );
    assert.deepEqual(
      r(db, "xtrim", "s", "limit", "5"),
      err("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"),
    );
    assert.deepEqual(r(db, "xtrim", "s", "nomkstream", "1"), SYNTAX);
  });

  it("deletes entries, remembers the largest deleted, and never reuses an ID", () => {
    const db = newDb();
    for (let i = 1; i <= 3; i++) r(db, "xadd", "s", `${i}-0`, "f", "v");
    assert.equal(r(db, "xdel", "s", "2-0", "9-0", "2-0"), 1);
    assert.equal(r(db, "xdel", "s", "3-0"), 1);
    assert.deepEqual(r(db, "xadd", "s", "3-0", "f", "v"), TOO_SMALL);
    const info = r(db, "xinfo", "stream", "s") as (string | number | unknown)[];
    const field = (name: string) => info[info.indexOf(name) + 1];
    assert.equal(field("length"), 1);
    assert.equal(field("last-generated-id"), "3-0");
    assert.equal(field("max-deleted-entry-id"), "3-0");
    assert.equal(field("entries-added"), 3);
    assert.deepEqual(
      r(db, "xsetid", "s", "0-5"),
      err("ERR The ID specified in XSETID is smaller than the target stream top item"),
    );
    assert.equal(
      (r(db, "xsetid", "s", "10-0", "entriesadded", "7") as { status: string }).status,
      "OK",
    );
    assert.equal(r(db, "xadd", "s", "*", "f", "v"), `${START_MS}-0`);
    assert.deepEqual(r(db, "xsetid", "nosuch", "1-0"), err("ERR no such key"));
  });
});

describe("streams: XREAD", () => {
  it("reads after each ID, per stream, in RESP2 as [key, entries] pairs", () => {
    const db = newDb();
    r(db, "xadd", "a", "1-0", "f", "1");
    r(db, "xadd", "a", "2-0", "f", "2");
    r(db, "xadd", "b", "5-0", "g", "5");
    const reply = db.run("xread", "count", "1", "streams", "a", "b", "nosuch", "0", "4", "0");
    assert.ok(reply.kind === "map");
    const w = new ReplyWriter();
    w.write(reply, 2);
    assert.equal(
      w.take().toString(),
      "*2\r\n*2\r\n$1\r\na\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$1\r\n1\r\n" +
        "*2\r\n$1\r\nb\r\n*1\r\n*2\r\n$3\r\n5-0\r\n*2\r\n$1\r\ng\r\n$1\r\n5\r\n",
    );
    assert.equal(r(db, "xread", "streams", "a", "$"), null, "nothing after the last ID");
    assert.equal(r(db, "xread", "block", "0", "streams", "a", "2-0"), null);
    assert.deepEqual(
      r(db, "xread", "streams", "a", "b", "0"),
      err(
        "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
      ),
    );
    assert.deepEqual(
      r(db, "xread", "block", "x", "streams", "a", "0"),
      err("ERR timeout is not an integer or out of range"),
    );
    r(db, "set", "str", "x");
    assert.deepEqual(r(db, "xread", "streams", "a", "str", "0", "0"), WRONGTYPE);
  });
});

describe("streams: the key space", () => {
  it("is a stream to TYPE and OBJECT, sends its events, and copies whole", () => {
    const db = newDb();
    const events = recordEvents(db, NOTIFY_ALL | NOTIFY_KEYEVENT);
    r(db, "xadd", "s", "maxlen", "1", "1-0", "f", "v");
    r(db, "xadd", "s", "maxlen", "1", "2-0", "f", "v");
    r(db, "xdel", "s", "2-0");
    assert.deepEqual(events, ["xadd s", "xadd s", "xtrim s", "xdel s"]);
    assert.deepEqual(r(db, "type", "s"), { status: "stream" });
    assert.equal(r(db, "object", "encoding", "s"), "stream");
    r(db, "xadd", "s", "3-0", "f", "v");
    assert.equal(r(db, "copy", "s", "t"), 1);
    assert.deepEqual(r(db, "xrange", "t", "-", "+"), [["3-0", ["f", "v"]]]);
  });
});

describe("streams: consumer groups", () => {
  it("delivers at the command's time, counts deliveries, and keeps all of it in the value", () => {
    const db = newDb();
    r(db, "xgroup", "create", "s", "g", "0", "mkstream");
    r(db, "xadd", "s", "1-0", "f", "1");
    r(db, "xadd", "s", "2-0", "f", "2");
    assert.deepEqual(
      r(db, "xreadgroup", "group", "g", "alice", "count", "1", "streams", "s", ">"),
      ["s", [["1-0", ["f", "1"]]]],
    );
    db.advance(500);
    r(db, "xreadgroup", "group", "g", "bob", "streams", "s", ">");
    db.advance(100);
    // Idle times are measured against the command's time: 600 and 100 ms.
    assert.deepEqual(r(db, "xpending", "s", "g", "-", "+", "10"), [
      ["1-0", "alice", 600, 1],
      ["2-0", "bob", 100, 1],
    ]);
    assert.deepEqual(r(db, "xpending", "s", "g", "idle", "200", "-", "+", "10"), [
      ["1-0", "alice", 600, 1],
    ]);
    // alice reads her history again: a second delivery.
    r(db, "xreadgroup", "group", "g", "alice", "streams", "s", "0");
    assert.deepEqual(r(db, "xpending", "s", "g", "-", "+", "1"), [["1-0", "alice", 0, 2]]);
    // XAUTOCLAIM from a cursor: bob's entry, idle 100 ms, goes to carol.
    assert.deepEqual(r(db, "xautoclaim", "s", "g", "carol", "50", "0", "justid"), [
      "0-0",
      ["2-0"],
      [],
    ]);
    // The whole group state is in the stored value: a copy has it.
    r(db, "copy", "s", "t");
    const info = r(db, "xinfo", "consumers", "t", "g") as unknown[][];
    assert.deepEqual(
      info.map((c) => [c[1], c[3]]),
      [
        ["alice", 1],
        ["bob", 0],
        ["carol", 1],
      ],
    );
    assert.equal(r(db, "xack", "t", "g", "1-0", "2-0", "9-9"), 2);
    assert.deepEqual(r(db, "xpending", "t", "g"), [0, null, null, null]);
    assert.deepEqual(r(db, "xpending", "s", "g"), [
      2,
      "1-0",
      "2-0",
      [
        ["alice", "1"],
        ["carol", "1"],
      ],
    ]);
  });

  it("answers Redis's errors for missing groups and keys", () => {
    const db = newDb();
    assert.deepEqual(
      r(db, "xreadgroup", "group", "g", "c", "streams", "s", ">"),
      err("NOGROUP No such key 's' or consumer group 'g' in XREADGROUP with GROUP option"),
    );
    assert.deepEqual(
      r(db, "xgroup", "create", "s", "g", "$"),
      err(
        "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
      ),
    );
    r(db, "xgroup", "create", "s", "g", "$", "mkstream");
    assert.deepEqual(
      r(db, "xgroup", "create", "s", "g", "$"),
      err("BUSYGROUP Consumer Group name already exists"),
    );
    assert.deepEqual(
      r(db, "xgroup", "createconsumer", "s", "nosuch", "c"),
      err("NOGROUP No such consumer group 'nosuch' for key name 's'"),
    );
    assert.deepEqual(
      r(db, "xreadgroup", "group", "g", "c", "streams", "s", "$"),
      err(
        "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
      ),
    );
    assert.deepEqual(
      r(db, "xread", "streams", "s", ">"),
      err(
        "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
      ),
    );
    assert.deepEqual(
      r(db, "xclaim", "s", "g", "c", "x", "1-0"),
      err("ERR Invalid min-idle-time argument for XCLAIM"),
    );
  });
});

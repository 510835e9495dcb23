import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NOTIFY_ALL, NOTIFY_KEYEVENT } from "../../src/kv/notify.js";
import { err, NOT_INT, newDb, r, recordEvents, SYNTAX, WRONGTYPE } from "./helpers.js";

describe("SORT", () => {
  it("sorts numbers, or bytes with ALPHA, with DESC and LIMIT", () => {
    const db = newDb();
    r(db, "rpush", "l", "3", "1", "2", "10", "-5", "1.5");
    assert.deepEqual(r(db, "sort", "l"), ["-5", "1", "1.5", "2", "3", "10"]);
    assert.deepEqual(r(db, "sort", "l", "desc", "limit", "1", "2"), ["3", "2"]);
    assert.deepEqual(r(db, "sort", "l", "alpha"), ["-5", "1", "1.5", "10", "2", "3"]);
    assert.deepEqual(r(db, "sort", "l", "limit", "-1", "2"), ["-5", "1"]);
    assert.deepEqual(r(db, "sort", "l", "limit", "10", "2"), []);
    assert.deepEqual(r(db, "sort", "l", "limit", "x", "2"), NOT_INT);
    r(db, "rpush", "bad", "a", "1");
    assert.deepEqual(
      r(db, "sort", "bad"),
      err("ERR One or more scores can't be converted into double"),
    );
    r(db, "set", "str", "x");
    assert.deepEqual(r(db, "sort", "str"), WRONGTYPE);
    assert.deepEqual(r(db, "sort", "l", "foo"), SYNTAX);
    assert.deepEqual(r(db, "sort", "nokey"), []);
  });

  it("sorts by other keys and hash fields, and GETs them", () => {
    const db = newDb();
    r(db, "rpush", "l", "1", "2", "3");
    r(db, "mset", "w_1", "30", "w_2", "10", "w_3", "20");
    r(db, "hset", "h_1", "f", "c");
    r(db, "hset", "h_3", "f", "a");
    assert.deepEqual(r(db, "sort", "l", "by", "w_*"), ["2", "3", "1"]);
    assert.deepEqual(r(db, "sort", "l", "by", "w_*", "get", "#", "get", "w_*"), [
      "2",
      "10",
      "3",
      "20",
      "1",
      "30",
    ]);
    assert.deepEqual(r(db, "sort", "l", "by", "h_*->f", "alpha"), ["2", "3", "1"]);
    assert.deepEqual(r(db, "sort", "l", "get", "h_*->f", "get", "nostar"), [
      "c",
      null,
      null,
      null,
      "a",
      null,
    ]);
  });

  it("keeps a list's or sorted set's order with a BY that names no key", () => {
    const db = newDb();
    r(db, "rpush", "l", "3", "1", "2");
    assert.deepEqual(r(db, "sort", "l", "by", "nosort"), ["3", "1", "2"]);
    assert.deepEqual(r(db, "sort", "l", "by", "nosort", "desc", "limit", "0", "2"), ["2", "1"]);
    r(db, "zadd", "z", "3", "a", "1", "b", "2", "c");
    assert.deepEqual(r(db, "sort", "z", "by", "nosort"), ["b", "c", "a"]);
    r(db, "sadd", "s", "b", "a");
    assert.equal(r(db, "sort", "s", "by", "nosort", "store", "out"), 2);
    assert.deepEqual(r(db, "lrange", "out", "0", "-1"), ["a", "b"], "a stored set is sorted");
  });

  it("STORE replaces the destination with a list, or deletes it for nothing; SORT_RO refuses it", () => {
    const db = newDb();
    const events = recordEvents(db, NOTIFY_ALL | NOTIFY_KEYEVENT);
    r(db, "rpush", "l", "2", "1");
    r(db, "set", "dst", "old");
    r(db, "expire", "dst", "100");
    assert.equal(r(db, "sort", "l", "get", "missing_*", "store", "dst"), 2);
    assert.deepEqual(r(db, "lrange", "dst", "0", "-1"), ["", ""]);
    assert.equal(r(db, "ttl", "dst"), -1);
    assert.equal(r(db, "sort", "nokey", "store", "dst"), 0);
    assert.equal(r(db, "exists", "dst"), 0);
    assert.deepEqual(events.slice(-2), ["sortstore dst", "del dst"]);
    assert.deepEqual(r(db, "sort_ro", "l", "store", "dst"), SYNTAX);
    assert.deepEqual(r(db, "sort_ro", "l", "desc"), ["2", "1"]);
  });

  it("refuses BY patterns and GET on a cluster shard, as Redis Cluster does", () => {
    const db = newDb();
    db.ctx.sharded = true;
    r(db, "rpush", "l", "2", "1");
    assert.deepEqual(
      r(db, "sort", "l", "by", "w_*"),
      err("ERR BY option of SORT denied in Cluster mode."),
    );
    assert.deepEqual(
      r(db, "sort", "l", "get", "#"),
      err("ERR GET option of SORT denied in Cluster mode."),
    );
    assert.deepEqual(r(db, "sort", "l", "by", "nosort", "desc"), ["1", "2"]);
  });
});

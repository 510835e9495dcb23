import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NOTIFY_ALL, NOTIFY_KEYEVENT, NOTIFY_NEW } from "../../src/kv/notify.js";
import { parseScore, zsetEntries, zsetLength } from "../../src/kv/zsets.js";
import {
  err,
  NOT_FLOAT,
  NOT_INT,
  newDb,
  r,
  recordEvents,
  SYNTAX,
  type TestDb,
  WRONGTYPE,
} from "./helpers.js";

/** The whole sorted set as [member, score, ...]. */
function all(db: TestDb, key: string) {
  return r(db, "zrange", key, "0", "-1", "withscores");
}

/** A model of a sorted set: member → score, ordered as Redis orders it. */
class Model {
  readonly scores = new Map<string, number>();
  ordered(): [string, number][] {
    return [...this.scores].sort(([ma, sa], [mb, sb]) =>
      sa !== sb ? (sa < sb ? -1 : 1) : Buffer.compare(Buffer.from(ma), Buffer.from(mb)),
    );
  }
}

describe("sorted set encoding", () => {
  it("keeps members in score order, then byte order, binary members included", () => {
    const db = newDb();
    r(db, "zadd", "z", "2", "b", "1", Buffer.from([0xff]), "1", "", "-inf", "low", "inf", "high");
    r(db, "zadd", "z", "1", Buffer.from([0, 0x0d, 0x0a]));
    const value = db.store.get(Buffer.from("z"));
    assert.ok(value !== undefined);
    assert.equal(zsetLength(value.data), 6);
    const e = zsetEntries(value.data);
    assert.deepEqual(e.scores, [-Infinity, 1, 1, 1, 2, Infinity]);
    assert.deepEqual(
      e.members.map((m) => m.toString("latin1")),
      ["low", "", "\x00\r\n", "\xff", "b", "high"],
    );
  });

  it("refuses data that does not hold what its count says", () => {
    const db = newDb();
    r(db, "zadd", "z", "1", "member");
    const data = (db.store.get(Buffer.from("z")) as { data: Buffer }).data;
    assert.throws(() => zsetEntries(data.subarray(0, data.length - 1)), /truncated/);
    assert.throws(() => zsetEntries(Buffer.concat([data, Buffer.from([0])])), /trailing/);
  });

  it("agrees with a model over random adds, increments, removals and ranges", () => {
    const db = newDb({ seed: 7 });
    const model = new Model();
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let step = 0; step < 1500; step++) {
      const m = `m${rand(60)}`;
      const op = rand(6);
      if (op <= 1) {
        const s = rand(20) - 10;
        const added = r(db, "zadd", "z", String(s), m);
        assert.equal(added, model.scores.has(m) ? 0 : 1);
        model.scores.set(m, s);
      } else if (op === 2) {
        const by = rand(5) - 2;
        const got = r(db, "zincrby", "z", String(by), m);
        model.scores.set(m, (model.scores.get(m) ?? 0) + by);
        assert.equal(got, model.scores.get(m));
      } else if (op === 3) {
        assert.equal(r(db, "zrem", "z", m), model.scores.delete(m) ? 1 : 0);
      } else if (op === 4) {
        const ordered = model.ordered();
        const rank = ordered.findIndex(([x]) => x === m);
        assert.equal(r(db, "zrank", "z", m), rank < 0 ? null : rank);
        assert.equal(r(db, "zrevrank", "z", m), rank < 0 ? null : ordered.length - 1 - rank);
      } else {
        const lo = rand(30) - 15;
        const hi = lo + rand(10);
        const inRange = model.ordered().filter(([, s]) => s > lo && s <= hi);
        assert.deepEqual(
          r(db, "zrangebyscore", "z", `(${lo}`, String(hi)),
          inRange.map(([x]) => x),
        );
        assert.equal(r(db, "zcount", "z", `(${lo}`, String(hi)), inRange.length);
        assert.deepEqual(
          r(db, "zrevrangebyscore", "z", String(hi), `(${lo}`),
          inRange.map(([x]) => x).reverse(),
        );
      }
      if (step % 100 === 0) {
        assert.deepEqual(all(db, "z"), model.ordered().flat());
        assert.equal(r(db, "zcard", "z"), model.scores.size);
      }
    }
    assert.deepEqual(all(db, "z"), model.ordered().flat());
  });
});

describe("scores", () => {
  it("reads scores as Redis's string2d does", () => {
    const p = (s: string) => parseScore(Buffer.from(s, "latin1"));
    assert.equal(p("1.5"), 1.5);
    assert.equal(p("-3e2"), -300);
    assert.equal(p(".5"), 0.5);
    assert.equal(p("5."), 5);
    assert.equal(p("+inf"), Infinity);
    assert.equal(p("-Infinity"), -Infinity);
    assert.equal(p("0x10"), 16);
    assert.equal(p("1e-310"), 1e-310);
    assert.ok(Object.is(p("-0"), -0));
    for (const bad of ["", " 1", "1 ", "nan", "1e400", "1e-400", "1e", "abc", "0x", "1_0", "0b1"]) {
      assert.equal(p(bad), undefined, bad);
    }
  });

  it("refuses a bad score before changing anything, and NaN from INCR", () => {
    const db = newDb();
    assert.deepEqual(r(db, "zadd", "z", "1", "a", "x", "b"), NOT_FLOAT);
    assert.equal(r(db, "exists", "z"), 0);
    r(db, "zadd", "z", "inf", "a");
    assert.deepEqual(
      r(db, "zincrby", "z", "-inf", "a"),
      err("ERR resulting score is not a number (NaN)"),
    );
    assert.deepEqual(all(db, "z"), ["a", Infinity]);
  });

  it("ranges read their ends as strtod does: '(' for exclusive, spaces skipped, overflow is inf", () => {
    const db = newDb();
    r(db, "zadd", "z", "0", "zero", "1", "one", "1e300", "big");
    assert.deepEqual(r(db, "zrangebyscore", "z", "", "1"), ["zero", "one"]);
    assert.deepEqual(r(db, "zrangebyscore", "z", "( 0", "1e400"), ["one", "big"]);
    assert.deepEqual(r(db, "zrangebyscore", "z", "nan", "1"), err("ERR min or max is not a float"));
    assert.deepEqual(r(db, "zcount", "z", "1x", "2"), err("ERR min or max is not a float"));
    assert.deepEqual(r(db, "zrangebyscore", "z", "(1", "1"), []);
    assert.deepEqual(r(db, "zrangebyscore", "z", "2", "1"), []);
  });
});

describe("ZADD", () => {
  it("NX, XX, GT, LT, CH and INCR as Redis combines them", () => {
    const db = newDb();
    assert.equal(r(db, "zadd", "z", "xx", "1", "a"), 0);
    assert.equal(r(db, "exists", "z"), 0);
    assert.equal(r(db, "zadd", "z", "1", "a", "2", "b"), 2);
    assert.equal(r(db, "zadd", "z", "nx", "5", "a", "3", "c"), 1);
    assert.equal(r(db, "zadd", "z", "xx", "ch", "7", "a", "8", "d"), 1);
    assert.equal(r(db, "zadd", "z", "gt", "ch", "1", "a", "9", "b"), 1);
    assert.equal(r(db, "zadd", "z", "lt", "ch", "10", "a", "0", "b"), 1);
    assert.equal(r(db, "zadd", "z", "ch", "0", "b", "3", "c"), 0);
    assert.deepEqual(all(db, "z"), ["b", 0, "c", 3, "a", 7]);
    assert.equal(r(db, "zadd", "z", "incr", "2", "a"), 9);
    assert.equal(r(db, "zadd", "z", "gt", "incr", "-1", "a"), null);
    assert.equal(r(db, "zadd", "z", "xx", "incr", "1", "nope"), null);
    assert.equal(r(db, "zadd", "z", "nx", "incr", "1", "a"), null);
    assert.equal(r(db, "zadd", "z", "ch", "1", "x", "2", "x"), 2, "added, then changed");
    assert.equal(r(db, "zscore", "z", "x"), 2);
  });

  it("answers Redis's errors for its options", () => {
    const db = newDb();
    assert.deepEqual(
      r(db, "zadd", "z", "nx", "xx", "1", "a"),
      err("ERR XX and NX options at the same time are not compatible"),
    );
    assert.deepEqual(
      r(db, "zadd", "z", "gt", "lt", "1", "a"),
      err("ERR GT, LT, and/or NX options at the same time are not compatible"),
    );
    assert.deepEqual(
      r(db, "zadd", "z", "incr", "1", "a", "2", "b"),
      err("ERR INCR option supports a single increment-element pair"),
    );
    assert.deepEqual(r(db, "zadd", "z", "1", "a", "2"), SYNTAX);
    assert.deepEqual(r(db, "zadd", "z", "nx", "1"), SYNTAX);
    r(db, "set", "s", "x");
    assert.deepEqual(r(db, "zadd", "s", "1", "a"), WRONGTYPE);
  });

  it("keeps the key's expiry across writes", () => {
    const db = newDb();
    r(db, "zadd", "z", "1", "a");
    r(db, "pexpire", "z", "5000");
    r(db, "zadd", "z", "2", "b");
    r(db, "zrem", "z", "a");
    assert.equal(r(db, "pttl", "z"), 5000);
  });
});

describe("ranges", () => {
  it("ZRANGE by rank, score and lex, with REV and LIMIT", () => {
    const db = newDb();
    r(db, "zadd", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e");
    assert.deepEqual(r(db, "zrange", "z", "-2", "100"), ["d", "e"]);
    assert.deepEqual(r(db, "zrange", "z", "0", "1", "rev", "withscores"), ["e", 5, "d", 4]);
    assert.deepEqual(r(db, "zrange", "z", "(1", "4", "byscore", "limit", "1", "2"), ["c", "d"]);
    assert.deepEqual(r(db, "zrange", "z", "4", "(1", "byscore", "rev"), ["d", "c", "b"]);
    assert.deepEqual(r(db, "zrange", "z", "-", "+", "bylex", "limit", "3", "-1"), ["d", "e"]);
    assert.deepEqual(r(db, "zrange", "z", "-", "+", "bylex", "limit", "-1", "2"), []);
    assert.deepEqual(r(db, "zrange", "z", "-", "+", "bylex", "limit", "0", "0"), []);
    assert.deepEqual(r(db, "zrevrange", "z", "0", "0"), ["e"]);
    assert.deepEqual(r(db, "zrevrangebylex", "z", "[c", "(a"), ["c", "b"]);
    assert.deepEqual(
      r(db, "zrange", "z", "0", "1", "limit", "0", "1"),
      err("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"),
    );
    assert.deepEqual(
      r(db, "zrangebylex", "z", "-", "+", "withscores"),
      err("ERR syntax error, WITHSCORES not supported in combination with BYLEX"),
    );
    assert.deepEqual(r(db, "zrevrange", "z", "0", "1", "rev"), SYNTAX);
    assert.deepEqual(r(db, "zrangebyscore", "z", "0", "1", "byscore"), SYNTAX);
    assert.deepEqual(r(db, "zrange", "z", "a", "1"), NOT_INT);
    assert.deepEqual(
      r(db, "zrangebylex", "z", "a", "+"),
      err("ERR min or max not valid string range item"),
    );
    assert.deepEqual(r(db, "zrangebylex", "z", "+", "-"), []);
    assert.deepEqual(r(db, "zrangebylex", "z", "[b", "(b"), []);
    assert.deepEqual(r(db, "zrange", "nokey", "0", "-1"), []);
  });

  it("ZLEXCOUNT, ZREMRANGEBYLEX, ZREMRANGEBYRANK, ZREMRANGEBYSCORE", () => {
    const db = newDb();
    r(db, "zadd", "l", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e");
    assert.equal(r(db, "zlexcount", "l", "[b", "(e"), 3);
    assert.equal(r(db, "zremrangebylex", "l", "(a", "[c"), 2);
    assert.deepEqual(r(db, "zrange", "l", "0", "-1"), ["a", "d", "e"]);
    assert.equal(r(db, "zremrangebyrank", "l", "-2", "-1"), 2);
    assert.equal(r(db, "zremrangebyscore", "l", "-inf", "+inf"), 1);
    assert.equal(r(db, "exists", "l"), 0);
    assert.deepEqual(r(db, "zremrangebyrank", "l", "x", "1"), NOT_INT);
    r(db, "set", "s", "v");
    assert.deepEqual(r(db, "zremrangebyscore", "s", "0", "1"), WRONGTYPE);
  });

  it("ZRANGESTORE stores the range as a new key, and deletes the destination for none", () => {
    const db = newDb();
    r(db, "zadd", "z", "1", "a", "2", "b", "3", "c");
    r(db, "zadd", "dst", "9", "old");
    r(db, "expire", "dst", "100");
    assert.equal(r(db, "zrangestore", "dst", "z", "3", "2", "byscore", "rev"), 2);
    assert.deepEqual(all(db, "dst"), ["b", 2, "c", 3]);
    assert.equal(r(db, "ttl", "dst"), -1);
    assert.equal(r(db, "zrangestore", "dst", "nokey", "0", "-1"), 0);
    assert.equal(r(db, "exists", "dst"), 0);
    assert.deepEqual(r(db, "zrangestore", "dst", "z", "0", "-1", "withscores"), SYNTAX);
  });
});

describe("reads", () => {
  it("ZSCORE, ZMSCORE, ZRANK, ZCARD, ZRANDMEMBER, ZSCAN", () => {
    const db = newDb();
    r(db, "zadd", "z", "1.1", "a", "2", "b");
    assert.equal(r(db, "zscore", "z", "a"), 1.1);
    assert.equal(r(db, "zscore", "z", "x"), null);
    assert.deepEqual(r(db, "zmscore", "z", "b", "x"), [2, null]);
    assert.deepEqual(r(db, "zmscore", "nokey", "b"), [null]);
    assert.equal(r(db, "zcard", "nokey"), 0);
    assert.deepEqual(r(db, "zscan", "z", "0"), ["0", ["a", "1.1000000000000001", "b", "2"]]);
    assert.deepEqual(r(db, "zscan", "z", "0", "match", "b*"), ["0", ["b", "2"]]);
    const drawn = r(db, "zrandmember", "z", "-5", "withscores") as (string | number)[];
    assert.equal(drawn.length, 10);
    assert.deepEqual(r(db, "zrandmember", "z", "5"), ["a", "b"]);
    assert.deepEqual(r(db, "zrandmember", "z", "1", "x"), SYNTAX);
    assert.equal(r(db, "zrandmember", "nokey"), null);
    assert.deepEqual(r(db, "zrandmember", "nokey", "3"), []);
  });

  it("finds members that share a prefix or a last byte, and the empty member", () => {
    const db = newDb();
    r(db, "zadd", "z", "1", "user:1001", "2", "user:2001", "3", "", "4", "user:1", "5", "1");
    assert.equal(r(db, "zscore", "z", "user:2001"), 2);
    assert.equal(r(db, "zscore", "z", ""), 3);
    assert.equal(r(db, "zscore", "z", "user:3001"), null);
    assert.equal(r(db, "zrank", "z", "1"), 4);
    assert.equal(r(db, "zrem", "z", ""), 1);
    assert.equal(r(db, "zincrby", "z", "10", "user:1"), 14);
    assert.deepEqual(r(db, "zrange", "z", "0", "-1"), ["user:1001", "user:2001", "1", "user:1"]);
  });
});

describe("pops", () => {
  it("ZPOPMIN, ZPOPMAX, ZMPOP, and the blocking ones run without blocking", () => {
    const db = newDb();
    r(db, "zadd", "z", "1", "a", "2", "b", "3", "c", "4", "d");
    assert.deepEqual(r(db, "zpopmin", "z"), ["a", 1]);
    assert.deepEqual(r(db, "zpopmax", "z", "2"), ["d", 4, "c", 3]);
    assert.deepEqual(r(db, "zpopmin", "z", "0"), []);
    assert.deepEqual(
      r(db, "zpopmin", "z", "-1"),
      err("ERR value is out of range, must be positive"),
    );
    assert.deepEqual(r(db, "zpopmin", "nokey"), []);
    r(db, "zadd", "y", "5", "e", "6", "f");
    assert.deepEqual(r(db, "zmpop", "3", "nokey", "z", "y", "max", "count", "9"), [
      "z",
      [["b", 2]],
    ]);
    assert.equal(r(db, "exists", "z"), 0);
    assert.deepEqual(r(db, "bzpopmin", "nokey", "y", "0"), ["y", "e", 5]);
    assert.deepEqual(r(db, "bzmpop", "0", "1", "y", "min"), ["y", [["f", 6]]]);
    assert.equal(r(db, "bzpopmax", "y", "0"), null);
    assert.equal(r(db, "zmpop", "1", "y", "min"), null);
    assert.deepEqual(r(db, "zmpop", "0", "y", "min"), err("ERR numkeys should be greater than 0"));
    assert.deepEqual(r(db, "zmpop", "1", "y", "left"), SYNTAX);
    assert.deepEqual(
      r(db, "zmpop", "1", "y", "min", "count", "0"),
      err("ERR count should be greater than 0"),
    );
    assert.deepEqual(r(db, "bzpopmin", "y", "-1"), err("ERR timeout is negative"));
  });
});

describe("several sorted sets", () => {
  it("ZUNION, ZINTER, ZDIFF with weights and aggregates, sets counting as score 1", () => {
    const db = newDb();
    r(db, "zadd", "s1", "1", "a", "2", "b", "3", "c");
    r(db, "zadd", "s2", "10", "b", "20", "c", "30", "d");
    r(db, "sadd", "plain", "c", "d", "e");
    assert.deepEqual(r(db, "zunion", "2", "s1", "s2", "withscores"), [
      "a",
      1,
      "b",
      12,
      "c",
      23,
      "d",
      30,
    ]);
    assert.deepEqual(
      r(db, "zunion", "3", "s1", "s2", "plain", "weights", "1", "2", "3", "aggregate", "max"),
      ["a", "e", "b", "c", "d"],
    );
    assert.deepEqual(r(db, "zinter", "3", "s1", "s2", "plain", "withscores"), ["c", 24]);
    assert.deepEqual(r(db, "zinter", "2", "s1", "s2", "aggregate", "min", "withscores"), [
      "b",
      2,
      "c",
      3,
    ]);
    assert.deepEqual(r(db, "zdiff", "2", "s1", "s2", "withscores"), ["a", 1]);
    assert.deepEqual(r(db, "zdiff", "2", "s1", "s2", "weights", "1", "1"), SYNTAX);
    assert.deepEqual(
      r(db, "zunion", "2", "s1", "s2", "weights", "1", "x"),
      err("ERR weight value is not a float"),
    );
    assert.deepEqual(
      r(db, "zunion", "0", "s1"),
      err("ERR at least 1 input key is needed for 'zunion' command"),
    );
    assert.deepEqual(r(db, "zunion", "3", "s1"), SYNTAX);
    r(db, "set", "str", "x");
    assert.deepEqual(r(db, "zunion", "2", "s1", "str"), WRONGTYPE);
  });

  it("inf times a zero weight, and inf plus -inf, count as 0", () => {
    const db = newDb();
    r(db, "zadd", "p", "inf", "x");
    r(db, "zadd", "n", "-inf", "x");
    assert.deepEqual(r(db, "zunion", "1", "p", "weights", "0", "withscores"), ["x", 0]);
    assert.deepEqual(r(db, "zunion", "2", "p", "n", "withscores"), ["x", 0]);
  });

  it("the STORE forms replace the destination; an empty result deletes it; ZINTERCARD", () => {
    const db = newDb();
    r(db, "zadd", "s1", "1", "a", "2", "b");
    r(db, "zadd", "s2", "3", "b", "4", "c");
    assert.equal(r(db, "zunionstore", "out", "2", "s1", "s2"), 3);
    assert.deepEqual(all(db, "out"), ["a", 1, "c", 4, "b", 5]);
    assert.deepEqual(r(db, "zunionstore", "out", "2", "s1", "s2", "withscores"), SYNTAX);
    assert.equal(r(db, "zinterstore", "out", "2", "s1", "nokey"), 0);
    assert.equal(r(db, "exists", "out"), 0);
    assert.equal(r(db, "zdiffstore", "out", "2", "s2", "s1"), 1);
    assert.deepEqual(all(db, "out"), ["c", 4]);
    assert.equal(r(db, "zintercard", "2", "s1", "s2"), 1);
    assert.equal(r(db, "zintercard", "2", "s1", "s1", "limit", "1"), 1);
    assert.deepEqual(
      r(db, "zintercard", "2", "s1", "s2", "limit", "-1"),
      err("ERR LIMIT can't be negative"),
    );
    assert.deepEqual(
      r(db, "zintercard", "0", "s1"),
      err("ERR at least 1 input key is needed for 'zintercard' command"),
    );
  });
});

describe("sorted set notifications", () => {
  it("sends Redis's events, del when the last member goes", () => {
    const db = newDb();
    const events = recordEvents(db, NOTIFY_ALL | NOTIFY_KEYEVENT | NOTIFY_NEW);
    r(db, "zadd", "z", "1", "a", "2", "b", "3", "c", "4", "d");
    r(db, "zadd", "z", "1", "a");
    r(db, "zincrby", "z", "1", "a");
    r(db, "zrem", "z", "a", "nope");
    r(db, "zremrangebyscore", "z", "2", "2");
    r(db, "zunionstore", "u", "1", "z");
    r(db, "zpopmin", "z");
    r(db, "zpopmax", "z");
    r(db, "zrangestore", "u", "z", "0", "-1");
    assert.deepEqual(events, [
      "new z",
      "zadd z",
      "zincr z",
      "zrem z",
      "zremrangebyscore z",
      "new u",
      "zunionstore u",
      "zpopmin z",
      "zpopmax z",
      "del z",
      "del u",
    ]);
  });
});

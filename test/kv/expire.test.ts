import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { activeExpireCycle } from "../../src/kv/expire.js";
import { err, newDb, plain, START_MS, type TestDb } from "./helpers.js";

function r(db: TestDb, ...parts: (string | Buffer)[]) {
  return plain(db.run(...parts));
}

const S = START_MS / 1000;

describe("EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT", () => {
  it("set the expiry: 1 for an existing key, 0 for a missing one", () => {
    const db = newDb();
    r(db, "mset", "a", "1", "b", "1", "c", "1", "d", "1");
    assert.deepEqual(r(db, "expire", "a", "10"), 1);
    assert.deepEqual(r(db, "pexpire", "b", "1500"), 1);
    assert.deepEqual(r(db, "expireat", "c", String(S + 20)), 1);
    assert.deepEqual(r(db, "pexpireat", "d", String(START_MS + 2500)), 1);
    assert.deepEqual(r(db, "pttl", "a"), 10_000);
    assert.deepEqual(r(db, "pttl", "b"), 1500);
    assert.deepEqual(r(db, "pttl", "c"), 20_000);
    assert.deepEqual(r(db, "pttl", "d"), 2500);
    assert.deepEqual(r(db, "expire", "missing", "10"), 0);
    assert.deepEqual(r(db, "exists", "missing"), 0);
  });

  it("a time at or before now deletes the key and answers 1", () => {
    const db = newDb();
    r(db, "mset", "a", "1", "b", "1", "c", "1", "d", "1");
    assert.deepEqual(r(db, "expire", "a", "0"), 1);
    assert.deepEqual(r(db, "pexpire", "b", "-100"), 1);
    assert.deepEqual(r(db, "expireat", "c", "1"), 1);
    assert.deepEqual(r(db, "pexpireat", "d", String(START_MS)), 1);
    assert.deepEqual(r(db, "exists", "a", "b", "c", "d"), 0);
    assert.deepEqual(r(db, "dbsize"), 0, "deleted, not merely expired");
  });

  it("an expired key counts as missing", () => {
    const db = newDb();
    r(db, "set", "a", "1", "px", "10");
    db.advance(10);
    assert.deepEqual(r(db, "expire", "a", "100"), 0);
    assert.deepEqual(r(db, "ttl", "a"), -2);
  });

  it("NX, XX, GT, LT", () => {
    const db = newDb();
    r(db, "set", "k", "v");
    assert.deepEqual(r(db, "expire", "k", "100", "xx"), 0);
    assert.deepEqual(r(db, "expire", "k", "100", "gt"), 0, "no expiry is infinite: GT fails");
    assert.deepEqual(r(db, "expire", "k", "100", "nx"), 1);
    assert.deepEqual(r(db, "expire", "k", "200", "nx"), 0);
    assert.deepEqual(r(db, "expire", "k", "200", "XX"), 1);
    assert.deepEqual(r(db, "expire", "k", "200", "gt"), 0, "equal is not greater");
    assert.deepEqual(r(db, "expire", "k", "300", "gt"), 1);
    assert.deepEqual(r(db, "expire", "k", "300", "lt"), 0, "equal is not less");
    assert.deepEqual(r(db, "expire", "k", "50", "lt", "xx"), 1);
    assert.deepEqual(r(db, "ttl", "k"), 50);
    assert.deepEqual(r(db, "expire", "k", "60", "gt", "xx", "gt"), 1);
    assert.deepEqual(r(db, "persist", "k"), 1);
    assert.deepEqual(r(db, "expire", "k", "10", "lt"), 1, "anything is less than infinite");
    assert.deepEqual(r(db, "ttl", "k"), 10);
  });

  it("refuses incompatible or unknown options before reading the time", () => {
    const db = newDb();
    r(db, "set", "k", "v");
    const nxConflict = err("ERR NX and XX, GT or LT options at the same time are not compatible");
    assert.deepEqual(r(db, "expire", "k", "10", "nx", "xx"), nxConflict);
    assert.deepEqual(r(db, "expire", "k", "10", "gt", "nx"), nxConflict);
    assert.deepEqual(r(db, "pexpire", "k", "10", "lt", "nx"), nxConflict);
    assert.deepEqual(
      r(db, "expire", "k", "10", "gt", "lt"),
      err("ERR GT and LT options at the same time are not compatible"),
    );
    assert.deepEqual(r(db, "expire", "k", "x", "foo"), err("ERR Unsupported option foo"));
    assert.deepEqual(r(db, "expire", "k", "x"), err("ERR value is not an integer or out of range"));
    assert.deepEqual(r(db, "ttl", "k"), -1);
  });

  it("detects overflow when converting to absolute milliseconds", () => {
    const db = newDb();
    r(db, "set", "k", "v");
    const inv = (c: string) => err(`ERR invalid expire time in '${c}' command`);
    assert.deepEqual(r(db, "expire", "k", "9223372036854775807"), inv("expire"));
    assert.deepEqual(r(db, "expire", "k", "9223372036854775"), inv("expire"));
    assert.deepEqual(r(db, "expire", "k", "-9223372036854775808"), inv("expire"));
    assert.deepEqual(r(db, "pexpire", "k", "9223372036854775807"), inv("pexpire"));
    assert.deepEqual(
      r(db, "expireat", "k", "9223372036854775808"),
      err("ERR value is not an integer or out of range"),
    );
    assert.deepEqual(r(db, "expireat", "k", "9223372036854776"), inv("expireat"));
    assert.deepEqual(r(db, "ttl", "k"), -1);
    assert.deepEqual(r(db, "pexpireat", "k", "9223372036854775807"), 1);
    assert.deepEqual(r(db, "pexpiretime", "k"), "9223372036854775807");
    assert.deepEqual(r(db, "expire", "k", "-9223372036854775"), 1);
    assert.deepEqual(r(db, "exists", "k"), 0);
  });
});

describe("TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST", () => {
  it("-2 for a missing key, -1 without expiry", () => {
    const db = newDb();
    r(db, "set", "k", "v");
    for (const c of ["ttl", "pttl", "expiretime", "pexpiretime"]) {
      assert.deepEqual(r(db, c, "missing"), -2, c);
      assert.deepEqual(r(db, c, "k"), -1, c);
    }
  });

  it("TTL rounds to the nearest second as the clock advances", () => {
    const db = newDb();
    r(db, "set", "k", "v", "px", "2500");
    assert.deepEqual(r(db, "ttl", "k"), 3);
    db.advance(1);
    assert.deepEqual(r(db, "ttl", "k"), 2);
    assert.deepEqual(r(db, "pttl", "k"), 2499);
    db.advance(1998);
    assert.deepEqual(r(db, "ttl", "k"), 1);
    db.advance(1);
    assert.deepEqual(r(db, "pttl", "k"), 500);
    assert.deepEqual(r(db, "ttl", "k"), 1);
    db.advance(1);
    assert.deepEqual(r(db, "ttl", "k"), 0);
    db.advance(498);
    assert.deepEqual(r(db, "pttl", "k"), 1);
    db.advance(1);
    assert.deepEqual(r(db, "pttl", "k"), -2, "expired exactly at its expiry time");
    assert.deepEqual(r(db, "get", "k"), null);
  });

  it("EXPIRETIME and PEXPIRETIME give the absolute time", () => {
    const db = newDb();
    r(db, "set", "k", "v", "pxat", String(START_MS + 1499));
    assert.deepEqual(r(db, "pexpiretime", "k"), START_MS + 1499);
    assert.deepEqual(r(db, "expiretime", "k"), S + 1);
    db.advance(1000);
    assert.deepEqual(r(db, "pexpiretime", "k"), START_MS + 1499);
  });

  it("PERSIST removes an expiry: 1 if there was one", () => {
    const db = newDb();
    r(db, "set", "k", "v", "ex", "10");
    assert.deepEqual(r(db, "persist", "k"), 1);
    assert.deepEqual(r(db, "persist", "k"), 0);
    assert.deepEqual(r(db, "ttl", "k"), -1);
    assert.deepEqual(r(db, "persist", "missing"), 0);
    r(db, "set", "e", "v", "px", "1");
    db.advance(1);
    assert.deepEqual(r(db, "persist", "e"), 0);
    assert.deepEqual(r(db, "get", "e"), null);
  });
});

describe("activeExpireCycle", () => {
  it("deletes expired keys only, at most maxKeys per call", () => {
    const db = newDb();
    for (let i = 0; i < 10; i++) r(db, "set", `e${i}`, "v", "px", String(10 + i));
    r(db, "set", "live", "v", "px", "1000");
    r(db, "set", "forever", "v");
    db.advance(100);
    assert.equal(activeExpireCycle(db.store, db.ctx.nowMs, 4), 4);
    assert.equal(db.store.size(), 8);
    assert.equal(activeExpireCycle(db.store, db.ctx.nowMs, 100), 6);
    assert.equal(activeExpireCycle(db.store, db.ctx.nowMs, 100), 0);
    assert.equal(activeExpireCycle(db.store, db.ctx.nowMs, 0), 0);
    assert.deepEqual(r(db, "dbsize"), 2);
    db.advance(900);
    assert.equal(activeExpireCycle(db.store, db.ctx.nowMs, 100), 1);
    assert.deepEqual(r(db, "keys", "*"), ["forever"]);
  });

  it("removes the oldest expiries first", () => {
    const db = newDb();
    r(db, "set", "late", "v", "px", "50");
    r(db, "set", "early", "v", "px", "5");
    db.advance(60);
    assert.equal(activeExpireCycle(db.store, db.ctx.nowMs, 1), 1);
    assert.equal(db.store.get(Buffer.from("early")), undefined);
    assert.notEqual(db.store.get(Buffer.from("late")), undefined);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { objectKeyless } from "../../src/kv/keyspace.js";
import type { StoredValue } from "../../src/storage/types.js";
import { err, newDb, ok, plain, r, TestArgs, type TestDb } from "./helpers.js";

function putOtherType(db: TestDb, key: string): void {
  const value = { type: "list", data: Buffer.from("x"), expireAtMs: 0 } as unknown as StoredValue;
  db.store.set(Buffer.from(key), value);
}

describe("DEL, UNLINK, EXISTS, TOUCH, TYPE", () => {
  for (const command of ["del", "unlink"]) {
    it(`${command} counts the keys it removed, each once`, () => {
      const db = newDb();
      r(db, "mset", "a", "1", "b", "2");
      putOtherType(db, "l");
      assert.deepEqual(r(db, command, "a", "b", "a", "missing", "l"), 3);
      assert.deepEqual(r(db, "exists", "a", "b", "l"), 0);
    });
  }

  it("DEL removes an expired key without counting it", () => {
    const db = newDb();
    r(db, "set", "a", "1", "px", "10");
    db.advance(10);
    assert.deepEqual(r(db, "del", "a"), 0);
    assert.equal(db.store.get(Buffer.from("a")), undefined);
  });

  for (const command of ["exists", "touch"]) {
    it(`${command} counts repeats, skips expired keys, and never deletes`, () => {
      const db = newDb();
      r(db, "set", "a", "1");
      r(db, "set", "e", "1", "px", "5");
      db.advance(5);
      assert.deepEqual(r(db, command, "a", "a", "e", "missing"), 2);
      assert.notEqual(db.store.get(Buffer.from("e")), undefined, "reads never write");
    });
  }

  it("TYPE names the type, none when absent or expired", () => {
    const db = newDb();
    r(db, "set", "s", "v");
    r(db, "set", "e", "v", "px", "1");
    putOtherType(db, "l");
    db.advance(1);
    assert.deepEqual(r(db, "type", "s"), { status: "string" });
    assert.deepEqual(r(db, "type", "l"), { status: "list" });
    assert.deepEqual(r(db, "type", "e"), { status: "none" });
    assert.deepEqual(r(db, "type", "missing"), { status: "none" });
  });
});

describe("RENAME and RENAMENX", () => {
  it("moves the value with its expiry, replacing the destination", () => {
    const db = newDb();
    r(db, "set", "a", "1", "ex", "100");
    r(db, "set", "b", "2", "ex", "5");
    assert.deepEqual(r(db, "rename", "a", "b"), ok);
    assert.deepEqual(r(db, "get", "a"), null);
    assert.deepEqual(r(db, "get", "b"), "1");
    assert.deepEqual(r(db, "ttl", "b"), 100);
    r(db, "set", "c", "3");
    assert.deepEqual(r(db, "rename", "c", "b"), ok);
    assert.deepEqual(r(db, "ttl", "b"), -1);
  });

  it("a missing or expired source is an error, even onto itself", () => {
    const db = newDb();
    assert.deepEqual(r(db, "rename", "x", "y"), err("ERR no such key"));
    assert.deepEqual(r(db, "rename", "x", "x"), err("ERR no such key"));
    assert.deepEqual(r(db, "renamenx", "x", "x"), err("ERR no such key"));
    r(db, "set", "e", "1", "px", "1");
    db.advance(1);
    assert.deepEqual(r(db, "rename", "e", "y"), err("ERR no such key"));
  });

  it("renaming a key onto itself changes nothing", () => {
    const db = newDb();
    r(db, "set", "a", "1", "ex", "10");
    assert.deepEqual(r(db, "rename", "a", "a"), ok);
    assert.deepEqual(r(db, "renamenx", "a", "a"), 0);
    assert.deepEqual(r(db, "get", "a"), "1");
    assert.deepEqual(r(db, "ttl", "a"), 10);
  });

  it("RENAMENX only onto a missing (or expired) key", () => {
    const db = newDb();
    r(db, "mset", "a", "1", "b", "2");
    assert.deepEqual(r(db, "renamenx", "a", "b"), 0);
    assert.deepEqual(r(db, "mget", "a", "b"), ["1", "2"]);
    assert.deepEqual(r(db, "renamenx", "a", "c"), 1);
    assert.deepEqual(r(db, "mget", "a", "c"), [null, "1"]);
    r(db, "pexpire", "b", "1");
    db.advance(1);
    assert.deepEqual(r(db, "renamenx", "c", "b"), 1);
    assert.deepEqual(r(db, "get", "b"), "1");
  });

  it("moves other types too", () => {
    const db = newDb();
    putOtherType(db, "l");
    assert.deepEqual(r(db, "rename", "l", "m"), ok);
    assert.deepEqual(r(db, "type", "m"), { status: "list" });
  });
});

describe("COPY", () => {
  it("copies value and expiry; 0 when the destination exists, unless REPLACE", () => {
    const db = newDb();
    r(db, "set", "a", "1", "ex", "100");
    assert.deepEqual(r(db, "copy", "a", "b"), 1);
    assert.deepEqual(r(db, "mget", "a", "b"), ["1", "1"]);
    assert.deepEqual(r(db, "ttl", "b"), 100);
    r(db, "set", "a", "2");
    assert.deepEqual(r(db, "copy", "a", "b"), 0);
    assert.deepEqual(r(db, "get", "b"), "1");
    assert.deepEqual(r(db, "copy", "a", "b", "REPLACE"), 1);
    assert.deepEqual(r(db, "get", "b"), "2");
    assert.deepEqual(r(db, "ttl", "b"), -1);
    assert.deepEqual(r(db, "copy", "a", "b", "db", "0", "replace"), 1);
  });

  it("0 for a missing source; error for the same key", () => {
    const db = newDb();
    assert.deepEqual(r(db, "copy", "x", "y"), 0);
    assert.deepEqual(
      r(db, "copy", "x", "x"),
      err("ERR source and destination objects are the same"),
    );
  });

  it("checks options first: DB must be 0, syntax errors", () => {
    const db = newDb();
    r(db, "set", "a", "1");
    assert.deepEqual(r(db, "copy", "a", "b", "db", "1"), err("ERR DB index is out of range"));
    assert.deepEqual(r(db, "copy", "a", "b", "db", "-1"), err("ERR DB index is out of range"));
    assert.deepEqual(
      r(db, "copy", "a", "b", "db", "x"),
      err("ERR value is not an integer or out of range"),
    );
    assert.deepEqual(
      r(db, "copy", "a", "b", "db", "2147483648"),
      err("ERR value is out of range, value must between -2147483648 and 2147483647"),
    );
    assert.deepEqual(r(db, "copy", "a", "b", "db"), err("ERR syntax error"));
    assert.deepEqual(r(db, "copy", "a", "b", "nope"), err("ERR syntax error"));
    assert.deepEqual(r(db, "copy", "a", "a", "bad"), err("ERR syntax error"));
    assert.deepEqual(r(db, "exists", "b"), 0);
  });

  it("an expired destination does not block the copy", () => {
    const db = newDb();
    r(db, "set", "a", "1");
    r(db, "set", "b", "old", "px", "3");
    db.advance(3);
    assert.deepEqual(r(db, "copy", "a", "b"), 1);
    assert.deepEqual(r(db, "get", "b"), "1");
  });
});

describe("DBSIZE, FLUSHDB, FLUSHALL", () => {
  it("DBSIZE counts every stored key, expired ones not yet removed included", () => {
    const db = newDb();
    assert.deepEqual(r(db, "dbsize"), 0);
    r(db, "mset", "a", "1", "b", "2");
    r(db, "set", "e", "1", "px", "1");
    db.advance(1);
    assert.deepEqual(r(db, "dbsize"), 3);
  });

  for (const command of ["flushdb", "flushall"]) {
    it(`${command} empties the database, with ASYNC/SYNC accepted`, () => {
      const db = newDb();
      for (const mode of [[], ["async"], ["SYNC"]]) {
        r(db, "mset", "a", "1", "b", "2");
        assert.deepEqual(r(db, command, ...mode), ok);
        assert.deepEqual(r(db, "dbsize"), 0);
      }
      assert.deepEqual(r(db, command, "now"), err("ERR syntax error"));
      assert.deepEqual(r(db, command, "async", "sync"), err("ERR syntax error"));
    });
  }
});

describe("OBJECT", () => {
  it("names the form each value is stored in, and counts references as Redis does", () => {
    const db = newDb();
    r(db, "mset", "small", "100", "big", "123456789012", "word", "hello", "long", "x".repeat(45));
    r(db, "hset", "h", "f", "v");
    r(db, "rpush", "l", "a");
    r(db, "sadd", "s", "1");
    r(db, "zadd", "z", "1", "a");
    const encoding = (k: string) => r(db, "object", "encoding", k);
    assert.deepEqual(["small", "big", "word", "long", "h", "l", "s", "z"].map(encoding), [
      "int",
      "int",
      "embstr",
      "raw",
      "listpack",
      "listpack",
      "listpack",
      "listpack",
    ]);
    assert.equal(encoding("nokey"), null);
    assert.equal(r(db, "object", "refcount", "small"), 2_147_483_647, "a shared integer");
    assert.equal(r(db, "object", "refcount", "big"), 1);
    assert.equal(r(db, "object", "refcount", "z"), 1);
    assert.match(
      (r(db, "object", "freq", "small") as { error: string }).error,
      /^ERR An LFU maxmemory policy is not selected/,
    );
    assert.equal(r(db, "object", "freq", "nokey"), null);
  });

  it("answers HELP, and Redis's errors for a wrong subcommand or argument count", () => {
    const db = newDb();
    const [first] = r(db, "object", "help") as { status: string }[];
    assert.match(first?.status ?? "", /^OBJECT <subcommand>/);
    // The dispatcher lets OBJECT through with any count (arity -2); the handler checks.
    assert.deepEqual(
      plain(objectKeyless(new TestArgs(["object", "help", "x"]))),
      err("ERR wrong number of arguments for 'object|help' command"),
    );
    assert.deepEqual(
      plain(objectKeyless(new TestArgs(["object", "encoding"]))),
      err("ERR wrong number of arguments for 'object|encoding' command"),
    );
    assert.deepEqual(
      plain(objectKeyless(new TestArgs(["object", "idletime", "k"]))),
      err("ERR unknown subcommand 'idletime'. Try OBJECT HELP."),
    );
  });
});

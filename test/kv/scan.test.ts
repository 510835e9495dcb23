import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parseCursor } from "../../src/kv/scan.js";
import type { Reply } from "../../src/resp/types.js";
import { err, newDb, plain, type TestDb } from "./helpers.js";

function r(db: TestDb, ...parts: (string | Buffer)[]) {
  return plain(db.run(...parts));
}

/** One SCAN call: the next cursor and the keys as Latin-1 strings. */
function scanOnce(db: TestDb, cursor: string, ...opts: string[]): [string, string[]] {
  const out = r(db, "scan", cursor, ...opts);
  assert.ok(Array.isArray(out) && out.length === 2, JSON.stringify(out));
  return [out[0] as string, out[1] as string[]];
}

/** A full iteration; `between` runs after every call, as concurrent writes would. */
function scanAll(db: TestDb, opts: string[] = [], between?: () => void): string[] {
  const seen: string[] = [];
  let cursor = "0";
  for (let calls = 0; ; calls++) {
    assert.ok(calls < 100_000, "SCAN does not terminate");
    const [next, keys] = scanOnce(db, cursor, ...opts);
    seen.push(...keys);
    if (next === "0") return seen;
    cursor = next;
    between?.();
  }
}

function latin1(b: Uint8Array): string {
  return Buffer.from(b).toString("latin1");
}

describe("SCAN cursors", () => {
  it("parse as strtoul does, refusing what this server never hands out", () => {
    assert.equal(parseCursor(Buffer.from("0")), 0n);
    assert.equal(parseCursor(Buffer.from("")), 0n);
    assert.equal(parseCursor(Buffer.from("+0")), 0n);
    assert.equal(parseCursor(Buffer.from("-0")), 0n);
    assert.equal(parseCursor(Buffer.from("00012")), 12n);
    assert.equal(parseCursor(Buffer.from(`${"0".repeat(40)}12`)), 12n);
    assert.equal(parseCursor(Buffer.from("281474976710656")), 1n << 48n);
    for (const bad of [
      " 0",
      "0 ",
      "-1",
      "+",
      "-",
      "x",
      "1x",
      "281474976710657",
      "18446744073709551616",
    ]) {
      assert.equal(parseCursor(Buffer.from(bad)), undefined, bad);
    }
  });
});

describe("SCAN", () => {
  it("walks every key once when nothing changes", () => {
    const db = newDb();
    const keys = Array.from({ length: 95 }, (_, i) => `key:${i}`);
    for (const k of keys) r(db, "set", k, "v");
    for (const count of ["1", "3", "10", "1000"]) {
      const seen = scanAll(db, ["count", count]);
      assert.deepEqual([...new Set(seen)].sort(), [...keys].sort(), `count ${count}`);
      assert.equal(seen.length, keys.length, "no duplicates without writes");
    }
  });

  it("returns COUNT keys per call even when keys share long prefixes", () => {
    const db = newDb();
    const keys = Array.from({ length: 200 }, (_, i) => `session:0000000000:${i}`);
    for (const k of keys) r(db, "set", k, "v");
    let cursor = "0";
    const seen: string[] = [];
    let calls = 0;
    do {
      const [next, batch] = scanOnce(db, cursor, "count", "10");
      assert.ok(batch.length <= 11, `a call returned ${batch.length} keys`);
      assert.match(next, /^(0|[1-9][0-9]*)$/);
      seen.push(...batch);
      cursor = next;
      calls++;
    } while (cursor !== "0");
    assert.ok(calls >= 20, `${calls} calls`);
    assert.deepEqual(seen.sort(), [...keys].sort());
  });

  it("filters by MATCH and TYPE after counting, and skips expired keys", () => {
    const db = newDb();
    for (let i = 0; i < 20; i++) r(db, "set", `k${i}`, "v");
    r(db, "set", "other", "v");
    r(db, "set", "k-expired", "v", "px", "1");
    db.advance(1);
    assert.deepEqual(
      scanAll(db, ["match", "k1*"]).sort(),
      ["k1", ...Array.from({ length: 10 }, (_, i) => `k1${i}`)].sort(),
    );
    assert.deepEqual(scanAll(db, ["match", "*"]).length, 21);
    assert.deepEqual(scanAll(db, ["type", "STRING", "count", "7"]).length, 21);
    assert.deepEqual(scanAll(db, ["type", "list"]), []);
    assert.deepEqual(scanAll(db, ["match", "k-*"]), []);
    const [, firstBatch] = scanOnce(db, "0", "count", "5", "match", "zzz");
    assert.deepEqual(firstBatch, [], "COUNT is work, not results");
  });

  it("errors: cursor, COUNT, options", () => {
    const db = newDb();
    assert.deepEqual(r(db, "scan", "abc"), err("ERR invalid cursor"));
    assert.deepEqual(r(db, "scan", "-1"), err("ERR invalid cursor"));
    assert.deepEqual(r(db, "scan", "0", "count", "0"), err("ERR syntax error"));
    assert.deepEqual(r(db, "scan", "0", "count", "-5"), err("ERR syntax error"));
    assert.deepEqual(
      r(db, "scan", "0", "count", "x"),
      err("ERR value is not an integer or out of range"),
    );
    assert.deepEqual(r(db, "scan", "0", "count"), err("ERR syntax error"));
    assert.deepEqual(r(db, "scan", "0", "match"), err("ERR syntax error"));
    assert.deepEqual(r(db, "scan", "0", "nope", "x"), err("ERR syntax error"));
    assert.deepEqual(r(db, "scan", "", "COUNT", "5"), ["0", []]);
  });

  it("property: a full iteration returns every key present throughout", () => {
    // Keys from a tiny alphabet with long shared prefixes and binary bytes, so runs that
    // share 7 bytes, keys that are prefixes of others and zero bytes are all common.
    const alphabet = fc.constantFrom(0x00, 0x01, 0x61, 0x62, 0x7f, 0x80, 0xff);
    const tail = fc.array(alphabet, { maxLength: 4 });
    const prefixes = [
      "",
      "abcdef",
      "abcdefg",
      "abcdefgh",
      "\x00\x00\x00",
      "\xff\xff\xff\xff\xff\xff\xff",
    ];
    const key = fc
      .tuple(fc.constantFrom(...prefixes), tail)
      .map(([p, t]) => Buffer.concat([Buffer.from(p, "latin1"), Buffer.from(t)]));
    fc.assert(
      fc.property(
        fc.uniqueArray(key, { maxLength: 60, selector: latin1 }),
        fc.array(key, { maxLength: 30 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer(),
        (stable, churn, count, seed) => {
          const db = newDb({ seed });
          const stableSet = new Set(stable.map(latin1));
          for (const k of stable) db.run("set", k, "v");
          const volatile = churn.filter((k) => !stableSet.has(latin1(k)));
          let step = 0;
          // Between calls, add and remove keys that are not in the stable set.
          const seen = scanAll(db, ["count", String(count)], () => {
            const k = volatile[step++ % Math.max(1, volatile.length)];
            if (k === undefined) return;
            if (step % 2 === 0) db.run("set", k, "x");
            else db.run("del", k);
          });
          const seenSet = new Set(seen);
          for (const k of stableSet) assert.ok(seenSet.has(k), `lost ${JSON.stringify(k)}`);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("KEYS", () => {
  it("matches glob patterns, seeking to the literal prefix", () => {
    const db = newDb();
    for (const k of ["a", "ab", "abc", "abd", "ac", "b", "", "a*"]) r(db, "set", k, "v");
    const keys = (p: string) => (r(db, "keys", p) as string[]).sort();
    assert.deepEqual(keys("*"), ["", "a", "a*", "ab", "abc", "abd", "ac", "b"]);
    assert.deepEqual(
      keys("**"),
      ["a", "a*", "ab", "abc", "abd", "ac", "b"],
      "only * alone matches the empty key",
    );
    assert.deepEqual(keys("ab*"), ["ab", "abc", "abd"]);
    assert.deepEqual(keys("ab?"), ["abc", "abd"]);
    assert.deepEqual(keys("a[bc]"), ["ab", "ac"]);
    assert.deepEqual(keys("a\\*"), ["a*"]);
    assert.deepEqual(keys("abc"), ["abc"]);
    assert.deepEqual(keys("abz*"), []);
    assert.deepEqual(keys(""), [""]);
  });

  it("skips expired keys without deleting them", () => {
    const db = newDb();
    r(db, "set", "live", "v");
    r(db, "set", "gone", "v", "px", "1");
    db.advance(1);
    assert.deepEqual(r(db, "keys", "*"), ["live"]);
    assert.equal(db.store.size(), 2);
  });
});

describe("RANDOMKEY", () => {
  it("null when empty, a live key otherwise", () => {
    const db = newDb();
    assert.deepEqual(r(db, "randomkey"), null);
    for (let i = 0; i < 10; i++) r(db, "set", `k${i}`, "v");
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add(r(db, "randomkey") as string);
    assert.ok(seen.size > 5, "spreads over the keys");
    for (const k of seen) assert.match(k, /^k\d$/);
  });

  it("never returns an expired key, even when nearly all are", () => {
    const db = newDb({ seed: 7 });
    for (let i = 0; i < 3000; i++) r(db, "set", `e${i}`, "v", "px", "1");
    r(db, "set", "e1500x", "live");
    db.advance(1);
    let found = 0;
    for (let i = 0; i < 50; i++) {
      const k: Reply = db.run("randomkey");
      const v = plain(k);
      assert.ok(v === null || v === "e1500x", `returned ${JSON.stringify(v)}`);
      if (v !== null) found++;
    }
    assert.ok(found > 0, "the walk finds the live key sometimes");
    r(db, "del", "e1500x");
    assert.deepEqual(r(db, "randomkey"), null);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { crc64 } from "../../src/core/crc64.js";
import { NOTIFY_ALL, NOTIFY_KEYEVENT, NOTIFY_NEW } from "../../src/kv/notify.js";
import { err, newDb, ok, r, recordEvents, START_MS, SYNTAX, type TestDb } from "./helpers.js";

const BAD_FORMAT = err("ERR Bad data format");
const BAD_PAYLOAD = err("ERR DUMP payload version or checksum are wrong");

/** DUMP's payload as bytes (the test helpers give bulk replies as latin1 text). */
function dump(db: TestDb, key: string): Buffer {
  const reply = r(db, "dump", key);
  assert.equal(typeof reply, "string", `DUMP ${key}`);
  return Buffer.from(reply as string, "latin1");
}

/** An RDB object with Redis's footer: the version (little-endian) and the CRC-64. */
function withFooter(body: Buffer, version = 10): Buffer {
  const head = Buffer.concat([body, Buffer.from([version & 0xff, version >> 8])]);
  const crc = Buffer.alloc(8);
  crc.writeBigUInt64LE(crc64(0n, head), 0);
  return Buffer.concat([head, crc]);
}

/** Payloads redis-server 7.0.15 gave for DUMP (hex), with what the key held. */
const FROM_REDIS = {
  // SET lzf (ab × 40): an LZF-compressed string.
  lzf: "00c30a405002616261e042010161620a00949d5f0eb1dea445",
  // SET int -12345: an integer-encoded string.
  int: "00c1c7cf0a0067eda236b4db26d0",
  // HSET hash f v n -300 big 70000: a listpack with strings and integers.
  hash: "101d1d0000000600816602817602816e02ded4028362696704f270110104ff0a004299a25356722088",
  // SADD intset 5 -70000 3000000000: an intset of 8-byte integers.
  intset:
    "0b20080000000300000090eefeffffffffff0500000000000000005ed0b2000000000a00d34c240b2820d489",
  // RPUSH list x 1 -2 yy: a quicklist of one listpack node.
  list: "120102131300000004008178020101dffe0282797903ff0a00c80286460b071201",
  // ZADD zset 1.5 a 2 b -3 c: a listpack of members and scores.
  zset: "111a1a0000000600816302dffd0281610283312e35048162020201ff0a0088c4c030f0ae8276",
};

describe("DUMP and RESTORE", () => {
  it("computes Redis's CRC-64", () => {
    assert.equal(crc64(0n, Buffer.from("123456789")), 0xe9c6d914c4b8d9can);
    assert.equal(crc64(0n, Buffer.alloc(0)), 0n);
  });

  it("round-trips every type, with the value's own encoding rebuilt", () => {
    const db = newDb();
    const bin = Buffer.from([0, 1, 13, 10, 255]);
    r(db, "set", "s", bin);
    r(db, "rpush", "l", "a", bin, "12", "");
    r(db, "sadd", "set", "x", "y", "100");
    r(db, "hset", "h", "f1", "v1", "f2", bin);
    r(db, "zadd", "z", "1.5", "a", "-inf", "b", "2", "c");
    r(db, "xadd", "st", "1-1", "f", "v");
    r(db, "xadd", "st", "2-0", "g", "w");
    r(db, "xgroup", "create", "st", "grp", "0");
    r(db, "xreadgroup", "group", "grp", "alice", "count", "1", "streams", "st", ">");
    for (const key of ["s", "l", "set", "h", "z", "st"]) {
      const payload = dump(db, key);
      assert.deepEqual(r(db, "restore", `${key}2`, "0", payload), ok, key);
      assert.deepEqual(
        db.store.get(Buffer.from(`${key}2`))?.data,
        db.store.get(Buffer.from(key))?.data,
        key,
      );
      assert.deepEqual(dump(db, `${key}2`), payload, `${key}: the same payload again`);
    }
    assert.deepEqual(r(db, "xpending", "st2", "grp"), [1, "1-1", "1-1", [["alice", "1"]]]);
    assert.equal(r(db, "dump", "nosuchkey"), null);
  });

  it("writes the plain RDB types and Redis's footer", () => {
    const db = newDb();
    r(db, "set", "s", "hello");
    const p = dump(db, "s");
    assert.deepEqual(p.subarray(0, 7), Buffer.from([0, 5, ...Buffer.from("hello")]));
    assert.equal(p.readUInt16LE(p.length - 10), 10, "RDB version 10, Redis 7.0's");
    assert.equal(p.readBigUInt64LE(p.length - 8), crc64(0n, p.subarray(0, p.length - 8)));
    r(db, "rpush", "l", "a");
    r(db, "sadd", "t", "a");
    r(db, "hset", "h", "a", "b");
    r(db, "zadd", "z", "1", "a");
    assert.deepEqual(
      ["l", "t", "h", "z"].map((k) => dump(db, k)[0]),
      [1, 2, 4, 5],
      "RDB_TYPE_LIST, _SET, _HASH, _ZSET_2",
    );
  });

  it("reads what Redis 7 writes: LZF and integer strings, listpacks, intsets, quicklists", () => {
    const db = newDb();
    for (const [key, hex] of Object.entries(FROM_REDIS)) {
      assert.deepEqual(r(db, "restore", key, "0", Buffer.from(hex, "hex")), ok, key);
    }
    assert.equal(r(db, "get", "lzf"), "ab".repeat(40));
    assert.equal(r(db, "get", "int"), "-12345");
    assert.deepEqual(r(db, "hgetall", "hash"), ["f", "v", "n", "-300", "big", "70000"]);
    assert.deepEqual(r(db, "smembers", "intset"), ["-70000", "5", "3000000000"]);
    assert.deepEqual(r(db, "lrange", "list", "0", "-1"), ["x", "1", "-2", "yy"]);
    assert.deepEqual(r(db, "zrange", "zset", "0", "-1", "withscores"), ["c", -3, "a", 1.5, "b", 2]);
  });

  it("reads a Redis 6 ziplist, and refuses one with a duplicate field", () => {
    const db = newDb();
    // tests/integration/corrupt-dump.tcl's hash ziplist {"a\0": "b\0", "c\0": "d\0"}.
    const entries = ["a", "b", "c", "d"].map((c) => [0x02, c.charCodeAt(0), 0x00]);
    const ziplist = (e: number[][]) =>
      Buffer.from([
        0x0d,
        0x1b,
        ...[0x1b, 0, 0, 0, 0x16, 0, 0, 0, 0x04, 0],
        ...e.flatMap((x, i) => [i === 0 ? 0 : 4, ...x]),
        0xff,
      ]);
    assert.deepEqual(r(db, "restore", "h", "0", withFooter(ziplist(entries), 9)), ok);
    assert.deepEqual(r(db, "hgetall", "h"), ["a\0", "b\0", "c\0", "d\0"]);
    // The same file's "valid zipped hash header, dup records", as Redis's test sends it.
    const dup = Buffer.from(
      "0d1b1b00000016000000040000026100040262000402610004026400ff0900a1983678cc8e932e",
      "hex",
    );
    assert.deepEqual(r(db, "restore", "d", "0", dup), BAD_FORMAT);
    assert.equal(r(db, "exists", "d"), 0);
  });

  it("reads Redis 6's streams, estimating their counters as Redis 7 does", () => {
    // tests/unit/type/stream-cgroups.tcl, "Loading from legacy": XADD x 1-0 .. 6-0, XDEL
    // 3-0, groups g1 and g2 at 0, g1 reads 4, XTRIM MAXLEN = 2; dumped by Redis 5.
    const legacy = Buffer.from(
      "0f011000000000000000010000000000000000c3404a405716570000002300020104010101846461" +
        "746105000103010020010381610204200a0001400a0062600a0002400a0063600a4022018164200a" +
        "4039200a0065600a0005400a0066200a00ff02060002026731050004000000000000000100000000" +
        "000000003ef783437a01000001000000000000000200000000000000003ef783437a010000010000" +
        "00000000000400000000000000003ef783437a01000001000000000000000500000000000000003e" +
        "f783437a0100000101036331313ef783437a01000004000000000000000100000000000000000000" +
        "00000000000200000000000000000000000000000004000000000000000000000000000000050000" +
        "0000000000000267320000000009003d52ef6867521dfa",
      "hex",
    );
    const db = newDb();
    assert.deepEqual(r(db, "restore", "x", "0", legacy), ok);
    assert.deepEqual(r(db, "xrange", "x", "-", "+"), [
      ["5-0", ["data", "e"]],
      ["6-0", ["data", "f"]],
    ]);
    const groups = r(db, "xinfo", "groups", "x") as unknown[][];
    const field = (g: unknown[], name: string) => g[g.indexOf(name) + 1];
    assert.deepEqual(
      groups.map((g) => [
        field(g, "name"),
        field(g, "entries-read"),
        field(g, "lag"),
        field(g, "pending"),
      ]),
      [
        ["g1", 1, 1, 4],
        ["g2", 0, 2, 0],
      ],
    );
    assert.equal(dump(db, "x")[0], 19, "dumped again as Redis 7 does");
  });

  it("refuses a bad checksum or a newer version, and payloads it cannot read", () => {
    const db = newDb();
    r(db, "set", "s", "hello");
    const good = dump(db, "s");
    const flipped = Buffer.from(good);
    flipped[3] = (flipped[3] as number) ^ 1;
    assert.deepEqual(r(db, "restore", "k", "0", flipped), BAD_PAYLOAD);
    assert.deepEqual(r(db, "restore", "k", "0", "short"), BAD_PAYLOAD);
    const body = good.subarray(0, good.length - 10);
    assert.deepEqual(r(db, "restore", "k", "0", withFooter(body, 11)), BAD_PAYLOAD);
    assert.deepEqual(r(db, "restore", "old", "0", withFooter(body, 9)), ok, "older versions read");
    const cannotRead: [string, number[]][] = [
      ["a truncated string", [0, 10, 0x61]],
      ["bytes after the value", [0, 1, 0x61, 0x61]],
      ["an empty set", [2, 0]],
      ["a set with a member twice", [2, 2, 1, 0x61, 1, 0x61]],
      ["a hash with a field twice", [4, 2, 1, 0x61, 1, 0x62, 1, 0x61, 1, 0x63]],
      ["a sorted set with a NaN score", [3, 1, 1, 0x61, 253]],
      ["a module value", [6, 0]],
      ["a truncated stream", [19, 0]],
      ["a stream whose node key is not an ID", [19, 1, 3, 1, 2, 3]],
      ["an unknown type", [0x42]],
      ["a bad LZF run", [0, 0xc3, 2, 5, 0x20, 0x00]],
      ["a listpack whose length lies", [16, 7, 9, 0, 0, 0, 0, 0, 0xff]],
      ["an unknown type byte", [0xf6, 3, 1, 2, 3]],
    ];
    for (const [what, bytes] of cannotRead) {
      assert.deepEqual(
        r(db, "restore", "k", "0", withFooter(Buffer.from(bytes))),
        BAD_FORMAT,
        what,
      );
    }
    assert.equal(r(db, "exists", "k"), 0);
  });

  it("takes RESTORE's options and errors in Redis's order", () => {
    const db = newDb();
    r(db, "set", "s", "v");
    const p = dump(db, "s");
    assert.deepEqual(r(db, "restore", "s", "0", p), err("BUSYKEY Target key name already exists."));
    assert.deepEqual(
      r(db, "restore", "s", "x", p),
      err("BUSYKEY Target key name already exists."),
      "the key is looked at before the TTL",
    );
    assert.deepEqual(
      r(db, "restore", "n", "x", p),
      err("ERR value is not an integer or out of range"),
    );
    assert.deepEqual(r(db, "restore", "n", "-1", p), err("ERR Invalid TTL value, must be >= 0"));
    assert.deepEqual(r(db, "restore", "n", "0", p, "bogus"), SYNTAX);
    assert.deepEqual(r(db, "restore", "n", "0", p, "idletime", "1", "freq", "1"), SYNTAX);
    assert.deepEqual(
      r(db, "restore", "n", "0", p, "idletime", "-1"),
      err("ERR Invalid IDLETIME value, must be >= 0"),
    );
    assert.deepEqual(
      r(db, "restore", "n", "0", p, "freq", "256"),
      err("ERR Invalid FREQ value, must be >= 0 and <= 255"),
    );
    assert.deepEqual(r(db, "restore", "n", "0", p, "idletime", "100"), ok);
    assert.deepEqual(r(db, "restore", "f", "0", p, "freq", "100"), ok);
    assert.deepEqual(
      r(db, "restore-asking", "a", "0", p),
      ok,
      "what a cluster node's MIGRATE sends",
    );
    assert.deepEqual(
      r(db, "restore-asking", "a", "0", p),
      err("BUSYKEY Target key name already exists."),
    );
    // TTLs: relative to the command's time, absolute with ABSTTL, none with 0.
    assert.deepEqual(r(db, "restore", "t1", "5000", p), ok);
    assert.equal(r(db, "pttl", "t1"), 5000);
    assert.deepEqual(r(db, "restore", "t2", String(START_MS + 9000), p, "absttl"), ok);
    assert.equal(r(db, "pttl", "t2"), 9000);
    assert.equal(r(db, "pttl", "n"), -1);
    // Already expired: nothing stored, and REPLACE deletes what was there.
    const events = recordEvents(db, NOTIFY_ALL | NOTIFY_NEW | NOTIFY_KEYEVENT);
    assert.deepEqual(r(db, "restore", "gone", "1000", p, "absttl"), ok);
    assert.equal(r(db, "exists", "gone"), 0);
    assert.deepEqual(r(db, "restore", "s", "1000", p, "absttl", "replace"), ok);
    assert.equal(r(db, "exists", "s"), 0);
    assert.deepEqual(r(db, "restore", "s", "0", p, "replace"), ok);
    assert.deepEqual(r(db, "restore", "s", "0", p, "replace"), ok);
    assert.deepEqual(events, ["del s", "new s", "restore s", "new s", "restore s"]);
  });

  it("holds restored values to proto-max-bulk-len", () => {
    const db = newDb();
    r(db, "rpush", "l", "x".repeat(100));
    r(db, "set", "s", "x".repeat(100));
    const small = newDb({ maxBulkBytes: 64 });
    assert.deepEqual(
      r(small, "restore", "l", "0", dump(db, "l")),
      err("ERR list exceeds maximum allowed size (proto-max-bulk-len)"),
    );
    assert.deepEqual(
      r(small, "restore", "s", "0", dump(db, "s")),
      err("ERR string exceeds maximum allowed size (proto-max-bulk-len)"),
    );
    assert.deepEqual([r(small, "exists", "l"), r(small, "exists", "s")], [0, 0]);
  });

  it("rebuilds random values of every type exactly (property)", () => {
    const bytes = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a));
    const value = fc.oneof(
      fc.record({
        type: fc.constant("string" as const),
        items: fc.array(bytes, { minLength: 1, maxLength: 1 }),
      }),
      fc.record({
        type: fc.constantFrom("list", "set", "hash", "zset", "stream"),
        items: fc.array(bytes, { minLength: 1, maxLength: 300 }),
      }),
    );
    fc.assert(
      fc.property(value, ({ type, items }) => {
        const db = newDb();
        const write: Record<string, () => void> = {
          string: () => r(db, "set", "k", items[0] as Buffer),
          list: () => r(db, "rpush", "k", ...items),
          set: () => r(db, "sadd", "k", ...items),
          hash: () => r(db, "hset", "k", ...items.flatMap((b, i) => [b, String(i)])),
          zset: () =>
            r(
              db,
              "zadd",
              "k",
              ...items.flatMap((b, i) => [String(((i * 7919) % 101) / 4 - 10), b]),
            ),
          stream: () => {
            for (const [i, b] of items.entries())
              r(db, "xadd", "k", `${1 + i * 3}-${i % 4}`, b, String(i));
            r(db, "xgroup", "create", "k", "g", "0");
            r(db, "xreadgroup", "group", "g", "c", "count", "5", "streams", "k", ">");
          },
        };
        (write[type] as () => void)();
        const payload = dump(db, "k");
        assert.deepEqual(r(db, "restore", "copy", "0", payload), ok);
        assert.deepEqual(
          db.store.get(Buffer.from("copy"))?.data,
          db.store.get(Buffer.from("k"))?.data,
        );
      }),
      { numRuns: 200 },
    );
  });

  it("answers OK or an error for corrupted payloads, and stores only readable values (property)", () => {
    const db = newDb();
    r(db, "rpush", "list", "a", "bb", "123");
    r(db, "sadd", "set", "x", "1");
    r(db, "hset", "hash", "f", "v", "g", "w");
    r(db, "zadd", "zset", "1", "a", "2.5", "b");
    r(db, "xadd", "stream", "1-1", "f", "v");
    r(db, "xadd", "stream", "2-1", "f", "w", "g", "x");
    r(db, "xgroup", "create", "stream", "g", "0");
    r(db, "xreadgroup", "group", "g", "c", "streams", "stream", ">");
    const bodies = [
      ...["list", "set", "hash", "zset", "stream"].map((k) => dump(db, k)),
      ...Object.values(FROM_REDIS).map((hex) => Buffer.from(hex, "hex")),
    ].map((p) => p.subarray(0, p.length - 10));
    const readers: Record<string, string[]> = {
      string: ["get"],
      list: ["lrange", "0", "-1"],
      set: ["smembers"],
      hash: ["hgetall"],
      zset: ["zrange", "0", "-1", "withscores"],
      stream: ["xrange", "-", "+"],
    };
    const edit = fc.record({
      body: fc.constantFrom(...bodies),
      at: fc.nat(),
      byte: fc.integer({ min: 0, max: 255 }),
      how: fc.constantFrom("set", "insert", "delete", "cut"),
    });
    let stored = 0;
    fc.assert(
      fc.property(edit, ({ body, at, byte, how }) => {
        const i = at % body.length;
        const b = Buffer.from(body);
        const changed =
          how === "set"
            ? Buffer.concat([b.subarray(0, i), Buffer.from([byte]), b.subarray(i + 1)])
            : how === "insert"
              ? Buffer.concat([b.subarray(0, i), Buffer.from([byte]), b.subarray(i)])
              : how === "delete"
                ? Buffer.concat([b.subarray(0, i), b.subarray(i + 1)])
                : b.subarray(0, i);
        const reply = r(db, "restore", "fuzz", "0", withFooter(changed), "replace");
        if (reply !== null && typeof reply === "object" && "error" in reply) {
          assert.match(String(reply.error), /^ERR /);
          return;
        }
        assert.deepEqual(reply, ok);
        stored++;
        const type = String((r(db, "type", "fuzz") as { status: string }).status);
        const [command, ...rest] = readers[type] as string[];
        const read = r(db, command as string, "fuzz", ...rest);
        assert.ok(
          !(read !== null && typeof read === "object" && "error" in read),
          `${type}: ${JSON.stringify(read)}`,
        );
        assert.ok(dump(db, "fuzz").length > 10);
      }),
      { numRuns: 5000 },
    );
    assert.ok(stored > 0, "some edits still make a value");
  });
});

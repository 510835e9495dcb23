import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { StoredValue } from "../../src/storage/types.js";
import { err, newDb, plain, type TestDb } from "./helpers.js";

const NOT_INT = err("ERR value is not an integer or out of range");
const SYNTAX = err("ERR syntax error");
const NOT_STRINGS = err("ERR The specified keys must contain string values");
const LEN_AND_IDX = err("ERR If you want both the length and indexes, please just use IDX.");
const TOO_LARGE = err(
  "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
);

function r(db: TestDb, ...parts: (string | Buffer)[]) {
  return plain(db.run(...parts));
}

function withPair(a: string, b: string, maxBulkBytes?: number): TestDb {
  const db = newDb(maxBulkBytes === undefined ? {} : { maxBulkBytes });
  r(db, "set", "a", a);
  r(db, "set", "b", b);
  return db;
}

// From Redis's own test suite (tests/unit/type/string.tcl).
const RNA1 =
  "CACCTTCCCAGGTAACAAACCAACCAACTTTCGATCTCTTGTAGATCTGTTCTCTAAACGAACTTTAAAATCTGTGTGGCTGTCACTCGGCTGCATGCTTAGTGCACTCACGCAGTATAATTAATAACTAATTACTGTCGTTGACAGGACACGAGTAACTCGTCTATCTTCTGCAGGCTGCTTACGGTTTCGTCCGTGTTGCAGCCGATCATCAGCACATCTAGGTTTCGTCCGGGTGTG";
const RNA2 =
  "ATTAAAGGTTTATACCTTCCCAGGTAACAAACCAACCAACTTTCGATCTCTTGTAGATCTGTTCTCTAAACGAACTTTAAAATCTGTGTGGCTGTCACTCGGCTGCATGCTTAGTGCACTCACGCAGTATAATTAATAACTAATTACTGTCGTTGACAGGACACGAGTAACTCGTCTATCTTCTGCAGGCTGCTTACGGTTTCGTCCGTGTTGCAGCCGATCATCAGCACATCTAGGTTT";
const RNA_LCS =
  "ACCTTCCCAGGTAACAAACCAACCAACTTTCGATCTCTTGTAGATCTGTTCTCTAAACGAACTTTAAAATCTGTGTGGCTGTCACTCGGCTGCATGCTTAGTGCACTCACGCAGTATAATTAATAACTAATTACTGTCGTTGACAGGACACGAGTAACTCGTCTATCTTCTGCAGGCTGCTTACGGTTTCGTCCGTGTTGCAGCCGATCATCAGCACATCTAGGTTT";

describe("LCS", () => {
  it("answers the subsequence, its length, or its matching ranges", () => {
    const db = withPair("ohmytext", "mynewtext");
    assert.deepEqual(r(db, "lcs", "a", "b"), "mytext");
    assert.deepEqual(r(db, "lcs", "a", "b", "LEN"), 6);
    assert.deepEqual(r(db, "lcs", "a", "b", "idx"), [
      "matches",
      [
        [
          [4, 7],
          [5, 8],
        ],
        [
          [2, 3],
          [0, 1],
        ],
      ],
      "len",
      6,
    ]);
    assert.deepEqual(r(db, "lcs", "a", "b", "idx", "minmatchlen", "4", "withmatchlen"), [
      "matches",
      [[[4, 7], [5, 8], 4]],
      "len",
      6,
    ]);
  });

  it("IDX is a map (matches, len), which RESP2 sends as a flat array", () => {
    const db = withPair("ab", "b");
    const reply = db.run("lcs", "a", "b", "idx");
    assert.equal(reply.kind, "map");
    assert.deepEqual(plain(reply), [
      "matches",
      [
        [
          [1, 1],
          [0, 0],
        ],
      ],
      "len",
      1,
    ]);
  });

  it("breaks ties as Redis does, so the two argument orders may differ", () => {
    const db = withPair("abcab", "bacba");
    assert.deepEqual(r(db, "lcs", "a", "b"), "bab");
    assert.deepEqual(r(db, "lcs", "b", "a"), "aba");
    assert.deepEqual(r(db, "lcs", "a", "b", "idx", "withmatchlen"), [
      "matches",
      [
        [[4, 4], [3, 3], 1],
        [[3, 3], [1, 1], 1],
        [[1, 1], [0, 0], 1],
      ],
      "len",
      3,
    ]);
    const runs = withPair("aaaa", "aa");
    assert.deepEqual(r(runs, "lcs", "a", "b", "idx", "withmatchlen"), [
      "matches",
      [[[2, 3], [0, 1], 2]],
      "len",
      2,
    ]);
  });

  it("passes Redis's own LCS tests", () => {
    const db = withPair(RNA1, RNA2);
    assert.deepEqual(r(db, "lcs", "a", "b"), RNA_LCS);
    assert.deepEqual(r(db, "lcs", "a", "b", "len"), RNA_LCS.length);
    const matches = (...opts: string[]) => {
      const reply = r(db, "lcs", "a", "b", "idx", ...opts);
      assert.ok(Array.isArray(reply));
      return reply[1];
    };
    assert.deepEqual(matches(), [
      [
        [238, 238],
        [239, 239],
      ],
      [
        [236, 236],
        [238, 238],
      ],
      [
        [229, 230],
        [236, 237],
      ],
      [
        [224, 224],
        [235, 235],
      ],
      [
        [1, 222],
        [13, 234],
      ],
    ]);
    assert.deepEqual(matches("withmatchlen"), [
      [[238, 238], [239, 239], 1],
      [[236, 236], [238, 238], 1],
      [[229, 230], [236, 237], 2],
      [[224, 224], [235, 235], 1],
      [[1, 222], [13, 234], 222],
    ]);
    assert.deepEqual(matches("withmatchlen", "minmatchlen", "5"), [[[1, 222], [13, 234], 222]]);
  });

  it("a missing key is the empty string", () => {
    const db = withPair("abc", "abc");
    assert.deepEqual(r(db, "lcs", "a", "none"), "");
    assert.deepEqual(r(db, "lcs", "none", "none2", "len"), 0);
    assert.deepEqual(r(db, "lcs", "none", "none2", "idx"), ["matches", [], "len", 0]);
  });

  it("accepts options in any order and case; WITHMATCHLEN and MINMATCHLEN alone are ignored", () => {
    const db = withPair("ohmytext", "mynewtext");
    assert.deepEqual(r(db, "lcs", "a", "b", "WithMatchLen", "MINMATCHLEN", "-3"), "mytext");
    assert.deepEqual(r(db, "lcs", "a", "b", "minmatchlen", "99999999999999999", "idx"), [
      "matches",
      [],
      "len",
      6,
    ]);
    assert.deepEqual(r(db, "lcs", "a", "b", "len", "len"), 6);
  });

  it("errors: other types first, then options in order, then LEN with IDX, then size", () => {
    const db = withPair("ohmytext", "mynewtext");
    const list = { type: "list", data: Buffer.from("x"), expireAtMs: 0 } as unknown as StoredValue;
    db.store.set(Buffer.from("l"), list);
    assert.deepEqual(r(db, "lcs", "a", "l"), NOT_STRINGS);
    assert.deepEqual(r(db, "lcs", "l", "none", "foo"), NOT_STRINGS);
    assert.deepEqual(r(db, "lcs", "a", "b", "foo"), SYNTAX);
    assert.deepEqual(r(db, "lcs", "a", "b", "minmatchlen"), SYNTAX);
    assert.deepEqual(r(db, "lcs", "a", "b", "minmatchlen", "x"), NOT_INT);
    assert.deepEqual(r(db, "lcs", "a", "b", "foo", "minmatchlen", "x"), SYNTAX);
    assert.deepEqual(r(db, "lcs", "a", "b", "len", "idx"), LEN_AND_IDX);
    assert.deepEqual(r(db, "lcs", "a", "b", "len", "idx", "foo"), SYNTAX);
  });

  it("refuses when Redis's (m+1)×(n+1) table of 4-byte cells would exceed proto-max-bulk-len", () => {
    // 512 × 512 × 4 bytes is exactly 1 MiB: allowed; one more byte is not.
    const mib = 1024 * 1024;
    const db = withPair("a".repeat(511), "a".repeat(511), mib);
    assert.deepEqual(r(db, "lcs", "a", "b", "len"), 511);
    r(db, "append", "b", "b");
    assert.deepEqual(r(db, "lcs", "a", "b", "len"), TOO_LARGE);
    assert.deepEqual(r(db, "lcs", "a", "b", "foo"), SYNTAX, "options are read first");
    assert.deepEqual(r(db, "lcs", "a", "b", "len", "idx"), LEN_AND_IDX);
  });
});

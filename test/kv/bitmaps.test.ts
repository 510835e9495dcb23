import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { StoredValue } from "../../src/storage/types.js";
import { err, NOT_INT, newDb, ok, r, SYNTAX, type TestDb, WRONGTYPE } from "./helpers.js";

const BAD_OFFSET = err("ERR bit offset is not an integer or out of range");
const BAD_BIT = err("ERR bit is not an integer or out of range");
const BAD_BITPOS_ARG = err("ERR The bit argument must be 1 or 0.");

const bytes = (...b: number[]) => Buffer.from(b);
/** A string value as `plain` shows it. */
const latin1 = (...b: number[]) => Buffer.from(b).toString("latin1");

function putOtherType(db: TestDb, key: string): void {
  const value = { type: "list", data: Buffer.from("x"), expireAtMs: 0 } as unknown as StoredValue;
  db.store.set(Buffer.from(key), value);
}

describe("SETBIT and GETBIT", () => {
  it("set and clear bits from the most significant bit, answering the old bit", () => {
    const db = newDb();
    assert.deepEqual(r(db, "setbit", "k", "1", "1"), 0);
    assert.deepEqual(r(db, "get", "k"), latin1(0b0100_0000));
    assert.deepEqual(r(db, "setbit", "k", "1", "1"), 1);
    assert.deepEqual(r(db, "setbit", "k", "1", "0"), 1);
    assert.deepEqual(r(db, "setbit", "k", "15", "1"), 0);
    assert.deepEqual(r(db, "get", "k"), latin1(0, 1));
    assert.deepEqual(r(db, "getbit", "k", "15"), 1);
    assert.deepEqual(r(db, "getbit", "k", "14"), 0);
    assert.deepEqual(r(db, "getbit", "k", "10000"), 0, "past the end reads 0");
    assert.deepEqual(r(db, "getbit", "none", "3"), 0);
  });

  it("work on the text of integers as on any string", () => {
    const db = newDb();
    r(db, "set", "k", "1"); // 0x31 = 00110001
    assert.deepEqual(r(db, "getbit", "k", "2"), 1);
    assert.deepEqual(r(db, "setbit", "k", "6", "1"), 0);
    assert.deepEqual(r(db, "get", "k"), "3");
  });

  it("SETBIT creates the key even to clear a bit, and zero-extends", () => {
    const db = newDb();
    assert.deepEqual(r(db, "setbit", "k", "0", "0"), 0);
    assert.deepEqual(r(db, "get", "k"), latin1(0));
    r(db, "set", "k", "@");
    assert.deepEqual(r(db, "setbit", "k", "23", "1"), 0);
    assert.deepEqual(r(db, "get", "k"), latin1(0x40, 0, 1));
  });

  it("SETBIT keeps the expiry, and does not write when nothing changes", () => {
    const db = newDb();
    r(db, "set", "k", "@", "px", "5000");
    r(db, "setbit", "k", "2", "1");
    assert.deepEqual(r(db, "pttl", "k"), 5000);
    const before = db.store.writeSeq;
    assert.deepEqual(r(db, "setbit", "k", "2", "1"), 1);
    assert.deepEqual(r(db, "setbit", "k", "3", "0"), 0);
    assert.equal(db.store.writeSeq, before);
    assert.deepEqual(r(db, "setbit", "k", "8", "0"), 0, "growing is a change");
    assert.notEqual(db.store.writeSeq, before);
  });

  it("an expired key is gone: SETBIT starts a fresh one without expiry", () => {
    const db = newDb();
    r(db, "set", "k", "\xff", "px", "10");
    db.advance(10);
    assert.deepEqual(r(db, "getbit", "k", "0"), 0);
    assert.deepEqual(r(db, "setbit", "k", "0", "0"), 0);
    assert.deepEqual(r(db, "get", "k"), latin1(0));
    assert.deepEqual(r(db, "pttl", "k"), -1);
  });

  it("refuse bad offsets and bits, offset first, before the type", () => {
    const db = newDb();
    for (const offset of ["-1", "x", "01", "1.0", "9223372036854775808", ""]) {
      assert.deepEqual(r(db, "setbit", "k", offset, "1"), BAD_OFFSET, offset);
      assert.deepEqual(r(db, "getbit", "k", offset), BAD_OFFSET, offset);
    }
    for (const bit of ["2", "-1", "10", "x", "01", "+1"]) {
      assert.deepEqual(r(db, "setbit", "k", "0", bit), BAD_BIT, bit);
    }
    assert.deepEqual(r(db, "setbit", "k", "x", "x"), BAD_OFFSET);
    assert.deepEqual(r(db, "exists", "k"), 0);
    putOtherType(db, "l");
    assert.deepEqual(r(db, "setbit", "l", "-1", "1"), BAD_OFFSET);
    assert.deepEqual(r(db, "setbit", "l", "0", "5"), BAD_BIT);
    assert.deepEqual(r(db, "setbit", "l", "0", "1"), WRONGTYPE);
    assert.deepEqual(r(db, "getbit", "l", "0"), WRONGTYPE);
  });

  it("matches SETBIT against a model bit array", () => {
    const db = newDb();
    const model: number[] = [];
    const step = fc.tuple(fc.nat({ max: 200 }), fc.constantFrom(0, 1));
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        for (const [offset, bit] of steps) {
          while (model.length <= (offset | 7)) model.push(0);
          const old = model[offset];
          model[offset] = bit;
          assert.deepEqual(r(db, "setbit", "k", String(offset), String(bit)), old);
        }
        const want = Buffer.alloc(Math.ceil(model.length / 8));
        model.forEach((bit, i) => {
          if (bit === 1) want[i >> 3] = (want[i >> 3] as number) | (0x80 >> (i & 7));
        });
        if (model.length > 0) assert.deepEqual(r(db, "get", "k"), want.toString("latin1"));
      }),
      { numRuns: 100 },
    );
  });
});

describe("BITCOUNT", () => {
  it("counts the whole string, byte ranges and bit ranges", () => {
    const db = newDb();
    r(db, "set", "s", "foobar");
    assert.deepEqual(r(db, "bitcount", "s"), 26);
    assert.deepEqual(r(db, "bitcount", "s", "0", "0"), 4);
    assert.deepEqual(r(db, "bitcount", "s", "1", "1"), 6);
    assert.deepEqual(r(db, "bitcount", "s", "1", "1", "BYTE"), 6);
    assert.deepEqual(r(db, "bitcount", "s", "-3", "-1"), 10);
    assert.deepEqual(r(db, "bitcount", "s", "5", "30", "bit"), 17);
    assert.deepEqual(r(db, "bitcount", "s", "0", "-1", "BIT"), 26);
    assert.deepEqual(r(db, "bitcount", "s", "1", "1", "bit"), 1);
    assert.deepEqual(r(db, "bitcount", "s", "7", "7", "bit"), 0);
    assert.deepEqual(r(db, "bitcount", "s", "-100", "100"), 26);
    assert.deepEqual(r(db, "bitcount", "s", "3", "2"), 0);
    assert.deepEqual(r(db, "bitcount", "s", "48", "100", "bit"), 0);
    assert.deepEqual(
      r(db, "bitcount", "s", "-9223372036854775808", "9223372036854775807", "bit"),
      26,
    );
  });

  it("answers 0 for a missing key or an empty string, whatever the arguments", () => {
    const db = newDb();
    assert.deepEqual(r(db, "bitcount", "none"), 0);
    assert.deepEqual(r(db, "bitcount", "none", "a"), 0);
    assert.deepEqual(r(db, "bitcount", "none", "a", "b", "c", "d"), 0);
    r(db, "set", "e", "");
    assert.deepEqual(r(db, "bitcount", "e"), 0);
    assert.deepEqual(r(db, "bitcount", "e", "0", "-1", "bit"), 0);
  });

  it("refuses malformed ranges in Redis 7.0's order", () => {
    const db = newDb();
    r(db, "set", "s", "foobar");
    assert.deepEqual(r(db, "bitcount", "s", "1"), SYNTAX);
    assert.deepEqual(r(db, "bitcount", "s", "a", "1"), NOT_INT);
    assert.deepEqual(r(db, "bitcount", "s", "1", "a"), NOT_INT);
    assert.deepEqual(r(db, "bitcount", "s", "0", "1", "bits"), SYNTAX);
    assert.deepEqual(r(db, "bitcount", "s", "0", "1", "bit", "x"), SYNTAX);
    // Two negative bounds in the wrong order answer 0 before the unit is read.
    assert.deepEqual(r(db, "bitcount", "s", "-1", "-3", "foo"), 0);
    putOtherType(db, "l");
    assert.deepEqual(r(db, "bitcount", "l", "x"), WRONGTYPE);
  });
});

describe("BITPOS", () => {
  it("finds the first set or clear bit in byte and bit ranges", () => {
    const db = newDb();
    r(db, "set", "p", bytes(0xff, 0xf0, 0x00));
    assert.deepEqual(r(db, "bitpos", "p", "0"), 12);
    assert.deepEqual(r(db, "bitpos", "p", "1"), 0);
    assert.deepEqual(r(db, "bitpos", "p", "1", "2"), -1);
    assert.deepEqual(r(db, "bitpos", "p", "0", "0", "0"), -1);
    assert.deepEqual(r(db, "bitpos", "p", "0", "0", "-1"), 12);
    assert.deepEqual(r(db, "bitpos", "p", "0", "2", "-1"), 16);
    assert.deepEqual(r(db, "bitpos", "p", "0", "0", "11", "bit"), -1);
    assert.deepEqual(r(db, "bitpos", "p", "0", "0", "12", "BIT"), 12);
    assert.deepEqual(r(db, "bitpos", "p", "1", "7", "15", "bit"), 7);
    assert.deepEqual(r(db, "bitpos", "p", "1", "12", "23", "bit"), -1);
    assert.deepEqual(r(db, "bitpos", "p", "0", "3", "2"), -1);
    assert.deepEqual(r(db, "bitpos", "p", "1", "-100", "100", "bit"), 0);
  });

  it("treats the right of the string as zeros only when no end is given", () => {
    const db = newDb();
    r(db, "set", "o", bytes(0xff, 0xff));
    assert.deepEqual(r(db, "bitpos", "o", "0"), 16);
    assert.deepEqual(r(db, "bitpos", "o", "0", "1"), 16);
    assert.deepEqual(r(db, "bitpos", "o", "0", "1", "-1"), -1);
    assert.deepEqual(r(db, "bitpos", "o", "0", "3", "15", "bit"), -1);
  });

  it("sees a missing key as all zeros and an empty string as no bits", () => {
    const db = newDb();
    assert.deepEqual(r(db, "bitpos", "none", "0"), 0);
    assert.deepEqual(r(db, "bitpos", "none", "1"), -1);
    assert.deepEqual(r(db, "bitpos", "none", "1", "x", "y"), -1);
    r(db, "set", "e", "");
    assert.deepEqual(r(db, "bitpos", "e", "0"), -1);
    assert.deepEqual(r(db, "bitpos", "e", "1"), -1);
  });

  it("refuses a bad bit first, then reads start, unit, end", () => {
    const db = newDb();
    r(db, "set", "o", bytes(0xff, 0xff));
    assert.deepEqual(r(db, "bitpos", "o", "3"), BAD_BITPOS_ARG);
    assert.deepEqual(r(db, "bitpos", "none", "3"), BAD_BITPOS_ARG);
    assert.deepEqual(r(db, "bitpos", "o", "x"), NOT_INT);
    assert.deepEqual(r(db, "bitpos", "o", "1", "x", "1", "foo"), NOT_INT);
    assert.deepEqual(r(db, "bitpos", "o", "1", "0", "x", "foo"), SYNTAX);
    assert.deepEqual(r(db, "bitpos", "o", "1", "0", "x"), NOT_INT);
    assert.deepEqual(r(db, "bitpos", "o", "1", "0", "1", "bot"), SYNTAX);
    assert.deepEqual(r(db, "bitpos", "o", "1", "0", "1", "bit", "x"), SYNTAX);
    putOtherType(db, "l");
    assert.deepEqual(r(db, "bitpos", "l", "1"), WRONGTYPE);
  });

  it("property: BITCOUNT and BITPOS agree with a bit-by-bit reading of the range", () => {
    const index = fc.integer({ min: -400, max: 400 }).map(String);
    // Runs of bytes with no set or no clear bit, long enough for the word-at-a-time paths;
    // ranges start at any byte, so those paths meet every alignment.
    const data = fc
      .array(fc.tuple(fc.constantFrom(0x00, 0xff, 0x10, 0xef), fc.nat(20)))
      .map((runs) => Buffer.concat(runs.map(([b, n]) => Buffer.alloc(n, b))));
    fc.assert(
      fc.property(
        data,
        index,
        index,
        fc.boolean(),
        fc.constantFrom(0, 1),
        (data, start, end, inBits, bit) => {
          const db = newDb();
          r(db, "set", "k", Buffer.from(data));
          const unit = inBits ? "bit" : "byte";
          const range = naiveRange(data.length, Number(start), Number(end), inBits);
          const bits = range.map((i) => ((data[i >> 3] as number) >> (7 - (i & 7))) & 1);
          const count = bits.reduce<number>((a, b) => a + b, 0);
          const wrongOrder = Number(start) < 0 && Number(end) < 0 && Number(start) > Number(end);
          assert.deepEqual(r(db, "bitcount", "k", start, end, unit), wrongOrder ? 0 : count);
          const at = bits.indexOf(bit);
          assert.deepEqual(
            r(db, "bitpos", "k", String(bit), start, end, unit),
            at < 0 ? -1 : range[at],
          );
        },
      ),
      { numRuns: 2000 },
    );
  });
});

/** The bit positions a start/end pair selects, written out from the documented rules. */
function naiveRange(length: number, start: number, end: number, inBits: boolean): number[] {
  const total = inBits ? length * 8 : length;
  const norm = (i: number) => Math.min(Math.max(i < 0 ? i + total : i, 0), total - 1);
  const first = Math.max(start < 0 ? start + total : start, 0);
  const last = norm(end);
  const out: number[] = [];
  for (let i = first; i <= last; i++) {
    if (inBits) out.push(i);
    else for (let b = 0; b < 8; b++) out.push(i * 8 + b);
  }
  return out;
}

describe("bitmaps and proto-max-bulk-len", () => {
  it("an offset whose byte lies at or past the limit is refused, one below is not", () => {
    const db = newDb({ maxBulkBytes: 16 });
    assert.deepEqual(r(db, "setbit", "k", "128", "1"), BAD_OFFSET);
    assert.deepEqual(r(db, "getbit", "k", "128"), BAD_OFFSET);
    assert.deepEqual(r(db, "setbit", "k", "127", "1"), 0);
    assert.deepEqual(r(db, "strlen", "k"), 16);
    assert.deepEqual(r(db, "getbit", "k", "127"), 1);
    assert.deepEqual(r(db, "set", "k", "x"), ok);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ByteReader, ByteWriter, DecodeError } from "../../src/core/bytes.js";

describe("ByteWriter and ByteReader", () => {
  it("round-trip every width at its bounds, big-endian", () => {
    const w = new ByteWriter(1);
    w.u8(0xff);
    w.u16(0xffff);
    w.u32(0xffff_ffff);
    w.u64(Number.MAX_SAFE_INTEGER);
    w.f64(-1.5);
    w.raw(new Uint8Array([7, 8]));
    const bytes = w.done();
    assert.deepEqual([...bytes.subarray(0, 3)], [0xff, 0xff, 0xff], "grew from 1 byte");
    const r = new ByteReader(bytes);
    assert.equal(r.u8(), 0xff);
    assert.equal(r.u16(), 0xffff);
    assert.equal(r.u32(), 0xffff_ffff);
    assert.equal(r.u64(), Number.MAX_SAFE_INTEGER);
    assert.equal(r.f64(), -1.5);
    assert.deepEqual([...r.bytesOf(2)], [7, 8]);
    assert.equal(r.remaining, 0);
  });

  it("refuses values out of range when writing, and lying input when reading", () => {
    const w = new ByteWriter();
    assert.throws(() => w.u8(256), RangeError);
    assert.throws(() => w.u16(-1), RangeError);
    assert.throws(() => w.u32(2 ** 32), RangeError);
    assert.throws(() => w.u64(2 ** 53), RangeError);
    assert.throws(() => w.u32(1.5), RangeError);
    assert.throws(() => new ByteReader(new Uint8Array(3)).u32(), DecodeError, "truncated");
    const beyond = new Uint8Array(8);
    beyond[1] = 0x20; // high word 0x00200000: past 2^53
    assert.throws(() => new ByteReader(beyond).u64(), DecodeError);
    const nan = new ByteWriter();
    nan.f64(Number.NaN);
    assert.throws(() => new ByteReader(nan.done()).f64(), DecodeError, "non-finite");
    assert.throws(() => new ByteReader(new Uint8Array(2)).skipTo(3), DecodeError);
  });

  it("reset keeps the buffer and starts over", () => {
    const w = new ByteWriter();
    w.u32(1);
    w.reset();
    w.u8(9);
    assert.deepEqual([...w.done()], [9]);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  addLongDouble,
  formatLongDoubleHuman,
  I64_MAX,
  I64_MIN,
  type LongDouble,
  parseI64,
  parseLongDouble,
} from "../../src/kv/numbers.js";

const b = (s: string) => Buffer.from(s, "latin1");

function ld(s: string): LongDouble {
  const v = parseLongDouble(b(s));
  assert.ok(v !== undefined, `not a number: ${s}`);
  return v;
}

describe("parseI64 (string2ll)", () => {
  it("accepts canonical integers across the whole 64-bit range", () => {
    assert.equal(parseI64(b("0")), 0n);
    assert.equal(parseI64(b("-1")), -1n);
    assert.equal(parseI64(b("123456789012345")), 123456789012345n);
    assert.equal(parseI64(b("9223372036854775807")), I64_MAX);
    assert.equal(parseI64(b("-9223372036854775808")), I64_MIN);
  });

  it("refuses everything else", () => {
    for (const bad of [
      "",
      "-",
      "+1",
      " 1",
      "1 ",
      "01",
      "-0",
      "00",
      "1.0",
      "1e3",
      "0x1",
      "9223372036854775808",
      "-9223372036854775809",
      "99999999999999999999",
      "1\x00",
    ]) {
      assert.equal(parseI64(b(bad)), undefined, JSON.stringify(bad));
    }
  });

  it("property: round-trips every 64-bit integer", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: I64_MIN, max: I64_MAX }), (n) => {
        assert.equal(parseI64(b(n.toString())), n);
      }),
    );
  });
});

describe("long double emulation", () => {
  it("reads decimal, hexadecimal and infinite forms as strtold does", () => {
    assert.equal(formatLongDoubleHuman(ld("1.5")), "1.5");
    assert.equal(formatLongDoubleHuman(ld("-2.25e2")), "-225");
    assert.equal(formatLongDoubleHuman(ld("0x1.8p1")), "3");
    assert.equal(formatLongDoubleHuman(ld("0X.8")), "0.5");
    assert.equal(formatLongDoubleHuman(ld("1E+2")), "100");
    assert.equal(formatLongDoubleHuman(ld("00012.50")), "12.5");
    assert.equal(ld("inf").kind, "infinite");
    assert.equal(ld("-INFINITY").kind, "infinite");
    for (const bad of [
      "nan",
      "NaN",
      "infin",
      "1e",
      "1e+",
      ".",
      "-",
      "0x",
      "0xg",
      "0x1p",
      " 1",
      "1 ",
      "1..2",
      "e5",
    ]) {
      assert.equal(parseLongDouble(b(bad)), undefined, bad);
    }
  });

  it("refuses overflow and underflow to zero, accepts subnormals and exact zero", () => {
    assert.equal(parseLongDouble(b("1e4933")), undefined);
    assert.equal(parseLongDouble(b("1e-4952")), undefined);
    assert.equal(parseLongDouble(b("0x1p16384")), undefined);
    assert.ok(parseLongDouble(b("1e4932")) !== undefined);
    assert.ok(parseLongDouble(b("1e-4940")) !== undefined);
    assert.equal(formatLongDoubleHuman(ld("0e-99999")), "0");
    assert.equal(formatLongDoubleHuman(ld("-0")), "0");
    assert.equal(parseLongDouble(b("1".repeat(5120))), undefined, "5 KiB or more is refused");
  });

  it("rounds to 64 mantissa bits, ties to even", () => {
    // 2^64 + 1 is not representable: it rounds to 2^64 (tie, even mantissa).
    assert.equal(formatLongDoubleHuman(ld("18446744073709551617")), "18446744073709551616");
    assert.equal(formatLongDoubleHuman(ld("18446744073709551615")), "18446744073709551615");
    assert.equal(formatLongDoubleHuman(ld("18446744073709551614")), "18446744073709551614");
  });

  it("prints with 17 decimals, correctly rounded, trailing zeros trimmed", () => {
    assert.equal(formatLongDoubleHuman(ld("0.1")), "0.1");
    assert.equal(formatLongDoubleHuman(ld("1e-17")), "0.00000000000000001");
    assert.equal(formatLongDoubleHuman(ld("4e-18")), "0");
    assert.equal(formatLongDoubleHuman(ld("-4e-18")), "0");
    assert.equal(formatLongDoubleHuman(ld("6e-18")), "0.00000000000000001");
    assert.equal(formatLongDoubleHuman({ kind: "infinite", negative: true }), "-inf");
  });

  it("adds with one rounding, infinities and NaN", () => {
    const sum = (x: string, y: string) => formatLongDoubleHuman(addLongDouble(ld(x), ld(y)));
    assert.equal(sum("0.1", "0.2"), "0.3");
    assert.equal(sum("10.5", "0.1"), "10.6");
    assert.equal(sum("1e4000", "-1e4000"), "0");
    assert.equal(addLongDouble(ld("inf"), ld("-inf")).kind, "nan");
    assert.equal(addLongDouble(ld("inf"), ld("1")).kind, "infinite");
    assert.equal(addLongDouble(ld("1e4932"), ld("1e4932")).kind, "infinite");
  });

  it("property: integer sums are exact up to 2^64", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(1n << 62n), max: 1n << 62n }),
        fc.bigInt({ min: -(1n << 62n), max: 1n << 62n }),
        (x, y) => {
          assert.equal(
            formatLongDoubleHuman(addLongDouble(ld(x.toString()), ld(y.toString()))),
            (x + y).toString(),
          );
        },
      ),
    );
  });

  it("property: short decimals below 90 survive a round trip", () => {
    // 64 mantissa bits hold 17 decimals exactly enough only below ~92; larger values show
    // their binary error in the last digits, exactly as Redis does ("21871537.6" comes back
    // as "21871537.6000000000003638").
    fc.assert(
      fc.property(
        fc.integer({ min: -89, max: 89 }),
        fc.stringMatching(/^[0-9]{0,6}$/),
        (whole, fraction) => {
          const text = fraction === "" ? String(whole) : `${whole}.${fraction}`;
          let expected =
            fraction.replace(/0+$/, "") === "" ? String(whole) : text.replace(/0+$/, "");
          if (expected === "-0") expected = "0";
          assert.equal(formatLongDoubleHuman(ld(text)), expected);
        },
      ),
    );
  });

  it("larger values print their binary error as Redis does", () => {
    assert.equal(formatLongDoubleHuman(ld("21871537.6")), "21871537.6000000000003638");
  });
});

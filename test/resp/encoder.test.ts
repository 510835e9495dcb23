import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  encodeCommand,
  encodeReply,
  formatDouble,
  type Protocol,
  ReplyWriter,
} from "../../src/resp/encoder.js";
import * as R from "../../src/resp/reply.js";
import type { Reply } from "../../src/resp/types.js";

const enc = (reply: Reply, proto: Protocol) => encodeReply(reply, proto).toString("latin1");

/** [reply, RESP2 bytes, RESP3 bytes] */
const CASES: [string, Reply, string, string][] = [
  ["OK", R.OK, "+OK\r\n", "+OK\r\n"],
  ["PONG", R.PONG, "+PONG\r\n", "+PONG\r\n"],
  ["QUEUED", R.QUEUED, "+QUEUED\r\n", "+QUEUED\r\n"],
  ["simple", R.simple("hello world"), "+hello world\r\n", "+hello world\r\n"],
  ["simple with CR LF", R.simple("a\r\nb"), "+a  b\r\n", "+a  b\r\n"],
  [
    "simple, long UTF-8",
    R.simple(`é${"x".repeat(60)}\n`),
    `+\xc3\xa9${"x".repeat(60)} \r\n`,
    `+\xc3\xa9${"x".repeat(60)} \r\n`,
  ],
  ["error", R.error("ERR syntax error"), "-ERR syntax error\r\n", "-ERR syntax error\r\n"],
  ["error with newline", R.error("ERR a\nb"), "-ERR a b\r\n", "-ERR a b\r\n"],
  ["integer 0", R.integer(0), ":0\r\n", ":0\r\n"],
  ["integer -1", R.integer(-1), ":-1\r\n", ":-1\r\n"],
  ["integer 1000", R.integer(1000), ":1000\r\n", ":1000\r\n"],
  ["integer 2^53-1", R.integer(2 ** 53 - 1), ":9007199254740991\r\n", ":9007199254740991\r\n"],
  [
    "integer -(2^53-1)",
    R.integer(-(2 ** 53 - 1)),
    ":-9007199254740991\r\n",
    ":-9007199254740991\r\n",
  ],
  [
    "integer 2^60 as a number",
    R.integer(2 ** 60),
    ":1152921504606846976\r\n",
    ":1152921504606846976\r\n",
  ],
  [
    "integer LLONG_MAX",
    R.integer(2n ** 63n - 1n),
    ":9223372036854775807\r\n",
    ":9223372036854775807\r\n",
  ],
  [
    "integer LLONG_MIN",
    R.integer(-(2n ** 63n)),
    ":-9223372036854775808\r\n",
    ":-9223372036854775808\r\n",
  ],
  ["bulk", R.bulk("value"), "$5\r\nvalue\r\n", "$5\r\nvalue\r\n"],
  ["empty bulk", R.bulk(""), "$0\r\n\r\n", "$0\r\n\r\n"],
  ["bulk, UTF-8 string", R.bulk("é"), "$2\r\n\xc3\xa9\r\n", "$2\r\n\xc3\xa9\r\n"],
  [
    "bulk, binary",
    R.bulk(Buffer.from([0, 13, 10, 255])),
    "$4\r\n\x00\r\n\xff\r\n",
    "$4\r\n\x00\r\n\xff\r\n",
  ],
  [
    "bulk, long",
    R.bulk("y".repeat(100)),
    `$100\r\n${"y".repeat(100)}\r\n`,
    `$100\r\n${"y".repeat(100)}\r\n`,
  ],
  [
    "bulk, long Buffer",
    R.bulk(Buffer.alloc(70, 0x7a)),
    `$70\r\n${"z".repeat(70)}\r\n`,
    `$70\r\n${"z".repeat(70)}\r\n`,
  ],
  ["null", R.NULL, "$-1\r\n", "_\r\n"],
  ["null array", R.NULL_ARRAY, "*-1\r\n", "_\r\n"],
  ["empty array", R.EMPTY_ARRAY, "*0\r\n", "*0\r\n"],
  [
    "nested array",
    R.array([R.integer(1), R.array([R.bulk("a"), R.NULL]), R.simple("s")]),
    "*3\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n+s\r\n",
    "*3\r\n:1\r\n*2\r\n$1\r\na\r\n_\r\n+s\r\n",
  ],
  [
    "map",
    R.map([
      [R.bulk("a"), R.integer(1)],
      [R.bulk("b"), R.double(2.5)],
    ]),
    "*4\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n$3\r\n2.5\r\n",
    "%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n,2.5\r\n",
  ],
  ["empty map", R.map([]), "*0\r\n", "%0\r\n"],
  [
    "set",
    R.set([R.bulk("x"), R.bulk("y")]),
    "*2\r\n$1\r\nx\r\n$1\r\ny\r\n",
    "~2\r\n$1\r\nx\r\n$1\r\ny\r\n",
  ],
  ["double 1.5", R.double(1.5), "$3\r\n1.5\r\n", ",1.5\r\n"],
  ["double 3", R.double(3), "$1\r\n3\r\n", ",3\r\n"],
  ["double 0.1", R.double(0.1), "$19\r\n0.10000000000000001\r\n", ",0.10000000000000001\r\n"],
  ["double inf", R.double(Number.POSITIVE_INFINITY), "$3\r\ninf\r\n", ",inf\r\n"],
  ["double -inf", R.double(Number.NEGATIVE_INFINITY), "$4\r\n-inf\r\n", ",-inf\r\n"],
  ["double nan", R.double(Number.NaN), "$3\r\nnan\r\n", ",nan\r\n"],
  ["double -0", R.double(-0), "$2\r\n-0\r\n", ",-0\r\n"],
  ["double with its own text (GEOPOS)", R.doubleText(180, "180"), "$3\r\n180\r\n", ",180\r\n"],
  [
    "double with its own text, not %.17g",
    R.doubleText(0.1, "0.1000000000000000055"),
    "$21\r\n0.1000000000000000055\r\n",
    ",0.1000000000000000055\r\n",
  ],
  ["boolean true", R.boolean(true), ":1\r\n", "#t\r\n"],
  ["boolean false", R.boolean(false), ":0\r\n", "#f\r\n"],
  ["verbatim", R.verbatim("hello"), "$5\r\nhello\r\n", "=9\r\ntxt:hello\r\n"],
  [
    "push",
    R.push([R.bulk("message"), R.integer(1)]),
    "*2\r\n$7\r\nmessage\r\n:1\r\n",
    ">2\r\n$7\r\nmessage\r\n:1\r\n",
  ],
  [
    "verbatim, markdown, UTF-8",
    R.verbatim("é", "mkd"),
    "$2\r\n\xc3\xa9\r\n",
    "=6\r\nmkd:\xc3\xa9\r\n",
  ],
];

describe("encoder: every reply kind", () => {
  for (const [name, reply, resp2, resp3] of CASES) {
    it(name, () => {
      assert.equal(enc(reply, 2), resp2, "RESP2");
      assert.equal(enc(reply, 3), resp3, "RESP3");
    });
  }
});

describe("formatDouble: C's %.17g, as Redis 7.0 prints doubles", () => {
  // Expected values printed by glibc's printf("%.17g").
  const cases: [number, string][] = [
    [1.5, "1.5"],
    [3, "3"],
    [-2.5, "-2.5"],
    [0.1, "0.10000000000000001"],
    [1 / 3, "0.33333333333333331"],
    [1e300, "1.0000000000000001e+300"],
    [1e-300, "1e-300"],
    [5e-324, "4.9406564584124654e-324"],
    [1e16, "10000000000000000"],
    [1e17, "1e+17"],
    [123456789012345680, "1.2345678901234568e+17"],
    [0.0001, "0.0001"],
    [0.00001, "1.0000000000000001e-05"],
    [Number.MAX_VALUE, "1.7976931348623157e+308"],
    [2 ** 53, "9007199254740992"],
    // Ties (exact binary value with 18 significant digits ending in 5) round to even.
    [1e15 + 0.25, "1000000000000000.2"],
    [1e15 + 0.75, "1000000000000000.8"],
    [1e15 + 1.25, "1000000000000001.2"],
  ];
  for (const [d, text] of cases) {
    it(`${d} → ${text}`, () => assert.equal(formatDouble(d), text));
  }
});

describe("ReplyWriter", () => {
  it("packs a pipelined batch into one buffer", () => {
    const w = new ReplyWriter();
    w.write(R.OK, 2);
    w.write(R.bulk("v"), 2);
    w.write(R.integer(7), 2);
    w.write(R.NULL, 2);
    assert.equal(w.length, 5 + 7 + 4 + 5);
    const out = w.take();
    assert.equal(out.toString(), "+OK\r\n$1\r\nv\r\n:7\r\n$-1\r\n");
    assert.equal(w.length, 0);
    assert.equal(w.take().length, 0);
  });

  it("never touches bytes it handed out", () => {
    const w = new ReplyWriter(64);
    const taken: [Buffer, string][] = [];
    for (let i = 0; i < 200; i++) {
      w.write(R.bulk(`value-${i}`), 2);
      if (i % 3 === 0) {
        const b = w.take();
        taken.push([b, b.toString("latin1")]);
      }
    }
    w.write(R.bulk("x".repeat(10_000)), 3);
    taken.push([w.take(), ""]);
    for (const [b, text] of taken.slice(0, -1)) assert.equal(b.toString("latin1"), text);
  });

  it("grows for big replies and batches", () => {
    const w = new ReplyWriter(16);
    const big = Buffer.alloc(100_000, 0x61);
    w.write(R.bulk(big), 2);
    for (let i = 0; i < 1000; i++) w.write(R.integer(i), 3);
    const out = w.take();
    assert.equal(out.subarray(0, 10).toString(), "$100000\r\na");
    assert.ok(out.toString("latin1").endsWith(":998\r\n:999\r\n"));
  });

  it("has fast paths that match the generic path", () => {
    const w = new ReplyWriter();
    w.writeSimple("OK");
    w.writeError("ERR x");
    w.writeBulk("abc");
    w.writeBulk(Buffer.from("abc"));
    w.writeInteger(-12);
    w.writeNull(2);
    w.writeNullArray(3);
    w.writeArrayHeader(2);
    w.writeMapHeader(1, 2);
    w.writeMapHeader(1, 3);
    w.writeSetHeader(3, 3);
    w.writeDouble(0.5, 3);
    w.writeBoolean(true, 3);
    w.writeVerbatim("txt", "v", 3);
    w.raw(Buffer.from("+RAW\r\n"));
    assert.equal(
      w.take().toString(),
      "+OK\r\n-ERR x\r\n$3\r\nabc\r\n$3\r\nabc\r\n:-12\r\n$-1\r\n_\r\n*2\r\n*2\r\n%1\r\n~3\r\n,0.5\r\n#t\r\n=5\r\ntxt:v\r\n+RAW\r\n",
    );
  });

  it("refuses a non-integer integer reply (a bug in the caller)", () => {
    assert.throws(() => encodeReply(R.integer(1.5), 2), /not an integer/);
  });
});

describe("encodeCommand", () => {
  it("encodes a multibulk of bulk strings", () => {
    assert.equal(
      encodeCommand(["SET", Buffer.from("k"), "é"]).toString("latin1"),
      "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n\xc3\xa9\r\n",
    );
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { formatDouble, type Protocol, ReplyWriter } from "../../src/resp/encoder.js";
import { ProtocolError } from "../../src/resp/errors.js";
import * as R from "../../src/resp/reply.js";
import { type ReplyLimits, ReplyParser } from "../../src/resp/reply-parser.js";
import type { Reply } from "../../src/resp/types.js";
import { latin1, pieces, splits } from "./helpers.js";

interface Parsed {
  replies: Reply[];
  pushes: boolean[];
  error: string | undefined;
}

function parse(
  chunks: readonly Buffer[],
  limits: Partial<ReplyLimits> = {},
  bulkAs: "buffer" | "string" = "string",
): Parsed {
  const parser = new ReplyParser(limits, { bulkAs });
  const out: Parsed = { replies: [], pushes: [], error: undefined };
  for (const c of chunks) {
    const copy = Buffer.from(c);
    const err = parser.feed(copy, (reply, push) => {
      out.replies.push(reply);
      out.pushes.push(push);
    });
    copy.fill(0xee);
    if (err !== undefined) {
      assert.ok(err instanceof ProtocolError);
      out.error = err.message;
      break;
    }
  }
  return out;
}

const EXAMPLES: [string, string, Reply[]][] = [
  ["simple", "+OK\r\n", [R.OK]],
  ["error", "-ERR bad\r\n", [R.error("ERR bad")]],
  [
    "integers",
    ":0\r\n:-12\r\n:9223372036854775807\r\n",
    [R.integer(0), R.integer(-12), R.integer(2n ** 63n - 1n)],
  ],
  ["bulk", "$5\r\nhello\r\n$0\r\n\r\n", [R.bulk("hello"), R.bulk("")]],
  ["bulk holding CRLF", "$4\r\n\r\n\r\n\r\n", [R.bulk("\r\n\r\n")]],
  ["RESP2 nulls", "$-1\r\n*-1\r\n", [R.NULL, R.NULL_ARRAY]],
  ["RESP3 null", "_\r\n", [R.NULL]],
  [
    "array",
    "*3\r\n:1\r\n*1\r\n+x\r\n$-1\r\n",
    [R.array([R.integer(1), R.array([R.simple("x")]), R.NULL])],
  ],
  ["empty array", "*0\r\n", [R.array([])]],
  [
    "map",
    "%2\r\n+a\r\n:1\r\n+b\r\n#f\r\n",
    [
      R.map([
        [R.simple("a"), R.integer(1)],
        [R.simple("b"), R.boolean(false)],
      ]),
    ],
  ],
  ["set", "~2\r\n+a\r\n+b\r\n", [R.set([R.simple("a"), R.simple("b")])]],
  [
    "doubles",
    ",1.5\r\n,-inf\r\n,inf\r\n,1e+300\r\n,3\r\n",
    [
      R.double(1.5),
      R.double(-Infinity),
      R.double(Infinity),
      R.doubleText(1e300, "1e+300"),
      R.double(3),
    ],
  ],
  [
    "a double keeps its text when it is not %.17g (GEOPOS), so a forward re-sends it as is",
    ",13.36138933897018433\r\n",
    [R.doubleText(13.361389338970184, "13.36138933897018433")],
  ],
  ["double nan", ",nan\r\n", [R.double(Number.NaN)]],
  ["booleans", "#t\r\n#f\r\n", [R.boolean(true), R.boolean(false)]],
  ["verbatim", "=9\r\ntxt:hello\r\n", [R.verbatim("hello")]],
  [
    "big number",
    "(3492890328409238509324850943850943825024385\r\n",
    [R.integer(3492890328409238509324850943850943825024385n)],
  ],
  ["blob error", "!8\r\nERR a\r\nb\r\n", [R.error("ERR a\r\nb")]],
  ["attribute is dropped", "|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n", [R.bulk("v")]],
  [
    "attribute inside an array",
    "*2\r\n:1\r\n|1\r\n+a\r\n+b\r\n:2\r\n",
    [R.array([R.integer(1), R.integer(2)])],
  ],
];

describe("ReplyParser: examples, split anywhere", () => {
  for (const [name, input, expected] of EXAMPLES) {
    it(name, () => {
      const bytes = latin1(input);
      const whole = parse([bytes]);
      assert.equal(whole.error, undefined);
      assert.deepEqual(whole.replies, expected);
      for (const chunks of splits(bytes)) assert.deepEqual(parse(chunks), whole);
    });
  }

  it("push messages are flagged", () => {
    const got = parse([latin1(">2\r\n+message\r\n+hi\r\n+OK\r\n")]);
    assert.deepEqual(got.replies, [R.array([R.simple("message"), R.simple("hi")]), R.OK]);
    assert.deepEqual(got.pushes, [true, false]);
  });

  it("bulk strings come out as Buffers by default, copied", () => {
    const got = parse([latin1("$3\r\n\x00\xff\x01\r\n")], {}, "buffer");
    assert.deepEqual(got.replies, [R.bulk(Buffer.from([0, 0xff, 1]))]);
  });
});

describe("ReplyParser: errors", () => {
  const cases: [string, string, Partial<ReplyLimits>][] = [
    ["?x\r\n", "Protocol error: unknown reply type byte '?'", {}],
    ["$x\r\n", "Protocol error: invalid length in reply", {}],
    ["$-2\r\n", "Protocol error: invalid length in reply", {}],
    ["$?\r\n", "Protocol error: invalid length in reply", {}],
    ["%-1\r\n", "Protocol error: invalid length in reply", {}],
    [":1x\r\n", "Protocol error: invalid integer in reply", {}],
    ["(1.5\r\n", "Protocol error: invalid integer in reply", {}],
    [",1.5x\r\n", "Protocol error: invalid double in reply", {}],
    ["#x\r\n", "Protocol error: invalid boolean in reply", {}],
    ["_x\r\n", "Protocol error: invalid null in reply", {}],
    ["=3\r\ntxt\r\n", "Protocol error: invalid verbatim string in reply", {}],
    ["+OK\rX", "Protocol error: expected CRLF in reply", {}],
    ["$1\r\nab\r\n", "Protocol error: expected CRLF in reply", {}],
    ["$11\r\n", "Protocol error: invalid length in reply", { maxBulkBytes: 10 }],
    ["*5\r\n", "Protocol error: invalid length in reply", { maxArrayLength: 4 }],
    ["*1\r\n*1\r\n*1\r\n", "Protocol error: reply nested too deeply", { maxDepth: 2 }],
    [`+${"a".repeat(17)}\r\n`, "Protocol error: too big line in reply", { maxLineBytes: 16 }],
    [`+${"a".repeat(17)}`, "Protocol error: too big line in reply", { maxLineBytes: 16 }],
    [`*9\r\n${"+a\r\n".repeat(9)}`, "Protocol error: reply too big", { maxBufferBytes: 30 }],
  ];
  for (const [input, message, limits] of cases) {
    it(`${JSON.stringify(input)} → ${message}`, () => {
      const bytes = latin1(input);
      const whole = parse([bytes], limits);
      assert.equal(whole.error, message);
      for (const chunks of splits(bytes)) assert.equal(parse(chunks, limits).error, message);
    });
  }

  it("delivers the replies before an error, then refuses input", () => {
    const parser = new ReplyParser();
    const got: Reply[] = [];
    const err = parser.feed(latin1("+a\r\n:1\r\n?"), (r) => got.push(r));
    assert.equal(err, undefined);
    const err2 = parser.feed(latin1("\r\n"), (r) => got.push(r));
    assert.equal(err2?.code, "REPLY_UNKNOWN_TYPE");
    assert.equal(
      parser.feed(latin1("+b\r\n"), (r) => got.push(r)),
      err2,
    );
    assert.deepEqual(got, [R.simple("a"), R.integer(1)]);
  });
});

describe("ReplyParser: bounds", () => {
  it("just below each bound passes", () => {
    const limits = { maxBulkBytes: 10, maxArrayLength: 4, maxDepth: 2, maxLineBytes: 16 };
    const input = `$10\r\n${"b".repeat(10)}\r\n*4\r\n:1\r\n:2\r\n:3\r\n*1\r\n:4\r\n+${"a".repeat(15)}\r\n`;
    const got = parse([latin1(input)], limits);
    assert.equal(got.error, undefined);
    assert.equal(got.replies.length, 3);
  });

  it("maxBufferBytes bounds one unfinished element", () => {
    const input = latin1(`$40\r\n${"x".repeat(40)}\r\n`);
    assert.equal(parse(pieces(input, 5), { maxBufferBytes: 47 }).error, undefined);
    assert.equal(
      parse(pieces(input, 5), { maxBufferBytes: 46 }).error,
      "Protocol error: reply too big",
    );
  });

  it("does not preallocate from a declared length", () => {
    const parser = new ReplyParser();
    parser.feed(latin1("$536870912\r\nabc"), () => {});
    assert.ok(parser.retainedBytes() < 64 * 1024);
    parser.feed(latin1("*2147483647\r\n"), () => {});
    assert.ok(parser.inProgress());
  });
});

// ---- round trip: encoder → reply parser ----

const text = fc.string({ unit: "grapheme", maxLength: 20 }).filter((s) => !/[\r\n]/.test(s));

const replyArb: fc.Arbitrary<Reply> = fc.letrec<{ reply: Reply }>((tie) => ({
  reply: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    text.map((s) => R.simple(s)),
    text.map((s) => R.error(`ERR ${s}`)),
    fc.oneof(fc.integer(), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })).map(R.integer),
    fc
      .oneof(
        fc.string({ unit: "grapheme" }),
        fc.uint8Array({ maxLength: 30 }).map((a) => Buffer.from(a)),
      )
      .map(R.bulk),
    fc.constant(R.NULL),
    fc.constant(R.NULL_ARRAY),
    fc.double().map(R.double),
    fc.boolean().map(R.boolean),
    fc
      .tuple(fc.string({ unit: "grapheme" }), fc.constantFrom("txt", "mkd"))
      .map(([s, f]) => R.verbatim(s, f)),
    fc.array(tie("reply"), { maxLength: 4 }).map(R.array),
    fc.array(fc.tuple(tie("reply"), tie("reply")), { maxLength: 3 }).map(R.map),
    fc.array(tie("reply"), { maxLength: 4 }).map(R.set),
  ),
})).reply;

/** What a reply becomes after encoding for `proto` and parsing back (bulk strings as Buffers). */
function expected(reply: Reply, proto: Protocol): Reply {
  switch (reply.kind) {
    case "integer": {
      const v = reply.value;
      return typeof v === "bigint" &&
        v >= BigInt(Number.MIN_SAFE_INTEGER) &&
        v <= BigInt(Number.MAX_SAFE_INTEGER)
        ? R.integer(Number(v))
        : reply;
    }
    case "bulk":
      return R.bulk(typeof reply.value === "string" ? Buffer.from(reply.value) : reply.value);
    case "nullArray":
      return proto === 3 ? R.NULL : reply;
    case "array":
      return R.array(reply.value.map((r) => expected(r, proto)));
    case "set":
      return proto === 3
        ? R.set(reply.value.map((r) => expected(r, proto)))
        : R.array(reply.value.map((r) => expected(r, proto)));
    case "map":
      return proto === 3
        ? R.map(reply.value.map(([k, v]) => [expected(k, proto), expected(v, proto)] as const))
        : R.array(reply.value.flatMap(([k, v]) => [expected(k, proto), expected(v, proto)]));
    case "double":
      return proto === 3 ? reply : R.bulk(Buffer.from(formatDouble(reply.value)));
    case "boolean":
      return proto === 3 ? reply : R.integer(reply.value ? 1 : 0);
    case "verbatim":
      return proto === 3 ? reply : R.bulk(Buffer.from(reply.value));
    default:
      return reply;
  }
}

describe("round trip: encoder → reply parser", () => {
  for (const proto of [2, 3] as const) {
    it(`RESP${proto}, pipelined, cut anywhere`, () => {
      fc.assert(
        fc.property(
          fc.array(replyArb, { minLength: 1, maxLength: 5 }),
          fc.array(fc.nat(), { maxLength: 6 }),
          (replies, points) => {
            const w = new ReplyWriter(32);
            for (const r of replies) w.write(r, proto);
            const bytes = w.take();
            const at = [
              ...new Set(points.map((p) => (bytes.length === 0 ? 0 : p % bytes.length))),
            ].sort((a, b) => a - b);
            const chunks: Buffer[] = [];
            let prev = 0;
            for (const p of at) {
              chunks.push(bytes.subarray(prev, p));
              prev = p;
            }
            chunks.push(bytes.subarray(prev));
            const got = parse(chunks, {}, "buffer");
            assert.equal(got.error, undefined);
            assert.deepEqual(
              got.replies,
              replies.map((r) => expected(r, proto)),
            );
          },
        ),
        { numRuns: 200 },
      );
    });
  }
});

describe("ReplyParser: properties", () => {
  const limits: ReplyLimits = {
    maxBulkBytes: 32,
    maxArrayLength: 8,
    maxLineBytes: 64,
    maxDepth: 4,
    maxBufferBytes: 256,
  };
  const check = (chunks: Buffer[]) => {
    const parser = new ReplyParser(limits);
    for (const c of chunks) {
      const err = parser.feed(c, () => {});
      assert.ok(err === undefined || err instanceof ProtocolError);
      assert.ok(parser.bufferedBytes() <= limits.maxBufferBytes);
      assert.ok(parser.retainedBytes() <= limits.maxBufferBytes + 1);
      if (err !== undefined) break;
    }
  };

  it("random bytes: only ProtocolError, bounded memory", () => {
    const token = fc.constantFrom(
      "*",
      "$",
      "%",
      "~",
      ">",
      "|",
      "=",
      "!",
      ",",
      "#",
      "_",
      "(",
      ":",
      "+",
      "-",
      "\r",
      "\n",
      "\r\n",
      "1",
      "3",
      "9",
      "0",
      "t",
      "x",
    );
    const chunk = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
      fc.array(token, { maxLength: 100 }).map((t) => latin1(t.join(""))),
    );
    fc.assert(fc.property(fc.array(chunk, { maxLength: 6 }), check), { numRuns: 300 });
  });

  it("encoded replies cut anywhere, with bytes flipped: only ProtocolError, bounded memory", () => {
    fc.assert(
      fc.property(
        fc.array(replyArb, { minLength: 1, maxLength: 4 }),
        fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 3 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (replies, flips, points) => {
          const w = new ReplyWriter();
          for (const r of replies) w.write(r, 3);
          const bytes = Buffer.from(w.take());
          for (const [at, v] of flips) bytes[at % bytes.length] = v;
          const at = [...new Set(points.map((p) => p % bytes.length))].sort((a, b) => a - b);
          const chunks: Buffer[] = [];
          let prev = 0;
          for (const p of at) {
            chunks.push(bytes.subarray(prev, p));
            prev = p;
          }
          chunks.push(bytes.subarray(prev));
          check(chunks);
        },
      ),
      { numRuns: 300 },
    );
  });
});

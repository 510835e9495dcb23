import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeCommand } from "../../src/resp/encoder.js";
import { ProtocolError } from "../../src/resp/errors.js";
import { type ParsedCommand, RequestParser } from "../../src/resp/parser.js";
import { latin1, type Outcome, parseChunks, parseWhole, pieces, splits } from "./helpers.js";

const SET = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
const GET = "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n";

interface Example {
  name: string;
  input: string;
  commands: string[][];
  error?: string;
}

const EXAMPLES: Example[] = [
  { name: "SET", input: SET, commands: [["SET", "key", "value"]] },
  { name: "PING", input: "*1\r\n$4\r\nPING\r\n", commands: [["PING"]] },
  { name: "empty argument", input: "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", commands: [["ECHO", ""]] },
  {
    name: "binary bulk holding CRLF",
    input: "*2\r\n$4\r\nECHO\r\n$6\r\n\r\n\x00\xff\r\n\r\n",
    commands: [["ECHO", "\r\n\x00\xff\r\n"]],
  },
  {
    name: "*0 and *-1 are skipped",
    input: `*0\r\n*-1\r\n*-3000000000\r\n${GET}`,
    commands: [["GET", "key"]],
  },
  {
    name: "pipeline",
    input: SET + GET + SET + GET,
    commands: [
      ["SET", "key", "value"],
      ["GET", "key"],
      ["SET", "key", "value"],
      ["GET", "key"],
    ],
  },
  { name: "inline", input: "PING\r\n", commands: [["PING"]] },
  { name: "inline, bare LF", input: "set a b\n", commands: [["set", "a", "b"]] },
  { name: "inline, empty lines skipped", input: "\r\n\n   \r\n\t\nPING\n", commands: [["PING"]] },
  {
    name: "inline, blanks",
    input: "  SET\ta \t b  \r\n",
    commands: [["SET", "a", "b"]],
  },
  {
    name: "inline, \\v and \\f skipped before a token but part of it after",
    input: "\x0b\x0cSET a\x0bb\n",
    commands: [["SET", "a\x0bb"]],
  },
  {
    name: "inline, quotes",
    input: `SET "a b" 'c d'\r\n`,
    commands: [["SET", "a b", "c d"]],
  },
  {
    name: "inline, double-quote escapes",
    input: `ECHO "\\x41\\x7a\\n\\r\\t\\b\\a\\\\\\"\\q\\x4g"\r\n`,
    commands: [["ECHO", 'Az\n\r\t\b\x07\\"qx4g']],
  },
  {
    name: "inline, single-quote escapes",
    input: `ECHO 'it\\'s' 'a\\nb' 'x"y'\n`,
    commands: [["ECHO", "it's", "a\\nb", 'x"y']],
  },
  {
    name: "inline, empty quoted arguments",
    input: `SET "" ''\n`,
    commands: [["SET", "", ""]],
  },
  {
    name: "inline, quote inside a token opens a quoted part",
    input: `a"b c" d\n`,
    commands: [["ab c", "d"]],
  },
  {
    name: "inline, closing quote then \\v",
    input: `"a"\x0bb\n`,
    commands: [["a", "b"]],
  },
  {
    name: "inline, CR inside a line ends a token",
    input: "a\rb\r\n",
    commands: [["a", "b"]],
  },
  {
    name: "inline and multibulk mixed",
    input: `PING\r\n${GET}ECHO "x y"\n${SET}`,
    commands: [["PING"], ["GET", "key"], ["ECHO", "x y"], ["SET", "key", "value"]],
  },
  {
    name: "inline, NUL is an ordinary byte",
    input: "ECHO a\x00b\n",
    commands: [["ECHO", "a\x00b"]],
  },
  // Errors, with Redis 7.0's text, after the commands before them.
  {
    name: "multibulk count not a number",
    input: `${GET}*abc\r\n`,
    commands: [["GET", "key"]],
    error: "Protocol error: invalid multibulk length",
  },
  {
    name: "multibulk count with a plus",
    input: "*+1\r\n$1\r\na\r\n",
    commands: [],
    error: "Protocol error: invalid multibulk length",
  },
  {
    name: "multibulk count with a leading zero",
    input: "*01\r\n$1\r\na\r\n",
    commands: [],
    error: "Protocol error: invalid multibulk length",
  },
  {
    name: "multibulk count -0",
    input: "*-0\r\n",
    commands: [],
    error: "Protocol error: invalid multibulk length",
  },
  {
    name: "multibulk count empty",
    input: "*\r\n",
    commands: [],
    error: "Protocol error: invalid multibulk length",
  },
  {
    name: "multibulk count over INT_MAX",
    input: "*2147483648\r\n",
    commands: [],
    error: "Protocol error: invalid multibulk length",
  },
  {
    name: "multibulk count overflowing 64 bits",
    input: "*-9223372036854775809\r\n",
    commands: [],
    error: "Protocol error: invalid multibulk length",
  },
  {
    name: "multibulk count at the 64-bit bound is skipped like any negative",
    input: `*-9223372036854775808\r\n${GET}`,
    commands: [["GET", "key"]],
  },
  {
    name: "multibulk count line CR without LF",
    input: "*1\rX$1\r\na\r\n",
    commands: [],
    error: "Protocol error: invalid multibulk length",
  },
  {
    name: "expected $",
    input: `${SET}*2\r\n$3\r\nGET\r\n+key\r\n`,
    commands: [["SET", "key", "value"]],
    error: "Protocol error: expected '$', got '+'",
  },
  {
    name: "expected $ on an empty line (CR shown as a space, as Redis does)",
    input: "*1\r\n\r\n",
    commands: [],
    error: "Protocol error: expected '$', got ' '",
  },
  {
    name: "negative bulk length",
    input: "*1\r\n$-1\r\n",
    commands: [],
    error: "Protocol error: invalid bulk length",
  },
  {
    name: "bulk length not a number",
    input: "*1\r\n$x\r\nabc\r\n",
    commands: [],
    error: "Protocol error: invalid bulk length",
  },
  {
    name: "bulk length with a leading zero",
    input: "*1\r\n$03\r\nabc\r\n",
    commands: [],
    error: "Protocol error: invalid bulk length",
  },
  {
    name: "bulk data longer than declared",
    input: "*1\r\n$3\r\nabcd\r\n",
    commands: [],
    error: "Protocol error: invalid bulk length",
  },
  {
    name: "bulk line CR without LF",
    input: "*1\r\n$3\rXabc\r\n",
    commands: [],
    error: "Protocol error: invalid bulk length",
  },
  {
    name: "unbalanced double quote",
    input: `PING\nSET "a b\r\n`,
    commands: [["PING"]],
    error: "Protocol error: unbalanced quotes in request",
  },
  {
    name: "unbalanced single quote",
    input: "SET 'a\n",
    commands: [],
    error: "Protocol error: unbalanced quotes in request",
  },
  {
    name: "closing quote followed by a letter",
    input: `SET "a"b\n`,
    commands: [],
    error: "Protocol error: unbalanced quotes in request",
  },
  {
    name: "backslash at the end of a quoted line",
    input: `SET "a\\\n`,
    commands: [],
    error: "Protocol error: unbalanced quotes in request",
  },
];

function same(actual: Outcome, expected: Outcome, label: string): void {
  assert.deepEqual(actual.commands, expected.commands, label);
  assert.deepEqual(actual.frames, expected.frames, label);
  assert.equal(actual.error, expected.error, label);
}

describe("RequestParser: examples", () => {
  for (const ex of EXAMPLES) {
    it(`${ex.name}: whole, split anywhere, byte by byte`, () => {
      const input = latin1(ex.input);
      const whole = parseWhole(input);
      assert.deepEqual(whole.commands, ex.commands);
      assert.equal(whole.error, ex.error);
      for (const chunks of splits(input)) {
        same(parseChunks(chunks), whole, `cut at ${chunks.map((c) => c.length).join("+")}`);
      }
    });
  }

  it("frames are the exact bytes of each command", () => {
    const input = `*0\r\n${SET}PING\r\n${GET}ECHO "a"\n`;
    const whole = parseWhole(input);
    assert.deepEqual(whole.frames, [SET, "PING\r\n", GET, 'ECHO "a"\n']);
    assert.deepEqual(whole.inline, [false, true, false, true]);
    assert.equal(whole.frames.join(""), input.slice("*0\r\n".length));
  });

  it("a frame re-parses to the same command (as a raft log entry will)", () => {
    const input = `${SET}ECHO "a\\x00b" 'c d'\n`;
    const first = parseWhole(input);
    const again = parseWhole(first.frames.join(""));
    assert.deepEqual(again.commands, first.commands);
  });

  it("large and many arguments, fed in socket-sized pieces", () => {
    const big = Buffer.alloc(300_000, 0x61);
    const args = [Buffer.from("MSET")];
    for (let i = 0; i < 5000; i++) args.push(Buffer.from(`k${i}`), Buffer.from(`v${i}`));
    const input = Buffer.concat([
      encodeCommand(["SET", "big", big]),
      encodeCommand(args),
      encodeCommand(["GET", "big"]),
    ]);
    const expected = parseWhole(input);
    assert.equal(expected.commands.length, 3);
    assert.equal(expected.commands[0][2], big.toString("latin1"));
    assert.equal(expected.commands[1].length, 10_001);
    assert.equal(expected.commands[1][10_000], "v4999");
    for (const size of [1, 7, 1000, 16 * 1024, 65536]) {
      if (size === 1) {
        // Byte by byte over 400 KB is slow only in the test's own loop; use a smaller input.
        const small = Buffer.concat([
          encodeCommand(["SET", "k", big.subarray(0, 5000)]),
          latin1(GET),
        ]);
        same(parseChunks(pieces(small, 1)), parseWhole(small), "byte by byte");
        continue;
      }
      same(parseChunks(pieces(input, size)), expected, `pieces of ${size}`);
    }
  });
});

describe("RequestParser: Args", () => {
  const seen: { [k: string]: unknown }[] = [];
  const parser = new RequestParser();
  parser.feed(latin1("*4\r\n$3\r\nSeT\r\n$2\r\nEX\r\n$4\r\nh\xc3\xa9!\r\n$0\r\n\r\n"), (cmd) => {
    seen.push({
      length: cmd.length,
      lower0: cmd.lower(0),
      lower1: cmd.lower(1),
      isSet: cmd.is(0, "set"),
      isGet: cmd.is(0, "get"),
      isEx: cmd.is(1, "ex"),
      isExx: cmd.is(1, "exx"),
      str2: cmd.str(2),
      len2: cmd.byteLength(2),
      buf3: cmd.buf(3).length,
      strings: cmd.toStrings(),
      outOfRange: (() => {
        try {
          cmd.buf(4);
          return "no error";
        } catch (e) {
          return (e as Error).name;
        }
      })(),
    });
  });

  it("reads arguments without copying them", () => {
    assert.deepEqual(seen, [
      {
        length: 4,
        lower0: "set",
        lower1: "ex",
        isSet: true,
        isGet: false,
        isEx: true,
        isExx: false,
        str2: "hé!",
        len2: 4,
        buf3: 0,
        strings: ["SeT", "EX", "hé!", ""],
        outOfRange: "RangeError",
      },
    ]);
  });

  it("lower folds ASCII letters only, like is()", () => {
    let lowered = "";
    new RequestParser().feed(latin1("*1\r\n$3\r\nA\xc0b\r\n"), (cmd) => {
      lowered = cmd.lower(0);
    });
    assert.equal(lowered, "a\xc0b");
  });

  it("buf(i) views the chunk when the command arrived whole", () => {
    const chunk = latin1(GET);
    let same = false;
    new RequestParser().feed(chunk, (cmd) => {
      same = cmd.buf(1).buffer === chunk.buffer;
    });
    assert.ok(same);
  });
});

describe("RequestParser: errors", () => {
  it("refuses input after an error, and reports the same error", () => {
    const parser = new RequestParser();
    const got: string[] = [];
    const on = (cmd: ParsedCommand) => got.push(cmd.str(0));
    const err = parser.feed(latin1(`${GET}*x\r\n`), on);
    assert.ok(err instanceof ProtocolError);
    assert.equal(err.code, "INVALID_MULTIBULK_LENGTH");
    assert.equal(err.replies, true);
    assert.equal(parser.feed(latin1(GET), on), err);
    assert.equal(parser.error(), err);
    assert.deepEqual(got, ["GET"]);
    assert.equal(parser.bufferedBytes(), 0);
  });

  it("unauthenticated limits, when the server requires AUTH", () => {
    const many = `*11\r\n${"$1\r\na\r\n".repeat(11)}`;
    const ten = `*10\r\n${"$1\r\na\r\n".repeat(10)}`;
    const parser = new RequestParser();
    parser.setAuthRequired(true);
    let n = 0;
    assert.equal(
      parser.feed(latin1(ten), () => n++),
      undefined,
    );
    assert.equal(
      parser.feed(latin1(`*1\r\n$16384\r\n${"x".repeat(16384)}\r\n`), () => n++),
      undefined,
    );
    assert.equal(n, 2);
    assert.equal(
      parser.feed(latin1(many), () => n++)?.message,
      "Protocol error: unauthenticated multibulk length",
    );
    const p2 = new RequestParser();
    p2.setAuthRequired(true);
    assert.equal(
      p2.feed(latin1("*1\r\n$16385\r\n"), () => n++)?.message,
      "Protocol error: unauthenticated bulk length",
    );
    const p3 = new RequestParser();
    p3.setAuthRequired(true);
    p3.setAuthRequired(false);
    assert.equal(
      p3.feed(latin1(many), () => n++),
      undefined,
    );
  });

  it("a handler that throws leaves the parser unusable, loudly", () => {
    const parser = new RequestParser();
    assert.throws(() =>
      parser.feed(latin1(GET), () => {
        throw new Error("boom");
      }),
    );
    assert.throws(() => parser.feed(latin1(GET), () => {}), /used after a handler threw/);
  });
});

describe("RequestParser: bounds", () => {
  const bulk = (n: number) => `*1\r\n$${n}\r\n${"x".repeat(n)}\r\n`;

  it("maxBulkBytes", () => {
    assert.equal(parseWhole(bulk(10), { maxBulkBytes: 10 }).error, undefined);
    assert.equal(
      parseWhole(bulk(11), { maxBulkBytes: 10 }).error,
      "Protocol error: invalid bulk length",
    );
    // Refused on the header alone: the data is never awaited.
    assert.equal(
      parseWhole("*1\r\n$11\r\n", { maxBulkBytes: 10 }).error,
      "Protocol error: invalid bulk length",
    );
  });

  it("maxArrayLength", () => {
    const cmd = (n: number) => `*${n}\r\n${"$1\r\na\r\n".repeat(n)}`;
    assert.equal(parseWhole(cmd(4), { maxArrayLength: 4 }).error, undefined);
    assert.equal(
      parseWhole("*5\r\n", { maxArrayLength: 4 }).error,
      "Protocol error: invalid multibulk length",
    );
  });

  it("maxInlineBytes: inline lines", () => {
    const limits = { maxInlineBytes: 16 };
    for (const [line, error] of [
      [`${"a".repeat(16)}\n`, undefined],
      [`${"a".repeat(15)}\r\n`, undefined],
      [`${"a".repeat(17)}\n`, "Protocol error: too big inline request"],
      [`${"a".repeat(16)}\r\n`, "Protocol error: too big inline request"],
      [`${"a".repeat(17)}`, "Protocol error: too big inline request"],
      [`${"a".repeat(16)}`, undefined],
    ] as const) {
      const input = latin1(line);
      const whole = parseWhole(input, limits);
      assert.equal(whole.error, error, JSON.stringify(line));
      for (const chunks of splits(input)) same(parseChunks(chunks, limits), whole, line);
    }
  });

  it("maxInlineBytes: length lines", () => {
    const limits = { maxInlineBytes: 16 };
    const cases: [string, string][] = [
      // The CR is found within the bound: the line is parsed, and is not a valid count.
      [`*${"1".repeat(15)}\r\n`, "Protocol error: invalid multibulk length"],
      [`*${"1".repeat(16)}\r\n`, "Protocol error: too big mbulk count string"],
      [`*${"1".repeat(16)}`, "Protocol error: too big mbulk count string"],
      [`*1\r\n$${"1".repeat(15)}\r\n`, "Protocol error: invalid bulk length"],
      [`*1\r\n$${"1".repeat(16)}\r\n`, "Protocol error: too big bulk count string"],
      [`*1\r\n${"x".repeat(20)}`, "Protocol error: too big bulk count string"],
    ];
    for (const [line, error] of cases) {
      const input = latin1(line);
      const whole = parseWhole(input, limits);
      assert.equal(whole.error, error, JSON.stringify(line));
      for (const chunks of splits(input)) same(parseChunks(chunks, limits), whole, line);
    }
  });

  it("maxBufferBytes: a command that does not arrive whole may not exceed it", () => {
    const limits = { maxBufferBytes: 64 };
    // "*1\r\n$NN\r\n" + data + "\r\n": 11 bytes of framing.
    const fits = bulk(64 - 11);
    const over = bulk(65 - 11);
    assert.equal(latin1(fits).length, 64);
    assert.equal(latin1(over).length, 65);
    const message = "Protocol error: query buffer limit reached";
    for (const size of [1, 2, 10, 40, 63]) {
      assert.equal(parseChunks(pieces(latin1(fits), size), limits).error, undefined, `${size}`);
      assert.equal(parseChunks(pieces(latin1(over), size), limits).error, message, `${size}`);
    }
    // Whole in one chunk it is parsed in place, never held.
    assert.equal(parseWhole(over, limits).error, undefined);
    // Pipelined after a held command, in the same chunk as its end: fine.
    const chunks = [latin1(fits.slice(0, 30)), latin1(fits.slice(30) + over + over)];
    assert.deepEqual(parseChunks(chunks, limits).commands.length, 3);
  });

  it("the query buffer limit error is not replied to", () => {
    const parser = new RequestParser({ maxBufferBytes: 8 });
    const err = parser.feed(latin1("*1\r\n$10\r\n"), () => {});
    assert.equal(err?.code, "QUERY_BUFFER_LIMIT");
    assert.equal(err?.replies, false);
  });

  it("a declared bulk length is not preallocated", () => {
    const parser = new RequestParser();
    assert.equal(
      parser.feed(latin1("*2\r\n$3\r\nSET\r\n$536870912\r\nabc"), () => {}),
      undefined,
    );
    assert.ok(parser.retainedBytes() < 64 * 1024, `${parser.retainedBytes()}`);
    assert.ok(parser.bufferedBytes() < 64);
  });

  it("a declared argument count is not preallocated", () => {
    const parser = new RequestParser();
    assert.equal(
      parser.feed(latin1("*1048576\r\n$1\r\na\r\n"), () => {}),
      undefined,
    );
    assert.ok(parser.retainedBytes() < 64 * 1024, `${parser.retainedBytes()}`);
  });

  it("gives back a big buffer once its command is done", () => {
    const parser = new RequestParser();
    const input = encodeCommand(["SET", "k", Buffer.alloc(2_000_000, 1)]);
    let n = 0;
    for (const p of pieces(input, 65536))
      assert.equal(
        parser.feed(p, () => n++),
        undefined,
      );
    assert.equal(n, 1);
    assert.equal(parser.bufferedBytes(), 0);
    assert.ok(parser.retainedBytes() < 64 * 1024, `${parser.retainedBytes()}`);
  });

  it("buffer growth follows what arrived", () => {
    const parser = new RequestParser();
    const input = encodeCommand(["SET", "k", Buffer.alloc(1_000_000, 1)]);
    let most = 0;
    let largest = 0;
    for (const p of pieces(input, 65536)) {
      parser.feed(p, () => {});
      if (parser.bufferedBytes() > 0) {
        most = Math.max(most, parser.retainedBytes() / parser.bufferedBytes());
      }
      largest = Math.max(largest, parser.retainedBytes());
    }
    assert.ok(most <= 2.5, `capacity reached ${most}x the bytes held`);
    // Not past the end of the bulk being read, plus a little.
    assert.ok(largest <= input.length + 32 * 1024, `${largest} for a ${input.length} byte command`);
  });
});

describe("RequestParser: pause and resume", () => {
  it("holds input while paused and delivers it on resume, in order", () => {
    const parser = new RequestParser();
    const got: string[] = [];
    const pauseOnGet = (cmd: ParsedCommand) => {
      got.push(cmd.toStrings().join(" "));
      return !cmd.is(0, "get");
    };
    const input = latin1(`PING\n${GET}${SET}ECHO a\n${GET}PING\n`);
    const split = 40;
    assert.equal(parser.feed(input.subarray(0, split), pauseOnGet), undefined);
    assert.deepEqual(got, ["PING", "GET key"]);
    assert.ok(parser.isPaused());
    assert.equal(parser.feed(input.subarray(split), pauseOnGet), undefined);
    assert.deepEqual(got, ["PING", "GET key"]);
    assert.equal(parser.bufferedBytes(), input.length - latin1(`PING\n${GET}`).length);
    assert.equal(parser.resume(pauseOnGet), undefined);
    assert.deepEqual(got, ["PING", "GET key", "SET key value", "ECHO a", "GET key"]);
    assert.equal(parser.resume(pauseOnGet), undefined);
    assert.deepEqual(got, ["PING", "GET key", "SET key value", "ECHO a", "GET key", "PING"]);
    assert.ok(!parser.isPaused());
    assert.equal(parser.bufferedBytes(), 0);
  });

  it("bounds what it holds while paused", () => {
    const parser = new RequestParser({ maxBufferBytes: 100 });
    assert.equal(
      parser.feed(latin1(GET), () => false),
      undefined,
    );
    assert.equal(
      parser.feed(latin1("x".repeat(100)), () => {}),
      undefined,
    );
    assert.equal(parser.feed(latin1("x"), () => {})?.code, "QUERY_BUFFER_LIMIT");
  });

  it("resumes into an unfinished command", () => {
    const parser = new RequestParser();
    const got: string[] = [];
    const input = latin1(`${GET}${SET}`);
    parser.feed(input.subarray(0, GET.length + 10), (cmd) => {
      got.push(cmd.str(0));
      return false;
    });
    parser.resume((cmd) => got.push(cmd.str(0)));
    assert.deepEqual(got, ["GET"]);
    parser.feed(input.subarray(GET.length + 10), (cmd) => got.push(cmd.str(0)));
    assert.deepEqual(got, ["GET", "SET"]);
  });
});

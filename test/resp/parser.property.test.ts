import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { encodeCommand } from "../../src/resp/encoder.js";
import { ProtocolError } from "../../src/resp/errors.js";
import { type RequestLimits, RequestParser } from "../../src/resp/parser.js";
import { parseChunks, parseWhole } from "./helpers.js";

/** Small bounds so random input reaches every one of them. */
const SMALL: RequestLimits = {
  maxBulkBytes: 32,
  maxArrayLength: 8,
  maxInlineBytes: 64,
  maxBufferBytes: 256,
};
/** What the parser may own beyond maxBufferBytes + 1: offset arrays and the unquote scratch. */
const OVERHEAD_BYTES = 2 * 4 * 64 + 256;

const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));

const arg = fc.oneof(
  bytes(40),
  fc
    .constantFrom("SET", "GET", "PING", "k", "", "a b", '"', "'", "\\", "\r\n")
    .map((s) => Buffer.from(s)),
);
const command = fc.array(arg, { minLength: 1, maxLength: 10 });

/** A command as a redis-cli user would type it: every argument double-quoted, bytes escaped. */
function inline(args: Buffer[], lf: boolean): Buffer {
  const words = args.map((a) => {
    let s = '"';
    for (const c of a) {
      if (c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c) s += String.fromCharCode(c);
      else s += `\\x${c.toString(16).padStart(2, "0")}`;
    }
    return `${s}"`;
  });
  return Buffer.from(`${words.join(" ")}${lf ? "\n" : "\r\n"}`, "latin1");
}

const frame = fc
  .tuple(command, fc.integer({ min: 0, max: 3 }))
  .map(([args, style]) =>
    style < 2 ? { args, bytes: encodeCommand(args) } : { args, bytes: inline(args, style === 3) },
  );
const frames = fc.array(frame, { minLength: 1, maxLength: 6 });

type Mutation =
  | { op: "flip"; at: number; value: number }
  | { op: "delete"; at: number; n: number }
  | { op: "insert"; at: number; data: Buffer }
  | { op: "duplicate"; at: number; n: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at: fc.nat(), value: fc.nat(255) }),
  fc.record({
    op: fc.constant("delete" as const),
    at: fc.nat(),
    n: fc.integer({ min: 1, max: 8 }),
  }),
  fc.record({ op: fc.constant("insert" as const), at: fc.nat(), data: bytes(8) }),
  fc.record({
    op: fc.constant("duplicate" as const),
    at: fc.nat(),
    n: fc.integer({ min: 1, max: 40 }),
  }),
);

function mutate(input: Buffer, mutations: Mutation[]): Buffer {
  let b = input;
  for (const m of mutations) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    switch (m.op) {
      case "flip":
        b = Buffer.from(b);
        b[at] = m.value;
        break;
      case "delete":
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.n)]);
        break;
      case "insert":
        b = Buffer.concat([b.subarray(0, at), m.data, b.subarray(at)]);
        break;
      case "duplicate":
        b = Buffer.concat([b.subarray(0, at + m.n), b.subarray(at)]);
        break;
    }
  }
  return b;
}

/** Cuts at the given points (taken modulo the length, sorted). */
function cut(input: Buffer, points: number[]): Buffer[] {
  if (input.length === 0) return [input];
  const at = [...new Set(points.map((p) => p % input.length))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of at) {
    out.push(input.subarray(prev, p));
    prev = p;
  }
  out.push(input.subarray(prev));
  return out;
}

/** Feeds the chunks, checking after every feed that nothing but ProtocolError comes out and memory stays bounded. */
function feedChecked(chunks: Buffer[], limits: RequestLimits): void {
  const parser = new RequestParser(limits);
  for (const c of chunks) {
    let err: ProtocolError | undefined;
    try {
      err = parser.feed(c, (cmd) => {
        // Touch every argument, as a handler would.
        for (let i = 0; i < cmd.length; i++) cmd.lower(i);
        cmd.frame();
      });
    } catch (e) {
      assert.fail(`feed threw ${String(e)}`);
    }
    assert.ok(err === undefined || err instanceof ProtocolError);
    assert.ok(
      parser.bufferedBytes() <= limits.maxBufferBytes,
      `buffered ${parser.bufferedBytes()}`,
    );
    assert.ok(
      parser.retainedBytes() <= limits.maxBufferBytes + 1 + OVERHEAD_BYTES,
      `retained ${parser.retainedBytes()}`,
    );
    if (err !== undefined) {
      assert.ok(err.message.startsWith("Protocol error: "), err.message);
      break;
    }
  }
}

const RUNS = Number(process.env.RESP_PROPERTY_RUNS ?? 300);

describe("RequestParser: properties", () => {
  it("random bytes: only ProtocolError, bounded memory", () => {
    fc.assert(
      fc.property(fc.array(bytes(300), { maxLength: 8 }), (chunks) => feedChecked(chunks, SMALL)),
      { numRuns: RUNS },
    );
  });

  it("random bytes with RESP-ish structure: only ProtocolError, bounded memory", () => {
    const token = fc.constantFrom(
      "*",
      "$",
      "\r",
      "\n",
      "\r\n",
      "1",
      "3",
      "-",
      "0",
      "9",
      '"',
      "'",
      "\\",
      " ",
      "x",
    );
    const text = fc.array(token, { maxLength: 200 }).map((t) => Buffer.from(t.join(""), "latin1"));
    fc.assert(
      fc.property(text, fc.array(fc.nat(), { maxLength: 6 }), (input, points) =>
        feedChecked(cut(input, points), SMALL),
      ),
      { numRuns: RUNS },
    );
  });

  it("mutated valid frames: only ProtocolError, bounded memory", () => {
    fc.assert(
      fc.property(
        frames,
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (fs, mutations, points) => {
          const input = mutate(Buffer.concat(fs.map((f) => f.bytes)), mutations);
          feedChecked(cut(input, points), SMALL);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("mutated valid frames: the outcome does not depend on how the input is cut", () => {
    // The buffer bound is left large: only it may depend on the cuts (as in Redis).
    const limits = { ...SMALL, maxBufferBytes: 1 << 20 };
    fc.assert(
      fc.property(
        frames,
        fc.array(mutation, { maxLength: 3 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 8 }),
        (fs, mutations, points) => {
          const input = mutate(Buffer.concat(fs.map((f) => f.bytes)), mutations);
          const whole = parseWhole(input, limits);
          const chunked = parseChunks(cut(input, points), limits);
          assert.deepEqual(chunked, whole);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("valid frames parse to the arguments they encode, and frames re-parse the same", () => {
    fc.assert(
      fc.property(frames, fc.array(fc.nat(), { maxLength: 8 }), (fs, points) => {
        const input = Buffer.concat(fs.map((f) => f.bytes));
        const got = parseChunks(cut(input, points));
        assert.equal(got.error, undefined);
        assert.deepEqual(
          got.commands,
          fs.map((f) => f.args.map((a) => a.toString("latin1"))),
        );
        assert.deepEqual(
          got.frames,
          fs.map((f) => f.bytes.toString("latin1")),
        );
      }),
      { numRuns: RUNS },
    );
  });

  it("lower() and is() agree with an ASCII fold of the bytes, whatever was asked before", () => {
    const word = fc.oneof(
      fc.constantFrom("SET", "set", "Get", "EX", "px", "NX", "xx", "KEEPTTL"),
      fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a).toString("latin1")),
    );
    fc.assert(
      fc.property(fc.array(word, { minLength: 1, maxLength: 20 }), (words) => {
        const input = encodeCommand(words.map((w) => Buffer.from(w, "latin1")));
        const parser = new RequestParser();
        parser.feed(input, (cmd) => {
          for (let i = 0; i < cmd.length; i++) {
            const expected = words[i].replace(/[A-Z]/g, (c) => c.toLowerCase());
            assert.equal(cmd.lower(i), expected);
            assert.equal(cmd.lower(i), expected, "from the cache");
            assert.ok(cmd.is(i, expected));
            assert.ok(!cmd.is(i, `${expected}!`));
            if (expected.length > 0) assert.ok(!cmd.is(i, `${expected.slice(0, -1)}\u0100`));
          }
        });
      }),
      { numRuns: RUNS },
    );
  });
});

/**
 * Streaming parser for server replies, RESP2 and RESP3, into `Reply` values: the client
 * side (tests, the CLI talking to a node). No I/O: `feed(chunk, onReply)` calls the handler
 * once per complete top-level reply.
 *
 * Bounded like the request parser: no allocation from a declared length, at most
 * `maxBufferBytes` held for one unfinished element, and one reply may not span more than
 * `maxBufferBytes` of input (so the objects it becomes stay proportional to that bound).
 *
 * RESP3 specifics: a push (`>`) is delivered as an array with `push` true; attributes
 * (`|`) are parsed and dropped; a big number (`(`) becomes a bigint integer; a blob error
 * (`!`) an error; RESP3 null (`_`) is "null". Streamed strings and aggregates (`$?`, `*?`)
 * are refused: Redis never sends them.
 */

import { assert } from "../core/assert.js";
import { formatDouble } from "./encoder.js";
import { PROTOCOL_ERROR_MESSAGES, ProtocolError, type ProtocolErrorCode } from "./errors.js";
import { parseStrictInteger } from "./parser.js";
import type { Reply } from "./types.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export interface ReplyLimits {
  /** Largest bulk string, verbatim string or blob error, bytes. */
  readonly maxBulkBytes: number;
  /** Most elements (or map pairs) one aggregate may declare. */
  readonly maxArrayLength: number;
  /** Longest line: simple string, error, number, length. */
  readonly maxLineBytes: number;
  /** Deepest nesting of aggregates. */
  readonly maxDepth: number;
  /** Most input bytes held for one unfinished element, or spanned by one reply. */
  readonly maxBufferBytes: number;
}

export const REPLY_LIMITS_DEFAULT: ReplyLimits = {
  // What a Redis server may store in one string (proto-max-bulk-len).
  maxBulkBytes: 512 * MiB,
  // Replies are bounded by maxBufferBytes anyway; this only refuses absurd headers.
  maxArrayLength: 2 ** 31 - 1,
  // Redis's own lines are short (errors are cut at a few hundred bytes); INFO and the like
  // come as bulk strings.
  maxLineBytes: 64 * KiB,
  // Redis replies nest a handful of levels (EXEC of COMMAND INFO is about six).
  maxDepth: 64,
  // Same as a server's client-query-buffer-limit.
  maxBufferBytes: 1 * GiB,
};

export interface ReplyParserOptions {
  /** How bulk strings come out: as Buffers (default; binary safe) or UTF-8 strings. */
  readonly bulkAs?: "buffer" | "string";
}

/** Called once per top-level reply; `push` is true for a RESP3 push message. */
export type ReplyHandler = (reply: Reply, push: boolean) => unknown;

const CR = 13;
const LF = 10;
const NEED_MORE = -1;
const FAILED = -2;
const TAIL_MIN_BYTES = 16 * KiB;
const TAIL_KEEP_MAX_BYTES = 256 * KiB;

const EMPTY = Buffer.alloc(0);
const NULL_REPLY: Reply = { kind: "null" };
const NULL_ARRAY_REPLY: Reply = { kind: "nullArray" };

type AggregateKind = "array" | "map" | "set" | "push" | "attribute";

interface Pending {
  readonly kind: AggregateKind;
  remaining: number;
  readonly items: Reply[];
}

const DOUBLE_SYNTAX = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export class ReplyParser {
  readonly limits: ReplyLimits;
  private readonly bulkAsString: boolean;
  private tail: Buffer = EMPTY;
  private tailLen = 0;
  private readonly stack: Pending[] = [];
  /** Input bytes of the top-level reply under construction. */
  private replyBytes = 0;
  /** Where the search for the current element's line end resumes, from the element start. */
  private scan = 0;
  private failure: ProtocolError | undefined = undefined;
  private busy = false;
  private onReply: ReplyHandler = noHandler;

  constructor(limits: Partial<ReplyLimits> = {}, options: ReplyParserOptions = {}) {
    this.limits = { ...REPLY_LIMITS_DEFAULT, ...limits };
    for (const [name, v] of Object.entries(this.limits)) {
      assert(Number.isSafeInteger(v) && v >= 0, `ReplyParser: ${name} must be an integer >= 0`);
    }
    this.bulkAsString = options.bulkAs === "string";
  }

  /**
   * Parses `chunk`, calling `onReply` for each complete reply. Returns the protocol error,
   * if any; replies before it have been delivered, and the parser refuses further input.
   */
  feed(chunk: Buffer, onReply: ReplyHandler): ProtocolError | undefined {
    if (this.failure !== undefined) return this.failure;
    assert(!this.busy, "ReplyParser: feed re-entered, or used after a handler threw");
    this.busy = true;
    this.onReply = onReply;
    if (this.tailLen === 0) {
      this.keep(chunk, this.drain(chunk, 0, chunk.length));
    } else {
      const max = this.limits.maxBufferBytes;
      let cpos = 0;
      while (cpos < chunk.length && this.failure === undefined) {
        // Copy no more than the bound allows: one byte past it proves the element too big.
        const n = Math.min(chunk.length - cpos, max + 1 - this.tailLen);
        this.append(chunk, cpos, n);
        cpos += n;
        let rest: number;
        if (this.tailLen > max) {
          // The element held since the last chunk must end within the bound.
          rest = this.drain(this.tail, 0, max);
          if (this.failure === undefined && rest === 0) this.fail("REPLY_TOO_BIG");
          if (this.failure === undefined) rest = this.drain(this.tail, rest, this.tailLen);
        } else {
          rest = this.drain(this.tail, 0, this.tailLen);
        }
        if (this.failure !== undefined) break;
        this.tail.copyWithin(0, rest, this.tailLen);
        this.tailLen -= rest;
        if (this.tailLen > max) this.fail("REPLY_TOO_BIG");
        else if (this.tailLen === 0 && this.tail.length > TAIL_KEEP_MAX_BYTES) this.tail = EMPTY;
      }
    }
    this.onReply = noHandler;
    this.busy = false;
    return this.failure;
  }

  bufferedBytes(): number {
    return this.tailLen;
  }

  retainedBytes(): number {
    return this.tail.length;
  }

  /** Whether a reply is partly parsed. */
  inProgress(): boolean {
    return this.tailLen > 0 || this.stack.length > 0;
  }

  private keep(chunk: Buffer, rest: number): void {
    if (this.failure !== undefined || rest === chunk.length) return;
    if (chunk.length - rest > this.limits.maxBufferBytes) {
      this.fail("REPLY_TOO_BIG");
      return;
    }
    this.append(chunk, rest, chunk.length - rest);
  }

  private append(src: Buffer, from: number, n: number): void {
    const required = this.tailLen + n;
    if (required > this.tail.length) {
      const cap = Math.min(
        Math.max(required, this.tail.length * 2, TAIL_MIN_BYTES),
        this.limits.maxBufferBytes + 1,
      );
      const grown = Buffer.allocUnsafe(cap);
      this.tail.copy(grown, 0, 0, this.tailLen);
      this.tail = grown;
    }
    src.copy(this.tail, this.tailLen, from, from + n);
    this.tailLen = required;
  }

  /** Parses every complete element of buf[start, end); returns where the unparsed bytes begin. */
  private drain(buf: Buffer, start: number, end: number): number {
    let pos = start;
    while (pos < end) {
      const next = this.element(buf, pos, end);
      if (next < 0) return pos;
      this.scan = 0;
      this.replyBytes = this.stack.length === 0 ? 0 : this.replyBytes + (next - pos);
      if (this.replyBytes > this.limits.maxBufferBytes) {
        this.fail("REPLY_TOO_BIG");
        return pos;
      }
      pos = next;
    }
    return pos;
  }

  /** One element (scalar, or an aggregate's header) at `pos`; position after it, or NEED_MORE/FAILED. */
  private element(buf: Buffer, pos: number, end: number): number {
    const r = this.lineEnd(buf, pos, end);
    if (r < 0) return r;
    const type = buf[pos];
    const s = pos + 1;
    const next = r + 2;
    switch (type) {
      case 0x2b: // +
        return this.scalar({ kind: "simple", value: buf.toString("utf8", s, r) }, next);
      case 0x2d: // -
        return this.scalar({ kind: "error", value: buf.toString("utf8", s, r) }, next);
      case 0x3a: // :
        return this.integer(buf, s, r, next);
      case 0x28: // (
        return this.bigNumber(buf, s, r, next);
      case 0x2c: // ,
        return this.double(buf, s, r, next);
      case 0x23: // #
        if (r - s !== 1 || (buf[s] !== 0x74 && buf[s] !== 0x66)) {
          return this.fail("REPLY_INVALID_BOOLEAN");
        }
        return this.scalar({ kind: "boolean", value: buf[s] === 0x74 }, next);
      case 0x5f: // _
        if (r !== s) return this.fail("REPLY_INVALID_NULL");
        return this.scalar(NULL_REPLY, next);
      case 0x24: // $
      case 0x3d: // =
      case 0x21: // !
        return this.blob(type, buf, s, r, end);
      case 0x2a: // *
        return this.aggregate("array", buf, s, r, next);
      case 0x25: // %
        return this.aggregate("map", buf, s, r, next);
      case 0x7e: // ~
        return this.aggregate("set", buf, s, r, next);
      case 0x3e: // >
        return this.aggregate("push", buf, s, r, next);
      case 0x7c: // |
        return this.aggregate("attribute", buf, s, r, next);
      default:
        this.failure = new ProtocolError(
          "REPLY_UNKNOWN_TYPE",
          PROTOCOL_ERROR_MESSAGES.REPLY_UNKNOWN_TYPE.replace("%c", String.fromCharCode(type)),
        );
        this.release();
        return FAILED;
    }
  }

  /** Position of the `\r` of the line starting at `pos`, once its `\n` has arrived. */
  private lineEnd(buf: Buffer, pos: number, end: number): number {
    const limit = Math.min(end, pos + this.limits.maxLineBytes + 1);
    for (let i = pos + this.scan; i < limit; i++) {
      if (buf[i] !== CR) continue;
      if (i + 1 >= end) {
        this.scan = i - pos;
        return NEED_MORE;
      }
      if (buf[i + 1] !== LF) return this.fail("REPLY_EXPECTED_CRLF");
      return i;
    }
    if (end - pos > this.limits.maxLineBytes) return this.fail("REPLY_LINE_TOO_BIG");
    this.scan = end - pos;
    return NEED_MORE;
  }

  private integer(buf: Buffer, s: number, e: number, next: number): number {
    const v = parseStrictInteger(buf, s, e);
    if (Number.isNaN(v)) return this.fail("REPLY_INVALID_INTEGER");
    if (Number.isSafeInteger(v)) return this.scalar({ kind: "integer", value: v }, next);
    return this.scalar({ kind: "integer", value: BigInt(buf.toString("latin1", s, e)) }, next);
  }

  private bigNumber(buf: Buffer, s: number, e: number, next: number): number {
    const text = buf.toString("latin1", s, e);
    if (!/^-?\d+$/.test(text)) return this.fail("REPLY_INVALID_INTEGER");
    return this.scalar({ kind: "integer", value: BigInt(text) }, next);
  }

  private double(buf: Buffer, s: number, e: number, next: number): number {
    const text = buf.toString("latin1", s, e).toLowerCase();
    let value: number;
    if (text === "inf" || text === "+inf") value = Number.POSITIVE_INFINITY;
    else if (text === "-inf") value = Number.NEGATIVE_INFINITY;
    else if (text === "nan" || text === "-nan") value = Number.NaN;
    else if (DOUBLE_SYNTAX.test(text)) value = Number(text);
    else return this.fail("REPLY_INVALID_DOUBLE");
    // A double formatted otherwise than %.17g (GEOPOS) keeps its text, so that a forwarded
    // reply reaches the client as the leader wrote it.
    const raw = buf.toString("latin1", s, e);
    if (raw === formatDouble(value)) return this.scalar({ kind: "double", value }, next);
    return this.scalar({ kind: "double", value, text: raw }, next);
  }

  /** `$`, `=` and `!`: a length line, then that many bytes and CRLF. */
  private blob(type: number, buf: Buffer, s: number, r: number, end: number): number {
    const len = parseStrictInteger(buf, s, r);
    if (type === 0x24 && len === -1) return this.scalar(NULL_REPLY, r + 2);
    if (Number.isNaN(len) || len < 0 || len > this.limits.maxBulkBytes) {
      return this.fail("REPLY_INVALID_LENGTH");
    }
    const data = r + 2;
    if (end - data < len + 2) return NEED_MORE;
    if (buf[data + len] !== CR || buf[data + len + 1] !== LF)
      return this.fail("REPLY_EXPECTED_CRLF");
    const next = data + len + 2;
    if (type === 0x21) {
      return this.scalar({ kind: "error", value: buf.toString("utf8", data, data + len) }, next);
    }
    if (type === 0x3d) {
      if (len < 4 || buf[data + 3] !== 0x3a) return this.fail("REPLY_INVALID_VERBATIM");
      return this.scalar(
        {
          kind: "verbatim",
          format: buf.toString("latin1", data, data + 3),
          value: buf.toString("utf8", data + 4, data + len),
        },
        next,
      );
    }
    // Copy: the reply outlives the chunk.
    const value = this.bulkAsString
      ? buf.toString("utf8", data, data + len)
      : Buffer.from(buf.subarray(data, data + len));
    return this.scalar({ kind: "bulk", value }, next);
  }

  private aggregate(kind: AggregateKind, buf: Buffer, s: number, r: number, next: number): number {
    const n = parseStrictInteger(buf, s, r);
    if (kind === "array" && n === -1) return this.scalar(NULL_ARRAY_REPLY, next);
    if (Number.isNaN(n) || n < 0 || n > this.limits.maxArrayLength) {
      return this.fail("REPLY_INVALID_LENGTH");
    }
    if (this.stack.length >= this.limits.maxDepth) return this.fail("REPLY_TOO_DEEP");
    const count = kind === "map" || kind === "attribute" ? n * 2 : n;
    if (count === 0) {
      if (kind === "attribute") return next;
      return this.scalar(build(kind, []), next);
    }
    // Items are pushed as they arrive: nothing is allocated from the declared count.
    this.stack.push({ kind, remaining: count, items: [] });
    return next;
  }

  /** A complete value: into the aggregate being built, or out to the handler. */
  private scalar(value: Reply, next: number): number {
    let v = value;
    let push = false;
    for (;;) {
      const top = this.stack[this.stack.length - 1];
      if (top === undefined) break;
      top.items.push(v);
      if (--top.remaining > 0) return next;
      this.stack.pop();
      // An attribute describes the next value and is not an element of its parent: drop it.
      if (top.kind === "attribute") return next;
      v = build(top.kind, top.items);
      push = top.kind === "push";
    }
    this.onReply(v, push);
    return next;
  }

  private fail(code: ProtocolErrorCode): number {
    this.failure = new ProtocolError(code);
    this.release();
    return FAILED;
  }

  private release(): void {
    this.tail = EMPTY;
    this.tailLen = 0;
    this.stack.length = 0;
  }
}

function build(kind: Exclude<AggregateKind, "attribute">, items: Reply[]): Reply {
  switch (kind) {
    case "array":
    case "push":
      return { kind: "array", value: items };
    case "set":
      return { kind: "set", value: items };
    case "map": {
      const pairs: [Reply, Reply][] = [];
      for (let i = 0; i < items.length; i += 2) pairs.push([items[i], items[i + 1]]);
      return { kind: "map", value: pairs };
    }
  }
}

function noHandler(): void {
  throw new Error("ReplyParser: no handler outside feed");
}

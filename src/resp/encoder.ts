/**
 * Encodes `Reply` values for RESP2 or RESP3, byte for byte as Redis 7.0 does.
 *
 * `ReplyWriter` appends many replies into one buffer so a pipelined batch leaves as one
 * socket write; `take()` hands the batch over without copying it.
 */

import { assert } from "../core/assert.js";
import { OK, PONG, QUEUED } from "./reply.js";
import type { Reply } from "./types.js";

export type Protocol = 2 | 3;

const KiB = 1024;
/** First buffer of a writer: a few hundred small replies, one socket write's worth. */
const WRITER_CHUNK_BYTES = 16 * KiB;
/** A buffer grown beyond this for one big batch is not reused once the batch is taken. */
const WRITER_KEEP_MAX_BYTES = 256 * KiB;
/** Strings shorter than this are copied char by char: cheaper than a call into C++. */
const SHORT_STRING = 48;
/** Longest "$<len>\r\n"-style header: prefix, 20 digits, sign, CRLF. */
const HEADER_MAX_BYTES = 24;

const CR = 13;
const LF = 10;

const EMPTY = Buffer.alloc(0);

const PREENCODED_OK = Buffer.from("+OK\r\n");
const PREENCODED_PONG = Buffer.from("+PONG\r\n");
const PREENCODED_QUEUED = Buffer.from("+QUEUED\r\n");

export class ReplyWriter {
  private buf: Buffer = EMPTY;
  /** Bytes before `start` were handed out by `take()`; [start, pos) is the pending batch. */
  private start = 0;
  private pos = 0;

  constructor(private readonly chunkBytes = WRITER_CHUNK_BYTES) {
    assert(Number.isSafeInteger(chunkBytes) && chunkBytes > 0, "ReplyWriter: bad chunk size");
  }

  /** Bytes written and not yet taken. */
  get length(): number {
    return this.pos - this.start;
  }

  /**
   * The pending bytes, now owned by the caller: the writer never touches them again (it
   * writes after them, or in a new buffer), so they may be handed to an async socket write.
   */
  take(): Buffer {
    const out = this.buf.subarray(this.start, this.pos);
    this.start = this.pos;
    if (this.buf.length > WRITER_KEEP_MAX_BYTES || this.buf.length - this.pos < HEADER_MAX_BYTES) {
      this.buf = EMPTY;
      this.start = 0;
      this.pos = 0;
    }
    return out;
  }

  write(reply: Reply, proto: Protocol): void {
    switch (reply.kind) {
      case "bulk":
        this.writeBulk(reply.value);
        break;
      case "integer":
        this.writeInteger(reply.value);
        break;
      case "simple":
        // The commonest replies are objects allocated once (reply.ts): copy their bytes.
        if (reply === OK) this.raw(PREENCODED_OK);
        else if (reply === PONG) this.raw(PREENCODED_PONG);
        else if (reply === QUEUED) this.raw(PREENCODED_QUEUED);
        else this.writeSimple(reply.value);
        break;
      case "error":
        this.writeError(reply.value);
        break;
      case "null":
        this.writeNull(proto);
        break;
      case "nullArray":
        this.writeNullArray(proto);
        break;
      case "array":
        if (reply.pairs === true && proto === 3) {
          this.header(0x2a, reply.value.length >> 1);
          for (let i = 0; i + 1 < reply.value.length; i += 2) {
            this.header(0x2a, 2);
            this.write(reply.value[i] as Reply, proto);
            this.write(reply.value[i + 1] as Reply, proto);
          }
          break;
        }
        this.header(reply.push === true && proto === 3 ? 0x3e : 0x2a, reply.value.length);
        for (const item of reply.value) this.write(item, proto);
        break;
      case "map":
        if (reply.nested === true && proto === 2) {
          this.header(0x2a, reply.value.length);
          for (const [k, v] of reply.value) {
            this.header(0x2a, 2);
            this.write(k, proto);
            this.write(v, proto);
          }
          break;
        }
        this.writeMapHeader(reply.value.length, proto);
        for (const [k, v] of reply.value) {
          this.write(k, proto);
          this.write(v, proto);
        }
        break;
      case "set":
        this.writeSetHeader(reply.value.length, proto);
        for (const item of reply.value) this.write(item, proto);
        break;
      case "double":
        this.writeDouble(reply.value, proto, reply.text);
        break;
      case "boolean":
        this.writeBoolean(reply.value, proto);
        break;
      case "verbatim":
        this.writeVerbatim(reply.format, reply.value, proto);
        break;
    }
  }

  /** `+text`; CR and LF would end the line early, so they become spaces. */
  writeSimple(text: string): void {
    this.line(0x2b, text);
  }

  /** `-CODE message`; CR and LF become spaces, as Redis does for error replies. */
  writeError(message: string): void {
    this.line(0x2d, message);
  }

  writeInteger(value: number | bigint): void {
    if (typeof value === "number" && Number.isSafeInteger(value)) {
      this.header(0x3a, value);
      return;
    }
    assert(
      typeof value === "bigint" || Number.isInteger(value),
      "ReplyWriter: integer reply is not an integer",
    );
    const digits = BigInt(value).toString();
    this.ensure(digits.length + 3);
    this.buf[this.pos++] = 0x3a;
    this.pos += this.buf.write(digits, this.pos, "latin1");
    this.crlf();
  }

  writeBulk(value: Buffer | string): void {
    if (typeof value !== "string") {
      const n = value.length;
      this.header(0x24, n);
      this.ensure(n + 2);
      const buf = this.buf;
      if (n < SHORT_STRING) {
        let p = this.pos;
        for (let i = 0; i < n; i++) buf[p++] = value[i];
      } else {
        value.copy(buf, this.pos);
      }
      this.pos += n;
      this.crlf();
      return;
    }
    const n = value.length;
    if (n < SHORT_STRING && isAscii(value)) {
      this.header(0x24, n);
      this.ensure(n + 2);
      const buf = this.buf;
      let p = this.pos;
      for (let i = 0; i < n; i++) buf[p++] = value.charCodeAt(i);
      this.pos = p;
      this.crlf();
      return;
    }
    const bytes = Buffer.byteLength(value, "utf8");
    this.header(0x24, bytes);
    this.ensure(bytes + 2);
    this.pos += this.buf.write(value, this.pos, bytes, "utf8");
    this.crlf();
  }

  writeNull(proto: Protocol): void {
    if (proto === 3) this.raw3(0x5f, CR, LF);
    else this.raw5(0x24, 0x2d, 0x31, CR, LF);
  }

  writeNullArray(proto: Protocol): void {
    if (proto === 3) this.raw3(0x5f, CR, LF);
    else this.raw5(0x2a, 0x2d, 0x31, CR, LF);
  }

  /** `*n`; the caller writes the n items after. */
  writeArrayHeader(n: number): void {
    this.header(0x2a, n);
  }

  /** `%n` (RESP3), `*2n` (RESP2); the caller writes n key/value pairs after. */
  writeMapHeader(pairs: number, proto: Protocol): void {
    if (proto === 3) this.header(0x25, pairs);
    else this.header(0x2a, pairs * 2);
  }

  /** `~n` (RESP3), `*n` (RESP2); the caller writes the n items after. */
  writeSetHeader(n: number, proto: Protocol): void {
    this.header(proto === 3 ? 0x7e : 0x2a, n);
  }

  /** `,<%.17g>` (RESP3), a bulk string of the same text (RESP2): see formatDouble. */
  writeDouble(value: number, proto: Protocol, given?: string): void {
    const text = given ?? formatDouble(value);
    if (proto === 3) this.line(0x2c, text);
    else this.writeBulk(text);
  }

  writeBoolean(value: boolean, proto: Protocol): void {
    if (proto === 3) this.raw4(0x23, value ? 0x74 : 0x66, CR, LF);
    else this.raw4(0x3a, value ? 0x31 : 0x30, CR, LF);
  }

  /** `=len\r\nfmt:text` (RESP3), a bulk string of the text (RESP2). */
  writeVerbatim(format: string, text: string, proto: Protocol): void {
    if (proto === 2) {
      this.writeBulk(text);
      return;
    }
    assert(
      format.length === 3 && isAscii(format),
      "ReplyWriter: verbatim format must be 3 ASCII letters",
    );
    const bytes = Buffer.byteLength(text, "utf8");
    this.header(0x3d, bytes + 4);
    this.ensure(bytes + 6);
    this.pos += this.buf.write(format, this.pos, "latin1");
    this.buf[this.pos++] = 0x3a;
    this.pos += this.buf.write(text, this.pos, bytes, "utf8");
    this.crlf();
  }

  /** Appends bytes already in RESP form. */
  raw(bytes: Buffer): void {
    const n = bytes.length;
    this.ensure(n);
    if (n < SHORT_STRING) {
      const buf = this.buf;
      let p = this.pos;
      for (let i = 0; i < n; i++) buf[p++] = bytes[i];
    } else {
      bytes.copy(this.buf, this.pos);
    }
    this.pos += n;
  }

  // ---- internals ----

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const pending = this.pos - this.start;
    // Doubling keeps a growing batch linear; a single big reply gets just its size.
    const grown = Buffer.allocUnsafe(Math.max(this.chunkBytes, pending * 2 + n));
    this.buf.copy(grown, 0, this.start, this.pos);
    this.buf = grown;
    this.start = 0;
    this.pos = pending;
  }

  /** `<prefix><integer>\r\n` for a safe integer. */
  private header(prefix: number, value: number): void {
    this.ensure(HEADER_MAX_BYTES);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = prefix;
    let v = value;
    if (v < 0) {
      buf[p++] = 0x2d;
      v = -v;
    }
    if (v < 10) {
      buf[p++] = 48 + v;
    } else {
      const digits = countDigits(v);
      let q = p + digits;
      p = q;
      while (v >= 10) {
        const next = Math.floor(v / 10);
        buf[--q] = 48 + (v - next * 10);
        v = next;
      }
      buf[--q] = 48 + v;
    }
    buf[p++] = CR;
    buf[p++] = LF;
    this.pos = p;
  }

  /** `<prefix><text>\r\n` with CR and LF in the text turned into spaces. */
  private line(prefix: number, text: string): void {
    const n = text.length;
    if (n < SHORT_STRING && isAscii(text)) {
      this.ensure(n + 3);
      const buf = this.buf;
      let p = this.pos;
      buf[p++] = prefix;
      for (let i = 0; i < n; i++) {
        const c = text.charCodeAt(i);
        buf[p++] = c === CR || c === LF ? 0x20 : c;
      }
      buf[p++] = CR;
      buf[p++] = LF;
      this.pos = p;
      return;
    }
    const safe = /[\r\n]/.test(text) ? text.replace(/[\r\n]/g, " ") : text;
    const bytes = Buffer.byteLength(safe, "utf8");
    this.ensure(bytes + 3);
    this.buf[this.pos++] = prefix;
    this.pos += this.buf.write(safe, this.pos, bytes, "utf8");
    this.crlf();
  }

  private crlf(): void {
    this.ensure(2);
    this.buf[this.pos++] = CR;
    this.buf[this.pos++] = LF;
  }

  private raw3(a: number, b: number, c: number): void {
    this.ensure(3);
    const buf = this.buf;
    const p = this.pos;
    buf[p] = a;
    buf[p + 1] = b;
    buf[p + 2] = c;
    this.pos = p + 3;
  }

  private raw4(a: number, b: number, c: number, d: number): void {
    this.ensure(4);
    const buf = this.buf;
    const p = this.pos;
    buf[p] = a;
    buf[p + 1] = b;
    buf[p + 2] = c;
    buf[p + 3] = d;
    this.pos = p + 4;
  }

  private raw5(a: number, b: number, c: number, d: number, e: number): void {
    this.ensure(5);
    const buf = this.buf;
    const p = this.pos;
    buf[p] = a;
    buf[p + 1] = b;
    buf[p + 2] = c;
    buf[p + 3] = d;
    buf[p + 4] = e;
    this.pos = p + 5;
  }
}

/** One reply as a fresh Buffer (tests, tools; the server uses a ReplyWriter). */
export function encodeReply(reply: Reply, proto: Protocol): Buffer {
  const w = new ReplyWriter(256);
  w.write(reply, proto);
  return w.take();
}

/** A command as a client sends it: a multibulk of bulk strings. */
export function encodeCommand(args: readonly (string | Buffer)[]): Buffer {
  const w = new ReplyWriter(256);
  w.writeArrayHeader(args.length);
  for (const a of args) w.writeBulk(a);
  return w.take();
}

/**
 * A double as Redis 7.0's addReplyDouble prints it: C's `%.17g` ("1.5", "3",
 * "0.10000000000000001", "1.0000000000000001e+300", "-0"), and "inf", "-inf", "nan".
 * (Redis 7.2 switched to the shortest round-trip form; 7.0 is what we match.)
 */
export function formatDouble(d: number): string {
  if (Number.isNaN(d)) return "nan";
  if (d === Number.POSITIVE_INFINITY) return "inf";
  if (d === Number.NEGATIVE_INFINITY) return "-inf";
  if (d === 0) return Object.is(d, -0) ? "-0" : "0";
  // An integer of up to 2^53 prints as its digits under %.17g too (scores often are).
  if (Number.isSafeInteger(d)) return String(d);
  const negative = d < 0;
  const { digits, exponent } = seventeenDigits(negative ? -d : d);
  let out: string;
  if (exponent < -4 || exponent >= 17) {
    // %e form: d.ddd (trailing zeros dropped), then e, sign and at least two digits.
    const frac = stripZeros(digits.slice(1));
    const mag = Math.abs(exponent);
    out = `${digits[0]}${frac === "" ? "" : `.${frac}`}e${exponent < 0 ? "-" : "+"}${mag < 10 ? "0" : ""}${mag}`;
  } else if (exponent >= 0) {
    const frac = stripZeros(digits.slice(exponent + 1));
    out = `${digits.slice(0, exponent + 1)}${frac === "" ? "" : `.${frac}`}`;
  } else {
    out = `0.${"0".repeat(-exponent - 1)}${stripZeros(digits)}`;
  }
  return negative ? `-${out}` : out;
}

/**
 * The 17 significant digits of a positive finite double, correctly rounded as glibc's
 * printf does: to nearest, ties to even. V8's toExponential rounds ties away from zero,
 * which differs only when the exact binary value has 18 significant digits ending in 5.
 */
function seventeenDigits(x: number): { digits: string; exponent: number } {
  const s = x.toExponential(16);
  const e = s.indexOf("e");
  let digits = s[0] + s.slice(2, e);
  const exponent = Number(s.slice(e + 1));
  const t = x.toExponential(17);
  const te = t.indexOf("e");
  if (t.charCodeAt(te - 1) === 0x35 && (t.charCodeAt(te - 2) & 1) === 0 && isExact(x, t)) {
    // A true tie below an even digit: round down, i.e. drop the 18th digit.
    digits = t[0] + t.slice(2, te - 1);
    return { digits, exponent: Number(t.slice(te + 1)) };
  }
  return { digits, exponent };
}

/** Whether decimal `text` (d.ddd…e±k) is exactly the double x (positive, finite). */
function isExact(x: number, text: string): boolean {
  const e = text.indexOf("e");
  const mantissa = BigInt(text[0] + text.slice(2, e));
  const k = Number(text.slice(e + 1)) - (e - 2);
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & 0xfffffffffffffn;
  const m = biased === 0 ? fraction : fraction | (1n << 52n);
  const e2 = biased === 0 ? -1074 : biased - 1075;
  let lhs = mantissa;
  let rhs = m;
  if (k >= 0) lhs *= 10n ** BigInt(k);
  else rhs *= 10n ** BigInt(-k);
  if (e2 >= 0) rhs <<= BigInt(e2);
  else lhs <<= BigInt(-e2);
  return lhs === rhs;
}

function stripZeros(s: string): string {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 48) end--;
  return s.slice(0, end);
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 127) return false;
  return true;
}

function countDigits(v: number): number {
  let n = 1;
  let limit = 10;
  while (v >= limit && n < 21) {
    n++;
    limit *= 10;
  }
  return n;
}

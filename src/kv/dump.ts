import { crc64 } from "../core/crc64.js";
import { bulk, NULL, OK } from "../resp/reply.js";
import type { Args, Reply } from "../resp/types.js";
import type { StoredValue, ValueType } from "../storage/types.js";
import { isReply, lookup, NO_EXPIRY } from "./db.js";
import { errorReply, NOT_INTEGER, SYNTAX } from "./errors.js";
import { encodeBounded, hashPairs } from "./hashes.js";
import { encodeList, listElements } from "./lists.js";
import { NOTIFY_GENERIC, notifyIfNew, notifyKey } from "./notify.js";
import { I64_MAX, parseI64 } from "./numbers.js";
import { buildStreamData, idKey, type StreamId, type StreamParts, streamParts } from "./streams.js";
import type { CommandHandler, ExecContext } from "./types.js";
import { encodeZset, parseScore, zsetEntries } from "./zsets.js";

/**
 * DUMP and RESTORE: a value in Redis's serialization (an RDB object, then the RDB version
 * and a CRC-64, both little-endian: cluster.c, createDumpPayload), so that a value can be
 * copied between Homeostat and Redis either way.
 *
 * - DUMP writes the plain RDB encodings every Redis since 2.x reads: a string, a list
 *   (RDB_TYPE_LIST), a set, a sorted set with binary scores (RDB_TYPE_ZSET_2), a hash;
 *   and a stream as Redis 7.0 does (RDB_TYPE_STREAM_LISTPACKS_2: listpacks of up to 100
 *   entries, its groups, consumers and pending entries).
 * - RESTORE reads those, and what Redis 6 and 7 write for small values: integer and LZF
 *   strings, intsets, listpacks (hashes, sorted sets, quicklist 2 lists), ziplists
 *   (hashes, sorted sets, quicklists), the old ASCII-score sorted sets, and Redis 6's
 *   streams (RDB_TYPE_STREAM_LISTPACKS, whose counters are estimated as Redis 7 does).
 *   Not module values or zipmaps: "Bad data format", as for any payload it cannot read.
 *   Every value is rebuilt from its elements through the types' own encoders, and a
 *   payload with duplicate members or fields, an empty collection or a stream out of
 *   order is refused (as Redis's RESTORE with sanitize-dump-payload does), so a payload
 *   with a good checksum but odd contents cannot store a value the commands misread.
 */

/** The RDB version DUMP writes and the highest RESTORE takes (Redis 7.0's). */
const RDB_VERSION = 10;
const FOOTER_BYTES = 10;

const RDB_TYPE_STRING = 0;
const RDB_TYPE_LIST = 1;
const RDB_TYPE_SET = 2;
const RDB_TYPE_ZSET = 3;
const RDB_TYPE_HASH = 4;
const RDB_TYPE_ZSET_2 = 5;
const RDB_TYPE_SET_INTSET = 11;
const RDB_TYPE_ZSET_ZIPLIST = 12;
const RDB_TYPE_HASH_ZIPLIST = 13;
const RDB_TYPE_LIST_QUICKLIST = 14;
const RDB_TYPE_HASH_LISTPACK = 16;
const RDB_TYPE_ZSET_LISTPACK = 17;
const RDB_TYPE_LIST_QUICKLIST_2 = 18;
const RDB_TYPE_STREAM_LISTPACKS = 15;
const RDB_TYPE_STREAM_LISTPACKS_2 = 19;

const RDB_ENC_INT8 = 0;
const RDB_ENC_INT16 = 1;
const RDB_ENC_INT32 = 2;
const RDB_ENC_LZF = 3;

const STREAM_ITEM_FLAG_DELETED = 1n;
const STREAM_ITEM_FLAG_SAMEFIELDS = 2n;

const QUICKLIST_NODE_PLAIN = 1;
const QUICKLIST_NODE_PACKED = 2;

const EMPTY = Buffer.alloc(0);
const BAD_FORMAT = errorReply("RESTORE_BAD_FORMAT");

// ---- writing ---------------------------------------------------------------------------

class RdbWriter {
  private chunks: Buffer[] = [];

  byte(b: number): void {
    this.chunks.push(Buffer.from([b]));
  }

  len(n: number): void {
    if (n < 64) {
      this.byte(n);
    } else if (n < 16384) {
      this.chunks.push(Buffer.from([0x40 | (n >> 8), n & 0xff]));
    } else {
      const b = Buffer.allocUnsafe(5);
      b[0] = 0x80;
      b.writeUInt32BE(n, 1);
      this.chunks.push(b);
    }
  }

  string(s: Buffer): void {
    this.len(s.length);
    this.chunks.push(s);
  }

  /** A length field holding a 64-bit number (a stream ID's part, a counter). */
  bigLen(v: bigint): void {
    if (v < 0x1_0000_0000n) {
      this.len(Number(v));
      return;
    }
    const b = Buffer.allocUnsafe(9);
    b[0] = 0x81;
    b.writeBigUInt64BE(v, 1);
    this.chunks.push(b);
  }

  id(id: StreamId): void {
    this.bigLen(id.ms);
    this.bigLen(id.seq);
  }

  rawId(id: StreamId): void {
    this.chunks.push(idKey(id));
  }

  millis(ms: number): void {
    const b = Buffer.allocUnsafe(8);
    b.writeBigInt64LE(BigInt(Math.trunc(ms)), 0);
    this.chunks.push(b);
  }

  double(d: number): void {
    const b = Buffer.allocUnsafe(8);
    b.writeDoubleLE(d, 0);
    this.chunks.push(b);
  }

  /** The payload: what was written, the RDB version and the CRC-64 of both. */
  finish(): Buffer {
    const version = Buffer.from([RDB_VERSION & 0xff, RDB_VERSION >> 8]);
    const body = Buffer.concat([...this.chunks, version]);
    const crc = Buffer.allocUnsafe(8);
    crc.writeBigUInt64LE(crc64(0n, body), 0);
    return Buffer.concat([body, crc]);
  }
}

/** A value's DUMP payload. */
export function dumpPayload(value: StoredValue): Buffer {
  const w = new RdbWriter();
  const data = value.data;
  switch (value.type) {
    case "string":
      w.byte(RDB_TYPE_STRING);
      w.string(data);
      break;
    case "list": {
      const elements = listElements(data);
      w.byte(RDB_TYPE_LIST);
      w.len(elements.length);
      for (const e of elements) w.string(e);
      break;
    }
    case "set": {
      const pairs = hashPairs(data);
      w.byte(RDB_TYPE_SET);
      w.len(pairs.length);
      for (const [m] of pairs) w.string(m);
      break;
    }
    case "hash": {
      const pairs = hashPairs(data);
      w.byte(RDB_TYPE_HASH);
      w.len(pairs.length);
      for (const [f, v] of pairs) {
        w.string(f);
        w.string(v);
      }
      break;
    }
    case "zset": {
      const { members, scores } = zsetEntries(data);
      w.byte(RDB_TYPE_ZSET_2);
      w.len(members.length);
      for (let i = 0; i < members.length; i++) {
        w.string(members[i] as Buffer);
        w.double(scores[i] as number);
      }
      break;
    }
    case "stream":
      writeStream(w, streamParts(data));
      break;
  }
  return w.finish();
}

/** Entries per listpack node: Redis's stream-node-max-entries default. */
const STREAM_NODE_ENTRIES = 100;
/** Redis writes SCG_INVALID_ENTRIES_READ (-1) in a length field as this. */
const U64_MAX = 0xffff_ffff_ffff_ffffn;

/** A stream as Redis 7.0 writes it (RDB_TYPE_STREAM_LISTPACKS_2; readStream reads it). */
function writeStream(w: RdbWriter, p: StreamParts & { added: bigint }): void {
  const n = (v: bigint | number) => Buffer.from(String(v));
  w.byte(RDB_TYPE_STREAM_LISTPACKS_2);
  w.len(Math.ceil(p.entries.length / STREAM_NODE_ENTRIES));
  for (let at = 0; at < p.entries.length; at += STREAM_NODE_ENTRIES) {
    const node = p.entries.slice(at, at + STREAM_NODE_ENTRIES);
    const master = (node[0] as (typeof node)[number]).id;
    // The master fields are the node's first entry's, as Redis makes them.
    const fields = node[0]?.parts.filter((_, k) => k % 2 === 0) ?? [];
    const elements: Buffer[] = [n(node.length), n(0), n(fields.length), ...fields, n(0)];
    for (const e of node) {
      const same =
        e.parts.length === 2 * fields.length &&
        fields.every((f, k) => f.equals(e.parts[2 * k] as Buffer));
      elements.push(n(same ? STREAM_ITEM_FLAG_SAMEFIELDS : 0), n(e.id.ms - master.ms));
      elements.push(n(e.id.seq - master.seq));
      if (same) {
        for (let k = 1; k < e.parts.length; k += 2) elements.push(e.parts[k] as Buffer);
        elements.push(n(fields.length + 3));
      } else {
        elements.push(n(e.parts.length / 2), ...e.parts, n(e.parts.length + 4));
      }
    }
    w.string(idKey(master));
    w.string(listpack(elements));
  }
  w.bigLen(BigInt(p.entries.length));
  w.id(p.last);
  w.id(p.entries[0]?.id ?? { ms: 0n, seq: 0n });
  w.id(p.maxDeleted);
  w.bigLen(p.added);
  w.len(p.groups.length);
  for (const g of p.groups) {
    w.string(g.name);
    w.id(g.last);
    const read = g.entriesRead ?? -1n;
    w.bigLen(read < 0n ? U64_MAX : read);
    w.len(g.pel.length);
    for (const nack of g.pel) {
      w.rawId(nack.id);
      w.millis(nack.deliveryTime);
      w.bigLen(BigInt(nack.deliveryCount));
    }
    w.len(g.consumers.length);
    for (const c of g.consumers) {
      w.string(c.name);
      w.millis(c.seenTime);
      const owned = g.pel.filter((nack) => nack.consumer.equals(c.name));
      w.len(owned.length);
      for (const nack of owned) w.rawId(nack.id);
    }
  }
}

// ---- reading ---------------------------------------------------------------------------

/** The payload cannot be read: RESTORE answers "Bad data format". */
class BadFormat extends Error {}

function bad(): never {
  throw new BadFormat();
}

class RdbReader {
  at = 0;

  constructor(private readonly buf: Buffer) {}

  get done(): boolean {
    return this.at === this.buf.length;
  }

  private take(n: number): Buffer {
    if (n > this.buf.length - this.at) bad();
    const b = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return b;
  }

  byte(): number {
    return this.take(1)[0] as number;
  }

  /**
   * A length field (rdbLoadLen: 6, 14, 32 or 64 bits), or for an RDB_ENCVAL string its
   * encoding as -1 - encoding. A bigint: a 64-bit field holds a stream ID's part or a
   * counter.
   */
  private field(): bigint {
    const first = this.byte();
    switch (first >> 6) {
      case 0:
        return BigInt(first & 0x3f);
      case 1:
        return BigInt(((first & 0x3f) << 8) | this.byte());
      case 2:
        if (first === 0x80) return BigInt(this.take(4).readUInt32BE(0));
        if (first === 0x81) return this.take(8).readBigUInt64BE(0);
        return bad();
      default:
        return -1n - BigInt(first & 0x3f);
    }
  }

  /** A length field holding a 64-bit number (a stream ID's part, a counter). */
  bigLen(): bigint {
    const n = this.field();
    return n < 0n ? bad() : n;
  }

  /** A length field holding a length: at most 32 bits (Redis writes 64 only beyond). */
  len(): number {
    const n = this.bigLen();
    return n > 0xffff_ffffn ? bad() : Number(n);
  }

  id(): StreamId {
    return { ms: this.bigLen(), seq: this.bigLen() };
  }

  /** A stream ID as 16 raw bytes, big-endian (a PEL's). */
  rawId(): StreamId {
    const b = this.take(16);
    return { ms: b.readBigUInt64BE(0), seq: b.readBigUInt64BE(8) };
  }

  /** rdbLoadMillisecondTime: 8 bytes, little-endian. */
  millis(): number {
    return Number(this.take(8).readBigInt64LE(0));
  }

  /** A count of things still to read, each at least one byte. */
  count(): number {
    const n = this.len();
    if (n > this.buf.length - this.at) bad();
    return n;
  }

  string(): Buffer {
    const n = this.field();
    if (n >= 0n) return n > BigInt(this.buf.length) ? bad() : this.take(Number(n));
    switch (Number(-1n - n)) {
      case RDB_ENC_INT8:
        return Buffer.from(String(this.take(1).readInt8(0)));
      case RDB_ENC_INT16:
        return Buffer.from(String(this.take(2).readInt16LE(0)));
      case RDB_ENC_INT32:
        return Buffer.from(String(this.take(4).readInt32LE(0)));
      case RDB_ENC_LZF: {
        const compressed = this.len();
        const length = this.len();
        return lzfDecompress(this.take(compressed), length);
      }
      default:
        return bad();
    }
  }

  double(): number {
    return this.take(8).readDoubleLE(0);
  }

  /** RDB_TYPE_ZSET's score: a length byte (253 NaN, 254 +inf, 255 -inf), then text. */
  asciiDouble(): number {
    const n = this.byte();
    if (n === 253) return Number.NaN;
    if (n === 254) return Number.POSITIVE_INFINITY;
    if (n === 255) return Number.NEGATIVE_INFINITY;
    const score = parseScore(this.take(n));
    return score === undefined ? bad() : score;
  }
}

/** LZF (lzf_d.c): literal runs and back references; the output must be `length` bytes. */
function lzfDecompress(input: Buffer, length: number): Buffer {
  // A back reference of 3 bytes gives at most 264: a longer output is a bad length, and
  // not allocated.
  if (length > 88 * input.length) bad();
  const out = Buffer.allocUnsafe(length);
  let i = 0;
  let o = 0;
  while (i < input.length) {
    const ctrl = input[i++] as number;
    if (ctrl < 32) {
      const run = ctrl + 1;
      if (i + run > input.length || o + run > length) bad();
      input.copy(out, o, i, i + run);
      i += run;
      o += run;
      continue;
    }
    let run = ctrl >> 5;
    if (run === 7) {
      if (i >= input.length) bad();
      run += input[i++] as number;
    }
    run += 2;
    if (i >= input.length) bad();
    const back = o - ((ctrl & 0x1f) << 8) - 1 - (input[i++] as number);
    if (back < 0 || o + run > length) bad();
    // Byte by byte: a reference may overlap what it writes.
    for (let k = 0; k < run; k++) out[o + k] = out[back + k] as number;
    o += run;
  }
  if (o !== length) bad();
  return out;
}

/** An integer element of a listpack, ziplist or intset, as the string it stands for. */
const intElement = (n: number | bigint) => Buffer.from(String(n));

/** Bytes of a listpack entry's backward length (lpEncodeBacklen) for an entry of `size`. */
function backlenBytes(size: number): number {
  if (size <= 127) return 1;
  if (size < 16383) return 2;
  if (size < 2097151) return 3;
  return size < 268435455 ? 4 : 5;
}

/** A listpack of `elements`, each as a string (Redis reads numbers in them from text too). */
function listpack(elements: readonly Buffer[]): Buffer {
  const chunks: Buffer[] = [];
  let bytes = 6 + 1;
  for (const e of elements) {
    const n = e.length;
    const head =
      n < 64
        ? Buffer.from([0x80 | n])
        : n < 4096
          ? Buffer.from([0xe0 | (n >> 8), n & 0xff])
          : Buffer.from([0xf0, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24]);
    const size = head.length + n;
    const back = Buffer.alloc(backlenBytes(size));
    // Seven bits a byte, the most significant first; every byte but the first has bit 7 set.
    for (let k = back.length - 1, v = size; k >= 0; k--, v = Math.floor(v / 128)) {
      back[k] = (v % 128) | (k === 0 ? 0 : 0x80);
    }
    chunks.push(head, e, back);
    bytes += size + back.length;
  }
  const header = Buffer.alloc(6);
  header.writeUInt32LE(bytes, 0);
  header.writeUInt16LE(Math.min(elements.length, 65535), 4);
  return Buffer.concat([header, ...chunks, Buffer.from([0xff])]);
}

/** A listpack's elements (listpack.c): strings, or integers as their decimal text. */
function listpackElements(lp: Buffer): Buffer[] {
  if (lp.length < 7 || lp.readUInt32LE(0) !== lp.length) bad();
  const out: Buffer[] = [];
  let at = 6;
  for (;;) {
    if (at >= lp.length) bad();
    const b = lp[at] as number;
    if (b === 0xff) break;
    let size: number;
    if (b < 0x80) {
      out.push(intElement(b));
      size = 1;
    } else if (b < 0xc0) {
      const n = b & 0x3f;
      out.push(slice(lp, at + 1, n));
      size = 1 + n;
    } else if (b < 0xe0) {
      need(lp, at + 2);
      const raw = ((b & 0x1f) << 8) | (lp[at + 1] as number);
      out.push(intElement(raw >= 1 << 12 ? raw - (1 << 13) : raw));
      size = 2;
    } else if (b < 0xf0) {
      need(lp, at + 2);
      const n = ((b & 0x0f) << 8) | (lp[at + 1] as number);
      out.push(slice(lp, at + 2, n));
      size = 2 + n;
    } else if (b === 0xf0) {
      need(lp, at + 5);
      const n = lp.readUInt32LE(at + 1);
      out.push(slice(lp, at + 5, n));
      size = 5 + n;
    } else if (b === 0xf1) {
      need(lp, at + 3);
      out.push(intElement(lp.readInt16LE(at + 1)));
      size = 3;
    } else if (b === 0xf2) {
      need(lp, at + 4);
      out.push(intElement(lp.readIntLE(at + 1, 3)));
      size = 4;
    } else if (b === 0xf3) {
      need(lp, at + 5);
      out.push(intElement(lp.readInt32LE(at + 1)));
      size = 5;
    } else if (b === 0xf4) {
      need(lp, at + 9);
      out.push(intElement(lp.readBigInt64LE(at + 1)));
      size = 9;
    } else {
      return bad();
    }
    // The entry's length again, backwards, in 1 to 5 bytes of 7 bits.
    at += size + backlenBytes(size);
  }
  if (at !== lp.length - 1) bad();
  return out;
}

/** A ziplist's elements (ziplist.c, Redis 6 and before). */
function ziplistElements(zl: Buffer): Buffer[] {
  if (zl.length < 11 || zl.readUInt32LE(0) !== zl.length) bad();
  const out: Buffer[] = [];
  let at = 10;
  for (;;) {
    need(zl, at + 1);
    if (zl[at] === 0xff) break;
    at += zl[at] === 0xfe ? 5 : 1; // the previous entry's length
    need(zl, at + 1);
    const b = zl[at] as number;
    switch (b >> 6) {
      case 0: {
        const n = b & 0x3f;
        out.push(slice(zl, at + 1, n));
        at += 1 + n;
        continue;
      }
      case 1: {
        need(zl, at + 2);
        const n = ((b & 0x3f) << 8) | (zl[at + 1] as number);
        out.push(slice(zl, at + 2, n));
        at += 2 + n;
        continue;
      }
      case 2: {
        if (b !== 0x80) bad();
        need(zl, at + 5);
        const n = zl.readUInt32BE(at + 1);
        out.push(slice(zl, at + 5, n));
        at += 5 + n;
        continue;
      }
    }
    if (b === 0xc0) {
      need(zl, at + 3);
      out.push(intElement(zl.readInt16LE(at + 1)));
      at += 3;
    } else if (b === 0xd0) {
      need(zl, at + 5);
      out.push(intElement(zl.readInt32LE(at + 1)));
      at += 5;
    } else if (b === 0xe0) {
      need(zl, at + 9);
      out.push(intElement(zl.readBigInt64LE(at + 1)));
      at += 9;
    } else if (b === 0xf0) {
      need(zl, at + 4);
      out.push(intElement(zl.readIntLE(at + 1, 3)));
      at += 4;
    } else if (b === 0xfe) {
      need(zl, at + 2);
      out.push(intElement(zl.readInt8(at + 1)));
      at += 2;
    } else if (b >= 0xf1 && b <= 0xfd) {
      out.push(intElement((b & 0x0f) - 1));
      at += 1;
    } else {
      bad();
    }
  }
  if (at !== zl.length - 1) bad();
  return out;
}

/** An intset's members (intset.c): a width of 2, 4 or 8 bytes, a count, the integers. */
function intsetElements(is: Buffer): Buffer[] {
  if (is.length < 8) bad();
  const width = is.readUInt32LE(0);
  const count = is.readUInt32LE(4);
  if ((width !== 2 && width !== 4 && width !== 8) || is.length !== 8 + width * count) bad();
  const out: Buffer[] = [];
  for (let k = 0; k < count; k++) {
    const at = 8 + k * width;
    if (width === 2) out.push(intElement(is.readInt16LE(at)));
    else if (width === 4) out.push(intElement(is.readInt32LE(at)));
    else out.push(intElement(is.readBigInt64LE(at)));
  }
  return out;
}

function need(b: Buffer, end: number): void {
  if (end > b.length) bad();
}

function slice(b: Buffer, at: number, n: number): Buffer {
  need(b, at + n);
  return b.subarray(at, at + n);
}

/** Pairs of consecutive elements (a hash's fields and values, a sorted set's members). */
function pairsOf(elements: readonly Buffer[]): [Buffer, Buffer][] {
  if (elements.length % 2 !== 0) bad();
  const out: [Buffer, Buffer][] = [];
  for (let k = 0; k < elements.length; k += 2) {
    out.push([elements[k] as Buffer, elements[k + 1] as Buffer]);
  }
  return out;
}

/** The elements of an RDB value of `type` (a list, set, hash or sorted set's). */
type Decoded =
  | { type: "string"; value: Buffer }
  | { type: "list" | "set"; elements: Buffer[] }
  | { type: "hash"; pairs: [Buffer, Buffer][] }
  | { type: "zset"; entries: [Buffer, number][] }
  | { type: "stream"; parts: StreamParts };

function readObject(r: RdbReader): Decoded {
  const type = r.byte();
  switch (type) {
    case RDB_TYPE_STRING:
      return { type: "string", value: r.string() };
    case RDB_TYPE_LIST:
    case RDB_TYPE_SET: {
      const n = r.count();
      const elements: Buffer[] = [];
      for (let k = 0; k < n; k++) elements.push(r.string());
      return { type: type === RDB_TYPE_LIST ? "list" : "set", elements };
    }
    case RDB_TYPE_SET_INTSET:
      return { type: "set", elements: intsetElements(r.string()) };
    case RDB_TYPE_HASH: {
      const n = r.count();
      const pairs: [Buffer, Buffer][] = [];
      for (let k = 0; k < n; k++) pairs.push([r.string(), r.string()]);
      return { type: "hash", pairs };
    }
    case RDB_TYPE_HASH_LISTPACK:
      return { type: "hash", pairs: pairsOf(listpackElements(r.string())) };
    case RDB_TYPE_HASH_ZIPLIST:
      return { type: "hash", pairs: pairsOf(ziplistElements(r.string())) };
    case RDB_TYPE_ZSET:
    case RDB_TYPE_ZSET_2: {
      const n = r.count();
      const entries: [Buffer, number][] = [];
      for (let k = 0; k < n; k++) {
        const member = r.string();
        entries.push([member, type === RDB_TYPE_ZSET ? r.asciiDouble() : r.double()]);
      }
      return { type: "zset", entries };
    }
    case RDB_TYPE_ZSET_LISTPACK:
    case RDB_TYPE_ZSET_ZIPLIST: {
      const s = r.string();
      const elements = type === RDB_TYPE_ZSET_LISTPACK ? listpackElements(s) : ziplistElements(s);
      const entries = pairsOf(elements).map(([m, score]): [Buffer, number] => [
        m,
        parseScore(score) ?? bad(),
      ]);
      return { type: "zset", entries };
    }
    case RDB_TYPE_LIST_QUICKLIST:
    case RDB_TYPE_LIST_QUICKLIST_2: {
      const nodes = r.count();
      const elements: Buffer[] = [];
      for (let k = 0; k < nodes; k++) {
        if (type === RDB_TYPE_LIST_QUICKLIST) {
          elements.push(...ziplistElements(r.string()));
          continue;
        }
        const container = r.len();
        const s = r.string();
        if (container === QUICKLIST_NODE_PLAIN) elements.push(s);
        else if (container === QUICKLIST_NODE_PACKED) elements.push(...listpackElements(s));
        else bad();
      }
      return { type: "list", elements };
    }
    case RDB_TYPE_STREAM_LISTPACKS:
    case RDB_TYPE_STREAM_LISTPACKS_2:
      return { type: "stream", parts: readStream(r, type === RDB_TYPE_STREAM_LISTPACKS_2) };
    default:
      return bad();
  }
}

/** A decimal integer element of a stream's listpack. */
function num(b: Buffer | undefined): bigint {
  if (b === undefined || !/^-?\d{1,20}$/.test(b.toString("latin1"))) return bad();
  return BigInt(b.toString("latin1"));
}

/**
 * Redis's stream (rdb.c, RDB_TYPE_STREAM_LISTPACKS and _2; t_stream.c for a node's
 * listpack): nodes keyed by their master ID, each a listpack of a master entry (count,
 * deleted, the master fields, 0) and entries (flags, ID deltas, fields or, with
 * SAMEFIELDS, the values of the master fields, then their element count); then the
 * length, the last ID, in _2 the first ID, the deleted maximum and entries_added; then
 * the groups, each with its last ID, in _2 entries_read, its PEL and its consumers with
 * the IDs each owns.
 */
function readStream(r: RdbReader, v2: boolean): StreamParts {
  const entries: StreamParts["entries"] = [];
  const nodes = r.count();
  for (let n = 0; n < nodes; n++) {
    const key = r.string();
    if (key.length !== 16) bad();
    const ms = key.readBigUInt64BE(0);
    const seq = key.readBigUInt64BE(8);
    const lp = listpackElements(r.string());
    let i = 0;
    const next = () => lp[i++] ?? bad();
    const total = num(next()) + num(next());
    const masterFields: Buffer[] = [];
    for (let f = num(next()); f > 0n; f--) masterFields.push(next());
    if (num(next()) !== 0n) bad();
    for (let e = 0n; e < total; e++) {
      const flags = num(next());
      const id = { ms: ms + num(next()), seq: seq + num(next()) };
      if (id.ms < 0n || id.ms > U64_MAX || id.seq < 0n || id.seq > U64_MAX) bad();
      const parts: Buffer[] = [];
      if ((flags & STREAM_ITEM_FLAG_SAMEFIELDS) !== 0n) {
        for (const f of masterFields) parts.push(f, next());
      } else {
        for (let f = num(next()); f > 0n; f--) parts.push(next(), next());
      }
      next(); // the entry's element count, for walking backwards
      if ((flags & STREAM_ITEM_FLAG_DELETED) === 0n) entries.push({ id, parts });
    }
    if (i !== lp.length) bad();
  }
  if (BigInt(entries.length) !== r.bigLen()) bad();
  const last = r.id();
  let maxDeleted: StreamId = { ms: 0n, seq: 0n };
  let added: bigint | null = null;
  if (v2) {
    r.id(); // the first ID: the first entry's, worked out again
    maxDeleted = r.id();
    added = r.bigLen();
  }
  const groups: StreamParts["groups"] = [];
  for (let g = r.count(); g > 0; g--) {
    const name = r.string();
    const groupLast = r.id();
    let entriesRead: bigint | null = null;
    if (v2) {
      const read = r.bigLen();
      entriesRead = read === U64_MAX ? -1n : read;
    }
    const nacks = new Map<string, { id: StreamId; time: number; count: number }>();
    for (let k = r.count(); k > 0; k--) {
      const id = r.rawId();
      nacks.set(`${id.ms}-${id.seq}`, { id, time: r.millis(), count: Number(r.bigLen()) });
    }
    const consumers: { name: Buffer; seenTime: number }[] = [];
    const pel: StreamParts["groups"][number]["pel"] = [];
    for (let c = r.count(); c > 0; c--) {
      const consumer = r.string();
      consumers.push({ name: consumer, seenTime: r.millis() });
      for (let k = r.count(); k > 0; k--) {
        const id = r.rawId();
        const nack = nacks.get(`${id.ms}-${id.seq}`) ?? bad();
        nacks.delete(`${id.ms}-${id.seq}`);
        pel.push({ id, consumer, deliveryTime: nack.time, deliveryCount: nack.count });
      }
    }
    // A pending entry no consumer owns: Redis's deep check refuses it too.
    if (nacks.size > 0) bad();
    groups.push({ name, last: groupLast, entriesRead, consumers, pel });
  }
  return { entries, last, maxDeleted, added, groups };
}

/** Whether the payload ends in a version this server reads and the checksum of the rest. */
function verifyPayload(p: Buffer): boolean {
  if (p.length < FOOTER_BYTES) return false;
  const footer = p.length - FOOTER_BYTES;
  if (p.readUInt16LE(footer) > RDB_VERSION) return false;
  return crc64(0n, p.subarray(0, footer + 2)) === p.readBigUInt64LE(footer + 2);
}

/**
 * The value a payload holds (checked with verifyPayload), built through the types' own
 * encoders: a copy, never a view of the payload. A Reply when the value is too long.
 */
function restoredValue(
  ctx: ExecContext,
  payload: Buffer,
): { type: ValueType; data: Buffer } | Reply {
  const r = new RdbReader(payload.subarray(0, payload.length - FOOTER_BYTES));
  let d: Decoded;
  try {
    d = readObject(r);
    if (!r.done) bad();
  } catch (e) {
    if (e instanceof BadFormat) return BAD_FORMAT;
    throw e;
  }
  let data: Buffer | Reply;
  switch (d.type) {
    case "string":
      if (d.value.length > ctx.maxBulkBytes) return errorReply("STRING_TOO_LONG");
      data = Buffer.from(d.value);
      break;
    case "stream": {
      const built = buildStreamData(ctx, d.parts);
      if (built === null) return BAD_FORMAT;
      data = built;
      break;
    }
    case "list":
      if (d.elements.length === 0) return BAD_FORMAT;
      data = encodeList(ctx, d.elements);
      break;
    case "set":
      if (!distinct(d.elements, (m) => m)) return BAD_FORMAT;
      data = encodeBounded(
        ctx,
        d.elements.map((m) => [m, EMPTY] as const),
        errorReply("SET_TOO_LONG"),
      );
      break;
    case "hash":
      if (!distinct(d.pairs, ([f]) => f)) return BAD_FORMAT;
      data = encodeBounded(ctx, d.pairs, errorReply("HASH_TOO_LONG"));
      break;
    case "zset": {
      if (!distinct(d.entries, ([m]) => m)) return BAD_FORMAT;
      if (d.entries.some(([, score]) => Number.isNaN(score))) return BAD_FORMAT;
      const sorted = [...d.entries].sort(([ma, sa], [mb, sb]) =>
        sa !== sb ? (sa < sb ? -1 : 1) : Buffer.compare(ma, mb),
      );
      data = encodeZset(ctx, {
        members: sorted.map(([m]) => m),
        scores: sorted.map(([, s]) => s),
      });
      break;
    }
  }
  return isReply(data) ? data : { type: d.type, data };
}

/** Whether a collection has elements and no two alike (by `keyOf`), as RESTORE needs. */
function distinct<T>(items: readonly T[], keyOf: (t: T) => Buffer): boolean {
  if (items.length === 0) return false;
  const seen = new Set<string>();
  for (const t of items) {
    const k = keyOf(t).toString("latin1");
    if (seen.has(k)) return false;
    seen.add(k);
  }
  return true;
}

// ---- the commands ----------------------------------------------------------------------

const dump: CommandHandler = (ctx, args) => {
  const value = lookup(ctx, args.buf(1));
  return value === undefined ? NULL : bulk(dumpPayload(value));
};

/** RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency] */
const restore: CommandHandler = (ctx, args: Args) => {
  let replace = false;
  let absttl = false;
  let idle = false;
  let freq = false;
  for (let j = 4; j < args.length; j++) {
    const more = args.length - j - 1;
    if (args.is(j, "replace")) {
      replace = true;
    } else if (args.is(j, "absttl")) {
      absttl = true;
    } else if (args.is(j, "idletime") && more >= 1 && !freq) {
      // Accepted and checked as Redis does; nothing here keeps access times.
      const v = parseI64(args.buf(++j));
      if (v === undefined) return NOT_INTEGER;
      if (v < 0n) return errorReply("RESTORE_IDLETIME");
      idle = true;
    } else if (args.is(j, "freq") && more >= 1 && !idle) {
      const v = parseI64(args.buf(++j));
      if (v === undefined) return NOT_INTEGER;
      if (v < 0n || v > 255n) return errorReply("RESTORE_FREQ");
      freq = true;
    } else {
      return SYNTAX;
    }
  }
  const key = args.buf(1);
  const existed = lookup(ctx, key) !== undefined;
  if (!replace && existed) return errorReply("BUSYKEY");
  const ttl = parseI64(args.buf(2));
  if (ttl === undefined) return NOT_INTEGER;
  if (ttl < 0n) return errorReply("RESTORE_TTL");
  const payload = args.buf(3);
  if (!verifyPayload(payload)) return errorReply("RESTORE_PAYLOAD");
  const value = restoredValue(ctx, payload);
  if (isReply(value)) return value;
  let expireAt = NO_EXPIRY;
  if (ttl !== 0n) {
    const at = absttl ? ttl : BigInt(ctx.nowMs) + ttl;
    expireAt = Number(at > I64_MAX ? I64_MAX : at);
  }
  if (expireAt !== NO_EXPIRY && expireAt <= ctx.nowMs) {
    // Already expired: nothing is stored, and a replaced key is gone.
    if (existed && ctx.store.delete(key)) notifyKey(ctx, NOTIFY_GENERIC, "del", key);
    return OK;
  }
  // A replaced key is deleted first, then the new one added: a "new" event either way.
  notifyIfNew(ctx, key, false);
  ctx.store.set(key, { type: value.type, data: value.data, expireAtMs: expireAt });
  notifyKey(ctx, NOTIFY_GENERIC, "restore", key);
  return OK;
};

export const DUMP_HANDLERS: ReadonlyMap<string, CommandHandler> = new Map([
  ["dump", dump],
  ["restore", restore],
  // What a Redis Cluster node's MIGRATE sends: RESTORE, with the ASKING flag (here every
  // node takes every key, so nothing to ask).
  ["restore-asking", restore],
]);

// ---- FUNCTION DUMP and RESTORE -----------------------------------------------------------

/** RDB_OPCODE_FUNCTION2: a function library's code follows. */
const RDB_OPCODE_FUNCTION2 = 245;

/**
 * FUNCTION DUMP's payload, as Redis's rdbSaveFunctions writes it: each library's code
 * after RDB_OPCODE_FUNCTION2, then the RDB version and the CRC-64, as a key's DUMP.
 */
export function functionsPayload(codes: readonly Uint8Array[]): Buffer {
  const w = new RdbWriter();
  for (const code of codes) {
    w.byte(RDB_OPCODE_FUNCTION2);
    w.string(Buffer.from(code));
  }
  return w.finish();
}

/**
 * The libraries' codes in a FUNCTION DUMP payload, or FUNCTION RESTORE's error: Redis's
 * wording for a bad footer, for a record that is not a library, and for one cut short.
 */
export function functionsOfPayload(payload: Buffer): Buffer[] | string {
  if (!verifyPayload(payload)) return "DUMP payload version or checksum are wrong";
  const r = new RdbReader(payload.subarray(0, payload.length - FOOTER_BYTES));
  const codes: Buffer[] = [];
  try {
    while (!r.done) {
      // RDB_OPCODE_FUNCTION (246), the format of 7.0's release candidates, is not read.
      if (r.byte() !== RDB_OPCODE_FUNCTION2) return "given type is not a function";
      codes.push(Buffer.from(r.string()));
    }
  } catch (e) {
    if (e instanceof BadFormat) return "failed loading the given functions payload";
    throw e;
  }
  return codes;
}

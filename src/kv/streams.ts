import { ByteReader, DecodeError, u32be } from "../core/bytes.js";
import { array, bulk, EMPTY_ARRAY, integer, map, NULL, NULL_ARRAY, simple } from "../resp/reply.js";
import type { Args, Reply } from "../resp/types.js";
import type { StoredValue } from "../storage/types.js";
import { integerReply, isReply, NO_EXPIRY } from "./db.js";
import { errorReply, NOT_INTEGER, SYNTAX, unknownSubcommand, wrongArity } from "./errors.js";
import { lookupTyped } from "./hashes.js";
import { NOTIFY_STREAM, notifyIfNew, notifyKey } from "./notify.js";
import { parseI64 } from "./numbers.js";
import type { CommandHandler, ExecContext } from "./types.js";

/**
 * Streams: XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM, XREAD and XREADGROUP (BLOCK served
 * by the server's blocking clients, server/blocking.ts), XSETID, XINFO, and the consumer
 * groups: XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM (docs/commands.md, "stream"). Times
 * (deliveries, consumers seen, idle times) are the command's time, ctx.nowMs.
 *
 * A stream is one stored value. Its entries are kept in nodes as Redis keeps them in the
 * listpacks of its radix tree, because the approximate trims (MAXLEN ~, MINID ~, LIMIT)
 * remove whole nodes only, and a replica must trim exactly as the leader did:
 *
 *   data     = lastMs:u64 lastSeq:u64 added:u64 maxDeletedMs:u64 maxDeletedSeq:u64
 *              length:u32 nodeCount:u32 node{nodeCount} groupCount:u32 group{groupCount}
 *   node     = live:u32 deleted:u32 bytes:u32 size:u32 entry{live}   (size: its entries' bytes)
 *   entry    = ms:u64 seq:u64 parts:u32 (length:u32 bytes){parts}
 *   group    = nameLength:u32 name lastMs:u64 lastSeq:u64 entriesRead:i64
 *              consumerCount:u32 consumer{consumerCount} pendingCount:u32 pending{pendingCount}
 *   consumer = nameLength:u32 name seenTime:f64
 *   pending  = ms:u64 seq:u64 consumer:u32 (its index) deliveryTime:f64 deliveryCount:f64
 *
 * A node takes entries until it holds stream-node-max-entries of them, live or deleted
 * (100 by default), or about stream-node-max-bytes (4 KiB). A standalone node follows its
 * settings; a cluster's shards keep the defaults (ExecContext.streamNode): the node layout
 * is replicated state, and a setting a replica read differently would make it trim
 * differently. `bytes` counts what was appended to the node, an estimate of its
 * listpack's size. A command reads the nodes' headers and parses the entries of the nodes
 * it needs (a node's first ID tells whether it can hold an ID, unparsed); a write copies
 * the untouched nodes' bytes whole: O(N) in the stream's bytes for the copy, as every
 * other collection here is, but reading only what it works on.
 */

/** Redis's defaults for stream-node-max-entries and -bytes (ExecContext.streamNode). */
const DEFAULT_NODE = { entries: 100, bytes: 4096 };
/** A listpack's largest size in Redis (STREAM_LISTPACK_MAX_SIZE): node bytes 0 means it. */
const listpackBytesMax = 2 ** 30;

/** Redis: with ~ and no LIMIT, at most 100 nodes' worth of entries are trimmed at once. */
function approxLimitDefault(ctx: ExecContext): number {
  const limit = 100 * (ctx.streamNode ?? DEFAULT_NODE).entries;
  return limit <= 0 ? 10_000 : Math.min(limit, 1_000_000);
}
const U64_MAX = (1n << 64n) - 1n;

const STREAM_ID_INVALID = errorReply("STREAM_ID_INVALID");
const XADD_ID_ZERO = errorReply("XADD_ID_ZERO");
const XADD_ID_TOO_SMALL = errorReply("XADD_ID_TOO_SMALL");
const XADD_EXHAUSTED = errorReply("XADD_EXHAUSTED");
const START_ID_INVALID = errorReply("STREAM_START_ID_INVALID");
const END_ID_INVALID = errorReply("STREAM_END_ID_INVALID");
const NO_SUCH_KEY = errorReply("NO_SUCH_KEY");

export interface StreamId {
  ms: bigint;
  seq: bigint;
}

/**
 * An entry as stored: its bytes, `buf` from `at` to `end` (ms:u64 seq:u64 parts:u32
 * (length:u32 bytes){parts}). A write copies them whole into the new value, and the ID and
 * the parts are read only when asked: a stream's entries are walked on every command, and
 * decoding each into objects cost most of a command on a long stream.
 */
class Entry {
  private idRead: StreamId | null = null;

  constructor(
    readonly buf: Buffer,
    readonly at: number,
    readonly end: number,
  ) {}

  /** A new entry's encoding. */
  static of(id: StreamId, parts: readonly Buffer[]): Entry {
    let size = 20;
    for (const p of parts) size += 4 + p.length;
    const buf = Buffer.allocUnsafe(size);
    buf.writeBigUInt64BE(id.ms, 0);
    buf.writeBigUInt64BE(id.seq, 8);
    buf.writeUInt32BE(parts.length, 16);
    let at = 20;
    for (const p of parts) {
      buf.writeUInt32BE(p.length, at);
      at += 4 + p.copy(buf, at + 4);
    }
    const e = new Entry(buf, 0, size);
    e.idRead = id;
    return e;
  }

  get id(): StreamId {
    this.idRead ??= {
      ms: this.buf.readBigUInt64BE(this.at),
      seq: this.buf.readBigUInt64BE(this.at + 8),
    };
    return this.idRead;
  }

  /** Field, value, field, value...: views of the stored bytes. */
  get parts(): Buffer[] {
    const count = u32be(this.buf, this.at + 16);
    const parts: Buffer[] = new Array(count);
    let at = this.at + 20;
    for (let p = 0; p < count; p++) {
      const len = u32be(this.buf, at);
      parts[p] = this.buf.subarray(at + 4, at + 4 + len);
      at += 4 + len;
    }
    return parts;
  }

  /** The parts' bytes, without their lengths: what a node's byte bound counts. */
  payload(): number {
    return this.end - this.at - 20 - 4 * u32be(this.buf, this.at + 16);
  }

  /** This entry's ID against `key`, a 16-byte ID (idKey), without reading it as numbers. */
  compareTo(key: Buffer): number {
    for (let k = 0; k < 16; k += 4) {
      const a = u32be(this.buf, this.at + k);
      const b = u32be(key, k);
      if (a !== b) return a < b ? -1 : 1;
    }
    return 0;
  }
}

/** An ID as 16 big-endian bytes, the order IDs compare in (and Redis's raw stream IDs). */
export function idKey(id: StreamId): Buffer {
  const b = Buffer.allocUnsafe(16);
  b.writeBigUInt64BE(id.ms, 0);
  b.writeBigUInt64BE(id.seq, 8);
  return b;
}

/**
 * A node of entries: read from the stored value as one slice, its entries parsed only when
 * asked (`entries`), and copied whole into the new value when they were not.
 */
class Node {
  private list: Entry[] | null;

  constructor(
    private readonly buf: Buffer,
    private readonly at: number,
    private readonly size: number,
    private readonly live: number,
    public deleted: number,
    public bytes: number,
  ) {
    this.list = live === 0 ? [] : null;
  }

  static empty(): Node {
    return new Node(EMPTY_BYTES, 0, 0, 0, 0, 16);
  }

  /** Its live entries, in order; parsed now if not yet (then mutable). */
  get entries(): Entry[] {
    if (this.list === null) {
      const list: Entry[] = new Array(this.live);
      let at = this.at;
      for (let e = 0; e < this.live; e++) {
        const start = at;
        const count = u32be(this.buf, at + 16);
        at += 20;
        for (let p = 0; p < count; p++) at += 4 + u32be(this.buf, at);
        list[e] = new Entry(this.buf, start, at);
      }
      if (at !== this.at + this.size) throw new RangeError("stream value: a node's size");
      this.list = list;
    }
    return this.list;
  }

  /** Its number of live entries, without parsing them. */
  get length(): number {
    return this.list?.length ?? this.live;
  }

  /** Its first entry's ID against `key` (idKey), without parsing; undefined when empty. */
  compareFirst(key: Buffer): number | undefined {
    if (this.list !== null) return this.list[0]?.compareTo(key);
    return new Entry(this.buf, this.at, this.at + 20).compareTo(key);
  }

  encodedSize(): number {
    if (this.list === null) return this.size;
    let n = 0;
    for (const e of this.list) n += e.end - e.at;
    return n;
  }

  copyTo(out: Buffer, at: number): number {
    if (this.list === null) return this.buf.copy(out, at, this.at, this.at + this.size);
    let n = 0;
    for (const e of this.list) n += e.buf.copy(out, at + n, e.at, e.end);
    return n;
  }
}

const EMPTY_BYTES = Buffer.alloc(0);

/** An entry delivered to a consumer and not yet acknowledged (Redis's NACK). */
interface Pending {
  readonly id: StreamId;
  consumer: Buffer;
  deliveryTime: number;
  deliveryCount: number;
}

interface Consumer {
  readonly name: Buffer;
  seenTime: number;
}

interface Group {
  readonly name: Buffer;
  last: StreamId;
  /** The group's logical read counter; -1n when unknown (Redis's SCG_INVALID_ENTRIES_READ). */
  entriesRead: bigint;
  /** By ID. */
  pel: Pending[];
  /** By name, as Redis's radix tree orders them. */
  consumers: Consumer[];
}

interface Stream {
  last: StreamId;
  added: bigint;
  maxDeleted: StreamId;
  nodes: Node[];
  /** By name. */
  groups: Group[];
}

const ZERO_ID: StreamId = { ms: 0n, seq: 0n };
const MAX_ID: StreamId = { ms: U64_MAX, seq: U64_MAX };

export function compareIds(a: StreamId, b: StreamId): number {
  if (a.ms !== b.ms) return a.ms < b.ms ? -1 : 1;
  if (a.seq !== b.seq) return a.seq < b.seq ? -1 : 1;
  return 0;
}

export function formatId(id: StreamId): string {
  return `${id.ms}-${id.seq}`;
}

/** The ID after `id`, or null past the last possible one. */
function nextId(id: StreamId): StreamId | null {
  if (id.seq < U64_MAX) return { ms: id.ms, seq: id.seq + 1n };
  if (id.ms < U64_MAX) return { ms: id.ms + 1n, seq: 0n };
  return null;
}

/** The ID before `id`, or null before 0-0. */
function previousId(id: StreamId): StreamId | null {
  if (id.seq > 0n) return { ms: id.ms, seq: id.seq - 1n };
  if (id.ms > 0n) return { ms: id.ms - 1n, seq: U64_MAX };
  return null;
}

// ---- the encoding ---------------------------------------------------------------------------

/** A stream's value read front to back: IDs are full u64s, byte runs are views. */
class ValueReader extends ByteReader {
  constructor(private readonly data: Buffer) {
    super(data);
  }

  big(): bigint {
    this.need(8);
    const v = this.data.readBigUInt64BE(this.offset);
    this.offset += 8;
    return v;
  }

  signed(): bigint {
    this.need(8);
    const v = this.data.readBigInt64BE(this.offset);
    this.offset += 8;
    return v;
  }

  id(): StreamId {
    return { ms: this.big(), seq: this.big() };
  }

  /** A u32 length, then that many bytes, as a view. */
  run(): Buffer {
    const n = this.u32();
    this.need(n);
    const b = this.data.subarray(this.offset, this.offset + n);
    this.offset += n;
    return b;
  }
}

function decode(data: Buffer): Stream {
  const r = new ValueReader(data);
  const last = r.id();
  const added = r.big();
  const maxDeleted = r.id();
  r.u32(); // the length: the sum of the nodes' live counts
  const nodeCount = r.u32();
  const nodes: Node[] = [];
  for (let n = 0; n < nodeCount; n++) {
    const live = r.u32();
    const deleted = r.u32();
    const bytes = r.u32();
    const size = r.u32();
    const at = r.position;
    r.skipTo(at + size);
    nodes.push(new Node(data, at, size, live, deleted, bytes));
  }
  const groups: Group[] = [];
  const groupCount = r.u32();
  for (let g = 0; g < groupCount; g++) {
    const name = r.run();
    const last = r.id();
    const entriesRead = r.signed();
    const consumers: Consumer[] = [];
    const consumerCount = r.u32();
    for (let c = 0; c < consumerCount; c++) consumers.push({ name: r.run(), seenTime: r.f64() });
    const pel: Pending[] = [];
    const pendingCount = r.u32();
    for (let p = 0; p < pendingCount; p++) {
      const id = r.id();
      const owner = consumers[r.u32()];
      if (owner === undefined) throw new DecodeError("stream value: a pending entry's consumer");
      pel.push({ id, consumer: owner.name, deliveryTime: r.f64(), deliveryCount: r.f64() });
    }
    groups.push({ name, last, entriesRead, pel, consumers });
  }
  if (r.remaining !== 0) throw new DecodeError("stream value has trailing bytes");
  return { last, added, maxDeleted, nodes, groups };
}

function encode(s: Stream): Buffer {
  let size = 8 * 5 + 4 + 4 + 4;
  for (const g of s.groups) {
    size += 4 + g.name.length + 24 + 8;
    for (const c of g.consumers) size += 4 + c.name.length + 8;
    size += g.pel.length * 36;
  }
  let length = 0;
  for (const node of s.nodes) {
    size += 12;
    size += 4;
    length += node.length;
    size += node.encodedSize();
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  const u64 = (v: bigint) => {
    out.writeBigUInt64BE(v, at);
    at += 8;
  };
  const u32 = (v: number) => {
    out.writeUInt32BE(v, at);
    at += 4;
  };
  u64(s.last.ms);
  u64(s.last.seq);
  u64(s.added);
  u64(s.maxDeleted.ms);
  u64(s.maxDeleted.seq);
  u32(length);
  u32(s.nodes.length);
  for (const node of s.nodes) {
    u32(node.length);
    u32(node.deleted);
    u32(node.bytes);
    u32(node.encodedSize());
    at += node.copyTo(out, at);
  }
  u32(s.groups.length);
  for (const g of s.groups) {
    u32(g.name.length);
    at += g.name.copy(out, at);
    u64(g.last.ms);
    u64(g.last.seq);
    out.writeBigInt64BE(g.entriesRead, at);
    at += 8;
    u32(g.consumers.length);
    const index = new Map<string, number>();
    g.consumers.forEach((c, i) => {
      index.set(c.name.toString("latin1"), i);
      u32(c.name.length);
      at += c.name.copy(out, at);
      out.writeDoubleBE(c.seenTime, at);
      at += 8;
    });
    u32(g.pel.length);
    for (const p of g.pel) {
      u64(p.id.ms);
      u64(p.id.seq);
      u32(index.get(p.consumer.toString("latin1")) as number);
      out.writeDoubleBE(p.deliveryTime, at);
      out.writeDoubleBE(p.deliveryCount, at + 8);
      at += 16;
    }
  }
  return out;
}

function emptyStream(): Stream {
  return { last: ZERO_ID, added: 0n, maxDeleted: ZERO_ID, nodes: [], groups: [] };
}

/** The number of entries of a stream's data (XLEN), read without decoding the entries. */
export function streamLength(data: Buffer): number {
  return data.readUInt32BE(40);
}

function lengthOf(s: Stream): number {
  let n = 0;
  for (const node of s.nodes) n += node.length;
  return n;
}

function* entriesOf(s: Stream): Generator<Entry> {
  for (const node of s.nodes) yield* node.entries;
}

function firstEntry(s: Stream): Entry | undefined {
  for (const node of s.nodes) if (node.length > 0) return node.entries[0];
  return undefined;
}

function lastEntry(s: Stream): Entry | undefined {
  for (let n = s.nodes.length - 1; n >= 0; n--) {
    const entries = (s.nodes[n] as Node).entries;
    if (entries.length > 0) return entries[entries.length - 1];
  }
  return undefined;
}

/** Bytes Redis would add to a listpack for an entry: an estimate (its parts, 2 a part, 12). */
function entryBytes(e: Entry): number {
  return e.payload() + 2 * u32be(e.buf, e.at + 16) + 12;
}

function appendEntry(ctx: ExecContext, s: Stream, entry: Entry): void {
  const limits = ctx.streamNode ?? DEFAULT_NODE;
  const maxBytes =
    limits.bytes === 0 || limits.bytes > listpackBytesMax ? listpackBytesMax : limits.bytes;
  let tail = s.nodes[s.nodes.length - 1];
  const payload = entry.payload();
  if (
    tail === undefined ||
    tail.bytes + payload >= maxBytes ||
    (limits.entries > 0 && tail.length + tail.deleted >= limits.entries)
  ) {
    tail = Node.empty();
    s.nodes.push(tail);
  }
  tail.entries.push(entry);
  tail.bytes += entryBytes(entry);
}

// ---- IDs as arguments -----------------------------------------------------------------------

/** An unsigned 64-bit decimal as Redis's string2ull takes it, or null. */
function parseU64(text: string): bigint | null {
  if (!/^\d+$/.test(text) && !/^-?\d+$/.test(text)) return null;
  if (text.startsWith("-")) return text === "-0" ? 0n : null;
  const v = BigInt(text);
  return v > U64_MAX ? null : v;
}

/**
 * A stream ID argument: `ms-seq`, or `ms` (its seq `missingSeq`), or `-` / `+` unless
 * `strict`; with `autoSeq`, also `ms-*` (seq null: to be generated). Null if invalid.
 */
function parseId(
  arg: Buffer,
  missingSeq: bigint,
  strict: boolean,
  autoSeq = false,
): { id: StreamId; seqGiven: boolean } | null {
  if (arg.length > 127) return null;
  const text = arg.toString("latin1");
  if (text === "-" || text === "+") {
    if (strict) return null;
    return { id: text === "-" ? ZERO_ID : MAX_ID, seqGiven: true };
  }
  const dash = text.indexOf("-");
  const ms = parseU64(dash < 0 ? text : text.slice(0, dash));
  if (ms === null) return null;
  if (dash < 0) return { id: { ms, seq: missingSeq }, seqGiven: true };
  const rest = text.slice(dash + 1);
  if (autoSeq && rest === "*") return { id: { ms, seq: 0n }, seqGiven: false };
  const seq = parseU64(rest);
  if (seq === null) return null;
  return { id: { ms, seq }, seqGiven: true };
}

function idReply(id: StreamId): Reply {
  return bulk(formatId(id));
}

function entryReply(e: Entry): Reply {
  return array([idReply(e.id), array(e.parts.map((p) => bulk(p)))]);
}

// ---- trimming -------------------------------------------------------------------------------

interface Trim {
  strategy: "maxlen" | "minid";
  maxlen: number;
  minid: StreamId;
  approx: boolean;
  /** 0: none. */
  limit: number;
}

/** Trims `s` as Redis's streamTrim does; the number of entries removed. */
function trim(s: Stream, t: Trim): number {
  let length = lengthOf(s);
  let deleted = 0;
  while (s.nodes.length > 0) {
    if (t.strategy === "maxlen" && length <= t.maxlen) break;
    const node = s.nodes[0] as Node;
    // Redis counts a node's live entries against LIMIT (its listpack's count field).
    if (t.limit && deleted + node.length > t.limit) break;
    let removeNode: boolean;
    if (t.strategy === "maxlen") removeNode = length - node.length >= t.maxlen;
    else {
      const lastOfNode = node.entries[node.length - 1];
      removeNode = lastOfNode === undefined || compareIds(lastOfNode.id, t.minid) < 0;
    }
    if (removeNode) {
      s.nodes.shift();
      length -= node.length;
      deleted += node.length;
      continue;
    }
    if (t.approx) break;
    // Within the node, entry by entry.
    let k = 0;
    while (k < node.entries.length) {
      if (t.strategy === "maxlen" && length <= t.maxlen) break;
      if (t.strategy === "minid" && compareIds((node.entries[k] as Entry).id, t.minid) >= 0) break;
      k++;
      length--;
      deleted++;
    }
    node.entries.splice(0, k);
    node.deleted += k;
    // Whatever stopped inside the node stops the trim.
    break;
  }
  return deleted;
}

/**
 * XADD's and XTRIM's trimming options from `from`: the trim (undefined: none) and where
 * the next argument is; an error reply on a bad one. XADD stops at its ID (or NOMKSTREAM).
 */
function parseTrim(
  ctx: ExecContext,
  args: Args,
  from: number,
  xadd: boolean,
): { trim: Trim | undefined; next: number; noMkStream: boolean } | Reply {
  let strategy: "maxlen" | "minid" | null = null;
  let approx = false;
  let maxlen = 0;
  let minid: StreamId = ZERO_ID;
  let limit = 0;
  let limitGiven = false;
  let noMkStream = false;
  let i = from;
  for (; i < args.length; i++) {
    const more = args.length - 1 - i;
    const opt = args.lower(i);
    if (xadd && opt === "*") break;
    if ((opt === "maxlen" || opt === "minid") && more > 0) {
      if (strategy !== null) return errorReply("XTRIM_MAXLEN_MINID");
      approx = false;
      const next = args.buf(i + 1);
      if (more >= 2 && next.length === 1 && (next[0] === 0x7e || next[0] === 0x3d)) {
        approx = next[0] === 0x7e;
        i++;
      }
      const arg = args.buf(i + 1);
      if (opt === "maxlen") {
        const n = parseI64(arg);
        if (n === undefined) return NOT_INTEGER;
        if (n < 0n) return errorReply("XTRIM_MAXLEN_NEGATIVE");
        maxlen = n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
      } else {
        const id = parseId(arg, 0n, true);
        if (id === null) return STREAM_ID_INVALID;
        minid = id.id;
      }
      i++;
      strategy = opt;
    } else if (opt === "limit" && more > 0) {
      const n = parseI64(args.buf(i + 1));
      if (n === undefined) return NOT_INTEGER;
      if (n < 0n) return errorReply("XTRIM_LIMIT_NEGATIVE");
      limit = n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
      limitGiven = true;
      i++;
    } else if (xadd && opt === "nomkstream") {
      noMkStream = true;
    } else if (xadd) {
      break; // the ID
    } else {
      return SYNTAX;
    }
  }
  if (limit !== 0 && strategy === null) return errorReply("XTRIM_LIMIT_WITHOUT_STRATEGY");
  if (!xadd && strategy === null) return errorReply("XTRIM_NO_STRATEGY");
  if (limitGiven && !approx) return errorReply("XTRIM_LIMIT_WITHOUT_APPROX");
  if (!limitGiven && approx) limit = approxLimitDefault(ctx);
  if (strategy === null) return { trim: undefined, next: i, noMkStream };
  return { trim: { strategy, maxlen, minid, approx, limit }, next: i, noMkStream };
}

// ---- the commands ---------------------------------------------------------------------------

const lookupStream = (ctx: ExecContext, key: Buffer) => lookupTyped(ctx, key, "stream");

function save(ctx: ExecContext, key: Buffer, old: StoredValue | undefined, s: Stream): void {
  ctx.store.set(key, {
    type: "stream",
    data: encode(s),
    expireAtMs: old?.expireAtMs ?? NO_EXPIRY,
  });
}

/** XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value ... */
const xadd: CommandHandler = (ctx, args) => {
  const key = args.buf(1);
  const parsed = parseTrim(ctx, args, 2, true);
  if (isReply(parsed)) return parsed;
  const idAt = parsed.next;
  if (idAt >= args.length) return wrongArity("xadd");
  const fields = args.length - idAt - 1;
  if (fields < 2 || fields % 2 === 1) return wrongArity("xadd");
  let given: { id: StreamId; seqGiven: boolean } | null = null;
  if (!(args.buf(idAt).length === 1 && args.buf(idAt)[0] === 0x2a)) {
    given = parseId(args.buf(idAt), 0n, true, true);
    if (given === null) return STREAM_ID_INVALID;
    if (given.seqGiven && given.id.ms === 0n && given.id.seq === 0n) return XADD_ID_ZERO;
  }
  const old = lookupStream(ctx, key);
  if (isReply(old)) return old;
  if (old === undefined && parsed.noMkStream) return NULL;
  const s = old === undefined ? emptyStream() : decode(old.data);
  if (s.last.ms === U64_MAX && s.last.seq === U64_MAX) return XADD_EXHAUSTED;
  let id: StreamId;
  if (given === null) {
    const now = BigInt(Math.max(0, Math.floor(ctx.nowMs)));
    const next = now > s.last.ms ? { ms: now, seq: 0n } : nextId(s.last);
    if (next === null) return XADD_ID_TOO_SMALL;
    id = next;
  } else if (!given.seqGiven && given.id.ms === s.last.ms) {
    if (s.last.seq === U64_MAX) return XADD_ID_TOO_SMALL;
    id = { ms: s.last.ms, seq: s.last.seq + 1n };
  } else {
    id = given.id;
  }
  if (compareIds(id, s.last) <= 0) return XADD_ID_TOO_SMALL;
  const parts: Buffer[] = [];
  for (let i = idAt + 1; i < args.length; i++) parts.push(args.buf(i));
  appendEntry(ctx, s, Entry.of(id, parts));
  s.last = id;
  s.added += 1n;
  notifyIfNew(ctx, key, old !== undefined);
  notifyKey(ctx, NOTIFY_STREAM, "xadd", key);
  if (parsed.trim !== undefined && trim(s, parsed.trim) > 0) {
    notifyKey(ctx, NOTIFY_STREAM, "xtrim", key);
  }
  save(ctx, key, old, s);
  return idReply(id);
};

/** XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count] */
const xtrim: CommandHandler = (ctx, args) => {
  const key = args.buf(1);
  const old = lookupStream(ctx, key);
  if (isReply(old)) return old;
  const parsed = parseTrim(ctx, args, 2, false);
  if (isReply(parsed)) return parsed;
  if (old === undefined || parsed.trim === undefined) return integer(0);
  const s = decode(old.data);
  const removed = trim(s, parsed.trim);
  if (removed === 0) return integer(0);
  save(ctx, key, old, s);
  notifyKey(ctx, NOTIFY_STREAM, "xtrim", key);
  return integer(removed);
};

/** XDEL key id [id ...] */
const xdel: CommandHandler = (ctx, args) => {
  const key = args.buf(1);
  const ids: StreamId[] = [];
  for (let i = 2; i < args.length; i++) {
    const id = parseId(args.buf(i), 0n, true);
    if (id === null) return STREAM_ID_INVALID;
    ids.push(id.id);
  }
  const old = lookupStream(ctx, key);
  if (isReply(old)) return old;
  if (old === undefined) return integer(0);
  const s = decode(old.data);
  let removed = 0;
  for (const id of ids) {
    const wanted = idKey(id);
    // The last node whose first ID is not above the ID is the only one that may hold it.
    let n = 0;
    while (n + 1 < s.nodes.length && ((s.nodes[n + 1] as Node).compareFirst(wanted) ?? 1) <= 0) {
      n++;
    }
    const node = s.nodes[n];
    const k = node === undefined ? -1 : node.entries.findIndex((e) => e.compareTo(wanted) === 0);
    if (node === undefined || k < 0) continue;
    node.entries.splice(k, 1);
    node.deleted++;
    if (node.entries.length === 0) s.nodes.splice(n, 1);
    if (compareIds(id, s.maxDeleted) > 0) s.maxDeleted = id;
    removed++;
  }
  if (removed === 0) return integer(0);
  save(ctx, key, old, s);
  notifyKey(ctx, NOTIFY_STREAM, "xdel", key);
  return integer(removed);
};

/** XLEN key */
const xlen: CommandHandler = (ctx, args) => {
  const old = lookupStream(ctx, args.buf(1));
  if (isReply(old)) return old;
  return integer(old === undefined ? 0 : streamLength(old.data));
};

/** The entries of `s` from `start` to `end`, both included, in order or reversed; `count` 0: all. */
function range(s: Stream, start: StreamId, end: StreamId, count: number, rev: boolean): Entry[] {
  const out: Entry[] = [];
  if (compareIds(start, end) > 0) return out;
  const from = idKey(start);
  const to = idKey(end);
  const nodes = s.nodes;
  // Nodes wholly outside the range are passed by their first IDs, unparsed.
  if (!rev) {
    let n = 0;
    while (n + 1 < nodes.length && ((nodes[n + 1] as Node).compareFirst(from) ?? 1) <= 0) n++;
    for (; n < nodes.length; n++) {
      for (const e of (nodes[n] as Node).entries) {
        if (e.compareTo(from) < 0) continue;
        if (e.compareTo(to) > 0) return out;
        out.push(e);
        if (count > 0 && out.length >= count) return out;
      }
    }
    return out;
  }
  let n = nodes.length - 1;
  while (n > 0 && ((nodes[n] as Node).compareFirst(to) ?? 1) > 0) n--;
  for (; n >= 0; n--) {
    const entries = (nodes[n] as Node).entries;
    for (let k = entries.length - 1; k >= 0; k--) {
      const e = entries[k] as Entry;
      if (e.compareTo(to) > 0) continue;
      if (e.compareTo(from) < 0) return out;
      out.push(e);
      if (count > 0 && out.length >= count) return out;
    }
  }
  return out;
}

/** XRANGE key start end [COUNT n] and XREVRANGE key end start [COUNT n] */
function xrangeOf(rev: boolean): CommandHandler {
  return (ctx, args) => {
    const bounds = parseInterval(args.buf(rev ? 3 : 2), args.buf(rev ? 2 : 3));
    if (isReply(bounds)) return bounds;
    const { start, end } = bounds;
    let count = -1;
    for (let i = 4; i < args.length; i++) {
      if (args.lower(i) === "count" && i + 1 < args.length) {
        const n = parseI64(args.buf(i + 1));
        if (n === undefined) return NOT_INTEGER;
        count = n < 0n ? 0 : n > 2n ** 31n ? 2 ** 31 : Number(n);
        i++;
      } else {
        return SYNTAX;
      }
    }
    const old = lookupStream(ctx, args.buf(1));
    if (old === undefined) return EMPTY_ARRAY;
    if (isReply(old)) return old;
    if (count === 0) return NULL_ARRAY;
    const s = decode(old.data);
    return array(range(s, start, end, Math.max(count, 0), rev).map(entryReply));
  };
}

/**
 * XREAD [COUNT n] [BLOCK ms] STREAMS key [key ...] id [id ...]: what is there after each
 * ID now, or a null array. BLOCK is the server's (node.ts resolves `$` to each stream's
 * last ID before a blocking read, blocking.ts waits); here a read never waits.
 */
const xread: CommandHandler = (ctx, args) => {
  const parsed = parseXread(args);
  if (isReply(parsed)) return parsed;
  const out: [Reply, Reply][] = [];
  const values: (StoredValue | undefined)[] = [];
  for (const key of parsed.keys) {
    const v = lookupStream(ctx, key);
    if (isReply(v)) return v;
    values.push(v);
  }
  parsed.keys.forEach((key, i) => {
    const v = values[i];
    if (v === undefined) return;
    const s = decode(v.data);
    const after = parsed.ids[i];
    const from = after === "$" || after === ">" ? null : nextId(after as StreamId);
    if (from === null) return;
    const entries = range(s, from, MAX_ID, parsed.count, false);
    if (entries.length > 0) out.push([bulk(Buffer.from(key)), array(entries.map(entryReply))]);
  });
  // RESP2: an array of [key, entries]; RESP3: a map.
  return out.length === 0 ? NULL_ARRAY : { kind: "map", value: out, nested: true };
};

export interface XreadArgs {
  /** XREADGROUP's GROUP and consumer, and NOACK. */
  group?: Buffer;
  consumer?: Buffer;
  noAck: boolean;
  count: number;
  /** BLOCK's milliseconds; undefined without BLOCK (0: for ever). */
  blockMs: number | undefined;
  keys: Buffer[];
  ids: (StreamId | "$" | ">")[];
  /** Where the IDs start among the arguments. */
  idsAt: number;
}

/** XREAD's (or, `group`, XREADGROUP's) arguments, or the error reply for them. */
export function parseXread(args: Args, group = false): XreadArgs | Reply {
  let groupName: Buffer | undefined;
  let consumer: Buffer | undefined;
  let noAck = false;
  let count = 0;
  let blockMs: number | undefined;
  let streamsAt = 0;
  for (let i = 1; i < args.length; i++) {
    const more = args.length - i - 1;
    const opt = args.lower(i);
    if (opt === "block" && more > 0) {
      i++;
      const n = parseI64(args.buf(i));
      if (n === undefined) return errorReply("TIMEOUT_NOT_INTEGER");
      if (n < 0n) return errorReply("TIMEOUT_NEGATIVE");
      blockMs = Number(n);
    } else if (opt === "count" && more > 0) {
      i++;
      const n = parseI64(args.buf(i));
      if (n === undefined) return NOT_INTEGER;
      count = n < 0n ? 0 : n > 2n ** 31n ? 2 ** 31 : Number(n);
    } else if (opt === "streams" && more > 0) {
      streamsAt = i + 1;
      break;
    } else if (opt === "group" && more >= 2) {
      if (!group) return errorReply("XREAD_GROUP");
      groupName = args.buf(i + 1);
      consumer = args.buf(i + 2);
      i += 2;
    } else if (opt === "noack") {
      if (!group) return errorReply("XREAD_NOACK");
      noAck = true;
    } else {
      return SYNTAX;
    }
  }
  if (streamsAt === 0) return SYNTAX;
  const n = args.length - streamsAt;
  if (n % 2 !== 0) return errorReply("XREAD_UNBALANCED");
  if (group && groupName === undefined) return errorReply("XREADGROUP_NO_GROUP");
  const half = n / 2;
  const keys: Buffer[] = [];
  const ids: (StreamId | "$" | ">")[] = [];
  for (let i = 0; i < half; i++) keys.push(args.buf(streamsAt + i));
  for (let i = 0; i < half; i++) {
    const arg = args.buf(streamsAt + half + i);
    if (arg.length === 1 && arg[0] === 0x24) {
      if (group) return errorReply("XREADGROUP_DOLLAR");
      ids.push("$");
      continue;
    }
    if (arg.length === 1 && arg[0] === 0x3e) {
      if (!group) return errorReply("XREAD_GREATER_ID");
      ids.push(">");
      continue;
    }
    const id = parseId(arg, 0n, true);
    if (id === null) return STREAM_ID_INVALID;
    ids.push(id.id);
  }
  const parsed: XreadArgs = { noAck, count, blockMs, keys, ids, idsAt: streamsAt + half };
  if (groupName !== undefined) parsed.group = groupName;
  if (consumer !== undefined) parsed.consumer = consumer;
  return parsed;
}

/** The last ID of the stream at `key` as XREAD's `$` means it (0-0 if there is none). */
export function lastIdOf(value: StoredValue | undefined): string {
  if (value === undefined || value.type !== "stream") return "0-0";
  const s = value.data;
  return `${s.readBigUInt64BE(0)}-${s.readBigUInt64BE(8)}`;
}

/** XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id] */
const xsetid: CommandHandler = (ctx, args) => {
  const key = args.buf(1);
  const idP = parseId(args.buf(2), 0n, true);
  if (idP === null) return STREAM_ID_INVALID;
  const id = idP.id;
  let added = -1n;
  let maxDeleted: StreamId = ZERO_ID;
  for (let i = 3; i < args.length; i++) {
    const more = args.length - i - 1;
    const opt = args.lower(i);
    if (opt === "entriesadded" && more > 0) {
      const n = parseI64(args.buf(i + 1));
      if (n === undefined) return NOT_INTEGER;
      if (n < 0n) return errorReply("XSETID_ENTRIES_ADDED");
      added = n;
      i++;
    } else if (opt === "maxdeletedid" && more > 0) {
      const m = parseId(args.buf(i + 1), 0n, true);
      if (m === null) return STREAM_ID_INVALID;
      if (compareIds(id, m.id) < 0) return errorReply("XSETID_BELOW_MAX_DELETED");
      maxDeleted = m.id;
      i++;
    } else {
      return SYNTAX;
    }
  }
  const old = lookupStream(ctx, key);
  if (isReply(old)) return old;
  if (old === undefined) return NO_SUCH_KEY;
  const s = decode(old.data);
  const length = lengthOf(s);
  if (length > 0) {
    const top = lastEntry(s) as Entry;
    if (compareIds(id, top.id) < 0) return errorReply("XSETID_BELOW_TOP");
    if (added !== -1n && BigInt(length) > added) return errorReply("XSETID_ADDED_BELOW_LENGTH");
  }
  s.last = id;
  if (added !== -1n) s.added = added;
  if (compareIds(maxDeleted, ZERO_ID) !== 0) s.maxDeleted = maxDeleted;
  save(ctx, key, old, s);
  notifyKey(ctx, NOTIFY_STREAM, "xsetid", key);
  return simple("OK");
};

/** XINFO HELP, or the error for a subcommand that names no key: answered without a shard. */
export function xinfoKeyless(args: Args): Reply {
  if (args.is(1, "help")) return args.length === 2 ? xinfoHelp() : wrongArity("xinfo|help");
  return unknownSubcommand(args);
}

function xinfoHelp(): Reply {
  return array(
    [
      "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "CONSUMERS <key> <groupname>",
      "    Show consumers of <groupname>.",
      "GROUPS <key>",
      "    Show the stream consumer groups.",
      "STREAM <key> [FULL [COUNT <count>]",
      "    Show information about the stream.",
      "HELP",
      "    Prints this help.",
    ].map((l) => simple(l)),
  );
}

/** XINFO STREAM key [FULL [COUNT n]] | GROUPS key | CONSUMERS key group | HELP */
const xinfo: CommandHandler = (ctx, args) => {
  const sub = args.lower(1);
  if (sub === "help") return args.length === 2 ? xinfoHelp() : wrongArity("xinfo|help");
  if (sub !== "stream" && sub !== "groups" && sub !== "consumers") return unknownSubcommand(args);
  if ((sub === "stream" && args.length < 3) || (sub === "groups" && args.length !== 3)) {
    return wrongArity(`xinfo|${sub}`);
  }
  if (sub === "consumers" && args.length !== 4) return wrongArity("xinfo|consumers");
  const key = args.buf(2);
  const old = lookupStream(ctx, key);
  if (isReply(old)) return old;
  if (old === undefined) return NO_SUCH_KEY;
  if (sub === "groups") {
    const st = decode(old.data);
    return array(
      st.groups.map((g) =>
        map([
          [bulk("name"), bulk(g.name)],
          [bulk("consumers"), integer(g.consumers.length)],
          [bulk("pending"), integer(g.pel.length)],
          [bulk("last-delivered-id"), idReply(g.last)],
          [bulk("entries-read"), entriesReadReply(g)],
          [bulk("lag"), lagReply(st, g)],
        ]),
      ),
    );
  }
  if (sub === "consumers") {
    const g = findByName(decode(old.data).groups, args.buf(3));
    if (g === undefined) {
      return errorReply("NOGROUP_CONSUMERS", args.str(3), key.toString("latin1"));
    }
    return array(
      g.consumers.map((c) =>
        map([
          [bulk("name"), bulk(c.name)],
          [bulk("pending"), integer(pendingOf(g, c.name).length)],
          [bulk("idle"), integer(Math.max(0, ctx.nowMs - c.seenTime))],
        ]),
      ),
    );
  }
  let full = false;
  let count = 10;
  if (args.length > 3) {
    if (args.lower(3) !== "full") return SYNTAX;
    full = true;
    if (args.length === 6 && args.lower(4) === "count") {
      const n = parseI64(args.buf(5));
      if (n === undefined) return NOT_INTEGER;
      count = n < 0n ? 10 : Number(n);
    } else if (args.length !== 4) {
      return SYNTAX;
    }
  }
  const s = decode(old.data);
  const first = firstEntry(s);
  const last = lastEntry(s);
  const head: [Reply, Reply][] = [
    [bulk("length"), integer(lengthOf(s))],
    [bulk("radix-tree-keys"), integer(s.nodes.length)],
    [bulk("radix-tree-nodes"), integer(s.nodes.length + 1)],
    [bulk("last-generated-id"), idReply(s.last)],
    [bulk("max-deleted-entry-id"), idReply(s.maxDeleted)],
    [bulk("entries-added"), integerReply(s.added)],
    [bulk("recorded-first-entry-id"), idReply(first?.id ?? ZERO_ID)],
  ];
  if (!full) {
    head.push(
      [bulk("groups"), integer(s.groups.length)],
      [bulk("first-entry"), first === undefined ? NULL : entryReply(first)],
      [bulk("last-entry"), last === undefined ? NULL : entryReply(last)],
    );
    return map(head);
  }
  const entries = range(s, ZERO_ID, MAX_ID, count, false);
  const groups = s.groups.map((g) => {
    const limit = (list: Pending[]) => (count > 0 ? list.slice(0, count) : list);
    return map([
      [bulk("name"), bulk(g.name)],
      [bulk("last-delivered-id"), idReply(g.last)],
      [bulk("entries-read"), entriesReadReply(g)],
      [bulk("lag"), lagReply(s, g)],
      [bulk("pel-count"), integer(g.pel.length)],
      [
        bulk("pending"),
        array(
          limit(g.pel).map((p) =>
            array([
              idReply(p.id),
              bulk(p.consumer),
              integer(p.deliveryTime),
              integer(p.deliveryCount),
            ]),
          ),
        ),
      ],
      [
        bulk("consumers"),
        array(
          g.consumers.map((c) => {
            const own = pendingOf(g, c.name);
            return map([
              [bulk("name"), bulk(c.name)],
              [bulk("seen-time"), integer(c.seenTime)],
              [bulk("pel-count"), integer(own.length)],
              [
                bulk("pending"),
                array(
                  limit(own).map((p) =>
                    array([idReply(p.id), integer(p.deliveryTime), integer(p.deliveryCount)]),
                  ),
                ),
              ],
            ]);
          }),
        ),
      ],
    ]);
  });
  head.push([bulk("entries"), array(entries.map(entryReply))], [bulk("groups"), array(groups)]);
  return map(head);
};

/** The stream's entries as XRANGE - + gives them: for SORT, COPY checks and tests. */
export function streamEntries(data: Buffer): { id: string; parts: Buffer[] }[] {
  return [...entriesOf(decode(data))].map((e) => ({ id: formatId(e.id), parts: e.parts }));
}

// ---- consumer groups ------------------------------------------------------------------------

const INVALID_READ = -1n;

function byName<T extends { readonly name: Buffer }>(list: readonly T[], name: Buffer): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (Buffer.compare((list[mid] as T).name, name) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function findByName<T extends { readonly name: Buffer }>(
  list: readonly T[],
  name: Buffer,
): T | undefined {
  const i = byName(list, name);
  const found = list[i];
  return found?.name.equals(name) ? found : undefined;
}

/** Where `id` is, or goes, in a list ordered by ID. */
function byId(pel: readonly Pending[], id: StreamId): number {
  let lo = 0;
  let hi = pel.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareIds((pel[mid] as Pending).id, id) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function findPending(g: Group, id: StreamId): Pending | undefined {
  const p = g.pel[byId(g.pel, id)];
  return p !== undefined && compareIds(p.id, id) === 0 ? p : undefined;
}

function removePending(g: Group, id: StreamId): void {
  const i = byId(g.pel, id);
  const p = g.pel[i];
  if (p !== undefined && compareIds(p.id, id) === 0) g.pel.splice(i, 1);
}

function pendingOf(g: Group, consumer: Buffer): Pending[] {
  return g.pel.filter((p) => p.consumer.equals(consumer));
}

/** The consumer named so, its seen time refreshed unless `refresh` is false. */
function lookupConsumer(
  g: Group,
  name: Buffer,
  nowMs: number,
  refresh = true,
): Consumer | undefined {
  const c = findByName(g.consumers, name);
  if (c !== undefined && refresh) c.seenTime = nowMs;
  return c;
}

/** A new consumer (xgroup-createconsumer), or undefined if it exists. */
function createConsumer(
  ctx: ExecContext,
  g: Group,
  name: Buffer,
  key: Buffer,
): Consumer | undefined {
  const i = byName(g.consumers, name);
  if (g.consumers[i]?.name.equals(name)) return undefined;
  const c = { name: Buffer.from(name), seenTime: ctx.nowMs };
  g.consumers.splice(i, 0, c);
  notifyKey(ctx, NOTIFY_STREAM, "xgroup-createconsumer", key);
  return c;
}

function consumerOrNew(ctx: ExecContext, g: Group, name: Buffer, key: Buffer): Consumer {
  return lookupConsumer(g, name, ctx.nowMs) ?? (createConsumer(ctx, g, name, key) as Consumer);
}

/** Redis's first_id: the first entry's ID, 0-0 when there is none. */
function firstId(s: Stream): StreamId {
  return firstEntry(s)?.id ?? ZERO_ID;
}

/** streamLastValidID: the last entry's ID, 0-0 when there is none. */
function lastValidId(s: Stream): StreamId {
  return lastEntry(s)?.id ?? ZERO_ID;
}

function entryAt(s: Stream, id: StreamId): Entry | undefined {
  return range(s, id, id, 1, false)[0];
}

/** streamRangeHasTombstones(s, start, NULL). */
function hasTombstonesAfter(s: Stream, start: StreamId): boolean {
  if (lengthOf(s) === 0 || compareIds(s.maxDeleted, ZERO_ID) === 0) return false;
  if (compareIds(firstId(s), s.maxDeleted) > 0) return false;
  return compareIds(start, s.maxDeleted) <= 0;
}

/** streamEstimateDistanceFromFirstEverEntry: an ID's read counter, or -1n if unknown. */
function estimateReads(s: Stream, id: StreamId): bigint {
  if (s.added === 0n) return 0n;
  const length = BigInt(lengthOf(s));
  if (length === 0n && compareIds(id, s.last) < 1) return s.added;
  const cmpLast = compareIds(id, s.last);
  if (cmpLast === 0) return s.added;
  if (cmpLast > 0) return INVALID_READ;
  const first = firstId(s);
  const cmpFirst = compareIds(id, first);
  if (compareIds(s.maxDeleted, ZERO_ID) === 0 || compareIds(s.maxDeleted, first) < 0) {
    if (cmpFirst < 0) return s.added - length;
    if (cmpFirst === 0) return s.added - length + 1n;
  }
  return INVALID_READ;
}

function lagReply(s: Stream, g: Group): Reply {
  if (s.added === 0n) return integer(0);
  if (g.entriesRead !== INVALID_READ && !hasTombstonesAfter(s, g.last)) {
    return integerReply(s.added - g.entriesRead);
  }
  const read = estimateReads(s, g.last);
  return read === INVALID_READ ? NULL : integerReply(s.added - read);
}

function entriesReadReply(g: Group): Reply {
  return g.entriesRead === INVALID_READ ? NULL : integerReply(g.entriesRead);
}

/**
 * Delivers the entries of `s` after the group's last ID to `consumer`, up to `count` (0: all),
 * as Redis's streamReplyWithRange does with a group: the group's last ID and read counter
 * move on, and each entry goes into the group's pending list (unless NOACK), taken from
 * whichever consumer had it.
 */
function deliverNew(
  ctx: ExecContext,
  s: Stream,
  g: Group,
  consumer: Consumer,
  count: number,
  noAck: boolean,
): Entry[] {
  const start = nextId(g.last);
  if (start === null) return [];
  const out = range(s, start, MAX_ID, count, false);
  for (const e of out) {
    if (compareIds(e.id, g.last) > 0) {
      if (g.entriesRead !== INVALID_READ && !hasTombstonesAfter(s, e.id)) g.entriesRead += 1n;
      else if (s.added !== 0n) g.entriesRead = estimateReads(s, e.id);
      g.last = e.id;
    }
    if (noAck) continue;
    const p = findPending(g, e.id);
    if (p === undefined) {
      g.pel.splice(byId(g.pel, e.id), 0, {
        id: e.id,
        consumer: consumer.name,
        deliveryTime: ctx.nowMs,
        deliveryCount: 1,
      });
    } else {
      p.consumer = consumer.name;
      p.deliveryTime = ctx.nowMs;
      p.deliveryCount = 1;
    }
  }
  return out;
}

/** A consumer's history after `after`: its pending entries, delivered again (null if deleted). */
function deliverHistory(
  ctx: ExecContext,
  s: Stream,
  g: Group,
  consumer: Consumer,
  after: StreamId,
  count: number,
): Reply[] {
  const start = nextId(after);
  const out: Reply[] = [];
  if (start === null) return out;
  for (const p of g.pel) {
    if (count > 0 && out.length >= count) break;
    if (compareIds(p.id, start) < 0 || !p.consumer.equals(consumer.name)) continue;
    const e = entryAt(s, p.id);
    if (e === undefined) {
      out.push(array([idReply(p.id), NULL_ARRAY]));
      continue;
    }
    p.deliveryTime = ctx.nowMs;
    p.deliveryCount += 1;
    out.push(entryReply(e));
  }
  return out;
}

/**
 * The stream at `key` decoded, with its group named `name`: WRONGTYPE, or undefined when
 * there is no such stream or group (each command words that error its own way).
 */
function groupOf(
  ctx: ExecContext,
  key: Buffer,
  name: Buffer,
): { old: StoredValue; s: Stream; g: Group } | Reply | undefined {
  const old = lookupStream(ctx, key);
  if (old === undefined || isReply(old)) return old;
  const s = decode(old.data);
  const g = findByName(s.groups, name);
  return g === undefined ? undefined : { old, s, g };
}

/**
 * Gives pending entry `p` to the consumer `name` (made on first use, `consumer` holding
 * it for the next call), delivered at `deliveryTime`: XCLAIM's and XAUTOCLAIM's claim.
 * The delivery count is `retryCount` when given (>= 0), else one more unless `justId`.
 */
function claim(
  ctx: ExecContext,
  key: Buffer,
  g: Group,
  p: Pending,
  consumer: { name: Buffer; current?: Consumer },
  deliveryTime: number,
  justId: boolean,
  retryCount = -1,
): void {
  consumer.current ??= consumerOrNew(ctx, g, consumer.name, key);
  p.consumer = consumer.current.name;
  p.deliveryTime = deliveryTime;
  if (retryCount >= 0) p.deliveryCount = retryCount;
  else if (!justId) p.deliveryCount += 1;
}

const noGroup = (key: Buffer, group: Buffer, suffix = "") =>
  errorReply("NOGROUP_KEY", key.toString("latin1"), group.toString("latin1"), suffix);

/** XREADGROUP GROUP group consumer [COUNT n] [BLOCK ms] [NOACK] STREAMS key [key ...] id [id ...] */
const xreadgroup: CommandHandler = (ctx, args) => {
  const parsed = parseXread(args, true);
  if (isReply(parsed)) return parsed;
  const group = parsed.group as Buffer;
  const consumerName = parsed.consumer as Buffer;
  const streams: { key: Buffer; old: StoredValue; s: Stream; g: Group }[] = [];
  for (let i = 0; i < parsed.keys.length; i++) {
    const key = parsed.keys[i] as Buffer;
    const found = groupOf(ctx, key, group);
    if (isReply(found)) return found;
    if (found === undefined) return noGroup(key, group, " in XREADGROUP with GROUP option");
    streams.push({ key, ...found });
  }
  const out: [Reply, Reply][] = [];
  streams.forEach(({ key, old, s, g }, i) => {
    const after = parsed.ids[i] as StreamId | ">";
    let served: Reply[] | null = null;
    if (after !== ">") {
      const consumer = consumerOrNew(ctx, g, consumerName, key);
      served = deliverHistory(ctx, s, g, consumer, after, parsed.count);
    } else if (lengthOf(s) > 0 && compareIds(lastValidId(s), g.last) > 0) {
      const consumer = consumerOrNew(ctx, g, consumerName, key);
      served = deliverNew(ctx, s, g, consumer, parsed.count, parsed.noAck).map(entryReply);
    }
    if (served === null) return;
    out.push([bulk(Buffer.from(key)), array(served)]);
    save(ctx, key, old, s);
  });
  return out.length === 0 ? NULL_ARRAY : { kind: "map", value: out, nested: true };
};

const XGROUP_HELP = [
  "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "CREATE <key> <groupname> <id|$> [option]",
  "    Create a new consumer group. Options are:",
  "    * MKSTREAM",
  "      Create the empty stream if it does not exist.",
  "    * ENTRIESREAD entries_read",
  "      Set the group's entries_read counter (internal use).",
  "CREATECONSUMER <key> <groupname> <consumer>",
  "    Create a new consumer in the specified group.",
  "DELCONSUMER <key> <groupname> <consumer>",
  "    Remove the specified consumer.",
  "DESTROY <key> <groupname>",
  "    Remove the specified group.",
  "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
  "    Set the current group ID and entries_read counter.",
  "HELP",
  "    Prints this help.",
];

/** XGROUP HELP, answered without a shard (it names no key). */
export function xgroupKeyless(args: Args): Reply {
  if (args.is(1, "help")) {
    return args.length === 2 ? array(XGROUP_HELP.map((l) => simple(l))) : wrongArity("xgroup|help");
  }
  return unknownSubcommand(args);
}

/** XGROUP CREATE | SETID | DESTROY | CREATECONSUMER | DELCONSUMER | HELP */
const xgroup: CommandHandler = (ctx, args) => {
  const sub = args.lower(1);
  if (sub === "help") return xgroupKeyless(args);
  let mkstream = false;
  let entriesRead = INVALID_READ;
  for (let i = 5; i < args.length; ) {
    const opt = args.lower(i);
    if (sub === "create" && opt === "mkstream") {
      mkstream = true;
      i++;
    } else if (
      (sub === "create" || sub === "setid") &&
      opt === "entriesread" &&
      i + 1 < args.length
    ) {
      const n = parseI64(args.buf(i + 1));
      if (n === undefined) return NOT_INTEGER;
      if (n < 0n && n !== INVALID_READ) return errorReply("XGROUP_ENTRIES_READ");
      entriesRead = n;
      i += 2;
    } else {
      return subcommandSyntax(args);
    }
  }
  const key = args.buf(2);
  const name = args.buf(3);
  const old = lookupStream(ctx, key);
  if (isReply(old)) return old;
  const s = old === undefined ? undefined : decode(old.data);
  const g = s === undefined ? undefined : findByName(s.groups, name);
  if (!mkstream) {
    if (s === undefined) return errorReply("XGROUP_NO_KEY");
    if (g === undefined && (sub === "setid" || sub === "createconsumer" || sub === "delconsumer")) {
      return errorReply("NOGROUP_CONSUMERS", name.toString("latin1"), key.toString("latin1"));
    }
  }
  if (sub === "create" && args.length >= 5 && args.length <= 8) {
    let id: StreamId;
    const arg = args.buf(4);
    if (arg.length === 1 && arg[0] === 0x24) id = s?.last ?? ZERO_ID;
    else {
      const p = parseId(arg, 0n, true);
      if (p === null) return STREAM_ID_INVALID;
      id = p.id;
    }
    const stream = s ?? emptyStream();
    if (findByName(stream.groups, name) !== undefined) return errorReply("BUSYGROUP");
    stream.groups.splice(byName(stream.groups, name), 0, {
      name: Buffer.from(name),
      last: id,
      entriesRead,
      pel: [],
      consumers: [],
    });
    save(ctx, key, old, stream);
    notifyKey(ctx, NOTIFY_STREAM, "xgroup-create", key);
    return simple("OK");
  }
  if (s === undefined || g === undefined) {
    // MKSTREAM given to another subcommand than CREATE: Redis goes on without the key.
    if (sub === "destroy" && args.length === 4) return integer(0);
    return subcommandSyntax(args);
  }
  if (sub === "setid" && (args.length === 5 || args.length === 7)) {
    const arg = args.buf(4);
    if (arg.length === 1 && arg[0] === 0x24) g.last = s.last;
    else {
      const p = parseId(arg, 0n, false);
      if (p === null) return STREAM_ID_INVALID;
      g.last = p.id;
    }
    g.entriesRead = entriesRead;
    save(ctx, key, old, s);
    notifyKey(ctx, NOTIFY_STREAM, "xgroup-setid", key);
    return simple("OK");
  }
  if (sub === "destroy" && args.length === 4) {
    s.groups.splice(s.groups.indexOf(g), 1);
    save(ctx, key, old, s);
    notifyKey(ctx, NOTIFY_STREAM, "xgroup-destroy", key);
    return integer(1);
  }
  if (sub === "createconsumer" && args.length === 5) {
    const created = createConsumer(ctx, g, args.buf(4), key);
    if (created !== undefined) save(ctx, key, old, s);
    return integer(created === undefined ? 0 : 1);
  }
  if (sub === "delconsumer" && args.length === 5) {
    const c = lookupConsumer(g, args.buf(4), ctx.nowMs, false);
    if (c === undefined) return integer(0);
    const pending = pendingOf(g, c.name).length;
    g.pel = g.pel.filter((p) => !p.consumer.equals(c.name));
    g.consumers.splice(g.consumers.indexOf(c), 1);
    save(ctx, key, old, s);
    notifyKey(ctx, NOTIFY_STREAM, "xgroup-delconsumer", key);
    return integer(pending);
  }
  return subcommandSyntax(args);
};

function subcommandSyntax(args: Args): Reply {
  return errorReply("SUBCOMMAND_SYNTAX", args.str(1).slice(0, 128), args.str(0).toUpperCase());
}

/** XACK key group id [id ...] */
const xack: CommandHandler = (ctx, args) => {
  const key = args.buf(1);
  const found = groupOf(ctx, key, args.buf(2));
  if (isReply(found)) return found;
  if (found === undefined) return integer(0);
  const { old, s, g } = found;
  const ids: StreamId[] = [];
  for (let i = 3; i < args.length; i++) {
    const p = parseId(args.buf(i), 0n, true);
    if (p === null) return STREAM_ID_INVALID;
    ids.push(p.id);
  }
  let acked = 0;
  for (const id of ids) {
    if (findPending(g, id) === undefined) continue;
    removePending(g, id);
    acked++;
  }
  if (acked > 0) save(ctx, key, old, s);
  return integer(acked);
};

/** XPENDING key group [[IDLE min-idle] start end count [consumer]] */
const xpending: CommandHandler = (ctx, args) => {
  const key = args.buf(1);
  const groupName = args.buf(2);
  if (args.length !== 3 && (args.length < 6 || args.length > 9)) return SYNTAX;
  let minIdle = 0;
  let count = 0;
  let start: StreamId = ZERO_ID;
  let end: StreamId = MAX_ID;
  let consumerName: Buffer | undefined;
  if (args.length >= 6) {
    let at = 3;
    if (args.is(3, "idle")) {
      const n = parseI64(args.buf(4));
      if (n === undefined) return NOT_INTEGER;
      minIdle = Number(n);
      if (args.length < 8) return SYNTAX;
      at += 2;
    }
    const n = parseI64(args.buf(at + 2));
    if (n === undefined) return NOT_INTEGER;
    count = n < 0n ? 0 : n > 2n ** 31n ? 2 ** 31 : Number(n);
    const bounds = parseInterval(args.buf(at), args.buf(at + 1));
    if (isReply(bounds)) return bounds;
    start = bounds.start;
    end = bounds.end;
    if (at + 3 < args.length) consumerName = args.buf(at + 3);
  }
  const found = groupOf(ctx, key, groupName);
  if (isReply(found)) return found;
  if (found === undefined) return noGroup(key, groupName);
  const { g } = found;
  if (args.length === 3) {
    const first = g.pel[0];
    const last = g.pel[g.pel.length - 1];
    if (first === undefined || last === undefined) {
      return array([integer(0), NULL, NULL, NULL_ARRAY]);
    }
    const owners: Reply[] = [];
    for (const c of g.consumers) {
      const n = pendingOf(g, c.name).length;
      if (n > 0) owners.push(array([bulk(c.name), bulk(String(n))]));
    }
    return array([integer(g.pel.length), idReply(first.id), idReply(last.id), array(owners)]);
  }
  if (consumerName !== undefined && findByName(g.consumers, consumerName) === undefined) {
    return EMPTY_ARRAY;
  }
  const out: Reply[] = [];
  for (const p of g.pel) {
    if (out.length >= count) break;
    if (compareIds(p.id, start) < 0) continue;
    if (compareIds(p.id, end) > 0) break;
    if (consumerName !== undefined && !p.consumer.equals(consumerName)) continue;
    const idle = ctx.nowMs - p.deliveryTime;
    if (minIdle > 0 && idle < minIdle) continue;
    out.push(array([idReply(p.id), bulk(p.consumer), integer(idle), integer(p.deliveryCount)]));
  }
  return array(out);
};

/** An interval's start ('(' exclusive, '-'), as XRANGE and XAUTOCLAIM read it, or the error. */
function parseStart(startArg: Buffer): StreamId | Reply {
  const startEx = startArg.length > 1 && startArg[0] === 0x28;
  const startP = parseId(startEx ? startArg.subarray(1) : startArg, 0n, startEx);
  if (startP === null) return STREAM_ID_INVALID;
  if (!startEx) return startP.id;
  return nextId(startP.id) ?? START_ID_INVALID;
}

/** An XRANGE-style interval's two ends ('(' exclusive, '-', '+'), or the error reply. */
function parseInterval(
  startArg: Buffer,
  endArg: Buffer,
): { start: StreamId; end: StreamId } | Reply {
  const start = parseStart(startArg);
  if (isReply(start)) return start;
  const endEx = endArg.length > 1 && endArg[0] === 0x28;
  const endP = parseId(endEx ? endArg.subarray(1) : endArg, U64_MAX, endEx);
  if (endP === null) return STREAM_ID_INVALID;
  let end: StreamId | null = endP.id;
  if (endEx) {
    end = previousId(end);
    if (end === null) return END_ID_INVALID;
  }
  return { start, end };
}

/** A signed 64-bit integer argument, or the error named (XCLAIM's own messages). */
function i64Arg(
  arg: Buffer,
  error:
    | "XCLAIM_MIN_IDLE"
    | "XCLAIM_IDLE"
    | "XCLAIM_TIME"
    | "XCLAIM_RETRYCOUNT"
    | "XAUTOCLAIM_MIN_IDLE",
): number | Reply {
  const n = parseI64(arg);
  if (n === undefined) return errorReply(error);
  return Number(n);
}

/**
 * XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME ms] [RETRYCOUNT n]
 * [FORCE] [JUSTID] [LASTID id]
 */
const xclaim: CommandHandler = (ctx, args) => {
  const key = args.buf(1);
  const found = groupOf(ctx, key, args.buf(2));
  if (isReply(found)) return found;
  if (found === undefined) return noGroup(key, args.buf(2));
  const { old, s, g } = found;
  const minIdleArg = i64Arg(args.buf(4), "XCLAIM_MIN_IDLE");
  if (isReply(minIdleArg)) return minIdleArg;
  const minIdle = Math.max(0, minIdleArg);
  const ids: StreamId[] = [];
  let j = 5;
  for (; j < args.length; j++) {
    const p = parseId(args.buf(j), 0n, true);
    if (p === null) break;
    ids.push(p.id);
  }
  const now = ctx.nowMs;
  let deliveryTime = -1;
  let retryCount = -1;
  let force = false;
  let justId = false;
  let lastId: StreamId = ZERO_ID;
  for (; j < args.length; j++) {
    const more = args.length - 1 - j;
    const opt = args.lower(j);
    if (opt === "force") force = true;
    else if (opt === "justid") justId = true;
    else if (opt === "idle" && more > 0) {
      const n = i64Arg(args.buf(++j), "XCLAIM_IDLE");
      if (isReply(n)) return n;
      deliveryTime = now - n;
    } else if (opt === "time" && more > 0) {
      const n = i64Arg(args.buf(++j), "XCLAIM_TIME");
      if (isReply(n)) return n;
      deliveryTime = n;
    } else if (opt === "retrycount" && more > 0) {
      const n = i64Arg(args.buf(++j), "XCLAIM_RETRYCOUNT");
      if (isReply(n)) return n;
      retryCount = n;
    } else if (opt === "lastid" && more > 0) {
      const p = parseId(args.buf(++j), 0n, true);
      if (p === null) return STREAM_ID_INVALID;
      lastId = p.id;
    } else {
      return errorReply("XCLAIM_OPTION", args.str(j));
    }
  }
  if (compareIds(lastId, g.last) > 0) g.last = lastId;
  if (deliveryTime === -1 || deliveryTime < 0 || deliveryTime > now) deliveryTime = now;
  const consumer = { name: args.buf(3) };
  const out: Reply[] = [];
  for (const id of ids) {
    let p = findPending(g, id);
    const e = entryAt(s, id);
    if (e === undefined) {
      if (p !== undefined) removePending(g, id);
      continue;
    }
    if (force && p === undefined) {
      p = { id, consumer: Buffer.alloc(0), deliveryTime: now, deliveryCount: 1 };
      g.pel.splice(byId(g.pel, id), 0, p);
      // A forced entry has no owner yet: its idle time is not checked, as in Redis.
    } else if (p !== undefined && minIdle > 0 && now - p.deliveryTime < minIdle) {
      continue;
    }
    if (p === undefined) continue;
    claim(ctx, key, g, p, consumer, deliveryTime, justId, retryCount);
    out.push(justId ? idReply(id) : entryReply(e));
  }
  save(ctx, key, old, s);
  return array(out);
};

/** XAUTOCLAIM key group consumer min-idle-time start [COUNT n] [JUSTID] */
const xautoclaim: CommandHandler = (ctx, args) => {
  const key = args.buf(1);
  const minIdleArg = i64Arg(args.buf(4), "XAUTOCLAIM_MIN_IDLE");
  if (isReply(minIdleArg)) return minIdleArg;
  const minIdle = Math.max(0, minIdleArg);
  const start = parseStart(args.buf(5));
  if (isReply(start)) return start;
  let count = 100;
  let justId = false;
  for (let j = 6; j < args.length; j++) {
    const more = args.length - 1 - j;
    const opt = args.lower(j);
    if (opt === "count" && more > 0) {
      const n = parseI64(args.buf(j + 1));
      if (n === undefined || n < 1n || n > BigInt(Number.MAX_SAFE_INTEGER) / 10n) {
        return errorReply("XAUTOCLAIM_COUNT");
      }
      count = Number(n);
      j++;
    } else if (opt === "justid") {
      justId = true;
    } else {
      return SYNTAX;
    }
  }
  const found = groupOf(ctx, key, args.buf(2));
  if (isReply(found)) return found;
  if (found === undefined) return noGroup(key, args.buf(2));
  const { old, s, g } = found;
  const now = ctx.nowMs;
  const consumer = { name: args.buf(3) };
  let attempts = count * 10;
  const claimed: Reply[] = [];
  const deleted: Reply[] = [];
  let i = byId(g.pel, start);
  while (attempts-- > 0 && count > 0 && i < g.pel.length) {
    const p = g.pel[i] as Pending;
    const e = entryAt(s, p.id);
    if (e === undefined) {
      g.pel.splice(i, 1);
      deleted.push(idReply(p.id));
      count--;
      continue;
    }
    i++;
    if (minIdle > 0 && now - p.deliveryTime < minIdle) continue;
    claim(ctx, key, g, p, consumer, now, justId);
    claimed.push(justId ? idReply(p.id) : entryReply(e));
    count--;
  }
  const next = g.pel[i];
  save(ctx, key, old, s);
  return array([idReply(next?.id ?? ZERO_ID), array(claimed), array(deleted)]);
};

export const STREAM_HANDLERS: ReadonlyMap<string, CommandHandler> = new Map([
  ["xadd", xadd],
  ["xtrim", xtrim],
  ["xdel", xdel],
  ["xlen", xlen],
  ["xrange", xrangeOf(false)],
  ["xrevrange", xrangeOf(true)],
  ["xread", xread],
  ["xsetid", xsetid],
  ["xinfo", xinfo],
  ["xreadgroup", xreadgroup],
  ["xgroup", xgroup],
  ["xack", xack],
  ["xpending", xpending],
  ["xclaim", xclaim],
  ["xautoclaim", xautoclaim],
]);

/** A stream as RESTORE reads it in Redis's encoding (dump.ts), to build a value from. */
export interface StreamParts {
  /** The live entries, in ID order. */
  entries: { id: StreamId; parts: Buffer[] }[];
  last: StreamId;
  maxDeleted: StreamId;
  /** entries_added; null in Redis 6's encoding, which has none: the length, as Redis takes. */
  added: bigint | null;
  groups: {
    name: Buffer;
    last: StreamId;
    /** entries_read (-1n: unknown); null in Redis 6's encoding: estimated, as Redis does. */
    entriesRead: bigint | null;
    consumers: { name: Buffer; seenTime: number }[];
    pel: { id: StreamId; consumer: Buffer; deliveryTime: number; deliveryCount: number }[];
  }[];
}

/**
 * The value of a stream made of `p`, laid out in nodes as XADD would, or null if `p` is
 * not a stream these commands can work on: an entry without field-value pairs, IDs not
 * rising up to the last ID, a group, consumer or pending entry twice, a pending entry of
 * no consumer.
 */
export function buildStreamData(ctx: ExecContext, p: StreamParts): Buffer | null {
  const rising = <T>(items: readonly T[], cmp: (a: T, b: T) => number) =>
    items.every((x, i) => i === 0 || cmp(items[i - 1] as T, x) < 0);
  const byName = (a: { name: Buffer }, b: { name: Buffer }) => Buffer.compare(a.name, b.name);
  const ids = p.entries.map((e) => e.id);
  if (!rising(ids, compareIds)) return null;
  const lastEntry = ids[ids.length - 1];
  if (lastEntry !== undefined && compareIds(lastEntry, p.last) > 0) return null;
  if (p.entries.some((e) => e.parts.length === 0 || e.parts.length % 2 !== 0)) return null;
  const s = emptyStream();
  s.last = p.last;
  s.maxDeleted = p.maxDeleted;
  s.added = p.added ?? BigInt(p.entries.length);
  for (const e of p.entries) appendEntry(ctx, s, Entry.of(e.id, e.parts));
  for (const g of p.groups) {
    const consumers = [...g.consumers].sort(byName);
    const pel = [...g.pel].sort((a, b) => compareIds(a.id, b.id));
    const names = new Set(consumers.map((c) => c.name.toString("latin1")));
    if (!rising(consumers, byName) || !rising(pel, (a, b) => compareIds(a.id, b.id))) return null;
    if (!pel.every((n) => names.has(n.consumer.toString("latin1")))) return null;
    const entriesRead = g.entriesRead ?? estimateReads(s, g.last);
    s.groups.push({ name: g.name, last: g.last, entriesRead, consumers, pel });
  }
  s.groups.sort(byName);
  return rising(s.groups, byName) ? encode(s) : null;
}

/** The parts of a stream value (DUMP writes them in Redis's encoding: dump.ts). */
export function streamParts(data: Buffer): StreamParts & { added: bigint } {
  const s = decode(data);
  const entries: StreamParts["entries"] = [];
  for (const node of s.nodes)
    for (const e of node.entries) entries.push({ id: e.id, parts: e.parts });
  return {
    entries,
    last: s.last,
    maxDeleted: s.maxDeleted,
    added: s.added,
    groups: s.groups.map((g) => ({
      name: g.name,
      last: g.last,
      entriesRead: g.entriesRead,
      consumers: g.consumers.map((c) => ({ name: c.name, seenTime: c.seenTime })),
      pel: g.pel.map((p) => ({ ...p })),
    })),
  };
}

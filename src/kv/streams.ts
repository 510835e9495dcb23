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
 * Streams: XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM, XREAD (BLOCK served by the server's
 * blocking clients, server/blocking.ts), XSETID and XINFO STREAM. Consumer groups are not
 * served yet (docs/commands.md, "stream").
 *
 * A stream is one stored value. Its entries are kept in nodes as Redis keeps them in the
 * listpacks of its radix tree, because the approximate trims (MAXLEN ~, MINID ~, LIMIT)
 * remove whole nodes only, and a replica must trim exactly as the leader did:
 *
 *   data    = lastMs:u64 lastSeq:u64 added:u64 maxDeletedMs:u64 maxDeletedSeq:u64
 *             length:u32 nodeCount:u32 node{nodeCount} groupCount:u32 (0)
 *   node    = live:u32 deleted:u32 bytes:u32 entry{live}
 *   entry   = ms:u64 seq:u64 parts:u32 (length:u32 bytes){parts}
 *
 * A node takes entries until it holds stream-node-max-entries of them, live or deleted
 * (100 by default), or about stream-node-max-bytes (4 KiB). A standalone node follows its
 * settings; a cluster's shards keep the defaults (ExecContext.streamNode): the node layout
 * is replicated state, and a setting a replica read differently would make it trim
 * differently. `bytes` counts what was appended to the node, an estimate of its
 * listpack's size. A write decodes the stream and encodes it
 * again: O(N) in the stream's bytes, as every other collection here is.
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

interface Entry {
  readonly id: StreamId;
  /** Field, value, field, value... (views of the data, or of the arguments). */
  readonly parts: Buffer[];
}

interface Node {
  entries: Entry[];
  deleted: number;
  bytes: number;
}

interface Stream {
  last: StreamId;
  added: bigint;
  maxDeleted: StreamId;
  nodes: Node[];
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

const truncated = () => new RangeError("stream value truncated");

function decode(data: Buffer): Stream {
  let at = 0;
  const need = (n: number) => {
    if (at + n > data.length) throw truncated();
  };
  const u64 = () => {
    need(8);
    const v = data.readBigUInt64BE(at);
    at += 8;
    return v;
  };
  const u32 = () => {
    need(4);
    const v = data.readUInt32BE(at);
    at += 4;
    return v;
  };
  const last = { ms: u64(), seq: u64() };
  const added = u64();
  const maxDeleted = { ms: u64(), seq: u64() };
  u32(); // the length: the sum of the nodes' live counts
  const nodeCount = u32();
  const nodes: Node[] = [];
  for (let n = 0; n < nodeCount; n++) {
    const live = u32();
    const deleted = u32();
    const bytes = u32();
    const entries: Entry[] = new Array(live);
    for (let e = 0; e < live; e++) {
      const id = { ms: u64(), seq: u64() };
      const count = u32();
      const parts: Buffer[] = new Array(count);
      for (let p = 0; p < count; p++) {
        const len = u32();
        need(len);
        parts[p] = data.subarray(at, at + len);
        at += len;
      }
      entries[e] = { id, parts };
    }
    nodes.push({ entries, deleted, bytes });
  }
  u32(); // consumer groups: none yet
  if (at !== data.length) throw new RangeError("stream value has trailing bytes");
  return { last, added, maxDeleted, nodes };
}

function encode(s: Stream): Buffer {
  let size = 8 * 5 + 4 + 4 + 4;
  let length = 0;
  for (const node of s.nodes) {
    size += 12;
    length += node.entries.length;
    for (const e of node.entries) {
      size += 20;
      for (const p of e.parts) size += 4 + p.length;
    }
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
    u32(node.entries.length);
    u32(node.deleted);
    u32(node.bytes);
    for (const e of node.entries) {
      u64(e.id.ms);
      u64(e.id.seq);
      u32(e.parts.length);
      for (const p of e.parts) {
        u32(p.length);
        p.copy(out, at);
        at += p.length;
      }
    }
  }
  u32(0);
  return out;
}

function emptyStream(): Stream {
  return { last: ZERO_ID, added: 0n, maxDeleted: ZERO_ID, nodes: [] };
}

/** The number of entries of a stream's data (XLEN), read without decoding the entries. */
export function streamLength(data: Buffer): number {
  return data.readUInt32BE(40);
}

function lengthOf(s: Stream): number {
  let n = 0;
  for (const node of s.nodes) n += node.entries.length;
  return n;
}

function* entriesOf(s: Stream): Generator<Entry> {
  for (const node of s.nodes) yield* node.entries;
}

function firstEntry(s: Stream): Entry | undefined {
  for (const node of s.nodes) if (node.entries.length > 0) return node.entries[0];
  return undefined;
}

function lastEntry(s: Stream): Entry | undefined {
  for (let n = s.nodes.length - 1; n >= 0; n--) {
    const entries = (s.nodes[n] as Node).entries;
    if (entries.length > 0) return entries[entries.length - 1];
  }
  return undefined;
}

/** Bytes Redis would add to a listpack for an entry of `parts`: an estimate. */
function entryBytes(parts: readonly Buffer[]): number {
  let n = 12;
  for (const p of parts) n += p.length + 2;
  return n;
}

function appendEntry(ctx: ExecContext, s: Stream, entry: Entry): void {
  const limits = ctx.streamNode ?? DEFAULT_NODE;
  const maxBytes =
    limits.bytes === 0 || limits.bytes > listpackBytesMax ? listpackBytesMax : limits.bytes;
  let tail = s.nodes[s.nodes.length - 1];
  let payload = 0;
  for (const p of entry.parts) payload += p.length;
  if (
    tail === undefined ||
    tail.bytes + payload >= maxBytes ||
    (limits.entries > 0 && tail.entries.length + tail.deleted >= limits.entries)
  ) {
    tail = { entries: [], deleted: 0, bytes: 16 };
    s.nodes.push(tail);
  }
  tail.entries.push(entry);
  tail.bytes += entryBytes(entry.parts);
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
    const entries = node.entries.length + node.deleted;
    if (t.limit && deleted + entries > t.limit) break;
    const lastOfNode = node.entries[node.entries.length - 1];
    const removeNode =
      t.strategy === "maxlen"
        ? length - node.entries.length >= t.maxlen
        : lastOfNode === undefined || compareIds(lastOfNode.id, t.minid) < 0;
    if (removeNode) {
      s.nodes.shift();
      length -= node.entries.length;
      deleted += node.entries.length;
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
  appendEntry(ctx, s, { id, parts });
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
    for (let n = 0; n < s.nodes.length; n++) {
      const node = s.nodes[n] as Node;
      const k = node.entries.findIndex((e) => compareIds(e.id, id) === 0);
      if (k < 0) continue;
      node.entries.splice(k, 1);
      node.deleted++;
      if (node.entries.length === 0) s.nodes.splice(n, 1);
      if (compareIds(id, s.maxDeleted) > 0) s.maxDeleted = id;
      removed++;
      break;
    }
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
  const all = [...entriesOf(s)];
  if (rev) all.reverse();
  for (const e of all) {
    if (compareIds(e.id, start) < 0 || compareIds(e.id, end) > 0) continue;
    out.push(e);
    if (count > 0 && out.length >= count) break;
  }
  return out;
}

/** XRANGE key start end [COUNT n] and XREVRANGE key end start [COUNT n] */
function xrangeOf(rev: boolean): CommandHandler {
  return (ctx, args) => {
    const startArg = args.buf(rev ? 3 : 2);
    const endArg = args.buf(rev ? 2 : 3);
    const startEx = startArg.length > 1 && startArg[0] === 0x28;
    const endEx = endArg.length > 1 && endArg[0] === 0x28;
    const startP = parseId(startEx ? startArg.subarray(1) : startArg, 0n, startEx);
    if (startP === null) return STREAM_ID_INVALID;
    let start: StreamId | null = startP.id;
    if (startEx) {
      start = nextId(start);
      if (start === null) return START_ID_INVALID;
    }
    const endP = parseId(endEx ? endArg.subarray(1) : endArg, U64_MAX, endEx);
    if (endP === null) return STREAM_ID_INVALID;
    let end: StreamId | null = endP.id;
    if (endEx) {
      end = previousId(end);
      if (end === null) return END_ID_INVALID;
    }
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
    const from = after === "$" ? null : nextId(after as StreamId);
    if (from === null) return;
    const entries = range(s, from, MAX_ID, parsed.count, false);
    if (entries.length > 0) out.push([bulk(Buffer.from(key)), array(entries.map(entryReply))]);
  });
  // RESP2: an array of [key, entries]; RESP3: a map.
  return out.length === 0 ? NULL_ARRAY : { kind: "map", value: out, nested: true };
};

export interface XreadArgs {
  count: number;
  /** BLOCK's milliseconds; undefined without BLOCK (0: for ever). */
  blockMs: number | undefined;
  keys: Buffer[];
  ids: (StreamId | "$")[];
  /** Where the IDs start among the arguments. */
  idsAt: number;
}

/** XREAD's arguments, or the error reply for them. */
export function parseXread(args: Args): XreadArgs | Reply {
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
    } else if (opt === "group" || opt === "noack") {
      return errorReply(opt === "group" ? "XREAD_GROUP" : "XREAD_NOACK");
    } else {
      return SYNTAX;
    }
  }
  if (streamsAt === 0) return SYNTAX;
  const n = args.length - streamsAt;
  if (n % 2 !== 0) return errorReply("XREAD_UNBALANCED");
  const half = n / 2;
  const keys: Buffer[] = [];
  const ids: (StreamId | "$")[] = [];
  for (let i = 0; i < half; i++) keys.push(args.buf(streamsAt + i));
  for (let i = 0; i < half; i++) {
    const arg = args.buf(streamsAt + half + i);
    if (arg.length === 1 && arg[0] === 0x24) {
      ids.push("$");
      continue;
    }
    if (arg.length === 1 && arg[0] === 0x3e) return errorReply("XREAD_GREATER_ID");
    const id = parseId(arg, 0n, true);
    if (id === null) return STREAM_ID_INVALID;
    ids.push(id.id);
  }
  return { count, blockMs, keys, ids, idsAt: streamsAt + half };
}

/** Whether an XREAD names `$` as an ID (parsed: a malformed one answers its error). */
export function hasLastIdArgument(args: Args): boolean {
  const parsed = parseXread(args);
  return !isReply(parsed) && parsed.ids.includes("$");
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
  if (sub === "groups") return EMPTY_ARRAY;
  if (sub === "consumers") {
    return errorReply("NOGROUP_CONSUMERS", key.toString("latin1"), args.str(3));
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
      [bulk("groups"), integer(0)],
      [bulk("first-entry"), first === undefined ? NULL : entryReply(first)],
      [bulk("last-entry"), last === undefined ? NULL : entryReply(last)],
    );
    return map(head);
  }
  const entries = range(s, ZERO_ID, MAX_ID, count, false);
  head.push([bulk("entries"), array(entries.map(entryReply))], [bulk("groups"), EMPTY_ARRAY]);
  return map(head);
};

/** The stream's entries as XRANGE - + gives them: for SORT, COPY checks and tests. */
export function streamEntries(data: Buffer): { id: string; parts: Buffer[] }[] {
  return [...entriesOf(decode(data))].map((e) => ({ id: formatId(e.id), parts: e.parts }));
}

/** Checks that `data` decodes whole (OBJECT, DEBUG-like checks): throws if not. */
export function checkStream(data: Buffer): void {
  decode(data);
}

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
]);

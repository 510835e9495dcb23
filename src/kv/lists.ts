import { u32be } from "../core/bytes.js";
import { array, bulk, EMPTY_ARRAY, integer, NULL, NULL_ARRAY, OK } from "../resp/reply.js";
import type { Args, Reply } from "../resp/types.js";
import type { StoredValue } from "../storage/types.js";
import { argViews, isReply } from "./db.js";
import { errorReply, NOT_INTEGER, SYNTAX, wrongArity } from "./errors.js";
import { firstHolding, lookupTyped, store } from "./hashes.js";
import { NOTIFY_GENERIC, NOTIFY_LIST, notifyIfNew, notifyKey } from "./notify.js";
import { type LongDouble, parseI64, parseLongDouble } from "./numbers.js";
import type { CommandHandler, ExecContext } from "./types.js";

/**
 * Lists. A list is one stored value (StoredValue.data) holding its elements in order, each
 * with its length before and after it, so that it can be walked from either end, as Redis's
 * listpack is:
 *
 *   data     = count:u32 element{count}
 *   element  = length:u32 bytes length:u32
 *
 * A push or a pop at either end finds its place without a walk and builds the new value in
 * one copy of the old; a command on the middle (LINDEX, LSET, LINSERT, LREM, LPOS) walks to
 * it. So a write costs O(N) in the list's bytes, a copy, as a hash's does (docs/commands.md,
 * "list"). The store, the raft log, snapshot images and WATCH's fingerprints see a list as
 * one value. An empty list is never stored: the command that removes the last element
 * deletes the key, as Redis does.
 *
 * The blocking pops (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) run here as Redis runs them
 * for a client that may not block (in MULTI): they pop if they can and answer null if not.
 * The server blocks the client on a null and runs the command again when a key it waits
 * on is written (server/blocking.ts).
 */

const ZERO = integer(0);
const MINUS_ONE = integer(-1);
/** A list is one value: bounded by proto-max-bulk-len, as a string is. */
const LIST_TOO_LONG = errorReply("LIST_TOO_LONG");
const INDEX_OUT_OF_RANGE = errorReply("INDEX_OUT_OF_RANGE");

const headerBytes = 4;
/** An element's bytes besides its own: its length before and after it. */
const elementOverhead = 8;

const truncated = () => new RangeError("list value truncated");

/** The number of elements of a list's data. */
export function listLength(data: Buffer): number {
  return data.readUInt32BE(0);
}

/** Every element of a list, in order, as views of `data`. Throws on data that is not a list. */
export function listElements(data: Buffer): Buffer[] {
  const count = data.readUInt32BE(0);
  const out: Buffer[] = new Array(count);
  let at = headerBytes;
  for (let i = 0; i < count; i++) {
    if (at + elementOverhead > data.length) throw truncated();
    const end = at + 4 + u32be(data, at);
    if (end + 4 > data.length) throw truncated();
    out[i] = data.subarray(at + 4, end);
    at = end + 4;
  }
  if (at !== data.length) throw new RangeError("list value has trailing bytes");
  return out;
}

function bytesOf(elements: readonly Buffer[]): number {
  let bytes = 0;
  for (const e of elements) bytes += elementOverhead + e.length;
  return bytes;
}

function writeElement(out: Buffer, at: number, e: Buffer): number {
  out.writeUInt32BE(e.length, at);
  at += 4 + e.copy(out, at + 4);
  out.writeUInt32BE(e.length, at);
  return at + 4;
}

/** The data of a list of `elements` (copied), or LIST_TOO_LONG past proto-max-bulk-len. */
export function encodeList(ctx: ExecContext, elements: readonly Buffer[]): Buffer | Reply {
  const bytes = headerBytes + bytesOf(elements);
  if (bytes > ctx.maxBulkBytes) return LIST_TOO_LONG;
  const out = Buffer.allocUnsafe(bytes);
  out.writeUInt32BE(elements.length, 0);
  let at = headerBytes;
  for (const e of elements) at = writeElement(out, at, e);
  return out;
}

/**
 * `old` (undefined: no list yet) with `elements` pushed one after the other at the head
 * (LPUSH a b c gives c b a) or at the tail: one copy of the old data.
 */
function pushed(
  ctx: ExecContext,
  old: Buffer | undefined,
  elements: readonly Buffer[],
  head: boolean,
): Buffer | Reply {
  const body = old === undefined ? 0 : old.length - headerBytes;
  const bytes = headerBytes + body + bytesOf(elements);
  if (bytes > ctx.maxBulkBytes) return LIST_TOO_LONG;
  const out = Buffer.allocUnsafe(bytes);
  out.writeUInt32BE((old === undefined ? 0 : listLength(old)) + elements.length, 0);
  let at = headerBytes;
  if (head) {
    for (let i = elements.length - 1; i >= 0; i--)
      at = writeElement(out, at, elements[i] as Buffer);
    if (old !== undefined) old.copy(out, at, headerBytes);
  } else {
    if (old !== undefined) at += old.copy(out, at, headerBytes);
    for (const e of elements) at = writeElement(out, at, e);
  }
  return out;
}

/**
 * Elements `from` to `to` (0 ≤ from ≤ to < count) as views of `data`, walked from the
 * nearer end: a pop, LINDEX or LRANGE near either end reads only what it takes.
 */
function elementsBetween(data: Buffer, from: number, to: number): Buffer[] {
  const count = listLength(data);
  const out: Buffer[] = [];
  if (from <= count - 1 - to) {
    let at = headerBytes;
    for (let i = 0; i <= to; i++) {
      const end = at + 4 + u32be(data, at);
      if (end + 4 > data.length) throw truncated();
      if (i >= from) out.push(data.subarray(at + 4, end));
      at = end + 4;
    }
    return out;
  }
  let end = data.length;
  for (let i = count - 1; i >= from; i--) {
    const stop = end - 4;
    const start = stop - u32be(data, stop);
    if (start - 4 < headerBytes) throw truncated();
    if (i <= to) out.push(data.subarray(start, stop));
    end = start - 4;
  }
  return out.reverse();
}

/** What a pop of up to `count` elements leaves, and what it took (copies, in pop order). */
interface Popped {
  readonly taken: Buffer[];
  /** null: nothing is left (the key goes). */
  readonly rest: Buffer | null;
}

function popped(data: Buffer, count: number, head: boolean): Popped {
  const length = listLength(data);
  const n = Math.min(count, length);
  const views = head
    ? elementsBetween(data, 0, n - 1)
    : elementsBetween(data, length - n, length - 1);
  if (!head) views.reverse();
  const taken = views.map((e) => Buffer.from(e));
  if (n === length) return { taken, rest: null };
  let cut = 0;
  for (const e of views) cut += elementOverhead + e.length;
  const rest = Buffer.allocUnsafe(data.length - cut);
  rest.writeUInt32BE(length - n, 0);
  if (head) data.copy(rest, headerBytes, headerBytes + cut);
  else data.copy(rest, headerBytes, headerBytes, data.length - cut);
  return { taken, rest };
}

const lookupList = (ctx: ExecContext, key: Buffer) => lookupTyped(ctx, key, "list");

/** A list index argument (a signed 64-bit integer) as a number, or NOT_INTEGER. */
function parseIndex(buf: Buffer): number | Reply {
  const n = parseI64(buf);
  return n === undefined ? NOT_INTEGER : Number(n);
}

const LEFT_RIGHT = ["left", "right"] as const;

/** LEFT or RIGHT (or `ends`' two words): true for LEFT (the head), else SYNTAX. */
function parseEnd(
  args: Args,
  i: number,
  ends: readonly [string, string] = LEFT_RIGHT,
): boolean | Reply {
  if (args.is(i, ends[0])) return true;
  if (args.is(i, ends[1])) return false;
  return SYNTAX;
}

/**
 * A blocking command's timeout in seconds (a float, as Redis reads it) as milliseconds,
 * rounded up; 0 waits for ever.
 */
export function parseTimeout(buf: Buffer): number | Reply {
  const v = parseLongDouble(buf);
  if (v === undefined || v.kind === "nan") return errorReply("TIMEOUT_NOT_FLOAT");
  if (v.negative && !isZero(v)) return errorReply("TIMEOUT_NEGATIVE");
  if (v.kind === "infinite") return errorReply("TIMEOUT_NOT_FLOAT");
  const ms = Math.ceil(Number(v.mant) * 2 ** v.exp * 1000);
  return Number.isFinite(ms) ? ms : errorReply("TIMEOUT_NOT_FLOAT");
}

function isZero(v: LongDouble): boolean {
  return v.kind === "finite" && v.mant === 0n;
}

// ---------------------------------------------------------------------------------------
// Pushes

/** LPUSH, RPUSH, LPUSHX, RPUSHX: the list's new length. */
function push(ctx: ExecContext, args: Args, head: boolean, onlyIfExists: boolean): Reply {
  const key = args.buf(1);
  const old = lookupList(ctx, key);
  if (isReply(old)) return old;
  if (old === undefined && onlyIfExists) return ZERO;
  const elements: Buffer[] = [];
  for (let i = 2; i < args.length; i++) elements.push(args.buf(i));
  const data = pushed(ctx, old?.data, elements, head);
  if (isReply(data)) return data;
  notifyIfNew(ctx, key, old !== undefined);
  store(ctx, key, old, data, "list");
  notifyKey(ctx, NOTIFY_LIST, head ? "lpush" : "rpush", key);
  return integer(listLength(data));
}

/**
 * LINSERT key BEFORE|AFTER pivot element: the new length, -1 when the pivot is not in the
 * list, 0 when there is no list.
 */
const linsert: CommandHandler = (ctx, args) => {
  let after: boolean;
  if (args.is(2, "after")) after = true;
  else if (args.is(2, "before")) after = false;
  else return SYNTAX;
  const key = args.buf(1);
  const old = lookupList(ctx, key);
  if (isReply(old)) return old;
  if (old === undefined) return ZERO;
  const elements = listElements(old.data);
  const pivot = args.buf(3);
  const at = elements.findIndex((e) => e.equals(pivot));
  if (at < 0) return MINUS_ONE;
  elements.splice(after ? at + 1 : at, 0, args.buf(4));
  const data = encodeList(ctx, elements);
  if (isReply(data)) return data;
  store(ctx, key, old, data, "list");
  notifyKey(ctx, NOTIFY_LIST, "linsert", key);
  return integer(elements.length);
};

// ---------------------------------------------------------------------------------------
// Pops

/** A pop's COUNT (LPOP, ZPOPMIN...): a non-negative integer, capped at 2^32 - 1. */
export function parsePopCount(buf: Buffer): number | Reply {
  const n = parseI64(buf);
  if (n === undefined || n < 0n) return errorReply("NOT_POSITIVE");
  return n > 0xffff_ffffn ? 0xffff_ffff : Number(n);
}

/** LPOP and RPOP key [count]: an element, or with a count an array of up to count. */
function pop(ctx: ExecContext, args: Args, head: boolean): Reply {
  if (args.length > 3) return wrongArity(head ? "lpop" : "rpop");
  const withCount = args.length === 3;
  let count = 1;
  if (withCount) {
    const n = parsePopCount(args.buf(2));
    if (isReply(n)) return n;
    count = n;
  }
  const key = args.buf(1);
  const old = lookupList(ctx, key);
  if (isReply(old)) return old;
  if (old === undefined) return withCount ? NULL_ARRAY : NULL;
  if (withCount && count === 0) return EMPTY_ARRAY;
  const { taken } = popFrom(ctx, key, old, count, head);
  return withCount ? array(taken.map((e) => bulk(e))) : bulk(taken[0] as Buffer);
}

/** Pops up to `count` elements of the list `old` at `key`, with the events Redis sends. */
function popFrom(
  ctx: ExecContext,
  key: Buffer,
  old: StoredValue,
  count: number,
  head: boolean,
): Popped {
  const result = popped(old.data, count, head);
  store(ctx, key, old, result.rest, "list");
  notifyKey(ctx, NOTIFY_LIST, head ? "lpop" : "rpop", key);
  if (result.rest === null) notifyKey(ctx, NOTIFY_GENERIC, "del", key);
  return result;
}

/**
 * Pops up to `count` elements from the first of `keys` that holds a list: [key, elements]
 * (LMPOP, BLMPOP), or [key, element] with `single` (BLPOP, BRPOP); a null array when none
 * holds one. A key holding another type answers WRONGTYPE when it is reached.
 */
function popFirst(
  ctx: ExecContext,
  keys: readonly Buffer[],
  head: boolean,
  count: number,
  single: boolean,
): Reply {
  const first = firstHolding(ctx, keys, "list");
  if (first === undefined) return NULL_ARRAY;
  if (isReply(first)) return first;
  const { taken } = popFrom(ctx, first.key, first.value, count, head);
  const popped = single ? bulk(taken[0] as Buffer) : array(taken.map((e) => bulk(e)));
  return array([bulk(Buffer.from(first.key)), popped]);
}

/** BLPOP and BRPOP key [key ...] timeout, run without blocking. */
function bpop(ctx: ExecContext, args: Args, head: boolean): Reply {
  const timeout = parseTimeout(args.buf(args.length - 1));
  if (isReply(timeout)) return timeout;
  return popFirst(ctx, argViews(args, 1, args.length - 1), head, 1, true);
}

/** The parsed arguments of LMPOP (numkeys at 1) and BLMPOP (numkeys at 2). */
interface MpopArgs {
  readonly keys: Buffer[];
  readonly head: boolean;
  readonly count: number;
}

/**
 * LMPOP's and BLMPOP's arguments from the key count at `at` on, or the error they get;
 * ZMPOP and BZMPOP name their ends MIN and MAX (`ends`), `head` then meaning MIN.
 */
export function parseMpop(
  args: Args,
  at: number,
  ends: readonly [string, string] = LEFT_RIGHT,
): MpopArgs | Reply {
  const numkeys = parseI64(args.buf(at));
  if (numkeys === undefined || numkeys < 1n) return errorReply("NUMKEYS_NOT_POSITIVE");
  const whereAt = at + 1 + Number(numkeys);
  if (numkeys > BigInt(args.length) || whereAt >= args.length) return SYNTAX;
  const head = parseEnd(args, whereAt, ends);
  if (isReply(head)) return head;
  let count = -1;
  for (let j = whereAt + 1; j < args.length; j++) {
    if (count === -1 && args.is(j, "count") && j + 1 < args.length) {
      const n = parseI64(args.buf(++j));
      if (n === undefined || n < 1n) return errorReply("COUNT_NOT_POSITIVE");
      count = n > 0xffff_ffffn ? 0xffff_ffff : Number(n);
    } else {
      return SYNTAX;
    }
  }
  return { keys: argViews(args, at + 1, whereAt), head, count: count === -1 ? 1 : count };
}

const lmpop: CommandHandler = (ctx, args) => {
  const parsed = parseMpop(args, 1);
  if (isReply(parsed)) return parsed;
  return popFirst(ctx, parsed.keys, parsed.head, parsed.count, false);
};

/** BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count], run without blocking. */
const blmpop: CommandHandler = (ctx, args) => {
  const timeout = parseTimeout(args.buf(1));
  if (isReply(timeout)) return timeout;
  const parsed = parseMpop(args, 2);
  if (isReply(parsed)) return parsed;
  return popFirst(ctx, parsed.keys, parsed.head, parsed.count, false);
};

/**
 * LMOVE, RPOPLPUSH and their blocking forms: pops from one end of `source`, pushes onto
 * one end of `destination` (the same key rotates the list), answers the element; null when
 * there is no source list. A destination of another type is refused before anything moves.
 */
function move(
  ctx: ExecContext,
  source: Buffer,
  destination: Buffer,
  fromHead: boolean,
  toHead: boolean,
): Reply {
  const old = lookupList(ctx, source);
  if (isReply(old)) return old;
  if (old === undefined) return NULL;
  const dest = lookupList(ctx, destination);
  if (isReply(dest)) return dest;
  const same = source.equals(destination);
  const { taken, rest } = popped(old.data, 1, fromHead);
  const element = taken[0] as Buffer;
  const base = same ? (rest ?? undefined) : dest?.data;
  const data = pushed(ctx, base, [element], toHead);
  if (isReply(data)) return data;
  if (!same) store(ctx, source, old, rest, "list");
  notifyIfNew(ctx, destination, same || dest !== undefined);
  store(ctx, destination, same ? old : dest, data, "list");
  notifyKey(ctx, NOTIFY_LIST, toHead ? "lpush" : "rpush", destination);
  notifyKey(ctx, NOTIFY_LIST, fromHead ? "lpop" : "rpop", source);
  if (!same && rest === null) notifyKey(ctx, NOTIFY_GENERIC, "del", source);
  return bulk(element);
}

const lmove: CommandHandler = (ctx, args) => {
  const from = parseEnd(args, 3);
  if (isReply(from)) return from;
  const to = parseEnd(args, 4);
  if (isReply(to)) return to;
  return move(ctx, args.buf(1), args.buf(2), from, to);
};

const blmove: CommandHandler = (ctx, args) => {
  const from = parseEnd(args, 3);
  if (isReply(from)) return from;
  const to = parseEnd(args, 4);
  if (isReply(to)) return to;
  const timeout = parseTimeout(args.buf(5));
  if (isReply(timeout)) return timeout;
  return move(ctx, args.buf(1), args.buf(2), from, to);
};

const brpoplpush: CommandHandler = (ctx, args) => {
  const timeout = parseTimeout(args.buf(3));
  if (isReply(timeout)) return timeout;
  return move(ctx, args.buf(1), args.buf(2), false, true);
};

// ---------------------------------------------------------------------------------------
// Reads and edits in the middle

const llen: CommandHandler = (ctx, args) => {
  const old = lookupList(ctx, args.buf(1));
  if (isReply(old)) return old;
  return old === undefined ? ZERO : integer(listLength(old.data));
};

/** LINDEX key index: the element, null out of range (or without a list). */
const lindex: CommandHandler = (ctx, args) => {
  const old = lookupList(ctx, args.buf(1));
  if (isReply(old)) return old;
  if (old === undefined) return NULL;
  let index = parseIndex(args.buf(2));
  if (isReply(index)) return index;
  const count = listLength(old.data);
  if (index < 0) index += count;
  if (index < 0 || index >= count) return NULL;
  return bulk(elementsBetween(old.data, index, index)[0] as Buffer);
};

/** [start, end] of a list of `count` after Redis's index rules, or null when empty. */
function range(start: number, end: number, count: number): [number, number] | null {
  if (start < 0) start += count;
  if (end < 0) end += count;
  if (start < 0) start = 0;
  if (start > end || start >= count) return null;
  return [start, Math.min(end, count - 1)];
}

const lrange: CommandHandler = (ctx, args) => {
  const start = parseIndex(args.buf(2));
  if (isReply(start)) return start;
  const end = parseIndex(args.buf(3));
  if (isReply(end)) return end;
  const old = lookupList(ctx, args.buf(1));
  if (isReply(old)) return old;
  if (old === undefined) return EMPTY_ARRAY;
  const r = range(start, end, listLength(old.data));
  if (r === null) return EMPTY_ARRAY;
  return array(elementsBetween(old.data, r[0], r[1]).map((e) => bulk(e)));
};

/** LSET key index element. */
const lset: CommandHandler = (ctx, args) => {
  let index = parseIndex(args.buf(2));
  if (isReply(index)) return index;
  const key = args.buf(1);
  const old = lookupList(ctx, key);
  if (isReply(old)) return old;
  if (old === undefined) return errorReply("NO_SUCH_KEY");
  const elements = listElements(old.data);
  if (index < 0) index += elements.length;
  if (index < 0 || index >= elements.length) return INDEX_OUT_OF_RANGE;
  elements[index] = args.buf(3);
  const data = encodeList(ctx, elements);
  if (isReply(data)) return data;
  store(ctx, key, old, data, "list");
  notifyKey(ctx, NOTIFY_LIST, "lset", key);
  return OK;
};

/**
 * LREM key count element: removes the first `count` elements equal to `element` (from the
 * tail for a negative count, all of them for 0); the number removed.
 */
const lrem: CommandHandler = (ctx, args) => {
  const n = parseI64(args.buf(2));
  if (n === undefined) return NOT_INTEGER;
  const key = args.buf(1);
  const old = lookupList(ctx, key);
  if (isReply(old)) return old;
  if (old === undefined) return ZERO;
  const elements = listElements(old.data);
  const target = args.buf(3);
  const limit = n < 0n ? -n : n;
  const kept: Buffer[] = [];
  let removed = 0;
  const fromTail = n < 0n;
  for (let k = 0; k < elements.length; k++) {
    const e = elements[fromTail ? elements.length - 1 - k : k] as Buffer;
    if ((limit === 0n || BigInt(removed) < limit) && e.equals(target)) removed++;
    else kept.push(e);
  }
  if (removed === 0) return ZERO;
  if (fromTail) kept.reverse();
  const data = kept.length === 0 ? null : encodeList(ctx, kept);
  if (isReply(data)) return data;
  store(ctx, key, old, data, "list");
  notifyKey(ctx, NOTIFY_LIST, "lrem", key);
  if (data === null) notifyKey(ctx, NOTIFY_GENERIC, "del", key);
  return integer(removed);
};

/** LTRIM key start stop: keeps the range; an empty range deletes the key. */
const ltrim: CommandHandler = (ctx, args) => {
  const start = parseIndex(args.buf(2));
  if (isReply(start)) return start;
  const end = parseIndex(args.buf(3));
  if (isReply(end)) return end;
  const key = args.buf(1);
  const old = lookupList(ctx, key);
  if (isReply(old)) return old;
  if (old === undefined) return OK;
  const count = listLength(old.data);
  const r = range(start, end, count);
  let data: Buffer | null = null;
  if (r !== null && r[0] === 0 && r[1] === count - 1) {
    data = old.data;
  } else if (r !== null) {
    const kept = encodeList(ctx, listElements(old.data).slice(r[0], r[1] + 1));
    if (isReply(kept)) return kept;
    data = kept;
  }
  if (data !== old.data) store(ctx, key, old, data, "list");
  notifyKey(ctx, NOTIFY_LIST, "ltrim", key);
  if (data === null) notifyKey(ctx, NOTIFY_GENERIC, "del", key);
  return OK;
};

/** LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]. */
const lpos: CommandHandler = (ctx, args) => {
  let rank = 1n;
  let count = -1n;
  let maxlen = 0n;
  for (let j = 3; j < args.length; j++) {
    const more = j + 1 < args.length;
    if (args.is(j, "rank") && more) {
      const n = parseI64(args.buf(++j));
      if (n === undefined) return NOT_INTEGER;
      if (n === 0n) return errorReply("RANK_ZERO");
      rank = n;
    } else if (args.is(j, "count") && more) {
      const n = parseI64(args.buf(++j));
      if (n === undefined || n < 0n) return errorReply("COUNT_NEGATIVE");
      count = n;
    } else if (args.is(j, "maxlen") && more) {
      const n = parseI64(args.buf(++j));
      if (n === undefined || n < 0n) return errorReply("MAXLEN_NEGATIVE");
      maxlen = n;
    } else {
      return SYNTAX;
    }
  }
  const old = lookupList(ctx, args.buf(1));
  if (isReply(old)) return old;
  if (old === undefined) return count !== -1n ? EMPTY_ARRAY : NULL;
  const elements = listElements(old.data);
  const target = args.buf(2);
  const fromTail = rank < 0n;
  const skip = fromTail ? -rank : rank;
  const found: Reply[] = [];
  let matches = 0n;
  const n = elements.length;
  for (let k = 0; k < n && (maxlen === 0n || BigInt(k) < maxlen); k++) {
    const index = fromTail ? n - 1 - k : k;
    if (!(elements[index] as Buffer).equals(target)) continue;
    matches++;
    if (matches < skip) continue;
    if (count === -1n) return integer(index);
    found.push(integer(index));
    if (count !== 0n && BigInt(found.length) >= count) break;
  }
  return count === -1n ? NULL : array(found);
};

/** Each list command, keyed by lower-case name. */
export const LIST_HANDLERS: ReadonlyMap<string, CommandHandler> = new Map<string, CommandHandler>([
  ["lpush", (ctx, args) => push(ctx, args, true, false)],
  ["rpush", (ctx, args) => push(ctx, args, false, false)],
  ["lpushx", (ctx, args) => push(ctx, args, true, true)],
  ["rpushx", (ctx, args) => push(ctx, args, false, true)],
  ["linsert", linsert],
  ["lpop", (ctx, args) => pop(ctx, args, true)],
  ["rpop", (ctx, args) => pop(ctx, args, false)],
  ["lmpop", lmpop],
  ["blpop", (ctx, args) => bpop(ctx, args, true)],
  ["brpop", (ctx, args) => bpop(ctx, args, false)],
  ["blmpop", blmpop],
  ["lmove", lmove],
  ["rpoplpush", (ctx, args) => move(ctx, args.buf(1), args.buf(2), false, true)],
  ["blmove", blmove],
  ["brpoplpush", brpoplpush],
  ["llen", llen],
  ["lindex", lindex],
  ["lrange", lrange],
  ["lset", lset],
  ["lrem", lrem],
  ["ltrim", ltrim],
  ["lpos", lpos],
]);

/**
 * LMPOP or BLMPOP whose key count gives no keys (not a number, below 1, or more than the
 * arguments): the error the command answers, for a cluster node to send without a shard.
 */
export function mpopKeyless(name: string, args: Args): Reply {
  if (name === "blmpop") {
    const timeout = parseTimeout(args.buf(1));
    if (isReply(timeout)) return timeout;
  }
  const parsed = parseMpop(args, name === "blmpop" ? 2 : 1);
  return isReply(parsed) ? parsed : SYNTAX;
}

import { u32be } from "../core/bytes.js";
import { formatDouble } from "../resp/encoder.js";
import {
  array,
  bulk,
  double,
  EMPTY_ARRAY,
  integer,
  NULL,
  NULL_ARRAY,
  pairs,
} from "../resp/reply.js";
import type { Args, Reply } from "../resp/types.js";
import type { StoredValue } from "../storage/types.js";
import { argViews, isReply, lookup } from "./db.js";
import { errorReply, NOT_FLOAT, NOT_INTEGER, SYNTAX, WRONG_TYPE } from "./errors.js";
import {
  drawRandom,
  firstHolding,
  hashPairs,
  lookupTyped,
  RANDFIELD_WITHVALUES_MAX,
  store,
  storeResult,
} from "./hashes.js";
import { parseMpop, parsePopCount, parseTimeout } from "./lists.js";
import { NOTIFY_GENERIC, NOTIFY_ZSET, notifyIfNew, notifyKey } from "./notify.js";
import { I64_MAX, I64_MIN, parseI64, parseLongDouble } from "./numbers.js";
import { INVALID_CURSOR, parseCursor, parseScanOptions } from "./scan.js";
import type { CommandHandler, ExecContext } from "./types.js";

/**
 * Sorted sets. A sorted set is one stored value holding its members in order of score,
 * then of the member's bytes (memcmp, as Redis orders equal scores), each with its score
 * and its length on both sides, so that it can be walked from either end:
 *
 *   data   = count:u32 entry{count}
 *   entry  = score:f64 length:u32 bytes length:u32
 *
 * The commands a sorted set is used for most work on the bytes: ZADD and ZINCRBY of one
 * member, ZREM of one, ZSCORE, ZRANK and ZMSCORE find the member by a walk that compares
 * lengths first, and a write builds the new value in one copy of the old around the
 * entry it moves, adds or removes; ranges by rank walk from the nearer end and ranges by
 * score from the end they start at, reading only what they return. The other commands
 * (several members at once, lex ranges, the algebra) decode the entries into two arrays
 * (views of the data, no copy) and encode the result. Either way a write is O(N) in the
 * set's bytes, as hashes, sets and lists are here (docs/commands.md, "sorted set"). Redis
 * keeps a small sorted set as a listpack, which it also walks and rewrites whole; past 128
 * members it switches to a skip list with a hash table, O(log N) a write.
 * An empty sorted set is never stored: the command that removes the last member deletes
 * the key.
 *
 * Scores are IEEE doubles: ±inf are scores, NaN never is (a command that would make one
 * answers an error, as Redis does). Replies print them as Redis 7.0 does (`%.17g`).
 */

const ZERO = integer(0);
const ONE = integer(1);
const ZSET_TOO_LONG = errorReply("ZSET_TOO_LONG");
const NAN_SCORE = errorReply("ZSET_NAN_SCORE");
const RANGE_NOT_FLOAT = errorReply("ZSET_RANGE_NOT_FLOAT");
const LEX_RANGE_INVALID = errorReply("ZSET_LEX_RANGE_INVALID");
const EMPTY_SCAN = array([bulk("0"), array([])]);

const headerBytes = 4;
/** An entry's bytes besides its member's: its score and the member's length, twice. */
const entryOverhead = 16;
/** Where an entry's member starts, from the entry's start. */
const memberAt = 12;

const truncated = () => new RangeError("sorted set value truncated");

/** A sorted set decoded: member i has score i; ordered by score, then member bytes. */
export interface Entries {
  readonly members: Buffer[];
  readonly scores: number[];
}

/** The number of members of a sorted set's data. */
export function zsetLength(data: Buffer): number {
  return data.readUInt32BE(0);
}

/** The end of the entry at `at` (where the next one starts). */
function entryEnd(data: Buffer, at: number): number {
  const end = at + entryOverhead + u32be(data, at + 8);
  if (end > data.length) throw truncated();
  return end;
}

/** The member of the entry at `at`, a view of `data`. */
function memberOf(data: Buffer, at: number): Buffer {
  return data.subarray(at + memberAt, at + memberAt + u32be(data, at + 8));
}

/** The start of the entry that ends at `end`. */
function entryStart(data: Buffer, end: number): number {
  const at = end - entryOverhead - u32be(data, end - 4);
  if (at < headerBytes) throw truncated();
  return at;
}

/** Every member and score of a sorted set, in order, members as views of `data`. */
export function zsetEntries(data: Buffer): Entries {
  const count = data.readUInt32BE(0);
  const members: Buffer[] = new Array(count);
  const scores: number[] = new Array(count);
  let at = headerBytes;
  for (let i = 0; i < count; i++) {
    if (at + entryOverhead > data.length) throw truncated();
    const end = entryEnd(data, at);
    scores[i] = data.readDoubleBE(at);
    members[i] = data.subarray(at + memberAt, end - 4);
    at = end;
  }
  if (at !== data.length) throw new RangeError("sorted set value has trailing bytes");
  return { members, scores };
}

/** Writes one entry at `at`; where it ends. A -0 is stored as 0, as Redis's listpack does. */
function writeEntry(out: Buffer, at: number, score: number, member: Buffer): number {
  out.writeDoubleBE(score + 0, at);
  out.writeUInt32BE(member.length, at + 8);
  const end = at + memberAt + member.copy(out, at + memberAt);
  out.writeUInt32BE(member.length, end);
  return end + 4;
}

/**
 * The data of `e` (members copied; in order, by score then member), or ZSET_TOO_LONG past
 * proto-max-bulk-len.
 */
export function encodeZset(ctx: ExecContext, e: Entries): Buffer | Reply {
  let bytes = headerBytes;
  for (const m of e.members) bytes += entryOverhead + m.length;
  if (bytes > ctx.maxBulkBytes) return ZSET_TOO_LONG;
  const out = Buffer.allocUnsafe(bytes);
  out.writeUInt32BE(e.members.length, 0);
  let at = headerBytes;
  for (let i = 0; i < e.members.length; i++) {
    at = writeEntry(out, at, e.scores[i] as number, e.members[i] as Buffer);
  }
  return out;
}

/** The score of `member` in a sorted set's data, or undefined when it is not there. */
export function zsetScore(data: Buffer, member: Buffer): number | undefined {
  const found = findMember(data, member);
  return found === undefined ? undefined : data.readDoubleBE(found.at);
}

/** Where `member` is in `data`: its entry's start and rank, or undefined. */
function findMember(data: Buffer, member: Buffer): { at: number; rank: number } | undefined {
  const count = zsetLength(data);
  const len = member.length;
  // Members often share a prefix (user:1234): the last byte tells most apart, in JS,
  // before a native compare.
  const last = member[len - 1];
  let at = headerBytes;
  for (let rank = 0; rank < count; rank++) {
    const n = u32be(data, at + 8);
    const m = at + memberAt;
    if (
      n === len &&
      (len === 0 || (data[m + n - 1] === last && data.compare(member, 0, len, m, m + n) === 0))
    ) {
      return { at, rank };
    }
    at = m + n + 4;
  }
  if (at !== data.length) throw truncated();
  return undefined;
}

/** Where an entry of `score` and `member` belongs in `data`: the first entry after it. */
function insertionPoint(data: Buffer, score: number, member: Buffer): number {
  const count = zsetLength(data);
  const view = new DataView(data.buffer, data.byteOffset, data.length);
  let at = headerBytes;
  for (let i = 0; i < count; i++) {
    const s = view.getFloat64(at);
    const end = at + entryOverhead + u32be(data, at + 8);
    if (s > score) return at;
    if (s === score && data.compare(member, 0, member.length, at + memberAt, end - 4) > 0) {
      return at;
    }
    at = end;
  }
  return at;
}

/**
 * `data` (undefined: none yet) with the entry at `remove` taken out (-1: none) and an entry
 * of `score` and `member` put in at `insert` (an entry's start in `data`, or its end; -1:
 * none), in one copy; ZSET_TOO_LONG past proto-max-bulk-len.
 */
function spliced(
  ctx: ExecContext,
  data: Buffer | undefined,
  remove: number,
  insert: number,
  score: number,
  member: Buffer,
): Buffer | Reply {
  const old = data ?? EMPTY_ZSET;
  const removeEnd = remove < 0 ? -1 : entryEnd(old, remove);
  const bytes =
    old.length -
    (remove < 0 ? 0 : removeEnd - remove) +
    (insert < 0 ? 0 : entryOverhead + member.length);
  if (bytes > ctx.maxBulkBytes) return ZSET_TOO_LONG;
  const out = Buffer.allocUnsafe(bytes);
  out.writeUInt32BE(zsetLength(old) - (remove < 0 ? 0 : 1) + (insert < 0 ? 0 : 1), 0);
  let w = headerBytes;
  let r = headerBytes;
  const copyTo = (upTo: number) => {
    w += old.copy(out, w, r, upTo);
    r = upTo;
  };
  if (insert >= 0 && (remove < 0 || insert <= remove)) {
    copyTo(insert);
    w = writeEntry(out, w, score, member);
  }
  if (remove >= 0) {
    copyTo(remove);
    r = removeEnd;
  }
  if (insert >= 0 && remove >= 0 && insert > remove) {
    copyTo(insert);
    w = writeEntry(out, w, score, member);
  }
  copyTo(old.length);
  return out;
}

const EMPTY_ZSET = Buffer.alloc(headerBytes);

/** The entries' starts of ranks `from` to `to` (0 ≤ from ≤ to < count), walked from the nearer end. */
function ranksAt(data: Buffer, from: number, to: number): number[] {
  const count = zsetLength(data);
  const out: number[] = [];
  if (from <= count - 1 - to) {
    let at = headerBytes;
    for (let i = 0; i <= to; i++) {
      if (i >= from) out.push(at);
      at = entryEnd(data, at);
    }
    return out;
  }
  let end = data.length;
  for (let i = count - 1; i >= from; i--) {
    const at = entryStart(data, end);
    if (i <= to) out.push(at);
    end = at;
  }
  return out.reverse();
}

/** The order of a sorted set: by score, then by the members' bytes. */
function compare(sa: number, ma: Buffer, sb: number, mb: Buffer): number {
  if (sa < sb) return -1;
  if (sa > sb) return 1;
  return Buffer.compare(ma, mb);
}

/** `items` as Entries, sorted. */
export function sortedEntries(items: { member: Buffer; score: number }[]): Entries {
  items.sort((a, b) => compare(a.score, a.member, b.score, b.member));
  return { members: items.map((x) => x.member), scores: items.map((x) => x.score) };
}

const lookupZset = (ctx: ExecContext, key: Buffer) => lookupTyped(ctx, key, "zset");

/** The sorted set at `key` decoded, undefined when there is none, or WRONGTYPE. */
function readZset(ctx: ExecContext, key: Buffer): Entries | Reply | undefined {
  const value = lookupZset(ctx, key);
  if (value === undefined || isReply(value)) return value;
  return zsetEntries(value.data);
}

/** A command's result stored at `dst` as a new key (storeResult), with its size as the reply. */
export function storeEntriesAt(ctx: ExecContext, dst: Buffer, e: Entries, event: string): Reply {
  const data = e.members.length === 0 ? null : encodeZset(ctx, e);
  if (isReply(data)) return data;
  storeResult(ctx, dst, "zset", data, NOTIFY_ZSET, event);
  return integer(e.members.length);
}

/**
 * `e` with `changes` made: each member (latin1) gets its new score, or goes when null.
 * One pass over `e` merged with the changed members, sorted: O(N + K log K).
 */
function withChanges(e: Entries, changes: Map<string, { member: Buffer; score: number } | null>) {
  const added: { member: Buffer; score: number }[] = [];
  for (const c of changes.values()) if (c !== null) added.push(c);
  const add = sortedEntries(added);
  const members: Buffer[] = [];
  const scores: number[] = [];
  let j = 0;
  for (let i = 0; i < e.members.length; i++) {
    const m = e.members[i] as Buffer;
    const s = e.scores[i] as number;
    if (changes.has(m.toString("latin1"))) continue;
    while (
      j < add.members.length &&
      compare(add.scores[j] as number, add.members[j] as Buffer, s, m) < 0
    ) {
      members.push(add.members[j] as Buffer);
      scores.push(add.scores[j] as number);
      j++;
    }
    members.push(m);
    scores.push(s);
  }
  for (; j < add.members.length; j++) {
    members.push(add.members[j] as Buffer);
    scores.push(add.scores[j] as number);
  }
  return { members, scores };
}

// ---------------------------------------------------------------------------------------
// Numbers and ranges

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INFINITE = /^[+-]?(?:inf|infinity)$/i;
const HEX = /^[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?$/;
const NONZERO_DIGIT = /[1-9]/;

/**
 * C's strtod on the whole of `text`: the double, undefined when it is not a number or has
 * bytes after one. `strict` is Redis's string2d (scores, increments, weights): no leading
 * space, nothing empty. Without it, as zslParseRange and SORT read numbers with strtod:
 * leading spaces skipped, an empty string is 0. `rangeError` (string2d's and SORT's check
 * of errno) refuses an overflow to ±inf or an underflow to 0 but from "inf" or a zero;
 * a range's ends take them.
 */
export function strtod(text: string, strict: boolean, rangeError = strict): number | undefined {
  let s = text;
  if (!strict) {
    s = s.replace(/^[ \t\n\v\f\r]+/, "");
    if (s === "") return 0;
  }
  if (INFINITE.test(s)) return s.startsWith("-") ? -Infinity : Infinity;
  let value: number;
  let nonzero: boolean;
  if (DECIMAL.test(s)) {
    value = Number(s);
    nonzero = NONZERO_DIGIT.test(s.replace(/[eE].*$/, ""));
  } else if (HEX.test(s)) {
    const ld = parseLongDouble(Buffer.from(s, "latin1"));
    if (ld === undefined || ld.kind !== "finite") return undefined;
    value = (ld.negative ? -1 : 1) * Number(ld.mant) * 2 ** ld.exp;
    nonzero = ld.mant !== 0n;
  } else {
    return undefined;
  }
  if (rangeError && (!Number.isFinite(value) || (value === 0 && nonzero))) return undefined;
  return value;
}

/** A score, increment or weight argument (string2d), or undefined. */
export function parseScore(buf: Buffer): number | undefined {
  return strtod(buf.toString("latin1"), true);
}

interface ScoreRange {
  readonly min: number;
  readonly max: number;
  readonly minEx: boolean;
  readonly maxEx: boolean;
}

/** One end of a score range: "(" for exclusive, then a number as strtod reads it. */
function parseScoreEnd(buf: Buffer): { value: number; ex: boolean } | undefined {
  const text = buf.toString("latin1");
  const ex = text.startsWith("(");
  const value = strtod(ex ? text.slice(1) : text, false);
  return value === undefined ? undefined : { value, ex };
}

/** A score range [min, max], or RANGE_NOT_FLOAT. */
function parseScoreRange(min: Buffer, max: Buffer): ScoreRange | Reply {
  const a = parseScoreEnd(min);
  const b = parseScoreEnd(max);
  if (a === undefined || b === undefined) return RANGE_NOT_FLOAT;
  return { min: a.value, max: b.value, minEx: a.ex, maxEx: b.ex };
}

const aboveMin = (r: ScoreRange, s: number) => (r.minEx ? s > r.min : s >= r.min);
const belowMax = (r: ScoreRange, s: number) => (r.maxEx ? s < r.max : s <= r.max);

/** One end of a lex range: "-" (below all), "+" (above all), "[x" or "(x". */
type LexEnd = { readonly inf: -1 | 1 } | { readonly value: Buffer; readonly ex: boolean };

interface LexRange {
  readonly min: LexEnd;
  readonly max: LexEnd;
}

function parseLexEnd(buf: Buffer): LexEnd | undefined {
  if (buf.length === 1 && buf[0] === 0x2d) return { inf: -1 };
  if (buf.length === 1 && buf[0] === 0x2b) return { inf: 1 };
  if (buf[0] === 0x28 || buf[0] === 0x5b) return { value: buf.subarray(1), ex: buf[0] === 0x28 };
  return undefined;
}

/** A lex range [min, max], or LEX_RANGE_INVALID. */
function parseLexRange(min: Buffer, max: Buffer): LexRange | Reply {
  const a = parseLexEnd(min);
  const b = parseLexEnd(max);
  return a === undefined || b === undefined ? LEX_RANGE_INVALID : { min: a, max: b };
}

function gteMin(r: LexRange, m: Buffer): boolean {
  if ("inf" in r.min) return r.min.inf < 0;
  const c = Buffer.compare(m, r.min.value);
  return r.min.ex ? c > 0 : c >= 0;
}

function lteMax(r: LexRange, m: Buffer): boolean {
  if ("inf" in r.max) return r.max.inf > 0;
  const c = Buffer.compare(m, r.max.value);
  return r.max.ex ? c < 0 : c <= 0;
}

/** How two ends compare: "-" below every string, "+" above, each equal to itself. */
function compareEnds(a: LexEnd, b: LexEnd): number {
  if ("inf" in a) return "inf" in b && b.inf === a.inf ? 0 : a.inf;
  if ("inf" in b) return -b.inf;
  return Buffer.compare(a.value, b.value);
}

/**
 * Whether no member can be in `r`: Redis's check before any walk, where "-" and "+" count
 * as exclusive ends.
 */
function lexEmpty(r: LexRange): boolean {
  const c = compareEnds(r.min, r.max);
  const ex = (e: LexEnd) => "inf" in e || e.ex;
  return c > 0 || (c === 0 && (ex(r.min) || ex(r.max)));
}

/**
 * The entries' starts in the lex range `r`, in the order walked: as Redis walks a sorted
 * set in its small encoding, forward from the first member ≥ min while ≤ max, or backward
 * from the last member ≤ max while ≥ min (members of one score are in lex order; with
 * several scores the walk stops where Redis's does).
 */
function lexWalk(data: Buffer, r: LexRange, reverse: boolean): number[] {
  const out: number[] = [];
  if (lexEmpty(r)) return out;
  const count = zsetLength(data);
  if (!reverse) {
    let at = headerBytes;
    let i = 0;
    for (; i < count && !gteMin(r, memberOf(data, at)); i++) at = entryEnd(data, at);
    for (; i < count && lteMax(r, memberOf(data, at)); i++) {
      out.push(at);
      at = entryEnd(data, at);
    }
  } else {
    let end = data.length;
    let i = count - 1;
    for (; i >= 0 && !lteMax(r, memberOf(data, entryStart(data, end))); i--) {
      end = entryStart(data, end);
    }
    for (; i >= 0; i--) {
      const at = entryStart(data, end);
      if (!gteMin(r, memberOf(data, at))) break;
      out.push(at);
      end = at;
    }
  }
  return out;
}

/** Ranks start..stop (negative from the end) as Redis clamps them: [from, to] or null. */
function rankSpan(start: number, stop: number, count: number): [number, number] | null {
  let from = start < 0 ? count + start : start;
  const to = stop < 0 ? count + stop : stop;
  if (from < 0) from = 0;
  if (from > to || from >= count) return null;
  return [from, Math.min(to, count - 1)];
}

/** A 64-bit integer argument as a number (ranks, offsets), or NOT_INTEGER. */
function parseLong(buf: Buffer): number | Reply {
  const n = parseI64(buf);
  return n === undefined ? NOT_INTEGER : Number(n);
}

// ---------------------------------------------------------------------------------------
// ZADD, ZINCRBY, ZREM

interface AddFlags {
  nx: boolean;
  xx: boolean;
  gt: boolean;
  lt: boolean;
  ch: boolean;
  incr: boolean;
}

/** ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...], and ZINCRBY. */
function zaddGeneric(ctx: ExecContext, args: Args, incrOnly: boolean): Reply {
  const f: AddFlags = { nx: false, xx: false, gt: false, lt: false, ch: false, incr: incrOnly };
  let at = 2;
  if (!incrOnly) {
    for (; at < args.length; at++) {
      const word = args.lower(at);
      if (word === "nx" || word === "xx" || word === "gt" || word === "lt" || word === "ch") {
        f[word] = true;
      } else if (word === "incr") f.incr = true;
      else break;
    }
  }
  const n = args.length - at;
  if (n === 0 || n % 2 !== 0) return SYNTAX;
  if (f.nx && f.xx) return errorReply("ZADD_NX_XX");
  if ((f.gt && f.nx) || (f.lt && f.nx) || (f.gt && f.lt)) return errorReply("ZADD_GT_LT_NX");
  if (f.incr && n > 2) return errorReply("ZADD_INCR_PAIRS");
  const scores: number[] = [];
  for (let i = at; i < args.length; i += 2) {
    const s = parseScore(args.buf(i));
    if (s === undefined) return NOT_FLOAT;
    scores.push(s);
  }
  const key = args.buf(1);
  const old = lookupZset(ctx, key);
  if (isReply(old)) return old;
  if (old === undefined && f.xx) return f.incr ? NULL : ZERO;
  if (scores.length === 1) return addOne(ctx, key, old, args.buf(at + 1), scores[0] as number, f);
  const e = old === undefined ? { members: [], scores: [] } : zsetEntries(old.data);
  const changes = new Map<string, { member: Buffer; score: number } | null>();
  const index = n > 8 ? new Map(e.members.map((m, i) => [m.toString("latin1"), i])) : undefined;
  const current = (member: Buffer, k: string): number | undefined => {
    const changed = changes.get(k);
    if (changed !== undefined) return changed?.score;
    const i =
      index !== undefined
        ? (index.get(k) ?? -1)
        : old === undefined
          ? -1
          : (findMember(old.data, member)?.rank ?? -1);
    return i < 0 ? undefined : e.scores[i];
  };
  let added = 0;
  let updated = 0;
  let processed = 0;
  let last = 0;
  for (let j = 0; j < scores.length; j++) {
    const member = args.buf(at + 2 * j + 1);
    const k = member.toString("latin1");
    let score = scores[j] as number;
    const cur = current(member, k);
    if (cur !== undefined) {
      if (f.nx) continue;
      if (f.incr) {
        score += cur;
        if (Number.isNaN(score)) return NAN_SCORE;
      }
      if ((f.lt && score >= cur) || (f.gt && score <= cur)) continue;
      if (score !== cur) {
        changes.set(k, { member, score });
        updated++;
      }
    } else if (!f.xx) {
      changes.set(k, { member, score });
      added++;
    } else {
      continue;
    }
    processed++;
    last = score;
  }
  if (changes.size > 0) {
    notifyIfNew(ctx, key, old !== undefined);
    const data = encodeZset(ctx, withChanges(e, changes));
    if (isReply(data)) return data;
    store(ctx, key, old, data, "zset");
    notifyKey(ctx, NOTIFY_ZSET, f.incr ? "zincr" : "zadd", key);
  }
  if (f.incr) return processed > 0 ? double(last) : NULL;
  return integer(f.ch ? added + updated : added);
}

/** ZADD or ZINCRBY of one member, on the bytes: a walk to find it, one copy to move or add it. */
function addOne(
  ctx: ExecContext,
  key: Buffer,
  old: StoredValue | undefined,
  member: Buffer,
  given: number,
  f: AddFlags,
): Reply {
  const unchanged = f.incr ? NULL : ZERO;
  const found = old === undefined ? undefined : findMember(old.data, member);
  let score = given;
  let data: Buffer | Reply;
  if (found !== undefined && old !== undefined) {
    if (f.nx) return unchanged;
    const cur = old.data.readDoubleBE(found.at);
    if (f.incr) {
      score += cur;
      if (Number.isNaN(score)) return NAN_SCORE;
    }
    if ((f.lt && score >= cur) || (f.gt && score <= cur)) return unchanged;
    if (score === cur) return f.incr ? double(score) : ZERO;
    data = spliced(ctx, old.data, found.at, insertionPoint(old.data, score, member), score, member);
  } else if (!f.xx) {
    const at = old === undefined ? headerBytes : insertionPoint(old.data, score, member);
    data = spliced(ctx, old?.data, -1, at, score, member);
  } else {
    return unchanged;
  }
  if (isReply(data)) return data;
  notifyIfNew(ctx, key, old !== undefined);
  store(ctx, key, old, data, "zset");
  notifyKey(ctx, NOTIFY_ZSET, f.incr ? "zincr" : "zadd", key);
  if (f.incr) return double(score);
  return found === undefined || f.ch ? ONE : ZERO;
}

/** ZADD: also what GEOADD runs once it has turned positions into scores. */
export const zadd: CommandHandler = (ctx, args) => zaddGeneric(ctx, args, false);
const zincrby: CommandHandler = (ctx, args) => zaddGeneric(ctx, args, true);

const zrem: CommandHandler = (ctx, args) => {
  const key = args.buf(1);
  const old = lookupZset(ctx, key);
  if (old === undefined) return ZERO;
  if (isReply(old)) return old;
  if (args.length === 3) {
    const found = findMember(old.data, args.buf(2));
    if (found === undefined) return ZERO;
    const rest = spliced(ctx, old.data, found.at, -1, 0, EMPTY_ZSET);
    return isReply(rest) ? rest : removed(ctx, key, old, rest, 1, "zrem");
  }
  const e = zsetEntries(old.data);
  const changes = new Map<string, null>();
  const present = new Set(e.members.map((m) => m.toString("latin1")));
  for (let i = 2; i < args.length; i++) {
    const k = args.buf(i).toString("latin1");
    if (present.has(k)) changes.set(k, null);
  }
  if (changes.size === 0) return ZERO;
  const rest = encodeZset(ctx, withChanges(e, changes));
  return isReply(rest) ? rest : removed(ctx, key, old, rest, changes.size, "zrem");
};

/** Stores what is left (`rest`) at `key` after a removal of `count`, with `event` (and del). */
function removed(
  ctx: ExecContext,
  key: Buffer,
  old: StoredValue,
  rest: Buffer,
  count: number,
  event: string,
): Reply {
  const gone = zsetLength(rest) === 0;
  store(ctx, key, old, gone ? null : rest, "zset");
  notifyKey(ctx, NOTIFY_ZSET, event, key);
  if (gone) notifyKey(ctx, NOTIFY_GENERIC, "del", key);
  return integer(count);
}

/** `data` without the `count` entries from the one starting at `from` to `to` (exclusive): one copy. */
function cut(data: Buffer, from: number, to: number, count: number): Buffer {
  const out = Buffer.allocUnsafe(data.length - (to - from));
  out.writeUInt32BE(zsetLength(data) - count, 0);
  data.copy(out, headerBytes, headerBytes, from);
  data.copy(out, from, to);
  return out;
}

/** The entries' starts in score range `r`, walked from the low end (or, `reverse`, the high). */
function scoreWalk(data: Buffer, r: ScoreRange, reverse: boolean): number[] {
  const out: number[] = [];
  if (r.min > r.max || (r.min === r.max && (r.minEx || r.maxEx))) return out;
  const count = zsetLength(data);
  if (!reverse) {
    let at = headerBytes;
    for (let i = 0; i < count; i++) {
      const s = data.readDoubleBE(at);
      if (!belowMax(r, s)) break;
      if (aboveMin(r, s)) out.push(at);
      at = entryEnd(data, at);
    }
  } else {
    let end = data.length;
    for (let i = count - 1; i >= 0; i--) {
      const at = entryStart(data, end);
      const s = data.readDoubleBE(at);
      if (!aboveMin(r, s)) break;
      if (belowMax(r, s)) out.push(at);
      end = at;
    }
  }
  return out;
}

type RemoveKind = "rank" | "score" | "lex";

/** ZREMRANGEBYRANK, ZREMRANGEBYSCORE, ZREMRANGEBYLEX key min max: how many went. */
const zremrange =
  (kind: RemoveKind): CommandHandler =>
  (ctx, args) => {
    /** The entries to remove: their starts, in order. */
    let pick: (data: Buffer) => number[];
    if (kind === "rank") {
      const start = parseLong(args.buf(2));
      if (isReply(start)) return start;
      const stop = parseLong(args.buf(3));
      if (isReply(stop)) return stop;
      pick = (data) => {
        const span = rankSpan(start, stop, zsetLength(data));
        return span === null ? [] : ranksAt(data, span[0], span[1]);
      };
    } else if (kind === "score") {
      const range = parseScoreRange(args.buf(2), args.buf(3));
      if (isReply(range)) return range;
      pick = (data) => scoreWalk(data, range, false);
    } else {
      const range = parseLexRange(args.buf(2), args.buf(3));
      if (isReply(range)) return range;
      pick = (data) => lexWalk(data, range, false);
    }
    const key = args.buf(1);
    const old = lookupZset(ctx, key);
    if (old === undefined) return ZERO;
    if (isReply(old)) return old;
    const starts = pick(old.data);
    if (starts.length === 0) return ZERO;
    const from = starts[0] as number;
    const to = entryEnd(old.data, starts.at(-1) as number);
    const rest = cut(old.data, from, to, starts.length);
    return removed(ctx, key, old, rest, starts.length, `zremrangeby${kind}`);
  };

// ---------------------------------------------------------------------------------------
// Reads of one sorted set

const zcard: CommandHandler = (ctx, args) => {
  const value = lookupZset(ctx, args.buf(1));
  if (value === undefined) return ZERO;
  return isReply(value) ? value : integer(zsetLength(value.data));
};

const zscore: CommandHandler = (ctx, args) => {
  const value = lookupZset(ctx, args.buf(1));
  if (value === undefined) return NULL;
  if (isReply(value)) return value;
  const found = findMember(value.data, args.buf(2));
  return found === undefined ? NULL : double(value.data.readDoubleBE(found.at));
};

const zmscore: CommandHandler = (ctx, args) => {
  const value = lookupZset(ctx, args.buf(1));
  if (isReply(value)) return value;
  const out: Reply[] = [];
  for (let i = 2; i < args.length; i++) {
    const found = value === undefined ? undefined : findMember(value.data, args.buf(i));
    out.push(
      found === undefined || value === undefined ? NULL : double(value.data.readDoubleBE(found.at)),
    );
  }
  return array(out);
};

/** ZRANK and ZREVRANK key member: the member's rank from the lowest (or highest) score. */
const zrank =
  (reverse: boolean): CommandHandler =>
  (ctx, args) => {
    const value = lookupZset(ctx, args.buf(1));
    if (value === undefined) return NULL;
    if (isReply(value)) return value;
    const found = findMember(value.data, args.buf(2));
    if (found === undefined) return NULL;
    return integer(reverse ? zsetLength(value.data) - 1 - found.rank : found.rank);
  };

/** ZCOUNT and ZLEXCOUNT key min max: the members a walk of the range finds. */
function rangeCount<R>(
  parse: (min: Buffer, max: Buffer) => R | Reply,
  walk: (data: Buffer, range: R, reverse: boolean) => number[],
): CommandHandler {
  return (ctx, args) => {
    const range = parse(args.buf(2), args.buf(3));
    if (isReply(range)) return range;
    const value = lookupZset(ctx, args.buf(1));
    if (value === undefined) return ZERO;
    if (isReply(value)) return value;
    return integer(walk(value.data, range, false).length);
  };
}

const zcount = rangeCount(parseScoreRange, scoreWalk);
const zlexcount = rangeCount(parseLexRange, lexWalk);

// ---------------------------------------------------------------------------------------
// ZRANGE and its older forms, ZRANGESTORE

type RangeKind = "rank" | "score" | "lex";

interface RangeQuery {
  /** Not `kind`: isReply tells replies by that field. */
  readonly by: RangeKind;
  readonly reverse: boolean;
  readonly withScores: boolean;
  readonly offset: number;
  /** -1: no LIMIT. */
  readonly limit: number;
  readonly start: number;
  readonly stop: number;
  readonly score?: ScoreRange;
  readonly lex?: LexRange;
}

/**
 * The range arguments from the source key at `at` on, as zrangeGenericCommand reads them:
 * `kind` and `reverse` fixed by the older commands (ZRANGEBYSCORE, ZREVRANGE...), left to
 * BYSCORE, BYLEX and REV for ZRANGE and ZRANGESTORE (`store`: no WITHSCORES).
 */
function parseRange(
  args: Args,
  at: number,
  store: boolean,
  fixedKind?: RangeKind,
  fixedReverse?: boolean,
): RangeQuery | Reply {
  let kind = fixedKind;
  let reverse = fixedReverse;
  let withScores = false;
  let offset = 0;
  let limit = -1;
  for (let j = at + 3; j < args.length; j++) {
    const left = args.length - j - 1;
    if (!store && args.is(j, "withscores")) withScores = true;
    else if (args.is(j, "limit") && left >= 2) {
      const o = parseLong(args.buf(j + 1));
      if (isReply(o)) return o;
      const l = parseLong(args.buf(j + 2));
      if (isReply(l)) return l;
      offset = o;
      limit = l;
      j += 2;
    } else if (fixedReverse === undefined && reverse === undefined && args.is(j, "rev")) {
      reverse = true;
    } else if (fixedKind === undefined && kind === undefined && args.is(j, "bylex")) {
      kind = "lex";
    } else if (fixedKind === undefined && kind === undefined && args.is(j, "byscore")) {
      kind = "score";
    } else {
      return SYNTAX;
    }
  }
  kind ??= "rank";
  reverse ??= false;
  if (limit !== -1 && kind === "rank") return errorReply("ZRANGE_LIMIT_BY_RANK");
  if (withScores && kind === "lex") return errorReply("ZRANGE_WITHSCORES_BYLEX");
  let [minAt, maxAt] = [at + 1, at + 2];
  if (reverse && kind !== "rank") [minAt, maxAt] = [maxAt, minAt];
  const base = { by: kind, reverse, withScores, offset, limit };
  if (kind === "rank") {
    const start = parseLong(args.buf(minAt));
    if (isReply(start)) return start;
    const stop = parseLong(args.buf(maxAt));
    if (isReply(stop)) return stop;
    return { ...base, start, stop };
  }
  if (kind === "score") {
    const score = parseScoreRange(args.buf(minAt), args.buf(maxAt));
    return isReply(score) ? score : { ...base, start: 0, stop: 0, score };
  }
  const lex = parseLexRange(args.buf(minAt), args.buf(maxAt));
  return isReply(lex) ? lex : { ...base, start: 0, stop: 0, lex };
}

/** The entries' starts a range query selects in `data`, in the order of the reply. */
function rangeStarts(data: Buffer, q: RangeQuery): number[] {
  const n = zsetLength(data);
  if (q.by === "rank") {
    const span = rankSpan(q.start, q.stop, n);
    if (span === null) return [];
    if (!q.reverse) return ranksAt(data, span[0], span[1]);
    return ranksAt(data, n - 1 - span[1], n - 1 - span[0]).reverse();
  }
  if (q.offset < 0 || q.limit === 0) return [];
  const walked =
    q.by === "score"
      ? scoreWalk(data, q.score as ScoreRange, q.reverse)
      : lexWalk(data, q.lex as LexRange, q.reverse);
  if (q.offset === 0 && q.limit < 0) return walked;
  return q.limit < 0 ? walked.slice(q.offset) : walked.slice(q.offset, q.offset + q.limit);
}

/** The entries at `starts` of `data`, with their scores when asked: pairs in RESP3. */
function startsReply(data: Buffer, starts: readonly number[], withScores: boolean): Reply {
  const out: Reply[] = [];
  for (const at of starts) {
    out.push(bulk(memberOf(data, at)));
    if (withScores) out.push(double(data.readDoubleBE(at)));
  }
  return withScores ? pairs(out) : array(out);
}

/** The members of `e`, with their scores when asked: pairs in RESP3. */
function entriesReply(e: Entries, withScores: boolean, order?: readonly number[]): Reply {
  const out: Reply[] = [];
  const n = order?.length ?? e.members.length;
  for (let k = 0; k < n; k++) {
    const i = order === undefined ? k : (order[k] as number);
    out.push(bulk(e.members[i] as Buffer));
    if (withScores) out.push(double(e.scores[i] as number));
  }
  return withScores ? pairs(out) : array(out);
}

const zrangeGeneric =
  (kind?: RangeKind, reverse?: boolean): CommandHandler =>
  (ctx, args) => {
    const q = parseRange(args, 1, false, kind, reverse);
    if (isReply(q)) return q;
    const value = lookupZset(ctx, args.buf(1));
    if (value === undefined) return EMPTY_ARRAY;
    if (isReply(value)) return value;
    return startsReply(value.data, rangeStarts(value.data, q), q.withScores);
  };

/** ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]. */
const zrangestore: CommandHandler = (ctx, args) => {
  const q = parseRange(args, 2, true);
  if (isReply(q)) return q;
  const value = lookupZset(ctx, args.buf(2));
  if (isReply(value)) return value;
  const data = value?.data ?? EMPTY_ZSET;
  const picked = rangeStarts(data, q).map((at) => ({
    member: memberOf(data, at),
    score: data.readDoubleBE(at),
  }));
  return storeEntriesAt(ctx, args.buf(1), sortedEntries(picked), "zrangestore");
};

// ---------------------------------------------------------------------------------------
// Pops

/**
 * Pops up to `count` members from the low (min) or high end of `old` at `key`, with the
 * events Redis sends; the members taken and their scores, in the order popped, as replies.
 */
function popFrom(
  ctx: ExecContext,
  key: Buffer,
  old: StoredValue,
  count: number,
  min: boolean,
): [Reply, Reply][] {
  const data = old.data;
  const total = zsetLength(data);
  const n = Math.min(count, total);
  const starts = min ? ranksAt(data, 0, n - 1) : ranksAt(data, total - n, total - 1).reverse();
  const taken: [Reply, Reply][] = starts.map((at) => [
    bulk(memberOf(data, at)),
    double(data.readDoubleBE(at)),
  ]);
  const from = min ? headerBytes : (starts.at(-1) as number);
  const to = min ? entryEnd(data, starts.at(-1) as number) : data.length;
  store(ctx, key, old, n === total ? null : cut(data, from, to, n), "zset");
  notifyKey(ctx, NOTIFY_ZSET, min ? "zpopmin" : "zpopmax", key);
  if (n === total) notifyKey(ctx, NOTIFY_GENERIC, "del", key);
  return taken;
}

/** ZPOPMIN and ZPOPMAX key [count]: flat [member, score] alone, pairs with a count. */
const zpop =
  (min: boolean): CommandHandler =>
  (ctx, args) => {
    if (args.length > 3) return SYNTAX;
    let count = -1;
    if (args.length === 3) {
      const n = parsePopCount(args.buf(2));
      if (isReply(n)) return n;
      count = n;
    }
    const key = args.buf(1);
    const old = lookupZset(ctx, key);
    if (isReply(old)) return old;
    if (old === undefined || count === 0) return EMPTY_ARRAY;
    const taken = popFrom(ctx, key, old, count < 0 ? 1 : count, min).flat();
    return count < 0 ? array(taken) : pairs(taken);
  };

/**
 * Pops from the first of `keys` that holds a sorted set: [key, member, score] flat for
 * BZPOPMIN and BZPOPMAX (`single`), [key, [[member, score]...]] for ZMPOP and BZMPOP; a
 * null array when none holds one. A key of another type answers WRONGTYPE when reached.
 */
function popFirst(
  ctx: ExecContext,
  keys: readonly Buffer[],
  min: boolean,
  count: number,
  single: boolean,
): Reply {
  const first = firstHolding(ctx, keys, "zset");
  if (first === undefined) return NULL_ARRAY;
  if (isReply(first)) return first;
  const taken = popFrom(ctx, first.key, first.value, count, min);
  const name = bulk(Buffer.from(first.key));
  if (single) return array([name, ...(taken[0] as [Reply, Reply])]);
  return array([name, array(taken.map((pair) => array(pair)))]);
}

/** BZPOPMIN and BZPOPMAX key [key ...] timeout, run without blocking. */
const bzpop =
  (min: boolean): CommandHandler =>
  (ctx, args) => {
    const timeout = parseTimeout(args.buf(args.length - 1));
    if (isReply(timeout)) return timeout;
    return popFirst(ctx, argViews(args, 1, args.length - 1), min, 1, true);
  };

/** ZMPOP's and BZMPOP's ends, in parseMpop's order (the first is its `head`). */
export const ZMPOP_ENDS = ["min", "max"] as const;

const zmpop: CommandHandler = (ctx, args) => {
  const parsed = parseMpop(args, 1, ZMPOP_ENDS);
  if (isReply(parsed)) return parsed;
  return popFirst(ctx, parsed.keys, parsed.head, parsed.count, false);
};

/** BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count], run without blocking. */
const bzmpop: CommandHandler = (ctx, args) => {
  const parsed = parseMpop(args, 2, ZMPOP_ENDS);
  if (isReply(parsed)) return parsed;
  const timeout = parseTimeout(args.buf(1));
  if (isReply(timeout)) return timeout;
  return popFirst(ctx, parsed.keys, parsed.head, parsed.count, false);
};

// ---------------------------------------------------------------------------------------
// ZRANDMEMBER, ZSCAN

/** ZRANDMEMBER key [count [WITHSCORES]], drawn as HRANDFIELD draws (drawRandom). */
const zrandmember: CommandHandler = (ctx, args) => {
  if (args.length === 2) {
    const e = readZset(ctx, args.buf(1));
    if (e === undefined) return NULL;
    if (isReply(e)) return e;
    return bulk(e.members[ctx.random.int(e.members.length)] as Buffer);
  }
  const count = parseI64(args.buf(2));
  if (count === undefined) return NOT_INTEGER;
  if (count === I64_MIN) return errorReply("INT_RANGE", (-I64_MAX).toString(), I64_MAX.toString());
  if (args.length > 4 || (args.length === 4 && !args.is(3, "withscores"))) return SYNTAX;
  const withScores = args.length === 4;
  if (withScores && (count < -RANDFIELD_WITHVALUES_MAX || count > RANDFIELD_WITHVALUES_MAX)) {
    return errorReply("OUT_OF_RANGE");
  }
  const e = readZset(ctx, args.buf(1));
  if (e === undefined) return EMPTY_ARRAY;
  if (isReply(e)) return e;
  const drawn = drawRandom(
    ctx,
    e.members.map((_, i) => i),
    count,
  );
  if (isReply(drawn)) return drawn;
  return entriesReply(e, withScores, drawn);
};

/** ZSCAN key cursor [MATCH pattern] [COUNT count]: the whole set at once, as HSCAN. */
const zscan: CommandHandler = (ctx, args) => {
  if (parseCursor(args.buf(2)) === undefined) return INVALID_CURSOR;
  const e = readZset(ctx, args.buf(1));
  if (e === undefined) return EMPTY_SCAN;
  if (isReply(e)) return e;
  const options = parseScanOptions(args, 3, false);
  if (isReply(options)) return options;
  const out: Reply[] = [];
  for (let i = 0; i < e.members.length; i++) {
    const m = e.members[i] as Buffer;
    if (options.pattern !== undefined && !options.pattern.matches(m)) continue;
    out.push(bulk(m), bulk(formatDouble(e.scores[i] as number)));
  }
  return array([bulk("0"), array(out)]);
};

// ---------------------------------------------------------------------------------------
// Several sorted sets: ZUNION, ZINTER, ZDIFF, their STORE forms, ZINTERCARD

type Algebra = "union" | "inter" | "diff";
type Aggregate = "sum" | "min" | "max";

interface AlgebraArgs {
  readonly keys: Buffer[];
  readonly weights: number[];
  readonly aggregate: Aggregate;
  readonly withScores: boolean;
  /** ZINTERCARD's LIMIT; 0 for none. */
  readonly limit: number;
}

/** An input of ZUNION...: a sorted set, or a set (every member scored 1), or none. */
type Source = Entries | undefined;

/**
 * The arguments of ZUNION, ZINTER, ZDIFF, their STORE forms (`store`) and ZINTERCARD
 * (`card`) from the key count at `at` on, checking the inputs' types as Redis does (after
 * the key count, before the options), or the error they get.
 */
function parseAlgebra(
  ctx: ExecContext | undefined,
  args: Args,
  at: number,
  op: Algebra,
  name: string,
  store: boolean,
  card: boolean,
): { parsed: AlgebraArgs; sources: Source[] } | Reply {
  const numkeys = parseI64(args.buf(at));
  if (numkeys === undefined) return NOT_INTEGER;
  if (numkeys < 1n) return errorReply("ZSET_NUMKEYS", name);
  if (numkeys > BigInt(args.length - at - 1)) return SYNTAX;
  const n = Number(numkeys);
  const keys = argViews(args, at + 1, at + 1 + n);
  const sources: Source[] = [];
  if (ctx !== undefined) {
    for (const key of keys) {
      const value = lookup(ctx, key);
      if (value === undefined) sources.push(undefined);
      else if (value.type === "zset") sources.push(zsetEntries(value.data));
      else if (value.type === "set") {
        const members = hashPairs(value.data).map(([m]) => m);
        sources.push({ members, scores: members.map(() => 1) });
      } else return WRONG_TYPE;
    }
  }
  const weights = keys.map(() => 1);
  let aggregate: Aggregate = "sum";
  let withScores = false;
  let limit = 0;
  let j = at + 1 + n;
  while (j < args.length) {
    const remaining = args.length - j;
    if (op !== "diff" && !card && remaining >= n + 1 && args.is(j, "weights")) {
      j++;
      for (let i = 0; i < n; i++, j++) {
        const w = parseScore(args.buf(j));
        if (w === undefined) return errorReply("ZSET_WEIGHT_NOT_FLOAT");
        weights[i] = w;
      }
    } else if (op !== "diff" && !card && remaining >= 2 && args.is(j, "aggregate")) {
      const word = args.lower(j + 1);
      if (word !== "sum" && word !== "min" && word !== "max") return SYNTAX;
      aggregate = word;
      j += 2;
    } else if (!store && !card && args.is(j, "withscores")) {
      withScores = true;
      j++;
    } else if (card && remaining >= 2 && args.is(j, "limit")) {
      const l = parseI64(args.buf(j + 1));
      if (l === undefined || l < 0n) return errorReply("LIMIT_NEGATIVE");
      limit = l > BigInt(Number.MAX_SAFE_INTEGER) ? 0 : Number(l);
      j += 2;
    } else {
      return SYNTAX;
    }
  }
  return { parsed: { keys, weights, aggregate, withScores, limit }, sources };
}

function aggregated(how: Aggregate, a: number, b: number): number {
  if (how === "sum") {
    const s = a + b;
    return Number.isNaN(s) ? 0 : s;
  }
  // As Redis compares (not Math.min/max, which would order -0 below 0).
  if (how === "min" ? b < a : b > a) return b;
  return a;
}

/** A score times its weight, as Redis computes it (NaN, from inf × 0, is 0). */
function weighted(score: number, weight: number): number {
  const v = score * weight;
  return Number.isNaN(v) ? 0 : v;
}

/** The combined sorted set of `sources` (missing ones are empty); `limit` stops ZINTERCARD. */
function combine(op: Algebra, sources: Source[], a: AlgebraArgs, limit = 0): Entries {
  const inputs = sources.map((s, i) => ({
    e: s ?? { members: [], scores: [] },
    w: a.weights[i] as number,
  }));
  const out = new Map<string, { member: Buffer; score: number }>();
  if (op === "diff") {
    const [first, ...rest] = inputs;
    const gone = new Set<string>();
    for (const r of rest) for (const m of r.e.members) gone.add(m.toString("latin1"));
    const e = (first as (typeof inputs)[number]).e;
    e.members.forEach((m, i) => {
      const k = m.toString("latin1");
      if (!gone.has(k)) out.set(k, { member: m, score: e.scores[i] as number });
    });
    return sortedEntries([...out.values()]);
  }
  inputs.sort((x, y) => x.e.members.length - y.e.members.length);
  if (op === "inter") {
    const [smallest, ...others] = inputs as [(typeof inputs)[number], ...typeof inputs];
    if (smallest.e.members.length === 0) return { members: [], scores: [] };
    const maps = others.map(
      (o) => new Map(o.e.members.map((m, i) => [m.toString("latin1"), o.e.scores[i] as number])),
    );
    for (let i = 0; i < smallest.e.members.length; i++) {
      const m = smallest.e.members[i] as Buffer;
      const k = m.toString("latin1");
      let score = weighted(smallest.e.scores[i] as number, smallest.w);
      let inAll = true;
      for (let j = 0; j < maps.length; j++) {
        const s = (maps[j] as Map<string, number>).get(k);
        if (s === undefined) {
          inAll = false;
          break;
        }
        score = aggregated(
          a.aggregate,
          score,
          weighted(s, (others[j] as (typeof inputs)[number]).w),
        );
      }
      if (!inAll) continue;
      out.set(k, { member: m, score });
      if (limit > 0 && out.size >= limit) break;
    }
    return sortedEntries([...out.values()]);
  }
  for (const input of inputs) {
    input.e.members.forEach((m, i) => {
      const k = m.toString("latin1");
      const score = weighted(input.e.scores[i] as number, input.w);
      const seen = out.get(k);
      if (seen === undefined) out.set(k, { member: m, score });
      else seen.score = aggregated(a.aggregate, seen.score, score);
    });
  }
  return sortedEntries([...out.values()]);
}

/** ZUNION, ZINTER, ZDIFF numkeys key [key ...] [WEIGHTS...] [AGGREGATE...] [WITHSCORES]. */
const algebra =
  (op: Algebra): CommandHandler =>
  (ctx, args) => {
    const r = parseAlgebra(ctx, args, 1, op, `z${op}`, false, false);
    if (isReply(r)) return r;
    return entriesReply(combine(op, r.sources, r.parsed), r.parsed.withScores);
  };

/** ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE destination numkeys key [key ...] [options]. */
const algebraStore =
  (op: Algebra): CommandHandler =>
  (ctx, args) => {
    const r = parseAlgebra(ctx, args, 2, op, `z${op}store`, true, false);
    if (isReply(r)) return r;
    return storeEntriesAt(ctx, args.buf(1), combine(op, r.sources, r.parsed), `z${op}store`);
  };

/** ZINTERCARD numkeys key [key ...] [LIMIT limit]. */
const zintercard: CommandHandler = (ctx, args) => {
  const r = parseAlgebra(ctx, args, 1, "inter", "zintercard", false, true);
  if (isReply(r)) return r;
  return integer(combine("inter", r.sources, r.parsed, r.parsed.limit).members.length);
};

/**
 * A sorted-set command whose key count gives no keys (not a number, below 1, or more
 * than the arguments): the error it answers, for a cluster node to send without a shard.
 */
export function zsetKeyless(name: string, args: Args): Reply {
  switch (name) {
    case "zmpop":
    case "bzmpop": {
      const parsed = parseMpop(args, name === "bzmpop" ? 2 : 1, ZMPOP_ENDS);
      return isReply(parsed) ? parsed : SYNTAX;
    }
    case "zintercard": {
      const r = parseAlgebra(undefined, args, 1, "inter", name, false, true);
      return isReply(r) ? r : SYNTAX;
    }
    default: {
      const op = name.slice(1) as Algebra;
      const r = parseAlgebra(undefined, args, 1, op, name, false, false);
      return isReply(r) ? r : SYNTAX;
    }
  }
}

export const ZSET_HANDLERS: ReadonlyMap<string, CommandHandler> = new Map<string, CommandHandler>([
  ["zadd", zadd],
  ["zincrby", zincrby],
  ["zrem", zrem],
  ["zremrangebyrank", zremrange("rank")],
  ["zremrangebyscore", zremrange("score")],
  ["zremrangebylex", zremrange("lex")],
  ["zcard", zcard],
  ["zscore", zscore],
  ["zmscore", zmscore],
  ["zrank", zrank(false)],
  ["zrevrank", zrank(true)],
  ["zcount", zcount],
  ["zlexcount", zlexcount],
  ["zrange", zrangeGeneric()],
  ["zrevrange", zrangeGeneric("rank", true)],
  ["zrangebyscore", zrangeGeneric("score", false)],
  ["zrevrangebyscore", zrangeGeneric("score", true)],
  ["zrangebylex", zrangeGeneric("lex", false)],
  ["zrevrangebylex", zrangeGeneric("lex", true)],
  ["zrangestore", zrangestore],
  ["zpopmin", zpop(true)],
  ["zpopmax", zpop(false)],
  ["bzpopmin", bzpop(true)],
  ["bzpopmax", bzpop(false)],
  ["zmpop", zmpop],
  ["bzmpop", bzmpop],
  ["zrandmember", zrandmember],
  ["zscan", zscan],
  ["zunion", algebra("union")],
  ["zinter", algebra("inter")],
  ["zdiff", algebra("diff")],
  ["zunionstore", algebraStore("union")],
  ["zinterstore", algebraStore("inter")],
  ["zdiffstore", algebraStore("diff")],
  ["zintercard", zintercard],
]);

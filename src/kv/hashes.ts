import { u32be } from "../core/bytes.js";
import { array, bulk, integer, map, NULL, OK, pairs } from "../resp/reply.js";
import type { Args, Reply } from "../resp/types.js";
import type { StoredValue, ValueType } from "../storage/types.js";
import { integerReply, isReply, lookup, NO_EXPIRY } from "./db.js";
import { errorReply, NOT_FLOAT, NOT_INTEGER, OVERFLOW, WRONG_TYPE, wrongArity } from "./errors.js";
import { NOTIFY_GENERIC, NOTIFY_HASH, notifyIfNew, notifyKey } from "./notify.js";
import {
  addLongDouble,
  formatLongDoubleHuman,
  I64_MAX,
  I64_MIN,
  type LongDouble,
  parseI64,
  parseLongDouble,
} from "./numbers.js";
import { INVALID_CURSOR, parseCursor, parseScanOptions } from "./scan.js";
import type { CommandHandler, ExecContext } from "./types.js";

/**
 * Hashes. A hash is one stored value (StoredValue.data) holding its fields in insertion
 * order, as Redis's small-hash encoding (listpack) does:
 *
 *   data  = count:u32 pair{count}
 *   pair  = fieldLength:u32 field valueLength:u32 value
 *
 * A command that reads one field scans the pairs; one that changes the hash copies it once
 * around the ranges it changes (edit), so a write costs O(N) in the hash's bytes, a pass
 * and a copy (docs/commands.md, "hash"). The store, the raft log, snapshot images and
 * WATCH's fingerprints see a hash as one value, like a string. An empty hash is never
 * stored: the command that removes the last field deletes the key, as Redis does.
 */

const ZERO = integer(0);
const ONE = integer(1);
const EMPTY_SCAN = array([bulk("0"), array([])]);
/**
 * A hash is one value, so it is bounded as a string is: its encoding may not pass
 * proto-max-bulk-len (512 MiB by default; snapshot images and the key space's records
 * hold it whole).
 */
const HASH_TOO_LONG = errorReply("HASH_TOO_LONG");
const LD_ZERO: LongDouble = { kind: "finite", negative: false, mant: 0n, exp: 0 };

/** Bytes of a hash with no field: its count. */
const headerBytes = 4;

/** The number of fields of a hash's data. */
export function hashLength(data: Buffer): number {
  return data.readUInt32BE(0);
}

const truncated = () => new RangeError("hash value truncated");

/**
 * Calls `visit(fieldStart, fieldEnd, valueStart, valueEnd)` for each pair in order. Throws
 * on data that does not hold the pairs its count says.
 */
function eachPair(data: Buffer, visit: (fs: number, fe: number, vs: number, ve: number) => void) {
  const count = data.readUInt32BE(0);
  let at = headerBytes;
  for (let i = 0; i < count; i++) {
    const fs = at + 4;
    const fe = fs + u32be(data, at);
    if (fe + 4 > data.length) throw truncated();
    const ve = fe + 4 + u32be(data, fe);
    if (ve > data.length) throw truncated();
    visit(fs, fe, fe + 4, ve);
    at = ve;
  }
  if (at !== data.length) throw new RangeError("hash value has trailing bytes");
}

/** Where a field's pair is in a hash's data: the pair's first byte, its value's range. */
interface Place {
  readonly pair: number;
  readonly vs: number;
  readonly ve: number;
}

/**
 * The place of `field`'s pair in `data`, or undefined: one pass over the pairs, comparing
 * lengths and last bytes (which tell apart field names that count, as `user:17` and
 * `user:18`) before the bytes themselves (a native call each).
 */
function find(data: Buffer, field: Buffer): Place | undefined {
  const count = data.readUInt32BE(0);
  const n = field.length;
  const last = n > 0 ? (field[n - 1] as number) : -1;
  let at = headerBytes;
  for (let i = 0; i < count; i++) {
    const length = u32be(data, at);
    const fs = at + 4;
    const fe = fs + length;
    if (fe + 4 > data.length) throw truncated();
    const ve = fe + 4 + u32be(data, fe);
    if (ve > data.length) throw truncated();
    if (length === n && (n === 0 || (data[fe - 1] === last && field.compare(data, fs, fe) === 0))) {
      return { pair: at, vs: fe + 4, ve };
    }
    at = ve;
  }
  return undefined;
}

/** The value of `field` as a view of `data`, or undefined when the hash has no such field. */
export function hashGet(data: Buffer, field: Buffer): Buffer | undefined {
  const place = find(data, field);
  return place === undefined ? undefined : data.subarray(place.vs, place.ve);
}

/** Every pair of a hash, in order, as views of `data`. */
export function hashPairs(data: Buffer): [Buffer, Buffer][] {
  const out: [Buffer, Buffer][] = [];
  eachPair(data, (fs, fe, vs, ve) => {
    out.push([data.subarray(fs, fe), data.subarray(vs, ve)]);
  });
  return out;
}

/** The bytes of a hash holding `fields`. */
function encodedBytes(fields: readonly (readonly [Buffer, Buffer])[]): number {
  let bytes = headerBytes;
  for (const [f, v] of fields) bytes += 8 + f.length + v.length;
  return bytes;
}

/** The data of a hash holding `fields` in their order. */
export function encodeHash(fields: readonly (readonly [Buffer, Buffer])[]): Buffer {
  const out = Buffer.allocUnsafe(encodedBytes(fields));
  out.writeUInt32BE(fields.length, 0);
  let at = headerBytes;
  for (const [f, v] of fields) at = writePair(out, at, f, v);
  return out;
}

/**
 * encodeHash, or `tooLong` when the data would pass proto-max-bulk-len: a hash or set is
 * one value, bounded as a string is (snapshot images and the key space's records hold it
 * whole).
 */
export function encodeBounded(
  ctx: ExecContext,
  fields: readonly (readonly [Buffer, Buffer])[],
  tooLong: Reply,
): Buffer | Reply {
  return encodedBytes(fields) > ctx.maxBulkBytes ? tooLong : encodeHash(fields);
}

function writePair(out: Buffer, at: number, field: Buffer, value: Buffer): number {
  out.writeUInt32BE(field.length, at);
  at += 4 + field.copy(out, at + 4);
  out.writeUInt32BE(value.length, at);
  return at + 4 + value.copy(out, at + 4);
}

/** A hash's data after a command's changes, and what they did. */
export interface Edited {
  /** null: no field is left (the key goes). */
  readonly data: Buffer | null;
  readonly created: number;
  readonly deleted: number;
}

/**
 * Fields a command names up to which it edits the bytes in place (one pass over the hash
 * per field); past it, the hash is decoded into a map once.
 */
const placeEditFieldsMax = 16;

/**
 * Applies `sets` (field-value pairs; a field named twice takes its last value and keeps
 * its first place) and `deletes` to a hash's data (undefined: no hash yet). An existing
 * field keeps its place; new fields come last, in the order first named. The new data is
 * built in one copy of the old around the changed ranges, so a write costs a pass over
 * the hash and a copy of it, whatever the hash's size (docs/commands.md, "hash"). The
 * arguments are copied into it: the views of a command die with it.
 */
export function edit(
  ctx: ExecContext,
  data: Buffer | undefined,
  sets: readonly (readonly [Buffer, Buffer])[],
  deletes: readonly Buffer[],
  tooLong: Reply = HASH_TOO_LONG,
): Edited | Reply {
  const old = data ?? EMPTY_HASH;
  if (sets.length + deletes.length > placeEditFieldsMax) {
    return editDecoded(ctx, old, sets, deletes, tooLong);
  }
  const unique: [Buffer, Buffer][] = [];
  for (const [f, v] of sets) {
    const seen = unique.find(([g]) => g.equals(f));
    if (seen === undefined) unique.push([f, v]);
    else seen[1] = v;
  }
  const cuts: { start: number; end: number; field?: Buffer; value?: Buffer }[] = [];
  const appended: [Buffer, Buffer][] = [];
  for (const [f, v] of unique) {
    const place = find(old, f);
    if (place === undefined) appended.push([f, v]);
    else cuts.push({ start: place.vs - 4, end: place.ve, value: v });
  }
  let deleted = 0;
  for (const f of deletes) {
    const place = find(old, f);
    if (place === undefined || cuts.some((c) => c.start === place.pair)) continue;
    cuts.push({ start: place.pair, end: place.ve });
    deleted++;
  }
  const count = hashLength(old) + appended.length - deleted;
  if (count === 0) return { data: null, created: appended.length, deleted };
  cuts.sort((a, b) => a.start - b.start);
  let bytes = old.length;
  for (const c of cuts)
    bytes += (c.value === undefined ? 0 : 4 + c.value.length) - (c.end - c.start);
  for (const [f, v] of appended) bytes += 8 + f.length + v.length;
  if (bytes > ctx.maxBulkBytes) return tooLong;
  const out = Buffer.allocUnsafe(bytes);
  out.writeUInt32BE(count, 0);
  let from = headerBytes;
  let at = headerBytes;
  for (const c of cuts) {
    at += old.copy(out, at, from, c.start);
    if (c.value !== undefined) {
      out.writeUInt32BE(c.value.length, at);
      at += 4 + c.value.copy(out, at + 4);
    }
    from = c.end;
  }
  at += old.copy(out, at, from);
  for (const [f, v] of appended) at = writePair(out, at, f, v);
  return { data: out, created: appended.length, deleted };
}

/** edit() for commands naming many fields: the hash decoded into a map once. */
function editDecoded(
  ctx: ExecContext,
  old: Buffer,
  sets: readonly (readonly [Buffer, Buffer])[],
  deletes: readonly Buffer[],
  tooLong: Reply,
): Edited | Reply {
  const fields = new Map<string, [Buffer, Buffer]>();
  for (const pair of hashPairs(old)) fields.set(pair[0].toString("latin1"), pair);
  let created = 0;
  for (const [f, v] of sets) {
    const name = f.toString("latin1");
    const had = fields.get(name);
    if (had !== undefined) had[1] = v;
    else {
      fields.set(name, [f, v]);
      created++;
    }
  }
  let deleted = 0;
  for (const f of deletes) if (fields.delete(f.toString("latin1"))) deleted++;
  if (fields.size === 0) return { data: null, created, deleted };
  const data = encodeBounded(ctx, [...fields.values()], tooLong);
  return isReply(data) ? data : { data, created, deleted };
}

const EMPTY_HASH = encodeHash([]);

/** The live value of `type` at `key`; WRONGTYPE for another type; undefined when absent. */
export function lookupTyped(
  ctx: ExecContext,
  key: Buffer,
  type: ValueType,
): StoredValue | Reply | undefined {
  const value = lookup(ctx, key);
  if (value !== undefined && value.type !== type) return WRONG_TYPE;
  return value;
}

/**
 * The first of `keys` that holds a value, with it (the pops of several keys: BLPOP, ZMPOP...);
 * WRONGTYPE when a key holding another type than `type` is reached first; undefined if none.
 */
export function firstHolding(
  ctx: ExecContext,
  keys: readonly Buffer[],
  type: ValueType,
): { key: Buffer; value: StoredValue } | Reply | undefined {
  for (const key of keys) {
    const value = lookupTyped(ctx, key, type);
    if (value !== undefined) return isReply(value) ? value : { key, value };
  }
  return undefined;
}

const lookupHash = (ctx: ExecContext, key: Buffer) => lookupTyped(ctx, key, "hash");

/**
 * Stores the edited hash at `key`, keeping the old hash's expiry (a hash changed is not a
 * new key); no data left deletes the key.
 */
export function store(
  ctx: ExecContext,
  key: Buffer,
  old: StoredValue | undefined,
  data: Buffer | null,
  type: ValueType = "hash",
): void {
  if (data === null) {
    ctx.store.delete(key);
    return;
  }
  ctx.store.set(key, { type, data, expireAtMs: old?.expireAtMs ?? NO_EXPIRY });
}

/**
 * A command's result stored at `dst` as a new key of `type` (SINTERSTORE, ZUNIONSTORE,
 * SORT ... STORE...): whatever `dst` held is replaced, expiry included, with an `event` of
 * `eventClass` (and "new" when it did not exist); no data (an empty result) deletes `dst`,
 * with a del event if it existed.
 */
export function storeResult(
  ctx: ExecContext,
  dst: Buffer,
  type: ValueType,
  data: Buffer | null,
  eventClass: number,
  event: string,
): void {
  const existed = lookup(ctx, dst) !== undefined;
  if (data === null) {
    if (!existed) return;
    ctx.store.delete(dst);
    notifyKey(ctx, NOTIFY_GENERIC, "del", dst);
    return;
  }
  notifyIfNew(ctx, dst, existed);
  ctx.store.set(dst, { type, data, expireAtMs: NO_EXPIRY });
  notifyKey(ctx, eventClass, event, dst);
}

// ---------------------------------------------------------------------------------------
// Writes

/**
 * Sets one field to `value` in the hash at `key` (created if missing), keeping its expiry:
 * what HSETNX, HINCRBY and HINCRBYFLOAT store, with their event. Null once stored, else
 * the refusal (the hash would pass proto-max-bulk-len).
 */
function setOne(
  ctx: ExecContext,
  key: Buffer,
  old: StoredValue | undefined,
  field: Buffer,
  value: Buffer,
  event: string,
): Reply | null {
  const edited = edit(ctx, old?.data, [[field, value]], []);
  if (isReply(edited)) return edited;
  notifyIfNew(ctx, key, old !== undefined);
  store(ctx, key, old, edited.data);
  notifyKey(ctx, NOTIFY_HASH, event, key);
  return null;
}

/** HSET and HMSET: field-value pairs from argument 2 on; the number of new fields. */
function hsetGeneric(ctx: ExecContext, args: Args, name: string): Reply | number {
  if (args.length % 2 === 1) return wrongArity(name);
  const key = args.buf(1);
  const old = lookupHash(ctx, key);
  if (isReply(old)) return old;
  const sets: [Buffer, Buffer][] = [];
  for (let i = 2; i < args.length; i += 2) sets.push([args.buf(i), args.buf(i + 1)]);
  const edited = edit(ctx, old?.data, sets, []);
  if (isReply(edited)) return edited;
  notifyIfNew(ctx, key, old !== undefined);
  store(ctx, key, old, edited.data);
  notifyKey(ctx, NOTIFY_HASH, "hset", key);
  return edited.created;
}

const hset: CommandHandler = (ctx, args) => {
  const r = hsetGeneric(ctx, args, "hset");
  return typeof r === "number" ? integer(r) : r;
};

const hmset: CommandHandler = (ctx, args) => {
  const r = hsetGeneric(ctx, args, "hmset");
  return typeof r === "number" ? OK : r;
};

const hsetnx: CommandHandler = (ctx, args) => {
  const key = args.buf(1);
  const old = lookupHash(ctx, key);
  if (isReply(old)) return old;
  if (old !== undefined && hashGet(old.data, args.buf(2)) !== undefined) return ZERO;
  return setOne(ctx, key, old, args.buf(2), args.buf(3), "hset") ?? ONE;
};

const hdel: CommandHandler = (ctx, args) => {
  const key = args.buf(1);
  const old = lookupHash(ctx, key);
  if (old === undefined) return ZERO;
  if (isReply(old)) return old;
  const deletes: Buffer[] = [];
  for (let i = 2; i < args.length; i++) deletes.push(args.buf(i));
  const edited = edit(ctx, old.data, [], deletes);
  if (isReply(edited)) return edited;
  if (edited.deleted === 0) return ZERO;
  store(ctx, key, old, edited.data);
  notifyKey(ctx, NOTIFY_HASH, "hdel", key);
  if (edited.data === null) notifyKey(ctx, NOTIFY_GENERIC, "del", key);
  return integer(edited.deleted);
};

/** HINCRBY: the field's integer plus the increment, as Redis's hincrbyCommand. */
const hincrby: CommandHandler = (ctx, args) => {
  const delta = parseI64(args.buf(3));
  if (delta === undefined) return NOT_INTEGER;
  const key = args.buf(1);
  const old = lookupHash(ctx, key);
  if (isReply(old)) return old;
  let current = 0n;
  const stored = old === undefined ? undefined : hashGet(old.data, args.buf(2));
  if (stored !== undefined) {
    const parsed = parseI64(stored);
    if (parsed === undefined) return errorReply("HASH_NOT_INTEGER");
    current = parsed;
  }
  const next = current + delta;
  if (next > I64_MAX || next < I64_MIN) return OVERFLOW;
  const value = Buffer.from(next.toString(), "latin1");
  return setOne(ctx, key, old, args.buf(2), value, "hincrby") ?? integerReply(next);
};

/** HINCRBYFLOAT: long double arithmetic and formatting, as INCRBYFLOAT. */
const hincrbyfloat: CommandHandler = (ctx, args) => {
  const delta = parseLongDouble(args.buf(3));
  if (delta === undefined) return NOT_FLOAT;
  if (delta.kind !== "finite") return errorReply("NAN_OR_INFINITY_ARGUMENT");
  const key = args.buf(1);
  const old = lookupHash(ctx, key);
  if (isReply(old)) return old;
  const stored = old === undefined ? undefined : hashGet(old.data, args.buf(2));
  const current = stored === undefined ? LD_ZERO : parseLongDouble(stored);
  if (current === undefined) return errorReply("HASH_NOT_FLOAT");
  const sum = addLongDouble(current, delta);
  if (sum.kind !== "finite") return errorReply("NAN_OR_INFINITY");
  const data = Buffer.from(formatLongDoubleHuman(sum), "latin1");
  return setOne(ctx, key, old, args.buf(2), data, "hincrbyfloat") ?? bulk(data);
};

// ---------------------------------------------------------------------------------------
// Reads

/** A read of the hash at argument 1: `absent` when there is none, WRONGTYPE for another type. */
function readHash(
  ctx: ExecContext,
  args: Args,
  absent: Reply,
  present: (data: Buffer) => Reply,
): Reply {
  const value = lookupHash(ctx, args.buf(1));
  if (value === undefined) return absent;
  return isReply(value) ? value : present(value.data);
}

const hget: CommandHandler = (ctx, args) =>
  readHash(ctx, args, NULL, (data) => {
    const v = hashGet(data, args.buf(2));
    return v === undefined ? NULL : bulk(v);
  });

const hmget: CommandHandler = (ctx, args) => {
  const value = lookupHash(ctx, args.buf(1));
  if (isReply(value)) return value;
  const out: Reply[] = [];
  for (let i = 2; i < args.length; i++) {
    const v = value === undefined ? undefined : hashGet(value.data, args.buf(i));
    out.push(v === undefined ? NULL : bulk(v));
  }
  return array(out);
};

const hexists: CommandHandler = (ctx, args) =>
  readHash(ctx, args, ZERO, (data) => (hashGet(data, args.buf(2)) === undefined ? ZERO : ONE));

const hstrlen: CommandHandler = (ctx, args) =>
  readHash(ctx, args, ZERO, (data) => integer(hashGet(data, args.buf(2))?.length ?? 0));

const hlen: CommandHandler = (ctx, args) =>
  readHash(ctx, args, ZERO, (data) => integer(hashLength(data)));

const hkeys: CommandHandler = (ctx, args) =>
  readHash(ctx, args, array([]), (data) => array(hashPairs(data).map(([f]) => bulk(f))));

const hvals: CommandHandler = (ctx, args) =>
  readHash(ctx, args, array([]), (data) => array(hashPairs(data).map(([, v]) => bulk(v))));

const hgetall: CommandHandler = (ctx, args) =>
  readHash(ctx, args, map([]), (data) =>
    map(hashPairs(data).map(([f, v]) => [bulk(f), bulk(v)] as const)),
  );

/**
 * Draws with repeats (HRANDFIELD, SRANDMEMBER with a negative count) past which the count
 * is refused as out of range: the reply is built whole before it is sent (Redis streams
 * it), so a count of billions would take the node's memory. Redis has no such bound.
 */
export const RANDOM_REPEATS_MAX = 1_000_000;

/** HRANDFIELD's count with WITHVALUES must stay within ±LONG_MAX/2, as Redis checks. */
export const RANDFIELD_WITHVALUES_MAX = (2n ** 63n - 1n) / 2n;

/**
 * HRANDFIELD key [count [WITHVALUES]], as Redis's hrandfieldCommand: without a count one
 * field or null; a positive count gives that many distinct fields (all of them when the
 * hash has no more), in the hash's order; a negative one |count| fields drawn
 * independently, so possibly repeated, in the order drawn (drawRandom).
 */
const hrandfield: CommandHandler = (ctx, args) => {
  if (args.length === 2) {
    return readHash(ctx, args, NULL, (data) => {
      const all = hashPairs(data);
      return bulk((all[ctx.random.int(all.length)] as [Buffer, Buffer])[0]);
    });
  }
  const count = parseI64(args.buf(2));
  if (count === undefined) return NOT_INTEGER;
  if (count === I64_MIN) return errorReply("INT_RANGE", (-I64_MAX).toString(), I64_MAX.toString());
  if (args.length > 4 || (args.length === 4 && !args.is(3, "withvalues"))) {
    return errorReply("SYNTAX");
  }
  const withValues = args.length === 4;
  if (withValues && (count < -RANDFIELD_WITHVALUES_MAX || count > RANDFIELD_WITHVALUES_MAX)) {
    return errorReply("OUT_OF_RANGE");
  }
  const reply = (chosen: [Buffer, Buffer][]): Reply =>
    withValues
      ? pairs(chosen.flatMap(([f, v]) => [bulk(f), bulk(v)]))
      : array(chosen.map(([f]) => bulk(f)));
  return readHash(ctx, args, array([]), (data) => {
    const drawn = drawRandom(ctx, hashPairs(data), count);
    return isReply(drawn) ? drawn : reply(drawn);
  });
};

/**
 * `count` of `items` drawn as HRANDFIELD, SRANDMEMBER and SPOP draw them: a negative count
 * gives |count| items drawn independently (so possibly repeated), in the order drawn; a
 * positive one that many distinct items (all of them when there are no more), in their
 * order, picked by a partial Fisher-Yates shuffle. The draws come from the context's
 * random, never Math.random: a write's (SPOP) is seeded by its log entry, so every
 * replica draws the same, and a simulation replays them.
 */
export function drawRandom<T>(ctx: ExecContext, items: readonly T[], count: bigint): T[] | Reply {
  if (count < 0n) {
    if (-count > RANDOM_REPEATS_MAX) return errorReply("OUT_OF_RANGE");
    const out: T[] = [];
    for (let i = 0n; i < -count; i++) out.push(items[ctx.random.int(items.length)] as T);
    return out;
  }
  if (count >= BigInt(items.length)) return items.slice();
  const n = Number(count);
  const order = items.map((_, i) => i);
  for (let i = 0; i < n; i++) {
    const j = i + ctx.random.int(order.length - i);
    const t = order[i] as number;
    order[i] = order[j] as number;
    order[j] = t;
  }
  return order
    .slice(0, n)
    .sort((a, b) => a - b)
    .map((i) => items[i] as T);
}

/**
 * HSCAN key cursor [MATCH pattern] [COUNT count]: the whole hash in one reply with cursor
 * 0, as Redis answers for a hash in its small encoding. A hash is one value here, so one
 * call costs what any walk of it would; COUNT is a hint Redis also ignores then.
 */
const hscan: CommandHandler = (ctx, args) => {
  if (parseCursor(args.buf(2)) === undefined) return INVALID_CURSOR;
  // Redis looks the key up before it reads the options: a missing key's scan is empty
  // whatever they are.
  return readHash(ctx, args, EMPTY_SCAN, (data) => {
    const options = parseScanOptions(args, 3, false);
    if (isReply(options)) return options;
    const found: Reply[] = [];
    for (const [f, v] of hashPairs(data)) {
      if (options.pattern !== undefined && !options.pattern.matches(f)) continue;
      found.push(bulk(f), bulk(v));
    }
    return array([bulk("0"), array(found)]);
  });
};

export const HASH_HANDLERS: ReadonlyMap<string, CommandHandler> = new Map([
  ["hset", hset],
  ["hmset", hmset],
  ["hsetnx", hsetnx],
  ["hdel", hdel],
  ["hincrby", hincrby],
  ["hincrbyfloat", hincrbyfloat],
  ["hget", hget],
  ["hmget", hmget],
  ["hexists", hexists],
  ["hstrlen", hstrlen],
  ["hlen", hlen],
  ["hkeys", hkeys],
  ["hvals", hvals],
  ["hgetall", hgetall],
  ["hrandfield", hrandfield],
  ["hscan", hscan],
]);

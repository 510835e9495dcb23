import { array, bulk, integer, NULL, set } from "../resp/reply.js";
import type { Args, Reply } from "../resp/types.js";
import type { StoredValue } from "../storage/types.js";
import { argViews, isReply } from "./db.js";
import { errorReply, NOT_INTEGER, SYNTAX } from "./errors.js";
import {
  drawRandom,
  edit,
  encodeBounded,
  hashGet,
  hashLength,
  hashPairs,
  lookupTyped,
  storeResult,
  store as storeValue,
} from "./hashes.js";
import { NOTIFY_GENERIC, NOTIFY_SET, notifyIfNew, notifyKey } from "./notify.js";
import { I64_MAX, I64_MIN, parseI64 } from "./numbers.js";
import { INVALID_CURSOR, parseCursor, parseScanOptions } from "./scan.js";
import type { CommandHandler, ExecContext } from "./types.js";

/**
 * Sets. A set is one stored value in the hash's encoding (hashes.ts) with an empty value
 * per member: its members in the order they were first added, each with its length. So
 * what hashes.ts says of cost holds here: a command that asks about one member scans the
 * set, one that changes it copies it once, O(N) in the set's bytes; SCARD reads a count.
 * An empty set is never stored: the command that removes the last member deletes the key.
 * Replies that Redis sends as sets (SMEMBERS, SINTER...) are RESP3 sets, in insertion
 * order here (Redis's order is its hash table's).
 */

const ZERO = integer(0);
const ONE = integer(1);
const EMPTY = Buffer.alloc(0);
const EMPTY_SET = set([]);
const EMPTY_SCAN = array([bulk("0"), array([])]);
const SET_TOO_LONG = errorReply("SET_TOO_LONG");

const lookupSet = (ctx: ExecContext, key: Buffer) => lookupTyped(ctx, key, "set");

/** The members of a set's data, in order, as views of it. */
function members(data: Buffer): Buffer[] {
  return hashPairs(data).map(([m]) => m);
}

function isMember(data: Buffer, member: Buffer): boolean {
  return hashGet(data, member) !== undefined;
}

/** Stores a set's new data at `key` (null: none left, the key goes), keeping its expiry. */
function store(ctx: ExecContext, key: Buffer, old: StoredValue | undefined, data: Buffer | null) {
  storeValue(ctx, key, old, data, "set");
}

// ---------------------------------------------------------------------------------------
// One set

const sadd: CommandHandler = (ctx, args) => {
  const key = args.buf(1);
  const old = lookupSet(ctx, key);
  if (isReply(old)) return old;
  const pairs = argViews(args, 2).map((m) => [m, EMPTY] as const);
  const edited = edit(ctx, old?.data, pairs, [], SET_TOO_LONG);
  if (isReply(edited)) return edited;
  if (edited.created === 0) return ZERO;
  notifyIfNew(ctx, key, old !== undefined);
  store(ctx, key, old, edited.data);
  notifyKey(ctx, NOTIFY_SET, "sadd", key);
  return integer(edited.created);
};

/** Removes `gone` from the set at `key`, with srem (or `event`) and del events; how many went. */
function remove(
  ctx: ExecContext,
  key: Buffer,
  old: StoredValue,
  gone: readonly Buffer[],
  event = "srem",
): number | Reply {
  const edited = edit(ctx, old.data, [], gone, SET_TOO_LONG);
  if (isReply(edited)) return edited;
  if (edited.deleted === 0) return 0;
  store(ctx, key, old, edited.data);
  notifyKey(ctx, NOTIFY_SET, event, key);
  if (edited.data === null) notifyKey(ctx, NOTIFY_GENERIC, "del", key);
  return edited.deleted;
}

const srem: CommandHandler = (ctx, args) => {
  const key = args.buf(1);
  const old = lookupSet(ctx, key);
  if (old === undefined) return ZERO;
  if (isReply(old)) return old;
  const n = remove(ctx, key, old, argViews(args, 2));
  return typeof n === "number" ? integer(n) : n;
};

const scard: CommandHandler = (ctx, args) => {
  const value = lookupSet(ctx, args.buf(1));
  if (value === undefined) return ZERO;
  return isReply(value) ? value : integer(hashLength(value.data));
};

const sismember: CommandHandler = (ctx, args) => {
  const value = lookupSet(ctx, args.buf(1));
  if (value === undefined) return ZERO;
  if (isReply(value)) return value;
  return isMember(value.data, args.buf(2)) ? ONE : ZERO;
};

const smismember: CommandHandler = (ctx, args) => {
  const value = lookupSet(ctx, args.buf(1));
  if (isReply(value)) return value;
  const out: Reply[] = [];
  for (let i = 2; i < args.length; i++) {
    out.push(value !== undefined && isMember(value.data, args.buf(i)) ? ONE : ZERO);
  }
  return array(out);
};

const smembers: CommandHandler = (ctx, args) => {
  const value = lookupSet(ctx, args.buf(1));
  if (value === undefined) return EMPTY_SET;
  return isReply(value) ? value : set(members(value.data).map((m) => bulk(m)));
};

const smove: CommandHandler = (ctx, args) => {
  const [from, to, member] = [args.buf(1), args.buf(2), args.buf(3)];
  const src = lookupSet(ctx, from);
  const dst = lookupSet(ctx, to);
  if (src === undefined) return ZERO;
  if (isReply(src)) return src;
  if (isReply(dst)) return dst;
  if (from.equals(to)) return isMember(src.data, member) ? ONE : ZERO;
  if (!isMember(src.data, member)) return ZERO;
  const added = edit(ctx, dst?.data, [[member, EMPTY]], [], SET_TOO_LONG);
  if (isReply(added)) return added;
  const removed = remove(ctx, from, src, [member]);
  if (isReply(removed)) return removed;
  if (added.created > 0) {
    notifyIfNew(ctx, to, dst !== undefined);
    store(ctx, to, dst, added.data);
    notifyKey(ctx, NOTIFY_SET, "sadd", to);
  }
  return ONE;
};

/** SPOP key [count], as Redis's spopCommand: the members taken are gone (spop, del). */
const spop: CommandHandler = (ctx, args) => {
  if (args.length > 3) return SYNTAX;
  const key = args.buf(1);
  let count = -1;
  if (args.length === 3) {
    const n = parseI64(args.buf(2));
    if (n === undefined || n < 0n) return errorReply("NOT_POSITIVE");
    count = n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
  }
  const old = lookupSet(ctx, key);
  if (old === undefined) return count < 0 ? NULL : EMPTY_SET;
  if (isReply(old)) return old;
  if (count === 0) return EMPTY_SET;
  const all = members(old.data);
  const taken = drawRandom(ctx, all, BigInt(count < 0 ? -1 : count));
  if (isReply(taken)) return taken;
  const reply = count < 0 ? bulk(taken[0] as Buffer) : set(taken.map((m) => bulk(m)));
  const removed = remove(ctx, key, old, taken, "spop");
  return isReply(removed) ? removed : reply;
};

/** SRANDMEMBER key [count], as Redis's srandmemberCommand (and HRANDFIELD's counts). */
const srandmember: CommandHandler = (ctx, args) => {
  if (args.length > 3) return SYNTAX;
  if (args.length === 2) {
    const value = lookupSet(ctx, args.buf(1));
    if (value === undefined) return NULL;
    if (isReply(value)) return value;
    const all = members(value.data);
    return bulk(all[ctx.random.int(all.length)] as Buffer);
  }
  const count = parseI64(args.buf(2));
  if (count === undefined) return NOT_INTEGER;
  if (count === I64_MIN) return errorReply("INT_RANGE", (-I64_MAX).toString(), I64_MAX.toString());
  const value = lookupSet(ctx, args.buf(1));
  if (value === undefined) return array([]);
  if (isReply(value)) return value;
  const drawn = drawRandom(ctx, members(value.data), count);
  return isReply(drawn) ? drawn : array(drawn.map((m) => bulk(m)));
};

/** SSCAN key cursor [MATCH pattern] [COUNT count]: the whole set at once, as HSCAN. */
const sscan: CommandHandler = (ctx, args) => {
  if (parseCursor(args.buf(2)) === undefined) return INVALID_CURSOR;
  const value = lookupSet(ctx, args.buf(1));
  if (value === undefined) return EMPTY_SCAN;
  if (isReply(value)) return value;
  const options = parseScanOptions(args, 3, false);
  if (isReply(options)) return options;
  const found = members(value.data).filter((m) => options.pattern?.matches(m) ?? true);
  return array([bulk("0"), array(found.map((m) => bulk(m)))]);
};

// ---------------------------------------------------------------------------------------
// Several sets: SINTER, SUNION, SDIFF, their STORE forms, SINTERCARD

type Algebra = "inter" | "union" | "diff";

/**
 * The members of `keys`' sets combined, in the order of the first set's members then
 * each later set's new ones (SINTER: of the smallest set's); WRONGTYPE if any key holds
 * another type, whatever else is missing (Redis checks every key). A missing key is an
 * empty set. `limit` (SINTERCARD) stops an intersection once it has that many.
 */
function combine(
  ctx: ExecContext,
  keys: readonly Buffer[],
  op: Algebra,
  limit = 0,
): Buffer[] | Reply {
  const datas: (Buffer | undefined)[] = [];
  for (const key of keys) {
    const value = lookupSet(ctx, key);
    if (isReply(value)) return value;
    datas.push(value?.data);
  }
  if (op === "inter") {
    if (datas.some((d) => d === undefined)) return [];
    const sorted = (datas as Buffer[]).slice().sort((a, b) => hashLength(a) - hashLength(b));
    const [smallest, ...others] = sorted as [Buffer, ...Buffer[]];
    const out: Buffer[] = [];
    for (const m of members(smallest)) {
      if (others.every((d) => isMember(d, m))) out.push(m);
      if (limit > 0 && out.length >= limit) break;
    }
    return out;
  }
  const [first, ...rest] = datas;
  if (op === "diff") {
    if (first === undefined) return [];
    const others = rest.filter((d): d is Buffer => d !== undefined);
    return members(first).filter((m) => !others.some((d) => isMember(d, m)));
  }
  const seen = new Set<string>();
  const out: Buffer[] = [];
  for (const d of datas) {
    if (d === undefined) continue;
    for (const m of members(d)) {
      const k = m.toString("latin1");
      if (seen.has(k)) continue;
      seen.add(k);
      out.push(m);
    }
  }
  return out;
}

const algebra =
  (op: Algebra): CommandHandler =>
  (ctx, args) => {
    const result = combine(ctx, argViews(args, 1), op);
    return isReply(result) ? result : set(result.map((m) => bulk(m)));
  };

/** SINTERSTORE, SUNIONSTORE, SDIFFSTORE: the result replaces the destination, expiry and all. */
const algebraStore =
  (op: Algebra): CommandHandler =>
  (ctx, args) => {
    const dst = args.buf(1);
    const result = combine(ctx, argViews(args, 2), op);
    if (isReply(result)) return result;
    let data: Buffer | Reply | null = null;
    if (result.length > 0) {
      data = encodeBounded(
        ctx,
        result.map((m) => [m, EMPTY]),
        SET_TOO_LONG,
      );
      if (isReply(data)) return data;
    }
    storeResult(ctx, dst, "set", data, NOTIFY_SET, `s${op}store`);
    return integer(result.length);
  };

/** SINTERCARD's key count and LIMIT, or the error Redis answers for them. */
function sintercardArgs(args: Args): { keys: number; limit: number } | Reply {
  const numkeys = parseI64(args.buf(1));
  if (numkeys === undefined || numkeys < 1n) return errorReply("NUMKEYS_NOT_POSITIVE");
  if (numkeys > BigInt(args.length - 2)) return errorReply("NUMKEYS_TOO_MANY");
  const keys = Number(numkeys);
  let limit = 0;
  for (let i = 2 + keys; i < args.length; i++) {
    if (!args.is(i, "limit") || i + 1 >= args.length) return SYNTAX;
    const l = parseI64(args.buf(++i));
    if (l === undefined || l < 0n) return errorReply("LIMIT_NEGATIVE");
    limit = l > BigInt(Number.MAX_SAFE_INTEGER) ? 0 : Number(l);
  }
  return { keys, limit };
}

/**
 * SINTERCARD with no key to route by (its key count is not a number, or too large): the
 * error it gets, answered by a cluster node itself (cluster-router.ts).
 */
export function sintercardKeyless(args: Args): Reply {
  const parsed = sintercardArgs(args);
  return isReply(parsed) ? parsed : SYNTAX;
}

/** SINTERCARD numkeys key [key ...] [LIMIT limit]: the intersection's size, up to LIMIT. */
const sintercard: CommandHandler = (ctx, args) => {
  const parsed = sintercardArgs(args);
  if (isReply(parsed)) return parsed;
  const keys: Buffer[] = [];
  for (let i = 2; i < 2 + parsed.keys; i++) keys.push(args.buf(i));
  const result = combine(ctx, keys, "inter", parsed.limit);
  return isReply(result) ? result : integer(result.length);
};

export const SET_HANDLERS: ReadonlyMap<string, CommandHandler> = new Map([
  ["sadd", sadd],
  ["srem", srem],
  ["scard", scard],
  ["sismember", sismember],
  ["smismember", smismember],
  ["smembers", smembers],
  ["smove", smove],
  ["spop", spop],
  ["srandmember", srandmember],
  ["sscan", sscan],
  ["sinter", algebra("inter")],
  ["sunion", algebra("union")],
  ["sdiff", algebra("diff")],
  ["sinterstore", algebraStore("inter")],
  ["sunionstore", algebraStore("union")],
  ["sdiffstore", algebraStore("diff")],
  ["sintercard", sintercard],
]);

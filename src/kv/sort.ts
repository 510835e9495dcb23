import { array, bulk, integer, NULL } from "../resp/reply.js";
import type { Args, Reply } from "../resp/types.js";
import { isReply, lookup } from "./db.js";
import { errorReply, NOT_INTEGER, SYNTAX, WRONG_TYPE } from "./errors.js";
import { hashGet, hashPairs, storeResult } from "./hashes.js";
import { encodeList, listElements } from "./lists.js";
import { NOTIFY_LIST } from "./notify.js";
import { parseI64 } from "./numbers.js";
import type { CommandHandler, ExecContext } from "./types.js";
import { strtod, zsetEntries } from "./zsets.js";

/**
 * SORT and SORT_RO, as Redis's sortCommandGeneric: the elements of a list, set or sorted
 * set, sorted as numbers (or as bytes with ALPHA), or by the values of other keys (BY
 * weight_*, or a hash field: BY h_*->f), with LIMIT, the values of other keys in place of
 * the elements (GET, # for the element itself), DESC, and STORE into a list. A BY pattern
 * without `*` does not sort: lists and sorted sets keep their order (DESC reverses it),
 * a set keeps its own (sorted as bytes when stored, as Redis does for a stable result).
 *
 * A cluster shard refuses BY with a pattern and GET, as Redis Cluster does: the keys they
 * name may live in other shards.
 */

const CONVERSION_ERROR = errorReply("SORT_NOT_DOUBLE");

interface SortOptions {
  desc: boolean;
  alpha: boolean;
  limitStart: number;
  limitCount: number;
  by?: Buffer;
  dontSort: boolean;
  gets: Buffer[];
  store?: Buffer;
}

/** SORT's options from argument 2 on, or the error Redis answers for them. */
function parseOptions(ctx: ExecContext, args: Args, readonly: boolean): SortOptions | Reply {
  const o: SortOptions = {
    desc: false,
    alpha: false,
    limitStart: 0,
    limitCount: -1,
    dontSort: false,
    gets: [],
  };
  for (let j = 2; j < args.length; j++) {
    const left = args.length - j - 1;
    if (args.is(j, "asc")) o.desc = false;
    else if (args.is(j, "desc")) o.desc = true;
    else if (args.is(j, "alpha")) o.alpha = true;
    else if (args.is(j, "limit") && left >= 2) {
      const start = parseI64(args.buf(j + 1));
      const count = parseI64(args.buf(j + 2));
      if (start === undefined || count === undefined) return NOT_INTEGER;
      o.limitStart = Number(start);
      o.limitCount = Number(count);
      j += 2;
    } else if (!readonly && args.is(j, "store") && left >= 1) {
      o.store = args.buf(++j);
    } else if (args.is(j, "by") && left >= 1) {
      const by = args.buf(++j);
      o.by = by;
      if (!by.includes(0x2a)) o.dontSort = true;
      else if (ctx.sharded) return errorReply("SORT_BY_CLUSTER");
    } else if (args.is(j, "get") && left >= 1) {
      if (ctx.sharded) return errorReply("SORT_GET_CLUSTER");
      o.gets.push(args.buf(++j));
    } else {
      return SYNTAX;
    }
  }
  return o;
}

/**
 * The value `pattern` names for `element` (lookupKeyByPattern): `#` is the element itself;
 * the first `*` is replaced by the element; `key->field` reads a hash field. Undefined when
 * there is no `*`, no such key, or a key of the wrong type.
 */
function byPattern(ctx: ExecContext, pattern: Buffer, element: Buffer): Buffer | undefined {
  if (pattern.length === 1 && pattern[0] === 0x23) return element;
  const star = pattern.indexOf(0x2a);
  if (star < 0) return undefined;
  const arrow = pattern.indexOf("->", star + 1);
  const field = arrow >= 0 && arrow + 2 < pattern.length ? pattern.subarray(arrow + 2) : undefined;
  const keyEnd = field === undefined ? pattern.length : arrow;
  const key = Buffer.concat([
    pattern.subarray(0, star),
    element,
    pattern.subarray(star + 1, keyEnd),
  ]);
  const value = lookup(ctx, key);
  if (value === undefined) return undefined;
  if (field !== undefined) return value.type === "hash" ? hashGet(value.data, field) : undefined;
  return value.type === "string" ? value.data : undefined;
}

/** The elements of the value at `key` (none for a missing key), or WRONGTYPE. */
function elementsOf(ctx: ExecContext, key: Buffer): { type: string; elements: Buffer[] } | Reply {
  const value = lookup(ctx, key);
  if (value === undefined) return { type: "list", elements: [] };
  switch (value.type) {
    case "list":
      return { type: "list", elements: listElements(value.data) };
    case "set":
      return { type: "set", elements: hashPairs(value.data).map(([m]) => m) };
    case "zset":
      return { type: "zset", elements: zsetEntries(value.data).members };
    default:
      return WRONG_TYPE;
  }
}

interface Item {
  readonly element: Buffer;
  score: number;
  cmp?: Buffer | undefined;
}

function sortGeneric(ctx: ExecContext, args: Args, readonly: boolean): Reply {
  const o = parseOptions(ctx, args, readonly);
  if (isReply(o)) return o;
  const found = elementsOf(ctx, args.buf(1));
  if (isReply(found)) return found;
  let { elements } = found;
  // A set's own order is its hash table's in Redis: stored, or sorted for a script (whose
  // effects must not depend on it), it is sorted as bytes.
  if (o.dontSort && found.type === "set" && (o.store !== undefined || ctx.inScript === true)) {
    o.dontSort = false;
    o.alpha = true;
    o.by = undefined;
  }
  const n = elements.length;
  let start = Math.min(Math.max(o.limitStart, 0), n);
  const count = Math.min(Math.max(o.limitCount, -1), n);
  let end = count < 0 ? n - 1 : start + count - 1;
  if (start >= n) {
    start = n - 1;
    end = n - 2;
  }
  if (end >= n) end = n - 1;
  if (o.dontSort && found.type !== "set" && o.desc) elements = elements.slice().reverse();
  const items: Item[] = elements.map((element) => ({ element, score: 0 }));
  let conversionError = false;
  if (!o.dontSort) {
    for (const item of items) {
      const by = o.by === undefined ? item.element : byPattern(ctx, o.by, item.element);
      if (by === undefined) continue;
      if (o.alpha) {
        if (o.by !== undefined) item.cmp = by;
      } else {
        const score = strtod(by.toString("latin1"), false, true);
        if (score === undefined) conversionError = true;
        else item.score = score;
      }
    }
    const byPatternAlpha = o.alpha && o.by !== undefined;
    items.sort((a, b) => {
      let c: number;
      if (!o.alpha) {
        c = a.score > b.score ? 1 : a.score < b.score ? -1 : Buffer.compare(a.element, b.element);
      } else if (byPatternAlpha) {
        if (a.cmp === undefined || b.cmp === undefined) {
          c = a.cmp === b.cmp ? 0 : a.cmp === undefined ? -1 : 1;
        } else {
          c = Buffer.compare(a.cmp, b.cmp);
        }
      } else {
        c = Buffer.compare(a.element, b.element);
      }
      return o.desc ? -c : c;
    });
  }
  if (conversionError) return CONVERSION_ERROR;
  const out: (Buffer | undefined)[] = [];
  for (let j = start; j <= end; j++) {
    const element = (items[j] as Item).element;
    if (o.gets.length === 0) out.push(element);
    for (const get of o.gets) out.push(byPattern(ctx, get, element));
  }
  if (o.store === undefined) return array(out.map((v) => (v === undefined ? NULL : bulk(v))));
  return storeSorted(ctx, o.store, out);
}

/** SORT ... STORE: the result as a list at `dst` (a missing GET value is ""), or dst deleted. */
function storeSorted(ctx: ExecContext, dst: Buffer, out: (Buffer | undefined)[]): Reply {
  const data =
    out.length === 0
      ? null
      : encodeList(
          ctx,
          out.map((v) => v ?? Buffer.alloc(0)),
        );
  if (isReply(data)) return data;
  storeResult(ctx, dst, "list", data, NOTIFY_LIST, "sortstore");
  return integer(out.length);
}

export const SORT_HANDLERS: ReadonlyMap<string, CommandHandler> = new Map<string, CommandHandler>([
  ["sort", (ctx, args) => sortGeneric(ctx, args, false)],
  ["sort_ro", (ctx, args) => sortGeneric(ctx, args, true)],
]);

import { array, bulk, integer, NULL, OK } from "../resp/reply.js";
import type { Args, Reply } from "../resp/types.js";
import type { StoredValue } from "../storage/types.js";
import { integerReply, isReply, lookup, NO_EXPIRY, storeUnlessExpired, stringValue } from "./db.js";
import {
  errorReply,
  invalidExpire,
  NOT_FLOAT,
  NOT_INTEGER,
  OVERFLOW,
  SYNTAX,
  WRONG_TYPE,
  wrongArity,
} from "./errors.js";
import { NOTIFY_GENERIC, NOTIFY_STRING, notifyIfNew, notifyKey } from "./notify.js";
import {
  addLongDouble,
  formatLongDoubleHuman,
  I64_MAX,
  I64_MIN,
  type LongDouble,
  parseI64,
  parseLongDouble,
} from "./numbers.js";
import type { CommandHandler, ExecContext } from "./types.js";

/** Redis answers an empty bulk string, not null, for GETRANGE on a missing key. */
const EMPTY_BULK = bulk(Buffer.alloc(0));
const ZERO = integer(0);
const ONE = integer(1);

// ---------------------------------------------------------------------------------------
// Expiry options shared by SET, GETEX, SETEX and PSETEX

/** Which options appeared (Redis's OBJ_* flags). */
interface StringOptions {
  nx: boolean;
  xx: boolean;
  get: boolean;
  keepTtl: boolean;
  persist: boolean;
  /** The expiry form given, if any, and the index of its value argument. */
  expiry: "ex" | "px" | "exat" | "pxat" | undefined;
  expiryArg: number;
}

/**
 * Reads SET's options (from index 3) or GETEX's (from index 2) with Redis's rules: each
 * option may repeat, NX excludes XX, the expiry forms and KEEPTTL/PERSIST exclude each
 * other (but the same form may repeat, the last value winning), and anything else — an
 * unknown word, an option of the other command, a missing value — is a syntax error.
 */
function parseStringOptions(args: Args, forSet: boolean): StringOptions | Reply {
  // A plain SET, the hottest write: no object made per command.
  if (args.length <= (forSet ? 3 : 2)) return noOptions;
  const o = plainOptions({});
  const expiryOther = (form: StringOptions["expiry"]) =>
    o.keepTtl || o.persist || (o.expiry !== undefined && o.expiry !== form);
  for (let j = forSet ? 3 : 2; j < args.length; j++) {
    const hasNext = j + 1 < args.length;
    const word = args.byteLength(j) <= 7 ? args.lower(j) : "";
    if (word === "nx" && forSet && !o.xx) {
      o.nx = true;
    } else if (word === "xx" && forSet && !o.nx) {
      o.xx = true;
    } else if (word === "get" && forSet) {
      o.get = true;
    } else if (word === "keepttl" && forSet && !o.persist && o.expiry === undefined) {
      o.keepTtl = true;
    } else if (word === "persist" && !forSet && o.expiry === undefined && !o.keepTtl) {
      o.persist = true;
    } else if (
      (word === "ex" || word === "px" || word === "exat" || word === "pxat") &&
      !expiryOther(word) &&
      hasNext
    ) {
      o.expiry = word;
      o.expiryArg = ++j;
    } else {
      return SYNTAX;
    }
  }
  return o;
}

/**
 * getExpireMillisecondsOrReply: the absolute expiry in ms for an EX/PX/EXAT/PXAT value.
 * Zero or negative values, and values that overflow 64 bits once converted to absolute
 * milliseconds, are "invalid expire time"; non-integers are "not an integer".
 */
function absoluteExpiry(
  ctx: ExecContext,
  arg: Buffer,
  form: "ex" | "px" | "exat" | "pxat",
  command: string,
): bigint | Reply {
  let ms = parseI64(arg);
  if (ms === undefined) return NOT_INTEGER;
  const seconds = form === "ex" || form === "exat";
  if (ms <= 0n || (seconds && ms > I64_MAX / 1000n)) return invalidExpire(command);
  if (seconds) ms *= 1000n;
  if (form === "ex" || form === "px") ms += BigInt(ctx.nowMs);
  if (ms > I64_MAX) return invalidExpire(command);
  return ms;
}

// ---------------------------------------------------------------------------------------
// GET, SET and their variants

/** The live string at `key`; WRONGTYPE for another type; undefined when absent. */
export function lookupString(ctx: ExecContext, key: Buffer): StoredValue | Reply | undefined {
  const value = lookup(ctx, key);
  if (value !== undefined && value.type !== "string") return WRONG_TYPE;
  return value;
}

const get: CommandHandler = (ctx, args) => {
  const value = lookupString(ctx, args.buf(1));
  if (value === undefined) return NULL;
  return isReply(value) ? value : bulk(value.data);
};

/**
 * setGenericCommand: validate the expiry, read the old value for GET, apply NX/XX, write.
 * `okReply`/`abortReply` are SETNX's 1/0, SET's OK/null.
 */
function setGeneric(
  ctx: ExecContext,
  args: Args,
  o: StringOptions,
  valueIndex: number,
  command: string,
  okReply: Reply = OK,
  abortReply: Reply = NULL,
): Reply {
  const key = args.buf(1);
  let expireAtMs = NO_EXPIRY;
  if (o.expiry !== undefined) {
    const at = absoluteExpiry(ctx, args.buf(o.expiryArg), o.expiry, command);
    if (isReply(at)) return at;
    expireAtMs = Number(at);
  }
  // Plain SET needs no read: skip the lookup on the hottest write path.
  const needsOld = o.nx || o.xx || o.get || o.keepTtl;
  const old = needsOld ? lookup(ctx, key) : undefined;
  let getReply: Reply = NULL;
  if (o.get && old !== undefined) {
    if (old.type !== "string") return WRONG_TYPE;
    getReply = bulk(old.data);
  }
  if ((o.nx && old !== undefined) || (o.xx && old === undefined)) {
    return o.get ? getReply : abortReply;
  }
  if (o.keepTtl && old !== undefined) expireAtMs = old.expireAtMs;
  if (ctx.notify !== undefined) notifyIfNew(ctx, key, needsOld ? old !== undefined : undefined);
  // An EXAT/PXAT already past leaves the key absent, as Redis's lazy expiry would.
  storeUnlessExpired(ctx, key, stringValue(args.buf(valueIndex), expireAtMs));
  if (ctx.notify !== undefined) {
    notifyKey(ctx, NOTIFY_STRING, "set", key);
    if (o.expiry !== undefined) notifyKey(ctx, NOTIFY_GENERIC, "expire", key);
  }
  return o.get ? getReply : okReply;
}

const set: CommandHandler = (ctx, args) => {
  const o = parseStringOptions(args, true);
  if (isReply(o)) return o;
  return setGeneric(ctx, args, o, 2, "set");
};

function plainOptions(overrides: Partial<StringOptions>): StringOptions {
  return {
    nx: false,
    xx: false,
    get: false,
    keepTtl: false,
    persist: false,
    expiry: undefined,
    expiryArg: 0,
    ...overrides,
  };
}

/** No option given: shared, never changed. */
const noOptions: StringOptions = Object.freeze(plainOptions({}));

const setnx: CommandHandler = (ctx, args) =>
  setGeneric(ctx, args, plainOptions({ nx: true }), 2, "setnx", ONE, ZERO);

const setex: CommandHandler = (ctx, args) =>
  setGeneric(ctx, args, plainOptions({ expiry: "ex", expiryArg: 2 }), 3, "setex");

const psetex: CommandHandler = (ctx, args) =>
  setGeneric(ctx, args, plainOptions({ expiry: "px", expiryArg: 2 }), 3, "psetex");

const getset: CommandHandler = (ctx, args) => {
  const key = args.buf(1);
  const old = lookupString(ctx, key);
  if (isReply(old)) return old;
  notifyIfNew(ctx, key, old !== undefined);
  ctx.store.set(key, stringValue(args.buf(2)));
  notifyKey(ctx, NOTIFY_STRING, "set", key);
  return old === undefined ? NULL : bulk(old.data);
};

const getdel: CommandHandler = (ctx, args) => {
  const key = args.buf(1);
  const old = lookupString(ctx, key);
  if (old === undefined || isReply(old)) return old ?? NULL;
  ctx.store.delete(key);
  notifyKey(ctx, NOTIFY_GENERIC, "del", key);
  return bulk(old.data);
};

const getex: CommandHandler = (ctx, args) => {
  const o = parseStringOptions(args, false);
  if (isReply(o)) return o;
  const key = args.buf(1);
  const value = lookupString(ctx, key);
  if (value === undefined || isReply(value)) return value ?? NULL;
  if (o.expiry !== undefined) {
    const at = absoluteExpiry(ctx, args.buf(o.expiryArg), o.expiry, "getex");
    if (isReply(at)) return at;
    // EX/PX always land in the future; an EXAT/PXAT in the past deletes the key.
    storeUnlessExpired(ctx, key, { ...value, expireAtMs: Number(at) });
    notifyKey(ctx, NOTIFY_GENERIC, Number(at) <= ctx.nowMs ? "del" : "expire", key);
  } else if (o.persist && value.expireAtMs !== NO_EXPIRY) {
    ctx.store.set(key, { ...value, expireAtMs: NO_EXPIRY });
    notifyKey(ctx, NOTIFY_GENERIC, "persist", key);
  }
  return bulk(value.data);
};

const mget: CommandHandler = (ctx, args) => {
  const out: Reply[] = [];
  for (let i = 1; i < args.length; i++) {
    const value = lookup(ctx, args.buf(i));
    // MGET answers null for keys of another type rather than failing the batch.
    out.push(value === undefined || value.type !== "string" ? NULL : bulk(value.data));
  }
  return array(out);
};

function msetGeneric(ctx: ExecContext, args: Args, nx: boolean): Reply {
  if (args.length % 2 === 0) return wrongArity(nx ? "msetnx" : "mset");
  if (nx) {
    for (let i = 1; i < args.length; i += 2) {
      if (lookup(ctx, args.buf(i)) !== undefined) return ZERO;
    }
  }
  for (let i = 1; i < args.length; i += 2) {
    const key = args.buf(i);
    notifyIfNew(ctx, key);
    ctx.store.set(key, stringValue(args.buf(i + 1)));
    notifyKey(ctx, NOTIFY_STRING, "set", key);
  }
  return nx ? ONE : OK;
}

const mset: CommandHandler = (ctx, args) => msetGeneric(ctx, args, false);
const msetnx: CommandHandler = (ctx, args) => msetGeneric(ctx, args, true);

// ---------------------------------------------------------------------------------------
// Byte-level edits

/** checkStringLength: would a string of `total` bytes exceed proto-max-bulk-len? */
function tooLong(ctx: ExecContext, total: bigint | number): boolean {
  return BigInt(total) > BigInt(ctx.maxBulkBytes);
}

const append: CommandHandler = (ctx, args) => {
  const key = args.buf(1);
  const addition = args.buf(2);
  const old = lookupString(ctx, key);
  if (isReply(old)) return old;
  if (old === undefined) {
    notifyIfNew(ctx, key, false);
    ctx.store.set(key, stringValue(addition));
    notifyKey(ctx, NOTIFY_STRING, "append", key);
    return integer(addition.length);
  }
  if (tooLong(ctx, old.data.length + addition.length)) return errorReply("STRING_TOO_LONG");
  const data = Buffer.concat([old.data, addition]);
  ctx.store.set(key, { ...old, data });
  notifyKey(ctx, NOTIFY_STRING, "append", key);
  return integer(data.length);
};

const strlen: CommandHandler = (ctx, args) => {
  const value = lookupString(ctx, args.buf(1));
  if (value === undefined) return ZERO;
  return isReply(value) ? value : integer(value.data.length);
};

const getrange: CommandHandler = (ctx, args) => {
  let start = parseI64(args.buf(2));
  let end = parseI64(args.buf(3));
  if (start === undefined || end === undefined) return NOT_INTEGER;
  const value = lookupString(ctx, args.buf(1));
  if (value === undefined) return EMPTY_BULK;
  if (isReply(value)) return value;
  const len = BigInt(value.data.length);
  if (start < 0n && end < 0n && start > end) return EMPTY_BULK;
  if (start < 0n) start += len;
  if (end < 0n) end += len;
  if (start < 0n) start = 0n;
  if (end < 0n) end = 0n;
  if (end >= len) end = len - 1n;
  if (start > end || len === 0n) return EMPTY_BULK;
  return bulk(value.data.subarray(Number(start), Number(end) + 1));
};

const setrange: CommandHandler = (ctx, args) => {
  const key = args.buf(1);
  const offset = parseI64(args.buf(2));
  const patch = args.buf(3);
  if (offset === undefined) return NOT_INTEGER;
  if (offset < 0n) return errorReply("OFFSET_OUT_OF_RANGE");
  const old = lookupString(ctx, key);
  if (isReply(old)) return old;
  if (patch.length === 0) return integer(old === undefined ? 0 : old.data.length);
  if (tooLong(ctx, offset + BigInt(patch.length))) return errorReply("STRING_TOO_LONG");
  const at = Number(offset);
  const oldData = old?.data ?? Buffer.alloc(0);
  const data = Buffer.alloc(Math.max(oldData.length, at + patch.length));
  oldData.copy(data, 0);
  patch.copy(data, at);
  notifyIfNew(ctx, key, old !== undefined);
  ctx.store.set(key, old === undefined ? stringValue(data) : { ...old, data });
  notifyKey(ctx, NOTIFY_STRING, "setrange", key);
  return integer(data.length);
};

// ---------------------------------------------------------------------------------------
// Counters

/** incrDecrCommand: the stored integer plus `delta`, kept with the key's expiry. */
function incrBy(ctx: ExecContext, key: Buffer, delta: bigint): Reply {
  const old = lookupString(ctx, key);
  if (isReply(old)) return old;
  let current = 0n;
  if (old !== undefined) {
    const parsed = parseI64(old.data);
    if (parsed === undefined) return NOT_INTEGER;
    current = parsed;
  }
  const next = current + delta;
  if (next > I64_MAX || next < I64_MIN) return OVERFLOW;
  const data = Buffer.from(next.toString(), "latin1");
  notifyIfNew(ctx, key, old !== undefined);
  ctx.store.set(key, old === undefined ? stringValue(data) : { ...old, data });
  notifyKey(ctx, NOTIFY_STRING, "incrby", key);
  return integerReply(next);
}

const incr: CommandHandler = (ctx, args) => incrBy(ctx, args.buf(1), 1n);
const decr: CommandHandler = (ctx, args) => incrBy(ctx, args.buf(1), -1n);

const incrby: CommandHandler = (ctx, args) => {
  const delta = parseI64(args.buf(2));
  if (delta === undefined) return NOT_INTEGER;
  return incrBy(ctx, args.buf(1), delta);
};

const decrby: CommandHandler = (ctx, args) => {
  const delta = parseI64(args.buf(2));
  if (delta === undefined) return NOT_INTEGER;
  if (delta === I64_MIN) return errorReply("DECREMENT_OVERFLOW");
  return incrBy(ctx, args.buf(1), -delta);
};

const incrbyfloat: CommandHandler = (ctx, args) => {
  const key = args.buf(1);
  const old = lookupString(ctx, key);
  if (isReply(old)) return old;
  let current: LongDouble | undefined = { kind: "finite", negative: false, mant: 0n, exp: 0 };
  if (old !== undefined) current = parseLongDouble(old.data);
  const delta = parseLongDouble(args.buf(2));
  if (current === undefined || delta === undefined) return NOT_FLOAT;
  const sum = addLongDouble(current, delta);
  if (sum.kind !== "finite") return errorReply("NAN_OR_INFINITY");
  const data = Buffer.from(formatLongDoubleHuman(sum), "latin1");
  notifyIfNew(ctx, key, old !== undefined);
  ctx.store.set(key, old === undefined ? stringValue(data) : { ...old, data });
  notifyKey(ctx, NOTIFY_STRING, "incrbyfloat", key);
  return bulk(data);
};

export const STRING_HANDLERS: ReadonlyMap<string, CommandHandler> = new Map([
  ["get", get],
  ["set", set],
  ["setnx", setnx],
  ["setex", setex],
  ["psetex", psetex],
  ["getset", getset],
  ["getdel", getdel],
  ["getex", getex],
  ["mget", mget],
  ["mset", mset],
  ["msetnx", msetnx],
  ["append", append],
  ["strlen", strlen],
  ["getrange", getrange],
  // SUBSTR is GETRANGE's name before Redis 2.0, still served by Redis 7.0.
  ["substr", getrange],
  ["setrange", setrange],
  ["incr", incr],
  ["decr", decr],
  ["incrby", incrby],
  ["decrby", decrby],
  ["incrbyfloat", incrbyfloat],
]);

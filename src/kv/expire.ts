import { integer } from "../resp/reply.js";
import type { Args, Reply } from "../resp/types.js";
import type { KeyStore } from "../storage/types.js";
import { integerReply, isExpired, isReply, lookup, NO_EXPIRY } from "./db.js";
import { errorReply, invalidExpire, NOT_INTEGER } from "./errors.js";
import { NOTIFY_GENERIC, notifyKey } from "./notify.js";
import { I64_MAX, I64_MIN, parseI64 } from "./numbers.js";
import type { CommandHandler, ExecContext } from "./types.js";

/** Expiry: the EXPIRE and TTL families, PERSIST, and the active expiry cycle. */

const ZERO = integer(0);
const ONE = integer(1);
const MINUS_ONE = integer(-1);
const MINUS_TWO = integer(-2);

/**
 * Deletes up to `maxKeys` keys whose expiry has passed, oldest expiry first; returns how
 * many it deleted. Bounded work per call: the caller runs it from its tick, and raft-applied
 * state machines run it as a logged command so every replica deletes the same keys.
 */
export function activeExpireCycle(
  store: KeyStore,
  nowMs: number,
  maxKeys: number,
  expired?: (key: Buffer) => void,
): number {
  if (maxKeys <= 0) return 0;
  let deleted = 0;
  for (const key of store.expiredKeys(nowMs, maxKeys)) {
    const value = store.get(key);
    // Re-check: the index may lag a write that just gave the key a new life.
    if (value !== undefined && isExpired(value, nowMs) && store.delete(key)) {
      deleted++;
      expired?.(key);
    }
  }
  return deleted;
}

interface ExpireConditions {
  nx: boolean;
  xx: boolean;
  gt: boolean;
  lt: boolean;
}

/** parseExtendedExpireArgumentsOrReply: NX, XX, GT, LT in any case, any number of times. */
function parseConditions(args: Args): ExpireConditions | Reply {
  const c: ExpireConditions = { nx: false, xx: false, gt: false, lt: false };
  for (let j = 3; j < args.length; j++) {
    if (args.is(j, "nx")) c.nx = true;
    else if (args.is(j, "xx")) c.xx = true;
    else if (args.is(j, "gt")) c.gt = true;
    else if (args.is(j, "lt")) c.lt = true;
    else return errorReply("EXPIRE_UNSUPPORTED_OPTION", args.str(j));
  }
  if (c.nx && (c.xx || c.gt || c.lt)) return errorReply("EXPIRE_NX_CONFLICT");
  if (c.gt && c.lt) return errorReply("EXPIRE_GT_LT_CONFLICT");
  return c;
}

/**
 * expireGenericCommand. `relative`: the argument counts from now (EXPIRE, PEXPIRE) rather
 * than from the epoch. Negative values are allowed; a resulting time at or before now
 * deletes the key. Overflow on conversion to absolute milliseconds is an error.
 */
function expireGeneric(
  ctx: ExecContext,
  args: Args,
  command: string,
  seconds: boolean,
  relative: boolean,
): Reply {
  const c = parseConditions(args);
  if (isReply(c)) return c;
  let when = parseI64(args.buf(2));
  if (when === undefined) return NOT_INTEGER;
  if (seconds) {
    if (when > I64_MAX / 1000n || when < I64_MIN / 1000n) return invalidExpire(command);
    when *= 1000n;
  }
  const base = relative ? BigInt(ctx.nowMs) : 0n;
  if (when > I64_MAX - base) return invalidExpire(command);
  when += base;

  const key = args.buf(1);
  const value = lookup(ctx, key);
  if (value === undefined) return ZERO;
  const current = value.expireAtMs === NO_EXPIRY ? -1n : BigInt(value.expireAtMs);
  if (c.nx && current !== -1n) return ZERO;
  if (c.xx && current === -1n) return ZERO;
  // No expiry counts as infinite: GT never beats it, LT always does.
  if (c.gt && (current === -1n || when <= current)) return ZERO;
  if (c.lt && current !== -1n && when >= current) return ZERO;

  if (when <= BigInt(ctx.nowMs)) {
    ctx.store.delete(key);
    notifyKey(ctx, NOTIFY_GENERIC, "del", key);
  } else {
    ctx.store.set(key, { ...value, expireAtMs: Number(when) });
    notifyKey(ctx, NOTIFY_GENERIC, "expire", key);
  }
  return ONE;
}

/**
 * ttlGenericCommand: -2 for a missing key, -1 for one without expiry, else the remaining
 * time (or the absolute time) in ms, or in seconds rounded to nearest.
 */
function ttlGeneric(ctx: ExecContext, args: Args, ms: boolean, absolute: boolean): Reply {
  const value = lookup(ctx, args.buf(1));
  if (value === undefined) return MINUS_TWO;
  if (value.expireAtMs === NO_EXPIRY) return MINUS_ONE;
  let at = BigInt(value.expireAtMs);
  // Times beyond 2^53 ms are held as doubles; never report past the 64-bit range.
  if (at > I64_MAX) at = I64_MAX;
  let t = absolute ? at : at - BigInt(ctx.nowMs);
  if (t < 0n) t = 0n;
  return integerReply(ms ? t : (t + 500n) / 1000n);
}

const persist: CommandHandler = (ctx, args) => {
  const key = args.buf(1);
  const value = lookup(ctx, key);
  if (value === undefined || value.expireAtMs === NO_EXPIRY) return ZERO;
  ctx.store.set(key, { ...value, expireAtMs: NO_EXPIRY });
  notifyKey(ctx, NOTIFY_GENERIC, "persist", key);
  return ONE;
};

export const EXPIRE_HANDLERS: ReadonlyMap<string, CommandHandler> = new Map<string, CommandHandler>(
  [
    ["expire", (ctx, args) => expireGeneric(ctx, args, "expire", true, true)],
    ["pexpire", (ctx, args) => expireGeneric(ctx, args, "pexpire", false, true)],
    ["expireat", (ctx, args) => expireGeneric(ctx, args, "expireat", true, false)],
    ["pexpireat", (ctx, args) => expireGeneric(ctx, args, "pexpireat", false, false)],
    ["ttl", (ctx, args) => ttlGeneric(ctx, args, false, false)],
    ["pttl", (ctx, args) => ttlGeneric(ctx, args, true, false)],
    ["expiretime", (ctx, args) => ttlGeneric(ctx, args, false, true)],
    ["pexpiretime", (ctx, args) => ttlGeneric(ctx, args, true, true)],
    ["persist", persist],
  ],
);

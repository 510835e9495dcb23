import { integer } from "../resp/reply.js";
import type { Args, Reply } from "../resp/types.js";
import type { StoredValue, ValueType } from "../storage/types.js";
import type { ExecContext } from "./types.js";

/**
 * The key space as commands see it. The store keeps expired keys until something removes
 * them; here they are absent. Reads never write — a read that meets an expired key just
 * does not see it — so a read can run on any replica, or under a lease, without a log
 * entry. Writes that meet one overwrite or delete it, as Redis does.
 */

/** No expiry, in `StoredValue.expireAtMs`. */
export const NO_EXPIRY = 0;

export function isExpired(value: StoredValue, nowMs: number): boolean {
  return value.expireAtMs !== NO_EXPIRY && value.expireAtMs <= nowMs;
}

/** The live value at `key`, or undefined when there is none or it has expired. */
export function lookup(ctx: ExecContext, key: Buffer): StoredValue | undefined {
  const value = ctx.store.get(key);
  if (value === undefined || isExpired(value, ctx.nowMs)) return undefined;
  return value;
}

export function stringValue(data: Buffer, expireAtMs: number = NO_EXPIRY): StoredValue {
  return { type: "string", data, expireAtMs };
}

/** Redis's name for a type, as TYPE and SCAN TYPE use it. */
export function typeName(type: ValueType | undefined): string {
  return type ?? "none";
}

/** Sets `key` to `value` unless its expiry has already passed, in which case it is removed. */
export function storeUnlessExpired(ctx: ExecContext, key: Buffer, value: StoredValue): void {
  if (isExpired(value, ctx.nowMs)) ctx.store.delete(key);
  else ctx.store.set(key, value);
}

/** Arguments `from` up to (not including) `to` as views: they die with the command. */
export function argViews(args: Args, from: number, to: number = args.length): Buffer[] {
  const out: Buffer[] = [];
  for (let i = from; i < to; i++) out.push(args.buf(i));
  return out;
}

/** Tells a handler's early-exit error reply from a parsed value. */
export function isReply(x: unknown): x is Reply {
  return typeof x === "object" && x !== null && "kind" in x;
}

const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

/** An integer reply, as a plain number when exact (cheaper to encode, small ones shared). */
export function integerReply(value: bigint): Reply {
  return integer(value <= SAFE_MAX && value >= -SAFE_MAX ? Number(value) : value);
}

import { array, integer, NULL } from "../resp/reply.js";
import type { Args, Reply } from "../resp/types.js";
import { bitOffset } from "./bitmaps.js";
import { isReply, stringValue } from "./db.js";
import { errorReply, NOT_INTEGER, SYNTAX } from "./errors.js";
import { storeResult } from "./hashes.js";
import { NOTIFY_STRING, notifyIfNew, notifyKey } from "./notify.js";
import { parseI64 } from "./numbers.js";
import { lookupString } from "./strings.js";
import type { CommandHandler, ExecContext } from "./types.js";

/**
 * BITOP and BITFIELD (and BITFIELD_RO): bitwise operations between strings, and integers
 * of any width from 1 to 64 bits at any bit offset of a string, as Redis's bitops.c has
 * them. Bits are numbered as SETBIT numbers them: bit 0 is the most significant bit of the
 * first byte, and an integer's most significant bit comes first. A string is zero past its
 * end. Integer arithmetic is done on BigInts with C's 64-bit wrap-around, so that the
 * overflow rules (WRAP, SAT, FAIL) give Redis's values to the last bit.
 */

const BITFIELD_TYPE = errorReply("BITFIELD_TYPE");
const BITFIELD_RO_WRITE = errorReply("BITFIELD_RO_WRITE");

// ---------------------------------------------------------------------------------------
// BITOP

type BitOp = "and" | "or" | "xor" | "not";

/** BITOP AND|OR|XOR|NOT destkey key ...: the result's length; an empty result deletes destkey. */
const bitop: CommandHandler = (ctx, args) => {
  const op = args.lower(1);
  if (op !== "and" && op !== "or" && op !== "xor" && op !== "not") return SYNTAX;
  if (op === "not" && args.length !== 4) return errorReply("BITOP_NOT_ONE_KEY");
  const sources: Buffer[] = [];
  for (let i = 3; i < args.length; i++) {
    const value = lookupString(ctx, args.buf(i));
    if (isReply(value)) return value;
    sources.push(value?.data ?? Buffer.alloc(0));
  }
  const result = combine(op, sources);
  // A new string (no expiry), or nothing: the destination deleted.
  storeResult(
    ctx,
    args.buf(2),
    "string",
    result.length === 0 ? null : result,
    NOTIFY_STRING,
    "set",
  );
  return integer(result.length);
};

/** The bytes of `op` over `sources`, as long as the longest; shorter ones count as zeros. */
function combine(op: BitOp, sources: readonly Buffer[]): Buffer {
  let longest = 0;
  for (const s of sources) longest = Math.max(longest, s.length);
  const out = Buffer.alloc(longest);
  const first = sources[0] as Buffer;
  first.copy(out);
  if (op === "not") {
    for (let i = 0; i < longest; i++) out[i] = ~(out[i] as number) & 0xff;
    return out;
  }
  for (let k = 1; k < sources.length; k++) {
    const s = sources[k] as Buffer;
    if (op === "and") {
      for (let i = 0; i < longest; i++)
        out[i] = (out[i] as number) & (i < s.length ? (s[i] as number) : 0);
    } else if (op === "or") {
      for (let i = 0; i < s.length; i++) out[i] = (out[i] as number) | (s[i] as number);
    } else {
      for (let i = 0; i < s.length; i++) out[i] = (out[i] as number) ^ (s[i] as number);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// BITFIELD

type Overflow = "wrap" | "sat" | "fail";

interface FieldOp {
  readonly kind: "get" | "set" | "incrby";
  readonly signed: boolean;
  readonly bits: number;
  readonly offset: number;
  readonly value: bigint;
  readonly overflow: Overflow;
}

/** i1..i64 or u1..u63 (getBitfieldTypeFromArgument). */
function parseType(arg: Buffer): { signed: boolean; bits: number } | Reply {
  const signed = arg[0] === 0x69; // i
  if (!signed && arg[0] !== 0x75) return BITFIELD_TYPE; // u
  const n = parseI64(arg.subarray(1));
  if (n === undefined || n < 1n || n > (signed ? 64n : 63n)) return BITFIELD_TYPE;
  return { signed, bits: Number(n) };
}

/** The ops of a BITFIELD command, in order, or the error (bitfieldGeneric's parse). */
function parseOps(ctx: ExecContext, args: Args): FieldOp[] | Reply {
  const ops: FieldOp[] = [];
  let overflow: Overflow = "wrap";
  for (let j = 2; j < args.length; j++) {
    const left = args.length - j - 1;
    const word = args.lower(j);
    let kind: FieldOp["kind"];
    if (word === "get" && left >= 2) kind = "get";
    else if (word === "set" && left >= 3) kind = "set";
    else if (word === "incrby" && left >= 3) kind = "incrby";
    else if (word === "overflow" && left >= 1) {
      const how = args.lower(j + 1);
      j++;
      if (how === "wrap" || how === "sat" || how === "fail") overflow = how;
      else return errorReply("BITFIELD_OVERFLOW");
      continue;
    } else {
      return SYNTAX;
    }
    const type = parseType(args.buf(j + 1));
    if (isReply(type)) return type;
    const offset = bitOffset(ctx, args.buf(j + 2), type.bits);
    if (isReply(offset)) return offset;
    let value = 0n;
    if (kind !== "get") {
      const v = parseI64(args.buf(j + 3));
      if (v === undefined) return NOT_INTEGER;
      value = v;
    }
    ops.push({ kind, signed: type.signed, bits: type.bits, offset, value, overflow });
    j += kind === "get" ? 2 : 3;
  }
  return ops;
}

const U64 = (x: bigint) => BigInt.asUintN(64, x);
const I64 = (x: bigint) => BigInt.asIntN(64, x);

/** The unsigned integer of `bits` bits at bit `offset` of `data` (zeros past its end). */
function readUnsigned(data: Buffer, offset: number, bits: number): bigint {
  let v = 0n;
  for (let j = 0; j < bits; j++) {
    const at = offset + j;
    const byte = at >>> 3;
    const bit = byte < data.length ? ((data[byte] as number) >> (7 - (at & 7))) & 1 : 0;
    v = (v << 1n) | BigInt(bit);
  }
  return v;
}

/** The field `op` names, read as its type says (two's complement when signed). */
function readField(data: Buffer, op: FieldOp): bigint {
  const u = readUnsigned(data, op.offset, op.bits);
  return op.signed ? BigInt.asIntN(op.bits, u) : u;
}

/** Writes the low `bits` bits of `value` at bit `offset` (the string is long enough). */
function write(data: Buffer, offset: number, bits: number, value: bigint): void {
  const u = U64(value);
  for (let j = 0; j < bits; j++) {
    const at = offset + j;
    const byte = at >>> 3;
    const mask = 0x80 >> (at & 7);
    if ((u >> BigInt(bits - 1 - j)) & 1n) data[byte] = (data[byte] as number) | mask;
    else data[byte] = (data[byte] as number) & ~mask;
  }
}

/**
 * checkUnsignedBitfieldOverflow: 0, or ±1 and the value the overflow rule gives (WRAP
 * keeps the low bits of the 64-bit sum, SAT the nearer bound).
 */
function unsignedOverflow(
  value: bigint,
  incr: bigint,
  bits: number,
  how: Overflow,
): [number, bigint] {
  const max = (1n << BigInt(bits)) - 1n;
  const maxIncr = I64(max - value);
  const minIncr = I64(-value);
  const wrapped = () => U64(value + incr) & max;
  if (value > max || (incr > 0n && incr > maxIncr)) return [1, how === "sat" ? max : wrapped()];
  if (incr < 0n && incr < minIncr) return [-1, how === "sat" ? 0n : wrapped()];
  return [0, 0n];
}

/** checkSignedBitfieldOverflow: 0, or ±1 and the value the overflow rule gives. */
function signedOverflow(
  value: bigint,
  incr: bigint,
  bits: number,
  how: Overflow,
): [number, bigint] {
  const max = bits === 64 ? (1n << 63n) - 1n : (1n << BigInt(bits - 1)) - 1n;
  const min = -max - 1n;
  const maxIncr = I64(max - value);
  const minIncr = I64(min - value);
  const wrapped = () => BigInt.asIntN(bits, U64(value + incr));
  if (
    value > max ||
    (bits !== 64 && incr > maxIncr) ||
    (value >= 0n && incr > 0n && incr > maxIncr)
  ) {
    return [1, how === "sat" ? max : wrapped()];
  }
  if (
    value < min ||
    (bits !== 64 && incr < minIncr) ||
    (value < 0n && incr < 0n && incr < minIncr)
  ) {
    return [-1, how === "sat" ? min : wrapped()];
  }
  return [0, 0n];
}

/** One SET or INCRBY on `data`: the reply (null when FAIL refused it) and whether it changed a bit. */
function runWrite(data: Buffer, op: FieldOp): [Reply, boolean] {
  const old = readField(data, op);
  let next: bigint;
  let reply: bigint;
  let overflowed: number;
  if (op.signed) {
    if (op.kind === "incrby") {
      const [o, limit] = signedOverflow(old, op.value, op.bits, op.overflow);
      overflowed = o;
      next = o !== 0 ? limit : old + op.value;
      reply = next;
    } else {
      const [o, limit] = signedOverflow(op.value, 0n, op.bits, op.overflow);
      overflowed = o;
      next = o !== 0 ? limit : op.value;
      reply = old;
    }
  } else {
    const given = op.kind === "incrby" ? old : U64(op.value);
    const incr = op.kind === "incrby" ? op.value : 0n;
    const [o, limit] = unsignedOverflow(given, incr, op.bits, op.overflow);
    overflowed = o;
    next = o !== 0 ? limit : U64(given + incr);
    reply = op.kind === "incrby" ? next : old;
  }
  if (overflowed !== 0 && op.overflow === "fail") return [NULL, false];
  write(data, op.offset, op.bits, next);
  return [integer(I64(reply)), old !== next];
}

/**
 * BITFIELD key [GET type offset] [SET type offset value] [INCRBY type offset increment]
 * [OVERFLOW WRAP|SAT|FAIL] ...: one reply per GET, SET and INCRBY, in order, each seeing
 * the ones before. A command with a write creates the key, or zero-extends the string to
 * its furthest bit, before its first op, as Redis does (even when FAIL then refuses every
 * write), and notifies `setbit` once if a bit changed.
 */
const bitfieldGeneric =
  (readOnly: boolean): CommandHandler =>
  (ctx, args) => {
    const ops = parseOps(ctx, args);
    if (isReply(ops)) return ops;
    const key = args.buf(1);
    const writes = ops.filter((op) => op.kind !== "get");
    if (readOnly && writes.length > 0) return BITFIELD_RO_WRITE;
    const old = lookupString(ctx, key);
    if (isReply(old)) return old;
    if (writes.length === 0) {
      const data = old?.data ?? Buffer.alloc(0);
      return array(ops.map((op) => integer(readField(data, op))));
    }
    let furthest = 0;
    for (const op of writes) furthest = Math.max(furthest, op.offset + op.bits - 1);
    const oldData = old?.data ?? Buffer.alloc(0);
    const data = Buffer.alloc(Math.max(oldData.length, (furthest >>> 3) + 1));
    oldData.copy(data);
    // Created or grown counts as a change, as Redis's dirty flag does.
    let changed = old === undefined || data.length !== oldData.length;
    let written = false;
    const replies = ops.map((op) => {
      if (op.kind === "get") return integer(readField(data, op));
      const [reply, bitsChanged] = runWrite(data, op);
      if (reply !== NULL) {
        written = true;
        changed ||= bitsChanged;
      }
      return reply;
    });
    if (changed) {
      if (old === undefined) notifyIfNew(ctx, key, false);
      ctx.store.set(key, old === undefined ? stringValue(data) : { ...old, data });
    }
    if (written && changed) notifyKey(ctx, NOTIFY_STRING, "setbit", key);
    return array(replies);
  };

export const BITFIELD_HANDLERS: ReadonlyMap<string, CommandHandler> = new Map<
  string,
  CommandHandler
>([
  ["bitop", bitop],
  ["bitfield", bitfieldGeneric(false)],
  ["bitfield_ro", bitfieldGeneric(true)],
]);

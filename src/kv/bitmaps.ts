import { integer } from "../resp/reply.js";
import type { Args, Reply } from "../resp/types.js";
import { isReply, stringValue } from "./db.js";
import { errorReply, NOT_INTEGER, SYNTAX } from "./errors.js";
import { NOTIFY_STRING, notifyIfNew, notifyKey } from "./notify.js";
import { parseI64 } from "./numbers.js";
import { lookupString } from "./strings.js";
import type { CommandHandler, ExecContext } from "./types.js";

/**
 * Bit-level commands on strings: SETBIT, GETBIT, BITCOUNT, BITPOS. A string is a bitmap
 * read from the most significant bit of its first byte (bit 0) onwards, and is zero past
 * its end. BYTE/BIT ranges are normalised as GETRANGE's are: negatives count from the
 * end, then both ends are clamped into the string.
 */

const ZERO = integer(0);
const ONE = integer(1);
const MINUS_ONE = integer(-1);
const BIT_OFFSET = errorReply("BIT_OFFSET");
const BIT_VALUE = errorReply("BIT_VALUE");

/** Set bits per byte value. */
const POPCOUNT = Uint8Array.from({ length: 256 }, (_, b) => {
  let n = 0;
  for (let v = b; v !== 0; v >>= 1) n += v & 1;
  return n;
});

/**
 * getBitOffsetFromArgument: a bit offset whose byte lies below proto-max-bulk-len, so a
 * SETBIT or BITFIELD can never build a string longer than that limit; with a `width`
 * (BITFIELD's type), "#N" means N times it. As a number: it is below 8 × maxBulkBytes, far
 * inside the safe integer range.
 */
export function bitOffset(ctx: ExecContext, arg: Buffer, width = 0): number | Reply {
  const byWidth = width > 0 && arg[0] === 0x23; // #
  const n = parseI64(byWidth ? arg.subarray(1) : arg);
  const offset = n === undefined || !byWidth ? n : n * BigInt(width);
  if (offset === undefined || offset < 0n || offset >> 3n >= BigInt(ctx.maxBulkBytes)) {
    return BIT_OFFSET;
  }
  return Number(offset);
}

/** The value of bit `offset` of `data`; 0 past its end. */
function bitAt(data: Buffer, offset: number): 0 | 1 {
  const byte = Math.floor(offset / 8);
  if (byte >= data.length) return 0;
  return (((data[byte] as number) >> (7 - (offset % 8))) & 1) as 0 | 1;
}

/** SETBIT key offset 0|1: answers the bit's old value; creates or zero-extends the string. */
const setbit: CommandHandler = (ctx, args) => {
  const offset = bitOffset(ctx, args.buf(2));
  if (isReply(offset)) return offset;
  const on = parseI64(args.buf(3));
  if (on !== 0n && on !== 1n) return BIT_VALUE;
  const key = args.buf(1);
  const old = lookupString(ctx, key);
  if (isReply(old)) return old;
  const oldData = old?.data ?? Buffer.alloc(0);
  const was = bitAt(oldData, offset);
  const byte = Math.floor(offset / 8);
  const grows = old === undefined || byte >= oldData.length;
  // Nothing changes: no write, as Redis then leaves the key untouched.
  if (!grows && was === Number(on)) return was === 1 ? ONE : ZERO;
  // A fresh buffer: the stored one is never edited in place, only replaced by `set`.
  const data = Buffer.alloc(Math.max(oldData.length, byte + 1));
  oldData.copy(data);
  const mask = 0x80 >> (offset % 8);
  data[byte] = on === 1n ? (data[byte] as number) | mask : (data[byte] as number) & ~mask;
  notifyIfNew(ctx, key, old !== undefined);
  ctx.store.set(key, old === undefined ? stringValue(data) : { ...old, data });
  notifyKey(ctx, NOTIFY_STRING, "setbit", key);
  return was === 1 ? ONE : ZERO;
};

const getbit: CommandHandler = (ctx, args) => {
  const offset = bitOffset(ctx, args.buf(2));
  if (isReply(offset)) return offset;
  const value = lookupString(ctx, args.buf(1));
  if (value === undefined) return ZERO;
  if (isReply(value)) return value;
  return bitAt(value.data, offset) === 1 ? ONE : ZERO;
};

/** An inclusive range of bit positions; empty when `first > last`. */
interface BitRange {
  first: number;
  last: number;
}

/**
 * The bits a start/end pair selects in a string of `bytes` bytes, the pair counting bits
 * (`inBits`) or bytes: negatives count from the end, then both are clamped into the string.
 */
function bitRange(start: bigint, end: bigint, bytes: number, inBits: boolean): BitRange {
  const total = BigInt(inBits ? bytes * 8 : bytes);
  if (start < 0n) start += total;
  if (end < 0n) end += total;
  if (start < 0n) start = 0n;
  if (end < 0n) end = 0n;
  if (end >= total) end = total - 1n;
  if (start > end) return { first: 1, last: 0 };
  if (inBits) return { first: Number(start), last: Number(end) };
  return { first: Number(start) * 8, last: Number(end) * 8 + 7 };
}

/**
 * The bits of byte `i` that lie in `range`, as a mask: the range cuts into its first and
 * last bytes only.
 */
function rangeMask(range: BitRange, i: number): number {
  let mask = 0xff;
  if (i === Math.floor(range.first / 8)) mask &= 0xff >> (range.first % 8);
  if (i === Math.floor(range.last / 8)) mask &= (0xff << (7 - (range.last % 8))) & 0xff;
  return mask;
}

/** Set bits in a 32-bit word. */
function popcount32(v: number): number {
  v -= (v >>> 1) & 0x55555555;
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

/**
 * The aligned 32-bit words of `data` within bytes [from, to), as a view plus the byte
 * span it covers: long strings are read a word at a time, the ragged ends byte by byte.
 */
function alignedWords(data: Buffer, from: number, to: number): [Uint32Array, number, number] {
  let start = from;
  while (start < to && (data.byteOffset + start) % 4 !== 0) start++;
  const words = Math.floor((to - start) / 4);
  if (words <= 0) return [new Uint32Array(0), to, to];
  return [new Uint32Array(data.buffer, data.byteOffset + start, words), start, start + words * 4];
}

/** How many bits of `data` in `range` are set. */
function countBits(data: Buffer, range: BitRange): number {
  if (range.first > range.last) return 0;
  const firstByte = Math.floor(range.first / 8);
  const lastByte = Math.floor(range.last / 8);
  const edge = (i: number) => POPCOUNT[(data[i] as number) & rangeMask(range, i)] as number;
  if (firstByte === lastByte) return edge(firstByte);
  let count = edge(firstByte) + edge(lastByte);
  const [words, wordsFrom, wordsTo] = alignedWords(data, firstByte + 1, lastByte);
  for (let i = firstByte + 1; i < wordsFrom; i++) count += POPCOUNT[data[i] as number] as number;
  for (let w = 0; w < words.length; w++) count += popcount32(words[w] as number);
  for (let i = wordsTo; i < lastByte; i++) count += POPCOUNT[data[i] as number] as number;
  return count;
}

/** The first position in `range` holding `bit`, or -1. */
function findBit(data: Buffer, bit: 0 | 1, range: BitRange): number {
  if (range.first > range.last) return -1;
  const firstByte = Math.floor(range.first / 8);
  const lastByte = Math.floor(range.last / 8);
  // Whole words without the wanted bit are skipped; the search resumes bytewise after.
  const [words, wordsFrom] = alignedWords(data, firstByte + 1, lastByte);
  const boring = bit === 1 ? 0 : 0xffffffff;
  let i = firstByte;
  while (i <= lastByte) {
    if (i === wordsFrom) {
      let w = 0;
      while (w < words.length && words[w] === boring) w++;
      i = wordsFrom + w * 4;
    }
    const byte = data[i] as number;
    // The wanted bits as ones, those outside the range cleared.
    let hits = bit === 1 ? byte : ~byte & 0xff;
    if (i === firstByte || i === lastByte) hits &= rangeMask(range, i);
    if (hits !== 0) return i * 8 + Math.clz32(hits) - 24;
    i++;
  }
  return -1;
}

/** Argument `i`, BYTE or BIT in any case: whether the unit is bits, or a syntax error. */
function unitIsBit(args: Args, i: number): boolean | Reply {
  if (args.is(i, "bit")) return true;
  if (args.is(i, "byte")) return false;
  return SYNTAX;
}

/**
 * BITCOUNT key [start end [BYTE|BIT]]. A missing key answers 0 before any argument is
 * read, and two negative bounds in the wrong order answer 0 before the unit is, as in
 * Redis 7.0.
 */
const bitcount: CommandHandler = (ctx, args) => {
  const value = lookupString(ctx, args.buf(1));
  if (value === undefined) return ZERO;
  if (isReply(value)) return value;
  const data = value.data;
  if (args.length === 2) return integer(countBits(data, { first: 0, last: data.length * 8 - 1 }));
  if (args.length !== 4 && args.length !== 5) return SYNTAX;
  const start = parseI64(args.buf(2));
  if (start === undefined) return NOT_INTEGER;
  const end = parseI64(args.buf(3));
  if (end === undefined) return NOT_INTEGER;
  if (start < 0n && end < 0n && start > end) return ZERO;
  const inBits = args.length === 5 ? unitIsBit(args, 4) : false;
  if (isReply(inBits)) return inBits;
  return integer(countBits(data, bitRange(start, end, data.length, inBits)));
};

/**
 * BITPOS key 0|1 [start [end [BYTE|BIT]]]. A missing key is all zeros: 0 for a clear
 * bit, -1 for a set one. Without an end, a string of all ones has its first clear bit
 * just past its end; with one, the range is exact and the answer is -1.
 */
const bitpos: CommandHandler = (ctx, args) => {
  const wanted = parseI64(args.buf(2));
  if (wanted === undefined) return NOT_INTEGER;
  if (wanted !== 0n && wanted !== 1n) return errorReply("BIT_ARGUMENT");
  const bit = wanted === 1n ? 1 : 0;
  const value = lookupString(ctx, args.buf(1));
  if (value === undefined) return bit === 1 ? MINUS_ONE : ZERO;
  if (isReply(value)) return value;
  const data = value.data;
  let range: BitRange = { first: 0, last: data.length * 8 - 1 };
  const endGiven = args.length >= 5;
  if (args.length > 6) return SYNTAX;
  if (args.length >= 4) {
    const start = parseI64(args.buf(3));
    if (start === undefined) return NOT_INTEGER;
    // Redis reads the unit before the end.
    const inBits = args.length === 6 ? unitIsBit(args, 5) : false;
    if (isReply(inBits)) return inBits;
    const end = endGiven ? parseI64(args.buf(4)) : -1n;
    if (end === undefined) return NOT_INTEGER;
    range = bitRange(start, end, data.length, inBits);
  }
  if (range.first > range.last) return MINUS_ONE;
  const found = findBit(data, bit, range);
  if (found >= 0) return integer(found);
  return bit === 0 && !endGiven ? integer(range.last + 1) : MINUS_ONE;
};

export const BITMAP_HANDLERS: ReadonlyMap<string, CommandHandler> = new Map([
  ["setbit", setbit],
  ["getbit", getbit],
  ["bitcount", bitcount],
  ["bitpos", bitpos],
]);

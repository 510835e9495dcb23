import { array, bulk, integer, OK, simple } from "../resp/reply.js";
import type { Reply } from "../resp/types.js";
import type { StoredValue } from "../storage/types.js";
import { isReply, stringValue } from "./db.js";
import { errorReply } from "./errors.js";
import { NOTIFY_STRING, notifyIfNew, notifyKey } from "./notify.js";
import { lookupString } from "./strings.js";
import type { CommandHandler, ExecContext } from "./types.js";

/**
 * HyperLogLog (PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST), byte for byte as Redis's
 * hyperloglog.c keeps it, so that a value moves between Redis and Homeostat (GET, SET,
 * DUMP, RESTORE) and reads the same:
 *
 *   header    = "HYLL" encoding:u8 (0 dense, 1 sparse) 0 0 0 card:u64le
 *   dense     = header, then 16384 registers of 6 bits, least significant bits first
 *   sparse    = header, then opcodes: ZERO 00xxxxxx (1-64 zero registers), XZERO
 *               01xxxxxx xxxxxxxx (1-16384 zero registers), VAL 1vvvvvxx (1-4 registers
 *               of value 1-32)
 *
 * `card` caches the cardinality; its top bit set means the cache is stale. An element
 * is hashed with MurmurHash64A (seed 0xadc83b19): the low 14 bits choose the register, the
 * rest give the run of zeros it records. A sparse value turns dense when a register needs
 * more than 32, or the value would grow past hll-sparse-max-bytes (3000 by default).
 * The estimate is Redis's (Otmar Ertl's estimator over the registers' histogram).
 *
 * One difference: PFCOUNT does not write the cardinality it computes back into the value,
 * as Redis does (a read must not change a replica's copy alone: docs/commands.md).
 */

const P = 14;
const REGISTERS = 1 << P;
const Q = 64 - P;
const BITS = 6;
const REGISTER_MAX = (1 << BITS) - 1;
const HEADER = 16;
const DENSE_BYTES = HEADER + Math.floor((REGISTERS * BITS + 7) / 8);
const DENSE = 0;
const SPARSE = 1;
const SPARSE_VAL_MAX_VALUE = 32;
const SPARSE_VAL_MAX_LEN = 4;
const SPARSE_ZERO_MAX_LEN = 64;
const SPARSE_XZERO_MAX_LEN = 16384;
// 0.5 / ln 2 (Redis writes 0.721347520444481703680, the same double).
const ALPHA_INF = 0.7213475204444817;
/** Redis's default hll-sparse-max-bytes. */
export const SPARSE_MAX_BYTES = 3000;

const NOT_HLL = errorReply("HLL_WRONGTYPE");
const CORRUPTED = errorReply("HLL_INVALID");

// ---------------------------------------------------------------------------------------
// Hashing

const TWO32 = 2 ** 32;
/** Murmur's multiplier, 0xc6a4a7935bd1e995, in 32-bit halves. */
const M_HI = 0xc6a4a793;
const M_LO = 0x5bd1e995;

/**
 * The low 64 bits of (hi:lo) × M, as [hi, lo]: 32-bit halves, with the low halves'
 * product split into 16-bit limbs so that every step is exact in a double.
 */
function timesM(hi: number, lo: number): [number, number] {
  const a0 = lo & 0xffff;
  const a1 = lo >>> 16;
  const b0 = M_LO & 0xffff;
  const b1 = M_LO >>> 16;
  const mid = a0 * b1 + a1 * b0;
  let low = a0 * b0 + (mid % 65536) * 65536;
  const carry = Math.floor(low / TWO32);
  low %= TWO32;
  const high = a1 * b1 + Math.floor(mid / 65536) + carry;
  return [(high + Math.imul(hi, M_LO) + Math.imul(lo, M_HI)) >>> 0, low >>> 0];
}

/**
 * MurmurHash64A of `data` (little-endian words), as Redis hashes an element: [hi, lo],
 * the 64-bit hash in 32-bit halves.
 */
export function murmurHash64A(data: Uint8Array, seed: number): [number, number] {
  const len = data.length;
  let [hi, lo] = timesM(0, len >>> 0);
  lo = (lo ^ seed) >>> 0;
  const words = len - (len & 7);
  for (let i = 0; i < words; i += 8) {
    let kl =
      ((data[i] as number) |
        ((data[i + 1] as number) << 8) |
        ((data[i + 2] as number) << 16) |
        ((data[i + 3] as number) << 24)) >>>
      0;
    let kh =
      ((data[i + 4] as number) |
        ((data[i + 5] as number) << 8) |
        ((data[i + 6] as number) << 16) |
        ((data[i + 7] as number) << 24)) >>>
      0;
    [kh, kl] = timesM(kh, kl);
    kl = (kl ^ (kh >>> 15)) >>> 0; // k ^= k >> 47
    [kh, kl] = timesM(kh, kl);
    hi = (hi ^ kh) >>> 0;
    lo = (lo ^ kl) >>> 0;
    [hi, lo] = timesM(hi, lo);
  }
  const rest = len & 7;
  if (rest > 0) {
    for (let j = rest - 1; j >= 0; j--) {
      const b = data[words + j] as number;
      if (j >= 4) hi = (hi ^ (b << (8 * (j - 4)))) >>> 0;
      else lo = (lo ^ (b << (8 * j))) >>> 0;
    }
    [hi, lo] = timesM(hi, lo);
  }
  lo = (lo ^ (hi >>> 15)) >>> 0;
  [hi, lo] = timesM(hi, lo);
  lo = (lo ^ (hi >>> 15)) >>> 0;
  return [hi, lo];
}

/** Trailing zero bits of a non-zero 32-bit value. */
const ctz = (x: number) => 31 - Math.clz32(x & -x);

/** The register an element falls in and the run it records (hllPatLen). */
export function patternOf(element: Uint8Array): { index: number; count: number } {
  const [hi, lo] = murmurHash64A(element, 0xadc83b19);
  const index = lo & (REGISTERS - 1);
  // The hash without its 14 register bits, bit 50 set so that the run ends: the run is
  // its trailing zeros, plus one.
  const low = ((hi << (32 - P)) | (lo >>> P)) >>> 0;
  if (low !== 0) return { index, count: ctz(low) + 1 };
  const high = (hi >>> P) | (1 << (Q - 32));
  return { index, count: 32 + ctz(high) + 1 };
}

// ---------------------------------------------------------------------------------------
// Registers

function denseGet(v: Uint8Array, i: number): number {
  const bit = i * BITS;
  const byte = HEADER + (bit >>> 3);
  const fb = bit & 7;
  const b0 = v[byte] as number;
  const b1 = v[byte + 1] ?? 0;
  return ((b0 >> fb) | (b1 << (8 - fb))) & REGISTER_MAX;
}

function denseSetRegister(v: Uint8Array, i: number, value: number): void {
  const bit = i * BITS;
  const byte = HEADER + (bit >>> 3);
  const fb = bit & 7;
  const fb8 = 8 - fb;
  v[byte] = ((v[byte] as number) & ~(REGISTER_MAX << fb) & 0xff) | ((value << fb) & 0xff);
  if (byte + 1 < v.length) {
    v[byte + 1] = ((v[byte + 1] as number) & ~(REGISTER_MAX >> fb8)) | (value >> fb8);
  }
}

/** Raises register `i` of a dense value to `count`: 1 if it changed. */
function denseSet(v: Uint8Array, i: number, count: number): 0 | 1 {
  if (count <= denseGet(v, i)) return 0;
  denseSetRegister(v, i, count);
  return 1;
}

const isZero = (b: number) => (b & 0xc0) === 0;
const isXZero = (b: number) => (b & 0xc0) === 0x40;
const zeroLen = (b: number) => (b & 0x3f) + 1;
const xzeroLen = (b0: number, b1: number) => (((b0 & 0x3f) << 8) | b1) + 1;
const valValue = (b: number) => ((b >> 2) & 0x1f) + 1;
const valLen = (b: number) => (b & 0x3) + 1;
const val = (value: number, len: number) => (((value - 1) << 2) | (len - 1) | 0x80) & 0xff;

/** One opcode of a sparse value: a run of `len` registers of `value` (0: ZERO, or XZERO if `long`). */
interface Opcode {
  readonly len: number;
  readonly value: number;
  readonly long: boolean;
}

/** A sparse value's opcodes, in order. */
function* opcodes(v: Uint8Array): Generator<Opcode> {
  for (let p = HEADER; p < v.length; ) {
    const b = v[p] as number;
    if (isZero(b)) {
      yield { len: zeroLen(b), value: 0, long: false };
      p++;
    } else if (isXZero(b)) {
      yield { len: xzeroLen(b, v[p + 1] ?? 0), value: 0, long: true };
      p += 2;
    } else {
      yield { len: valLen(b), value: valValue(b), long: false };
      p++;
    }
  }
}

/**
 * Walks a sparse value's opcodes, calling `run` for each run of registers (value 0 for
 * zeros); false if they overflow or do not cover exactly the 16384 registers.
 */
function walkSparse(
  v: Uint8Array,
  run: (first: number, len: number, value: number) => void,
): boolean {
  let idx = 0;
  for (const { len, value } of opcodes(v)) {
    if (len + idx > REGISTERS) return false;
    run(idx, len, value);
    idx += len;
  }
  return idx === REGISTERS;
}

/** A sparse value made dense (its header and cache kept), or null if it is corrupted. */
function sparseToDense(v: Uint8Array): Uint8Array | null {
  const dense = new Uint8Array(DENSE_BYTES);
  dense.set(v.subarray(0, HEADER));
  dense[4] = DENSE;
  const valid = walkSparse(v, (first, len, value) => {
    if (value !== 0) for (let i = first; i < first + len; i++) denseSetRegister(dense, i, value);
  });
  return valid ? dense : null;
}

/** A value being changed: its bytes (room to spare past `len`) and its length. */
interface Hll {
  bytes: Uint8Array;
  len: number;
}

const view = (h: Hll) => h.bytes.subarray(0, h.len);

/**
 * hllSparseSet: raises register `index` of a sparse value to `count`, splitting the opcode
 * that covers it and merging equal neighbours as Redis does, or turning the value dense
 * (when `count` is above 32 or the value would pass `maxBytes`). 1 if a register changed,
 * 0 if not, -1 if the value is corrupted.
 */
function sparseSet(h: Hll, index: number, count: number, maxBytes: number): -1 | 0 | 1 {
  if (count > SPARSE_VAL_MAX_VALUE) return promote(h, index, count);
  if (h.bytes.length < h.len + 3) {
    const grown = new Uint8Array(h.len + 64);
    grown.set(view(h));
    h.bytes = grown;
  }
  const v = h.bytes;
  let end = h.len;
  let p = HEADER;
  let first = 0;
  let prev = -1;
  let span = 0;
  while (p < end) {
    const b = v[p] as number;
    let oplen = 1;
    if (isZero(b)) span = zeroLen(b);
    else if (!isXZero(b)) span = valLen(b);
    else {
      span = xzeroLen(b, v[p + 1] as number);
      oplen = 2;
    }
    if (index <= first + span - 1) break;
    prev = p;
    p += oplen;
    first += span;
  }
  if (span === 0 || p >= end) return -1;
  const b = v[p] as number;
  const zero = isZero(b);
  const xzero = isXZero(b);
  const runlen = zero ? zeroLen(b) : xzero ? xzeroLen(b, v[p + 1] as number) : valLen(b);
  let updated = false;
  if (!zero && !xzero) {
    if (valValue(b) >= count) return 0;
    if (runlen === 1) {
      v[p] = val(count, 1);
      updated = true;
    }
  }
  if (!updated && zero && runlen === 1) {
    v[p] = val(count, 1);
    updated = true;
  }
  if (!updated) {
    // Split the opcode: what comes before the register, the register, what comes after.
    const seq: number[] = [];
    const last = first + span - 1;
    const zeros = (len: number) => {
      if (len > SPARSE_ZERO_MAX_LEN) seq.push(0x40 | ((len - 1) >> 8), (len - 1) & 0xff);
      else seq.push(len - 1);
    };
    if (zero || xzero) {
      if (index !== first) zeros(index - first);
      seq.push(val(count, 1));
      if (index !== last) zeros(last - index);
    } else {
      const current = valValue(b);
      if (index !== first) seq.push(val(current, index - first));
      seq.push(val(count, 1));
      if (index !== last) seq.push(val(current, last - index));
    }
    const oldlen = xzero ? 2 : 1;
    const delta = seq.length - oldlen;
    if (delta > 0 && end + delta > maxBytes) return promote(h, index, count);
    v.copyWithin(p + oldlen + delta, p + oldlen, end);
    v.set(seq, p);
    end += delta;
  }
  // Merge adjacent VAL opcodes of the same value, up to five opcodes from the previous one.
  let q = prev >= 0 ? prev : HEADER;
  let scan = 5;
  while (q < end && scan-- > 0) {
    const c = v[q] as number;
    if (isXZero(c)) {
      q += 2;
      continue;
    }
    if (isZero(c)) {
      q++;
      continue;
    }
    const d = v[q + 1] as number;
    if (q + 1 < end && !isZero(d) && !isXZero(d) && valValue(c) === valValue(d)) {
      const len = valLen(c) + valLen(d);
      if (len <= SPARSE_VAL_MAX_LEN) {
        v[q + 1] = val(valValue(c), len);
        v.copyWithin(q, q + 1, end);
        end--;
        continue;
      }
    }
    q++;
  }
  h.len = end;
  return 1;
}

/** The value made dense, then register `index` raised to `count` (which must change it). */
function promote(h: Hll, index: number, count: number): -1 | 1 {
  const dense = sparseToDense(view(h));
  if (dense === null) return -1;
  h.bytes = dense;
  h.len = dense.length;
  denseSet(dense, index, count);
  return 1;
}

/** Adds an element: 1 if a register changed, 0 if not, -1 if the value is corrupted. */
function add(h: Hll, element: Uint8Array, maxBytes: number): -1 | 0 | 1 {
  const { index, count } = patternOf(element);
  if (h.bytes[4] === DENSE) return denseSet(h.bytes, index, count);
  return sparseSet(h, index, count, maxBytes);
}

/** A new, empty HLL: sparse, one XZERO opcode covering every register. */
function emptyHll(): Uint8Array {
  const v = new Uint8Array(HEADER + 2);
  v.set([0x48, 0x59, 0x4c, 0x4c, SPARSE]); // "HYLL", sparse
  v[HEADER] = 0x40 | ((SPARSE_XZERO_MAX_LEN - 1) >> 8);
  v[HEADER + 1] = (SPARSE_XZERO_MAX_LEN - 1) & 0xff;
  return v;
}

/** Whether a string holds an HLL (isHLLObjectOrReply): its magic, encoding and length. */
function isHll(data: Uint8Array): boolean {
  if (data.length < HEADER) return false;
  if (data[0] !== 0x48 || data[1] !== 0x59 || data[2] !== 0x4c || data[3] !== 0x4c) return false;
  const encoding = data[4] as number;
  if (encoding > SPARSE) return false;
  return encoding !== DENSE || data.length === DENSE_BYTES;
}

const invalidateCache = (v: Uint8Array) => {
  v[15] = (v[15] as number) | 0x80;
};

// ---------------------------------------------------------------------------------------
// Counting

function sigma(x0: number): number {
  if (x0 === 1) return Number.POSITIVE_INFINITY;
  let x = x0;
  let zPrime: number;
  let y = 1;
  let z = x;
  do {
    x *= x;
    zPrime = z;
    z += x * y;
    y += y;
  } while (zPrime !== z);
  return z;
}

function tau(x0: number): number {
  if (x0 === 0 || x0 === 1) return 0;
  let x = x0;
  let zPrime: number;
  let y = 1.0;
  let z = 1 - x;
  do {
    x = Math.sqrt(x);
    zPrime = z;
    y *= 0.5;
    z -= (1 - x) * (1 - x) * y;
  } while (zPrime !== z);
  return z / 3;
}

/** The estimate from a histogram of register values (hllCount). */
function estimate(histogram: readonly number[]): number {
  const m = REGISTERS;
  let z = m * tau((m - (histogram[Q + 1] as number)) / m);
  for (let j = Q; j >= 1; --j) {
    z += histogram[j] as number;
    z *= 0.5;
  }
  z += m * sigma((histogram[0] as number) / m);
  return Math.round((ALPHA_INF * m * m) / z);
}

/** The cardinality a valid HLL's registers give, or null if its sparse data is corrupted. */
function countOf(v: Uint8Array): number | null {
  const histogram = new Array<number>(64).fill(0);
  if (v[4] === DENSE) {
    for (let i = 0; i < REGISTERS; i++) (histogram[denseGet(v, i)] as number)++;
  } else {
    const valid = walkSparse(v, (_first, len, value) => {
      histogram[value] = (histogram[value] as number) + len;
    });
    if (!valid) return null;
  }
  return estimate(histogram);
}

/** Raises `max`'s registers to an HLL's (hllMerge); false if it is corrupted. */
function mergeInto(max: Uint8Array, v: Uint8Array): boolean {
  if (v[4] === DENSE) {
    for (let i = 0; i < REGISTERS; i++) {
      const r = denseGet(v, i);
      if (r > (max[i] as number)) max[i] = r;
    }
    return true;
  }
  return walkSparse(v, (first, len, value) => {
    for (let i = first; i < first + len; i++) if (value > (max[i] as number)) max[i] = value;
  });
}

// ---------------------------------------------------------------------------------------
// Commands

const maxBytesOf = (ctx: ExecContext) => ctx.hllSparseMaxBytes ?? SPARSE_MAX_BYTES;

/** The HLL at `key`, undefined if there is none (or it expired), or the error (WRONGTYPE, not an HLL). */
function readHll(ctx: ExecContext, key: Buffer): StoredValue | undefined | Reply {
  const value = lookupString(ctx, key);
  if (value === undefined || isReply(value)) return value;
  return isHll(value.data) ? value : NOT_HLL;
}

/**
 * Stores a changed HLL at `key`: in place of `old` (readHll's), keeping its expiry, or as a
 * new key without one. Not from the store again: a key that expired is still there until
 * removed, and its expiry must not carry over.
 */
function storeHll(
  ctx: ExecContext,
  key: Buffer,
  old: StoredValue | undefined,
  bytes: Uint8Array,
): void {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  notifyIfNew(ctx, key, old !== undefined);
  ctx.store.set(key, old === undefined ? stringValue(data) : { ...old, data });
}

/** PFADD key [element ...]: 1 if a register changed (or the key was created), else 0. */
const pfadd: CommandHandler = (ctx, args) => {
  const key = args.buf(1);
  const old = readHll(ctx, key);
  if (isReply(old)) return old;
  const h: Hll =
    old === undefined
      ? { bytes: emptyHll(), len: HEADER + 2 }
      : { bytes: Uint8Array.from(old.data), len: old.data.length };
  let updated = old === undefined;
  for (let i = 2; i < args.length; i++) {
    const r = add(h, args.buf(i), maxBytesOf(ctx));
    if (r === -1) return CORRUPTED;
    if (r === 1) updated = true;
  }
  if (!updated) return integer(0);
  invalidateCache(h.bytes);
  storeHll(ctx, key, old, view(h).slice());
  notifyKey(ctx, NOTIFY_STRING, "pfadd", key);
  return integer(1);
};

/**
 * PFCOUNT key [key ...]: the estimated cardinality of one HLL (its cached value when that is
 * valid), or of the union of several. Missing keys count as empty HLLs.
 */
const pfcount: CommandHandler = (ctx, args) => {
  if (args.length > 2) {
    const max = new Uint8Array(REGISTERS);
    for (let i = 1; i < args.length; i++) {
      const v = readHll(ctx, args.buf(i));
      if (isReply(v)) return v;
      if (v !== undefined && !mergeInto(max, v.data)) return CORRUPTED;
    }
    const histogram = new Array<number>(64).fill(0);
    for (const r of max) (histogram[r] as number)++;
    return integer(estimate(histogram));
  }
  const v = readHll(ctx, args.buf(1));
  if (v === undefined) return integer(0);
  if (isReply(v)) return v;
  if (((v.data[15] as number) & 0x80) === 0) return integer(v.data.readBigUInt64LE(8));
  const count = countOf(v.data);
  return count === null ? CORRUPTED : integer(count);
};

/** PFMERGE destkey [sourcekey ...]: the union of every HLL named, destkey's own included. */
const pfmerge: CommandHandler = (ctx, args) => {
  const max = new Uint8Array(REGISTERS);
  let dense = false;
  // The destination is the first of the HLLs merged: read once.
  let old: StoredValue | undefined;
  for (let i = 1; i < args.length; i++) {
    const v = readHll(ctx, args.buf(i));
    if (isReply(v)) return v;
    if (i === 1) old = v;
    if (v === undefined) continue;
    if (v.data[4] === DENSE) dense = true;
    if (!mergeInto(max, v.data)) return CORRUPTED;
  }
  const key = args.buf(1);
  let h: Hll =
    old === undefined
      ? { bytes: emptyHll(), len: HEADER + 2 }
      : { bytes: Uint8Array.from(old.data), len: old.data.length };
  if (dense && h.bytes[4] === SPARSE) {
    const converted = sparseToDense(view(h));
    if (converted === null) return CORRUPTED;
    h = { bytes: converted, len: converted.length };
  }
  for (let i = 0; i < REGISTERS; i++) {
    const r = max[i] as number;
    if (r === 0) continue;
    if (h.bytes[4] === DENSE) denseSet(h.bytes, i, r);
    else sparseSet(h, i, r, maxBytesOf(ctx));
  }
  invalidateCache(h.bytes);
  storeHll(ctx, key, old, view(h).slice());
  notifyKey(ctx, NOTIFY_STRING, "pfadd", key);
  return OK;
};

/** PFDEBUG GETREG|DECODE|ENCODING|TODENSE key: Redis's HLL introspection. */
const pfdebug: CommandHandler = (ctx, args) => {
  const sub = args.lower(1);
  const key = args.buf(2);
  const found = readHll(ctx, key);
  if (found === undefined) return errorReply("HLL_NO_KEY");
  if (isReply(found)) return found;
  const v = found.data;
  const toDense = (): Uint8Array | Reply => {
    if (v[4] === DENSE) return v;
    const dense = sparseToDense(v);
    if (dense === null) return CORRUPTED;
    storeHll(ctx, key, found, dense);
    return dense;
  };
  switch (sub) {
    case "getreg": {
      const dense = toDense();
      if (isReply(dense)) return dense;
      const regs: Reply[] = [];
      for (let i = 0; i < REGISTERS; i++) regs.push(integer(denseGet(dense, i)));
      return array(regs);
    }
    case "decode": {
      if (v[4] !== SPARSE) return errorReply("HLL_NOT_SPARSE");
      const parts: string[] = [];
      for (const op of opcodes(v)) {
        if (op.value !== 0) parts.push(`v:${op.value},${op.len}`);
        else parts.push(`${op.long ? "Z" : "z"}:${op.len}`);
      }
      return bulk(parts.join(" "));
    }
    case "encoding":
      return simple(v[4] === DENSE ? "dense" : "sparse");
    case "todense": {
      const was = v[4];
      const dense = toDense();
      if (isReply(dense)) return dense;
      return integer(was === SPARSE ? 1 : 0);
    }
    default:
      return errorReply("HLL_DEBUG_UNKNOWN", args.str(1));
  }
};

/**
 * PFSELFTEST: checks the register access of the dense encoding on random values, then
 * that the sparse and dense encodings count alike and within the expected error as
 * elements are added (Redis's self test, same cycles and bounds).
 */
const pfselftest: CommandHandler = (ctx) => {
  const failure = selfTest(ctx);
  return failure === null ? OK : errorReply("HLL_SELFTEST", failure);
};

function selfTest(ctx: ExecContext): string | null {
  const dense = new Uint8Array(DENSE_BYTES);
  const expected = new Uint8Array(REGISTERS);
  for (let cycle = 0; cycle < 1000; cycle++) {
    for (let i = 0; i < REGISTERS; i++) {
      const r = ctx.random.int(REGISTER_MAX + 1);
      expected[i] = r;
      denseSetRegister(dense, i, r);
    }
    for (let i = 0; i < REGISTERS; i++) {
      const got = denseGet(dense, i);
      if (got !== expected[i]) return `Register ${i} should be ${expected[i]} but is ${got}`;
    }
  }
  const sparse: Hll = { bytes: emptyHll(), len: HEADER + 2 };
  const full: Hll = { bytes: new Uint8Array(DENSE_BYTES), len: DENSE_BYTES };
  full.bytes.set(emptyHll().subarray(0, HEADER));
  full.bytes[4] = DENSE;
  const relativeError = 1.04 / Math.sqrt(REGISTERS);
  let checkpoint = 1;
  const seedLo = ctx.random.int(TWO32);
  const seedHi = ctx.random.int(TWO32);
  const element = new Uint8Array(8);
  const ev = new DataView(element.buffer);
  for (let j = 1; j <= 1_000_000; j++) {
    ev.setUint32(0, (j ^ seedLo) >>> 0, true);
    ev.setUint32(4, seedHi, true);
    add(full, element, SPARSE_MAX_BYTES);
    if (add(sparse, element, SPARSE_MAX_BYTES) === -1) return "corrupted HLL";
    if (j !== checkpoint) continue;
    if (j < SPARSE_MAX_BYTES / 2 && sparse.bytes[4] !== SPARSE) {
      return "sparse encoding not used";
    }
    const card = countOf(view(full));
    if (card === null || card !== countOf(view(sparse))) return "dense/sparse disagree";
    const maxErr = j === 10 ? 1 : Math.ceil(relativeError * 6 * checkpoint);
    const absErr = Math.abs(checkpoint - card);
    if (absErr > maxErr) return `Too big error. card:${checkpoint} abserr:${absErr}`;
    checkpoint *= 10;
  }
  return null;
}

export const HLL_HANDLERS: ReadonlyMap<string, CommandHandler> = new Map<string, CommandHandler>([
  ["pfadd", pfadd],
  ["pfcount", pfcount],
  ["pfmerge", pfmerge],
  ["pfdebug", pfdebug],
  ["pfselftest", pfselftest],
]);

/**
 * Number parsing and formatting with Redis's exact rules, done in integers so every replica
 * computes the same bytes whatever machine it runs on.
 *
 * Integers follow string2ll: an optional '-', then "0" or a digit 1-9 followed by digits,
 * nothing else (no '+', no spaces, no leading zeros), within the signed 64-bit range.
 *
 * INCRBYFLOAT is specified by what Redis does on x86-64: it reads both numbers with strtold
 * into an 80-bit long double (64-bit mantissa), adds them in that precision and prints the
 * sum with "%.17Lf", trimming trailing zeros. A JavaScript double would differ in the last
 * digits (0.1 + 0.2 gives "0.3" in Redis, 0.30000000000000004 in doubles), so the long
 * double is emulated here exactly with BigInt: value = mantissa * 2^exponent, with correct
 * rounding (to nearest, ties to even) at each step, as the hardware and glibc do.
 */

export const I64_MAX = 0x7fff_ffff_ffff_ffffn;
export const I64_MIN = -0x8000_0000_0000_0000n;

/** string2ll rejects strings this long or longer (LONG_STR_SIZE). */
const I64_TEXT_BYTES_MAX = 21;
/** Up to this many digits a double holds the value exactly. */
const SAFE_DIGITS = 15;

const CH_0 = 0x30;
const CH_9 = 0x39;
const CH_MINUS = 0x2d;
const CH_PLUS = 0x2b;
const CH_DOT = 0x2e;

/** string2ll: the value, or undefined when `buf` is not a canonical 64-bit integer. */
export function parseI64(buf: Uint8Array): bigint | undefined {
  const len = buf.length;
  if (len === 0 || len >= I64_TEXT_BYTES_MAX) return undefined;
  if (len === 1 && buf[0] === CH_0) return 0n;
  let i = 0;
  const negative = buf[0] === CH_MINUS;
  if (negative) {
    i = 1;
    if (len === 1) return undefined;
  }
  const first = buf[i] as number;
  if (first < CH_0 + 1 || first > CH_9) return undefined;
  let small = 0;
  for (let j = i; j < len; j++) {
    const c = buf[j] as number;
    if (c < CH_0 || c > CH_9) return undefined;
    small = small * 10 + (c - CH_0);
  }
  if (len - i <= SAFE_DIGITS) return BigInt(negative ? -small : small);
  let text = "";
  for (let j = 0; j < len; j++) text += String.fromCharCode(buf[j] as number);
  const value = BigInt(text);
  return value > I64_MAX || value < I64_MIN ? undefined : value;
}

/** Whether `buf` is an argument string2ll accepts; shorthand for option parsing. */
export function isI64(buf: Uint8Array): boolean {
  return parseI64(buf) !== undefined;
}

// ---------------------------------------------------------------------------------------
// 80-bit long double emulation

/** A long double: finite as sign * mant * 2^exp, or infinite. NaN is never stored. */
export type LongDouble =
  | {
      readonly kind: "finite";
      readonly negative: boolean;
      readonly mant: bigint;
      readonly exp: number;
    }
  | { readonly kind: "infinite"; readonly negative: boolean }
  | { readonly kind: "nan" };

const MANT_BITS = 64;
/** Smallest exponent of the last mantissa bit: the smallest subnormal is 2^-16445. */
const EXP_MIN = -16445;
/** Finite values stay below 2^16384. */
const VALUE_BITS_MAX = 16384;
/** Decimal exponents beyond these are certain overflow / underflow (with margin). */
const DEC_EXP_OVERFLOW = 4933;
const DEC_EXP_UNDERFLOW = -4952;
/** Exponent digits are read up to this magnitude; beyond it the answer no longer changes. */
const EXP_CLAMP = 1_000_000;
/** string2ld refuses strings this long or longer (MAX_LONG_DOUBLE_CHARS). */
const LD_TEXT_BYTES_MAX = 5 * 1024;

function zero(negative: boolean): LongDouble {
  return { kind: "finite", negative, mant: 0n, exp: 0 };
}

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

/**
 * Rounds the exact value sign * (num / den) * 2^exp2 to a long double: a 64-bit mantissa,
 * ties to even, subnormals below 2^-16382, infinity above the largest finite value.
 */
function roundRational(negative: boolean, num: bigint, den: bigint, exp2: number): LongDouble {
  if (num === 0n) return { kind: "finite", negative, mant: 0n, exp: 0 };
  // Choose k so that floor(num * 2^k / den) has exactly MANT_BITS bits.
  let k = MANT_BITS - (bitLength(num) - bitLength(den));
  let q = scaledQuotient(num, den, k);
  while (q >= 1n << BigInt(MANT_BITS)) q = scaledQuotient(num, den, --k);
  while (q < 1n << BigInt(MANT_BITS - 1)) q = scaledQuotient(num, den, ++k);
  if (exp2 - k < EXP_MIN) {
    // Subnormal: fewer mantissa bits, the last one worth 2^EXP_MIN.
    k = exp2 - EXP_MIN;
  }
  const scaledNum = k >= 0 ? num << BigInt(k) : num;
  const scaledDen = k >= 0 ? den : den << BigInt(-k);
  let mant = scaledNum / scaledDen;
  const twiceRem = (scaledNum - mant * scaledDen) * 2n;
  if (twiceRem > scaledDen || (twiceRem === scaledDen && (mant & 1n) === 1n)) mant += 1n;
  let exp = exp2 - k;
  if (mant === 1n << BigInt(MANT_BITS)) {
    mant >>= 1n;
    exp += 1;
  }
  if (mant !== 0n && exp + bitLength(mant) > VALUE_BITS_MAX) return { kind: "infinite", negative };
  return { kind: "finite", negative, mant, exp };
}

function scaledQuotient(num: bigint, den: bigint, k: number): bigint {
  return k >= 0 ? (num << BigInt(k)) / den : num / (den << BigInt(-k));
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= CH_0 && c <= CH_9;
}

function hexValue(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= CH_0 && c <= CH_9) return c - CH_0;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** Reads [+-]digits at `i`; returns [value clamped to ±EXP_CLAMP, next index] or undefined. */
function readExponent(buf: Uint8Array, i: number): [number, number] | undefined {
  let negative = false;
  if (buf[i] === CH_PLUS || buf[i] === CH_MINUS) {
    negative = buf[i] === CH_MINUS;
    i++;
  }
  if (!isDigit(buf[i])) return undefined;
  let value = 0;
  while (isDigit(buf[i])) {
    value = Math.min(EXP_CLAMP, value * 10 + ((buf[i] as number) - CH_0));
    i++;
  }
  return [negative ? -value : value, i];
}

function matchesWord(buf: Uint8Array, from: number, word: string): boolean {
  if (buf.length - from !== word.length) return false;
  for (let j = 0; j < word.length; j++) {
    if (((buf[from + j] as number) | 0x20) !== word.charCodeAt(j)) return false;
  }
  return true;
}

/**
 * string2ld: the whole of `buf` read as strtold reads it (decimal, hexadecimal "0x1.8p3",
 * "inf"/"infinity"), or undefined when Redis would answer "ERR value is not a valid float":
 * empty, leading whitespace, trailing bytes, NaN, or a value too large or too small to be
 * anything but infinity or zero.
 */
export function parseLongDouble(buf: Uint8Array): LongDouble | undefined {
  const len = buf.length;
  if (len === 0 || len >= LD_TEXT_BYTES_MAX) return undefined;
  let i = 0;
  let negative = false;
  if (buf[0] === CH_PLUS || buf[0] === CH_MINUS) {
    negative = buf[0] === CH_MINUS;
    i = 1;
  }
  if (matchesWord(buf, i, "inf") || matchesWord(buf, i, "infinity")) {
    return { kind: "infinite", negative };
  }
  if (buf[i] === CH_0 && (buf[i + 1] === 0x78 || buf[i + 1] === 0x58)) {
    const hex = parseHexBody(buf, i + 2, negative);
    if (hex !== undefined) return hex;
    // "0x" without hex digits: strtold reads just the "0" and stops, so not a number.
    return undefined;
  }
  return parseDecimalBody(buf, i, negative);
}

function parseDecimalBody(buf: Uint8Array, i: number, negative: boolean): LongDouble | undefined {
  const len = buf.length;
  let digits = "";
  let sawDigit = false;
  let fractionDigits = 0;
  while (isDigit(buf[i])) {
    sawDigit = true;
    if (digits.length > 0 || buf[i] !== CH_0) digits += String.fromCharCode(buf[i] as number);
    i++;
  }
  if (buf[i] === CH_DOT) {
    i++;
    while (isDigit(buf[i])) {
      sawDigit = true;
      fractionDigits++;
      if (digits.length > 0 || buf[i] !== CH_0) digits += String.fromCharCode(buf[i] as number);
      i++;
    }
  }
  if (!sawDigit) return undefined;
  let exp10 = 0;
  if (buf[i] === 0x65 || buf[i] === 0x45) {
    const read = readExponent(buf, i + 1);
    if (read === undefined) return undefined;
    [exp10, i] = read;
  }
  if (i !== len) return undefined;
  if (digits.length === 0) return zero(negative);
  // Value = D * 10^e where D holds the significant digits (leading zeros dropped; the
  // dropped fraction zeros are still counted in fractionDigits).
  const e = exp10 - fractionDigits;
  const leading = e + digits.length - 1;
  if (leading > DEC_EXP_OVERFLOW) return undefined;
  if (leading < DEC_EXP_UNDERFLOW) return undefined;
  const d = BigInt(digits);
  const value =
    e >= 0
      ? roundRational(negative, d * 10n ** BigInt(e), 1n, 0)
      : roundRational(negative, d, 10n ** BigInt(-e), 0);
  return rangeChecked(value);
}

function parseHexBody(buf: Uint8Array, i: number, negative: boolean): LongDouble | undefined {
  const len = buf.length;
  let mant = 0n;
  let sawDigit = false;
  let fractionDigits = 0;
  while (hexValue(buf[i]) >= 0) {
    sawDigit = true;
    mant = (mant << 4n) | BigInt(hexValue(buf[i]));
    i++;
  }
  if (buf[i] === CH_DOT) {
    i++;
    while (hexValue(buf[i]) >= 0) {
      sawDigit = true;
      fractionDigits++;
      mant = (mant << 4n) | BigInt(hexValue(buf[i]));
      i++;
    }
  }
  if (!sawDigit) return undefined;
  let exp2 = 0;
  if (buf[i] === 0x70 || buf[i] === 0x50) {
    const read = readExponent(buf, i + 1);
    if (read === undefined) return undefined;
    [exp2, i] = read;
  }
  if (i !== len) return undefined;
  if (mant === 0n) return zero(negative);
  const e = exp2 - 4 * fractionDigits;
  const top = e + bitLength(mant);
  if (top > VALUE_BITS_MAX + 1) return undefined;
  if (top < EXP_MIN - 1) return undefined;
  return rangeChecked(roundRational(negative, mant, 1n, e));
}

/** strtold's ERANGE cases that string2ld rejects: overflow to infinity, underflow to zero. */
function rangeChecked(value: LongDouble): LongDouble | undefined {
  if (value.kind === "infinite") return undefined;
  if (value.kind === "finite" && value.mant === 0n) return undefined;
  return value;
}

/** a + b in long double precision. */
export function addLongDouble(a: LongDouble, b: LongDouble): LongDouble {
  if (a.kind === "nan" || b.kind === "nan") return { kind: "nan" };
  if (a.kind === "infinite" || b.kind === "infinite") {
    if (a.kind === "infinite" && b.kind === "infinite" && a.negative !== b.negative) {
      return { kind: "nan" };
    }
    return a.kind === "infinite" ? a : b;
  }
  const exp = Math.min(a.exp, b.exp);
  const av = (a.negative ? -a.mant : a.mant) << BigInt(a.exp - exp);
  const bv = (b.negative ? -b.mant : b.mant) << BigInt(b.exp - exp);
  const sum = av + bv;
  if (sum === 0n) {
    // Round to nearest gives +0 for x + (-x), and -0 only for -0 + -0.
    return { kind: "finite", negative: a.negative && b.negative, mant: 0n, exp: 0 };
  }
  return roundRational(sum < 0n, sum < 0n ? -sum : sum, 1n, exp);
}

const FRACTION_DIGITS = 17;
const FRACTION_SCALE = 10n ** BigInt(FRACTION_DIGITS);

/**
 * ld2string in LD_STR_HUMAN mode: "%.17Lf" (correctly rounded, ties to even), trailing
 * fraction zeros and a bare '.' removed, "-0" printed as "0". Infinite values print as
 * "inf"/"-inf" (callers refuse to store them).
 */
export function formatLongDoubleHuman(value: LongDouble): string {
  if (value.kind === "nan") return "nan";
  if (value.kind === "infinite") return value.negative ? "-inf" : "inf";
  let intPart: bigint;
  let fraction: bigint;
  if (value.exp >= 0) {
    intPart = value.mant << BigInt(value.exp);
    fraction = 0n;
  } else {
    const shift = BigInt(-value.exp);
    const scaled = value.mant * FRACTION_SCALE;
    let q = scaled >> shift;
    const twiceRem = (scaled - (q << shift)) << 1n;
    const unit = 1n << shift;
    if (twiceRem > unit || (twiceRem === unit && (q & 1n) === 1n)) q += 1n;
    intPart = q / FRACTION_SCALE;
    fraction = q % FRACTION_SCALE;
  }
  let text = intPart.toString();
  if (fraction !== 0n) {
    text += `.${fraction.toString().padStart(FRACTION_DIGITS, "0").replace(/0+$/, "")}`;
  }
  if (value.negative && text !== "0") text = `-${text}`;
  return text;
}

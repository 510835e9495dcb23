/**
 * C's printf conversions of a double (%e, %f, %g) as glibc makes them, for what scripts
 * print (Lua 5.1 formats with sprintf: tostring's "%.14g", string.format, cjson). A
 * number is printed from its exact decimal expansion (a double is m·2^e, so its digits are
 * m·5^-e, exact in a BigInt), rounded half to even as glibc does; JavaScript's toFixed and
 * toPrecision round a tie up ((2.5).toFixed(0) is "3" where "%.0f" gives "2", and
 * (30.3375244140625).toPrecision(14) ends in 63 where "%.14g" ends in 62).
 */

/** A conversion's flags, width and precision, as printf reads them. */
export interface Spec {
  left: boolean;
  plus: boolean;
  space: boolean;
  alt: boolean;
  zero: boolean;
  width: number;
  /** -1 when the spec has none. */
  precision: number;
  conversion: string;
}

/** C's (long) of a double on x86-64: toward zero; out of range or NaN, LONG_MIN. */
export function toLong(n: number): bigint {
  if (!Number.isFinite(n) || n >= 2 ** 63 || n < -(2 ** 63)) return -(2n ** 63n);
  return BigInt(Math.trunc(n));
}

/** C's (int) of a double on x86-64: toward zero; out of range or NaN, INT_MIN. */
export function toInt(n: number): number {
  if (!Number.isFinite(n) || n >= 2 ** 31 || n <= -(2 ** 31) - 1) return -(2 ** 31);
  return Math.trunc(n);
}

/**
 * C's (unsigned long) of a double as gcc makes it on x86-64: below 2^63 (and NaN) the
 * signed conversion's bits; from 2^63 on, that of n − 2^63 with the top bit flipped, so
 * 2^64 and up (and infinity) give 0.
 */
export function toUnsignedLong(n: number): bigint {
  if (!(n >= 2 ** 63)) return BigInt.asUintN(64, toLong(n));
  return BigInt.asUintN(64, toLong(n - 2 ** 63)) ^ (1n << 63n);
}

/** C's "%.14g" of a finite number: Lua 5.1's number format, and lua_cjson's. */
export function formatG14(n: number): string {
  if (n === 0) return Object.is(n, -0) ? "-0" : "0";
  // Up to 14 digits an integer prints whole, without an exponent.
  if (Number.isInteger(n) && Math.abs(n) < 1e14) return String(n);
  // toPrecision rounds as glibc does but for an exact tie at the 15th digit: only a 15th
  // significant digit of 5 (as toExponential(14) shows it) can be one.
  const p15 = Math.abs(n).toExponential(14).replace(/e.*$/, "").replace(".", "");
  if (p15[14] !== "5") return stripZeros(fromPrecision(n));
  return formatFloat(n, g14);
}

/** A spec with no flags and no width: `%.<precision><conversion>` (-1: no precision). */
export function bareSpec(conversion: string, precision: number): Spec {
  return {
    left: false,
    plus: false,
    space: false,
    alt: false,
    zero: false,
    width: 0,
    precision,
    conversion,
  };
}

const g14 = bareSpec("g", 14);

/** toPrecision(14) in %g's form: an exponent of two digits or more, from e-5 and e+14. */
function fromPrecision(n: number): string {
  const [mant, e] = n.toExponential(13).split("e") as [string, string];
  const exp = Number(e);
  if (exp < -4 || exp >= 14) {
    return `${mant}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  return n.toFixed(Math.max(0, 13 - exp));
}

/** `body` after `prefix` (sign, 0x), padded to the width: zeros after the prefix or spaces. */
export function padNumber(prefix: string, body: string, spec: Spec, zeroAllowed: boolean): string {
  const fill = spec.width - prefix.length - body.length;
  if (fill <= 0) return prefix + body;
  if (spec.left) return prefix + body + " ".repeat(fill);
  if (spec.zero && zeroAllowed) return prefix + "0".repeat(fill) + body;
  return " ".repeat(fill) + prefix + body;
}

/** A double as C's %e, %E, %f, %g or %G with the spec's flags, width and precision. */
export function formatFloat(x: number, spec: Spec): string {
  const upper = spec.conversion === "E" || spec.conversion === "G";
  const negative = x < 0 || Object.is(x, -0) || Number.isNaN(x);
  const sign = negative ? "-" : spec.plus ? "+" : spec.space ? " " : "";
  let body: string;
  if (!Number.isFinite(x)) {
    // Every NaN as "-nan", what 0/0 gives on x86-64 (see core/lua.ts, tostring).
    body = Number.isNaN(x) ? "nan" : "inf";
    return padNumber(sign, upper ? body.toUpperCase() : body, spec, false);
  }
  const precision = spec.precision < 0 ? 6 : spec.precision;
  const d = decimalOf(Math.abs(x));
  switch (spec.conversion) {
    case "f":
      body = fixed(d, precision, spec.alt);
      break;
    case "e":
    case "E":
      body = exponential(d, precision, spec.alt);
      break;
    default: {
      const p = precision === 0 ? 1 : precision;
      const exp = d.digits === "" ? 0 : rounded(d, p).point - 1;
      body =
        exp < -4 || exp >= p ? exponential(d, p - 1, spec.alt) : fixed(d, p - 1 - exp, spec.alt);
      if (!spec.alt) body = stripZeros(body);
    }
  }
  return padNumber(sign, upper ? body.toUpperCase() : body, spec, true);
}

/**
 * A non-negative double's exact decimal digits: value = 0.digits × 10^point, digits
 * without leading zeros ("" for zero).
 */
interface Decimal {
  digits: string;
  point: number;
}

const view = new DataView(new ArrayBuffer(8));

function decimalOf(x: number): Decimal {
  if (x === 0) return { digits: "", point: 0 };
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  const mantissa = biased === 0 ? fraction : fraction | (1n << 52n);
  const exp = (biased === 0 ? 1 : biased) - 1075;
  if (exp >= 0) {
    const digits = (mantissa << BigInt(exp)).toString();
    return trimDecimal(digits, digits.length);
  }
  const digits = (mantissa * 5n ** BigInt(-exp)).toString();
  return trimDecimal(digits, digits.length + exp);
}

function trimDecimal(digits: string, point: number): Decimal {
  const t = digits.replace(/0+$/, "");
  return { digits: t, point };
}

/** `d` rounded half to even to `k` significant digits (exactly k, zeros added). */
function rounded(d: Decimal, k: number): Decimal {
  if (k < 0) return { digits: "", point: d.point };
  if (d.digits.length <= k) return { digits: d.digits.padEnd(k, "0"), point: d.point };
  const kept = d.digits.slice(0, k);
  const first = d.digits.charCodeAt(k) - 0x30;
  const rest = d.digits.slice(k + 1);
  const lastKept = k === 0 ? 0 : kept.charCodeAt(k - 1) - 0x30;
  const up = first > 5 || (first === 5 && (/[1-9]/.test(rest) || lastKept % 2 === 1));
  if (!up) return { digits: kept, point: d.point };
  const bumped = (BigInt(kept === "" ? "0" : kept) + 1n).toString();
  if (k === 0) return { digits: "1", point: d.point + 1 };
  if (bumped.length > k) return { digits: bumped.slice(0, k), point: d.point + 1 };
  return { digits: bumped.padStart(k, "0"), point: d.point };
}

/** %f: `precision` digits after the point. */
function fixed(d: Decimal, precision: number, alt: boolean): string {
  let r: Decimal;
  if (d.digits === "") r = { digits: "", point: 1 };
  else {
    const k = d.point + precision;
    // Below half of the last place shown: all zeros (a k < 0 value is that small).
    r = k < 0 ? { digits: "", point: -precision } : rounded(d, k);
  }
  const all = r.digits;
  const intDigits = r.point > 0 ? all.slice(0, r.point).padEnd(r.point, "0") : "0";
  let frac = "";
  if (precision > 0) {
    const start = r.point;
    for (let i = 0; i < precision; i++) {
      const at = start + i;
      frac += at >= 0 && at < all.length ? all[at] : "0";
    }
  }
  return precision > 0 || alt ? `${intDigits}.${frac}` : intDigits;
}

/** %e: one digit, the point, `precision` digits, and an exponent of two digits or more. */
function exponential(d: Decimal, precision: number, alt: boolean): string {
  if (d.digits === "") {
    const zeros = "0".repeat(precision);
    return `${precision > 0 || alt ? `0.${zeros}` : "0"}e+00`;
  }
  const r = rounded(d, precision + 1);
  const exp = r.point - 1;
  const mantissa =
    precision > 0 || alt ? `${r.digits[0]}.${r.digits.slice(1)}` : (r.digits[0] as string);
  return `${mantissa}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
}

/** %g without '#': no trailing zeros after the point, and no point with nothing after it. */
function stripZeros(s: string): string {
  const e = s.search(/e/i);
  const mant = e < 0 ? s : s.slice(0, e);
  const tail = e < 0 ? "" : s.slice(e);
  if (!mant.includes(".")) return s;
  return mant.replace(/0+$/, "").replace(/\.$/, "") + tail;
}

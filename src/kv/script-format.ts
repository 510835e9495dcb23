import {
  bareSpec,
  formatFloat,
  padNumber,
  type Spec,
  toInt,
  toLong,
  toUnsignedLong,
} from "../core/cformat.js";
import { type LuaState, lauxlib, lua, to_luastring } from "../core/lua.js";

/**
 * string.format as Lua 5.1 has it in Redis (lstrlib.c's str_format over glibc's sprintf),
 * for scripts (script.ts). fengari's is Lua 5.3's over its own sprintf, and differed
 * where scripts notice: `%d` of a number past 2^31 or with a fraction was an error (Redis:
 * 2147483648, and 3 for 3.7), `%g` of 1e20 printed every digit and `%e` a one-digit
 * exponent, `%q` of a number gave a hexadecimal float, `%x` of -1 was 32 bits.
 * Floats are printed as glibc does (core/cformat.ts).
 */

const FLAGS = "-+ #0";

/** The `string.format` function. */
export function luaFormat(L: LuaState): number {
  const fmt = lauxlib.luaL_checklstring(L, 1);
  const top = lua.lua_gettop(L);
  const out: Uint8Array[] = [];
  let arg = 1;
  let i = 0;
  let literalFrom = 0;
  while (i < fmt.length) {
    if (fmt[i] !== 0x25) {
      i++;
      continue;
    }
    if (i > literalFrom) out.push(fmt.subarray(literalFrom, i));
    i++;
    if (fmt[i] === 0x25) {
      out.push(PERCENT);
      i++;
      literalFrom = i;
      continue;
    }
    const [spec, next] = scanSpec(L, fmt, i);
    i = next;
    literalFrom = i;
    arg++;
    if (arg > top) lauxlib.luaL_argerror(L, arg, to_luastring("no value"));
    out.push(formatOne(L, spec, arg));
  }
  if (literalFrom < fmt.length) out.push(fmt.subarray(literalFrom));
  lua.lua_pushstring(L, Buffer.concat(out));
  return 1;
}

const PERCENT = Uint8Array.of(0x25);

/** The spec after a '%' at `at` (lstrlib.c's scanformat), and where the format goes on. */
function scanSpec(L: LuaState, fmt: Uint8Array, at: number): [Spec, number] {
  let p = at;
  const spec = bareSpec("", -1);
  while (p < fmt.length && FLAGS.includes(String.fromCharCode(fmt[p] as number))) {
    const f = String.fromCharCode(fmt[p] as number);
    if (f === "-") spec.left = true;
    else if (f === "+") spec.plus = true;
    else if (f === " ") spec.space = true;
    else if (f === "#") spec.alt = true;
    else spec.zero = true;
    p++;
  }
  if (p - at >= FLAGS.length + 1) fail(L, "invalid format (repeated flags)");
  const digits = (max: number): number => {
    let n = 0;
    for (let k = 0; k < max && isDigit(fmt[p]); k++) n = n * 10 + ((fmt[p++] as number) - 0x30);
    return n;
  };
  spec.width = digits(2);
  if (fmt[p] === 0x2e) {
    p++;
    spec.precision = digits(2);
  }
  if (isDigit(fmt[p])) fail(L, "invalid format (width or precision too long)");
  spec.conversion = p < fmt.length ? String.fromCharCode(fmt[p] as number) : "";
  return [spec, p + 1];
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

function fail(L: LuaState, message: string): never {
  lauxlib.luaL_error(L, to_luastring(message.replace(/%/g, "%%")));
  throw new Error("unreachable");
}

/**
 * One conversion. What sprintf writes goes through strlen in Lua 5.1, so a NUL byte ends
 * it (`%c` of 0, a short `%s` holding one).
 */
function formatOne(L: LuaState, spec: Spec, arg: number): Uint8Array {
  switch (spec.conversion) {
    case "c": {
      const code = toInt(lauxlib.luaL_checknumber(L, arg)) & 0xff;
      return untilNul(pad(Uint8Array.of(code), spec));
    }
    case "d":
    case "i":
      return latin1(formatInteger(toLong(lauxlib.luaL_checknumber(L, arg)), spec, 10, true));
    case "o":
      return latin1(
        formatInteger(toUnsignedLong(lauxlib.luaL_checknumber(L, arg)), spec, 8, false),
      );
    case "u":
      return latin1(
        formatInteger(toUnsignedLong(lauxlib.luaL_checknumber(L, arg)), spec, 10, false),
      );
    case "x":
    case "X": {
      const n = toUnsignedLong(lauxlib.luaL_checknumber(L, arg));
      const text = formatInteger(n, spec, 16, false);
      return latin1(spec.conversion === "X" ? text.toUpperCase() : text);
    }
    case "e":
    case "E":
    case "f":
    case "g":
    case "G":
      return latin1(formatFloat(lauxlib.luaL_checknumber(L, arg), spec));
    case "q":
      return quoted(lauxlib.luaL_checklstring(L, arg));
    case "s": {
      const s = lauxlib.luaL_checklstring(L, arg);
      // Lua 5.1 adds a long string as it is, the spec's width ignored.
      if (spec.precision < 0 && s.length >= 100) return s;
      const shown = untilNul(spec.precision >= 0 ? s.subarray(0, spec.precision) : s);
      return untilNul(pad(shown, spec));
    }
    default:
      return fail(L, `invalid option '%${spec.conversion}' to 'format'`);
  }
}

function formatInteger(v: bigint, spec: Spec, base: 8 | 10 | 16, signed: boolean): string {
  const negative = v < 0n;
  let digits = (negative ? -v : v).toString(base);
  if (spec.precision >= 0) {
    digits = spec.precision === 0 && v === 0n ? "" : digits.padStart(spec.precision, "0");
  }
  let prefix = "";
  if (signed) prefix = negative ? "-" : spec.plus ? "+" : spec.space ? " " : "";
  else if (spec.alt && base === 8 && !digits.startsWith("0")) digits = `0${digits}`;
  else if (spec.alt && base === 16 && v !== 0n) prefix = "0x";
  return padNumber(prefix, digits, spec, spec.precision < 0);
}

function pad(s: Uint8Array, spec: Spec): Uint8Array {
  const fill = spec.width - s.length;
  if (fill <= 0) return s;
  const spaces = new Uint8Array(fill).fill(0x20);
  return spec.left ? Buffer.concat([s, spaces]) : Buffer.concat([spaces, s]);
}

function untilNul(s: Uint8Array): Uint8Array {
  const nul = s.indexOf(0);
  return nul < 0 ? s : s.subarray(0, nul);
}

function latin1(s: string): Uint8Array {
  return Buffer.from(s, "latin1");
}

/** Lua 5.1's %q: in double quotes, with `"`, `\`, newline, CR and NUL escaped. */
function quoted(s: Uint8Array): Uint8Array {
  const out: number[] = [0x22];
  for (const c of s) {
    if (c === 0x22 || c === 0x5c || c === 0x0a) out.push(0x5c, c);
    else if (c === 0x0d) out.push(0x5c, 0x72);
    else if (c === 0) out.push(0x5c, 0x30, 0x30, 0x30);
    else out.push(c);
  }
  out.push(0x22);
  return Uint8Array.from(out);
}

/**
 * fengari (Lua in JavaScript), loaded with the configuration scripts need. fengari reads
 * its configuration from the environment once, when it is first loaded; it is set here,
 * before the load, so that every node formats numbers alike whatever its environment says
 * (a script runs on every replica of its shard and must give the same bytes).
 * LUA_COMPAT_FLOATSTRING: an integral float prints as Lua 5.1 (Redis's Lua) prints it,
 * "2" and not "2.0".
 */
process.env.FENGARICONF = JSON.stringify({ LUA_COMPAT_FLOATSTRING: true });

import { formatG14 } from "./cformat.js";

const fengari = await import("fengari");
const lobject = (await import("fengari/src/lobject.js")).default;
const lstring = (await import("fengari/src/lstring.js")).default;

export const { lua, lauxlib, lualib, to_luastring } = fengari;
export type { LuaDebug, LuaState } from "fengari";

/**
 * Every numeral a float, as in Lua 5.1, where every number is a double. fengari is Lua
 * 5.3 with 32-bit integers that wrap: the literal `86400000 * 30` (30 days in ms) was
 * -1702967296 and `0xffffffff` was -1, where Redis gives 2592000000 and 4294967295.
 * Its lexer, its string coercions and lua_stringtonumber all convert a numeral with
 * lobject's luaO_str2num, called through the module's exports, so wrapping that one
 * function makes each of them give a float: a literal, and so a constant the compiler
 * folds (`86400000 * 30`), is a double, and arithmetic with it is done in doubles. An
 * integral float still goes wherever 5.3 wants an integer (a table index, string.sub's
 * positions, `%d`), and prints without ".0" (above). A decimal integer numeral that fits
 * 32 bits is exact as a double; a hexadecimal one is read again in full (5.3 wraps it,
 * 5.1 reads it with strtod, exactly rounded).
 */
const str2num = lobject.luaO_str2num;
lobject.luaO_str2num = (s, o) => {
  const size = str2num(s, o);
  if (size !== 0 && o.ttisinteger()) o.setfltvalue(hexNumeral(s) ?? signedZero(s, o.value));
  return size;
};

/** "-0" is a double's negative zero, as strtod reads it; an integer has no sign there. */
function signedZero(s: Uint8Array, value: number): number {
  if (value !== 0) return value;
  for (const c of s) {
    if (c === 0x2d) return -0;
    if (c !== 0x20 && (c < 0x09 || c > 0x0d)) break;
  }
  return 0;
}

/**
 * A float as a string the way Lua 5.1 on Linux makes it (`tostring`, `..`, a number given
 * to redis.call): C's "%.14g", "inf" and "-inf", and "-nan" for any NaN (what 0/0 gives
 * on x86-64; a NaN's sign is not something JavaScript keeps reliably, and every replica
 * must print the same). fengari printed 10^15 as "1000000000000000" where Redis prints
 * "1e+15", and infinity as "Infinity".
 */
const tostring = lobject.luaO_tostring;
lobject.luaO_tostring = (L, o) => {
  if (!o.ttisfloat()) return tostring(L, o);
  o.setsvalue(lstring.luaS_bless(L, to_luastring(floatText(o.value))));
};

function floatText(n: number): string {
  if (Number.isFinite(n)) return formatG14(n);
  if (Number.isNaN(n)) return "-nan";
  return n > 0 ? "inf" : "-inf";
}

/** The value of a hexadecimal integer numeral ("  -0xFF "), or null if `s` is not one. */
function hexNumeral(s: Uint8Array): number | null {
  // Most numerals are decimal (every string coerced in arithmetic comes here): no text
  // made for them.
  if (s.indexOf(0x78) < 0 && s.indexOf(0x58) < 0) return null;
  const text = Buffer.from(s).toString("latin1").replace(/\0.*$/s, "").trim();
  const m = /^([+-]?)0[xX]([0-9a-fA-F]+)$/.exec(text);
  if (m === null) return null;
  const value = Number(BigInt(`0x${m[2]}`));
  return m[1] === "-" ? -value : value;
}

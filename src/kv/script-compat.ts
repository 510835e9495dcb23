import { type LuaState, lauxlib, lua, to_luastring } from "../core/lua.js";
import { workBytesPerUnit, workPerValue } from "./script-libs.js";

/**
 * Lua 5.1's standard library on fengari's Lua 5.3, as Redis's scripts have it: what 5.1
 * has and 5.3 dropped is added back, what 5.3 added is taken away, and what changed
 * behaves as in 5.1. Each function is given the library's real table on top of the stack
 * (script.ts makes every library before it guards it).
 *
 * Checked against redis-server 7.0 by listing every name of every library in both, and
 * by calls of each function here (test/kv/script.test.ts).
 */

type CFunction = (L: LuaState) => number;

function set(L: LuaState, name: string, f: CFunction): void {
  lua.lua_pushjsfunction(L, f);
  lua.lua_setfield(L, -2, to_luastring(name));
}

function remove(L: LuaState, names: readonly string[]): void {
  for (const name of names) {
    lua.lua_pushnil(L);
    lua.lua_setfield(L, -2, to_luastring(name));
  }
}

function pushNumbers(L: LuaState, ...ns: number[]): number {
  for (const n of ns) lua.lua_pushnumber(L, n);
  return ns.length;
}

const num = (L: LuaState, arg: number): number => lauxlib.luaL_checknumber(L, arg);

/** The math table: 5.1's atan2, cosh, sinh, tanh, frexp, ldexp, log10, pow, mod and log. */
export function mathOf51(L: LuaState): void {
  set(L, "atan2", (l) => pushNumbers(l, Math.atan2(num(l, 1), num(l, 2))));
  set(L, "cosh", (l) => pushNumbers(l, Math.cosh(num(l, 1))));
  set(L, "sinh", (l) => pushNumbers(l, Math.sinh(num(l, 1))));
  set(L, "tanh", (l) => pushNumbers(l, Math.tanh(num(l, 1))));
  set(L, "log10", (l) => pushNumbers(l, Math.log10(num(l, 1))));
  set(L, "pow", (l) => pushNumbers(l, num(l, 1) ** num(l, 2)));
  // 5.1's log has no base: a second argument is ignored (5.3's takes it).
  set(L, "log", (l) => pushNumbers(l, Math.log(num(l, 1))));
  set(L, "ldexp", (l) => pushNumbers(l, ldexp(num(l, 1), num(l, 2))));
  set(L, "frexp", (l) => pushNumbers(l, ...frexp(num(l, 1))));
  lua.lua_getfield(L, -1, to_luastring("fmod"));
  lua.lua_setfield(L, -2, to_luastring("mod"));
  remove(L, ["tointeger", "type", "ult", "maxinteger", "mininteger"]);
}

/** C's ldexp(x, (int)e): x · 2^e, in two steps so that 2^e alone cannot overflow. */
function ldexp(x: number, e: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const n = Math.max(-2200, Math.min(2200, Math.trunc(e) || 0));
  const half = Math.trunc(n / 2);
  return x * 2 ** half * 2 ** (n - half);
}

const bits = new DataView(new ArrayBuffer(8));

/**
 * C's frexp: x = m · 2^e with 0.5 ≤ |m| < 1 (0, infinities and NaN as they are, e 0),
 * read from the double's bits: no loop, so no input can hold the script (and the node)
 * in it.
 */
function frexp(x: number): [number, number] {
  if (x === 0 || !Number.isFinite(x)) return [x, 0];
  bits.setFloat64(0, x);
  const high = bits.getUint32(0);
  const exponent = (high >>> 20) & 0x7ff;
  if (exponent === 0) {
    // Subnormal: scaled into the normal range first.
    const [m, e] = frexp(x * 2 ** 64);
    return [m, e - 64];
  }
  bits.setUint32(0, (high & 0x800fffff) | (1022 << 20));
  return [bits.getFloat64(0), exponent - 1022];
}

/**
 * The table library: 5.1's foreach, foreachi, maxn, getn, setn and concat; 5.3's pack,
 * unpack, move gone. `spend` counts concat's work toward the script's bound
 * (LibSettings.spend): it makes a string of a whole table in one call.
 */
export function tableOf51(L: LuaState, spend: (L: LuaState, units: number) => void): void {
  set(L, "concat", (l) => tableConcat(l, spend));
  set(L, "foreach", (l) => {
    lauxlib.luaL_checktype(l, 1, lua.LUA_TTABLE);
    lauxlib.luaL_checktype(l, 2, lua.LUA_TFUNCTION);
    lua.lua_pushnil(l);
    while (lua.lua_next(l, 1) !== 0) {
      lua.lua_pushvalue(l, 2);
      lua.lua_pushvalue(l, -3);
      lua.lua_pushvalue(l, -3);
      lua.lua_call(l, 2, 1);
      if (lua.lua_type(l, -1) !== lua.LUA_TNIL) return 1;
      lua.lua_pop(l, 2);
    }
    return 0;
  });
  set(L, "foreachi", (l) => {
    lauxlib.luaL_checktype(l, 1, lua.LUA_TTABLE);
    lauxlib.luaL_checktype(l, 2, lua.LUA_TFUNCTION);
    const n = lua.lua_rawlen(l, 1);
    for (let i = 1; i <= n; i++) {
      lua.lua_pushvalue(l, 2);
      lua.lua_pushnumber(l, i);
      lua.lua_rawgeti(l, 1, i);
      lua.lua_call(l, 2, 1);
      if (lua.lua_type(l, -1) !== lua.LUA_TNIL) return 1;
      lua.lua_pop(l, 1);
    }
    return 0;
  });
  set(L, "maxn", (l) => {
    lauxlib.luaL_checktype(l, 1, lua.LUA_TTABLE);
    let max = 0;
    lua.lua_pushnil(l);
    while (lua.lua_next(l, 1) !== 0) {
      lua.lua_pop(l, 1);
      if (lua.lua_type(l, -1) === lua.LUA_TNUMBER) max = Math.max(max, lua.lua_tonumber(l, -1));
    }
    return pushNumbers(l, max);
  });
  // 5.1's table.getn(t): #t without the __len metamethod (lua_objlen).
  set(L, "getn", (l) => {
    lauxlib.luaL_checktype(l, 1, lua.LUA_TTABLE);
    return pushNumbers(l, lua.lua_rawlen(l, 1));
  });
  set(L, "setn", (l) => {
    lauxlib.luaL_checktype(l, 1, lua.LUA_TTABLE);
    return lauxlib.luaL_error(l, to_luastring("'setn' is obsolete"));
  });
  remove(L, ["pack", "unpack", "move"]);
}

/** The string library: 5.1's gfind (gmatch's old name); 5.3's pack, unpack, packsize gone. */
export function stringOf51(L: LuaState): void {
  lua.lua_getfield(L, -1, to_luastring("gmatch"));
  lua.lua_setfield(L, -2, to_luastring("gfind"));
  remove(L, ["pack", "unpack", "packsize"]);
}

/** The coroutine library: 5.3's isyieldable gone. */
export function coroutineOf51(L: LuaState): void {
  remove(L, ["isyieldable"]);
}

/**
 * The base library, on the global table: 5.1's unpack, gcinfo, collectgarbage and load,
 * Redis's pcall; 5.3's rawlen gone. The collector's figures are not the same on two replicas, so gcinfo and
 * collectgarbage("count") answer 0 and the collector is left to run as it does (fengari
 * has no lua_gc, and its collectgarbage raised an error).
 */
export function baseOf51(L: LuaState): void {
  set(L, "unpack", unpack51);
  set(L, "pcall", redisPcall);
  set(L, "gcinfo", (l) => pushNumbers(l, 0));
  set(L, "collectgarbage", collectGarbage);
  set(L, "load", load51);
  remove(L, ["rawlen"]);
}

/**
 * pcall as Redis 7 replaces it: redis.call raises an error table ({err = "ERR ..."}), and
 * a script that catches it gets the message, a string, as scripts written for older
 * Redis expect (`string.find(e, "WRONGTYPE")`). Any table error with a string `err` is
 * turned into it.
 */
function redisPcall(L: LuaState): number {
  lauxlib.luaL_checkany(L, 1);
  const argc = lua.lua_gettop(L);
  lua.lua_pushboolean(L, true);
  lua.lua_insert(L, 1);
  if (lua.lua_pcall(L, argc - 1, lua.LUA_MULTRET, 0) !== lua.LUA_OK) {
    lua.lua_remove(L, 1);
    if (lua.lua_type(L, -1) === lua.LUA_TTABLE) {
      lua.lua_getfield(L, -1, to_luastring("err"));
      // As Redis: a table without a string err is returned with a nil after it.
      const t = lua.lua_type(L, -1);
      if (t === lua.LUA_TSTRING || t === lua.LUA_TNUMBER) lua.lua_replace(L, -2);
    }
    lua.lua_pushboolean(L, false);
    lua.lua_insert(L, 1);
  }
  return lua.lua_gettop(L);
}

/** 5.1's unpack(t [, i [, j]]): t[i] to t[j], raw, j #t by default. */
function unpack51(L: LuaState): number {
  lauxlib.luaL_checktype(L, 1, lua.LUA_TTABLE);
  const opt = (arg: number, fallback: number) =>
    lua.lua_type(L, arg) === lua.LUA_TNONE || lua.lua_type(L, arg) === lua.LUA_TNIL
      ? fallback
      : Math.trunc(num(L, arg));
  const i = opt(2, 1);
  const e = opt(3, lua.lua_rawlen(L, 1));
  if (i > e) return 0;
  const n = e - i + 1;
  if (n >= 0x7fffffff || !lua.lua_checkstack(L, n)) {
    return lauxlib.luaL_error(L, to_luastring("too many results to unpack"));
  }
  for (let k = i; k <= e; k++) lua.lua_rawgeti(L, 1, k);
  return n;
}

/**
 * 5.1's table.concat(t [, sep [, i [, j]]]), as Redis's Lua words its errors. Its own
 * function rather than fengari's called from a wrapper: an error raised inside a call
 * made from JavaScript names no function and no place in the script. Each item counts as
 * a decoded value does, and the result's bytes as any string's.
 */
function tableConcat(L: LuaState, spend: (L: LuaState, units: number) => void): number {
  lauxlib.luaL_checktype(L, 1, lua.LUA_TTABLE);
  const absent = (arg: number) =>
    lua.lua_type(L, arg) === lua.LUA_TNONE || lua.lua_type(L, arg) === lua.LUA_TNIL;
  const sep = absent(2) ? new Uint8Array(0) : lauxlib.luaL_checklstring(L, 2);
  const first = absent(3) ? 1 : Math.trunc(num(L, 3));
  const last = absent(4) ? lua.lua_rawlen(L, 1) : Math.trunc(num(L, 4));
  const parts: Uint8Array[] = [];
  for (let k = first; k <= last; k++) {
    spend(L, workPerValue);
    lua.lua_rawgeti(L, 1, k);
    const t = lua.lua_type(L, -1);
    if (t !== lua.LUA_TSTRING && t !== lua.LUA_TNUMBER) {
      const name = Buffer.from(lua.lua_typename(L, t)).toString("latin1");
      return lauxlib.luaL_error(
        L,
        to_luastring(`invalid value (${name}) at index ${k} in table for 'concat'`),
      );
    }
    if (k > first && sep.length > 0) parts.push(sep);
    parts.push(Uint8Array.from(lua.lua_tolstring(L, -1) ?? new Uint8Array(0)));
    lua.lua_pop(L, 1);
  }
  const text = Buffer.concat(parts);
  spend(L, text.length / workBytesPerUnit);
  lua.lua_pushstring(L, text);
  return 1;
}

const GC_OPTIONS = ["stop", "restart", "collect", "count", "step", "setpause", "setstepmul"];

function collectGarbage(L: LuaState): number {
  const opt =
    lua.lua_type(L, 1) === lua.LUA_TNONE || lua.lua_type(L, 1) === lua.LUA_TNIL
      ? "collect"
      : Buffer.from(lauxlib.luaL_checklstring(L, 1)).toString("latin1");
  if (!GC_OPTIONS.includes(opt)) {
    return lauxlib.luaL_argerror(L, 1, to_luastring(`invalid option '${opt}'`));
  }
  if (opt === "step") {
    lua.lua_pushboolean(L, false);
    return 1;
  }
  // 5.1's defaults for the pause and the step multiplier: nothing changes them here.
  return pushNumbers(L, opt === "setpause" || opt === "setstepmul" ? 200 : 0);
}

/** 5.1's load(func [, chunkname]): the pieces func returns, compiled as text. */
function load51(L: LuaState): number {
  lauxlib.luaL_checktype(L, 1, lua.LUA_TFUNCTION);
  const name =
    lua.lua_type(L, 2) === lua.LUA_TSTRING
      ? lauxlib.luaL_checklstring(L, 2)
      : to_luastring("=(load)");
  const pieces: Uint8Array[] = [];
  for (;;) {
    lua.lua_pushvalue(L, 1);
    lua.lua_call(L, 0, 1);
    if (lua.lua_type(L, -1) === lua.LUA_TNIL) {
      lua.lua_pop(L, 1);
      break;
    }
    if (lua.lua_type(L, -1) !== lua.LUA_TSTRING && lua.lua_type(L, -1) !== lua.LUA_TNUMBER) {
      return lauxlib.luaL_error(L, to_luastring("reader function must return a string"));
    }
    const piece = lua.lua_tolstring(L, -1) ?? new Uint8Array(0);
    lua.lua_pop(L, 1);
    if (piece.length === 0) break;
    pieces.push(piece);
  }
  const text = Buffer.concat(pieces);
  if (lauxlib.luaL_loadbufferx(L, text, text.length, name, to_luastring("t")) === lua.LUA_OK) {
    return 1;
  }
  lua.lua_pushnil(L);
  lua.lua_insert(L, -2);
  return 2;
}

/**
 * The part of fengari's API (Lua 5.3's C API, in JavaScript) that kv/script.ts uses. The
 * package ships no types. Lua strings are byte arrays (Uint8Array) in fengari, so scripts
 * are binary safe.
 */
declare module "fengari" {
  /** A Lua state (lua_State): opaque here. */
  export interface LuaState {
    readonly __luaState: unique symbol;
  }
  /** A lua_Debug record, filled by lua_getstack and lua_getinfo. */
  export interface LuaDebug {
    currentline: number;
    source: Uint8Array | null;
    what: Uint8Array | null;
  }
  type CFunction = (L: LuaState) => number;
  type Hook = (L: LuaState, ar: LuaDebug) => void;

  export const lua: {
    readonly LUA_OK: number;
    readonly LUA_MULTRET: number;
    readonly LUA_REGISTRYINDEX: number;
    readonly LUA_TNONE: number;
    readonly LUA_TNIL: number;
    readonly LUA_TBOOLEAN: number;
    readonly LUA_TNUMBER: number;
    readonly LUA_TSTRING: number;
    readonly LUA_TTABLE: number;
    readonly LUA_TLIGHTUSERDATA: number;
    readonly LUA_TFUNCTION: number;
    readonly LUA_ERRRUN: number;
    readonly LUA_MASKCOUNT: number;
    readonly LUA_RIDX_GLOBALS: number;
    lua_absindex(L: LuaState, idx: number): number;
    lua_checkstack(L: LuaState, n: number): boolean;
    lua_createtable(L: LuaState, narr: number, nrec: number): void;
    lua_error(L: LuaState): number;
    lua_getfield(L: LuaState, idx: number, k: Uint8Array): number;
    lua_getglobal(L: LuaState, name: Uint8Array): number;
    lua_getinfo(L: LuaState, what: Uint8Array, ar: LuaDebug): number;
    lua_getstack(L: LuaState, level: number, ar: LuaDebug): number;
    lua_gettop(L: LuaState): number;
    lua_isinteger(L: LuaState, idx: number): boolean;
    lua_newtable(L: LuaState): void;
    lua_next(L: LuaState, idx: number): number;
    lua_pcall(L: LuaState, nargs: number, nresults: number, msgh: number): number;
    lua_pop(L: LuaState, n: number): void;
    lua_pushboolean(L: LuaState, b: boolean): void;
    lua_pushglobaltable(L: LuaState): void;
    lua_pushlightuserdata(L: LuaState, p: object): void;
    lua_pushinteger(L: LuaState, n: number): void;
    lua_pushjsfunction(L: LuaState, f: CFunction): void;
    lua_pushjsclosure(L: LuaState, f: CFunction, n: number): void;
    lua_upvalueindex(i: number): number;
    lua_call(L: LuaState, nargs: number, nresults: number): void;
    lua_getmetatable(L: LuaState, idx: number): boolean;
    lua_topointer(L: LuaState, idx: number): unknown;
    lua_pushnil(L: LuaState): void;
    lua_pushnumber(L: LuaState, n: number): void;
    lua_pushstring(L: LuaState, s: Uint8Array): void;
    lua_pushvalue(L: LuaState, idx: number): void;
    lua_rawget(L: LuaState, idx: number): number;
    lua_rawgeti(L: LuaState, idx: number, n: number): number;
    lua_rawlen(L: LuaState, idx: number): number;
    lua_rawset(L: LuaState, idx: number): void;
    lua_rawseti(L: LuaState, idx: number, n: number): void;
    lua_setfield(L: LuaState, idx: number, k: Uint8Array): void;
    lua_setglobal(L: LuaState, name: Uint8Array): void;
    lua_sethook(L: LuaState, f: Hook | null, mask: number, count: number): void;
    lua_setmetatable(L: LuaState, idx: number): void;
    lua_setupvalue(L: LuaState, funcindex: number, n: number): Uint8Array | null;
    lua_settop(L: LuaState, idx: number): void;
    lua_toboolean(L: LuaState, idx: number): boolean;
    lua_tointeger(L: LuaState, idx: number): number;
    lua_tolstring(L: LuaState, idx: number): Uint8Array | null;
    lua_tonumber(L: LuaState, idx: number): number;
    lua_stringtonumber(L: LuaState, s: Uint8Array): number;
    lua_touserdata(L: LuaState, idx: number): unknown;
    lua_typename(L: LuaState, t: number): Uint8Array;
    lua_insert(L: LuaState, idx: number): void;
    lua_remove(L: LuaState, idx: number): void;
    lua_replace(L: LuaState, idx: number): void;
    lua_dump(
      L: LuaState,
      writer: (L: LuaState, b: Uint8Array, size: number, ud: unknown) => number,
      data: unknown,
      strip: boolean,
    ): number;
    lua_type(L: LuaState, idx: number): number;
  };
  export const lauxlib: {
    luaL_argerror(L: LuaState, arg: number, extramsg: Uint8Array): number;
    luaL_checkany(L: LuaState, arg: number): void;
    luaL_checkinteger(L: LuaState, arg: number): number;
    luaL_checklstring(L: LuaState, arg: number): Uint8Array;
    luaL_checknumber(L: LuaState, arg: number): number;
    luaL_checktype(L: LuaState, arg: number, t: number): void;
    luaL_ref(L: LuaState, t: number): number;
    luaL_unref(L: LuaState, t: number, ref: number): void;
    luaL_error(L: LuaState, fmt: Uint8Array, ...args: unknown[]): number;
    luaL_loadbuffer(L: LuaState, buff: Uint8Array, size: number | null, name: Uint8Array): number;
    luaL_loadbufferx(
      L: LuaState,
      buff: Uint8Array,
      size: number | null,
      name: Uint8Array,
      mode: Uint8Array,
    ): number;
    luaL_newstate(): LuaState;
    luaL_tolstring(L: LuaState, idx: number): Uint8Array;
    luaL_requiref(L: LuaState, modname: Uint8Array, openf: CFunction, glb: boolean): void;
  };
  export const lualib: {
    luaopen_base: CFunction;
    luaopen_math: CFunction;
    luaopen_string: CFunction;
    luaopen_table: CFunction;
    luaopen_coroutine: CFunction;
  };
  export function to_luastring(s: string): Uint8Array;
  export function to_jsstring(s: Uint8Array): string;
}

/**
 * fengari's numeric conversions (Lua 5.3's lobject.c), which its lexer, its string
 * coercions, lua_tolstring and concatenation call through this module's exports:
 * core/lua.ts wraps luaO_str2num and luaO_tostring there.
 */
declare module "fengari/src/lobject.js" {
  /** A Lua value (TValue): the part the conversion's result is read and set through. */
  export interface TValue {
    value: number;
    ttisinteger(): boolean;
    ttisfloat(): boolean;
    setfltvalue(x: number): void;
    setsvalue(x: unknown): void;
  }
  const lobject: {
    /** The numeral in `s` into `o`; the numeral's length + 1, or 0 if `s` is none. */
    luaO_str2num(s: Uint8Array, o: TValue): number;
    /** Turns the number `o` into its string, in place (lua_tolstring, concatenation). */
    luaO_tostring(L: import("fengari").LuaState, o: TValue): void;
  };
  export default lobject;
}

/** fengari's strings (lstring.c). */
declare module "fengari/src/lstring.js" {
  const lstring: {
    /** The Lua string of the bytes `s`, for a TValue's setsvalue. */
    luaS_bless(L: import("fengari").LuaState, s: Uint8Array): unknown;
  };
  export default lstring;
}

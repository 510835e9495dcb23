import { formatG14 } from "../core/cformat.js";
import { type LuaState, lauxlib, lua, to_luastring } from "../core/lua.js";
import { openStruct } from "./script-struct.js";

/**
 * The libraries Redis bundles with its Lua, for scripts (script.ts): `cjson` (JSON),
 * `cmsgpack` (MessagePack), `bit` (32-bit bit operations) and `struct` (binary records,
 * script-struct.ts), written here on fengari's API after Redis's lua_cjson.c,
 * lua_cmsgpack.c, lua_bit.c and lua_struct.c. Each is opened the first
 * time a script names it, so a script that does not use them does not pay for them.
 */

type CFunction = (L: LuaState) => number;

/** The libraries by global name, each a function that pushes its table. */
export const LAZY_LIBRARIES: ReadonlyMap<string, (L: LuaState, settings: LibSettings) => void> =
  new Map([
    ["cjson", openCjson],
    ["cmsgpack", openCmsgpack],
    ["bit", openBit],
    ["struct", openStruct],
  ]);

function newLibrary(L: LuaState, fns: [string, CFunction][]): void {
  lua.lua_createtable(L, 0, fns.length);
  for (const [name, f] of fns) {
    lua.lua_pushjsfunction(L, f);
    lua.lua_setfield(L, -2, to_luastring(name));
  }
}

/** Raises a Lua error with `message` as it is (luaL_error would read % as a format). */
export function raise(L: LuaState, message: string): number {
  return lauxlib.luaL_error(L, to_luastring(message.replace(/%/g, "%%")));
}

function bytesAt(L: LuaState, idx: number): Uint8Array {
  return lua.lua_tolstring(L, idx) ?? new Uint8Array(0);
}

// ---- bit -------------------------------------------------------------------------------

/** An argument as LuaBitOp reads it: a number taken modulo 2^32, as a signed 32-bit value. */
function bitArg(L: LuaState, i: number): number {
  if (lua.lua_type(L, i) !== lua.LUA_TNUMBER && lua.lua_type(L, i) !== lua.LUA_TSTRING) {
    raise(L, `bad argument #${i} (number expected)`);
  }
  const n = lua.lua_tonumber(L, i);
  if (!Number.isFinite(n)) return 0;
  // LuaBitOp adds 2^52+2^51 and keeps the low 32 bits: rounding to nearest.
  const r = Math.round(n);
  return Number(BigInt.asIntN(32, BigInt(r)));
}

function bitReduce(op: (a: number, b: number) => number): CFunction {
  return (L) => {
    let acc = bitArg(L, 1);
    for (let i = 2; i <= lua.lua_gettop(L); i++) acc = op(acc, bitArg(L, i)) | 0;
    lua.lua_pushnumber(L, acc | 0);
    return 1;
  };
}

function bitShift(op: (a: number, n: number) => number): CFunction {
  return (L) => {
    lua.lua_pushnumber(L, op(bitArg(L, 1), bitArg(L, 2) & 31) | 0);
    return 1;
  };
}

/**
 * What a script may set in the libraries (cjson's limits): kept outside the libraries'
 * tables, so that the interpreter, which outlives a run, starts every run from Redis's
 * defaults (resetLibSettings). And `spend`, through which a library call counts the work
 * it does toward the script's bound, in instructions' worth (script.ts): one call of
 * cjson.decode can make millions of values out of one string, and one Lua instruction
 * can repeat that call in a loop.
 */
export interface LibSettings {
  cjson: { encodeDepth: number; decodeDepth: number; invalidNumbers: "on" | "off" | "null" };
  spend(L: LuaState, units: number): void;
}

/**
 * What a library call's work counts, in Lua instructions: about what the same work costs
 * written in Lua (a table slot filled is about four instructions and a microsecond here;
 * decoding or encoding a value takes 1.6 µs), so that the bound stays a bound on time and
 * memory whichever way a script makes its values.
 */
export const workPerValue = 8;
/**
 * Bytes of a string made or copied per instruction's worth: a script makes at most about
 * 640 MB of strings with library calls (string.rep, table.concat, cjson, cmsgpack), some
 * of a second's work here, however few instructions it runs.
 */
export const workBytesPerUnit = 32;

export function newLibSettings(spend: (L: LuaState, units: number) => void): LibSettings {
  const s = {
    cjson: { encodeDepth: 0, decodeDepth: 0, invalidNumbers: "off" as const },
    spend,
  };
  resetLibSettings(s);
  return s;
}

export function resetLibSettings(s: LibSettings): void {
  s.cjson.encodeDepth = jsonDepthMax;
  s.cjson.decodeDepth = jsonDepthMax;
  s.cjson.invalidNumbers = "off";
}

function openBit(L: LuaState): void {
  newLibrary(L, [
    [
      "tobit",
      (l) => {
        lua.lua_pushnumber(l, bitArg(l, 1));
        return 1;
      },
    ],
    [
      "bnot",
      (l) => {
        lua.lua_pushnumber(l, ~bitArg(l, 1));
        return 1;
      },
    ],
    ["band", bitReduce((a, b) => a & b)],
    ["bor", bitReduce((a, b) => a | b)],
    ["bxor", bitReduce((a, b) => a ^ b)],
    ["lshift", bitShift((a, n) => a << n)],
    ["rshift", bitShift((a, n) => a >>> n)],
    ["arshift", bitShift((a, n) => a >> n)],
    ["rol", bitShift((a, n) => (a << n) | (a >>> (32 - n)))],
    ["ror", bitShift((a, n) => (a >>> n) | (a << (32 - n)))],
    [
      "bswap",
      (l) => {
        const x = bitArg(l, 1);
        lua.lua_pushnumber(
          l,
          (x >>> 24) | ((x >> 8) & 0xff00) | ((x & 0xff00) << 8) | (x << 24) | 0,
        );
        return 1;
      },
    ],
    [
      "tohex",
      (l) => {
        let x = bitArg(l, 1) >>> 0;
        let n = lua.lua_gettop(l) >= 2 ? bitArg(l, 2) : 8;
        const upper = n < 0;
        if (upper) n = -n;
        if (n > 8) n = 8;
        if (n < 8) x &= 2 ** (4 * n) - 1;
        let s = x.toString(16).padStart(n, "0");
        if (upper) s = s.toUpperCase();
        lua.lua_pushstring(l, to_luastring(s.slice(-n || undefined)));
        return 1;
      },
    ],
  ]);
}

// ---- cjson -----------------------------------------------------------------------------

/** cjson.null: a light userdata no other value equals. */
const jsonNull = { cjson: "null" };

function openCjson(L: LuaState, settings: LibSettings): void {
  const config = settings.cjson;
  const setDepth = (which: "encodeDepth" | "decodeDepth") => (l: LuaState) => {
    if (lua.lua_gettop(l) >= 1 && lua.lua_type(l, 1) !== lua.LUA_TNIL) {
      const n = lua.lua_tonumber(l, 1);
      if (!Number.isInteger(n) || n < 1)
        return raise(l, "bad argument #1 (expected integer between 1 and 2147483647)");
      config[which] = n;
    }
    lua.lua_pushnumber(l, config[which]);
    return 1;
  };
  newLibrary(L, [
    ["encode", (l) => jsonEncode(l, config.encodeDepth, config, settings)],
    [
      "encode_invalid_numbers",
      (l) => {
        // true: NaN and infinities as "nan" and "inf"; "null": as null; false: refused.
        if (lua.lua_type(l, 1) === lua.LUA_TBOOLEAN) {
          config.invalidNumbers = lua.lua_toboolean(l, 1) ? "on" : "off";
        } else if (lua.lua_type(l, 1) === lua.LUA_TSTRING) {
          const v = Buffer.from(bytesAt(l, 1)).toString("latin1");
          if (v === "null") config.invalidNumbers = "null";
          else if (v === "on" || v === "off") config.invalidNumbers = v;
          else return raise(l, "bad argument #1 to 'encode_invalid_numbers' (invalid option)");
        }
        lua.lua_pushboolean(l, config.invalidNumbers !== "off");
        return 1;
      },
    ],
    ["decode", (l) => jsonDecode(l, config.decodeDepth, settings)],
    ["encode_max_depth", setDepth("encodeDepth")],
    ["decode_max_depth", setDepth("decodeDepth")],
    // Other configuration calls are accepted and keep Redis's defaults.
    ["encode_keep_buffer", noop],
    ["encode_number_precision", noop],
    ["encode_sparse_array", noop],
    ["decode_invalid_numbers", noop],
  ]);
  lua.lua_pushlightuserdata(L, jsonNull);
  lua.lua_setfield(L, -2, to_luastring("null"));
  // cjson.new(): another cjson, with settings of its own, made with Redis's defaults.
  lua.lua_pushjsfunction(L, (l) => {
    openCjson(l, newLibSettings(settings.spend));
    return 1;
  });
  lua.lua_setfield(L, -2, to_luastring("new"));
  setStrings(L, [
    ["_NAME", "cjson"],
    ["_VERSION", "2.1.0"],
  ]);
}

/** A library's name and version fields, as Redis's have them. */
function setStrings(L: LuaState, fields: [string, string][]): void {
  for (const [name, value] of fields) {
    lua.lua_pushstring(L, to_luastring(value));
    lua.lua_setfield(L, -2, to_luastring(name));
  }
}

function noop(): number {
  return 0;
}

const jsonDepthMax = 1000;

type JsonConfig = LibSettings["cjson"];

function jsonEncode(
  L: LuaState,
  maxDepth: number,
  config: JsonConfig,
  settings: LibSettings,
): number {
  if (lua.lua_gettop(L) !== 1) return raise(L, "bad argument #1 to 'encode' (expected 1 argument)");
  const out: (string | Uint8Array)[] = [];
  encodeValue(L, 1, 0, out, maxDepth, config);
  const text = Buffer.concat(
    out.map((p) => (typeof p === "string" ? Buffer.from(p, "latin1") : p)),
  );
  // About two parts written per value (the value and what follows it).
  settings.spend(L, (out.length / 2) * workPerValue + text.length / workBytesPerUnit);
  lua.lua_pushstring(L, text);
  return 1;
}

function typeName(L: LuaState, idx: number): string {
  return Buffer.from(lua.lua_typename(L, lua.lua_type(L, idx))).toString("latin1");
}

function encodeValue(
  L: LuaState,
  idx: number,
  depth: number,
  out: (string | Uint8Array)[],
  maxDepth: number,
  config: JsonConfig,
): void {
  const at = lua.lua_absindex(L, idx);
  switch (lua.lua_type(L, at)) {
    case lua.LUA_TSTRING:
      out.push(jsonString(bytesAt(L, at)));
      return;
    case lua.LUA_TNUMBER:
      out.push(jsonNumber(L, at, "number", config));
      return;
    case lua.LUA_TBOOLEAN:
      out.push(lua.lua_toboolean(L, at) ? "true" : "false");
      return;
    case lua.LUA_TNIL:
      out.push("null");
      return;
    case lua.LUA_TLIGHTUSERDATA:
      if (lua.lua_touserdata(L, at) === jsonNull) {
        out.push("null");
        return;
      }
      break;
    case lua.LUA_TTABLE:
      encodeTable(L, at, depth + 1, out, maxDepth, config);
      return;
  }
  raise(L, `Cannot serialise ${typeName(L, at)}: type not supported`);
}

function jsonNumber(L: LuaState, at: number, what: string, config: JsonConfig): string {
  const n = lua.lua_tonumber(L, at);
  if (!Number.isFinite(n)) {
    if (config.invalidNumbers === "off")
      raise(L, `Cannot serialise ${what}: must not be NaN or Inf`);
    if (config.invalidNumbers === "null") return "null";
    return Number.isNaN(n) ? "nan" : n > 0 ? "inf" : "-inf";
  }
  if (lua.lua_isinteger(L, at)) return String(lua.lua_tointeger(L, at));
  return formatG14(n);
}

function encodeTable(
  L: LuaState,
  at: number,
  depth: number,
  out: (string | Uint8Array)[],
  maxDepth: number,
  config: JsonConfig,
): void {
  if (depth > maxDepth) raise(L, `Cannot serialise, excessive nesting (${depth})`);
  if (!lua.lua_checkstack(L, 3)) raise(L, "Cannot serialise, stack exhausted");
  // An array when every key is a positive integer, and not too sparse (lua_cjson's rule).
  let max = 0;
  let items = 0;
  let isArray = true;
  lua.lua_pushnil(L);
  while (lua.lua_next(L, at) !== 0) {
    lua.lua_pop(L, 1);
    const k = lua.lua_type(L, -1) === lua.LUA_TNUMBER ? lua.lua_tonumber(L, -1) : Number.NaN;
    if (Number.isInteger(k) && k >= 1) {
      max = Math.max(max, k);
      items++;
    } else {
      isArray = false;
    }
  }
  if (isArray && max > 0) {
    if (max > items * 2 && max > 10) raise(L, "Cannot serialise table: excessively sparse array");
    out.push("[");
    for (let i = 1; i <= max; i++) {
      if (i > 1) out.push(",");
      lua.lua_rawgeti(L, at, i);
      encodeValue(L, -1, depth, out, maxDepth, config);
      lua.lua_pop(L, 1);
    }
    out.push("]");
    return;
  }
  out.push("{");
  let first = true;
  lua.lua_pushnil(L);
  while (lua.lua_next(L, at) !== 0) {
    if (!first) out.push(",");
    first = false;
    const kt = lua.lua_type(L, -2);
    if (kt === lua.LUA_TSTRING) out.push(jsonString(bytesAt(L, -2)));
    else if (kt === lua.LUA_TNUMBER)
      out.push(`"${jsonNumber(L, lua.lua_absindex(L, -2), "table key", config)}"`);
    else raise(L, "Cannot serialise table: table key must be a number or string");
    out.push(":");
    encodeValue(L, -1, depth, out, maxDepth, config);
    lua.lua_pop(L, 1);
  }
  out.push("}");
}

/** A Lua string as a JSON string, escaped as lua_cjson escapes (it writes "/" as "\/"). */
function jsonString(b: Uint8Array): Uint8Array {
  const parts: number[] = [0x22];
  for (const c of b) {
    if (c < 0x20 || c === 0x7f) {
      const named: Record<number, string> = { 8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r" };
      const e = named[c] ?? `\\u${c.toString(16).padStart(4, "0")}`;
      for (let i = 0; i < e.length; i++) parts.push(e.charCodeAt(i));
    } else if (c === 0x22 || c === 0x5c || c === 0x2f) {
      parts.push(0x5c, c);
    } else {
      parts.push(c);
    }
  }
  parts.push(0x22);
  return Uint8Array.from(parts);
}

/** A JSON text as Lua values, strings kept as bytes. */
function jsonDecode(L: LuaState, maxDepth: number, settings: LibSettings): number {
  if (lua.lua_gettop(L) !== 1) return raise(L, "bad argument #1 to 'decode' (expected 1 argument)");
  const text = bytesAt(L, 1);
  settings.spend(L, text.length / workBytesPerUnit);
  const p = new JsonParser(L, text, maxDepth, settings);
  p.value(0);
  p.skip();
  if (p.pos < text.length) p.fail("the end");
  return 1;
}

class JsonParser {
  pos = 0;
  constructor(
    private readonly L: LuaState,
    private readonly s: Uint8Array,
    private readonly maxDepth: number,
    private readonly settings: LibSettings,
  ) {}

  skip(): void {
    while (this.pos < this.s.length) {
      const c = this.s[this.pos];
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      this.pos++;
    }
  }

  fail(expected: string): never {
    const found = this.pos >= this.s.length ? "T_END" : "invalid token";
    raise(this.L, `Expected ${expected} but found ${found} at character ${this.pos + 1}`);
    throw new Error("unreachable");
  }

  value(depth: number): void {
    const L = this.L;
    this.settings.spend(L, workPerValue);
    if (!lua.lua_checkstack(L, 3)) raise(L, "Found too many nested data structures");
    this.skip();
    const c = this.s[this.pos];
    if (c === 0x7b) {
      this.object(depth);
      return;
    }
    if (c === 0x5b) {
      this.array(depth);
      return;
    }
    if (c === 0x22) {
      lua.lua_pushstring(L, this.string());
      return;
    }
    if (c === 0x2d || (c !== undefined && c >= 0x30 && c <= 0x39)) {
      this.number();
      return;
    }
    for (const [word, push] of [
      ["true", () => lua.lua_pushboolean(L, true)],
      ["false", () => lua.lua_pushboolean(L, false)],
      ["null", () => lua.lua_pushlightuserdata(L, jsonNull)],
    ] as const) {
      if (
        Buffer.from(this.s.subarray(this.pos, this.pos + word.length)).toString("latin1") === word
      ) {
        this.pos += word.length;
        push();
        return;
      }
    }
    this.fail("value");
  }

  /** Entering a container at `depth` (the top level's is 1), as lua_cjson counts. */
  private descend(depth: number): void {
    if (depth > this.maxDepth) {
      raise(
        this.L,
        `Found too many nested data structures (${depth}) at character ${this.pos + 1}`,
      );
    }
  }

  /**
   * Past a container's opening bracket, at `depth`, with its table pushed; true if `close`
   * (its closing bracket) follows at once, which it then passes too.
   */
  private open(depth: number, close: number): boolean {
    this.descend(depth + 1);
    this.pos++;
    lua.lua_newtable(this.L);
    this.skip();
    if (this.s[this.pos] !== close) return false;
    this.pos++;
    return true;
  }

  /**
   * After a container's item: true past `close`, on past a comma, else the error naming
   * `expected`.
   */
  private closes(close: number, expected: string): boolean {
    this.skip();
    const c = this.s[this.pos];
    this.pos++;
    if (c === close) return true;
    if (c !== 0x2c) {
      this.pos--;
      this.fail(expected);
    }
    return false;
  }

  private object(depth: number): void {
    const L = this.L;
    if (this.open(depth, 0x7d)) return;
    for (;;) {
      this.skip();
      if (this.s[this.pos] !== 0x22) this.fail("object key string");
      lua.lua_pushstring(L, this.string());
      this.skip();
      if (this.s[this.pos] !== 0x3a) this.fail("colon");
      this.pos++;
      this.value(depth + 1);
      lua.lua_rawset(L, -3);
      if (this.closes(0x7d, "comma or object end")) return;
    }
  }

  private array(depth: number): void {
    if (this.open(depth, 0x5d)) return;
    for (let i = 1; ; i++) {
      this.value(depth + 1);
      lua.lua_rawseti(this.L, -2, i);
      if (this.closes(0x5d, "comma or array end")) return;
    }
  }

  private string(): Uint8Array {
    const out: number[] = [];
    this.pos++;
    for (;;) {
      if (this.pos >= this.s.length) this.fail("string end");
      const c = this.s[this.pos++] as number;
      if (c === 0x22) return Uint8Array.from(out);
      if (c !== 0x5c) {
        out.push(c);
        continue;
      }
      const e = this.s[this.pos++];
      const simple: Record<number, number> = {
        34: 0x22,
        92: 0x5c,
        47: 0x2f,
        98: 8,
        102: 12,
        110: 10,
        114: 13,
        116: 9,
      };
      if (e !== undefined && simple[e] !== undefined) {
        out.push(simple[e] as number);
        continue;
      }
      if (e !== 0x75) this.fail("valid escape");
      let cp = this.hex4();
      if (
        cp >= 0xd800 &&
        cp <= 0xdbff &&
        this.s[this.pos] === 0x5c &&
        this.s[this.pos + 1] === 0x75
      ) {
        this.pos += 2;
        const lo = this.hex4();
        if (lo >= 0xdc00 && lo <= 0xdfff) cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
      }
      for (const b of Buffer.from(String.fromCodePoint(cp), "utf8")) out.push(b);
    }
  }

  private hex4(): number {
    const h = Buffer.from(this.s.subarray(this.pos, this.pos + 4)).toString("latin1");
    if (!/^[0-9a-fA-F]{4}$/.test(h)) this.fail("valid unicode escape");
    this.pos += 4;
    return Number.parseInt(h, 16);
  }

  private number(): void {
    const start = this.pos;
    while (
      this.pos < this.s.length &&
      /[-+0-9.eE]/.test(String.fromCharCode(this.s[this.pos] as number))
    ) {
      this.pos++;
    }
    const text = Buffer.from(this.s.subarray(start, this.pos)).toString("latin1");
    if (!/^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$/.test(text)) {
      this.pos = start;
      this.fail("value");
    }
    const n = Number(text);
    // A float, as every number in Redis's Lua 5.1 (it prints "1000", not "1000.0").
    lua.lua_pushnumber(this.L, n);
  }
}

// ---- cmsgpack --------------------------------------------------------------------------

const msgpackNestingMax = 16;

function openCmsgpack(L: LuaState, settings: LibSettings): void {
  newLibrary(L, [
    ["pack", (l) => mpPack(l, settings)],
    ["unpack", (l) => mpUnpack(l, 0, 0, true, settings)],
    [
      "unpack_one",
      (l) =>
        mpUnpack(
          l,
          1,
          lua.lua_gettop(l) >= 2 ? lauxlib.luaL_checkinteger(l, 2) : 0,
          false,
          settings,
        ),
    ],
    [
      "unpack_limit",
      (l) =>
        mpUnpack(
          l,
          lauxlib.luaL_checkinteger(l, 2),
          lua.lua_gettop(l) >= 3 ? lauxlib.luaL_checkinteger(l, 3) : 0,
          false,
          settings,
        ),
    ],
  ]);
  setStrings(L, [
    ["_NAME", "cmsgpack"],
    ["_VERSION", "lua-cmsgpack 0.4.0"],
    ["_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo"],
    ["_DESCRIPTION", "MessagePack C implementation for Lua"],
  ]);
}

function mpPack(L: LuaState, settings: LibSettings): number {
  const n = lua.lua_gettop(L);
  if (n === 0) return raise(L, "MessagePack pack needs input.");
  const out: number[] = [];
  for (let i = 1; i <= n; i++) mpEncode(L, i, 0, out, settings);
  lua.lua_pushstring(L, Uint8Array.from(out));
  return 1;
}

function pushBE(out: number[], v: bigint, bytes: number): void {
  for (let i = bytes - 1; i >= 0; i--) out.push(Number((v >> BigInt(8 * i)) & 0xffn));
}

function mpEncode(
  L: LuaState,
  idx: number,
  level: number,
  out: number[],
  settings: LibSettings,
): void {
  settings.spend(L, workPerValue);
  const at = lua.lua_absindex(L, idx);
  let t = lua.lua_type(L, at);
  if (t === lua.LUA_TTABLE && level === msgpackNestingMax) t = lua.LUA_TNIL;
  switch (t) {
    case lua.LUA_TSTRING: {
      const s = bytesAt(L, at);
      const len = s.length;
      if (len < 32) out.push(0xa0 | len);
      else if (len <= 0xff) out.push(0xd9, len);
      else if (len <= 0xffff) out.push(0xda, len >> 8, len & 0xff);
      else {
        out.push(0xdb);
        pushBE(out, BigInt(len), 4);
      }
      // Its bytes one by one into the output: about 8 times a copy's cost.
      settings.spend(L, (8 * s.length) / workBytesPerUnit);
      for (const b of s) out.push(b);
      return;
    }
    case lua.LUA_TBOOLEAN:
      out.push(lua.lua_toboolean(L, at) ? 0xc3 : 0xc2);
      return;
    case lua.LUA_TNUMBER: {
      const n = lua.lua_tonumber(L, at);
      if (lua.lua_isinteger(L, at) || (Number.isInteger(n) && Math.abs(n) < 2 ** 63)) {
        mpInt(lua.lua_isinteger(L, at) ? BigInt(lua.lua_tointeger(L, at)) : BigInt(n), out);
      } else if (Math.fround(n) === n || Number.isNaN(n)) {
        const b = Buffer.alloc(4);
        b.writeFloatBE(n);
        out.push(0xca, ...b);
      } else {
        const b = Buffer.alloc(8);
        b.writeDoubleBE(n);
        out.push(0xcb, ...b);
      }
      return;
    }
    case lua.LUA_TTABLE:
      mpTable(L, at, level, out, settings);
      return;
    default:
      out.push(0xc0);
  }
}

function mpInt(n: bigint, out: number[]): void {
  if (n >= 0n) {
    if (n <= 127n) out.push(Number(n));
    else if (n <= 0xffn) out.push(0xcc, Number(n));
    else if (n <= 0xffffn) {
      out.push(0xcd);
      pushBE(out, n, 2);
    } else if (n <= 0xffffffffn) {
      out.push(0xce);
      pushBE(out, n, 4);
    } else {
      out.push(0xcf);
      pushBE(out, n, 8);
    }
  } else if (n >= -32n) out.push(Number(n) & 0xff);
  else if (n >= -128n) out.push(0xd0, Number(n) & 0xff);
  else if (n >= -32768n) {
    out.push(0xd1);
    pushBE(out, BigInt.asUintN(16, n), 2);
  } else if (n >= -2147483648n) {
    out.push(0xd2);
    pushBE(out, BigInt.asUintN(32, n), 4);
  } else {
    out.push(0xd3);
    pushBE(out, BigInt.asUintN(64, n), 8);
  }
}

function mpTable(
  L: LuaState,
  at: number,
  level: number,
  out: number[],
  settings: LibSettings,
): void {
  if (!lua.lua_checkstack(L, 3)) raise(L, "stack overflow in cmsgpack.pack");
  let count = 0;
  let max = 0;
  let isArray = true;
  lua.lua_pushnil(L);
  while (lua.lua_next(L, at) !== 0) {
    lua.lua_pop(L, 1);
    count++;
    if (lua.lua_isinteger(L, -1) && lua.lua_tointeger(L, -1) > 0)
      max = Math.max(max, lua.lua_tointeger(L, -1));
    else isArray = false;
  }
  if (isArray && max === count) {
    const len = lua.lua_rawlen(L, at);
    if (len < 16) out.push(0x90 | len);
    else if (len <= 0xffff) out.push(0xdc, len >> 8, len & 0xff);
    else {
      out.push(0xdd);
      pushBE(out, BigInt(len), 4);
    }
    for (let j = 1; j <= len; j++) {
      lua.lua_rawgeti(L, at, j);
      mpEncode(L, -1, level + 1, out, settings);
      lua.lua_pop(L, 1);
    }
    return;
  }
  if (count < 16) out.push(0x80 | count);
  else if (count <= 0xffff) out.push(0xde, count >> 8, count & 0xff);
  else {
    out.push(0xdf);
    pushBE(out, BigInt(count), 4);
  }
  lua.lua_pushnil(L);
  while (lua.lua_next(L, at) !== 0) {
    mpEncode(L, -2, level + 1, out, settings);
    mpEncode(L, -1, level + 1, out, settings);
    lua.lua_pop(L, 1);
  }
}

/**
 * cmsgpack.unpack (every object, as results), unpack_one and unpack_limit (the next
 * offset, -1 at the end, then up to `limit` objects from `offset`).
 */
function mpUnpack(
  L: LuaState,
  limit: number,
  offset: number,
  all: boolean,
  settings: LibSettings,
): number {
  const s = bytesAt(L, 1);
  settings.spend(L, (s.length - Math.min(offset, s.length)) / workBytesPerUnit);
  if (offset < 0 || limit < 0)
    return raise(L, `Invalid request to unpack with offset of ${offset} and limit of ${limit}.`);
  if (offset > s.length) return raise(L, "Start offset greater than input length.");
  lua.lua_settop(L, 1);
  const r = new MpReader(L, s, offset, settings);
  let count = 0;
  while (r.pos < s.length && (all || limit === 0 || count < limit)) {
    r.value(0);
    count++;
  }
  if (all) return count;
  lua.lua_pushnumber(L, r.pos >= s.length ? -1 : r.pos);
  lua.lua_insert(L, 2);
  return count + 1;
}

class MpReader {
  constructor(
    private readonly L: LuaState,
    private readonly s: Uint8Array,
    public pos: number,
    private readonly settings: LibSettings,
  ) {}

  private need(n: number): void {
    if (this.pos + n > this.s.length) raise(this.L, "Missing bytes in input.");
  }

  private uint(n: number): bigint {
    this.need(n);
    let v = 0n;
    for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(this.s[this.pos++] as number);
    return v;
  }

  /** A float, as every number in Redis's Lua 5.1. */
  private pushInt(v: bigint): void {
    lua.lua_pushnumber(this.L, Number(v));
  }

  private bytes(n: number): void {
    this.need(n);
    lua.lua_pushstring(this.L, this.s.slice(this.pos, this.pos + n));
    this.pos += n;
  }

  value(depth: number): void {
    const L = this.L;
    this.settings.spend(L, workPerValue);
    if (!lua.lua_checkstack(L, 3) || depth > 1000) raise(L, "Bad data format in input.");
    this.need(1);
    const c = this.s[this.pos++] as number;
    if (c <= 0x7f) {
      lua.lua_pushnumber(L, c);
      return;
    }
    if (c >= 0xe0) {
      lua.lua_pushnumber(L, c - 0x100);
      return;
    }
    if ((c & 0xe0) === 0xa0) {
      this.bytes(c & 0x1f);
      return;
    }
    if ((c & 0xf0) === 0x90) {
      this.array(c & 0x0f, depth);
      return;
    }
    if ((c & 0xf0) === 0x80) {
      this.map(c & 0x0f, depth);
      return;
    }
    switch (c) {
      case 0xc0: {
        lua.lua_pushnil(L);
        return;
      }
      case 0xc2: {
        lua.lua_pushboolean(L, false);
        return;
      }
      case 0xc3: {
        lua.lua_pushboolean(L, true);
        return;
      }
      case 0xcc:
      case 0xcd:
      case 0xce:
      case 0xcf: {
        this.pushInt(this.uint(1 << (c - 0xcc)));
        return;
      }
      case 0xd0:
      case 0xd1:
      case 0xd2:
      case 0xd3: {
        const n = 1 << (c - 0xd0);
        this.pushInt(BigInt.asIntN(8 * n, this.uint(n)));
        return;
      }
      case 0xca: {
        this.need(4);
        const f = Buffer.from(this.s.subarray(this.pos, this.pos + 4)).readFloatBE();
        this.pos += 4;
        lua.lua_pushnumber(L, f);
        return;
      }
      case 0xcb: {
        this.need(8);
        const d = Buffer.from(this.s.subarray(this.pos, this.pos + 8)).readDoubleBE();
        this.pos += 8;
        lua.lua_pushnumber(L, d);
        return;
      }
      case 0xd9:
      case 0xc4: {
        this.bytes(Number(this.uint(1)));
        return;
      }
      case 0xda:
      case 0xc5: {
        this.bytes(Number(this.uint(2)));
        return;
      }
      case 0xdb:
      case 0xc6: {
        this.bytes(Number(this.uint(4)));
        return;
      }
      case 0xdc: {
        this.array(Number(this.uint(2)), depth);
        return;
      }
      case 0xdd: {
        this.array(Number(this.uint(4)), depth);
        return;
      }
      case 0xde: {
        this.map(Number(this.uint(2)), depth);
        return;
      }
      case 0xdf: {
        this.map(Number(this.uint(4)), depth);
        return;
      }
    }
    raise(L, "Bad data format in input.");
  }

  private array(n: number, depth: number): void {
    lua.lua_createtable(this.L, Math.min(n, 1024), 0);
    for (let i = 1; i <= n; i++) {
      this.value(depth + 1);
      lua.lua_rawseti(this.L, -2, i);
    }
  }

  private map(n: number, depth: number): void {
    lua.lua_createtable(this.L, 0, Math.min(n, 1024));
    for (let i = 0; i < n; i++) {
      this.value(depth + 1);
      this.value(depth + 1);
      // A nil key (msgpack allows it, Lua does not) drops the pair, as Redis's does.
      if (lua.lua_type(this.L, -2) === lua.LUA_TNIL) lua.lua_pop(this.L, 2);
      else lua.lua_rawset(this.L, -3);
    }
  }
}

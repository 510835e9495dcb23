import { toLong, toUnsignedLong } from "../core/cformat.js";
import { type LuaState, lauxlib, lua, to_luastring } from "../core/lua.js";
import { type LibSettings, workBytesPerUnit, workPerValue } from "./script-libs.js";

/**
 * `struct`, the library Redis bundles for packing binary records (its lua_struct.c,
 * Roberto Ierusalimschy's), for scripts (script.ts): struct.pack(fmt, ...),
 * struct.unpack(fmt, data [, pos]) and struct.size(fmt), with the sizes of Redis's build
 * on x86-64 Linux (a long and a size_t are 8 bytes, an int 4), native order little-endian.
 *
 * Format: `<` `>` little- or big-endian, `!n` alignment (a power of 2, 8 without n), `b B`
 * char, `h H` short, `l L` long, `T` size_t, `i I` int or `in In` of n bytes (at most 32),
 * `f` float, `d` double, `s` a zero-terminated string, `cn` n chars (`c0`: as many as the
 * string has; when unpacking, as many as the number unpacked before it says), `x` a
 * padding byte, spaces ignored. Lower case is signed.
 */
export function openStruct(L: LuaState, settings: LibSettings): void {
  lua.lua_createtable(L, 0, 3);
  for (const [name, f] of [
    ["pack", (l: LuaState) => structPack(l, settings)],
    ["unpack", (l: LuaState) => structUnpack(l, settings)],
    ["size", structSize],
  ] as const) {
    lua.lua_pushjsfunction(L, f);
    lua.lua_setfield(L, -2, to_luastring(name));
  }
}

/** The largest integer size, in bytes. */
const intSizeMax = 32;
/** The alignment `!` means alone: a double's in a struct, on x86-64. */
const alignMax = 8;

interface Header {
  little: boolean;
  align: number;
}

/** A format read a byte at a time, as the C code walks its string. */
class Format {
  at = 0;
  constructor(readonly text: Uint8Array) {
    // A Lua string may hold a NUL; the C code reads the format as a C string.
    const nul = text.indexOf(0);
    if (nul >= 0) this.text = text.subarray(0, nul);
  }

  get done(): boolean {
    return this.at >= this.text.length;
  }

  next(): string {
    return String.fromCharCode(this.text[this.at++] as number);
  }

  /** The digits at the cursor as a number, or `fallback` if there are none. */
  number(L: LuaState, fallback: number): number {
    if (!isDigit(this.text[this.at])) return fallback;
    let a = 0;
    while (isDigit(this.text[this.at])) {
      const d = (this.text[this.at++] as number) - 0x30;
      if (a > Math.floor(0x7fffffff / 10) || a * 10 > 0x7fffffff - d) {
        fail(L, "integral size overflow");
      }
      a = a * 10 + d;
    }
    return a;
  }
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

function fail(L: LuaState, message: string): never {
  lauxlib.luaL_error(L, to_luastring(message));
  throw new Error("unreachable");
}

function argFail(L: LuaState, arg: number, message: string): never {
  lauxlib.luaL_argerror(L, arg, to_luastring(message));
  throw new Error("unreachable");
}

/** The bytes an option takes (0 for the options that only control). */
function optionSize(L: LuaState, opt: string, fmt: Format): number {
  switch (opt) {
    case "B":
    case "b":
    case "x":
      return 1;
    case "H":
    case "h":
      return 2;
    case "L":
    case "l":
    case "T":
    case "d":
      return 8;
    case "f":
      return 4;
    case "c":
      return fmt.number(L, 1);
    case "i":
    case "I": {
      const size = fmt.number(L, 4);
      if (size > intSizeMax) {
        fail(L, `integral size ${size} is larger than limit of ${intSizeMax}`);
      }
      return size;
    }
    default:
      return 0;
  }
}

/** Padding before an option of `size` bytes at `len`, as the C code reckons it. */
function toAlign(len: number, h: Header, opt: string, size: number): number {
  if (size === 0 || opt === "c") return 0;
  const s = Math.min(size, h.align);
  return (s - (len & (s - 1))) & (s - 1);
}

/** The options that set the order and the alignment; any other is an error. */
function control(L: LuaState, opt: string, fmt: Format, h: Header): void {
  switch (opt) {
    case " ":
      return;
    case ">":
      h.little = false;
      return;
    case "<":
      h.little = true;
      return;
    case "!": {
      const a = fmt.number(L, alignMax);
      if (!(a > 0 && (a & (a - 1)) === 0)) fail(L, `alignment ${a} is not a power of 2`);
      h.align = a;
      return;
    }
    default:
      argFail(L, 1, `invalid format option '${opt}'`);
  }
}

const integerOptions = "bBhHlLTiI";

function structPack(L: LuaState, settings: LibSettings): number {
  const fmt = new Format(lauxlib.luaL_checklstring(L, 1));
  // The C code pushes a nil after the arguments: a missing one reads as nil.
  lua.lua_pushnil(L);
  const h: Header = { little: true, align: 1 };
  const parts: Uint8Array[] = [];
  let length = 0;
  const put = (bytes: Uint8Array) => {
    parts.push(bytes);
    length += bytes.length;
  };
  let arg = 2;
  while (!fmt.done) {
    const opt = fmt.next();
    let size = optionSize(L, opt, fmt);
    // Each option's work counts toward the script's bound (LibSettings.spend): an option
    // with a size is a value, and a format of a few bytes can name millions of them.
    settings.spend(L, workPerValue + size / workBytesPerUnit);
    const pad = toAlign(length, h, opt, size);
    if (pad > 0) put(new Uint8Array(pad));
    if (integerOptions.includes(opt)) {
      const n = lauxlib.luaL_checknumber(L, arg++);
      let value = n < 0 ? BigInt.asUintN(64, toLong(n)) : toUnsignedLong(n);
      const bytes = new Uint8Array(size);
      for (let k = 0; k < size; k++) {
        bytes[h.little ? k : size - 1 - k] = Number(value & 0xffn);
        value >>= 8n;
      }
      put(bytes);
    } else if (opt === "x") {
      put(new Uint8Array(1));
    } else if (opt === "f" || opt === "d") {
      const b = Buffer.alloc(size);
      const n = lauxlib.luaL_checknumber(L, arg++);
      if (opt === "f") {
        if (h.little) b.writeFloatLE(n);
        else b.writeFloatBE(n);
      } else if (h.little) b.writeDoubleLE(n);
      else b.writeDoubleBE(n);
      put(b);
    } else if (opt === "c" || opt === "s") {
      const s = lauxlib.luaL_checklstring(L, arg++);
      if (size === 0) size = s.length;
      if (s.length < size) argFail(L, arg, "string too short");
      settings.spend(L, size / workBytesPerUnit);
      put(s.slice(0, size));
      if (opt === "s") {
        put(new Uint8Array(1));
        size++;
      }
    } else {
      control(L, opt, fmt, h);
    }
  }
  lua.lua_pushstring(L, Buffer.concat(parts, length));
  return 1;
}

/** An integer of `size` bytes at `at`, as the C code reads it into 64 bits. */
function readInteger(
  data: Uint8Array,
  at: number,
  little: boolean,
  signed: boolean,
  size: number,
): number {
  let l = 0n;
  for (let k = 0; k < size; k++) {
    const byte = data[little ? at + size - 1 - k : at + k] as number;
    l = BigInt.asUintN(64, (l << 8n) | BigInt(byte));
  }
  if (!signed) return Number(l);
  // x86-64 takes a shift's count modulo 64 (past 8 bytes the C shift is undefined).
  const mask = BigInt.asUintN(64, ~0n << BigInt((size * 8 - 1) & 63));
  if ((l & mask) !== 0n) l |= mask;
  return Number(BigInt.asIntN(64, l));
}

function structUnpack(L: LuaState, settings: LibSettings): number {
  const fmt = new Format(lauxlib.luaL_checklstring(L, 1));
  const data = lauxlib.luaL_checklstring(L, 2);
  const ld = data.length;
  const start =
    lua.lua_gettop(L) >= 3 && lua.lua_type(L, 3) !== lua.LUA_TNIL
      ? Math.trunc(lauxlib.luaL_checknumber(L, 3))
      : 1;
  if (!(start > 0)) argFail(L, 3, "offset must be 1 or greater");
  let pos = start - 1;
  let n = 0;
  const h: Header = { little: true, align: 1 };
  while (!fmt.done) {
    const opt = fmt.next();
    let size = optionSize(L, opt, fmt);
    settings.spend(L, workPerValue + size / workBytesPerUnit);
    pos += toAlign(pos, h, opt, size);
    if (!(size <= ld && pos <= ld - size)) argFail(L, 2, "data string too short");
    if (!lua.lua_checkstack(L, 2)) fail(L, "stack overflow (too many results)");
    if (integerOptions.includes(opt)) {
      const signed = opt === opt.toLowerCase();
      lua.lua_pushnumber(L, readInteger(data, pos, h.little, signed, size));
      n++;
    } else if (opt === "x") {
      // padding: nothing to push
    } else if (opt === "f" || opt === "d") {
      const b = Buffer.from(data.buffer, data.byteOffset + pos, size);
      const v =
        opt === "f"
          ? h.little
            ? b.readFloatLE(0)
            : b.readFloatBE(0)
          : h.little
            ? b.readDoubleLE(0)
            : b.readDoubleBE(0);
      lua.lua_pushnumber(L, v);
      n++;
    } else if (opt === "c") {
      if (size === 0) {
        if (n === 0 || lua.lua_type(L, -1) !== lua.LUA_TNUMBER) {
          fail(L, "format 'c0' needs a previous size");
        }
        // C's (size_t) of the number: a negative one wraps to a huge size.
        size = Number(toUnsignedLong(lua.lua_tonumber(L, -1)));
        lua.lua_pop(L, 1);
        n--;
        if (!(size <= ld && pos <= ld - size)) argFail(L, 2, "data string too short");
      }
      lua.lua_pushstring(L, data.slice(pos, pos + size));
      n++;
    } else if (opt === "s") {
      const end = data.indexOf(0, pos);
      if (end < 0) fail(L, "unfinished string in data");
      size = end - pos + 1;
      lua.lua_pushstring(L, data.slice(pos, end));
      n++;
    } else {
      control(L, opt, fmt, h);
    }
    pos += size;
  }
  lua.lua_pushnumber(L, pos + 1);
  return n + 1;
}

function structSize(L: LuaState): number {
  const fmt = new Format(lauxlib.luaL_checklstring(L, 1));
  const h: Header = { little: true, align: 1 };
  let pos = 0;
  while (!fmt.done) {
    const opt = fmt.next();
    const size = optionSize(L, opt, fmt);
    pos += toAlign(pos, h, opt, size);
    if (opt === "s") argFail(L, 1, "option 's' has no fixed size");
    else if (opt === "c" && size === 0) argFail(L, 1, "option 'c0' has no fixed size");
    if (!/[0-9A-Za-z]/.test(opt)) control(L, opt, fmt, h);
    pos += size;
  }
  lua.lua_pushnumber(L, pos);
  return 1;
}

import { type LuaDebug, type LuaState, lauxlib, lua, lualib, to_luastring } from "../core/lua.js";
import { SeededRandom } from "../core/random.js";
import { sha1Hex } from "../core/sha1.js";
import { ArrayArgs } from "../resp/args.js";
import { formatDouble } from "../resp/encoder.js";
import { splitArgsInto } from "../resp/parser.js";
import type { Args, Reply } from "../resp/types.js";
import { arityAccepts, COMMAND_SPECS, keyIndexesOf, runSpec } from "./command-table.js";
import { isReply } from "./db.js";
import { type ErrorName, errorReply, NOT_INTEGER } from "./errors.js";
import { parseI64 } from "./numbers.js";
import { baseOf51, coroutineOf51, mathOf51, stringOf51, tableOf51 } from "./script-compat.js";
import { luaFormat } from "./script-format.js";
import {
  LAZY_LIBRARIES,
  type LibSettings,
  newLibSettings,
  raise,
  resetLibSettings,
  workBytesPerUnit,
} from "./script-libs.js";
import type { CommandHandler, ExecContext } from "./types.js";

/**
 * Lua scripts (EVAL, EVAL_RO), with Redis 7.0's API inside them: KEYS and ARGV, redis.call
 * and redis.pcall, redis.error_reply, redis.status_reply, redis.sha1hex, redis.log,
 * redis.setresp, and Redis's conversions between Lua values and replies.
 *
 * A script runs as one command: in a cluster it is one raft entry and every replica runs
 * it, so it must come out the same everywhere. It does: the Lua interpreter (fengari, Lua
 * 5.3 in JavaScript) gets the base, table, string, math and coroutine libraries and the
 * ones Redis bundles (script-libs.ts), math.random draws from the command's seeded
 * Random, there is no clock, file or OS access, and a script is stopped after a fixed
 * number of Lua instructions (scriptInstructionsMax), the same on every replica, where
 * Redis stops a script on a timer (a timer would stop it at different points on
 * different replicas). The interpreter is kept between runs (Engine), and nothing a run
 * does reaches the next: globals and libraries are read-only, and what the interpreter
 * shows of its own history (the numbers tostring gives tables) starts over every run.
 */

/**
 * The most Lua instructions a script may run (about a second of this interpreter): past
 * it the script ends with an error. A bound in instructions, not time, so that every
 * replica stops it at the same point.
 */
export const scriptInstructionsMax = 20_000_000;

/** How often (in instructions) the count is checked. */
const hookEvery = 10_000;

/** The SHA1 a script is known by (EVALSHA, SCRIPT EXISTS): lower-case hex. */
export function scriptSha(body: Uint8Array): string {
  return sha1Hex(body);
}

/** Flags a script's shebang line (`#!lua flags=no-writes,...`) may declare. */
const shebangFlags = new Set([
  "no-writes",
  "allow-oom",
  "allow-stale",
  "no-cluster",
  "allow-cross-slot-keys",
]);

interface Parsed {
  /** The code Lua compiles: the body with a shebang line blanked (line numbers kept). */
  readonly code: Uint8Array;
  /** Declared flags, or null without a shebang (an old-style script). */
  readonly flags: ReadonlySet<string> | null;
}

/** The body split into its shebang flags and its code, or the error Redis gives. */
function parseBody(body: Uint8Array): Parsed | string {
  if (body.length < 2 || body[0] !== 0x23 || body[1] !== 0x21) return { code: body, flags: null };
  let end = body.indexOf(0x0a);
  if (end < 0) end = body.length;
  const words = Buffer.from(body.subarray(2, end))
    .toString("latin1")
    .split(" ")
    .filter((w) => w !== "");
  const engine = words[0] ?? "";
  if (engine !== "lua") return message("SCRIPT_SHEBANG_ENGINE", engine);
  const flags = new Set<string>();
  for (const w of words.slice(1)) {
    if (!w.startsWith("flags=")) return message("SCRIPT_SHEBANG_OPTION", w);
    for (const f of w.slice(6).split(",")) {
      if (f === "") continue;
      if (!shebangFlags.has(f)) return message("SCRIPT_SHEBANG_FLAG", f);
      flags.add(f);
    }
  }
  return { code: body.subarray(end), flags };
}

/** Whether a script's shebang declares no-writes (it may then run while writes are paused). */
export function declaresNoWrites(body: Uint8Array): boolean {
  const parsed = parseBody(body);
  return typeof parsed !== "string" && parsed.flags !== null && parsed.flags.has("no-writes");
}

/**
 * Null if `body` compiles, else the error EVAL and SCRIPT LOAD answer
 * ("ERR Error compiling script (new function): user_script:1: ..."). Compiled by the kept
 * interpreter, whose cache the script's first run then finds it in (no second parse).
 * Not during a run (a script cannot call SCRIPT or EVAL).
 */
export function compileError(body: Uint8Array): string | null {
  const parsed = parseBody(body);
  if (typeof parsed === "string") return parsed;
  const e = engineFor();
  const error = e.load(parsed.code);
  if (error === null) lua.lua_pop(e.L, 1);
  return error;
}

/** Pushes `code` compiled as a chunk named `source`, or gives (and pops) Lua's message. */
function load(L: LuaState, code: Uint8Array, source: Uint8Array): string | null {
  if (lauxlib.luaL_loadbufferx(L, code, code.length, source, TEXT_ONLY) === lua.LUA_OK) {
    return null;
  }
  const error = luaString(L, -1);
  lua.lua_pop(L, 1);
  return error;
}

/** The globals made on first use (openLazy), which the kept interpreter makes at once. */
const EAGER = ["table", "math", "coroutine", "cjson", "cmsgpack", "bit", "struct"].map((n) =>
  to_luastring(n),
);

/** The most compiled scripts the interpreter keeps. */
const compiledMax = 1000;

const USER_SCRIPT = to_luastring("@user_script");
const USER_FUNCTION = to_luastring("@user_function");
const TEXT_ONLY = to_luastring("t");
const ERR = to_luastring("err");
const OK = to_luastring("ok");
const SOURCE = to_luastring("source");
const LINE = to_luastring("line");
const DOUBLE = to_luastring("double");
const MAP = to_luastring("map");
const SET = to_luastring("set");

/** What a script runs with besides its body. */
export interface ScriptRun {
  readonly body: Uint8Array;
  readonly keys: readonly Buffer[];
  readonly argv: readonly Buffer[];
  /** EVAL_RO / EVALSHA_RO: commands that write are refused. */
  readonly readOnly: boolean;
}

/**
 * The run in progress, which the Lua-facing functions read: one object per interpreter,
 * its fields set afresh for every run (see Engine).
 */
interface RunState {
  ctx: ExecContext;
  readOnly: boolean;
  body: Uint8Array;
  readonly libs: LibSettings;
  resp: 2 | 3;
  instructions: number;
  stopped: boolean;
  /** The function FCALL runs (errors name it), or null for a script (named by its SHA1). */
  functionName: string | null;
  /** While a library loads: the functions it has registered so far. */
  registering: Registered[] | null;
  /** math.randomseed's generator: the same numbers for the same seed, as in Redis. */
  seeded?: SeededRandom;
}

/**
 * Runs a script to its reply. Every command it calls goes through `ctx.script` (the
 * host's dispatcher), which must be set.
 */
export function runScript(ctx: ExecContext, run: ScriptRun): Reply {
  const parsed = parseBody(run.body);
  if (typeof parsed === "string") return { kind: "error", value: parsed };
  const flags = parsed.flags;
  if (run.readOnly && flags !== null && !flags.has("no-writes")) {
    return errorReply("SCRIPT_RO_WRITE_FLAG");
  }
  if (ctx.sharded === true && flags?.has("no-cluster")) {
    return errorReply("SCRIPT_NO_CLUSTER");
  }
  const e = engineFor();
  const { L, state } = e;
  startRun(e, ctx, null, run.body);
  state.readOnly = run.readOnly || (flags?.has("no-writes") ?? false);
  lua.lua_settop(L, 0);
  lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, e.globals);
  pushArray(L, run.keys);
  lua.lua_setfield(L, -2, NAMES.KEYS);
  pushArray(L, run.argv);
  lua.lua_setfield(L, -2, NAMES.ARGV);
  lua.lua_settop(L, 0);
  lua.lua_pushjsfunction(L, errorHandler);
  const compiled = e.load(parsed.code);
  if (compiled !== null) {
    lua.lua_settop(L, 0);
    return err(compiled);
  }
  restartIds(L);
  return callForReply(L, state, 0);
}

/**
 * Calls the function on the stack with its `nargs` arguments above it (the error handler
 * at 1) and turns its result, or its error, into the reply.
 */
function callForReply(L: LuaState, state: RunState, nargs: number): Reply {
  const status = lua.lua_pcall(L, nargs, 1, 1);
  const reply = status === lua.LUA_OK ? toReply(L, -1, state.resp) : runError(L, state);
  lua.lua_settop(L, 0);
  // A JavaScript exception inside fengari (not a Lua error) may leave the interpreter
  // half-way through a call: the next run gets a new one.
  if (status !== lua.LUA_OK && status !== lua.LUA_ERRRUN) engine = null;
  return reply;
}

/**
 * The interpreter scripts run in, made once and kept (making one, with its libraries,
 * costs more than running most scripts). Nothing a run does outlives it: globals and
 * libraries are read-only (protectGlobals), KEYS and ARGV and the run's state are set
 * afresh, the libraries' settings are reset, the object numbers restart
 * (restartIds), and a script's chunk keeps no state between calls (its only upvalue is
 * the global table). Compiled scripts are kept as functions, by text, at most
 * compiledMax of them.
 */
interface Engine {
  readonly L: LuaState;
  readonly state: RunState;
  /** Registry index of the real global table (KEYS and ARGV go there). */
  readonly globals: number;
  readonly hook: (L: LuaState) => void;
  /** Pushes the compiled script, or gives the compile error. */
  load(code: Uint8Array): string | null;
  /** Pushes a library's compiled code (after its shebang line), or gives Lua's error. */
  loadLibrary(code: Uint8Array): string | null;
  /** Registry index of the globals a library sees while it loads: `redis`, for registering. */
  readonly loadGlobals: number;
}

let engine: Engine | null = null;

/** RunState.ctx of an interpreter made outside a run (compileError). */
const noContext = {} as ExecContext;

function engineFor(): Engine {
  if (engine !== null) return engine;
  const L = lauxlib.luaL_newstate();
  const state: RunState = {
    // Every run sets its own before any Lua code runs; nothing reads this one.
    ctx: noContext,
    readOnly: false,
    body: new Uint8Array(0),
    libs: newLibSettings((l, units) => countInstructions(l, state, units)),
    resp: 2,
    instructions: 0,
    stopped: false,
    functionName: null,
    registering: null,
  };
  openLibraries(L, state);
  lua.lua_pushglobaltable(L);
  const globals = lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX);
  protectGlobals(L, state);
  // Every library now, not on a script's first use: a library made during a run would
  // take object numbers there on one replica and not on another (whose interpreter made
  // it in an earlier run).
  for (const name of EAGER) {
    lua.lua_getglobal(L, name);
    lua.lua_pop(L, 1);
  }
  const scripts = cachedLoader(L, USER_SCRIPT);
  const libraries = cachedLoader(L, USER_FUNCTION);
  engine = {
    L,
    state,
    globals,
    hook: (l) => countInstructions(l, state),
    load: (code) => {
      const error = scripts(code);
      return error === null ? null : message("SCRIPT_COMPILE", error);
    },
    loadLibrary: libraries,
    loadGlobals: loadGlobals(L, state),
  };
  return engine;
}

/**
 * A compiler of chunks named `source` that keeps what it compiled, by text (at most
 * compiledMax): it pushes the chunk, or gives Lua's compile error. The chunks are held in
 * the registry and found through a JavaScript map: a lookup by a Lua string would make
 * and hash one of the whole text at every run (fengari's tables key long strings by a
 * copy of their bytes).
 */
function cachedLoader(L: LuaState, source: Uint8Array): (code: Uint8Array) => string | null {
  const refs = new Map<string, number>();
  return (code) => {
    const text = Buffer.from(code.buffer, code.byteOffset, code.byteLength).toString("latin1");
    const ref = refs.get(text);
    if (ref !== undefined) {
      lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, ref);
      return null;
    }
    const error = load(L, code, source);
    if (error !== null) return error;
    if (refs.size >= compiledMax) {
      // Forgotten all at once: compiling again costs a parse, nothing else.
      for (const r of refs.values()) lauxlib.luaL_unref(L, lua.LUA_REGISTRYINDEX, r);
      refs.clear();
    }
    lua.lua_pushvalue(L, -1);
    refs.set(text, lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX));
    return null;
  };
}

/**
 * fengari numbers the objects a state makes (tables, closures...) from one counter, and
 * `tostring({})` shows the number. What the counter stands at after set-up depends on
 * whether the script was parsed or loaded from bytecode (load), which differs between
 * replicas (one compiled it first, one restarted): so it starts from the same value for
 * every run of every script. The counter is fengari's internal state (lstate.js).
 */
function restartIds(L: LuaState): void {
  (L as unknown as { l_G: { id_counter: number } }).l_G.id_counter = firstScriptId;
}

const firstScriptId = 0x10000;

/** A registry error's text with its parameters (for a message raised inside Lua). */
function message(name: ErrorName, ...params: string[]): string {
  const r = errorReply(name, ...params);
  return r.kind === "error" ? r.value : "";
}

function err(value: string): Reply {
  return { kind: "error", value };
}

/**
 * The hook: counts instructions and stops the script past the bound, for good. Library
 * calls count their work here too (`units` instructions' worth: LibSettings.spend).
 */
function countInstructions(L: LuaState, state: RunState, units = hookEvery): void {
  state.instructions += units;
  if (state.instructions <= scriptInstructionsMax && !state.stopped) return;
  // Once stopped, every instruction raises again, so a pcall in the script cannot go on.
  if (!state.stopped) {
    state.stopped = true;
    lua.lua_sethook(L, (l) => countInstructions(l, state), lua.LUA_MASKCOUNT, 1);
  }
  lauxlib.luaL_error(
    L,
    to_luastring(
      state.registering !== null
        ? // Redis's words for a library that loads too long (its bound is 500 ms).
          `FUNCTION LOAD timeout: the library's code ran past ${scriptInstructionsMax} Lua instructions`
        : `Script exceeded the limit of ${scriptInstructionsMax} Lua instructions ` +
            "(a script runs on every replica and must finish)",
    ),
  );
}

/**
 * The message handler of the script's pcall, as Redis's __redis__err__handler: an error
 * becomes a table {err=..., source=..., line=...} naming where in the script it was raised.
 */
function errorHandler(L: LuaState): number {
  if (lua.lua_type(L, 1) !== lua.LUA_TTABLE) {
    const msg = lua.lua_type(L, 1) === lua.LUA_TSTRING ? luaString(L, 1) : "execution failure";
    lua.lua_settop(L, 0);
    lua.lua_createtable(L, 0, 3);
    setField(L, ERR, `ERR ${msg}`);
  }
  // The innermost frame of the script's own code: below it are this handler and the
  // library or redis.* function (JavaScript) that raised, if any.
  const ar = {} as LuaDebug;
  for (let level = 0; level < 8 && lua.lua_getstack(L, level, ar) !== 0; level++) {
    lua.lua_getinfo(L, to_luastring("Sl"), ar);
    if (ar.source === null || ar.source[0] !== 0x40 /* "@" */) continue;
    lua.lua_pushstring(L, ar.source);
    lua.lua_setfield(L, 1, SOURCE);
    lua.lua_pushinteger(L, ar.currentline);
    lua.lua_setfield(L, 1, LINE);
    break;
  }
  lua.lua_settop(L, 1);
  return 1;
}

/** The reply to a script that raised: Redis's "<error> script: <sha>, on @user_script:<line>." */
function runError(L: LuaState, state: RunState): Reply {
  if (lua.lua_type(L, -1) !== lua.LUA_TTABLE) {
    const msg = lua.lua_type(L, -1) === lua.LUA_TSTRING ? luaString(L, -1) : "execution failure";
    return err(`ERR Error running script ${runName(state)}, ${msg.slice(0, 100)}`);
  }
  const message = fieldString(L, -1, ERR) ?? "ERR unknown error";
  const source = fieldString(L, -1, SOURCE);
  lua.lua_getfield(L, -1, LINE);
  const line = lua.lua_type(L, -1) === lua.LUA_TNUMBER ? lua.lua_tointeger(L, -1) : null;
  lua.lua_pop(L, 1);
  const where =
    source !== null && line !== null ? ` script: ${runName(state)}, on ${source}:${line}.` : "";
  return err(`${errorCode(message)}${where}`);
}

/** What an error names the run by: the function's name, or the script's SHA1 (as Redis). */
function runName(state: RunState): string {
  return state.functionName ?? scriptSha(state.body);
}

/** An error message with its code: "ERR" prefixed to one that has none (Redis's rule). */
function errorCode(message: string): string {
  const trimmed = message.replace(/[\r\n]+$/, "").replace(/[\r\n]/g, " ");
  if (trimmed.startsWith("-")) {
    const space = trimmed.indexOf(" ");
    return space < 0 ? `ERR ${trimmed.slice(1)}` : trimmed.slice(1);
  }
  return trimmed;
}

// ---- the interpreter's libraries -------------------------------------------------------

const GLOBALS_OFF = ["dofile", "loadfile", "load", "print"].map((n) => to_luastring(n));
const NAMES = {
  G: to_luastring("_G"),
  string: to_luastring("string"),
  table: to_luastring("table"),
  math: to_luastring("math"),
  coroutine: to_luastring("coroutine"),
  tonumber: to_luastring("tonumber"),
  tostring: to_luastring("tostring"),
  format: to_luastring("format"),
  random: to_luastring("random"),
  randomseed: to_luastring("randomseed"),
  floor: to_luastring("floor"),
  ceil: to_luastring("ceil"),
  rep: to_luastring("rep"),
  KEYS: to_luastring("KEYS"),
  loadstring: to_luastring("loadstring"),
  ARGV: to_luastring("ARGV"),
  index: to_luastring("__index"),
  pairs: to_luastring("__pairs"),
  next: to_luastring("next"),
  metatable: to_luastring("__metatable"),
  rawset: to_luastring("rawset"),
  setmetatable: to_luastring("setmetatable"),
  newindex: to_luastring("__newindex"),
};

/**
 * The base and string libraries now; table, math and the bundled ones (script-libs.ts)
 * when a script first names them (openLazy), since making a library costs more than
 * running most scripts.
 */
function openLibraries(L: LuaState, state: RunState): void {
  lauxlib.luaL_requiref(L, NAMES.G, lualib.luaopen_base, true);
  lauxlib.luaL_requiref(L, NAMES.string, lualib.luaopen_string, true);
  // string.rep makes a string of any size in one instruction: bounded as a value is
  // (proto-max-bulk-len), so that the instruction bound also bounds a script's memory
  // the same way on every replica, and its bytes count toward the bound. Lua 5.1's, as
  // Redis has it: no separator (5.2 added one; a third argument is ignored) and a count
  // cut to an integer. Made by doubling copies: fengari's copies a piece at a time (6 s
  // for 400 MB of "x").
  lua.lua_pushjsfunction(L, (l) => {
    const piece = lauxlib.luaL_checklstring(l, 1);
    const count = Math.trunc(lauxlib.luaL_checknumber(l, 2));
    const n = Number.isFinite(count) ? count : 0;
    if (n <= 0 || piece.length === 0) {
      lua.lua_pushstring(l, new Uint8Array(0));
      return 1;
    }
    if (n * piece.length > state.ctx.maxBulkBytes) return raise(l, "resulting string too large");
    countInstructions(l, state, (n * piece.length) / workBytesPerUnit);
    lua.lua_pushstring(l, repeatBytes(piece, n));
    return 1;
  });
  lua.lua_setfield(L, -2, NAMES.rep);
  lua.lua_pushjsfunction(L, luaFormat);
  lua.lua_setfield(L, -2, NAMES.format);
  stringOf51(L);
  lua.lua_pop(L, 2);
  // What could read files, load bytecode or print: not in a script.
  for (const name of GLOBALS_OFF) {
    lua.lua_pushnil(L);
    lua.lua_setglobal(L, name);
  }
  lua.lua_pushglobaltable(L);
  baseOf51(L);
  lua.lua_pop(L, 1);
  lua.lua_pushjsfunction(L, toNumber);
  lua.lua_setglobal(L, NAMES.tonumber);
  lua.lua_pushjsfunction(L, luaToString);
  lua.lua_setglobal(L, NAMES.tostring);
  lua.lua_pushjsfunction(L, loadString);
  lua.lua_setglobal(L, NAMES.loadstring);
  openRedis(L, state);
}

/** `s` (not empty) `n` (> 0) times, for string.rep: made by copying what is made, doubling. */
function repeatBytes(s: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n * s.length);
  out.set(s, 0);
  for (let filled = s.length; filled < out.length; filled *= 2) {
    out.copyWithin(filled, 0, Math.min(filled, out.length - filled));
  }
  return out;
}

/**
 * Pushes the library (or Lua 5.1's global unpack) named `name` and returns true, or
 * returns false when no global has that name.
 */
function openLazy(L: LuaState, name: string, state: RunState): boolean {
  switch (name) {
    case "table":
      lauxlib.luaL_requiref(L, NAMES.table, lualib.luaopen_table, false);
      tableOf51(L, (l, units) => countInstructions(l, state, units));
      return true;
    case "coroutine":
      lauxlib.luaL_requiref(L, NAMES.coroutine, lualib.luaopen_coroutine, false);
      coroutineOf51(L);
      return true;
    case "math":
      lauxlib.luaL_requiref(L, NAMES.math, lualib.luaopen_math, false);
      // math.random from the command's Random: the same numbers on every replica.
      lua.lua_pushjsfunction(L, (l) => mathRandom(l, state));
      lua.lua_setfield(L, -2, NAMES.random);
      lua.lua_pushjsfunction(L, (l) => {
        state.seeded = new SeededRandom(Math.trunc(lua.lua_tonumber(l, 1)) | 0);
        return 0;
      });
      lua.lua_setfield(L, -2, NAMES.randomseed);
      // Numbers a script makes from text or rounds are floats, as in Lua 5.1: fengari's
      // integers are 32-bit and wrap (a time in seconds times 1000 would).
      lua.lua_pushjsfunction(L, (l) => roundTo(l, Math.floor));
      lua.lua_setfield(L, -2, NAMES.floor);
      lua.lua_pushjsfunction(L, (l) => roundTo(l, Math.ceil));
      lua.lua_setfield(L, -2, NAMES.ceil);
      mathOf51(L);
      return true;
  }
  const open = LAZY_LIBRARIES.get(name);
  if (open === undefined) return false;
  open(L, state.libs);
  return true;
}

function roundTo(L: LuaState, round: (n: number) => number): number {
  if (lua.lua_type(L, 1) !== lua.LUA_TNUMBER && lua.lua_stringtonumber(L, luaBytes(L, 1)) === 0) {
    return lauxlib.luaL_error(L, to_luastring("bad argument #1 (number expected)"));
  }
  const n = lua.lua_tonumber(L, lua.lua_type(L, 1) === lua.LUA_TNUMBER ? 1 : -1);
  lua.lua_pushnumber(L, round(n));
  return 1;
}

/** Lua 5.1's loadstring(text [, name]): text only, never bytecode (nil and the error). */
function loadString(L: LuaState): number {
  const text = luaBytes(L, 1);
  const name = lua.lua_type(L, 2) === lua.LUA_TSTRING ? luaBytes(L, 2) : text;
  if (lauxlib.luaL_loadbufferx(L, text, text.length, name, TEXT_ONLY) === lua.LUA_OK) return 1;
  lua.lua_pushnil(L);
  lua.lua_insert(L, -2);
  return 2;
}

/**
 * tostring(v): a number as Lua 5.1 prints it, through lua_tolstring (core/lua.ts: "%.14g",
 * "inf", "-nan"); anything else as Lua 5.3's does. Its own tostring formats a number
 * apart, as "1000000000000000" where Redis's gives "1e+15".
 */
function luaToString(L: LuaState): number {
  lauxlib.luaL_checkany(L, 1);
  if (lua.lua_type(L, 1) !== lua.LUA_TNUMBER) {
    lauxlib.luaL_tolstring(L, 1);
    return 1;
  }
  lua.lua_pushvalue(L, 1);
  lua.lua_tolstring(L, -1);
  return 1;
}

/** tonumber(e [, base]), its result a float (see openLibraries). */
function toNumber(L: LuaState): number {
  const base =
    lua.lua_gettop(L) >= 2 && lua.lua_type(L, 2) !== lua.LUA_TNIL ? lua.lua_tonumber(L, 2) : 10;
  const t = lua.lua_type(L, 1);
  if (base === 10) {
    if (t === lua.LUA_TNUMBER) {
      lua.lua_pushnumber(L, lua.lua_tonumber(L, 1));
      return 1;
    }
    if (t === lua.LUA_TSTRING && lua.lua_stringtonumber(L, luaBytes(L, 1)) !== 0) {
      lua.lua_pushnumber(L, lua.lua_tonumber(L, -1));
      return 1;
    }
    lua.lua_pushnil(L);
    return 1;
  }
  if (!Number.isInteger(base) || base < 2 || base > 36) {
    return lauxlib.luaL_error(L, to_luastring("bad argument #2 to 'tonumber' (base out of range)"));
  }
  const text =
    t === lua.LUA_TSTRING
      ? Buffer.from(luaBytes(L, 1)).toString("latin1").trim().toLowerCase()
      : "";
  const digits = "0123456789abcdefghijklmnopqrstuvwxyz".slice(0, base);
  const body = text.startsWith("-") ? text.slice(1) : text;
  if (body === "" || [...body].some((c) => !digits.includes(c))) {
    lua.lua_pushnil(L);
    return 1;
  }
  let n = 0;
  for (const c of body) n = n * base + digits.indexOf(c);
  lua.lua_pushnumber(L, text.startsWith("-") ? -n : n);
  return 1;
}

function luaBytes(L: LuaState, idx: number): Uint8Array {
  return lua.lua_type(L, idx) === lua.LUA_TSTRING
    ? (lua.lua_tolstring(L, idx) as Uint8Array)
    : new Uint8Array(0);
}

/** math.random() in [0, 1), math.random(m) in [1, m], math.random(m, n) in [m, n]. */
function mathRandom(L: LuaState, state: RunState): number {
  const r = (state.seeded ?? state.ctx.random).int(0x80000000) / 0x80000000;
  const n = lua.lua_gettop(L);
  if (n === 0) {
    lua.lua_pushnumber(L, r);
    return 1;
  }
  const lo = n === 1 ? 1 : lauxlib.luaL_checkinteger(L, 1);
  const hi = lauxlib.luaL_checkinteger(L, n === 1 ? 1 : 2);
  if (n > 2) return lauxlib.luaL_error(L, to_luastring("wrong number of arguments"));
  if (lo > hi) return lauxlib.luaL_error(L, to_luastring("interval is empty"));
  lua.lua_pushnumber(L, lo + Math.floor(r * (hi - lo + 1)));
  return 1;
}

/** redis.*'s functions that need no run's state, and its constants, named once. */
const REDIS_FUNCTIONS: [Uint8Array, (l: LuaState) => number][] = (
  [
    ["error_reply", (l) => replyTable(l, ERR, true)],
    ["status_reply", (l) => replyTable(l, OK, false)],
    ["sha1hex", sha1hex],
    ["log", redisLog],
    ["set_repl", setRepl],
    [
      "replicate_commands",
      (l) => {
        lua.lua_pushboolean(l, true);
        return 1;
      },
    ],
    [
      "breakpoint",
      (l) => {
        lua.lua_pushboolean(l, false);
        return 1;
      },
    ],
    ["debug", () => 0],
    ["acl_check_cmd", aclCheckCmd],
  ] as [string, (l: LuaState) => number][]
).map(([n, f]) => [to_luastring(n), f]);
/**
 * redis.acl_check_cmd(command, ...): whether the user may run it. There is one user here
 * (the requirepass one), allowed every command; an unknown command is an error, as in
 * Redis.
 */
function aclCheckCmd(L: LuaState): number {
  if (lua.lua_gettop(L) === 0) return raiseTable(L, message("SCRIPT_CALL_NO_ARGS"));
  const name = Buffer.from(luaBytes(L, 1)).toString("latin1").toLowerCase();
  if (!COMMAND_SPECS.has(name)) {
    return raiseTable(L, "ERR Invalid command passed to redis.acl_check_cmd()");
  }
  lua.lua_pushboolean(L, true);
  return 1;
}

/** redis.*'s constants a library also sees while it loads: the log levels and the version. */
const LOAD_CONSTANTS: [Uint8Array, number][] = (
  [
    ["LOG_DEBUG", 0],
    ["LOG_VERBOSE", 1],
    ["LOG_NOTICE", 2],
    ["LOG_WARNING", 3],
    ["REDIS_VERSION_NUM", 0x07000f],
  ] as [string, number][]
).map(([n, v]) => [to_luastring(n), v]);
const REDIS_CONSTANTS: [Uint8Array, number][] = [
  ...LOAD_CONSTANTS,
  ...(
    [
      ["REPL_NONE", 0],
      ["REPL_AOF", 1],
      ["REPL_SLAVE", 2],
      ["REPL_REPLICA", 2],
      ["REPL_ALL", 3],
    ] as [string, number][]
  ).map(([n, v]): [Uint8Array, number] => [to_luastring(n), v]),
];
const REDIS_NAMES = {
  redis: to_luastring("redis"),
  call: to_luastring("call"),
  pcall: to_luastring("pcall"),
  setresp: to_luastring("setresp"),
  version: to_luastring("REDIS_VERSION"),
  versionValue: to_luastring("7.0.15"),
};

function openRedis(L: LuaState, state: RunState): void {
  lua.lua_createtable(L, 0, 24);
  const fn = (name: Uint8Array, f: (l: LuaState) => number) => {
    lua.lua_pushjsfunction(L, f);
    lua.lua_setfield(L, -2, name);
  };
  fn(REDIS_NAMES.call, (l) => redisCall(l, state, true));
  fn(REDIS_NAMES.pcall, (l) => redisCall(l, state, false));
  fn(REDIS_NAMES.setresp, (l) => setResp(l, state));
  for (const [name, f] of REDIS_FUNCTIONS) fn(name, f);
  for (const [name, value] of REDIS_CONSTANTS) {
    lua.lua_pushinteger(L, value);
    lua.lua_setfield(L, -2, name);
  }
  lua.lua_pushstring(L, REDIS_NAMES.versionValue);
  lua.lua_setfield(L, -2, REDIS_NAMES.version);
  lua.lua_setglobal(L, REDIS_NAMES.redis);
}

/**
 * Globals and libraries are read-only, as Redis 7 makes them: a script cannot create a
 * global, replace one (`redis = ...`), change a library (`redis.call = ...`), or reach a
 * metatable that guards them, and an unknown global is an error, not a silent nil.
 *
 * Lua 5.3 has no read-only tables, so each guarded table is an empty proxy: reads go
 * through to the real table (__index), writes raise (__newindex), and getmetatable answers
 * another such proxy (__metatable). rawset and setmetatable refuse the proxies. The
 * globals' proxy is what scripts see as the global table (_G and _ENV); the real one
 * answers unknown names by making a library on first use (openLazy) or with an error.
 */
function protectGlobals(L: LuaState, state: RunState): void {
  const guarded = new Set<unknown>();
  const refuse = (l: LuaState) => lauxlib.luaL_error(l, READONLY);
  /**
   * Gives the table at `proxy` the guard's metatable: reads from the table at `real` (none
   * when 0), writes refused, getmetatable showing the table at `shown`.
   */
  const guardWith = (l: LuaState, proxy: number, real: number, shown: number): void => {
    lua.lua_createtable(l, 0, 3);
    if (real !== 0) {
      lua.lua_pushvalue(l, real);
      lua.lua_setfield(l, -2, NAMES.index);
      // pairs() walks the real table (the proxy itself is empty).
      lua.lua_pushvalue(l, real);
      lua.lua_pushjsclosure(l, pairsOfReal, 1);
      lua.lua_setfield(l, -2, NAMES.pairs);
    }
    lua.lua_pushjsfunction(l, refuse);
    lua.lua_setfield(l, -2, NAMES.newindex);
    lua.lua_pushvalue(l, shown);
    lua.lua_setfield(l, -2, NAMES.metatable);
    lua.lua_setmetatable(l, proxy);
    guarded.add(lua.lua_topointer(l, proxy));
  };
  // The metatable every proxy shows: itself guarded, showing itself.
  lua.lua_createtable(L, 0, 0);
  const shown = lua.lua_gettop(L);
  guardWith(L, shown, 0, shown);
  /** Replaces the table on top of the stack with its read-only proxy. */
  const guard = (l: LuaState): void => {
    const real = lua.lua_gettop(l);
    lua.lua_createtable(l, 0, 0);
    guardWith(l, real + 1, real, shown);
    lua.lua_remove(l, real);
  };

  lua.lua_pushglobaltable(L);
  const real = lua.lua_gettop(L);
  for (const name of [NAMES.string, REDIS_NAMES.redis]) {
    lua.lua_getfield(L, real, name);
    guard(L);
    lua.lua_setfield(L, real, name);
  }
  // The real global table answers the names it does not have.
  lua.lua_createtable(L, 0, 1);
  lua.lua_pushjsfunction(L, (l) => {
    const name = lua.lua_type(l, 2) === lua.LUA_TSTRING ? luaString(l, 2) : "";
    if (!openLazy(l, name, state)) {
      return raise(
        l,
        `Script attempted to access nonexistent global variable '${luaString(l, 2)}'`,
      );
    }
    // Made on first use, read-only, then a global like the others.
    if (lua.lua_type(l, -1) === lua.LUA_TTABLE) guard(l);
    lua.lua_pushvalue(l, 2);
    lua.lua_pushvalue(l, -2);
    lua.lua_rawset(l, 1);
    return 1;
  });
  lua.lua_setfield(L, -2, NAMES.index);
  lua.lua_setmetatable(L, real);
  // The string metatable (methods on strings) shows the guard too.
  lua.lua_pushstring(L, NAMES.G);
  if (lua.lua_getmetatable(L, -1)) {
    lua.lua_pushvalue(L, shown);
    lua.lua_setfield(L, -2, NAMES.metatable);
    lua.lua_pop(L, 1);
  }
  lua.lua_pop(L, 1);
  // rawset and setmetatable would go around the proxies.
  lua.lua_pushjsfunction(L, (l) => {
    if (guarded.has(lua.lua_topointer(l, 1))) return refuse(l);
    lua.lua_settop(l, 3);
    lua.lua_rawset(l, 1);
    return 1;
  });
  lua.lua_setfield(L, real, NAMES.rawset);
  lua.lua_getfield(L, real, NAMES.setmetatable);
  lua.lua_pushjsclosure(
    L,
    (l) => {
      if (guarded.has(lua.lua_topointer(l, 1))) return refuse(l);
      lua.lua_pushvalue(l, lua.lua_upvalueindex(1));
      lua.lua_insert(l, 1);
      lua.lua_call(l, lua.lua_gettop(l) - 1, 1);
      return 1;
    },
    1,
  );
  lua.lua_setfield(L, real, NAMES.setmetatable);
  // The globals' proxy becomes the global table: _G, and every chunk's _ENV.
  lua.lua_pushvalue(L, real);
  guard(L);
  lua.lua_pushvalue(L, -1);
  lua.lua_setfield(L, real, NAMES.G);
  lua.lua_rawseti(L, lua.LUA_REGISTRYINDEX, lua.LUA_RIDX_GLOBALS);
  lua.lua_settop(L, shown - 1);
}

const READONLY = to_luastring("Attempt to modify a readonly table");

/** A guarded table's __pairs: next, the real table (the closure's upvalue), nil. */
function pairsOfReal(L: LuaState): number {
  lua.lua_getglobal(L, NAMES.next);
  lua.lua_pushvalue(L, lua.lua_upvalueindex(1));
  lua.lua_pushnil(L);
  return 3;
}

// ---- redis.* ---------------------------------------------------------------------------

/**
 * redis.call (raise true) and redis.pcall: runs a command through the host, its reply
 * converted to Lua. An error reply raises (call) or is returned as {err=...} (pcall).
 */
function redisCall(L: LuaState, state: RunState, raise: boolean): number {
  const n = lua.lua_gettop(L);
  const fail = (message: string): number =>
    raise ? raiseTable(L, message) : errorTable(L, message);
  if (n === 0) return fail(message("SCRIPT_CALL_NO_ARGS"));
  const parts: Buffer[] = [];
  for (let i = 1; i <= n; i++) {
    const t = lua.lua_type(L, i);
    if (t === lua.LUA_TNUMBER) {
      parts.push(Buffer.from(formatDouble(lua.lua_tonumber(L, i)))); // C's %.17g, as Redis
    } else if (t === lua.LUA_TSTRING) {
      parts.push(Buffer.from(lua.lua_tolstring(L, i) as Uint8Array));
    } else {
      return fail(message("SCRIPT_CALL_ARG_TYPE"));
    }
  }
  const reply = callCommand(state, parts);
  lua.lua_settop(L, 0);
  if (reply.kind === "error") return fail(errorCode(reply.value));
  pushReply(L, reply, state.resp);
  return 1;
}

/** The checks Redis makes on a command from a script, then the host runs it. */
function callCommand(state: RunState, parts: Buffer[]): Reply {
  const host = state.ctx.script;
  if (host === undefined) return err("ERR scripts are not available here");
  const args = new ArrayArgs(parts);
  const name = args.lower(0);
  const top = COMMAND_SPECS.get(name);
  if (top === undefined) return errorReply("SCRIPT_UNKNOWN_COMMAND");
  if (!host.runs(name) && !SCRIPT_OWN.has(name)) return errorReply("SCRIPT_NOT_ALLOWED");
  const spec = runSpec(top, args);
  if (spec === undefined) return errorReply("SCRIPT_UNKNOWN_COMMAND");
  if (!arityAccepts(spec.arity, args.length)) {
    return errorReply("SCRIPT_ARITY");
  }
  if (spec.flags.includes("noscript") || top.flags.includes("noscript")) {
    return errorReply("SCRIPT_NOT_ALLOWED");
  }
  if (
    state.readOnly &&
    (spec.flags.includes("write") || spec.hiddenFlags.includes("may_replicate"))
  ) {
    return errorReply("SCRIPT_READ_ONLY");
  }
  if ((name === "xread" || name === "xreadgroup") && hasBlock(args)) {
    return errorReply("SCRIPT_BLOCK", name);
  }
  for (const i of keyIndexesOf(spec, args)) {
    if (!host.served(args.buf(i))) {
      return errorReply("SCRIPT_NON_LOCAL_KEY");
    }
  }
  switch (name) {
    case "ping":
      return args.length === 1 ? { kind: "simple", value: "PONG" } : bulk(args.buf(1));
    case "echo":
      return bulk(args.buf(1));
    case "time": {
      // The command's time, the same on every replica (Redis reads its clock here).
      const ms = state.ctx.nowMs;
      return {
        kind: "array",
        value: [
          bulk(Buffer.from(String(Math.floor(ms / 1000)))),
          bulk(Buffer.from(String((ms % 1000) * 1000))),
        ],
      };
    }
  }
  state.ctx.inScript = true;
  try {
    return host.run(name, args);
  } finally {
    state.ctx.inScript = false;
  }
}

/** The commands a script runs itself (script.ts), whatever its host runs. */
const SCRIPT_OWN = new Set(["ping", "echo", "time"]);

/** Whether XREAD's or XREADGROUP's options (before STREAMS) include BLOCK. */
function hasBlock(args: Args): boolean {
  for (let i = 1; i < args.length; i++) {
    if (args.is(i, "streams")) return false;
    if (args.is(i, "block")) return true;
  }
  return false;
}

function bulk(b: Buffer): Reply {
  return { kind: "bulk", value: Buffer.from(b) };
}

/** redis.error_reply(msg) and redis.status_reply(msg): {err=msg} and {ok=msg}. */
function replyTable(L: LuaState, field: Uint8Array, isError: boolean): number {
  if (lua.lua_gettop(L) !== 1 || lua.lua_type(L, 1) !== lua.LUA_TSTRING) {
    return lauxlib.luaL_error(L, to_luastring("wrong number or type of arguments"));
  }
  let msg = luaString(L, 1);
  // error_reply, as Redis's luaPushErrorBuff: its first word is the code, or "ERR" when
  // the message is one word ("" gives "ERR ").
  if (isError) {
    const body = msg.startsWith("-") ? msg.slice(1) : msg;
    msg = (body.includes(" ") ? body : `ERR ${body}`).replace(/[\r\n]+$/, "");
  }
  lua.lua_settop(L, 0);
  lua.lua_createtable(L, 0, 1);
  setField(L, field, msg);
  return 1;
}

function sha1hex(L: LuaState): number {
  if (lua.lua_gettop(L) !== 1)
    return lauxlib.luaL_error(L, to_luastring("wrong number of arguments"));
  const s = lua.lua_tolstring(L, 1) ?? new Uint8Array(0);
  lua.lua_pushstring(L, to_luastring(scriptSha(s)));
  return 1;
}

/** redis.log(level, ...): checked as Redis does; the message goes nowhere (replicas alike). */
function redisLog(L: LuaState): number {
  if (lua.lua_gettop(L) < 2) {
    return lauxlib.luaL_error(L, to_luastring("redis.log() requires two arguments or more."));
  }
  if (lua.lua_type(L, 1) !== lua.LUA_TNUMBER) {
    return lauxlib.luaL_error(L, to_luastring("First argument must be a number (log level)."));
  }
  const level = lua.lua_tonumber(L, 1);
  if (level < 0 || level > 3) return lauxlib.luaL_error(L, to_luastring("Invalid debug level."));
  return 0;
}

function setResp(L: LuaState, state: RunState): number {
  if (lua.lua_gettop(L) !== 1) {
    return lauxlib.luaL_error(L, to_luastring("redis.setresp() requires one argument."));
  }
  const v = lua.lua_tonumber(L, 1);
  if (v !== 2 && v !== 3)
    return lauxlib.luaL_error(L, to_luastring("RESP version must be 2 or 3."));
  state.resp = v;
  return 0;
}

function setRepl(L: LuaState): number {
  if (lua.lua_gettop(L) !== 2) {
    return lauxlib.luaL_error(L, to_luastring("redis.set_repl() requires two arguments."));
  }
  const v = lua.lua_tonumber(L, 1);
  if (!Number.isInteger(v) || v < 0 || v > 3) {
    return lauxlib.luaL_error(
      L,
      to_luastring("Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE."),
    );
  }
  return 0;
}

// ---- conversions -----------------------------------------------------------------------

/** A reply as a Lua value, as Redis converts RESP2 (or RESP3 after redis.setresp(3)). */
function pushReply(L: LuaState, r: Reply, resp: 2 | 3): void {
  if (!lua.lua_checkstack(L, 4)) lauxlib.luaL_error(L, to_luastring("reached lua stack limit"));
  switch (r.kind) {
    case "simple":
      lua.lua_createtable(L, 0, 1);
      setField(L, OK, r.value);
      return;
    case "error":
      lua.lua_createtable(L, 0, 1);
      setField(L, ERR, errorCode(r.value));
      return;
    case "integer":
      // A float, as every number in Redis's Lua 5.1 (fengari's integers are 32-bit).
      lua.lua_pushnumber(L, Number(r.value));
      return;
    case "bulk":
      lua.lua_pushstring(L, typeof r.value === "string" ? Buffer.from(r.value) : r.value);
      return;
    case "verbatim":
      lua.lua_pushstring(L, Buffer.from(r.value));
      return;
    case "null":
    case "nullArray":
      if (resp === 3) lua.lua_pushnil(L);
      else lua.lua_pushboolean(L, false);
      return;
    case "boolean":
      if (resp === 3) lua.lua_pushboolean(L, r.value);
      else if (r.value) lua.lua_pushinteger(L, 1);
      else lua.lua_pushboolean(L, false);
      return;
    case "double":
      if (resp === 3) {
        lua.lua_createtable(L, 0, 1);
        lua.lua_pushnumber(L, r.value);
        lua.lua_setfield(L, -2, DOUBLE);
      } else {
        lua.lua_pushstring(L, Buffer.from(formatDouble(r.value)));
      }
      return;
    case "array": {
      if (resp === 2 || !r.pairs) {
        pushList(L, r.value, resp);
        return;
      }
      const pairs: Reply[] = [];
      for (let i = 0; i + 1 < r.value.length; i += 2) {
        pairs.push({ kind: "array", value: [r.value[i] as Reply, r.value[i + 1] as Reply] });
      }
      pushList(L, pairs, resp);
      return;
    }
    case "set":
      if (resp === 2) {
        pushList(L, r.value, resp);
        return;
      }
      lua.lua_createtable(L, 0, 1);
      lua.lua_createtable(L, 0, r.value.length);
      for (const m of r.value) {
        pushReply(L, m, resp);
        lua.lua_pushboolean(L, true);
        lua.lua_rawset(L, -3);
      }
      lua.lua_setfield(L, -2, SET);
      return;
    case "map":
      if (resp === 2) {
        const flat: Reply[] = [];
        for (const [k, v] of r.value) {
          if (r.nested) flat.push({ kind: "array", value: [k, v] });
          else flat.push(k, v);
        }
        pushList(L, flat, resp);
        return;
      }
      lua.lua_createtable(L, 0, 1);
      lua.lua_createtable(L, 0, r.value.length);
      for (const [k, v] of r.value) {
        pushReply(L, k, resp);
        pushReply(L, v, resp);
        lua.lua_rawset(L, -3);
      }
      lua.lua_setfield(L, -2, MAP);
      return;
  }
}

function pushList(L: LuaState, items: readonly Reply[], resp: 2 | 3): void {
  lua.lua_createtable(L, items.length, 0);
  for (let i = 0; i < items.length; i++) {
    pushReply(L, items[i] as Reply, resp);
    lua.lua_rawseti(L, -2, i + 1);
  }
}

function pushArray(L: LuaState, items: readonly Buffer[]): void {
  lua.lua_createtable(L, items.length, 0);
  for (let i = 0; i < items.length; i++) {
    lua.lua_pushstring(L, items[i] as Buffer);
    lua.lua_rawseti(L, -2, i + 1);
  }
}

/** The Lua value at `idx` as a reply, as Redis's luaReplyToRedisReply converts it. */
function toReply(L: LuaState, idx: number, resp: 2 | 3, depth = 0): Reply {
  if (depth > 1000) return err("ERR reached lua stack limit");
  if (!lua.lua_checkstack(L, 4)) return err("ERR reached lua stack limit");
  const at = lua.lua_absindex(L, idx);
  switch (lua.lua_type(L, at)) {
    case lua.LUA_TSTRING:
      return { kind: "bulk", value: Buffer.from(lua.lua_tolstring(L, at) as Uint8Array) };
    case lua.LUA_TBOOLEAN:
      if (resp === 3) return { kind: "boolean", value: lua.lua_toboolean(L, at) };
      return lua.lua_toboolean(L, at) ? { kind: "integer", value: 1 } : { kind: "null" };
    case lua.LUA_TNUMBER:
      return { kind: "integer", value: toInteger(lua.lua_tonumber(L, at)) };
    case lua.LUA_TTABLE:
      return tableReply(L, at, resp, depth);
    default:
      return { kind: "null" };
  }
}

function tableReply(L: LuaState, at: number, resp: 2 | 3, depth: number): Reply {
  const e = rawField(L, at, ERR);
  if (e !== null) return err(errorCode(e));
  const ok = rawField(L, at, OK);
  if (ok !== null) return { kind: "simple", value: ok.replace(/[\r\n]/g, " ") };
  lua.lua_pushstring(L, DOUBLE);
  if (lua.lua_rawget(L, at) === lua.LUA_TNUMBER) {
    const d = lua.lua_tonumber(L, -1);
    lua.lua_pop(L, 1);
    return { kind: "double", value: d };
  }
  lua.lua_pop(L, 1);
  lua.lua_pushstring(L, MAP);
  if (lua.lua_rawget(L, at) === lua.LUA_TTABLE) {
    const pairs: [Reply, Reply][] = [];
    const m = lua.lua_gettop(L);
    lua.lua_pushnil(L);
    while (lua.lua_next(L, m) !== 0) {
      const v = toReply(L, -1, resp, depth + 1);
      const k = toReply(L, -2, resp, depth + 1);
      pairs.push([k, v]);
      lua.lua_pop(L, 1);
    }
    lua.lua_pop(L, 1);
    return { kind: "map", value: pairs };
  }
  lua.lua_pop(L, 1);
  lua.lua_pushstring(L, SET);
  if (lua.lua_rawget(L, at) === lua.LUA_TTABLE) {
    const members: Reply[] = [];
    const s = lua.lua_gettop(L);
    lua.lua_pushnil(L);
    while (lua.lua_next(L, s) !== 0) {
      members.push(toReply(L, -2, resp, depth + 1));
      lua.lua_pop(L, 1);
    }
    lua.lua_pop(L, 1);
    return { kind: "set", value: members };
  }
  lua.lua_pop(L, 1);
  const items: Reply[] = [];
  for (let j = 1; ; j++) {
    if (lua.lua_rawgeti(L, at, j) === lua.LUA_TNIL) {
      lua.lua_pop(L, 1);
      break;
    }
    items.push(toReply(L, -1, resp, depth + 1));
    lua.lua_pop(L, 1);
  }
  return { kind: "array", value: items };
}

/** A Lua number as Redis's (long long) cast makes it: toward zero, saturated. */
function toInteger(n: number): number | bigint {
  if (Number.isNaN(n)) return BigInt.asIntN(64, -(2n ** 63n));
  const t = Math.trunc(n);
  if (Number.isSafeInteger(t)) return t;
  if (t >= 2 ** 63 || t < -(2 ** 63)) return -(2n ** 63n);
  return BigInt(t);
}

// ---- small helpers ---------------------------------------------------------------------

function luaString(L: LuaState, idx: number): string {
  const t = lua.lua_type(L, idx);
  if (t !== lua.LUA_TSTRING && t !== lua.LUA_TNUMBER) return "";
  // A number is read without lua_tolstring, which would turn the slot into a string.
  if (t === lua.LUA_TNUMBER) return String(lua.lua_tonumber(L, idx));
  return Buffer.from(lua.lua_tolstring(L, idx) as Uint8Array).toString("utf8");
}

/** Leaves only {err = message} on the stack, as redis.pcall returns an error (1 result). */
function errorTable(L: LuaState, message: string): number {
  lua.lua_settop(L, 0);
  lua.lua_createtable(L, 0, 1);
  setField(L, ERR, message);
  return 1;
}

/** Raises {err = message}, as redis.call and the other redis.* functions raise an error. */
function raiseTable(L: LuaState, message: string): number {
  errorTable(L, message);
  return lua.lua_error(L);
}

function setField(L: LuaState, field: Uint8Array, value: string): void {
  lua.lua_pushstring(L, Buffer.from(value));
  lua.lua_setfield(L, -2, field);
}

function fieldString(L: LuaState, idx: number, field: Uint8Array): string | null {
  const at = lua.lua_absindex(L, idx);
  lua.lua_getfield(L, at, field);
  const v = lua.lua_type(L, -1) === lua.LUA_TSTRING ? luaString(L, -1) : null;
  lua.lua_pop(L, 1);
  return v;
}

function rawField(L: LuaState, at: number, field: Uint8Array): string | null {
  lua.lua_pushstring(L, field);
  const t = lua.lua_rawget(L, at);
  const v = t === lua.LUA_TSTRING ? luaString(L, -1) : null;
  lua.lua_pop(L, 1);
  return v;
}

// ---- functions (FUNCTION LOAD, FCALL) -----------------------------------------------------

/** A function a library registers: what FUNCTION LIST shows of it. */
export interface FunctionInfo {
  readonly name: string;
  readonly description: string | null;
  /** Its flags, in Redis's order: no-writes, allow-oom, allow-stale, no-cluster, allow-cross-slot-keys. */
  readonly flags: readonly string[];
}

/** A library that loads: its name (from its shebang) and its functions, as registered. */
export interface LibraryInfo {
  readonly name: string;
  readonly functions: readonly FunctionInfo[];
}

/** A function registered while its library loads: its callback held in the registry. */
interface Registered extends FunctionInfo {
  readonly ref: number;
}

/** Redis's message for a bad library or function name (the same for both, as in Redis). */
const BAD_NAME =
  "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

function validName(name: string): boolean {
  return /^[A-Za-z0-9_]+$/.test(name);
}

/**
 * A library's first line, `#!lua name=<name>`, as Redis's functionExtractLibMetaData reads
 * it: its name and the code from the end of that line (so line numbers hold), or Redis's
 * error.
 */
export function libraryHeader(code: Uint8Array): { name: string; body: Uint8Array } | string {
  if (code.length < 2 || code[0] !== 0x23 || code[1] !== 0x21) return "Missing library metadata";
  const end = code.indexOf(0x0a);
  if (end < 0) return "Invalid library metadata";
  const parts = splitArgs(code.subarray(0, end));
  if (parts === null || parts.length === 0) return "Invalid library metadata";
  const engineName = (parts[0] as string).slice(2);
  let name: string | null = null;
  for (const part of parts.slice(1)) {
    if (part.slice(0, 5).toLowerCase() !== "name=") {
      return `Invalid metadata value given: ${part}`;
    }
    if (name !== null) return "Invalid metadata value, name argument was given multiple times";
    name = part.slice(5);
  }
  if (name === null) return "Library name was not given";
  if (!validName(name)) return BAD_NAME;
  if (engineName.toUpperCase() !== "LUA") return `Engine '${engineName}' not found`;
  return { name, body: code.subarray(end) };
}

/** A line split into words as Redis's sdssplitargs splits it, or null for unbalanced quotes. */
export function splitArgs(line: Uint8Array): string[] | null {
  const out = Buffer.alloc(line.length);
  const words: string[] = [];
  const ok = splitArgsInto(line, 0, line.length, out, (start, end) =>
    words.push(out.toString("latin1", start, end)),
  );
  return ok ? words : null;
}

/**
 * The globals a library's code sees while it loads, as Redis 7.0 gives them: only `redis`,
 * with register_function, log, the LOG_* levels and the version; any other name is an
 * unknown global, and nothing can be set. The library's chunk runs with them as its _ENV;
 * its functions share that upvalue, which is then pointed at the scripts' globals (redis.call
 * and the libraries) before one is called (registerLibrary), as Redis switches the globals'
 * __index between load and call.
 */
function loadGlobals(L: LuaState, state: RunState): number {
  const refuse = (l: LuaState) => lauxlib.luaL_error(l, READONLY);
  const unknown = (l: LuaState) =>
    raise(l, `Script attempted to access nonexistent global variable '${luaString(l, 2)}'`);
  /** Sets the table on top's metatable: reads of what it lacks raise, writes raise. */
  const strict = () => {
    lua.lua_createtable(L, 0, 3);
    lua.lua_pushjsfunction(L, unknown);
    lua.lua_setfield(L, -2, NAMES.index);
    lua.lua_pushjsfunction(L, refuse);
    lua.lua_setfield(L, -2, NAMES.newindex);
    lua.lua_pushboolean(L, false);
    lua.lua_setfield(L, -2, NAMES.metatable);
    lua.lua_setmetatable(L, -2);
  };
  lua.lua_createtable(L, 0, 1);
  lua.lua_createtable(L, 0, 8);
  lua.lua_pushjsfunction(L, (l) => registerFunction(l, state));
  lua.lua_setfield(L, -2, to_luastring("register_function"));
  lua.lua_pushjsfunction(L, redisLog);
  lua.lua_setfield(L, -2, to_luastring("log"));
  for (const [name, value] of LOAD_CONSTANTS) {
    lua.lua_pushinteger(L, value);
    lua.lua_setfield(L, -2, name);
  }
  lua.lua_pushstring(L, REDIS_NAMES.versionValue);
  lua.lua_setfield(L, -2, REDIS_NAMES.version);
  strict();
  lua.lua_setfield(L, -2, REDIS_NAMES.redis);
  strict();
  return lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX);
}

/** Flags register_function takes, in Redis's order (FUNCTION LIST shows them so). */
const FUNCTION_FLAGS = [
  "no-writes",
  "allow-oom",
  "allow-stale",
  "no-cluster",
  "allow-cross-slot-keys",
];

/**
 * redis.register_function(name, callback) or redis.register_function{function_name=...,
 * callback=..., flags={...}, description=...}, while a library loads: checked as Redis
 * checks it, with its errors.
 */
function registerFunction(L: LuaState, state: RunState): number {
  const into = state.registering;
  const fail = (message: string, ref?: number): number => {
    if (ref !== undefined) lauxlib.luaL_unref(L, lua.LUA_REGISTRYINDEX, ref);
    return raiseTable(L, `ERR ${message}`);
  };
  if (into === null) {
    return fail("redis.register_function can only be called on FUNCTION LOAD command");
  }
  const n = lua.lua_gettop(L);
  if (n < 1 || n > 2) return fail("wrong number of arguments to redis.register_function");
  let name: string | null = null;
  let description: string | null = null;
  let flags: string[] = [];
  let ref: number | undefined;
  if (n === 2) {
    if (!isString(L, 1)) return fail("first argument to redis.register_function must be a string");
    name = luaString(L, 1);
    if (lua.lua_type(L, 2) !== lua.LUA_TFUNCTION) {
      return fail("second argument to redis.register_function must be a function");
    }
    ref = lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX);
  } else {
    if (lua.lua_type(L, 1) !== lua.LUA_TTABLE) {
      return fail(
        "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).",
      );
    }
    lua.lua_pushnil(L);
    while (lua.lua_next(L, 1) !== 0) {
      if (!isString(L, -2)) {
        return fail("named argument key given to redis.register_function is not a string", ref);
      }
      const key = luaString(L, -2).toLowerCase();
      if (key === "function_name" || key === "description") {
        if (!isString(L, -1)) {
          return fail(`${key} argument given to redis.register_function must be a string`, ref);
        }
        if (key === "function_name") name = luaString(L, -1);
        else description = luaString(L, -1);
      } else if (key === "callback") {
        if (lua.lua_type(L, -1) !== lua.LUA_TFUNCTION) {
          return fail("callback argument given to redis.register_function must be a function", ref);
        }
        if (ref !== undefined) lauxlib.luaL_unref(L, lua.LUA_REGISTRYINDEX, ref);
        ref = lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX);
        continue;
      } else if (key === "flags") {
        if (lua.lua_type(L, -1) !== lua.LUA_TTABLE) {
          return fail(
            "flags argument to redis.register_function must be a table representing function flags",
            ref,
          );
        }
        const read = readFlags(L);
        if (read === null) return fail("unknown flag given", ref);
        flags = read;
      } else {
        return fail("unknown argument given to redis.register_function", ref);
      }
      lua.lua_pop(L, 1);
    }
    if (name === null)
      return fail("redis.register_function must get a function name argument", ref);
    if (ref === undefined) return fail("redis.register_function must get a callback argument");
  }
  if (!validName(name)) return fail(BAD_NAME, ref);
  if (into.some((f) => f.name === name)) return fail("Function already exists in the library", ref);
  into.push({ name, description, flags, ref });
  return 0;
}

/** lua_isstring: a string, or a number (which converts). */
function isString(L: LuaState, idx: number): boolean {
  const t = lua.lua_type(L, idx);
  return t === lua.LUA_TSTRING || t === lua.LUA_TNUMBER;
}

/** The flags table on top (1, 2, ... until nil), in Redis's order, or null for a bad one. */
function readFlags(L: LuaState): string[] | null {
  const given = new Set<string>();
  for (let i = 1; ; i++) {
    const t = lua.lua_rawgeti(L, -1, i);
    if (t === lua.LUA_TNIL) {
      lua.lua_pop(L, 1);
      break;
    }
    const flag = isString(L, -1) ? luaString(L, -1).toLowerCase() : null;
    lua.lua_pop(L, 1);
    if (flag === null || !FUNCTION_FLAGS.includes(flag)) return null;
    given.add(flag);
  }
  return FUNCTION_FLAGS.filter((f) => given.has(f));
}

/**
 * Runs a library's code (after its shebang) with the load globals, collecting what it
 * registers: the functions, their callbacks held in the registry (the caller lets them
 * go: releaseRegistered), or FUNCTION LOAD's error. The run state is the caller's.
 */
function registerLibrary(e: Engine, body: Uint8Array): Registered[] | string {
  const { L, state } = e;
  lua.lua_settop(L, 0);
  lua.lua_pushjsfunction(L, errorHandler);
  const compiled = e.loadLibrary(body);
  if (compiled !== null) {
    lua.lua_settop(L, 0);
    return `Error compiling function: ${compiled}`;
  }
  // The chunk's _ENV, which its functions share: the load globals while it runs, then
  // the scripts' globals (the chunk's copy stays at 2 for that).
  lua.lua_pushvalue(L, 2);
  lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, e.loadGlobals);
  lua.lua_setupvalue(L, 2, 1);
  state.registering = [];
  restartIds(L);
  const status = lua.lua_pcall(L, 0, 0, 1);
  const registered = state.registering;
  state.registering = null;
  lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, lua.LUA_RIDX_GLOBALS);
  lua.lua_setupvalue(L, 2, 1);
  if (status !== lua.LUA_OK) {
    const why =
      lua.lua_type(L, -1) === lua.LUA_TTABLE ? (fieldString(L, -1, ERR) ?? "") : luaString(L, -1);
    lua.lua_settop(L, 0);
    releaseRegistered(L, registered);
    if (status !== lua.LUA_ERRRUN) engine = null;
    return `Error registering functions: ${why}`;
  }
  lua.lua_settop(L, 0);
  return registered;
}

function releaseRegistered(L: LuaState, registered: readonly Registered[]): void {
  for (const f of registered) lauxlib.luaL_unref(L, lua.LUA_REGISTRYINDEX, f.ref);
}

/** Sets the run state afresh for a script's, a function's or a library check's run. */
function startRun(
  e: Engine,
  ctx: ExecContext,
  functionName: string | null,
  body: Uint8Array,
): void {
  const { L, state } = e;
  state.ctx = ctx;
  state.readOnly = false;
  state.body = body;
  state.functionName = functionName;
  state.resp = 2;
  state.instructions = 0;
  state.stopped = false;
  state.seeded = undefined;
  resetLibSettings(state.libs);
  lua.lua_sethook(L, e.hook, lua.LUA_MASKCOUNT, hookEvery);
}

/**
 * FUNCTION LOAD's check of a library: its name and functions, or Redis's error (without
 * "ERR "). Loading runs its code, bounded as a script is, and registers nothing for good.
 */
export function loadLibrary(code: Uint8Array): LibraryInfo | string {
  const header = libraryHeader(code);
  if (typeof header === "string") return header;
  const e = engineFor();
  startRun(e, noContext, null, code);
  const registered = registerLibrary(e, header.body);
  if (typeof registered === "string") return registered;
  releaseRegistered(e.L, registered);
  if (registered.length === 0) return "No functions registered";
  const functions = registered.map(({ name, description, flags }) => ({
    name,
    description,
    flags,
  }));
  return { name: header.name, functions };
}

/** What FCALL runs: a function of a library, given whole (every replica runs its code). */
export interface FunctionRun {
  /** The library's code, shebang included. */
  readonly library: Uint8Array;
  readonly name: string;
  readonly keys: readonly Buffer[];
  readonly argv: readonly Buffer[];
  /** FCALL_RO: the function must declare no-writes. */
  readonly readOnly: boolean;
}

/**
 * Runs a function to its reply: loads its library afresh (so nothing one call leaves in
 * the library's upvalues reaches the next, on any replica), then calls the function with
 * the keys and the arguments, as Redis calls it (two tables; no KEYS or ARGV globals).
 */
export function runFunction(ctx: ExecContext, run: FunctionRun): Reply {
  const header = libraryHeader(run.library);
  if (typeof header === "string") return err(`ERR ${header}`);
  const e = engineFor();
  const { L, state } = e;
  startRun(e, ctx, run.name, run.library);
  // Functions see no KEYS or ARGV (a script's run sets them afresh).
  lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, e.globals);
  lua.lua_pushnil(L);
  lua.lua_setfield(L, -2, NAMES.KEYS);
  lua.lua_pushnil(L);
  lua.lua_setfield(L, -2, NAMES.ARGV);
  lua.lua_settop(L, 0);
  const registered = registerLibrary(e, header.body);
  if (typeof registered === "string") return err(`ERR ${registered}`);
  try {
    // Found whatever the case, as Redis finds a function; errors name it as registered.
    const wanted = run.name.toLowerCase();
    const f = registered.find((r) => r.name.toLowerCase() === wanted);
    if (f === undefined) return errorReply("FUNCTION_NOT_FOUND");
    if (run.readOnly && !f.flags.includes("no-writes")) return errorReply("SCRIPT_RO_WRITE_FLAG");
    if (ctx.sharded === true && f.flags.includes("no-cluster")) {
      return errorReply("SCRIPT_NO_CLUSTER");
    }
    state.readOnly = run.readOnly || f.flags.includes("no-writes");
    state.functionName = f.name;
    lua.lua_pushjsfunction(L, errorHandler);
    lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, f.ref);
    pushArray(L, run.keys);
    pushArray(L, run.argv);
    restartIds(L);
    return callForReply(L, state, 2);
  } finally {
    if (engine !== null) releaseRegistered(L, registered);
  }
}

// ---- the commands ----------------------------------------------------------------------

/** EVAL and EVAL_RO: script numkeys key... arg... (EVALSHA is turned into EVAL before). */
function evalCommand(ctx: ExecContext, args: Args, readOnly: boolean): Reply {
  const split = splitKeys(args, args.length, NOT_INTEGER);
  if (isReply(split)) return split;
  return runScript(ctx, { body: args.buf(1), ...split, readOnly });
}

/**
 * EVAL's and FCALL's `numkeys key... arg...` (numkeys at 2, up to `end`): the keys and the
 * arguments, or Redis's error (`notInteger` for a count that is not one).
 */
export function splitKeys(
  args: Args,
  end: number,
  notInteger: Reply,
): { keys: Buffer[]; argv: Buffer[] } | Reply {
  const numkeys = parseI64(args.buf(2));
  if (numkeys === undefined) return notInteger;
  if (numkeys > BigInt(end - 3)) return errorReply("SCRIPT_KEYS_OVER_ARGS");
  if (numkeys < 0n) return errorReply("SCRIPT_KEYS_NEGATIVE");
  const keys: Buffer[] = [];
  const argv: Buffer[] = [];
  const firstArg = 3 + Number(numkeys);
  for (let i = 3; i < end; i++) (i < firstArg ? keys : argv).push(args.buf(i));
  return { keys, argv };
}

/**
 * FCALL and FCALL_RO as a shard runs them: function numkeys key... arg... library, the
 * library's code added last by the node that took the command (the function's name alone
 * means nothing to a replica, whose node may know other libraries by then).
 */
function fcallCommand(ctx: ExecContext, args: Args, readOnly: boolean): Reply {
  const last = args.length - 1;
  // No code: a function not found when it was queued in MULTI (functions.ts, fcallArgs).
  if (last < 3 || args.buf(last).length === 0) return errorReply("FUNCTION_NOT_FOUND");
  const split = splitKeys(args, last, errorReply("FUNCTION_BAD_NUMKEYS"));
  if (isReply(split)) return split;
  return runFunction(ctx, { library: args.buf(last), name: args.str(1), ...split, readOnly });
}

/** The script commands that run in the key space, keyed by lower-case name. */
export const SCRIPT_HANDLERS: ReadonlyMap<string, CommandHandler> = new Map<string, CommandHandler>(
  [
    ["eval", (ctx, args) => evalCommand(ctx, args, false)],
    ["eval_ro", (ctx, args) => evalCommand(ctx, args, true)],
    ["fcall", (ctx, args) => fcallCommand(ctx, args, false)],
    ["fcall_ro", (ctx, args) => fcallCommand(ctx, args, true)],
  ],
);

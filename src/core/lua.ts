/**
 * fengari (Lua in JavaScript), loaded with the configuration scripts need. fengari reads
 * its configuration from the environment once, when it is first loaded; it is set here,
 * before the load, so that every node formats numbers alike whatever its environment says
 * (a script runs on every replica of its shard and must give the same bytes).
 * LUA_COMPAT_FLOATSTRING: an integral float prints as Lua 5.1 (Redis's Lua) prints it,
 * "2" and not "2.0".
 */
process.env.FENGARICONF = JSON.stringify({ LUA_COMPAT_FLOATSTRING: true });
const fengari = await import("fengari");

export const { lua, lauxlib, lualib, to_luastring } = fengari;
export type { LuaDebug, LuaState } from "fengari";

import { BITFIELD_HANDLERS } from "./bitfield.js";
import { BITMAP_HANDLERS } from "./bitmaps.js";
import { DUMP_HANDLERS } from "./dump.js";
import { EXPIRE_HANDLERS } from "./expire.js";
import { GEO_HANDLERS } from "./geo.js";
import { HASH_HANDLERS } from "./hashes.js";
import { HLL_HANDLERS } from "./hyperloglog.js";
import { KEYSPACE_HANDLERS } from "./keyspace.js";
import { LCS_HANDLERS } from "./lcs.js";
import { LIST_HANDLERS } from "./lists.js";
import { SCAN_HANDLERS } from "./scan.js";
import { SCRIPT_HANDLERS } from "./script.js";
import { SET_HANDLERS } from "./sets.js";
import { SORT_HANDLERS } from "./sort.js";
import { STREAM_HANDLERS } from "./streams.js";
import { STRING_HANDLERS } from "./strings.js";
import type { CommandHandler } from "./types.js";
import { ZSET_HANDLERS } from "./zsets.js";

/**
 * Every command implemented in this folder, keyed by lower-case name. Each has a spec in
 * COMMAND_SPECS; the connection and server commands there are handled by the server layer.
 */
export const KV_HANDLERS: ReadonlyMap<string, CommandHandler> = new Map([
  ...STRING_HANDLERS,
  ...LCS_HANDLERS,
  ...BITMAP_HANDLERS,
  ...BITFIELD_HANDLERS,
  ...HLL_HANDLERS,
  ...HASH_HANDLERS,
  ...SET_HANDLERS,
  ...LIST_HANDLERS,
  ...ZSET_HANDLERS,
  ...GEO_HANDLERS,
  ...STREAM_HANDLERS,
  ...SORT_HANDLERS,
  ...KEYSPACE_HANDLERS,
  ...SCAN_HANDLERS,
  ...EXPIRE_HANDLERS,
  ...DUMP_HANDLERS,
  ...SCRIPT_HANDLERS,
]);

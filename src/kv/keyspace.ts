import { bulk, help, integer, NULL, OK, simple } from "../resp/reply.js";
import type { Args, Reply } from "../resp/types.js";
import { lookup, typeName } from "./db.js";
import { errorReply, NOT_INTEGER, SYNTAX, unknownSubcommand, wrongArity } from "./errors.js";
import { NOTIFY_GENERIC, notifyIfNew, notifyKey } from "./notify.js";
import { parseI64 } from "./numbers.js";
import type { CommandHandler, ExecContext } from "./types.js";

/** Type-agnostic commands on keys: delete, test, rename, copy, count, flush. */

const ZERO = integer(0);
const ONE = integer(1);
const INT_MIN = -0x8000_0000n;
const INT_MAX = 0x7fff_ffffn;

/**
 * DEL and UNLINK (the same here: values are freed by the store, not by this thread).
 * An expired key is removed too but not counted, as Redis's expireIfNeeded-then-delete.
 */
function del(ctx: ExecContext, args: Args): Reply {
  let deleted = 0;
  for (let i = 1; i < args.length; i++) {
    const key = args.buf(i);
    const live = lookup(ctx, key) !== undefined;
    if (ctx.store.delete(key) && live) {
      deleted++;
      notifyKey(ctx, NOTIFY_GENERIC, "del", key);
    }
  }
  return integer(deleted);
}

/** Counts each argument, so a key named twice counts twice. */
const exists: CommandHandler = (ctx, args) => {
  let count = 0;
  for (let i = 1; i < args.length; i++) if (lookup(ctx, args.buf(i)) !== undefined) count++;
  return integer(count);
};

const type: CommandHandler = (ctx, args) => simple(typeName(lookup(ctx, args.buf(1))?.type));

/** A stored value's header: type, flags and expiry (storage/lmdb.ts, encodeValue). */
const VALUE_HEADER_BYTES = 10;

const MEMORY_HELP = help("MEMORY", [
  "USAGE <key> [SAMPLES <count>]",
  "    Return the bytes <key> and its value take in the key space (SAMPLES is accepted:",
  "    every value is held whole, there is nothing to sample).",
]);

/**
 * MEMORY without a key to work on: HELP, or the error for a subcommand this server does
 * not have (DOCTOR, STATS...) or for USAGE without its key. A cluster node answers these
 * itself (cluster-router.ts); USAGE with a key goes to the key's shard.
 */
export function memoryKeyless(args: Args): Reply {
  if (args.is(1, "help")) return args.length === 2 ? MEMORY_HELP : wrongArity("memory|help");
  if (args.is(1, "usage")) return wrongArity("memory|usage");
  return unknownSubcommand(args);
}

/**
 * MEMORY USAGE key [SAMPLES count]: the bytes of the key, its value's header and its data,
 * as the key space stores them; null for a missing key. SAMPLES is checked as Redis
 * checks it.
 */
const memory: CommandHandler = (ctx, args) => {
  if (!args.is(1, "usage") || args.length < 3) return memoryKeyless(args);
  for (let i = 3; i < args.length; i++) {
    if (!args.is(i, "samples") || i + 1 >= args.length) return SYNTAX;
    const n = parseI64(args.buf(++i));
    if (n === undefined) return NOT_INTEGER;
    if (n < 0n) return SYNTAX;
  }
  const key = args.buf(2);
  const value = lookup(ctx, key);
  if (value === undefined) return NULL;
  return integer(key.length + VALUE_HEADER_BYTES + value.data.length);
};

const OBJECT_HELP = help("OBJECT", [
  "ENCODING <key>",
  "    Return the kind of internal representation used in order to store the value",
  "    associated with a <key>.",
  "FREQ <key>",
  "    Return the access frequency index of the <key>. The returned integer is",
  "    proportional to the logarithm of the recent access frequency of the key.",
  "REFCOUNT <key>",
  "    Return the number of references of the value associated with the specified",
  "    <key>.",
]);

/** Redis's refcount of a shared object (its small integers 0..9999): OBJ_SHARED_REFCOUNT. */
const SHARED_REFCOUNT = integer(2_147_483_647);
const SHARED_INTEGERS = 10_000n;
/** Redis keeps a string of up to 44 bytes in one allocation with its header (embstr). */
const EMBSTR_BYTES_MAX = 44;

/**
 * OBJECT without a key to work on: HELP, or the error for a subcommand this server does
 * not have (IDLETIME: access times are not tracked) or for one without its key. A cluster
 * node answers these itself (cluster-router.ts).
 */
export function objectKeyless(args: Args): Reply {
  const sub = args.lower(1);
  if (sub === "help") return args.length === 2 ? OBJECT_HELP : wrongArity("object|help");
  if (sub === "encoding" || sub === "refcount" || sub === "freq")
    return wrongArity(`object|${sub}`);
  return unknownSubcommand(args);
}

/** The integer a string holds when Redis would store it as one (OBJ_ENCODING_INT). */
function storedInteger(data: Buffer): bigint | undefined {
  return data.length <= 20 ? parseI64(data) : undefined;
}

/**
 * OBJECT ENCODING, REFCOUNT and FREQ key. ENCODING names the form a value is stored in,
 * in Redis's words: a string as Redis would hold it (int, embstr, raw: the same bytes
 * here); a hash, set, list or sorted set is one value in what Redis calls its small
 * encoding, "listpack", whatever its size; a stream is "stream", as in Redis. REFCOUNT is 1 (values are not shared), or
 * Redis's shared count for the small integers its clients expect it for. FREQ is refused
 * as Redis refuses it without an LFU eviction policy, which there is none of here.
 */
const object: CommandHandler = (ctx, args) => {
  if (args.length !== 3 || args.is(1, "help")) return objectKeyless(args);
  const sub = args.lower(1);
  if (sub !== "encoding" && sub !== "refcount" && sub !== "freq") return unknownSubcommand(args);
  const value = lookup(ctx, args.buf(2));
  if (value === undefined) return NULL;
  if (sub === "freq") return errorReply("OBJECT_FREQ_NO_LFU");
  if (value.type !== "string") {
    if (sub === "refcount") return ONE;
    return bulk(value.type === "stream" ? "stream" : "listpack");
  }
  const n = storedInteger(value.data);
  if (sub === "refcount")
    return n !== undefined && n >= 0n && n < SHARED_INTEGERS ? SHARED_REFCOUNT : ONE;
  if (n !== undefined) return bulk("int");
  return bulk(value.data.length <= EMBSTR_BYTES_MAX ? "embstr" : "raw");
};

/** renameGenericCommand: the value moves with its expiry; the destination is replaced. */
function rename(ctx: ExecContext, args: Args, nx: boolean): Reply {
  const from = args.buf(1);
  const to = args.buf(2);
  const value = lookup(ctx, from);
  if (value === undefined) return errorReply("NO_SUCH_KEY");
  if (from.equals(to)) return nx ? ZERO : OK;
  if (nx && lookup(ctx, to) !== undefined) return ZERO;
  notifyIfNew(ctx, to);
  ctx.store.set(to, value);
  ctx.store.delete(from);
  notifyKey(ctx, NOTIFY_GENERIC, "rename_from", from);
  notifyKey(ctx, NOTIFY_GENERIC, "rename_to", to);
  return nx ? ONE : OK;
}

/**
 * COPY source destination [DB index] [REPLACE]. Homeostat has one database, so any DB
 * other than 0 is out of range, as SELECT says; the value is copied with its expiry.
 */
const copy: CommandHandler = (ctx, args) => {
  let replace = false;
  for (let j = 3; j < args.length; j++) {
    if (args.is(j, "replace")) {
      replace = true;
    } else if (args.is(j, "db") && j + 1 < args.length) {
      const db = parseI64(args.buf(++j));
      if (db === undefined) return NOT_INTEGER;
      if (db < INT_MIN || db > INT_MAX) {
        return errorReply("INT_RANGE", INT_MIN.toString(), INT_MAX.toString());
      }
      if (db !== 0n) return errorReply("DB_INDEX_OUT_OF_RANGE");
    } else {
      return SYNTAX;
    }
  }
  const from = args.buf(1);
  const to = args.buf(2);
  if (from.equals(to)) return errorReply("SAME_OBJECT");
  const value = lookup(ctx, from);
  if (value === undefined) return ZERO;
  if (!replace && lookup(ctx, to) !== undefined) return ZERO;
  notifyIfNew(ctx, to);
  ctx.store.set(to, value);
  notifyKey(ctx, NOTIFY_GENERIC, "copy_to", to);
  return ONE;
};

/** DBSIZE counts keys whose expiry has passed but which are not yet removed, as Redis. */
const dbsize: CommandHandler = (ctx) => integer(ctx.store.size());

/** FLUSHDB/FLUSHALL [ASYNC|SYNC]: both modes empty the store at once. */
const flush: CommandHandler = (ctx, args) => {
  const modeOk =
    args.length === 1 || (args.length === 2 && (args.is(1, "sync") || args.is(1, "async")));
  if (!modeOk) return SYNTAX;
  ctx.store.clear();
  return OK;
};

export const KEYSPACE_HANDLERS: ReadonlyMap<string, CommandHandler> = new Map([
  ["del", del],
  ["unlink", del],
  ["exists", exists],
  // Redis's TOUCH also updates each key's access time, for LRU eviction; nothing here
  // evicts, so it answers as EXISTS.
  ["touch", exists],
  ["type", type],
  ["memory", memory],
  ["object", object],
  ["rename", (ctx: ExecContext, args: Args) => rename(ctx, args, false)],
  ["renamenx", (ctx: ExecContext, args: Args) => rename(ctx, args, true)],
  ["copy", copy],
  ["dbsize", dbsize],
  ["flushdb", flush],
  ["flushall", flush],
]);

import { array, bulk, NULL } from "../resp/reply.js";
import type { Args, Reply } from "../resp/types.js";
import { KEY_HASH_MAX } from "../storage/key-hash.js";
import { isExpired, isReply, typeName } from "./db.js";
import { errorReply, NOT_INTEGER, SYNTAX } from "./errors.js";
import { GlobPattern } from "./glob.js";
import { parseI64 } from "./numbers.js";
import type { CommandHandler } from "./types.js";

/**
 * KEYS, SCAN and RANDOMKEY: the commands that walk the key space rather than name keys.
 *
 * SCAN cursors. A cursor must be a plain unsigned number (redis-cli reads it with strtoull)
 * that carries all the state. SCAN walks keys in the order of their 48-bit hash
 * (`KeyStore.keysByHash`, see storage/key-hash.ts); a cursor is 1 + the hash to resume at,
 * and 0 starts and ends an iteration.
 *
 * No key is lost: a call stops after COUNT keys only between two different hashes, so every
 * key before the resume point was visited. Keys present throughout an iteration are all
 * returned; keys added or removed meanwhile may or may not be, as SCAN promises. A call
 * returns more than COUNT keys only when hashes collide, which at 48 bits is rare.
 */
const CURSOR_MAX = BigInt(KEY_HASH_MAX) + 1n;
const SCAN_COUNT_DEFAULT = 10n;

/**
 * The cursor as strtoul reads it (optional sign, decimal digits, empty meaning 0, no
 * leading space), or undefined when it is malformed or not one this server hands out.
 */
export function parseCursor(text: Uint8Array): bigint | undefined {
  let i = 0;
  let negative = false;
  if (text[0] === 0x2b || text[0] === 0x2d) {
    negative = text[0] === 0x2d;
    i = 1;
    if (text.length === 1) return undefined;
  }
  let v = 0n;
  let digits = "";
  for (; i < text.length; i++) {
    const c = text[i] as number;
    if (c < 0x30 || c > 0x39) return undefined;
    if (digits.length === 0 && c === 0x30) continue;
    digits += String.fromCharCode(c);
    // Anything this long is beyond every cursor we hand out; stop before BigInt grows.
    if (digits.length > 20) return undefined;
  }
  if (digits.length > 0) v = BigInt(digits);
  if (negative && v !== 0n) return undefined;
  return v <= CURSOR_MAX ? v : undefined;
}

/** "ERR invalid cursor", allocated once. */
export const INVALID_CURSOR = errorReply("INVALID_CURSOR");

/** The options of SCAN (TYPE allowed) and HSCAN, as Redis's scanGenericCommand reads them. */
export interface ScanOptions {
  count: bigint;
  pattern: GlobPattern | undefined;
  /** TYPE's type name, lower-cased (SCAN only). */
  type: string | undefined;
}

/**
 * Reads COUNT, MATCH and (when `allowType`) TYPE from argument `from` on: each needs a
 * value; COUNT must be an integer of at least 1; anything else is a syntax error.
 */
export function parseScanOptions(
  args: Args,
  from: number,
  allowType: boolean,
): ScanOptions | Reply {
  const o: ScanOptions = { count: SCAN_COUNT_DEFAULT, pattern: undefined, type: undefined };
  for (let i = from; i < args.length; i += 2) {
    const hasValue = i + 1 < args.length;
    if (args.is(i, "count") && hasValue) {
      const n = parseI64(args.buf(i + 1));
      if (n === undefined) return NOT_INTEGER;
      if (n < 1n) return SYNTAX;
      o.count = n;
    } else if (args.is(i, "match") && hasValue) {
      const p = args.buf(i + 1);
      o.pattern = p.length === 1 && p[0] === 0x2a ? undefined : new GlobPattern(p);
    } else if (allowType && args.is(i, "type") && hasValue) {
      o.type = args.lower(i + 1);
    } else {
      return SYNTAX;
    }
  }
  return o;
}

const scan: CommandHandler = (ctx, args) => {
  const cursor = parseCursor(args.buf(1));
  if (cursor === undefined) return INVALID_CURSOR;
  const options = parseScanOptions(args, 2, true);
  if (isReply(options)) return options;
  const { count, pattern, type: wantedType } = options;

  const found: Reply[] = [];
  let visited = 0n;
  let lastHash = -1;
  let nextHash = -1;
  for (const { hash, key } of ctx.store.keysByHash(cursor === 0n ? 0 : Number(cursor - 1n))) {
    if (visited >= count && hash !== lastHash) {
      nextHash = hash;
      break;
    }
    visited++;
    lastHash = hash;
    if (pattern !== undefined && !pattern.matches(key)) continue;
    const value = ctx.store.get(key);
    if (value === undefined || isExpired(value, ctx.nowMs)) continue;
    if (wantedType !== undefined && typeName(value.type) !== wantedType) continue;
    found.push(bulk(key));
  }
  const nextCursor = nextHash < 0 ? "0" : String(nextHash + 1);
  return array([bulk(nextCursor), array(found)]);
};

const keys: CommandHandler = (ctx, args) => {
  const raw = args.buf(1);
  const all = raw.length === 1 && raw[0] === 0x2a;
  const pattern = all ? undefined : new GlobPattern(raw);
  // Every match starts with the pattern's literal prefix: seek there, stop past it.
  const prefix = pattern?.literalPrefix() ?? Buffer.alloc(0);
  const found: Reply[] = [];
  for (const key of ctx.store.keysFrom(prefix.length > 0 ? prefix : undefined)) {
    if (
      prefix.length > 0 &&
      (key.length < prefix.length || prefix.compare(key, 0, prefix.length) !== 0)
    ) {
      break;
    }
    if (pattern !== undefined && !pattern.matches(key)) continue;
    const value = ctx.store.get(key);
    if (value === undefined || isExpired(value, ctx.nowMs)) continue;
    found.push(bulk(key));
  }
  return array(found);
};

/** Random draws before falling back to a walk: enough when few keys are expired. */
const RANDOMKEY_DRAWS_MAX = 16;
/** Keys the fallback walk looks at before answering null: bounds the work per call. */
const RANDOMKEY_WALK_MAX = 1024;

/**
 * A random live key. Redis samples until it finds a live key and, on a replica, may give
 * up and return an expired one; reads never delete here, so a key space full of expired
 * keys is met with a bounded walk from the last draw instead, and null if even that finds
 * nothing (the active expiry cycle will have removed them by the next try).
 */
const randomkey: CommandHandler = (ctx) => {
  let start: Buffer | undefined;
  for (let i = 0; i < RANDOMKEY_DRAWS_MAX; i++) {
    const key = ctx.store.randomKey(ctx.random);
    if (key === undefined) return NULL;
    const value = ctx.store.get(key);
    if (value !== undefined && !isExpired(value, ctx.nowMs)) return bulk(key);
    start = key;
  }
  let walked = 0;
  for (const from of [start, undefined]) {
    for (const key of ctx.store.keysFrom(from)) {
      if (walked++ >= RANDOMKEY_WALK_MAX) return NULL;
      const value = ctx.store.get(key);
      if (value !== undefined && !isExpired(value, ctx.nowMs)) return bulk(key);
    }
  }
  return NULL;
};

export const SCAN_HANDLERS: ReadonlyMap<string, CommandHandler> = new Map([
  ["scan", scan],
  ["keys", keys],
  ["randomkey", randomkey],
]);

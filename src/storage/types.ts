import type { Random } from "../core/random.js";

/**
 * The data types a key can hold. Each is stored as one value (kv/hashes.ts has the hash's
 * encoding, which a set shares: kv/sets.ts; kv/lists.ts, kv/zsets.ts, kv/streams.ts).
 */
export type ValueType = "string" | "hash" | "set" | "list" | "zset" | "stream";

/**
 * Each type's code in what is written to disk: the key space's records (storage/lmdb.ts)
 * and the shards' snapshot images (kv/machine.ts). Never renumbered.
 */
export const VALUE_TYPE_CODES: Readonly<Record<ValueType, number>> = {
  string: 1,
  hash: 2,
  set: 3,
  list: 4,
  zset: 5,
  stream: 6,
};

/** The type of each code of VALUE_TYPE_CODES (undefined for any other). */
export const VALUE_TYPES_BY_CODE: readonly (ValueType | undefined)[] = (() => {
  const types: ValueType[] = [];
  for (const [name, code] of Object.entries(VALUE_TYPE_CODES)) types[code] = name as ValueType;
  return types;
})();

/** What the store keeps under one key. */
export interface StoredValue {
  readonly type: ValueType;
  /** Type-specific encoding; for strings, the raw bytes; for hashes, see kv/hashes.ts. */
  readonly data: Buffer;
  /** Absolute expiry in ms since the Unix epoch; 0 means no expiry. */
  readonly expireAtMs: number;
}

/**
 * The key space as the command layer sees it: synchronous reads and writes of the current
 * state (writes are visible at once), plus durability as a separate, asynchronous step.
 *
 * Every mutation advances `writeSeq`. `flush()` makes everything written so far durable
 * and advances `durableSeq` to the `writeSeq` it started at; many writes share one flush
 * (group commit). A caller that must not acknowledge a write before it is durable tags the
 * reply with `writeSeq` and releases it once `durableSeq` has reached the tag.
 *
 * If a flush fails (disk full, I/O error), every write not yet durable is rolled back —
 * the visible state returns to the durable state — `durableSeq` is set to `writeSeq`, and
 * the promise rejects with a `StorageError`. Replies tagged above the old `durableSeq` must
 * then be answered with an error: what they saw or did is gone.
 *
 * Buffers passed in may be views into a network buffer that is reused afterwards: a store
 * copies whatever it keeps. Values handed out are shared and read-only: a caller that
 * wants to change one builds a new buffer and `set`s it. Keys handed out are read-only too.
 *
 * Expiry is not enforced here: `get` returns a value whatever its `expireAtMs`; the command
 * layer hides expired keys and deletes them through `expiredKeys`.
 */
export interface KeyStore {
  get(key: Buffer): StoredValue | undefined;
  set(key: Buffer, value: StoredValue): void;
  /** Returns whether the key existed. */
  delete(key: Buffer): boolean;
  /** Removes every key. */
  clear(): void;
  /** Number of keys, counting those expired but not yet removed (as Redis's DBSIZE does). */
  size(): number;
  /** Number of keys with an expiry set (for INFO keyspace's `expires=`). */
  expiringCount(): number;
  /**
   * Keys in byte order, starting at the first key >= `start` (all keys when undefined).
   * The iterator must not be held across a mutation.
   */
  keysFrom(start: Buffer | undefined): IterableIterator<Buffer>;
  /**
   * Keys in the order of (keyHash(key), key), starting at the first whose hash is >= `fromHash`:
   * the order SCAN walks in (see key-hash.ts). The iterator must not be held across a mutation.
   */
  keysByHash(fromHash: number): IterableIterator<HashedKey>;
  /** Up to `limit` keys whose expiry is at or before `nowMs`, oldest expiry first. */
  expiredKeys(nowMs: number, limit: number): Buffer[];
  /** A key chosen with `random`, or undefined when the store is empty. */
  randomKey(random: Random): Buffer | undefined;
  /**
   * Begins a walk of every key with its value as they are now, to be taken in slices
   * while writes go on (see FrozenWalk). A clear, or a rollback of writes, aborts it.
   */
  freeze(): FrozenWalk;

  readonly writeSeq: number;
  readonly durableSeq: number;
  /** Makes all writes so far durable. At most one flush runs at a time. */
  flush(): Promise<void>;
  /** Bytes used on disk (or in memory for the twin), for INFO. */
  usedBytes(): number;
  close(): Promise<void>;
}

/** A key and its value, as a FrozenWalk hands them out. */
export interface FrozenEntry {
  readonly key: Buffer;
  readonly value: StoredValue;
}

/**
 * The keys of a store with their values as of KeyStore.freeze(), handed out in slices
 * while the store goes on taking writes, in no order one may rely on. Each key once;
 * `size` in all.
 */
export interface FrozenWalk {
  /** Keys in the store at the freeze: what the walk hands out in all. */
  readonly size: number;
  /** Why the walk cannot go on (the store was cleared or rolled back), or null. */
  readonly aborted: string | null;
  /** Every key has been handed out (or the walk was aborted or closed). */
  readonly done: boolean;
  /** Up to `max` more keys; an empty slice only once done. Throws if aborted. */
  next(max: number): FrozenEntry[];
  /** Ends the walk early: writes are no longer looked at. */
  close(): void;
}

/** A key with its SCAN-order hash. */
export interface HashedKey {
  readonly hash: number;
  readonly key: Buffer;
}

/** An operating error of the storage layer: reported to clients, never a crash. */
export class StorageError extends Error {
  override name = "StorageError";
  constructor(
    readonly code: "ENOSPC" | "EIO" | "EACCES" | "MAP_FULL" | "CLOSED" | "OTHER",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

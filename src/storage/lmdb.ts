import { createHash } from "node:crypto";
import { mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { type Database, open, type RootDatabase } from "lmdb";
import type { Random } from "../core/random.js";
import { keyHash, writeKeyHash } from "./key-hash.js";
import {
  type Backend,
  type BackendSnapshot,
  type BatchChain,
  notApplied,
  OverlayStore,
  type PlacedEntry,
  toStorageError,
  type WriteBatch,
} from "./overlay.js";
import {
  type HashedKey,
  StorageError,
  type StoredValue,
  VALUE_TYPE_CODES,
  VALUE_TYPES_BY_CODE,
} from "./types.js";

/**
 * An LMDB environment in `path` (made if missing) whose commits return only once synced:
 * an acknowledged write is durable (overlapping sync would return at commit and sync
 * later). `unsafeNoSync` is for tests that measure behaviour, never for data. The key
 * space and the raft log both open theirs here, so they make the same durability choice.
 */
export function openDurableEnvironment(path: string, unsafeNoSync = false): RootDatabase {
  mkdirSync(path, { recursive: true });
  return open({ path, maxDbs: 8, overlappingSync: false, noSync: unsafeNoSync });
}

/**
 * LMDB's key size limit is 1978 bytes; Redis keys may be far longer. Keys up to this length
 * are stored as they are; longer ones under their first bytes followed by a SHA-256 of the
 * whole key (which keeps byte order by prefix), with the whole key kept in the value.
 */
const directKeyBytesMax = 1900;
// One byte longer than any direct key, so the two kinds are told apart by length.
const hashedPrefixBytes = directKeyBytesMax + 1 - 32;

/** Value header: type (1), flags (1), expireAtMs as float64 (8). */
export const headerBytes = 10;
const flagLongKey = 1;

const EMPTY = Buffer.alloc(0);
const LAST_BATCH = Buffer.from("last-batch");

export interface LmdbOptions {
  /** Folder holding data.mdb and lock.mdb; created if missing. */
  path: string;
  /**
   * Bytes of decoded values kept in a write-through cache in front of LMDB (keys + values
   * + a per-entry overhead). A read from LMDB costs a native call, a decode and a copy —
   * about a third of a pipelined GET's CPU here; a cache hit is one Map lookup.
   * Default 64 MiB; 0 turns it off.
   */
  cacheBytesMax?: number;
}

/** Rough bytes a cache entry costs beyond its key and data (Map slot, objects, strings). */
const cacheEntryOverheadBytes = 96;

/** The durable key space on LMDB. Every commit is synced before its promise resolves. */
export class LmdbBackend implements Backend {
  private readonly root: RootDatabase;
  private readonly keys: Database<Buffer, Buffer>;
  /** Bookkeeping: the id of the last batch applied, under LAST_BATCH. */
  private readonly meta: Database<Buffer, Buffer>;
  /** SCAN order: 6-byte BE keyHash(key) ++ stored key → empty. */
  private readonly hashes: Database<Buffer, Buffer>;
  /** Expiry index: float64 BE expireAtMs ++ stored key → empty. */
  private readonly expires: Database<Buffer, Buffer>;
  private entryCount: number;
  private readonly path: string;
  /** Write-through cache of decoded values, oldest first (Map keeps insertion order). */
  private readonly cache = new Map<string, StoredValue>();
  private cacheBytes = 0;
  private readonly cacheBytesMax: number;

  constructor(options: LmdbOptions) {
    this.path = options.path;
    this.cacheBytesMax = options.cacheBytesMax ?? 64 * 1024 * 1024;
    try {
      this.root = openDurableEnvironment(options.path);
      this.keys = this.root.openDB<Buffer, Buffer>("keys", {
        encoding: "binary",
        keyEncoding: "binary",
      });
      this.expires = this.root.openDB<Buffer, Buffer>("expires", {
        encoding: "binary",
        keyEncoding: "binary",
      });
      this.meta = this.root.openDB<Buffer, Buffer>("meta", {
        encoding: "binary",
        keyEncoding: "binary",
      });
      this.hashes = this.root.openDB<Buffer, Buffer>("hashes", {
        encoding: "binary",
        keyEncoding: "binary",
      });
      this.entryCount = (this.keys.getStats() as { entryCount: number }).entryCount;
      this.rebuildHashIndexIfNeeded();
    } catch (cause) {
      throw toStorageError(cause, `cannot open the data folder ${options.path}`);
    }
  }

  /** A folder written before the SCAN index existed (or damaged by hand) gets it rebuilt. */
  private rebuildHashIndexIfNeeded(): void {
    const indexed = (this.hashes.getStats() as { entryCount: number }).entryCount;
    if (indexed === this.entryCount) return;
    this.hashes.transactionSync(() => {
      this.hashes.clearSync();
      for (const k of this.keys.getKeys({})) {
        const sk = k as Buffer;
        this.hashes.putSync(hashKey(this.originalKey(sk), sk), EMPTY);
      }
    });
  }

  get(key: Buffer): StoredValue | undefined {
    if (this.cacheBytesMax === 0) return this.read(key);
    const k = key.toString("latin1");
    const hit = this.cache.get(k);
    if (hit !== undefined) return hit;
    const value = this.read(key);
    if (value !== undefined) this.remember(k, value);
    return value;
  }

  private read(key: Buffer): StoredValue | undefined {
    const raw = fastBuffer(this.keys.getBinaryFast(storedKey(key)));
    return raw === undefined ? undefined : decodeValue(raw);
  }

  private remember(k: string, value: StoredValue): void {
    const size = k.length + value.data.length + cacheEntryOverheadBytes;
    if (size > this.cacheBytesMax / 16) return; // a few huge values must not flush the rest
    this.forget(k);
    this.cache.set(k, value);
    this.cacheBytes += size;
    while (this.cacheBytes > this.cacheBytesMax) {
      const oldest = this.cache.keys().next();
      if (oldest.done) break;
      this.forget(oldest.value);
    }
  }

  private forget(k: string): void {
    const old = this.cache.get(k);
    if (old === undefined) return;
    this.cache.delete(k);
    this.cacheBytes -= k.length + old.data.length + cacheEntryOverheadBytes;
  }

  peekExpiry(key: Buffer): number | undefined {
    if (this.cacheBytesMax > 0) {
      const hit = this.cache.get(key.toString("latin1"));
      if (hit !== undefined) return hit.expireAtMs;
    }
    return fastBuffer(this.keys.getBinaryFast(storedKey(key)))?.readDoubleBE(2);
  }

  *keysFrom(start: Buffer | undefined): IterableIterator<Buffer> {
    const range = this.keys.getKeys(start === undefined ? {} : { start: storedKey(start) });
    for (const k of range) yield this.originalKey(k as Buffer);
  }

  private originalKey(stored: Buffer): Buffer {
    if (stored.length <= directKeyBytesMax) return unescapeKey(stored);
    const raw = fastBuffer(this.keys.getBinaryFast(stored));
    if (raw === undefined) return unescapeKey(stored);
    const len = raw.readUInt32BE(headerBytes);
    return Buffer.from(raw.subarray(headerBytes + 4, headerBytes + 4 + len));
  }

  *keysByHash(fromHash: number): IterableIterator<HashedKey> {
    const start = Buffer.alloc(6);
    writeKeyHash(fromHash, start, 0);
    for (const k of this.hashes.getKeys({ start })) {
      const entry = k as Buffer;
      yield { hash: entry.readUIntBE(0, 6), key: this.originalKey(entry.subarray(6)) };
    }
  }

  expiredKeys(nowMs: number, limit: number): Buffer[] {
    const out: Buffer[] = [];
    if (limit <= 0) return out;
    for (const k of this.expires.getKeys({})) {
      const entry = k as Buffer;
      if (entry.readDoubleBE(0) > nowMs) break;
      out.push(this.originalKey(entry.subarray(8)));
      if (out.length >= limit) break;
    }
    return out;
  }

  count(): number {
    return this.entryCount;
  }

  expiringCount(): number {
    return (this.expires.getStats() as { entryCount: number }).entryCount;
  }

  randomKey(random: Random): Buffer | undefined {
    let first: Buffer | undefined;
    let last: Buffer | undefined;
    for (const k of this.keys.getKeys({ limit: 1 })) first = k as Buffer;
    for (const k of this.keys.getKeys({ limit: 1, reverse: true })) last = k as Buffer;
    if (first === undefined || last === undefined) return undefined;
    // LMDB has no rank lookup: seek to a random point between the first and last keys.
    const probe = randomBetween(first, last, random);
    for (const k of this.keys.getKeys({ start: probe, limit: 1 })) {
      return this.originalKey(k as Buffer);
    }
    return this.originalKey(first);
  }

  lastBatchId(): number {
    return this.meta.getBinary(LAST_BATCH)?.readDoubleBE(0) ?? 0;
  }

  snapshot(): BackendSnapshot {
    return snapshotOf(
      this.root,
      this.keys,
      [{}],
      (stored, raw) => recordKey(raw) ?? unescapeKey(stored),
    );
  }

  placeOf(key: Buffer): Buffer {
    return storedKey(key);
  }

  /**
   * Commits on the calling thread and returns once the transaction is synced, as Redis's
   * appendfsync always does. Measured here (docs/benchmarks.md): LMDB's asynchronous
   * commits hand each batch to a writer thread and back, which costs more than the sync
   * itself (~0.2 ms for data and meta page syncs), so durable SETs ran about 30% slower.
   */
  async commit(batch: WriteBatch, chain: BatchChain): Promise<void> {
    let delta = 0;
    try {
      this.keys.transactionSync(() => {
        if (this.lastBatchId() !== chain.after) throw notApplied(chain);
        if (batch.cleared) {
          this.keys.clearSync();
          this.expires.clearSync();
          this.hashes.clearSync();
          delta = -this.entryCount;
        }
        for (const w of batch.entries.values()) delta += this.apply(w.key, w.value);
        const id = Buffer.allocUnsafe(8);
        id.writeDoubleBE(chain.id, 0);
        this.meta.putSync(LAST_BATCH, id);
      });
    } catch (cause) {
      this.entryCount = (this.keys.getStats() as { entryCount: number }).entryCount;
      throw toStorageError(cause, `write to ${this.path} failed`);
    }
    this.entryCount += delta;
    // Only now is the batch in LMDB: bring the cache up to date with it.
    if (batch.cleared) {
      this.cache.clear();
      this.cacheBytes = 0;
    }
    if (this.cacheBytesMax > 0) {
      for (const [k, w] of batch.entries) {
        const v = w.value;
        if (v === null) this.forget(k);
        // A copy: the batch's views pin the overlay's arena chunks they are in.
        else this.remember(k, { ...v, data: Buffer.from(v.data) });
      }
    }
  }

  /** Writes one key inside the current transaction; returns the change in key count. */
  private apply(key: Buffer, value: StoredValue | null): number {
    const sk = storedKey(key);
    const old = fastBuffer(this.keys.getBinaryFast(sk));
    if (old !== undefined) {
      const oldExpire = old.readDoubleBE(2);
      if (oldExpire !== 0) this.expires.removeSync(indexKey(oldExpire, sk));
    }
    if (value === null) {
      if (old === undefined) return 0;
      this.keys.removeSync(sk);
      this.hashes.removeSync(hashKey(key, sk));
      return -1;
    }
    this.keys.putSync(sk, encodeValue(key, sk.length, value));
    if (value.expireAtMs !== 0) this.expires.putSync(indexKey(value.expireAtMs, sk), EMPTY);
    if (old !== undefined) return 0;
    this.hashes.putSync(hashKey(key, sk), EMPTY);
    return 1;
  }

  usedBytes(): number {
    try {
      const st = statSync(join(this.path, "data.mdb"));
      return Math.min(st.size, st.blocks * 512);
    } catch {
      return 0;
    }
  }

  async close(): Promise<void> {
    await this.root.close();
  }
}

/** The key space of one node on LMDB, with group commit in front. */
export class LmdbStore extends OverlayStore {
  constructor(options: LmdbOptions) {
    super(new LmdbBackend(options));
  }
}

const ZERO = Buffer.from([0]);

/**
 * LMDB refuses empty keys. The empty key is stored as one zero byte and keys that begin with
 * a zero byte get one more in front: a mapping that is one-to-one and keeps byte order.
 */
function storedKey(key: Buffer): Buffer {
  const escaped = key.length === 0 ? ZERO : key[0] === 0 ? Buffer.concat([ZERO, key]) : key;
  if (escaped.length <= directKeyBytesMax) return escaped;
  const digest = createHash("sha256").update(key).digest();
  return Buffer.concat([escaped.subarray(0, hashedPrefixBytes), digest]);
}

function unescapeKey(stored: Buffer): Buffer {
  if (stored[0] !== 0) return Buffer.from(stored);
  return Buffer.from(stored.subarray(1));
}

function hashKey(key: Buffer, sk: Buffer): Buffer {
  const out = Buffer.allocUnsafe(6 + sk.length);
  writeKeyHash(keyHash(key), out, 0);
  sk.copy(out, 6);
  return out;
}

function indexKey(expireAtMs: number, sk: Buffer): Buffer {
  const out = Buffer.allocUnsafe(8 + sk.length);
  out.writeDoubleBE(expireAtMs, 0);
  sk.copy(out, 8);
  return out;
}

/**
 * A value as stored: type, flags, expiry, then (for a key stored as prefix + hash, whose
 * stored form `directBytes` bytes long is past directKeyBytesMax) the whole key, then the
 * data. The shard store (shard-store.ts) stores values the same way.
 */
export function encodeValue(key: Buffer, directBytes: number, value: StoredValue): Buffer {
  const long = directBytes > directKeyBytesMax;
  const keyPart = long ? 4 + key.length : 0;
  const out = Buffer.allocUnsafe(headerBytes + keyPart + value.data.length);
  out[0] = VALUE_TYPE_CODES[value.type];
  out[1] = long ? flagLongKey : 0;
  out.writeDoubleBE(value.expireAtMs, 2);
  let at = headerBytes;
  if (long) {
    out.writeUInt32BE(key.length, at);
    key.copy(out, at + 4);
    at += keyPart;
  }
  value.data.copy(out, at);
  return out;
}

/**
 * Backend.snapshot of the records of `db` in `ranges` (LMDB range options, taken in
 * order), in one read transaction of `root` opened now and held until the last record is
 * read or close(): commits go on meanwhile and it sees none of them. A key's place is its
 * LMDB key; `keyOf` tells the key itself from that and the record (both copies the range
 * made).
 *
 * Reads each record once, in key order: an image built from it costs about half of what
 * the SCAN-order walk of the live store did, which looked each key up again
 * (docs/cluster.md, "Compaction").
 */
export function snapshotOf(
  root: RootDatabase,
  db: Database<Buffer, Buffer>,
  ranges: readonly { start?: Buffer; end?: Buffer }[],
  keyOf: (stored: Buffer, raw: Buffer) => Buffer,
): BackendSnapshot {
  const txn = root.useReadTransaction();
  let open = true;
  let at = 0;
  let range: Iterator<{ key: Buffer; value: Buffer }> | null = null;
  const close = () => {
    if (!open) return;
    open = false;
    range?.return?.();
    range = null;
    txn.done();
  };
  const next = (): PlacedEntry | undefined => {
    while (open) {
      if (range === null) {
        if (at === ranges.length) break;
        const options = { ...ranges[at++], transaction: txn };
        range = db.getRange(options)[Symbol.iterator]() as Iterator<{ key: Buffer; value: Buffer }>;
      }
      const r = range.next();
      if (r.done === true) {
        range = null;
        continue;
      }
      const raw = asBuffer(r.value.value);
      const place = r.value.key;
      return { key: keyOf(place, raw), value: decodeRecord(raw, false), place };
    }
    close();
    return undefined;
  };
  return { next, close };
}

/**
 * What lmdb-js's getBinaryFast returns, as a Buffer. Its typings say Buffer, but a value
 * bigger than its shared read buffer (tens of MB) comes back as a plain Uint8Array over
 * LMDB's map, without Buffer's methods: reading one failed (`raw.copy is not a function`)
 * and left the key unreadable. A view, no copy.
 */
export function fastBuffer(raw: Uint8Array | undefined): Buffer | undefined {
  return raw === undefined ? undefined : asBuffer(raw);
}

/** The whole key a record holds (one stored under a prefix and a digest), or undefined. */
export function recordKey(raw: Buffer): Buffer | undefined {
  if (((raw[1] as number) & flagLongKey) === 0) return undefined;
  const len = raw.readUInt32BE(headerBytes);
  return raw.subarray(headerBytes + 4, headerBytes + 4 + len);
}

/** `u` as a Buffer: itself, or a view of its bytes (lmdb-js hands out either, see fastBuffer). */
function asBuffer(u: Uint8Array): Buffer {
  return u instanceof Buffer ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

export function decodeValue(raw: Buffer): StoredValue {
  return decodeRecord(raw, true);
}

/** A record's value; its data a copy (`copy`: raw is getBinaryFast's reused buffer) or a view. */
function decodeRecord(raw: Buffer, copy: boolean): StoredValue {
  const type = VALUE_TYPES_BY_CODE[raw[0] as number];
  if (type === undefined) throw new StorageError("OTHER", `unknown value type ${raw[0]}`);
  let at = headerBytes;
  if (((raw[1] as number) & flagLongKey) !== 0) at += 4 + raw.readUInt32BE(headerBytes);
  // getBinaryFast reuses its buffer: copy what we hand out (one allocation, from the
  // pool for small values).
  let data: Buffer;
  if (copy) {
    data = Buffer.allocUnsafe(raw.length - at);
    raw.copy(data, 0, at);
  } else data = raw.subarray(at);
  return { type, expireAtMs: raw.readDoubleBE(2), data };
}

function randomBetween(low: Buffer, high: Buffer, random: Random): Buffer {
  const out: number[] = [];
  let i = 0;
  while (i < low.length && i < high.length && low[i] === high[i]) out.push(low[i++] as number);
  const lo = i < low.length ? (low[i] as number) : 0;
  const hi = i < high.length ? (high[i] as number) : 255;
  out.push(lo + random.int(hi - lo + 1));
  for (let j = 0; j < 7; j++) out.push(random.int(256));
  return Buffer.from(out);
}

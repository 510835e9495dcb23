import type { Random } from "../core/random.js";
import { keyHash } from "./key-hash.js";
import { type HashedKey, type KeyStore, StorageError, type StoredValue } from "./types.js";

/** One write not yet durable: a new value, or `null` for a deletion. */
export interface PendingWrite {
  readonly key: Buffer;
  readonly value: StoredValue | null;
}

/** The writes a flush makes durable, atomically: first a clear if asked, then the entries. */
export interface WriteBatch {
  readonly cleared: boolean;
  /** Keyed by the key's Latin-1 string, which orders as its bytes do. */
  readonly entries: ReadonlyMap<string, PendingWrite>;
}

/**
 * The durable part of a store: what survives a crash. `OverlayStore` puts the writes that are
 * not yet durable in front of it. Implemented on LMDB for production and in memory for the
 * simulator; both pass the same compliance suite.
 */
export interface Backend {
  get(key: Buffer): StoredValue | undefined;
  keysFrom(start: Buffer | undefined): IterableIterator<Buffer>;
  keysByHash(fromHash: number): IterableIterator<HashedKey>;
  /** Up to `limit` keys whose durable expiry is at or before `nowMs`, oldest first. */
  expiredKeys(nowMs: number, limit: number): Buffer[];
  count(): number;
  /** Number of keys with an expiry. */
  expiringCount(): number;
  randomKey(random: Random): Buffer | undefined;
  /** Applies the batch atomically and resolves once it is durable. */
  commit(batch: WriteBatch): Promise<void>;
  usedBytes(): number;
  close(): Promise<void>;
}

class Layer implements WriteBatch {
  cleared = false;
  readonly entries = new Map<string, PendingWrite>();
}

/** How many random draws `randomKey` makes before giving up on finding a live key. */
const randomKeyTriesMax = 16;

/**
 * A `KeyStore` made of a durable `Backend` and, in front of it, the writes made since the
 * last flush. Writes are visible at once; `flush()` commits them in one batch (group commit).
 * While a batch is being committed, new writes go to a fresh layer, so at most two layers
 * sit in front of the backend.
 */
export class OverlayStore implements KeyStore {
  private pending = new Layer();
  private committing: Layer | null = null;
  private inflight: Promise<void> | null = null;
  private keyCount: number;
  private expiringKeys: number;
  private lastRollback: { fromSeq: number; toSeq: number; error: StorageError } | null = null;
  writeSeq = 0;
  durableSeq = 0;

  constructor(private readonly backend: Backend) {
    this.keyCount = backend.count();
    this.expiringKeys = backend.expiringCount();
  }

  private overlayEmpty(): boolean {
    return this.committing === null && this.pending.entries.size === 0 && !this.pending.cleared;
  }

  get(key: Buffer): StoredValue | undefined {
    if (this.overlayEmpty()) return this.backend.get(key);
    const k = key.toString("latin1");
    const p = this.pending.entries.get(k);
    if (p !== undefined) return p.value ?? undefined;
    if (this.pending.cleared) return undefined;
    const c = this.committing;
    if (c !== null) {
      const cw = c.entries.get(k);
      if (cw !== undefined) return cw.value ?? undefined;
      if (c.cleared) return undefined;
    }
    return this.backend.get(key);
  }

  set(key: Buffer, value: StoredValue): void {
    const old = this.get(key);
    if (old === undefined) this.keyCount++;
    else if (old.expireAtMs !== 0) this.expiringKeys--;
    if (value.expireAtMs !== 0) this.expiringKeys++;
    const owned = Buffer.from(key);
    const data = Buffer.from(value.data);
    this.pending.entries.set(owned.toString("latin1"), {
      key: owned,
      value: { type: value.type, data, expireAtMs: value.expireAtMs },
    });
    this.writeSeq++;
  }

  delete(key: Buffer): boolean {
    const old = this.get(key);
    if (old === undefined) return false;
    this.keyCount--;
    if (old.expireAtMs !== 0) this.expiringKeys--;
    const owned = Buffer.from(key);
    this.pending.entries.set(owned.toString("latin1"), { key: owned, value: null });
    this.writeSeq++;
    return true;
  }

  clear(): void {
    this.pending = new Layer();
    this.pending.cleared = true;
    this.keyCount = 0;
    this.expiringKeys = 0;
    this.writeSeq++;
  }

  size(): number {
    return this.keyCount;
  }

  expiringCount(): number {
    return this.expiringKeys;
  }

  *keysFrom(start: Buffer | undefined): IterableIterator<Buffer> {
    if (this.overlayEmpty()) {
      yield* this.backend.keysFrom(start);
      return;
    }
    const startStr = start?.toString("latin1");
    const overlayKeys = new Set<string>();
    for (const layer of [this.committing, this.pending]) {
      if (layer === null) continue;
      for (const k of layer.entries.keys()) {
        if (startStr === undefined || k >= startStr) overlayKeys.add(k);
      }
    }
    const sorted = [...overlayKeys].sort();
    const backendHidden = this.pending.cleared || this.committing?.cleared === true;
    const durable = backendHidden ? [][Symbol.iterator]() : this.backend.keysFrom(start);
    let i = 0;
    let next = durable.next();
    while (i < sorted.length || !next.done) {
      let candidate: Buffer;
      if (next.done) {
        candidate = Buffer.from(sorted[i++] as string, "latin1");
      } else if (i >= sorted.length) {
        candidate = next.value;
        next = durable.next();
      } else {
        const overlayKey = Buffer.from(sorted[i] as string, "latin1");
        const order = Buffer.compare(overlayKey, next.value);
        if (order <= 0) {
          i++;
          if (order === 0) next = durable.next();
          candidate = overlayKey;
        } else {
          candidate = next.value;
          next = durable.next();
        }
      }
      if (this.get(candidate) !== undefined) yield candidate;
    }
  }

  *keysByHash(fromHash: number): IterableIterator<HashedKey> {
    if (this.overlayEmpty()) {
      yield* this.backend.keysByHash(fromHash);
      return;
    }
    const overlay = new Map<string, HashedKey>();
    for (const layer of [this.committing, this.pending]) {
      if (layer === null) continue;
      for (const [k, w] of layer.entries) {
        const hash = keyHash(w.key);
        if (hash >= fromHash) overlay.set(k, { hash, key: w.key });
      }
    }
    const sorted = [...overlay.values()].sort(compareHashed);
    const backendHidden = this.pending.cleared || this.committing?.cleared === true;
    const durable = backendHidden ? [][Symbol.iterator]() : this.backend.keysByHash(fromHash);
    let i = 0;
    let next = durable.next();
    while (i < sorted.length || !next.done) {
      let candidate: HashedKey;
      if (next.done) {
        candidate = sorted[i++] as HashedKey;
      } else if (i >= sorted.length) {
        candidate = next.value;
        next = durable.next();
      } else {
        const order = compareHashed(sorted[i] as HashedKey, next.value);
        if (order <= 0) {
          candidate = sorted[i++] as HashedKey;
          if (order === 0) next = durable.next();
        } else {
          candidate = next.value;
          next = durable.next();
        }
      }
      if (this.get(candidate.key) !== undefined) yield candidate;
    }
  }

  expiredKeys(nowMs: number, limit: number): Buffer[] {
    if (this.overlayEmpty()) return this.backend.expiredKeys(nowMs, limit);
    const found = new Map<string, { key: Buffer; at: number }>();
    const consider = (key: Buffer): void => {
      const v = this.get(key);
      if (v !== undefined && v.expireAtMs !== 0 && v.expireAtMs <= nowMs) {
        found.set(key.toString("latin1"), { key, at: v.expireAtMs });
      }
    };
    const backendHidden = this.pending.cleared || this.committing?.cleared === true;
    if (!backendHidden) for (const key of this.backend.expiredKeys(nowMs, limit)) consider(key);
    for (const layer of [this.committing, this.pending]) {
      if (layer === null) continue;
      for (const w of layer.entries.values()) if (w.value !== null) consider(w.key);
    }
    return [...found.values()]
      .sort((a, b) => a.at - b.at)
      .slice(0, limit)
      .map((e) => e.key);
  }

  randomKey(random: Random): Buffer | undefined {
    if (this.keyCount === 0) return undefined;
    const overlayLive: Buffer[] = [];
    if (!this.overlayEmpty()) {
      for (const layer of [this.committing, this.pending]) {
        if (layer === null) continue;
        for (const w of layer.entries.values()) if (w.value !== null) overlayLive.push(w.key);
      }
    }
    for (let attempt = 0; attempt < randomKeyTriesMax; attempt++) {
      const fromOverlay =
        overlayLive.length > 0 && random.next() * this.keyCount < overlayLive.length;
      const key = fromOverlay
        ? overlayLive[random.int(overlayLive.length)]
        : this.backend.randomKey(random);
      if (key !== undefined && this.get(key) !== undefined) return key;
    }
    // The draws kept landing on keys deleted in the overlay: fall back to the first live key.
    for (const key of this.keysFrom(undefined)) return key;
    return undefined;
  }

  /**
   * Commits every write made so far. If a flush is already running, waits for it and then
   * commits what came after. Rejects with a `StorageError` if any of the writes made before
   * the call were rolled back.
   */
  async flush(): Promise<void> {
    const target = this.writeSeq;
    while (this.inflight !== null) {
      await this.inflight.catch(() => undefined);
    }
    const rb = this.lastRollback;
    if (rb !== null && rb.fromSeq < target && target <= rb.toSeq) throw rb.error;
    if (this.durableSeq >= target) return;
    const layer = this.pending;
    const upto = this.writeSeq;
    const fromSeq = this.durableSeq;
    this.pending = new Layer();
    this.committing = layer;
    const run = this.backend.commit(layer).then(
      () => {
        this.committing = null;
        this.durableSeq = upto;
      },
      (cause: unknown) => {
        // Everything not durable is dropped: the writes of this batch, and those made on
        // top of them since, which may depend on them.
        const error = toStorageError(cause);
        this.committing = null;
        this.pending = new Layer();
        this.keyCount = this.backend.count();
        this.expiringKeys = this.backend.expiringCount();
        this.durableSeq = this.writeSeq;
        this.lastRollback = { fromSeq, toSeq: this.writeSeq, error };
        throw error;
      },
    );
    this.inflight = run;
    try {
      await run;
    } finally {
      this.inflight = null;
    }
  }

  usedBytes(): number {
    return this.backend.usedBytes();
  }

  async close(): Promise<void> {
    if (this.writeSeq > this.durableSeq) await this.flush().catch(() => undefined);
    await this.backend.close();
  }
}

/** SCAN order: by hash, then by key bytes. */
export function compareHashed(a: HashedKey, b: HashedKey): number {
  return a.hash - b.hash || Buffer.compare(a.key, b.key);
}

/** Maps what a backend threw to a `StorageError` with a stable code. */
export function toStorageError(cause: unknown): StorageError {
  if (cause instanceof StorageError) return cause;
  const err = cause as { code?: unknown; message?: unknown } | null;
  const text = `${err?.code ?? ""} ${err?.message ?? String(cause)}`;
  const code = /ENOSPC|No space left/i.test(text)
    ? "ENOSPC"
    : /EACCES|EPERM|EROFS|permission|read-only/i.test(text)
      ? "EACCES"
      : /MAP_FULL|MDB_MAP_FULL/i.test(text)
        ? "MAP_FULL"
        : /EIO|Input\/output/i.test(text)
          ? "EIO"
          : "OTHER";
  return new StorageError(code, String(err?.message ?? cause), { cause });
}

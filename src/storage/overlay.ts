import type { Random } from "../core/random.js";
import { keyHash } from "./key-hash.js";
import {
  type FrozenEntry,
  type FrozenWalk,
  type HashedKey,
  type KeyStore,
  StorageError,
  type StoredValue,
  type ValueType,
} from "./types.js";

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
  /**
   * Told by a backend that works out, before the batch is in its counts, how the batch
   * changes them (the keys, and the keys with an expiry), relative to the batches before
   * it; called again if the batch is tried again. See OverlayStore.counts().
   */
  countsWorkedOut?(keys: number, expiring: number): void;
  /** Key and value bytes of the writes made into it, overwritten ones included. */
  readonly bytes?: number;
}

/**
 * The durable part of a store: what survives a crash. `OverlayStore` puts the writes that are
 * not yet durable in front of it. Implemented on LMDB for production and in memory for the
 * simulator; both pass the same compliance suite.
 */
export interface Backend {
  get(key: Buffer): StoredValue | undefined;
  /** The key's expireAtMs (0 = none), or undefined when absent; copies nothing. */
  peekExpiry(key: Buffer): number | undefined;
  keysFrom(start: Buffer | undefined): IterableIterator<Buffer>;
  keysByHash(fromHash: number): IterableIterator<HashedKey>;
  /** Up to `limit` keys whose durable expiry is at or before `nowMs`, oldest first. */
  expiredKeys(nowMs: number, limit: number): Buffer[];
  count(): number;
  /** Number of keys with an expiry. */
  expiringCount(): number;
  randomKey(random: Random): Buffer | undefined;
  /**
   * Applies the batch atomically and resolves once it is durable — but only if the last
   * batch applied is `chain.after`; otherwise applies nothing and rejects. Batches are
   * applied and settled in the order `commit` is called. The chain is what makes it safe
   * to have several batches in flight: when one fails, every batch queued behind it (which
   * may depend on it) fails too instead of landing without it.
   */
  commit(batch: WriteBatch, chain: BatchChain): Promise<void>;
  /**
   * A backend that waits out an interval before it commits (the shard space) names the
   * bytes of keys and values past which the writes not yet handed to commit should not
   * wait: once the pending layer holds that many, the store calls hurry(), and the batch
   * waiting (or else the next) commits without waiting out the interval.
   */
  readonly hurryBytes?: number;
  hurry?(): void;
  /** Id of the last batch applied (0 for a new store). */
  lastBatchId(): number;
  /**
   * Every key with its value as the backend holds them now, to be read later a few at a
   * time while commits go on (LMDB: one read transaction, held until the end or close()),
   * in the byte order of their places (placeOf). For OverlayStore.freeze.
   */
  snapshot(): BackendSnapshot;
  /**
   * Where `key` comes in a snapshot: keys come in the byte order of their places, the same
   * order for every backend of a kind (LMDB and memory alike), so that replicas build
   * compaction images byte for byte the same.
   */
  placeOf(key: Buffer): Buffer;
  usedBytes(): number;
  close(): Promise<void>;
}

/** A key and its value as Backend.snapshot() hands them out, with the key's place. */
export interface PlacedEntry extends FrozenEntry {
  readonly place: Buffer;
}

/** A backend's keys as of Backend.snapshot(). */
export interface BackendSnapshot {
  /** The next key, its value and its place (all the caller's to keep), or undefined. */
  next(): PlacedEntry | undefined;
  /** Ends it early, giving back what it holds (LMDB: its read transaction). */
  close(): void;
}

/** A batch's place in the chain of commits. */
export interface BatchChain {
  readonly id: number;
  /** The batch that must be the last one applied for this one to apply. */
  readonly after: number;
}

/**
 * A write held in a layer. Its key and value bytes are in the arena (below), and the views
 * of them are made when asked for: a write lives about one commit interval (a second on a
 * cluster node; 100 ms when this was measured), so long that a copy per write of the key
 * and of the value (two Buffer objects), with a StoredValue around them, were most of what
 * the collector found alive at each scavenge and then promoted (docs/benchmarks.md, "The
 * overlay's writes in an arena").
 */
class LayerWrite implements PendingWrite {
  constructor(
    private readonly buf: Buffer,
    private readonly at: number,
    private readonly keyLength: number,
    private readonly dataLength: number,
    /** null for a deletion. */
    private readonly type: ValueType | null,
    readonly expireAtMs: number,
  ) {}

  get key(): Buffer {
    return this.buf.subarray(this.at, this.at + this.keyLength);
  }

  get value(): StoredValue | null {
    if (this.type === null) return null;
    const from = this.at + this.keyLength;
    const data = this.buf.subarray(from, from + this.dataLength);
    return { type: this.type, data, expireAtMs: this.expireAtMs };
  }

  get deleted(): boolean {
    return this.type === null;
  }
}

/**
 * Where layers copy their writes' keys and values: chunks outside the collected heap,
 * shared by every layer of every store, written once, front to back, and never again, so a
 * view made of a write stays valid as long as it is held, and a value read from a chunk
 * can be written again (into fresh bytes). A chunk is freed once no write or view in it
 * is left: whoever keeps values past a commit keeps copies (MemoryBackend, LmdbBackend's
 * read cache). A write bigger than a quarter of a chunk gets a buffer of its own.
 * A chunk per layer instead (4 KiB and up, 16 shards committing 10 times a second) made
 * V8 run more full collections at 1 writer.
 */
const arenaChunkBytes = 64 * 1024;
let arenaChunk = Buffer.allocUnsafeSlow(arenaChunkBytes);
let arenaUsed = 0;

class Layer implements WriteBatch {
  cleared = false;
  readonly entries = new Map<string, LayerWrite>();
  /** Its batch id once sealed (BatchChain.id). */
  id = 0;
  /** Writes made in this layer with an expiry (some may be overwritten since). */
  expiringWrites = 0;
  /** Key and value bytes written into it (WriteBatch.bytes). */
  bytes = 0;
  /** The backend was told to hurry for it (Backend.hurry). */
  hurried = false;
  /** How it changes the counts, once its backend has worked that out (countsWorkedOut). */
  worked: { keys: number; expiring: number } | null = null;
  /** writeSeq after this layer's last write; set when the layer is sealed for commit. */
  upto = 0;
  epoch = 0;
  done: Promise<void> | null = null;

  countsWorkedOut(keys: number, expiring: number): void {
    this.worked = { keys, expiring };
  }

  /** Records a write of `key`, its bytes copied into the arena (`type` null: a deletion). */
  write(key: Buffer, type: ValueType | null, data: Buffer | null, expireAtMs: number): void {
    const dataLength = data === null ? 0 : data.length;
    const need = key.length + dataLength;
    this.bytes += need;
    let buf: Buffer;
    let at: number;
    if (need > arenaChunkBytes / 4) {
      buf = Buffer.allocUnsafeSlow(need);
      at = 0;
    } else {
      if (arenaUsed + need > arenaChunkBytes) {
        arenaChunk = Buffer.allocUnsafeSlow(arenaChunkBytes);
        arenaUsed = 0;
      }
      buf = arenaChunk;
      at = arenaUsed;
      arenaUsed += need;
    }
    key.copy(buf, at);
    if (data !== null) data.copy(buf, at + key.length);
    const w = new LayerWrite(buf, at, key.length, dataLength, type, expireAtMs);
    this.entries.set(key.toString("latin1"), w);
  }
}

/**
 * Batches committing at once. One sync takes 0.1-0.3 ms here; with one batch at a time,
 * clients that answer while it runs wait for it and then for their own. Letting their
 * batch start at once (LMDB merges queued transactions) roughly halves their wait.
 */
const commitsInFlightMax = 4;

/** How many random draws `randomKey` makes before giving up on finding a live key. */
const randomKeyTriesMax = 16;

/**
 * A `KeyStore` made of a durable `Backend` and, in front of it, the writes made since the
 * last flush. Writes are visible at once; `flush()` commits them in one batch (group commit).
 * While batches are being committed, new writes go to a fresh layer; up to
 * `commitsInFlightMax` sealed layers sit between it and the backend.
 */
export class OverlayStore implements KeyStore {
  private pending = new Layer();
  /** Sealed layers being committed, oldest first. */
  private committing: Layer[] = [];
  /** Bumped by a rollback: settlements of older batches are then stale. */
  private epoch = 0;
  private lastQueuedBatch: number;
  private lastDurableBatch: number;
  /** counts() as of writeSeq `seq` in `epoch`, or null. */
  private countsAt: { seq: number; epoch: number; keys: number; expiring: number } | null = null;
  private lastRollback: { fromSeq: number; toSeq: number; error: StorageError } | null = null;
  /** Walks begun with freeze() and not finished: a clear or a rollback aborts them. */
  private readonly walks = new Set<SnapshotWalk>();
  writeSeq = 0;
  durableSeq = 0;
  /** Backend.hurryBytes, or never. */
  private readonly hurryBytes: number;

  constructor(private readonly backend: Backend) {
    this.hurryBytes = backend.hurryBytes ?? Number.POSITIVE_INFINITY;
    this.lastQueuedBatch = backend.lastBatchId();
    this.lastDurableBatch = this.lastQueuedBatch;
  }

  private overlayEmpty(): boolean {
    return this.committing.length === 0 && this.pending.entries.size === 0 && !this.pending.cleared;
  }

  /** All layers in front of the backend, oldest first. */
  private layers(): Layer[] {
    return [...this.committing, this.pending];
  }

  private backendHidden(): boolean {
    return this.pending.cleared || this.committing.some((l) => l.cleared);
  }

  get(key: Buffer): StoredValue | undefined {
    const w = this.layered(key);
    return w === undefined ? this.backend.get(key) : (w?.value ?? undefined);
  }

  /** Like `get(key)?.expireAtMs`, without copying the value out of the backend. */
  private peekExpiry(key: Buffer): number | undefined {
    const w = this.layered(key);
    return w === undefined ? this.backend.peekExpiry(key) : expiryOf(w);
  }

  /**
   * What the layers hold for `key`, newest first: its latest write there, null if a clear
   * hides it, undefined if they leave it to the backend.
   */
  private layered(key: Buffer): LayerWrite | null | undefined {
    if (this.overlayEmpty()) return undefined;
    const k = key.toString("latin1");
    const p = this.pending.entries.get(k);
    if (p !== undefined) return p;
    if (this.pending.cleared) return null;
    return this.committedBefore(k, this.committing.length);
  }

  /** As layered(), in the committing layers before committing[end] only, newest first. */
  private committedBefore(k: string, end: number): LayerWrite | null | undefined {
    for (let i = end - 1; i >= 0; i--) {
      const c = this.committing[i] as Layer;
      const cw = c.entries.get(k);
      if (cw !== undefined) return cw;
      if (c.cleared) return null;
    }
    return undefined;
  }

  /**
   * Looks nothing up: what the key held before matters only to the counts (size,
   * expiringCount), which are worked out when asked (counts()). Looking it up here was a
   * B-tree read per write, the biggest cost of a SET on a cluster node's event loop after
   * the raft log's fdatasync (docs/cluster.md, "The key counts").
   */
  set(key: Buffer, value: StoredValue): void {
    if (value.expireAtMs !== 0) this.pending.expiringWrites++;
    this.pending.write(key, value.type, value.data, value.expireAtMs);
    this.writeSeq++;
    if (this.pending.bytes >= this.hurryBytes && !this.pending.hurried) {
      this.pending.hurried = true;
      this.backend.hurry?.();
    }
  }

  delete(key: Buffer): boolean {
    const oldExpiry = this.peekExpiry(key);
    if (oldExpiry === undefined) return false;
    this.pending.write(key, null, null, 0);
    this.writeSeq++;
    return true;
  }

  clear(): void {
    this.abortWalks("the store was cleared");
    this.pending = new Layer();
    this.pending.cleared = true;
    this.writeSeq++;
  }

  size(): number {
    return this.counts().keys;
  }

  expiringCount(): number {
    return this.counts().expiring;
  }

  /**
   * The keys, and the keys with an expiry: the backend's counts, then each layer the
   * backend has not counted yet, oldest first. A layer whose change the backend has worked
   * out (countsWorkedOut, when it staged the batch) adds that; any other is worked out
   * here, key by key, against what the key held before it (in an older layer, else in the
   * backend). Not against the backend for every key: the shard space's LMDB shows a
   * commit's writes a moment before its counts take them in (the writer thread commits,
   * this thread settles after), and in that moment a key of the batch would look as if it
   * had held its new value already. A key in no older layer is in no commit in flight.
   * Cached until the next write or rollback. DBSIZE, INFO, a compaction image's start and
   * RANDOMKEY ask, not the writes, and it reads at most the layers' writes (~100 ms of
   * them on a cluster node).
   */
  private counts(): { keys: number; expiring: number } {
    if (this.overlayEmpty()) {
      return { keys: this.backend.count(), expiring: this.backend.expiringCount() };
    }
    const at = this.countsAt;
    if (at !== null && at.seq === this.writeSeq && at.epoch === this.epoch) return at;
    const counted = this.backend.lastBatchId();
    let keys = this.backend.count();
    let expiring = this.backend.expiringCount();
    const layers = this.layers();
    for (const [i, layer] of layers.entries()) {
      if (layer !== this.pending && layer.id <= counted) continue;
      if (layer.worked !== null) {
        keys += layer.worked.keys;
        expiring += layer.worked.expiring;
        continue;
      }
      if (layer.cleared) {
        keys = 0;
        expiring = 0;
      }
      for (const w of layer.entries.values()) {
        const before = layer.cleared ? undefined : this.expiryBefore(i, w.key);
        if (before !== undefined) {
          keys--;
          if (before !== 0) expiring--;
        }
        if (!w.deleted) {
          keys++;
          if (w.expireAtMs !== 0) expiring++;
        }
      }
    }
    this.countsAt = { seq: this.writeSeq, epoch: this.epoch, keys, expiring };
    return this.countsAt;
  }

  /** The expiry `key` had before layers()[upto] (as peekExpiry answers for now). */
  private expiryBefore(upto: number, key: Buffer): number | undefined {
    // layers() is the committing layers, then the pending one.
    const w = this.committedBefore(key.toString("latin1"), Math.min(upto, this.committing.length));
    return w === undefined ? this.backend.peekExpiry(key) : expiryOf(w);
  }

  /** False only if no key has an expiry; cheap (no read), unlike expiringCount(). */
  private mayHaveExpiring(): boolean {
    if (this.pending.expiringWrites > 0 || this.committing.some((l) => l.expiringWrites > 0)) {
      return true;
    }
    return !this.backendHidden() && this.backend.expiringCount() > 0;
  }

  *keysFrom(start: Buffer | undefined): IterableIterator<Buffer> {
    if (this.overlayEmpty()) {
      yield* this.backend.keysFrom(start);
      return;
    }
    const startStr = start?.toString("latin1");
    const overlay = new Map<string, Buffer>();
    for (const layer of this.layers()) {
      for (const [k, w] of layer.entries) {
        if (startStr === undefined || k >= startStr) overlay.set(k, w.key);
      }
    }
    const durable = this.backendHidden() ? undefined : this.backend.keysFrom(start);
    const mine = [...overlay.values()];
    const fromLayers = new Set(mine);
    for (const key of mergeOrdered(mine, durable, Buffer.compare)) {
      if (fromLayers.has(key) ? this.get(key) !== undefined : this.listedLive(key)) yield key;
    }
  }

  *keysByHash(fromHash: number): IterableIterator<HashedKey> {
    if (this.overlayEmpty()) {
      yield* this.backend.keysByHash(fromHash);
      return;
    }
    const overlay = new Map<string, HashedKey>();
    for (const layer of this.layers()) {
      for (const [k, w] of layer.entries) {
        const hash = keyHash(w.key);
        if (hash >= fromHash) overlay.set(k, { hash, key: w.key });
      }
    }
    const durable = this.backendHidden() ? undefined : this.backend.keysByHash(fromHash);
    const mine = [...overlay.values()];
    const fromLayers = new Set(mine);
    for (const entry of mergeOrdered(mine, durable, compareHashed)) {
      const live = fromLayers.has(entry)
        ? this.get(entry.key) !== undefined
        : this.listedLive(entry.key);
      if (live) yield entry;
    }
  }

  /**
   * Up to `max` live keys among those `durable` lists (committed keys, each once) and the
   * layers' keys that `pick` takes: each key once, the committed first.
   */
  protected keysAmong(
    durable: Iterable<Buffer>,
    pick: (key: Buffer) => boolean,
    max: number,
  ): Buffer[] {
    const out: Buffer[] = [];
    const layered = new Map<string, Buffer>();
    if (!this.overlayEmpty()) {
      for (const layer of this.layers()) {
        for (const [k, w] of layer.entries) if (pick(w.key)) layered.set(k, w.key);
      }
    }
    if (!this.backendHidden()) {
      for (const key of durable) {
        if (out.length >= max) return out;
        if (!layered.has(key.toString("latin1")) && this.listedLive(key)) out.push(key);
      }
    }
    for (const key of layered.values()) {
      if (out.length >= max) break;
      if (this.get(key) !== undefined) out.push(key);
    }
    return out;
  }

  /**
   * For the merged walks above, a key the backend listed: it exists unless the layers
   * now say otherwise (deleted, or hidden by a clear), which costs no second read of the
   * backend. A shard's image read each key twice before; one read took about a fifth
   * off its CPU (docs/cluster.md, "Compaction").
   */
  private listedLive(key: Buffer): boolean {
    const w = this.layered(key);
    return w === undefined || (w !== null && !w.deleted);
  }

  expiredKeys(nowMs: number, limit: number): Buffer[] {
    // Asked 10 times a second per shard led: with no key expiring, nothing to look at.
    if (!this.mayHaveExpiring()) return [];
    if (this.overlayEmpty()) return this.backend.expiredKeys(nowMs, limit);
    const found = new Map<string, { key: Buffer; at: number }>();
    const consider = (key: Buffer): void => {
      const v = this.get(key);
      if (v !== undefined && v.expireAtMs !== 0 && v.expireAtMs <= nowMs) {
        found.set(key.toString("latin1"), { key, at: v.expireAtMs });
      }
    };
    const backendHidden = this.backendHidden();
    if (!backendHidden) for (const key of this.backend.expiredKeys(nowMs, limit)) consider(key);
    // A key is expired if its newest write is; a layer's write that does not expire by
    // nowMs cannot make it so, whatever it hides.
    for (const layer of this.layers()) {
      for (const w of layer.entries.values()) {
        const at = w.deleted ? 0 : w.expireAtMs;
        if (at !== 0 && at <= nowMs) consider(w.key);
      }
    }
    // Ties in key order, whichever layer or the backend a key came from.
    return [...found.values()]
      .sort((a, b) => a.at - b.at || Buffer.compare(a.key, b.key))
      .slice(0, limit)
      .map((e) => e.key);
  }

  randomKey(random: Random): Buffer | undefined {
    const keyCount = this.size();
    if (keyCount === 0) return undefined;
    const overlayLive: Buffer[] = [];
    if (!this.overlayEmpty()) {
      for (const layer of this.layers()) {
        for (const w of layer.entries.values()) if (!w.deleted) overlayLive.push(w.key);
      }
    }
    for (let attempt = 0; attempt < randomKeyTriesMax; attempt++) {
      const fromOverlay = overlayLive.length > 0 && random.next() * keyCount < overlayLive.length;
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
   * Commits every write made so far. Resolves once they are durable; rejects with a
   * `StorageError` if any of them were rolled back.
   */
  async flush(): Promise<void> {
    const target = this.writeSeq;
    if (this.durableSeq >= target) return;
    const hasPending = this.pending.entries.size > 0 || this.pending.cleared;
    let layer: Layer | undefined;
    if (!hasPending) {
      // Everything up to target is already in flight: wait for the batch that holds it.
      layer = this.committing.find((l) => l.upto >= target);
    } else {
      while (this.committing.length >= commitsInFlightMax) {
        await (this.committing[0] as Layer).done?.catch(() => undefined);
      }
      if (this.pending.entries.size > 0 || this.pending.cleared) layer = this.seal();
      else layer = this.committing.find((l) => l.upto >= target);
    }
    if (layer !== undefined) await layer.done;
    const rb = this.lastRollback;
    if (rb !== null && rb.fromSeq < target && target <= rb.toSeq) throw rb.error;
  }

  /** Seals the pending layer and sends it to the backend, chained behind the last one. */
  private seal(): Layer {
    if (this.walks.size > 0) for (const w of this.walks) w.commitBegun();
    const layer = this.pending;
    layer.upto = this.writeSeq;
    layer.epoch = this.epoch;
    this.pending = new Layer();
    this.committing.push(layer);
    const chain = { id: this.lastQueuedBatch + 1, after: this.lastQueuedBatch };
    this.lastQueuedBatch = chain.id;
    layer.id = chain.id;
    layer.done = this.backend.commit(layer, chain).then(
      () => {
        if (layer.epoch !== this.epoch) return;
        this.committing.shift();
        this.durableSeq = layer.upto;
        this.lastDurableBatch = chain.id;
      },
      (cause: unknown) => {
        if (layer.epoch !== this.epoch) {
          // Rolled back already, with the error of the first batch that failed.
          throw (this.lastRollback as { error: StorageError }).error;
        }
        this.rollback(toStorageError(cause));
        throw (this.lastRollback as { error: StorageError }).error;
      },
    );
    return layer;
  }

  /**
   * Drops everything not durable: the failed batch, the batches behind it (which the chain
   * makes fail too) and the writes made on top of them since, which may depend on them.
   */
  private rollback(error: StorageError): void {
    this.abortWalks(`writes were rolled back (${error.message})`);
    this.lastRollback = { fromSeq: this.durableSeq, toSeq: this.writeSeq, error };
    this.epoch++;
    this.committing = [];
    this.pending = new Layer();
    this.durableSeq = this.writeSeq;
    this.lastQueuedBatch = this.lastDurableBatch;
  }

  usedBytes(): number {
    return this.backend.usedBytes();
  }

  /**
   * A walk of the store as it is now (KeyStore.freeze), for a shard's image built a slice
   * at a time (docs/cluster.md, "Compaction"): the backend's snapshot (an LMDB read
   * transaction) merged with a copy of the layers' latest writes, in the order of the
   * keys' places (Backend.placeOf). Writes made after it touch neither.
   */
  freeze(): FrozenWalk {
    const front = new Map<string, LayerWrite>();
    let hidden = false;
    for (const layer of this.layers()) {
      if (layer.cleared) {
        front.clear();
        hidden = true;
      }
      for (const [k, w] of layer.entries) front.set(k, w);
    }
    const writes: PlacedWrite[] = [];
    for (const w of front.values()) writes.push({ place: this.backend.placeOf(w.key), write: w });
    writes.sort((a, b) => Buffer.compare(a.place, b.place));
    const durable = hidden ? null : this.backend.snapshot();
    const walk = new SnapshotWalk(durable, writes, this.size(), (w) => this.walks.delete(w));
    this.walks.add(walk);
    return walk;
  }

  private abortWalks(why: string): void {
    for (const w of this.walks) w.abort(why);
    this.walks.clear();
  }

  async close(): Promise<void> {
    // Their LMDB read transactions end before the environment does.
    this.abortWalks("the store was closed");
    if (this.writeSeq > this.durableSeq) await this.flush().catch(() => undefined);
    for (const layer of this.committing) await layer.done?.catch(() => undefined);
    await this.backend.close();
  }
}

/**
 * The union of `overlay` (unsorted, sorted here) and `durable` (already in order), in
 * order, each item once: an item in both comes from the overlay.
 *
 * A caller that stops early (a compaction image's slice, a SCAN page) ends `durable` too:
 * on LMDB an unfinished range holds its read transaction, and LMDB reuses no page freed
 * after the oldest open reader, so one abandoned walk made every later commit write new
 * pages: the key space file grew by the size of each commit, without end (900 MB in two
 * minutes at 8,000 writes/s), and its writeback slowed every raft log fdatasync behind it
 * (docs/storage.md, "Read transactions").
 */
function* mergeOrdered<T>(
  overlay: T[],
  durable: Iterator<T> | undefined,
  compare: (a: T, b: T) => number,
): Generator<T> {
  overlay.sort(compare);
  let i = 0;
  try {
    let next = durable?.next() ?? { done: true, value: undefined };
    while (i < overlay.length || next.done !== true) {
      if (next.done === true) {
        yield overlay[i++] as T;
        continue;
      }
      const order = i < overlay.length ? compare(overlay[i] as T, next.value) : 1;
      if (order <= 0) {
        yield overlay[i++] as T;
        if (order === 0) next = (durable as Iterator<T>).next();
      } else {
        yield next.value;
        next = (durable as Iterator<T>).next();
      }
    }
  } finally {
    durable?.return?.();
  }
}

/**
 * Commits begun while a frozen walk is open and not read from, past which it is aborted. Its
 * backend snapshot holds an LMDB read transaction, and LMDB reuses no page freed after the
 * oldest open one: while it is held every commit writes new pages and the file grows by each
 * commit's size (docs/storage.md, "Read transactions"). An image's walk is read a slice every
 * turn of the event loop until it ends (6,250 keys: 13 slices of 512, about 9 ms of CPU in
 * all; a cluster node commits a shard about once a second), however many commits a big
 * shard's walk spans; this bounds what a walk left open by mistake costs.
 */
export const walkCommitsMax = 16;

/** A layer's write, with its key's place (Backend.placeOf). */
interface PlacedWrite {
  readonly place: Buffer;
  readonly write: LayerWrite;
}

/**
 * The keys of a store and their values as of OverlayStore.freeze(), in slices, in the byte
 * order of their places: the backend's snapshot merged with the layers' latest writes as of
 * the freeze (`writes`, sorted), a write replacing the backend's value of its key and a
 * deletion leaving the key out.
 */
class SnapshotWalk implements FrozenWalk {
  /** Null once drained (or when a clear in the layers hid the backend). */
  private durable: BackendSnapshot | null;
  /** The backend's next entry, taken out but not handed out yet. */
  private head: PlacedEntry | undefined = undefined;
  private writesOut = 0;
  private commits = 0;
  private finished = false;
  private why: string | null = null;

  /** @internal (OverlayStore.freeze) */
  constructor(
    durable: BackendSnapshot | null,
    private readonly writes: readonly PlacedWrite[],
    readonly size: number,
    private readonly release: (walk: SnapshotWalk) => void,
  ) {
    this.durable = durable;
  }

  get aborted(): string | null {
    return this.why;
  }

  get done(): boolean {
    return this.finished;
  }

  next(max: number): FrozenEntry[] {
    if (this.why !== null) throw new StorageError("OTHER", `walk aborted: ${this.why}`);
    this.commits = 0;
    const out: FrozenEntry[] = [];
    while (!this.finished && out.length < max) {
      if (this.head === undefined && this.durable !== null) {
        this.head = this.durable.next();
        if (this.head === undefined) this.durable = null;
      }
      const d = this.head;
      const f = this.writes[this.writesOut];
      if (d === undefined && f === undefined) {
        this.close();
        break;
      }
      const order = d === undefined ? -1 : f === undefined ? 1 : Buffer.compare(f.place, d.place);
      if (order > 0) {
        out.push(d as PlacedEntry);
        this.head = undefined;
        continue;
      }
      this.writesOut++;
      if (order === 0) this.head = undefined;
      const value = (f as PlacedWrite).write.value;
      if (value !== null) out.push({ key: (f as PlacedWrite).write.key, value });
    }
    // The last key out: say done now, not at the next call.
    if (!this.finished && this.head === undefined && this.durable === null) {
      if (this.writesOut === this.writes.length) this.close();
    }
    return out;
  }

  close(): void {
    if (this.finished) return;
    this.finished = true;
    this.durable?.close();
    this.durable = null;
    this.head = undefined;
    this.release(this);
  }

  /** @internal A clear or a rollback. */
  abort(why: string): void {
    this.why ??= why;
    this.close();
  }

  /** @internal The store sealed a layer for commit (see walkCommitsMax). */
  commitBegun(): void {
    this.commits++;
    if (this.commits > walkCommitsMax && this.durable !== null) {
      this.abort(`not read from for ${walkCommitsMax} commits`);
    }
  }
}

/** Why a backend refused a batch: one before it in the chain failed. */
export function notApplied(chain: BatchChain): StorageError {
  return new StorageError("OTHER", `batch ${chain.id} not applied: batch ${chain.after} failed`);
}

/** SCAN order: by hash, then by key bytes. */
export function compareHashed(a: HashedKey, b: HashedKey): number {
  return a.hash - b.hash || Buffer.compare(a.key, b.key);
}

/**
 * Maps what a backend threw to a `StorageError` with a stable code; `context` (e.g. "write
 * to /data failed") prefixes the message. LMDB reports errno as a number: a failed page
 * write on a full file system is EIO (5) or ENOSPC (28).
 */
export function toStorageError(cause: unknown, context?: string): StorageError {
  if (cause instanceof StorageError) return cause;
  const err = cause as { code?: unknown; message?: unknown } | null;
  const message = String(err?.message ?? cause);
  const text = `${err?.code ?? ""} ${message}`;
  const code =
    err?.code === 28 || /ENOSPC|No space left/i.test(text)
      ? "ENOSPC"
      : err?.code === 5 || /EIO|Input\/output/i.test(text)
        ? "EIO"
        : /EACCES|EPERM|EROFS|ENOTDIR|EEXIST|permission|read-only/i.test(text)
          ? "EACCES"
          : /MAP_FULL|MDB_MAP_FULL/i.test(text)
            ? "MAP_FULL"
            : "OTHER";
  return new StorageError(code, context === undefined ? message : `${context}: ${message}`, {
    cause,
  });
}

/** What peekExpiry answers for a layer's write (null: hidden by a clear). */
function expiryOf(w: LayerWrite | null): number | undefined {
  return w === null || w.deleted ? undefined : w.expireAtMs;
}

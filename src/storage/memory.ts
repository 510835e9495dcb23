import type { Random } from "../core/random.js";
import { lowerBound } from "../core/sorted.js";
import { keyHash } from "./key-hash.js";
import {
  type Backend,
  type BackendSnapshot,
  type BatchChain,
  notApplied,
  OverlayStore,
  type WriteBatch,
} from "./overlay.js";
import { type HashedKey, StorageError, type StoredValue } from "./types.js";

interface Entry {
  readonly key: Buffer;
  readonly value: StoredValue;
}

/**
 * The in-memory twin of the LMDB backend, for the simulator and for tests. Same semantics:
 * atomic batches, a sorted key order, an expiry index. Faults can be injected: a commit can
 * be made to fail as a full disk would.
 */
export class MemoryBackend implements Backend {
  private readonly entries = new Map<string, Entry>();
  /** Latin-1 keys in byte order. */
  private sorted: string[] = [];
  /** SCAN order: 12 hex digits of the key's hash ++ its Latin-1 string, sorted. */
  private byHash: string[] = [];
  /** Expiry index: [expireAtMs, latin1 key], sorted by time then key. */
  private expiries: [number, string][] = [];
  private bytes = 0;
  private failures: StorageError[] = [];
  private lastBatch = 0;
  private closed = false;

  /** The next `count` commits fail with `error` and change nothing. */
  failNextCommits(count: number, error = new StorageError("ENOSPC", "No space left on device")) {
    for (let i = 0; i < count; i++) this.failures.push(error);
  }

  get(key: Buffer): StoredValue | undefined {
    return this.entries.get(key.toString("latin1"))?.value;
  }

  peekExpiry(key: Buffer): number | undefined {
    return this.entries.get(key.toString("latin1"))?.value.expireAtMs;
  }

  *keysFrom(start: Buffer | undefined): IterableIterator<Buffer> {
    let i = start === undefined ? 0 : lowerBound(this.sorted, start.toString("latin1"));
    // Re-find the position after each yield: the array may have changed in between.
    while (i < this.sorted.length) {
      const k = this.sorted[i] as string;
      yield Buffer.from(k, "latin1");
      i = lowerBound(this.sorted, k);
      if (this.sorted[i] === k) i++;
    }
  }

  *keysByHash(fromHash: number): IterableIterator<HashedKey> {
    let i = lowerBound(this.byHash, hashHex(fromHash));
    while (i < this.byHash.length) {
      const entry = this.byHash[i] as string;
      yield {
        hash: Number.parseInt(entry.slice(0, 12), 16),
        key: Buffer.from(entry.slice(12), "latin1"),
      };
      i = lowerBound(this.byHash, entry);
      if (this.byHash[i] === entry) i++;
    }
  }

  expiredKeys(nowMs: number, limit: number): Buffer[] {
    const out: Buffer[] = [];
    for (const [at, k] of this.expiries) {
      if (at > nowMs || out.length >= limit) break;
      out.push(Buffer.from(k, "latin1"));
    }
    return out;
  }

  count(): number {
    return this.entries.size;
  }

  expiringCount(): number {
    return this.expiries.length;
  }

  randomKey(random: Random): Buffer | undefined {
    if (this.sorted.length === 0) return undefined;
    return Buffer.from(this.sorted[random.int(this.sorted.length)] as string, "latin1");
  }

  lastBatchId(): number {
    return this.lastBatch;
  }

  snapshot(): BackendSnapshot {
    // Entries are replaced, never changed: the list of them now, in byte order, is the
    // snapshot.
    const entries = this.sorted.map((k) => this.entries.get(k) as Entry);
    let i = 0;
    return {
      next: () => {
        const e = entries[i++];
        return e === undefined ? undefined : { key: e.key, value: e.value, place: e.key };
      },
      close: () => {
        i = entries.length;
      },
    };
  }

  placeOf(key: Buffer): Buffer {
    return key;
  }

  async commit(batch: WriteBatch, chain: BatchChain): Promise<void> {
    await Promise.resolve();
    if (this.closed) throw new StorageError("CLOSED", "store is closed");
    if (chain.after !== this.lastBatch) throw notApplied(chain);
    const failure = this.failures.shift();
    if (failure !== undefined) throw failure;
    this.lastBatch = chain.id;
    if (batch.cleared) {
      this.entries.clear();
      this.sorted = [];
      this.byHash = [];
      this.expiries = [];
      this.bytes = 0;
    }
    for (const [k, w] of batch.entries) {
      this.remove(k);
      // Copies: the batch's views pin the overlay's arena chunks they are in.
      const v = w.value;
      if (v !== null) {
        this.insert(k, { key: Buffer.from(w.key), value: { ...v, data: Buffer.from(v.data) } });
      }
    }
  }

  private insert(k: string, entry: Entry): void {
    this.entries.set(k, entry);
    this.sorted.splice(lowerBound(this.sorted, k), 0, k);
    const h = hashHex(keyHash(entry.key)) + k;
    this.byHash.splice(lowerBound(this.byHash, h), 0, h);
    const at = entry.value.expireAtMs;
    if (at !== 0) this.expiries.splice(expiryBound(this.expiries, at, k), 0, [at, k]);
    this.bytes += entry.key.length + entry.value.data.length;
  }

  private remove(k: string): void {
    const old = this.entries.get(k);
    if (old === undefined) return;
    this.entries.delete(k);
    this.sorted.splice(lowerBound(this.sorted, k), 1);
    const h = hashHex(keyHash(old.key)) + k;
    this.byHash.splice(lowerBound(this.byHash, h), 1);
    const at = old.value.expireAtMs;
    if (at !== 0) this.expiries.splice(expiryBound(this.expiries, at, k), 1);
    this.bytes -= old.key.length + old.value.data.length;
  }

  usedBytes(): number {
    return this.bytes;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** A key store wholly in memory: the simulator's twin of `LmdbStore`. */
export class MemoryStore extends OverlayStore {
  readonly memory: MemoryBackend;
  constructor(backend = new MemoryBackend()) {
    super(backend);
    this.memory = backend;
  }
}

function hashHex(hash: number): string {
  return hash.toString(16).padStart(12, "0");
}

function expiryBound(index: readonly [number, string][], at: number, key: string): number {
  let lo = 0;
  let hi = index.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const [mAt, mKey] = index[mid] as [number, string];
    if (mAt < at || (mAt === at && mKey < key)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

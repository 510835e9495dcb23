import type { Database, RootDatabase } from "lmdb";
import { AssertionError, assert } from "../core/assert.js";
import { copyConf, type LogStorage } from "../raft/storage.js";
import {
  type ConfState,
  type Entry,
  emptyHardState,
  entryBytes,
  type HardState,
  type Snapshot,
  type SnapshotMeta,
} from "../raft/types.js";
import { fastBuffer, openDurableEnvironment } from "./lmdb.js";
import { toStorageError } from "./overlay.js";
import { StorageError } from "./types.js";

/**
 * Raft logs on LMDB: many raft groups (one per shard, hundreds per node) in one LMDB
 * environment, so one transaction and one sync can persist the Readies of many groups
 * (group commit across groups). See docs/storage.md, "Raft log", for the layout.
 *
 * Every key begins with the group id (u32, big-endian), so each group is one contiguous
 * key range in three shared named databases:
 *
 *   raft-entries    group ++ index (u64)  → type (u8), term (u64), data
 *   raft-state      group                 → hard state (term u64, vote u32, commit u64),
 *                                           compaction point (index u64, term u64)
 *   raft-snapshots  group ++ part (u32)   → part 0: meta; part k ≥ 1: the k-th chunk of data
 *
 * Integers are big-endian, so entries sort by index. u64 fields hold values below 2^53.
 */

/** What one raft Ready asks to persist; a Ready is one (its other fields are ignored). */
export interface LogWrite {
  /** Installed first: replaces the whole log (as applySnapshot). */
  snapshot?: Snapshot | null;
  /** Then appended, dropping every stored entry at index ≥ entries[0].index first. */
  entries?: readonly Entry[];
  /** Last. */
  hardState?: HardState | null;
}

/**
 * The write side both raft log stores (this one and wal-raft-log.ts) offer on top of
 * persist, with the names of MemoryLogStorage's: each call one durable commit.
 */
export abstract class ReadyLog {
  /**
   * Persists a Ready: its snapshot, then its entries, then its hard state, in one durable
   * commit. Call it before sending the Ready's messages.
   */
  abstract persist(write: LogWrite): void;

  setHardState(hs: HardState): void {
    this.persist({ hardState: hs });
  }

  /** Appends entries, first dropping every stored entry at index ≥ entries[0].index. */
  append(entries: readonly Entry[]): void {
    this.persist({ entries });
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  applySnapshot(s: Snapshot): void {
    this.persist({ snapshot: s });
  }
}

/** One group's part of a multi-group persist. */
export interface GroupWrite {
  log: LmdbLogStorage;
  write: LogWrite;
}

export interface RaftLogsOptions {
  /** Folder holding data.mdb and lock.mdb; created if missing. */
  path: string;
  /**
   * Bytes of the most recent entries each open group keeps decoded in memory. A leader
   * sends each new entry to its followers and applies it within a few Readies of
   * persisting it, and a follower applies what it just appended: those reads are of the
   * log's tail, which this serves without a native call and a decode. A follower that
   * lags further reads from LMDB. 256 KiB is a few Readies of small writes (the bound
   * on one append is maxMsgBytes, 1 MiB) and keeps 300 groups under 80 MiB. 0 turns it off.
   */
  entryCacheBytesMax?: number;
  /**
   * Snapshot images up to this size stay in memory after they are written or first read;
   * larger ones are read back from LMDB on every snapshot() (raft calls it at start and
   * when a follower needs a snapshot, rare both). Default 1 MiB; 0 never keeps one.
   */
  snapshotCacheBytesMax?: number;
  /**
   * Commits without syncing, for tests that check behaviour rather than durability. A
   * killed process still keeps every commit (the kernel has the pages); a machine crash
   * may lose the last ones. Never in production: raft's promises rest on the sync.
   */
  unsafeNoSync?: boolean;
}

/** Totals since open, for diagnostics and the benchmark. */
export interface RaftLogsStats {
  /** Synced LMDB transactions committed (each is one durable write of data and meta). */
  commits: number;
  /** Entries written. */
  entries: number;
  /** Group writes (Readies and write-side calls) those commits carried. */
  groupWrites: number;
}

/**
 * Snapshot data goes in chunks. A value larger than a page lives in overflow pages that
 * LMDB must find as one contiguous free run; a 1 GiB image as one value would need 262,144
 * contiguous pages, found by a linear search of the free list, and would grow the file
 * whenever free space is fragmented. 64 KiB (16 pages) reuses freed space well and costs
 * one key per chunk (16,384 for a 1 GiB image).
 */
const snapshotChunkBytes = 64 * 1024;
/**
 * Term runs kept per group: (first index, term) for each run of equal terms at the log's
 * tail, so term(i) there is a binary search. A log has one run per leader term it spans,
 * normally a handful; the bound only matters for a log spanning many short terms, where
 * term(i) for the oldest runs falls back to one LMDB read.
 */
const termRunsMax = 1024;

const groupIdMax = 0xffff_ffff;
const u32 = 0x1_0000_0000;
const entryHeaderBytes = 1 + 8;
const stateBytes = 8 + 4 + 8 + 8 + 8;
const typeCodes = { normal: 0, conf: 1 } as const;

/**
 * Owner of one LMDB environment holding the raft logs of many groups. It opens the
 * environment once, hands out one LmdbLogStorage per group, and commits writes of several
 * groups in one synced transaction.
 */
export class LmdbRaftLogs {
  readonly path: string;
  private readonly root: RootDatabase;
  /** @internal */ readonly entriesDb: Database<Buffer, Buffer>;
  /** @internal */ readonly stateDb: Database<Buffer, Buffer>;
  /** @internal */ readonly snapshotsDb: Database<Buffer, Buffer>;
  /** @internal */ readonly entryCacheBytesMax: number;
  /** @internal */ readonly snapshotCacheBytesMax: number;
  private readonly groups = new Map<number, LmdbLogStorage>();
  private closed = false;
  private readonly totals: RaftLogsStats = { commits: 0, entries: 0, groupWrites: 0 };

  constructor(options: RaftLogsOptions) {
    this.path = options.path;
    this.entryCacheBytesMax = options.entryCacheBytesMax ?? 256 * 1024;
    this.snapshotCacheBytesMax = options.snapshotCacheBytesMax ?? 1024 * 1024;
    try {
      // As the key space: a commit returns only once it is synced, so what a Ready
      // vouches for is on disk before its messages leave.
      this.root = openDurableEnvironment(options.path, options.unsafeNoSync === true);
      const binary = { encoding: "binary", keyEncoding: "binary" } as const;
      this.entriesDb = this.root.openDB<Buffer, Buffer>("raft-entries", binary);
      this.stateDb = this.root.openDB<Buffer, Buffer>("raft-state", binary);
      this.snapshotsDb = this.root.openDB<Buffer, Buffer>("raft-snapshots", binary);
    } catch (cause) {
      throw toStorageError(cause, `cannot open the raft log folder ${options.path}`);
    }
  }

  /**
   * The log of `group`. A group not on disk yet is created, durably, as a new replica
   * whose initial configuration is `conf`; for an existing group `conf` is ignored.
   */
  openGroup(group: number, conf: ConfState): LmdbLogStorage {
    this.checkOpen();
    assert(Number.isInteger(group) && group >= 0 && group <= groupIdMax, "raft log: bad group id");
    assert(!this.groups.has(group), "raft log: group already open");
    if (this.stateDb.getBinaryFast(groupKey(group)) === undefined) {
      this.commit(() => {
        this.stateDb.putSync(groupKey(group), encodeState(emptyHardState, 0, 0));
        const meta: SnapshotMeta = { index: 0, term: 0, conf: copyConf(conf) };
        this.snapshotsDb.putSync(snapshotKey(group, 0), encodeSnapshotMeta(meta, 0));
      }, []);
    }
    const log = new LmdbLogStorage(this, group);
    this.groups.set(group, log);
    return log;
  }

  /** Ids of the groups on disk, ascending. */
  groupIds(): number[] {
    this.checkOpen();
    const out: number[] = [];
    for (const k of this.stateDb.getKeys({})) out.push((k as Buffer).readUInt32BE(0));
    return out;
  }

  /**
   * Keys a group holds in each database (entries, snapshot parts including the meta, state
   * record): for diagnostics, and for tests that nothing is left behind.
   */
  groupKeyCounts(group: number): { entries: number; snapshotParts: number; state: number } {
    this.checkOpen();
    const range = prefixRange(groupKey(group));
    return {
      entries: this.entriesDb.getKeysCount(range),
      snapshotParts: this.snapshotsDb.getKeysCount(range),
      state: this.stateDb.getBinaryFast(groupKey(group)) === undefined ? 0 : 1,
    };
  }

  /** Deletes a group (not open) and all its data, in one transaction. */
  removeGroup(group: number): void {
    this.checkOpen();
    assert(!this.groups.has(group), "raft log: removing an open group");
    this.commit(() => {
      this.stateDb.removeSync(groupKey(group));
      const prefix = groupKey(group);
      for (const db of [this.entriesDb, this.snapshotsDb]) {
        // Collected first: deleting under an open cursor is not something to rely on.
        const keys = [...db.getKeys(prefixRange(prefix))] as Buffer[];
        for (const k of keys) db.removeSync(k);
      }
    }, []);
  }

  /**
   * Persists the Readies of several groups in ONE synced transaction: one sync for all.
   * Each group's write is applied as LmdbLogStorage.persist does. All or nothing: on an
   * error nothing is written and every group involved is as it was before.
   */
  persist(writes: readonly GroupWrite[]): void {
    this.checkOpen();
    if (writes.length === 0) return;
    let entries = 0;
    this.commit(
      () => {
        for (const { log, write } of writes) {
          assert(log.owner === this, "raft log: a group of another environment");
          log.stageWrite(write);
          entries += write.entries?.length ?? 0;
        }
      },
      writes.map((w) => w.log),
    );
    this.totals.entries += entries;
    this.totals.groupWrites += writes.length;
  }

  stats(): RaftLogsStats {
    return { ...this.totals };
  }

  /** Closes every group and the environment. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const log of this.groups.values()) log.markClosed();
    this.groups.clear();
    await this.root.close();
  }

  /**
   * Runs `stage` in one synced transaction. Groups stage their changes in memory as they
   * write them; if anything throws, LMDB aborts the transaction and the groups in `logs`
   * reload their state from disk, so memory matches the disk again.
   * @internal
   */
  commit(stage: () => void, logs: readonly LmdbLogStorage[]): void {
    try {
      this.root.transactionSync(() => {
        stage();
        for (const log of logs) log.flushState();
      });
    } catch (cause) {
      for (const log of logs) {
        try {
          log.reload();
        } catch {
          // Memory no longer matches the disk and cannot be brought back: refuse further use
          // (reopening the group reads the disk afresh), and report the first error.
          log.markClosed();
        }
      }
      if (cause instanceof AssertionError) throw cause;
      throw toStorageError(cause, `raft log write to ${this.path} failed`);
    }
    this.totals.commits += 1;
  }

  /** @internal */
  release(log: LmdbLogStorage): void {
    if (this.groups.get(log.group) === log) this.groups.delete(log.group);
  }

  /** @internal */
  checkOpen(): void {
    if (this.closed) throw new StorageError("CLOSED", `raft log ${this.path} is closed`);
  }
}

/**
 * One group's raft log on LMDB: LogStorage for raft, plus the host's write side of
 * MemoryLogStorage (each call one synced transaction) and persist() for a whole Ready.
 * Reads of the hard state, indexes and recent terms come from memory; entries from a
 * bounded cache of the tail, else from LMDB.
 */
export class LmdbLogStorage extends ReadyLog implements LogStorage {
  private hard: HardState = emptyHardState;
  private snapMeta: SnapshotMeta = { index: 0, term: 0, conf: { voters: [], learners: [] } };
  private snapBytes = 0;
  /** The chunk size the stored snapshot was written with (to find its parts). */
  private snapChunkBytes = snapshotChunkBytes;
  /** The snapshot, when its data is small enough to keep (see snapshotCacheBytesMax). */
  private snapCached: Snapshot | null = null;
  private compactedIndex = 0;
  private compactedTerm = 0;
  private last = 0;
  /** Term runs covering [runStarts[0], last]: runTerms[k] from runStarts[k] on. */
  private runStarts: number[] = [];
  private runTerms: number[] = [];
  /** The tail [cacheFrom, last] of the log, decoded. */
  private cache: Entry[] = [];
  private cacheFrom = 1;
  private cacheBytes = 0;
  private stateDirty = false;
  private closed = false;
  /** Closes the environment too (a storage opened on its own with LmdbLogStorage.open). */
  private ownsEnvironment = false;

  /** @internal Use LmdbRaftLogs.openGroup or LmdbLogStorage.open. */
  constructor(
    readonly owner: LmdbRaftLogs,
    readonly group: number,
  ) {
    super();
    this.reload();
  }

  /** A single group in an environment of its own; close() closes both. */
  static open(options: RaftLogsOptions & { group: number; conf: ConfState }): LmdbLogStorage {
    const logs = new LmdbRaftLogs(options);
    try {
      const log = logs.openGroup(options.group, options.conf);
      log.ownsEnvironment = true;
      return log;
    } catch (err) {
      void logs.close();
      throw err;
    }
  }

  // ---- LogStorage ----------------------------------------------------------------------

  hardState(): HardState {
    return this.hard;
  }

  snapshot(): Snapshot {
    this.checkOpen();
    if (this.snapCached !== null) return this.snapCached;
    return { meta: this.snapMeta, data: this.readSnapshotData() };
  }

  firstIndex(): number {
    return this.compactedIndex + 1;
  }

  lastIndex(): number {
    return this.last;
  }

  term(i: number): number | null {
    if (i === this.compactedIndex) return this.compactedTerm;
    if (i < this.compactedIndex || i > this.last) return null;
    const starts = this.runStarts;
    if (starts.length > 0 && i >= (starts[0] as number)) {
      let lo = 0;
      let hi = starts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >>> 1;
        if ((starts[mid] as number) <= i) lo = mid;
        else hi = mid - 1;
      }
      return this.runTerms[lo] as number;
    }
    this.checkOpen();
    const raw = fastBuffer(this.owner.entriesDb.getBinaryFast(entryKey(this.group, i)));
    if (raw === undefined) throw this.damaged(`entry ${i} is missing`);
    return readU64(raw, 1);
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    assert(lo >= this.firstIndex() && hi <= this.last + 1, "storage: entries out of range");
    assert(lo < hi, "storage: empty entries range");
    this.checkOpen();
    const out: Entry[] = [];
    let bytes = 0;
    let i = lo;
    const fromDisk = Math.min(hi, this.cacheFrom);
    if (i < fromDisk) {
      const range = { start: entryKey(this.group, i), end: entryKey(this.group, fromDisk) };
      for (const { key, value } of this.owner.entriesDb.getRange(range)) {
        if (readU64(key, 4) !== i) throw this.damaged(`entry ${i} is missing`);
        const e = decodeEntry(i, value);
        bytes += entryBytes(e);
        if (out.length > 0 && bytes > maxBytes) return out;
        out.push(e);
        i++;
      }
      if (i < fromDisk) throw this.damaged(`entry ${i} is missing`);
    }
    for (; i < hi; i++) {
      const e = this.cache[i - this.cacheFrom] as Entry;
      bytes += entryBytes(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  // ---- the host's write side: each call is one synced transaction ---------------------

  /**
   * Persists a Ready: its snapshot, then its entries, then its hard state, in one synced
   * transaction. Call it before sending the Ready's messages.
   */
  persist(write: LogWrite): void {
    this.owner.persist([{ log: this, write }]);
  }

  /**
   * Records a snapshot the state machine took at `index` (≤ the applied index) with the
   * configuration raft reports for it, and drops the entries it covers.
   */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot {
    this.owner.checkOpen();
    this.checkOpen();
    this.owner.commit(() => {
      assert(index > this.snapMeta.index, "storage: snapshot not newer");
      assert(index <= this.last, "storage: snapshot beyond the log");
      const term = this.term(index);
      assert(term !== null, "storage: snapshot index compacted");
      this.stageSnapshotImage({ meta: { index, term, conf: copyConf(conf) }, data });
      this.stageCompact(index);
    }, [this]);
    return this.snapshot();
  }

  /** Drops entries up to `index`, which must be covered by the snapshot. */
  compact(index: number): void {
    this.owner.checkOpen();
    this.checkOpen();
    if (index <= this.compactedIndex) return;
    this.owner.commit(() => this.stageCompact(index), [this]);
  }

  /** Releases the group (and the environment, if opened with LmdbLogStorage.open). */
  async close(): Promise<void> {
    // Idempotent, and it releases a group whose failed reload already marked it closed.
    this.markClosed();
    this.owner.release(this);
    if (this.ownsEnvironment) await this.owner.close();
  }

  // ---- staging, inside the owner's transaction -------------------------------------------

  /** @internal */
  stageWrite(write: LogWrite): void {
    this.checkOpen();
    if (write.snapshot) this.stageApplySnapshot(write.snapshot);
    if (write.entries !== undefined && write.entries.length > 0) this.stageAppend(write.entries);
    if (write.hardState) {
      assert(write.hardState.term >= this.hard.term, "storage: term went back");
      this.hard = { ...write.hardState };
      this.stateDirty = true;
    }
  }

  private stageAppend(entries: readonly Entry[]): void {
    const first = (entries[0] as Entry).index;
    assert(first > this.compactedIndex, "storage: append below the compaction point");
    assert(first <= this.last + 1, "storage: append leaves a gap");
    const db = this.owner.entriesDb;
    const oldLast = this.last;
    this.truncateMemory(first - 1);
    for (const e of entries) {
      assert(e.index === this.last + 1, "storage: entries not contiguous");
      const value = encodeEntry(e);
      db.putSync(entryKey(this.group, e.index), value);
      this.last = e.index;
      this.pushTerm(e.index, e.term);
      this.pushCache({
        term: e.term,
        index: e.index,
        type: e.type,
        data: new Uint8Array(value.buffer, value.byteOffset + entryHeaderBytes, e.data.length),
      });
    }
    // Entries the new ones overwrote are gone with the puts; delete the rest of the old tail.
    for (let i = this.last + 1; i <= oldLast; i++) db.removeSync(entryKey(this.group, i));
  }

  private stageApplySnapshot(s: Snapshot): void {
    assert(s.meta.index >= this.snapMeta.index, "storage: snapshot older than ours");
    this.stageSnapshotImage(s);
    const db = this.owner.entriesDb;
    for (let i = this.compactedIndex + 1; i <= this.last; i++) {
      db.removeSync(entryKey(this.group, i));
    }
    this.compactedIndex = s.meta.index;
    this.compactedTerm = s.meta.term;
    this.last = s.meta.index;
    this.resetTail();
    this.stateDirty = true;
  }

  /** Replaces the stored snapshot (meta and chunks) with `s`. */
  private stageSnapshotImage(s: Snapshot): void {
    const db = this.owner.snapshotsDb;
    const oldParts = partsOf(this.snapBytes, this.snapChunkBytes);
    const parts = partsOf(s.data.length, snapshotChunkBytes);
    db.putSync(snapshotKey(this.group, 0), encodeSnapshotMeta(s.meta, s.data.length));
    for (let k = 1; k <= parts; k++) {
      const lo = (k - 1) * snapshotChunkBytes;
      const chunk = s.data.subarray(lo, Math.min(s.data.length, lo + snapshotChunkBytes));
      db.putSync(
        snapshotKey(this.group, k),
        Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length),
      );
    }
    for (let k = parts + 1; k <= oldParts; k++) db.removeSync(snapshotKey(this.group, k));
    this.snapMeta = s.meta;
    this.snapBytes = s.data.length;
    this.snapChunkBytes = snapshotChunkBytes;
    this.snapCached =
      s.data.length <= this.owner.snapshotCacheBytesMax
        ? { meta: s.meta, data: new Uint8Array(s.data) }
        : null;
  }

  private stageCompact(index: number): void {
    if (index <= this.compactedIndex) return;
    assert(index <= this.snapMeta.index, "storage: compacting past the snapshot");
    const term = this.term(index);
    assert(term !== null, "storage: compact beyond the log");
    const db = this.owner.entriesDb;
    for (let i = this.compactedIndex + 1; i <= index; i++) db.removeSync(entryKey(this.group, i));
    this.compactedIndex = index;
    this.compactedTerm = term;
    // Runs and cache keep covering up to `last`; only their fronts move.
    while (this.runStarts.length > 1 && (this.runStarts[1] as number) <= index + 1) {
      this.runStarts.shift();
      this.runTerms.shift();
    }
    if (this.runStarts.length > 0 && (this.runStarts[0] as number) <= index) {
      if (index < this.last) this.runStarts[0] = index + 1;
      else this.clearRuns();
    }
    while (this.cacheFrom <= index && this.cache.length > 0) this.dropOldestCached();
    if (this.cacheFrom <= index) this.cacheFrom = index + 1;
    this.stateDirty = true;
  }

  /** Writes the state record if this transaction changed it. @internal */
  flushState(): void {
    if (!this.stateDirty) return;
    this.owner.stateDb.putSync(
      groupKey(this.group),
      encodeState(this.hard, this.compactedIndex, this.compactedTerm),
    );
    this.stateDirty = false;
  }

  // ---- memory: term runs and the tail cache ---------------------------------------------

  /** Forgets every entry above `index` in memory (the log is being cut back to it). */
  private truncateMemory(index: number): void {
    this.last = index;
    while (this.runStarts.length > 0 && (this.runStarts.at(-1) as number) > index) {
      this.runStarts.pop();
      this.runTerms.pop();
    }
    if (index < this.cacheFrom) {
      this.cache = [];
      this.cacheBytes = 0;
      this.cacheFrom = index + 1;
    } else {
      while (this.cacheFrom + this.cache.length - 1 > index) {
        this.cacheBytes -= entryBytes(this.cache.pop() as Entry);
      }
    }
  }

  private pushTerm(index: number, term: number): void {
    if (this.runStarts.length > 0 && this.runTerms.at(-1) === term) return;
    this.runStarts.push(index);
    this.runTerms.push(term);
    if (this.runStarts.length > termRunsMax) {
      this.runStarts.shift();
      this.runTerms.shift();
    }
  }

  private pushCache(e: Entry): void {
    const max = this.owner.entryCacheBytesMax;
    this.cache.push(e);
    this.cacheBytes += entryBytes(e);
    while (this.cacheBytes > max && this.cache.length > 0) this.dropOldestCached();
  }

  private dropOldestCached(): void {
    this.cacheBytes -= entryBytes(this.cache.shift() as Entry);
    this.cacheFrom++;
  }

  private clearRuns(): void {
    this.runStarts = [];
    this.runTerms = [];
  }

  private resetTail(): void {
    this.clearRuns();
    this.cache = [];
    this.cacheBytes = 0;
    this.cacheFrom = this.last + 1;
  }

  /**
   * Loads the group's state from disk: at open, and after a failed transaction (whose
   * changes memory had already taken) so that memory matches the disk again.
   * @internal
   */
  reload(): void {
    const { stateDb, snapshotsDb, entriesDb } = this.owner;
    const state = stateDb.getBinary(groupKey(this.group));
    const meta = snapshotsDb.getBinary(snapshotKey(this.group, 0));
    if (state === undefined || meta === undefined) throw this.damaged("no state record");
    this.hard = {
      term: readU64(state, 0),
      vote: state.readUInt32BE(8),
      commit: readU64(state, 12),
    };
    this.compactedIndex = readU64(state, 20);
    this.compactedTerm = readU64(state, 28);
    const decoded = decodeSnapshotMeta(meta);
    this.snapMeta = decoded.meta;
    this.snapBytes = decoded.dataBytes;
    this.snapChunkBytes = decoded.chunkBytes;
    this.snapCached = null;
    if (this.snapBytes <= this.owner.snapshotCacheBytesMax) {
      this.snapCached = { meta: this.snapMeta, data: this.readSnapshotData() };
    }
    this.last = this.compactedIndex;
    this.clearRuns();
    const range = prefixRange(groupKey(this.group));
    // Backwards, lmdb-js walks from `start` down to `end`.
    const backwards = { start: range.end, end: range.start, reverse: true, limit: 1 };
    for (const { key, value } of entriesDb.getRange(backwards)) {
      this.last = readU64(key, 4);
      this.pushTerm(this.last, readU64(value, 1));
    }
    for (const key of entriesDb.getKeys({ ...range, limit: 1 })) {
      if (readU64(key as Buffer, 4) !== this.compactedIndex + 1) {
        throw this.damaged(`the first entry is not at ${this.compactedIndex + 1}`);
      }
    }
    this.cache = [];
    this.cacheBytes = 0;
    this.cacheFrom = this.last + 1;
    this.stateDirty = false;
  }

  private readSnapshotData(): Uint8Array {
    const data = new Uint8Array(this.snapBytes);
    let at = 0;
    const parts = partsOf(this.snapBytes, this.snapChunkBytes);
    if (parts === 0) return data;
    const range = { start: snapshotKey(this.group, 1), end: snapshotKey(this.group, parts + 1) };
    for (const { value } of this.owner.snapshotsDb.getRange(range)) {
      data.set(value, at);
      at += value.length;
    }
    if (at !== this.snapBytes) throw this.damaged("the snapshot is incomplete");
    return data;
  }

  /** @internal */
  markClosed(): void {
    this.closed = true;
  }

  private checkOpen(): void {
    if (this.closed) {
      throw new StorageError("CLOSED", `raft log of group ${this.group} is closed`);
    }
  }

  private damaged(what: string): StorageError {
    return new StorageError(
      "OTHER",
      `raft log of group ${this.group} in ${this.owner.path} is damaged: ${what}`,
    );
  }
}

// ---- encoding ----------------------------------------------------------------------------

function writeU64(buf: Buffer, v: number, at: number): void {
  buf.writeUInt32BE(Math.floor(v / u32), at);
  buf.writeUInt32BE(v >>> 0, at + 4);
}

function readU64(buf: Buffer, at: number): number {
  return buf.readUInt32BE(at) * u32 + buf.readUInt32BE(at + 4);
}

function groupKey(group: number): Buffer {
  const k = Buffer.allocUnsafe(4);
  k.writeUInt32BE(group, 0);
  return k;
}

function entryKey(group: number, index: number): Buffer {
  const k = Buffer.allocUnsafe(12);
  k.writeUInt32BE(group, 0);
  writeU64(k, index, 4);
  return k;
}

function snapshotKey(group: number, part: number): Buffer {
  const k = Buffer.allocUnsafe(8);
  k.writeUInt32BE(group, 0);
  k.writeUInt32BE(part, 4);
  return k;
}

/** Every key that starts with `prefix` (a group key): from it up to the next group's. */
function prefixRange(prefix: Buffer): { start: Buffer; end: Buffer } {
  return { start: prefix, end: Buffer.concat([prefix, Buffer.alloc(8, 0xff)]) };
}

function partsOf(bytes: number, chunkBytes: number): number {
  return Math.ceil(bytes / chunkBytes);
}

function encodeEntry(e: Entry): Buffer {
  const out = Buffer.allocUnsafe(entryHeaderBytes + e.data.length);
  out[0] = typeCodes[e.type];
  writeU64(out, e.term, 1);
  out.set(e.data, entryHeaderBytes);
  return out;
}

function decodeEntry(index: number, raw: Buffer): Entry {
  const code = raw[0];
  if (code !== 0 && code !== 1) {
    throw new StorageError("OTHER", `raft log entry ${index} has an unknown type ${code}`);
  }
  return {
    term: readU64(raw, 1),
    index,
    type: code === 0 ? "normal" : "conf",
    // A copy: range values may share LMDB's buffers.
    data: new Uint8Array(raw.subarray(entryHeaderBytes)),
  };
}

function encodeState(hs: HardState, compactedIndex: number, compactedTerm: number): Buffer {
  const out = Buffer.allocUnsafe(stateBytes);
  writeU64(out, hs.term, 0);
  out.writeUInt32BE(hs.vote, 8);
  writeU64(out, hs.commit, 12);
  writeU64(out, compactedIndex, 20);
  writeU64(out, compactedTerm, 28);
  return out;
}

/** index, term, data bytes (u64 each), chunk bytes (u32), voters and learners (count, ids). */
function encodeSnapshotMeta(meta: SnapshotMeta, dataBytes: number): Buffer {
  const { voters, learners } = meta.conf;
  const out = Buffer.allocUnsafe(28 + 8 + 4 * (voters.length + learners.length));
  writeU64(out, meta.index, 0);
  writeU64(out, meta.term, 8);
  writeU64(out, dataBytes, 16);
  out.writeUInt32BE(snapshotChunkBytes, 24);
  let at = 28;
  for (const ids of [voters, learners]) {
    out.writeUInt32BE(ids.length, at);
    at += 4;
    for (const id of ids) {
      out.writeUInt32BE(id, at);
      at += 4;
    }
  }
  return out;
}

function decodeSnapshotMeta(raw: Buffer): {
  meta: SnapshotMeta;
  dataBytes: number;
  chunkBytes: number;
} {
  let at = 28;
  const ids = (): number[] => {
    const n = raw.readUInt32BE(at);
    at += 4;
    const out: number[] = [];
    for (let k = 0; k < n; k++, at += 4) out.push(raw.readUInt32BE(at));
    return out;
  };
  const voters = ids();
  const learners = ids();
  return {
    meta: { index: readU64(raw, 0), term: readU64(raw, 8), conf: { voters, learners } },
    dataBytes: readU64(raw, 16),
    chunkBytes: raw.readUInt32BE(24),
  };
}

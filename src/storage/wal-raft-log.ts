import {
  closeSync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { open as openAsync } from "node:fs/promises";
import { join, resolve } from "node:path";
import { crc32 } from "node:zlib";
import { AssertionError, assert } from "../core/assert.js";
import { ByteReader, ByteWriter, DecodeError, roundUp } from "../core/bytes.js";
import { copyConf, type LogStorage } from "../raft/storage.js";
import {
  type ConfState,
  type Entry,
  emptyHardState,
  entryBytes,
  entryOverheadBytes,
  type HardState,
  type Snapshot,
  type SnapshotMeta,
} from "../raft/types.js";
import { DirectAppender, directBlockBytes } from "./direct-append.js";
import { syncFolder, writeFully } from "./files.js";
import { toStorageError } from "./overlay.js";
import { type LogWrite, type RaftLogsStats, ReadyLog } from "./raft-log.js";
import { StorageError } from "./types.js";

/**
 * Raft logs of many groups in one write-ahead log: a persist of any number of groups is
 * one write and one fdatasync (LMDB's commit flushes twice; see docs/storage.md, "Raft
 * log"). Everything the raft logs hold is in the log's records, in segment files of a
 * fixed size filled with zeros when made, so that an fdatasync has only data to flush:
 *
 *   <seq, 16 hex digits>.wal   frames, one per commit: length (u32), CRC-32 (u32), then
 *                              the records' count (u32) and each record's length and bytes
 *   snap-<group>-<n>.bin       one snapshot image each, written and synced before the
 *                              commit that names it
 *
 * A frame's CRC is chained: it starts from the previous frame's CRC (the first from the
 * segment's sequence number). A commit is one frame, so a crash keeps it whole or not at
 * all, across groups.
 *
 * Records:
 *   checkpoint  (1) every group's state: hard state, compaction point, last index and
 *                   snapshot marker. Each segment begins with one, so a segment and those
 *                   after it hold everything but entries written earlier.
 *   group write (2) one group's change, in order: a snapshot that replaces the log, a
 *                   snapshot image alone, a compaction point, entries (dropping those at
 *                   and above the first), a hard state.
 *   remove      (3) a group and everything in it.
 *
 * Memory holds each group's state and, for each live entry, its term and where it lies
 * (segment, offset, length), plus a decoded cache of the tail; a read past the cache is
 * one pread. Opening replays the live segments. A torn last write (see tornAt: its
 * fdatasync had not returned, so nothing in it was acknowledged) ends the log there and
 * the rest of its segment is zeroed; any other bad frame fails the open as damage. A
 * segment is deleted once no live entry is in it; a group that lags segmentsBehindMax
 * segments (idle, never compacting) has its live entries written again in a new one.
 * The folder holds a LOCK file naming the process that has it open.
 */

export interface WalRaftLogsOptions {
  /** Folder of the segments and snapshot files; created if missing. */
  path: string;
  /** As RaftLogsOptions.entryCacheBytesMax (raft-log.ts): the decoded tail per group. */
  entryCacheBytesMax?: number;
  /** As RaftLogsOptions.snapshotCacheBytesMax: images up to this size stay in memory. */
  snapshotCacheBytesMax?: number;
  /**
   * Bytes per segment. Default 16 MiB: at a node's few MB/s of raft writes a new segment
   * every few seconds, made ahead of need off the event loop. A write larger than this
   * gets a segment of its own size.
   */
  segmentBytes?: number;
  /** As RaftLogsOptions.unsafeNoSync: tests of behaviour only, never data. */
  unsafeNoSync?: boolean;
  /**
   * Writes the segment being filled with O_DIRECT where its file system allows
   * (direct-append.ts; docs/storage.md, "Direct writes"), else through the page cache.
   * Default true; never with unsafeNoSync, whose writes need not reach the device.
   */
  directWrites?: boolean;
}

export const defaultSegmentBytes = 16 * 1024 * 1024;
/**
 * A group whose oldest live entry is this many segments behind the one being started has
 * its live entries written again in it, if they come to at most copyForwardBytesMax: so at
 * most this many segments (128 MiB by default) stay for a group that writes a little and
 * then nothing, never compacting, while groups that write on compact on their own and are
 * never copied (copying them at every segment would write much of each segment twice).
 */
const segmentsBehindMax = 8;
const copyForwardBytesMax = 4 * 1024 * 1024;
const zeroChunkBytes = 1024 * 1024;
const noBytes = new Uint8Array(0);
const frameHeaderBytes = 8;
const sectorBytes = 512;
const recordCheckpoint = 1;
const recordGroup = 2;
const recordRemove = 3;
const flagInstall = 1;
const flagImage = 2;
const flagCompact = 4;
const flagEntries = 8;
const flagHard = 16;
/** type (u8), term (u64), data length (u32): an entry's bytes in a record. */
const entryHeaderBytes = 1 + 8 + 4;
/** The records writer's size (WalRaftLogs.records), and the most it keeps after a commit. */
const recordsBytes = 64 * 1024;
const recordsBytesMax = 1024 * 1024;
const groupIdMax = 0xffff_ffff;
const segmentName = /^([0-9a-f]{16})\.wal$/;
const snapshotName = /^snap-([0-9a-f]{8})-([0-9a-f]{16})\.bin$/;
const spareName = "spare.tmp";

/** One group's change in a commit. */
interface Change {
  group: number;
  remove?: boolean;
  /** Replaces the whole log (a snapshot from the leader, or a new group's start). */
  install?: Snapshot;
  /** A snapshot the state machine took; the log stays. */
  image?: Snapshot;
  compact?: { index: number; term: number };
  entries?: readonly Entry[];
  hard?: HardState;
  /** The number of the file holding the snapshot's image, given when it is encoded. */
  file?: number;
}

interface Marker {
  meta: SnapshotMeta;
  bytes: number;
  /** Number of the file holding the image; 0 for an empty image (no file). */
  file: number;
}

interface Segment {
  seq: number;
  fd: number;
  size: number;
}

/** A group's state in memory, open or not. */
class GroupState {
  hard: HardState = emptyHardState;
  compactedIndex = 0;
  compactedTerm = 0;
  marker: Marker = {
    meta: { index: 0, term: 0, conf: { voters: [], learners: [] } },
    bytes: 0,
    file: 0,
  };
  snapCached: Snapshot | null = null;
  /** Live entries: [k] is entry compactedIndex + 1 + k. seg −1 marks one not yet replayed. */
  terms: number[] = [];
  segs: number[] = [];
  poss: number[] = [];
  lens: number[] = [];
  /**
   * The decoded tail [cacheFrom, last]: entry cacheFrom is cache[cacheHead]. The oldest
   * leave by moving cacheHead (Array.shift copied the whole array at every entry once the
   * cache was full: a tenth of the log's CPU), and the array is cut when half is dropped.
   * cacheSizes[k] is entryBytes(cache[k]): dropping the oldest entry reads its size there,
   * not from the entry, which is long out of the CPU's caches by then (reading it there was
   * 1% of a node's CPU at 50 writers).
   */
  cache: (Entry | undefined)[] = [];
  cacheSizes: number[] = [];
  cacheHead = 0;
  cacheFrom = 1;
  cacheBytes = 0;
  handle: WalLogStorage | null = null;

  constructor(readonly id: number) {}

  get last(): number {
    return this.compactedIndex + this.terms.length;
  }

  /** Bytes of the live entries in the segments. */
  liveBytes(): number {
    let n = 0;
    for (const len of this.lens) n += len;
    return n;
  }

  truncate(index: number): void {
    const keep = Math.max(0, index - this.compactedIndex);
    // Every append record truncates to its first index: mostly a no-op, and setting an
    // array's length costs even then.
    if (this.terms.length !== keep) {
      this.terms.length = keep;
      this.segs.length = keep;
      this.poss.length = keep;
      this.lens.length = keep;
    }
    if (index < this.cacheFrom) {
      this.clearCache(index + 1);
    } else {
      while (this.cacheFrom + this.cachedCount() - 1 > index) {
        this.cache.pop();
        this.cacheBytes -= this.cacheSizes.pop() as number;
      }
    }
  }

  cachedCount(): number {
    return this.cache.length - this.cacheHead;
  }

  /** The cached entry `index` (cacheFrom ≤ index ≤ last). */
  cached(index: number): Entry {
    return this.cache[this.cacheHead + index - this.cacheFrom] as Entry;
  }

  /** An empty cache whose next entry would be `from`. */
  clearCache(from: number): void {
    this.cache = [];
    this.cacheSizes = [];
    this.cacheHead = 0;
    this.cacheBytes = 0;
    this.cacheFrom = from;
  }

  /** Adds the entry after the cached tail, then drops the oldest beyond `max` bytes. */
  pushCached(e: Entry, max: number): void {
    if (this.cacheFrom + this.cachedCount() !== e.index) this.clearCache(e.index);
    const size = entryBytes(e);
    this.cache.push(e);
    this.cacheSizes.push(size);
    this.cacheBytes += size;
    while (this.cacheBytes > max && this.cachedCount() > 0) this.dropOldestCached();
  }

  private dropOldestCached(): void {
    this.cache[this.cacheHead] = undefined; // collectable now
    this.cacheBytes -= this.cacheSizes[this.cacheHead] as number;
    this.cacheHead += 1;
    this.cacheFrom++;
    if (this.cacheHead >= 1024 && this.cacheHead * 2 >= this.cache.length) {
      this.cache = this.cache.slice(this.cacheHead);
      this.cacheSizes = this.cacheSizes.slice(this.cacheHead);
      this.cacheHead = 0;
    }
  }

  /** Moves the compaction point up to `index` (≤ last), dropping the entries it covers. */
  compactTo(index: number, term: number): void {
    const drop = Math.min(this.terms.length, index - this.compactedIndex);
    this.terms.splice(0, drop);
    this.segs.splice(0, drop);
    this.poss.splice(0, drop);
    this.lens.splice(0, drop);
    this.compactedIndex = index;
    this.compactedTerm = term;
    while (this.cacheFrom <= index && this.cachedCount() > 0) this.dropOldestCached();
    if (this.cacheFrom <= index) this.cacheFrom = index + 1;
  }

  /** An empty log after the compaction point `index` (a replacing snapshot). */
  resetTo(index: number, term: number): void {
    this.compactedIndex = index;
    this.compactedTerm = term;
    this.terms = [];
    this.segs = [];
    this.poss = [];
    this.lens = [];
    this.clearCache(index + 1);
  }

  /** Makes the live range (compactedIndex, last] as a checkpoint states it. */
  reshape(compactedIndex: number, compactedTerm: number, last: number): void {
    if (compactedIndex < this.compactedIndex) {
      throw new DecodeError(`a checkpoint behind group ${this.id}'s compaction point`);
    }
    this.compactTo(compactedIndex, compactedTerm);
    const want = last - compactedIndex;
    if (this.terms.length > want) this.truncate(last);
    while (this.terms.length < want) {
      this.terms.push(-1);
      this.segs.push(-1);
      this.poss.push(-1);
      this.lens.push(0);
    }
    if (this.cacheFrom > last + 1) this.clearCache(last + 1);
  }
}

/** The host's writes as changes, and commits of many groups at once: see the file comment. */
export class WalRaftLogs {
  readonly path: string;
  /** @internal */ readonly entryCacheBytesMax: number;
  /** @internal */ readonly snapshotCacheBytesMax: number;
  private readonly segmentBytes: number;
  private readonly sync: boolean;
  /** @internal */ readonly groups = new Map<number, GroupState>();
  /** Live segments by sequence, oldest first; the last is the one written. */
  private segments: Segment[] = [];
  /** Where the next record goes in the last segment, and the CRC it chains from. */
  private cursor = 0;
  private chain = 0;
  /** Direct writes to the last segment, while the file system takes them. */
  private direct: boolean;
  private appender: DirectAppender | null = null;
  private nextFile = 1;
  private spare: { size: number } | null = null;
  private spareJob: Promise<void> | null = null;
  private closed = false;
  /** Set when a failed write could not be undone: the log refuses everything until reopened. */
  private brokenBy: StorageError | null = null;
  private readonly totals: RaftLogsStats = { commits: 0, entries: 0, groupWrites: 0 };
  /**
   * Where a commit encodes its records before they are framed: one writer kept from commit
   * to commit. A writer per record, grown by doubling, was a third of the log's CPU in a
   * profile of commits like a busy node's (16 groups, 2 entries each).
   */
  private records = new ByteWriter(recordsBytes);

  constructor(options: WalRaftLogsOptions) {
    this.path = options.path;
    this.entryCacheBytesMax = options.entryCacheBytesMax ?? 256 * 1024;
    this.snapshotCacheBytesMax = options.snapshotCacheBytesMax ?? 1024 * 1024;
    this.segmentBytes = options.segmentBytes ?? defaultSegmentBytes;
    assert(this.segmentBytes >= 4096, "raft log: segments of at least 4 KiB");
    this.sync = options.unsafeNoSync !== true;
    this.direct = this.sync && options.directWrites !== false;
    try {
      mkdirSync(this.path, { recursive: true });
      lockFolder(this.path);
    } catch (cause) {
      if (cause instanceof StorageError) throw cause;
      throw toStorageError(cause, `cannot open the raft log folder ${this.path}`);
    }
    try {
      this.recover();
    } catch (cause) {
      this.appender?.close();
      for (const s of this.segments) closeQuietly(s.fd);
      this.segments = [];
      unlockFolder(this.path);
      if (cause instanceof StorageError) throw cause;
      throw toStorageError(cause, `cannot open the raft log folder ${this.path}`);
    }
  }

  /**
   * The log of `group`. A group not stored yet is created, durably, as a new replica whose
   * initial configuration is `conf`; for a stored group `conf` is ignored.
   */
  openGroup(group: number, conf: ConfState): WalLogStorage {
    this.checkOpen();
    assert(Number.isInteger(group) && group >= 0 && group <= groupIdMax, "raft log: bad group id");
    assert(!isOpen(this.groups.get(group)), "raft log: group already open");
    if (!this.groups.has(group)) {
      const meta: SnapshotMeta = { index: 0, term: 0, conf: copyConf(conf) };
      this.commit([{ group, install: { meta, data: new Uint8Array(0) }, hard: emptyHardState }]);
    }
    const state = this.groups.get(group) as GroupState;
    const log = new WalLogStorage(this, state);
    state.handle = log;
    return log;
  }

  /** Ids of the stored groups, ascending. */
  groupIds(): number[] {
    this.checkOpen();
    return [...this.groups.keys()].sort((a, b) => a - b);
  }

  /** Deletes a group (not open) and everything in it. */
  removeGroup(group: number): void {
    this.checkOpen();
    const state = this.groups.get(group);
    assert(!isOpen(state), "raft log: removing an open group");
    if (state === undefined) return;
    this.commit([{ group, remove: true }]);
  }

  /**
   * Persists the Readies of several groups in one write and one fdatasync. Each group's
   * write is applied as WalLogStorage.persist does. All or nothing: on an error nothing is
   * applied and every group is as it was before.
   */
  persist(writes: readonly { log: WalLogStorage; write: LogWrite }[]): void {
    this.checkOpen();
    if (writes.length === 0) return;
    const changes: Change[] = [];
    const seen = new Set<number>();
    for (const { log, write } of writes) {
      assert(log.owner === this, "raft log: a group of another log");
      log.checkOpen();
      const g = log.state;
      assert(!seen.has(g.id), "raft log: one write per group per persist");
      seen.add(g.id);
      changes.push(validWrite(g, write));
    }
    this.commit(changes);
    this.totals.groupWrites += changes.length;
    for (const c of changes) this.totals.entries += c.entries?.length ?? 0;
  }

  /** A failed write could not be undone: every write fails until the log is reopened. */
  broken(): boolean {
    return this.brokenBy !== null;
  }

  stats(): RaftLogsStats {
    return { ...this.totals };
  }

  /** Segment sequence numbers and snapshot files on disk: for diagnostics and tests. */
  files(): { segments: number[]; snapshots: number } {
    const names = readdirSync(this.path);
    return {
      segments: segmentSeqs(names),
      snapshots: names.filter((n) => snapshotName.test(n)).length,
    };
  }

  /** Whether commits write the segment with O_DIRECT: for diagnostics and tests. */
  writesDirect(): boolean {
    return this.appender !== null;
  }

  /** Where the next commit goes: for tests that cut the last one short. */
  writePosition(): { segment: number; at: number } {
    return { segment: this.segments.at(-1)?.seq ?? 0, at: this.cursor };
  }

  /** Closes every group and the files. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const g of this.groups.values()) g.handle?.markClosed();
    if (this.spareJob !== null) await this.spareJob;
    this.appender?.close();
    this.appender = null;
    for (const s of this.segments) closeQuietly(s.fd);
    this.segments = [];
    unlockFolder(this.path);
  }

  // ---- commits ---------------------------------------------------------------------------

  /**
   * Writes `changes` as records at the cursor, in one write and one fdatasync, then
   * applies them to memory by reading them back as recovery would. @internal
   */
  commit(changes: Change[]): void {
    this.checkOpen();
    this.records.reset();
    const payloads = changes.map((c) => this.encodeChange(c, this.records));
    const files = this.writeSnapshotFiles(changes);
    let seg: Segment;
    let frames: { buf: Buffer; crc: number };
    try {
      const body = framedBytes(payloads);
      let current = this.segments.at(-1);
      if (current === undefined || (this.cursor > 0 && this.cursor + body > current.size)) {
        current = this.newSegment(body);
      }
      if (this.cursor === 0) {
        let prefix = this.segmentPrefix(current.seq);
        if (framedBytes(prefix) + body > current.size) {
          current = this.newSegment(body);
          prefix = this.segmentPrefix(current.seq);
        }
        payloads.unshift(...prefix);
      }
      seg = current;
      frames = frame(payloads, this.chain);
      // A commit of big entries grew it: give that memory back.
      if (this.records.capacity > recordsBytesMax) this.records = new ByteWriter(recordsBytes);
    } catch (cause) {
      for (const f of files) rmQuietly(join(this.path, f));
      if (cause instanceof AssertionError) throw cause;
      throw toStorageError(cause, `raft log write to ${this.path} failed`);
    }
    const at = this.cursor;
    try {
      this.writeAt(seg, frames.buf, at);
      if (this.sync) fdatasyncSync(seg.fd);
    } catch (cause) {
      for (const f of files) rmQuietly(join(this.path, f));
      this.undoWrite(seg, at, frames.buf.length, cause);
      throw toStorageError(cause, `raft log write to ${this.path} failed`);
    }
    this.cursor = at + frames.buf.length;
    this.chain = frames.crc;
    const replaced: string[] = [];
    this.applyFrame(
      frames.buf.subarray(frameHeaderBytes),
      seg.seq,
      at + frameHeaderBytes,
      true,
      replaced,
    );
    for (const file of replaced) rmQuietly(join(this.path, file));
    for (const c of changes) {
      const snap = c.install ?? c.image;
      const g = this.groups.get(c.group);
      if (snap === undefined || g === undefined) continue;
      if (snap.data.length <= this.snapshotCacheBytesMax) {
        g.snapCached = { meta: g.marker.meta, data: new Uint8Array(snap.data) };
      }
    }
    this.totals.commits += 1;
    this.reclaim();
    if (this.spare === null && this.spareJob === null && this.cursor > seg.size / 2) {
      this.prepareSpare();
    }
  }

  /**
   * Writes `data` at `at` of `seg`, the last segment: with O_DIRECT while the file system
   * takes it and the write fits in one, else through the page cache.
   */
  private writeAt(seg: Segment, data: Uint8Array, at: number): void {
    const a = this.appender;
    if (a !== null) {
      assert(a.position === at, "raft log: the direct writes are not at the cursor");
      if (!a.fits(data.length)) {
        writeFully(seg.fd, data, at);
        a.passed(data);
        return;
      }
      if (a.append(data)) return;
      this.stopDirect();
    }
    writeFully(seg.fd, data, at);
  }

  /** The file system refused a direct write: this log writes through the page cache. */
  private stopDirect(): void {
    this.appender?.close();
    this.appender = null;
    this.direct = false;
  }

  /**
   * Direct writes to `seg`, the last segment, from `at`: `buf` holds the segment's bytes
   * at least up to `at`.
   */
  private appendTo(seg: Segment, at: number, buf: Uint8Array): void {
    const before = this.appender ?? undefined;
    before?.close();
    this.appender = null;
    if (!this.direct) return;
    try {
      this.appender = DirectAppender.open(join(this.path, segmentFile(seg.seq)), before);
    } catch {
      // Out of descriptors, say: this segment is written through the page cache.
      return;
    }
    if (this.appender === null) {
      this.stopDirect();
      return;
    }
    this.appender.resume(at, buf.subarray(at - (at % directBlockBytes), at));
  }

  /** What a fresh segment begins with: a checkpoint, then the entries of groups that lag. */
  private segmentPrefix(seq: number): Uint8Array[] {
    return [encodeCheckpoint(this.groups), ...this.copyForward(seq)];
  }

  /**
   * A write or sync failed: what it left in the segment may be anything. Zero it and sync,
   * so that neither memory nor a later reopen sees it; if even that fails, refuse all use.
   */
  private undoWrite(seg: Segment, at: number, length: number, cause: unknown): void {
    try {
      fillZeros(seg.fd, at, at + length);
      if (this.sync) fdatasyncSync(seg.fd);
    } catch {
      this.brokenBy = toStorageError(cause, `raft log ${this.path} failed and cannot be written`);
    }
  }

  /** Writes the snapshot images the changes carry, synced, each under its file number. */
  private writeSnapshotFiles(changes: readonly Change[]): string[] {
    const written: string[] = [];
    try {
      for (const c of changes) {
        const snap = c.install ?? c.image;
        if (snap === undefined || snap.data.length === 0) continue;
        const name = snapshotFile(c.group, c.file ?? 0);
        const tmp = join(this.path, `${name}.tmp`);
        const fd = openSync(tmp, "w");
        try {
          writeFully(fd, snap.data, 0);
          if (this.sync) fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        renameSync(tmp, join(this.path, name));
        written.push(name);
      }
      if (written.length > 0 && this.sync) syncFolder(this.path);
    } catch (err) {
      for (const f of written) rmQuietly(join(this.path, f));
      for (const c of changes)
        rmQuietly(join(this.path, `${snapshotFile(c.group, c.file ?? 0)}.tmp`));
      throw toStorageError(err, `raft log snapshot write to ${this.path} failed`);
    }
    return written;
  }

  /** The record of a change; gives its snapshot image a file number (writeSnapshotFiles). */
  /** Writes `c`'s record at the end of `w`; returns a view of it (valid until w's reset). */
  private encodeChange(c: Change, w: ByteWriter): Uint8Array {
    const start = w.length;
    if (c.remove === true) {
      w.u8(recordRemove);
      w.u32(c.group);
      return w.viewFrom(start);
    }
    w.u8(recordGroup);
    w.u32(c.group);
    const snap = c.install ?? c.image;
    let flags = 0;
    if (c.install !== undefined) flags |= flagInstall;
    if (c.image !== undefined) flags |= flagImage;
    if (c.compact !== undefined) flags |= flagCompact;
    if (c.entries !== undefined && c.entries.length > 0) flags |= flagEntries;
    if (c.hard !== undefined) flags |= flagHard;
    w.u8(flags);
    if (snap !== undefined) {
      const file = snap.data.length > 0 ? this.nextFile++ : 0;
      c.file = file;
      writeMarker(w, { meta: snap.meta, bytes: snap.data.length, file });
    }
    if (c.compact !== undefined) {
      w.u64(c.compact.index);
      w.u64(c.compact.term);
    }
    if ((flags & flagEntries) !== 0) {
      const entries = c.entries as readonly Entry[];
      w.u64((entries[0] as Entry).index);
      w.u32(entries.length);
      for (const e of entries) {
        w.u8(e.type === "normal" ? 0 : 1);
        w.u64(e.term);
        w.u32(e.data.length);
        w.raw(e.data);
      }
    }
    if (c.hard !== undefined) writeHard(w, c.hard);
    return w.viewFrom(start);
  }

  /**
   * Entries records that write again the live entries of the groups that lag (see
   * segmentsBehindMax): an idle group would otherwise keep every segment since its last
   * compaction.
   */
  private copyForward(newSeq: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const g of this.groups.values()) {
      if (!lagging(g, newSeq)) continue;
      const w = new ByteWriter(64 + g.liveBytes());
      w.u8(recordGroup);
      w.u32(g.id);
      w.u8(flagEntries);
      w.u64(g.compactedIndex + 1);
      w.u32(g.terms.length);
      for (let k = 0; k < g.terms.length; k++) {
        w.raw(this.readAt(g.segs[k] as number, g.poss[k] as number, g.lens[k] as number));
      }
      out.push(w.take());
    }
    return out;
  }

  /**
   * Makes segment last+1 the one written: the spare if it is ready and large enough, else
   * one made now. Its name is durable before it is used.
   */
  private newSegment(bytes: number): Segment {
    const seq = (this.segments.at(-1)?.seq ?? -1) + 1;
    // Room for the checkpoint and copied entries too, whatever they come to.
    const need = bytes + this.prefixBound(seq);
    const size = Math.max(this.segmentBytes, roundUp(need, 4096));
    const name = join(this.path, segmentFile(seq));
    let fd: number;
    let made = size;
    if (this.spare !== null && this.spare.size >= need) {
      made = this.spare.size;
      this.spare = null;
      renameSync(join(this.path, spareName), name);
      fd = openSync(name, "r+");
    } else {
      const tmp = join(this.path, `${segmentFile(seq)}.tmp`);
      fd = openSync(tmp, "w+");
      try {
        fillZeros(fd, 0, size);
        if (this.sync) fsyncSync(fd);
        renameSync(tmp, name);
      } catch (err) {
        closeQuietly(fd);
        rmQuietly(tmp);
        throw err;
      }
    }
    if (this.sync) syncFolder(this.path);
    const seg = { seq, fd, size: made };
    this.segments.push(seg);
    this.appendTo(seg, 0, noBytes);
    this.cursor = 0;
    this.chain = seedOf(seq);
    return seg;
  }

  /** An upper bound of the checkpoint and copied entries that begin a segment. */
  private prefixBound(seq: number): number {
    let n = 64;
    for (const g of this.groups.values()) {
      n += 128 + 4 * (g.marker.meta.conf.voters.length + g.marker.meta.conf.learners.length);
      if (lagging(g, seq)) n += 64 + g.liveBytes();
    }
    return n;
  }

  /** Makes the next segment's file off the event loop, to be renamed in when needed. */
  private prepareSpare(): void {
    const size = this.segmentBytes;
    const path = join(this.path, spareName);
    this.spareJob = (async () => {
      try {
        const file = await openAsync(path, "w");
        try {
          const zeros = Buffer.alloc(zeroChunkBytes);
          for (let at = 0; at < size && !this.closed; at += zeros.length) {
            await file.write(zeros, 0, Math.min(zeros.length, size - at), at);
          }
          if (this.sync && !this.closed) await file.sync();
        } finally {
          await file.close();
        }
        if (this.closed) rmQuietly(path);
        else this.spare = { size };
      } catch {
        // No spare (a full disk, say): the next segment is made when needed, and fails then.
        rmQuietly(path);
      } finally {
        this.spareJob = null;
      }
    })();
  }

  /** Deletes the segments before the oldest one a live entry is in. */
  private reclaim(): void {
    const current = this.segments.at(-1);
    if (current === undefined) return;
    let oldest = current.seq;
    for (const g of this.groups.values()) {
      if (g.segs.length > 0) oldest = Math.min(oldest, g.segs[0] as number);
    }
    while ((this.segments[0] as Segment).seq < oldest) {
      const seg = this.segments.shift() as Segment;
      closeQuietly(seg.fd);
      rmQuietly(join(this.path, segmentFile(seg.seq)));
    }
  }

  /** @internal */
  readAt(seq: number, pos: number, length: number): Buffer {
    const seg = this.segments.find((s) => s.seq === seq);
    if (seg === undefined) throw this.damaged(`segment ${seq} is gone`);
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = readSync(seg.fd, buf, done, length - done, pos + done);
      if (n === 0) throw this.damaged(`segment ${seq} ends before ${pos + length}`);
      done += n;
    }
    return buf;
  }

  /** @internal */
  readSnapshot(g: GroupState): Uint8Array {
    if (g.marker.bytes === 0) return new Uint8Array(0);
    const data = readFileSync(join(this.path, snapshotFile(g.id, g.marker.file)));
    if (data.length !== g.marker.bytes)
      throw this.damaged(`group ${g.id}'s snapshot is incomplete`);
    return new Uint8Array(data.buffer, data.byteOffset, data.length);
  }

  // ---- reading records: recovery and the commit path alike --------------------------------

  /**
   * Applies a frame's records (the frame's payload, at `base` in segment `seq`): at open,
   * and after a commit's write. Adds the snapshot files they replace to `replaced`.
   */
  private applyFrame(
    payload: Buffer,
    seq: number,
    base: number,
    live: boolean,
    replaced: string[],
  ): void {
    const count = payload.readUInt32BE(0);
    let at = 4;
    for (let k = 0; k < count; k++) {
      if (at + 4 > payload.length) throw new DecodeError("truncated frame");
      const len = payload.readUInt32BE(at);
      if (at + 4 + len > payload.length) throw new DecodeError("truncated frame");
      const record = payload.subarray(at + 4, at + 4 + len);
      this.applyRecord(record, seq, base + at + 4, live, replaced);
      at += 4 + len;
    }
  }

  private applyRecord(
    payload: Buffer,
    seq: number,
    pos: number,
    live: boolean,
    replaced: string[],
  ): void {
    const r = new ByteReader(payload);
    const type = r.u8();
    if (type === recordCheckpoint) {
      const count = r.u32();
      const listed = new Set<number>();
      for (let k = 0; k < count; k++) {
        const id = r.u32();
        const hard = readHard(r);
        const compactedIndex = r.u64();
        const compactedTerm = r.u64();
        const last = r.u64();
        const marker = readMarker(r);
        let g = this.groups.get(id);
        if (g === undefined) {
          g = new GroupState(id);
          this.groups.set(id, g);
        }
        g.hard = hard;
        g.marker = marker;
        g.reshape(compactedIndex, compactedTerm, last);
        listed.add(id);
      }
      for (const id of [...this.groups.keys()]) if (!listed.has(id)) this.groups.delete(id);
      return;
    }
    const id = r.u32();
    let g = this.groups.get(id);
    if (type === recordRemove) {
      if (g !== undefined && g.marker.file !== 0) replaced.push(snapshotFile(id, g.marker.file));
      g?.handle?.markClosed();
      this.groups.delete(id);
      return;
    }
    if (type !== recordGroup) throw new DecodeError(`unknown record type ${type}`);
    const flags = r.u8();
    if (g === undefined) {
      if ((flags & flagInstall) === 0) throw new DecodeError(`group ${id} written before made`);
      g = new GroupState(id);
      this.groups.set(id, g);
    }
    if ((flags & (flagInstall | flagImage)) !== 0) {
      const marker = readMarker(r);
      const install = (flags & flagInstall) !== 0;
      assert(
        install
          ? marker.meta.index >= g.marker.meta.index
          : marker.meta.index > g.marker.meta.index,
        "storage: snapshot older than ours",
      );
      if (g.marker.file !== 0 && g.marker.file !== marker.file) {
        replaced.push(snapshotFile(id, g.marker.file));
      }
      g.marker = marker;
      g.snapCached = null;
      this.nextFile = Math.max(this.nextFile, marker.file + 1);
      if (install) g.resetTo(marker.meta.index, marker.meta.term);
    }
    if ((flags & flagCompact) !== 0) {
      const index = r.u64();
      const term = r.u64();
      assert(index <= g.last && index <= g.marker.meta.index, "storage: compact beyond the log");
      if (index > g.compactedIndex) g.compactTo(index, term);
    }
    if ((flags & flagEntries) !== 0) {
      const first = r.u64();
      const count = r.u32();
      assert(first > g.compactedIndex, "storage: append below the compaction point");
      assert(first <= g.last + 1, "storage: append leaves a gap");
      g.truncate(first - 1);
      const max = this.entryCacheBytesMax;
      for (let k = 0; k < count; k++) {
        const at = r.position;
        const code = r.u8();
        const term = r.u64();
        const length = r.u32();
        if (code !== 0 && code !== 1) throw new DecodeError(`entry type ${code}`);
        r.skipTo(r.position + length);
        g.terms.push(term);
        g.segs.push(seq);
        g.poss.push(pos + at);
        g.lens.push(entryHeaderBytes + length);
        if (live && max > 0) {
          const data = payload.subarray(at + entryHeaderBytes, at + entryHeaderBytes + length);
          const type = code === 0 ? "normal" : "conf";
          g.pushCached({ term, index: first + k, type, data }, max);
        }
      }
      if (!live || max === 0) g.clearCache(g.last + 1);
    }
    if ((flags & flagHard) !== 0) {
      const hard = readHard(r);
      assert(hard.term >= g.hard.term, "storage: term went back");
      g.hard = hard;
    }
  }

  /**
   * Opens the folder: drops what a crash left half made, keeps the newest run of
   * consecutive segments, replays them, and deletes snapshot files no group names.
   */
  private recover(): void {
    const names = readdirSync(this.path);
    for (const n of names) if (n.endsWith(".tmp")) rmQuietly(join(this.path, n));
    const seqs = segmentSeqs(names);
    let from = seqs.length - 1;
    while (from > 0 && (seqs[from - 1] as number) === (seqs[from] as number) - 1) from--;
    for (const seq of seqs.slice(0, Math.max(0, from)))
      rmQuietly(join(this.path, segmentFile(seq)));
    for (const seq of seqs.slice(Math.max(0, from))) {
      const fd = openSync(join(this.path, segmentFile(seq)), "r+");
      this.segments.push({ seq, fd, size: fstatSync(fd).size });
    }
    for (const seg of this.segments) this.replay(seg, seg === this.segments.at(-1));
    for (const g of this.groups.values()) {
      if (g.segs.includes(-1)) throw this.damaged(`entries of group ${g.id} are missing`);
      g.clearCache(g.last + 1);
    }
    const named = new Set<string>();
    for (const g of this.groups.values()) {
      if (g.marker.file !== 0) named.add(snapshotFile(g.id, g.marker.file));
    }
    for (const n of names) {
      const m = snapshotName.exec(n);
      if (m === null) continue;
      this.nextFile = Math.max(this.nextFile, Number.parseInt(m[2] as string, 16) + 1);
      if (!named.has(n)) rmQuietly(join(this.path, n));
    }
    for (const n of named) {
      if (!names.includes(n)) throw this.damaged(`snapshot file ${n} is missing`);
    }
  }

  /**
   * Applies a segment's frames up to the first that is not whole. A torn write ends the
   * log there; in the segment written next, the rest of it is zeroed, so that nothing the
   * torn write left is read after later writes. Any other bad frame is damage: opening
   * fails rather than drop what follows it.
   */
  private replay(seg: Segment, last: boolean): void {
    const buf = readFileSync(join(this.path, segmentFile(seg.seq)));
    let at = 0;
    let chain = seedOf(seg.seq);
    while (at + frameHeaderBytes <= buf.length) {
      const len = buf.readUInt32BE(at);
      const end = at + frameHeaderBytes + len;
      const payload = buf.subarray(at + frameHeaderBytes, Math.min(end, buf.length));
      const crc = len > 0 && end <= buf.length ? crc32(payload, chain) : -1;
      if (crc !== buf.readUInt32BE(at + 4)) {
        if (!tornAt(buf, at)) throw this.damaged(`segment ${seg.seq} fails its check at ${at}`);
        break;
      }
      try {
        if (at === 0 && (payload.length < 9 || payload[8] !== recordCheckpoint)) {
          throw new DecodeError("the segment does not begin with a checkpoint");
        }
        this.applyFrame(payload, seg.seq, at + frameHeaderBytes, false, []);
      } catch (err) {
        if (err instanceof DecodeError || err instanceof AssertionError) {
          throw this.damaged(`segment ${seg.seq} at ${at}: ${err.message}`);
        }
        throw err;
      }
      chain = crc;
      at = end;
    }
    if (!last) return;
    this.cursor = at;
    this.chain = chain;
    if (!isZero(buf, at, buf.length)) {
      fillZeros(seg.fd, at, buf.length);
      if (this.sync) fdatasyncSync(seg.fd);
    }
    this.appendTo(seg, at, buf);
  }

  /** @internal */
  checkOpen(): void {
    if (this.closed) throw new StorageError("CLOSED", `raft log ${this.path} is closed`);
    if (this.brokenBy !== null) throw this.brokenBy;
  }

  /** @internal */
  damaged(what: string): StorageError {
    return new StorageError("OTHER", `raft log in ${this.path} is damaged: ${what}`);
  }
}

/**
 * One group's raft log in a WalRaftLogs: LogStorage for raft, plus the host's write side
 * (each call one commit) and persist() for a whole Ready.
 */
export class WalLogStorage extends ReadyLog implements LogStorage {
  private closed = false;

  /** @internal Use WalRaftLogs.openGroup. */
  constructor(
    readonly owner: WalRaftLogs,
    /** @internal */ readonly state: GroupState,
  ) {
    super();
  }

  get group(): number {
    return this.state.id;
  }

  hardState(): HardState {
    return this.state.hard;
  }

  snapshot(): Snapshot {
    this.checkOpen();
    const g = this.state;
    if (g.snapCached !== null && g.snapCached.meta === g.marker.meta) return g.snapCached;
    const snap = { meta: g.marker.meta, data: this.owner.readSnapshot(g) };
    if (g.marker.bytes <= this.owner.snapshotCacheBytesMax) g.snapCached = snap;
    return snap;
  }

  firstIndex(): number {
    return this.state.compactedIndex + 1;
  }

  lastIndex(): number {
    return this.state.last;
  }

  term(i: number): number | null {
    const g = this.state;
    if (i === g.compactedIndex) return g.compactedTerm;
    if (i < g.compactedIndex || i > g.last) return null;
    return g.terms[i - g.compactedIndex - 1] as number;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const g = this.state;
    assert(lo >= this.firstIndex() && hi <= g.last + 1, "storage: entries out of range");
    assert(lo < hi, "storage: empty entries range");
    this.checkOpen();
    const out: Entry[] = [];
    let bytes = 0;
    let i = lo;
    const fromDisk = Math.min(hi, g.cacheFrom);
    while (i < fromDisk) {
      // One read for a run of entries that lie one after another in one segment.
      const k0 = i - g.compactedIndex - 1;
      let k = k0;
      let runBytes = 0;
      do {
        const size = entryOverheadBytes + (g.lens[k] as number) - entryHeaderBytes;
        if (out.length + (k - k0) > 0 && bytes + runBytes + size > maxBytes) break;
        runBytes += size;
        k++;
      } while (
        k < fromDisk - g.compactedIndex - 1 &&
        g.segs[k] === g.segs[k - 1] &&
        g.poss[k] === (g.poss[k - 1] as number) + (g.lens[k - 1] as number)
      );
      if (k === k0) return out;
      const start = g.poss[k0] as number;
      const end = (g.poss[k - 1] as number) + (g.lens[k - 1] as number);
      const raw = this.owner.readAt(g.segs[k0] as number, start, end - start);
      for (let j = k0; j < k; j++) {
        const at = (g.poss[j] as number) - start;
        const code = raw[at];
        const length = raw.readUInt32BE(at + 9);
        if (code !== 0 && code !== 1) throw this.owner.damaged(`entry ${i} has type ${code}`);
        out.push({
          term: g.terms[j] as number,
          index: i,
          type: code === 0 ? "normal" : "conf",
          data: new Uint8Array(raw.buffer, raw.byteOffset + at + entryHeaderBytes, length),
        });
        i++;
      }
      bytes += runBytes;
    }
    for (; i < hi; i++) {
      const e = g.cached(i);
      const size = entryBytes(e);
      if (out.length > 0 && bytes + size > maxBytes) break;
      bytes += size;
      out.push(e);
    }
    return out;
  }

  // ---- the host's write side: each call is one commit ------------------------------------

  /** Persists a Ready: its snapshot, then its entries, then its hard state. */
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
    const g = this.state;
    assert(index > g.marker.meta.index, "storage: snapshot not newer");
    assert(index <= g.last, "storage: snapshot beyond the log");
    const term = this.term(index);
    assert(term !== null, "storage: snapshot index compacted");
    const image = { meta: { index, term, conf: copyConf(conf) }, data };
    this.owner.commit([{ group: g.id, image, compact: { index, term } }]);
    return this.snapshot();
  }

  /** Drops entries up to `index`, which must be covered by the snapshot. */
  compact(index: number): void {
    this.owner.checkOpen();
    this.checkOpen();
    const g = this.state;
    if (index <= g.compactedIndex) return;
    assert(index <= g.marker.meta.index, "storage: compacting past the snapshot");
    const term = this.term(index);
    assert(term !== null, "storage: compact beyond the log");
    this.owner.commit([{ group: g.id, compact: { index, term } }]);
  }

  /** Releases the group; it stays stored. */
  close(): Promise<void> {
    this.markClosed();
    if (this.state.handle === this) this.state.handle = null;
    return Promise.resolve();
  }

  /** @internal */
  markClosed(): void {
    this.closed = true;
  }

  /** @internal */
  checkOpen(): void {
    if (this.closed) {
      throw new StorageError("CLOSED", `raft log of group ${this.state.id} is closed`);
    }
  }
}

// ---- validation and encoding ---------------------------------------------------------------

/** A Ready's write as a change, checked against the group as persist() will apply it. */
function validWrite(g: GroupState, write: LogWrite): Change {
  const change: Change = { group: g.id };
  let compacted = g.compactedIndex;
  let last = g.last;
  if (write.snapshot) {
    assert(write.snapshot.meta.index >= g.marker.meta.index, "storage: snapshot older than ours");
    change.install = write.snapshot;
    compacted = write.snapshot.meta.index;
    last = compacted;
  }
  if (write.entries !== undefined && write.entries.length > 0) {
    const first = (write.entries[0] as Entry).index;
    assert(first > compacted, "storage: append below the compaction point");
    assert(first <= last + 1, "storage: append leaves a gap");
    write.entries.forEach((e, k) => {
      assert(e.index === first + k, "storage: entries not contiguous");
    });
    change.entries = write.entries;
  }
  if (write.hardState) {
    assert(write.hardState.term >= g.hard.term, "storage: term went back");
    change.hard = { ...write.hardState };
  }
  return change;
}

function writeHard(w: ByteWriter, hs: HardState): void {
  w.u64(hs.term);
  w.u32(hs.vote);
  w.u64(hs.commit);
}

function readHard(r: ByteReader): HardState {
  return { term: r.u64(), vote: r.u32(), commit: r.u64() };
}

function writeMarker(w: ByteWriter, m: Marker): void {
  w.u64(m.meta.index);
  w.u64(m.meta.term);
  w.u64(m.bytes);
  w.u64(m.file);
  for (const ids of [m.meta.conf.voters, m.meta.conf.learners]) {
    w.u32(ids.length);
    for (const id of ids) w.u32(id);
  }
}

function readMarker(r: ByteReader): Marker {
  const index = r.u64();
  const term = r.u64();
  const bytes = r.u64();
  const file = r.u64();
  const ids = (): number[] => {
    const n = r.u32();
    if (n * 4 > r.remaining) throw new DecodeError("truncated");
    return Array.from({ length: n }, () => r.u32());
  };
  const voters = ids();
  const learners = ids();
  return { meta: { index, term, conf: { voters, learners } }, bytes, file };
}

function encodeCheckpoint(groups: ReadonlyMap<number, GroupState>): Uint8Array {
  const w = new ByteWriter(64 + groups.size * 96);
  w.u8(recordCheckpoint);
  w.u32(groups.size);
  for (const g of groups.values()) {
    w.u32(g.id);
    writeHard(w, g.hard);
    w.u64(g.compactedIndex);
    w.u64(g.compactedTerm);
    w.u64(g.last);
    writeMarker(w, g.marker);
  }
  return w.take();
}

/**
 * One commit as one frame, chained from `chain`: length (u32), CRC (u32), then the
 * payload the CRC covers: the number of records (u32), and each record's length (u32) and
 * bytes. Returns the frame and its CRC.
 */
function frame(records: readonly Uint8Array[], chain: number): { buf: Buffer; crc: number } {
  const buf = Buffer.allocUnsafe(framedBytes(records));
  buf.writeUInt32BE(buf.length - frameHeaderBytes, 0);
  buf.writeUInt32BE(records.length, frameHeaderBytes);
  let at = frameHeaderBytes + 4;
  for (const r of records) {
    buf.writeUInt32BE(r.length, at);
    buf.set(r, at + 4);
    at += 4 + r.length;
  }
  const crc = crc32(buf.subarray(frameHeaderBytes), chain);
  buf.writeUInt32BE(crc, 4);
  return { buf, crc };
}

function framedBytes(records: readonly Uint8Array[]): number {
  let n = frameHeaderBytes + 4;
  for (const r of records) n += 4 + r.length;
  return n;
}

/**
 * Whether a frame that fails its check at `at` is a torn write rather than damage. A
 * segment's unwritten space is zeros, and a torn write is the last one: its length is
 * unwritten (zero) or runs past the file, or nothing but zeros follows where it says it
 * ends, or one of the disk sectors it spans is all zeros (written out of order; the test
 * etcd's WAL makes). Damage is a frame with written frames after it.
 */
function tornAt(buf: Buffer, at: number): boolean {
  const len = buf.readUInt32BE(at);
  const end = at + frameHeaderBytes + len;
  if (len === 0 || end > buf.length || isZero(buf, end, buf.length)) return true;
  for (let from = at; from < end; ) {
    const to = Math.min(end, (Math.floor(from / sectorBytes) + 1) * sectorBytes);
    if (isZero(buf, from, to)) return true;
    from = to;
  }
  return false;
}

const zeroPage = Buffer.alloc(64 * 1024);

function isZero(buf: Buffer, from: number, to: number): boolean {
  for (let at = from; at < to; at += zeroPage.length) {
    const n = Math.min(zeroPage.length, to - at);
    if (buf.compare(zeroPage, 0, n, at, at + n) !== 0) return false;
  }
  return true;
}

/** Whether a group's live entries are to be copied into the new segment `seq`. */
function lagging(g: GroupState, seq: number): boolean {
  return (
    g.segs.length > 0 &&
    (g.segs[0] as number) <= seq - segmentsBehindMax &&
    g.liveBytes() <= copyForwardBytesMax
  );
}

function isOpen(g: GroupState | undefined): boolean {
  return g !== undefined && g.handle !== null;
}

function seedOf(seq: number): number {
  return seq % 0x1_0000_0000;
}

/** Folders this process has open (a lock file names the process, not the instance). */
const lockedHere = new Set<string>();
const lockName = "LOCK";

/**
 * Takes the folder for this process: a LOCK file holding our pid, made exclusively. One
 * left by a process that is gone is taken over; one held by a live process (or by another
 * open instance in this one) is refused, since two writers would interleave their frames.
 */
function lockFolder(folder: string): void {
  const path = resolve(folder);
  const file = join(path, lockName);
  if (lockedHere.has(path)) {
    throw new StorageError("EACCES", `raft log folder ${path} is already open in this process`);
  }
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(file, "wx");
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      lockedHere.add(path);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw err;
    }
    const holder = Number.parseInt(readFileSync(file, "utf8"), 10);
    if (Number.isInteger(holder) && holder !== process.pid && alive(holder)) {
      throw new StorageError(
        "EACCES",
        `raft log folder ${path} is in use by process ${holder} (another node on the same data folder?)`,
      );
    }
    rmQuietly(file);
  }
}

function unlockFolder(folder: string): void {
  const path = resolve(folder);
  if (!lockedHere.delete(path)) return;
  rmQuietly(join(path, lockName));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The sequence numbers of the segment files among `names`, ascending. */
function segmentSeqs(names: readonly string[]): number[] {
  return names
    .filter((n) => segmentName.test(n))
    .map((n) => Number.parseInt(n.slice(0, 16), 16))
    .sort((a, b) => a - b);
}

export function segmentFile(seq: number): string {
  return `${seq.toString(16).padStart(16, "0")}.wal`;
}

function snapshotFile(group: number, file: number): string {
  return `snap-${group.toString(16).padStart(8, "0")}-${file.toString(16).padStart(16, "0")}.bin`;
}

/** Writes zeros over [from, to) of the file. */
function fillZeros(fd: number, from: number, to: number): void {
  const zeros = Buffer.alloc(Math.min(Math.max(0, to - from), zeroChunkBytes));
  for (let at = from; at < to; at += zeros.length) {
    writeFully(fd, zeros.subarray(0, Math.min(zeros.length, to - at)), at);
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed, or the file system is gone: nothing left to release.
  }
}

function rmQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    rmSync(path, { force: true });
  }
}

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { type Database, open, type RootDatabase, TransactionFlags } from "lmdb";
import { assert } from "../core/assert.js";
import type { Random } from "../core/random.js";
import { replaceFile, syncFile, syncFolder } from "./files.js";
import { KEY_HASH_MAX, keyHash, writeKeyHash } from "./key-hash.js";
import {
  decodeValue,
  encodeValue,
  fastBuffer,
  headerBytes,
  recordKey,
  snapshotOf,
} from "./lmdb.js";
import { chooseWriteMap, MapReserve } from "./map-reserve.js";
import { MemoryBackend } from "./memory.js";
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
import { type HashedKey, StorageError, type StoredValue } from "./types.js";

/**
 * The key spaces of the shards a node holds a replica of, all in ONE store per node, each
 * shard seen through its own `KeyStore` (a `ShardStore`) that the kv handlers use as they
 * use the single-node store. A shard is a set of hash-slot ranges; a slot is served by at
 * most one open shard on a node.
 *
 * Durability. A shard's state is a raft state machine: raft's log, synced before anything
 * is acknowledged, is the durable record, and the key space is a materialised view of it.
 * So the key space is NOT synced per commit. What it guarantees instead is that each
 * commit is atomic and carries the machine's `AppliedMark` (applied index, time): after a
 * crash a shard reopens at some committed batch whose mark matches its keys exactly, and
 * the raft host re-applies the committed entries after the mark. A crash of the machine,
 * not just the process, may take the store back further, never to a torn state: with
 * synced commits (noMetaSync) by at most the last commit; without syncs (the server's
 * choice, see LmdbShardSpaceOptions.bootId) the space is found open from an earlier boot,
 * deleted whole, and each shard starts empty, rebuilt from its raft log's snapshot and
 * entries.
 *
 * Writes go through `OverlayStore` (group commit): the handlers' writes are visible at
 * once and committed by `flush()`; the machine flushes after an apply, one flush at a
 * time (the writes applied meanwhile wait for the next). On LMDB the flushes of every
 * shard made in one synchronous run (one multi-raft flush applies all groups) share one
 * LMDB transaction.
 */

/** Redis Cluster's slot count (cluster/slots.ts SLOT_COUNT; storage cannot import cluster). */
const slotsMax = 16_384;
const shardIdMax = 0xffff_ffff;

/** Slots `from` to `to`, both included. */
export interface SlotRange {
  readonly from: number;
  readonly to: number;
}

/** Every slot: a shard that serves the whole key space (one-shard clusters, tests). */
export const ALL_SLOTS: readonly SlotRange[] = Object.freeze([
  Object.freeze({ from: 0, to: slotsMax - 1 }),
]);

/**
 * What a shard's state machine stores atomically with each batch: the last log index whose
 * effects the batch completes, and the machine's command time at that index.
 */
export interface AppliedMark {
  readonly index: number;
  readonly nowMs: number;
}

/** A shard-slots record: key count (u32), stored bytes (f64). */
const slotRecordBytes = 12;

const NO_MARK: AppliedMark = Object.freeze({ index: 0, nowMs: 0 });

/** The key's hash slot (Redis's CRC16 with hash tags: pass cluster/slots.ts keyHashSlot). */
export type SlotOf = (key: Uint8Array) => number;

/** The durable part of one shard's key space: a `Backend` that also keeps the mark. */
export interface ShardBackend extends Backend {
  readonly shard: number;
  /** Sorted, disjoint. */
  readonly slots: readonly SlotRange[];
  readonly slotOf: SlotOf;
  /** The mark committed with the last batch (NO_MARK for a new shard). */
  storedMark(): AppliedMark;
  /**
   * Where the mark stored with each batch comes from. Read when `commit` is called, which
   * OverlayStore does synchronously as it seals the batch: the mark then describes exactly
   * the writes made so far, all of which the batch holds.
   */
  setMarkSource(source: () => AppliedMark): void;
  /**
   * Bytes of this shard's data as stored (keys and encoded values, committed batches
   * only): what moving a replica of it copies. The balance reconciler evens it per node.
   */
  dataBytes(): number;
  /** The keys of `slot` (one of the shard's) in committed batches, in no set order. */
  slotKeys(slot: number): IterableIterator<Buffer>;
  /**
   * The store is closing: commit its batches without waiting out the space's commit
   * interval (closing waits for them). Optional: a backend that commits at once has none.
   */
  beginClose?(): void;
}

/**
 * One shard's key space: the KeyStore its commands run against. Keys outside the shard's
 * slots must not be written (the machine refuses such commands before they run: see
 * `ownsSlot`); every listing (size, keysFrom, keysByHash, expiredKeys, randomKey) covers
 * this shard's keys only.
 */
export class ShardStore extends OverlayStore {
  readonly shard: number;
  readonly slots: readonly SlotRange[];
  /** The mark stored with the last batch committed before this store was opened. */
  readonly openedAt: AppliedMark;
  private readonly owned = new Uint8Array(slotsMax);

  constructor(private readonly shardBackend: ShardBackend) {
    super(shardBackend);
    this.shard = shardBackend.shard;
    this.slots = shardBackend.slots;
    this.openedAt = shardBackend.storedMark();
    for (const r of this.slots) this.owned.fill(1, r.from, r.to + 1);
  }

  /** Commits what it holds (at once, not at the space's next interval) and closes. */
  override async close(): Promise<void> {
    this.shardBackend.beginClose?.();
    await super.close();
  }

  /** Stores `source()` with every batch from now on (see ShardBackend.setMarkSource). */
  markWith(source: () => AppliedMark): void {
    this.shardBackend.setMarkSource(source);
  }

  slotOf(key: Uint8Array): number {
    return this.shardBackend.slotOf(key);
  }

  /**
   * The first key at or after a random point of the SCAN order (wrapping around). Replicas
   * must draw alike from alike seeds, and the overlay's own draw depends on what is flushed
   * and the backend's layout; the SCAN order depends on the keys alone. Keys after a wide
   * gap of hashes are drawn more often, as keys in sparse buckets are by Redis.
   */
  override randomKey(random: Random): Buffer | undefined {
    if (this.size() === 0) return undefined;
    const from = Math.floor(random.next() * (KEY_HASH_MAX + 1));
    for (const { key } of this.keysByHash(from)) return key;
    for (const { key } of this.keysByHash(0)) return key;
    return undefined;
  }

  ownsSlot(slot: number): boolean {
    return this.owned[slot] === 1;
  }

  /**
   * Up to `max` keys of `slot`, one of this shard's (CLUSTER GETKEYSINSLOT, and with no
   * bound COUNTKEYSINSLOT): the committed ones the layers leave, then the layers' own.
   * It reads every key of the slot, which Redis keeps a list of; a slot holds 1/16,384 of
   * the key space.
   */
  keysInSlot(slot: number, max: number): Buffer[] {
    return this.keysAmong(
      this.shardBackend.slotKeys(slot),
      (key) => this.slotOf(key) === slot,
      max,
    );
  }

  /** The shard's stored data bytes, committed batches only (ShardBackend.dataBytes). */
  dataBytes(): number {
    return this.shardBackend.dataBytes();
  }
}

/** A node's store of shard key spaces: LmdbShardSpace, or its twin MemoryShardSpace. */
export interface ShardSpace {
  /**
   * Opens `shard`'s key space over `slots`. A shard already on disk must be opened with the
   * slots it was written with (changing a shard's slots means moving keys between shards:
   * not done yet). No slot may belong to another open shard.
   */
  openShard(shard: number, slots: readonly SlotRange[]): ShardStore;
  /** Deletes a shard's keys and mark (its replica left this node). Not while open. */
  dropShard(shard: number): void;
  /** Shards with a key space stored here, ascending. */
  shardIds(): number[];
  close(): Promise<void>;
}

/** Sorted, disjoint, validated copy of `slots`. */
export function normalizeSlots(slots: readonly SlotRange[]): SlotRange[] {
  const out = slots.map((r) => ({ from: r.from, to: r.to })).sort((a, b) => a.from - b.from);
  let last = -1;
  for (const r of out) {
    assert(
      Number.isInteger(r.from) && Number.isInteger(r.to) && r.from >= 0 && r.to < slotsMax,
      `shard store: bad slot range ${r.from}-${r.to}`,
    );
    assert(r.from <= r.to && r.from > last, `shard store: slot ranges overlap or are empty`);
    last = r.to;
  }
  return out;
}

function sameSlots(a: readonly SlotRange[], b: readonly SlotRange[]): boolean {
  return a.length === b.length && a.every((r, i) => r.from === b[i]?.from && r.to === b[i]?.to);
}

function checkShardId(shard: number): void {
  assert(Number.isInteger(shard) && shard >= 0 && shard <= shardIdMax, "shard store: bad shard id");
}

/** Which open shard serves each slot, so two shards never claim one. */
class SlotOwners {
  private readonly owner = new Float64Array(slotsMax).fill(-1);

  claim(shard: number, slots: readonly SlotRange[]): void {
    for (const r of slots) {
      for (let s = r.from; s <= r.to; s++) {
        const o = this.owner[s] as number;
        assert(o === -1, `shard store: slot ${s} is already served by open shard ${o}`);
      }
    }
    for (const r of slots) this.owner.fill(shard, r.from, r.to + 1);
  }

  release(slots: readonly SlotRange[]): void {
    for (const r of slots) this.owner.fill(-1, r.from, r.to + 1);
  }
}

// ---- LMDB ----------------------------------------------------------------------------------

/**
 * Keys up to this length are stored as they are (after the 2-byte slot); longer ones under
 * their first bytes followed by a SHA-256 of the whole key, with the whole key in the
 * value (as lmdb.ts does: LMDB's key limit is 1978 bytes, and index keys add 12 more).
 */
const directKeyBytesMax = 1900;
const hashedPrefixBytes = directKeyBytesMax + 1 - 32;

const EMPTY = Buffer.alloc(0);
const FORMAT_KEY = Buffer.from("format");
const formatVersion = 1;
/** lastBatch (f64), applied index (u64 as f64), nowMs (f64), range count (u16), ranges. */
const metaFixedBytes = 8 + 8 + 8 + 2;

/**
 * ABORTABLE so that a throw aborts the transaction; committed before transactionSync
 * returns. The environment (see the constructor) is opened with noMetaSync: a commit
 * syncs its data pages once and leaves the meta page to the next commit, which keeps the
 * environment intact after a machine crash and loses at most the last transaction,
 * which the raft log (the durable record) re-applies. Opened with a boot id, the
 * environment has noSync instead and the flag syncs nothing.
 *
 * Not overlappingSync: with it (and NO_SYNC_FLUSH), under 200 concurrent writers a
 * commit failed with MDB_BAD_TXN "reserved freelist had a data entry with zero-size" in
 * lmdb-js's free-space code, in 6 of 10 benchmark runs, and the node had to restart.
 */
const commitFlags = TransactionFlags.ABORTABLE | TransactionFlags.SYNCHRONOUS_COMMIT;

/**
 * Pages that opening the space may write (with the write map, see map-reserve.ts): the
 * five databases' records in the main tree and checkFormat's record, with room to spare.
 */
const openPagesMax = 64;

export interface LmdbShardSpaceOptions {
  /**
   * Folder holding data.mdb, lock.mdb and sync-state; created if missing. Not the raft
   * logs' folder.
   */
  path: string;
  slotOf: SlotOf;
  /**
   * Least time between the starts of two commits; the batches handed in meanwhile wait
   * and share the later one. Default 0: each commit starts in the turn after the first
   * batch it carries (the next one once the one in flight is done). See
   * shardCommitIntervalMs for what the server uses.
   */
  commitIntervalMs?: number;
  /** A commit starts early, interval or not, once the batches waiting hold this many writes. */
  commitWritesMax?: number;
  /**
   * A commit starts early, interval or not, once the batches waiting, or the writes
   * gathering in one shard's store, hold this many bytes of keys and values (default
   * shardCommitBytesMax): big values do not pile up in memory for a whole interval.
   */
  commitBytesMax?: number;
  /**
   * @internal Longest the staging of a commit holds the event loop at a time (default
   * stageSliceMs): tests pass 0 to pause it at every look at the clock, or Infinity to
   * stage in one turn.
   */
  stageSliceMs?: number;
  /**
   * The machine's boot id (files.ts machineBootId). Given, the environment is opened
   * without syncs (noSync): a commit is written to the page cache, which a crash of the
   * process keeps, and the space is synced in the background every syncIntervalMs and at
   * close. The `sync-state` file records the boot the space was opened in and whether it
   * was closed; a space found open from an earlier boot (the machine went down with it
   * open) may be torn, so it is deleted and its shards start empty: the raft logs, which
   * hold every shard's snapshot and the entries after it, build them again (see
   * `discarded`). Not given: each commit is synced (noMetaSync), and a crash of the
   * machine loses at most the last one.
   */
  bootId?: string;
  /**
   * A commit failed (a full disk, an I/O error) after a run of successes: its batches
   * wait and are tried again (see commitQueued). For the log.
   */
  onCommitFailing?: (error: StorageError) => void;
  /** A commit went through after `failures` failed tries in a row. */
  onCommitResumed?: (failures: number) => void;
  /**
   * Write the pages through LMDB's write map where the file system allows it safely
   * (map-reserve.ts). Default true; false always writes them with `pwrite`.
   */
  writeMap?: boolean;
  /**
   * With the write map: free space on the file system that the data file's reserve of
   * zeros must leave (for the raft logs, see MapReserve). Default 0.
   */
  reserveKeepFreeBytes?: number;
  /**
   * With a boot id: after a commit, the environment is synced in the background (on a
   * libuv thread) if this many ms have passed since the last sync started. 0 (default):
   * only at close. See shardSyncIntervalMs for the server's value and why.
   */
  syncIntervalMs?: number;
}

/** Waits between the tries of a commit that failed: doubling from the first. */
const retryFirstMs = 100;
const retryMaxMs = 2000;

/**
 * A commit's staging holds the event loop no longer than this at a time: past it, the
 * staging goes on in the next turn, after the turn's I/O and raft flushes (commitQueued).
 * In one piece it took 1 ms at 1 writer and 5 ms at 50 (median, every 100 ms on every
 * node), and every write in flight on the node waited it out.
 */
const stageSliceMs = 0.25;
/** Writes staged between two looks at the clock. */
const stageCheckWrites = 16;

/**
 * The file in the space's folder that says how its writes may be trusted: the boot id
 * of the machine when the space was opened, then "open" or "closed" (synced at close).
 */
const syncStateFile = "sync-state";
const dataFile = "data.mdb";

/**
 * What the server gives commitIntervalMs. The key space is a view of the raft log, which
 * makes every acknowledged write durable, so its commits need not keep pace with the
 * writes: committing every 100 ms (or every 10,000 writes) instead of every event-loop
 * turn cut its syncs from ~115 to ≤10 a second per node under 200 writers, and lifted a
 * 3-node cluster's writes/s by 70% at 1 writer and ~25% at 50 (docs/benchmarks.md).
 * etcd commits its key space (bbolt) the same way: --backend-batch-interval 100 ms,
 * --backend-batch-limit 10,000. Once a commit's staging ran in slices between the event
 * loop's turns, a commit every second instead of every 100 ms cost 5–21% less CPU a
 * write at 50 writers (a B-tree page rewritten once for all the writes of the second that
 * land in it) and gave 3–24% more writes/s (docs/benchmarks.md, "The key space commits
 * every second"). A crash then re-applies up to a second of log (or 10,000 writes).
 */
export const shardCommitIntervalMs = 1000;
/**
 * What the server gives syncIntervalMs: 0, no sync but at close; the kernel writes the
 * pages back (after 30 s by default). Once LMDB reuses its free pages (see mergeOrdered
 * in overlay.ts) the dirty pages are at most the file, ~40 MB a node at 100,000 keys,
 * and a sync once a second wrote nearly all of it every second: 87–99 MB/s on the disk
 * at 50 writers against 18–26 MB/s without, each sync a burst of 20–45 ms that the raft
 * logs' fdatasyncs queued behind (p99 at 1 writer 3.49–3.72 ms against 2.70–3.05). It
 * was chosen (1 s) while an open read pinned LMDB's pages, when every commit wrote new
 * pages and the kernel's own writeback came in bursts of a gigabyte (docs/cluster.md).
 */
export const shardSyncIntervalMs = 0;

/** The default commitWritesMax: etcd's backend batch limit. */
export const shardCommitWritesMax = 10_000;
/**
 * The default commitBytesMax: with a commit at most every second, a bound on the keys and
 * values waiting, whatever the values' sizes. Batches queued for the next commit past it
 * start that commit, and so does a shard's pending layer past it (Backend.hurry): what is
 * held is then about this much in the commit in flight, plus, in each shard's store, at
 * most this much gathering meanwhile.
 */
export const shardCommitBytesMax = 64 * 1024 * 1024;

/** A batch handed to commit, waiting for the space's next transaction. */
interface Queued {
  backend: LmdbShardBackend;
  batch: WriteBatch;
  chain: BatchChain;
  mark: AppliedMark;
  resolve: () => void;
  reject: (e: StorageError) => void;
}

/** What one transaction does to one shard, applied to memory once it has committed. */
interface Staged {
  lastBatch: number;
  mark: AppliedMark;
  keys: number;
  expiring: number;
  /** Change in the shard's stored bytes (see ShardBackend.dataBytes). */
  bytes: number;
}

/** What one transaction changes in one slot's key count and stored bytes. */
interface SlotDelta {
  keys: number;
  bytes: number;
}
type SlotDeltas = Map<number, SlotDelta>;

function addDelta(deltas: SlotDeltas, slot: number, keys: number, bytes: number): void {
  const d = deltas.get(slot);
  if (d === undefined) deltas.set(slot, { keys, bytes });
  else {
    d.keys += keys;
    d.bytes += bytes;
  }
}

/** A database's tree as committed: for CommitWrites.pagesBound. */
interface TreeShape {
  readonly depth: number;
  /** Branch and leaf pages (not overflow pages). */
  readonly pages: number;
}

/**
 * A data key and record this long or shorter are in their leaf at any page size LMDB
 * uses (4 KiB and up; its node limit is about half a page).
 */
const inlineRecordMax = 4096 / 2 - 64;

/** Past this many pages (64 MiB of 4 KiB pages), CommitWrites.pagesBound assumes. */
const worstPagesMax = 16_384;

/**
 * One commit's writes, worked out on the event loop and carried out on lmdb-js's writer
 * thread (see LmdbShardSpace.commitQueued). What the staging reads must include what the
 * same commit already wrote, which the committed state it reads from does not have yet:
 * the data records written (or deleted) so far, and the shards cleared.
 */
class CommitWrites {
  private readonly dbs: Database<Buffer, Buffer>[] = [];
  private readonly keys: Buffer[] = [];
  private readonly values: (Buffer | null)[] = [];
  /**
   * Data records this commit wrote, by data key (Latin-1); null where it deleted one. Only
   * of shards with more than one batch in the commit (sharedShards): a batch writes a key
   * once, so only a later batch of the same shard can meet a key written before it. Most
   * commits have one batch per shard, and at 50 writers the map's upkeep was 2% of a
   * node's CPU.
   */
  private readonly records = new Map<string, Buffer | null>();
  /** Shards with more than one batch in this commit (shareShards). */
  private readonly sharedShards = new Set<number>();
  /** Shards this commit cleared: none of their committed keys is left. */
  readonly cleared = new Set<number>();
  /** Data records written no longer than the one they replace (see pagesBound). */
  private steady = 0;

  constructor(private readonly data: Database<Buffer, Buffer>) {}

  get size(): number {
    return this.dbs.length;
  }

  /** Notes the shards of which `shards` (one per batch) holds more than one batch. */
  shareShards(shards: Iterable<number>): void {
    const seen = new Set<number>();
    for (const shard of shards) {
      if (seen.has(shard)) this.sharedShards.add(shard);
      else seen.add(shard);
    }
  }

  put(db: Database<Buffer, Buffer>, key: Buffer, value: Buffer): void {
    this.dbs.push(db);
    this.keys.push(key);
    this.values.push(value);
  }

  remove(db: Database<Buffer, Buffer>, key: Buffer): void {
    this.dbs.push(db);
    this.keys.push(key);
    this.values.push(null);
  }

  /**
   * Writes (or, with null, deletes) a data record of `shard` and, if the shard has more
   * batches in this commit, remembers it for record(). `old` is the record it replaces, if
   * any.
   */
  setRecord(dk: Buffer, shard: number, record: Buffer | null, old?: Buffer): void {
    if (
      record !== null &&
      old !== undefined &&
      record.length <= old.length &&
      dk.length + old.length <= inlineRecordMax
    ) {
      this.steady++;
    }
    if (this.sharedShards.has(shard)) this.records.set(dk.toString("latin1"), record);
    if (record === null) this.remove(this.data, dk);
    else this.put(this.data, dk, record);
  }

  /**
   * The data record under `dk` as this commit leaves it so far. A committed one is
   * lmdb-js's shared read buffer: read it before the next read.
   */
  record(dk: Buffer, shard: number): Buffer | undefined {
    if (this.records.size > 0 && this.sharedShards.has(shard)) {
      const mine = this.records.get(dk.toString("latin1"));
      if (mine !== undefined) return mine ?? undefined;
    }
    return this.cleared.has(shard) ? undefined : fastBuffer(this.data.getBinaryFast(dk));
  }

  /**
   * How many pages the transaction carrying these writes can take beyond the last page in
   * use (see map-reserve.ts), given each database's tree as committed. First the worst
   * case, per database: each existing page copied once at most (a write copies its path,
   * a delete its path and a sibling per level); each write that may make its leaf fuller
   * (an insert, a longer record) splitting its whole path and adding a level; each value
   * too big for a leaf taking overflow pages of its own; then the free list's record of
   * the pages freed. Measured, a commit takes a third of that at most.
   *
   * For a big commit (a snapshot's restore: a whole shard in one transaction) that worst
   * case is far too much, 20 GB of zeros for a million keys that take 250 MB, which a
   * disk with room for the keys may not have. Past `worstPagesMax`, the bound assumes
   * instead that the pages the commit adds end at least a quarter full: four times the
   * bytes it adds to the leaves, the branches over them (a separator key per leaf, each
   * branch page a quarter full too), and each database's path. LMDB splits a page near
   * its middle, so only keys of very uneven sizes leave pages emptier; there, on a full
   * disk, a write could still land in a hole. A restore then needs free space for about
   * twice the shard's data, or waits for it.
   */
  pagesBound(shape: (db: Database<Buffer, Buffer>) => TreeShape, pageBytes: number): number {
    const per = new Map<
      Database<Buffer, Buffer>,
      { writes: number; growths: number; growBytes: number; keyMax: number }
    >();
    // LMDB keeps a node in its leaf up to about half a page (me_nodemax); a bigger one
    // has its value on overflow pages. Counted low here, which counts more as overflow.
    const inlineMax = pageBytes / 2 - 64;
    let overflow = 0;
    for (let i = 0; i < this.dbs.length; i++) {
      const db = this.dbs[i] as Database<Buffer, Buffer>;
      const key = this.keys[i] as Buffer;
      const value = this.values[i];
      let t = per.get(db);
      if (t === undefined) {
        t = { writes: 0, growths: 0, growBytes: 0, keyMax: 0 };
        per.set(db, t);
      }
      t.writes++;
      if (value === null || value === undefined) continue;
      t.growths++;
      if (key.length > t.keyMax) t.keyMax = key.length;
      // A leaf node: an 8-byte header, the key, and the value or its overflow page's number.
      if (key.length + value.length > inlineMax) {
        overflow += Math.ceil((value.length + 16) / pageBytes);
        t.growBytes += 16 + key.length;
      } else t.growBytes += 8 + key.length + value.length;
    }
    const data = per.get(this.data);
    // A steady record takes no more room in its leaf than the one it replaces.
    if (data !== undefined) data.growths -= this.steady;
    let worst = overflow;
    let likely = overflow;
    for (const [db, t] of per) {
      const s = shape(db);
      const copied = Math.min(s.pages + 1, t.writes * 2 * Math.max(1, s.depth));
      worst += copied + t.growths * (s.depth + 2);
      const leaves = Math.ceil((4 * t.growBytes) / pageBytes);
      const branches = Math.ceil((4 * leaves * (16 + t.keyMax)) / pageBytes);
      likely += copied + leaves + branches + s.depth + 2;
    }
    const pages = worst <= worstPagesMax ? worst : Math.min(worst, Math.max(worstPagesMax, likely));
    // The free list's records (8 bytes a freed page), the main database's records of
    // the five trees, and the meta page.
    return pages + Math.ceil(pages / 256) + 64;
  }

  /**
   * Queues the writes, in order: inside the root's batch(), or with `sync` inside a
   * synchronous transaction.
   */
  issue(sync = false): void {
    for (let i = 0; i < this.dbs.length; i++) {
      const db = this.dbs[i] as Database<Buffer, Buffer>;
      const key = this.keys[i] as Buffer;
      const value = this.values[i];
      if (value === null || value === undefined) {
        if (sync) db.removeSync(key);
        else db.remove(key);
      } else if (sync) db.putSync(key, value);
      else db.put(key, value);
    }
  }
}

/**
 * The key spaces of all shards of a node in one LMDB environment. Layout (integers
 * big-endian; "dk" is a data key):
 *
 *   shard-data     slot (u16) ++ key           → type, flags, expiry (f64), [key], data
 *   shard-hashes   shard (u32) ++ keyHash (6) ++ dk → empty   SCAN order, per shard
 *   shard-expires  shard (u32) ++ expiry (f64) ++ dk → empty   expiry order, per shard
 *   shard-slots    slot (u16)                  → key count (u32), stored bytes (f64), for
 *                                                 non-empty slots (older folders: the count
 *                                                 alone; the bytes are counted at open)
 *   shard-meta     shard (u32)                 → last batch, applied index, nowMs, slots
 *                  "format"                    → layout version
 *
 * Data is keyed by slot, so a slot range is one key range (snapshot, move, drop by
 * slots), and a key's place does not depend on which shard serves it. The SCAN and expiry
 * indexes are keyed by shard, so a shard walks its own keys without visiting others'.
 * Listing a shard's keys in byte order (KEYS) merges its non-empty slots.
 *
 * The batches every shard hands to commit during one synchronous run are committed in one
 * transaction, in a microtask right after it.
 */
export class LmdbShardSpace implements ShardSpace {
  readonly path: string;
  readonly slotOf: SlotOf;
  /** @internal */ readonly root: RootDatabase;
  /** @internal */ readonly data: Database<Buffer, Buffer>;
  /** @internal */ readonly hashes: Database<Buffer, Buffer>;
  /** @internal */ readonly expires: Database<Buffer, Buffer>;
  /** @internal */ readonly slotCounts: Database<Buffer, Buffer>;
  /** @internal */ readonly meta: Database<Buffer, Buffer>;
  /** @internal Keys per slot, as committed. */
  readonly slotKeys = new Uint32Array(slotsMax);
  /** @internal Bytes of the slot's data records (keys and encoded values), as committed. */
  readonly slotBytes = new Float64Array(slotsMax);
  /**
   * Totals since open: transactions committed, the shard batches they carried,
   * transactions that failed (their batches were tried again), background syncs
   * (syncIntervalMs) done and failed, and the turns of the event loop the stagings let
   * go by (stageAll).
   */
  readonly stats = {
    commits: 0,
    batches: 0,
    commitFailures: 0,
    syncs: 0,
    syncFailures: 0,
    stagePauses: 0,
  };
  private readonly shards = new Map<number, LmdbShardBackend>();
  private readonly owners = new SlotOwners();
  private queue: Queued[] = [];
  /** Writes in the queued batches (see commitWritesMax). */
  private queuedWrites = 0;
  /** Key and value bytes in the queued batches (see commitBytesMax). */
  private queuedBytes = 0;
  private scheduled = false;
  /** The timer of a commit waiting out commitIntervalMs, or null. */
  private timer: NodeJS.Timeout | null = null;
  /** The next commit must not wait out the interval (see expedite). */
  private urgent = false;
  /** Date.now() when the last commit started. */
  private lastCommitAt = Number.NEGATIVE_INFINITY;
  private readonly commitIntervalMs: number;
  private readonly commitWritesMax: number;
  /** @internal */
  readonly commitBytesMax: number;
  private readonly stageSliceMs: number;
  /** The commit in flight (see commitQueued), or null. */
  private committing: Promise<void> | null = null;
  /** Failed commits in a row; the next try waits until retryAt (Date.now() ms). */
  private failures = 0;
  private retryAt = 0;
  /**
   * Date.now() when the last background sync started; one runs at a time, and `syncing`
   * settles when it ends. close() waits for it: lmdb-js's sync worker uses the
   * environment without holding it open, so closing under it crashes the process.
   */
  private lastSyncAt = 0;
  private syncing: Promise<void> | null = null;
  private syncFailing = false;
  private readonly syncIntervalMs: number;
  /** close() has begun: a failed commit is given up, not tried again. */
  private closing = false;
  private closed = false;
  private readonly onCommitFailing: ((error: StorageError) => void) | undefined;
  private readonly onCommitResumed: ((failures: number) => void) | undefined;
  /** Set when the environment has no syncs of its own (see LmdbShardSpaceOptions.bootId). */
  private readonly bootId: string | null;
  /** The zero-filled end of the data file, when it is written through the map; else null. */
  private readonly reserve: MapReserve | null = null;
  /** Why the space does without the write map, or null if it uses it. */
  readonly writeMapOff: string | null;
  /** The page the commit in flight cannot reach (MapReserve.ensure). */
  private reservedEnd = 0;
  /**
   * Why the folder's environment was deleted at open (it was left open by an earlier
   * boot of the machine and written without syncs), or null if it was kept. Its shards
   * start empty and their raft logs rebuild them.
   */
  readonly discarded: string | null;

  constructor(options: LmdbShardSpaceOptions) {
    this.path = options.path;
    this.slotOf = options.slotOf;
    this.commitIntervalMs = options.commitIntervalMs ?? 0;
    this.commitWritesMax = options.commitWritesMax ?? shardCommitWritesMax;
    this.commitBytesMax = options.commitBytesMax ?? shardCommitBytesMax;
    this.stageSliceMs = options.stageSliceMs ?? stageSliceMs;
    assert(
      Number.isFinite(this.commitIntervalMs) && this.commitIntervalMs >= 0,
      "shard space: bad commitIntervalMs",
    );
    assert(
      Number.isSafeInteger(this.commitWritesMax) && this.commitWritesMax > 0,
      "shard space: bad commitWritesMax",
    );
    assert(
      Number.isSafeInteger(this.commitBytesMax) && this.commitBytesMax > 0,
      "shard space: bad commitBytesMax",
    );
    this.bootId = options.bootId ?? null;
    this.onCommitFailing = options.onCommitFailing;
    this.onCommitResumed = options.onCommitResumed;
    this.syncIntervalMs = options.syncIntervalMs ?? 0;
    assert(
      Number.isFinite(this.syncIntervalMs) && this.syncIntervalMs >= 0,
      "shard space: bad syncIntervalMs",
    );
    try {
      mkdirSync(options.path, { recursive: true });
      this.discarded = this.bootId === null ? null : this.checkSyncState(this.bootId);
      const writeMap =
        options.writeMap === false ? { off: "turned off" } : chooseWriteMap(options.path);
      this.writeMapOff = "off" in writeMap ? writeMap.off : null;
      this.root = open({
        path: options.path,
        maxDbs: 8,
        overlappingSync: false,
        ...(this.bootId === null ? { noMetaSync: true } : { noSync: true }),
        // Off: with it, lmdb-js batches each event-loop turn's writes under a promise of
        // its own that no caller holds, and when a commit fails (a full disk) that promise
        // rejects unheard, which stops the node. This space queues its own batches.
        eventTurnBatching: false,
        ...("mapBytes" in writeMap ? { useWritemap: true, mapSize: writeMap.mapBytes } : {}),
      });
      if ("mapBytes" in writeMap) {
        const env = this.envStats();
        this.reserve = new MapReserve(
          join(options.path, dataFile),
          env.pageSize,
          writeMap.mapBytes,
          env.lastPageNumber,
          options.reserveKeepFreeBytes ?? 0,
        );
        // Opening a database that is not there yet, and checkFormat, write pages.
        this.reserve.ensure(env.lastPageNumber + 1, openPagesMax);
      }
      const binary = { encoding: "binary", keyEncoding: "binary" } as const;
      this.data = this.root.openDB<Buffer, Buffer>("shard-data", binary);
      this.hashes = this.root.openDB<Buffer, Buffer>("shard-hashes", binary);
      this.expires = this.root.openDB<Buffer, Buffer>("shard-expires", binary);
      this.slotCounts = this.root.openDB<Buffer, Buffer>("shard-slots", binary);
      this.meta = this.root.openDB<Buffer, Buffer>("shard-meta", binary);
      this.checkFormat();
      for (const { key, value } of this.slotCounts.getRange({})) {
        const slot = (key as Buffer).readUInt16BE(0);
        const v = value as Buffer;
        this.slotKeys[slot] = v.readUInt32BE(0);
        this.slotBytes[slot] =
          v.length >= slotRecordBytes ? v.readDoubleBE(4) : this.countBytes(slot);
      }
    } catch (cause) {
      this.reserve?.close();
      throw toStorageError(cause, `cannot open the shard data folder ${options.path}`);
    }
  }

  /**
   * Before opening without syncs: deletes an environment that an earlier boot left open
   * (returns why), then records this boot, open, durably before any unsynced write.
   */
  private checkSyncState(bootId: string): string | null {
    assert(/^[\x21-\x7e]+$/.test(bootId), "shard space: bad boot id");
    let reason: string | null = null;
    if (existsSync(join(this.path, dataFile))) {
      const state = readSyncState(this.path);
      if (state === "garbled") reason = `its ${syncStateFile} file is unreadable`;
      else if (state?.open && state.bootId !== bootId) {
        reason = `it was open without syncs when the machine restarted (boot ${state.bootId})`;
      }
      // No file: written by a version that synced every commit, which a machine crash
      // leaves intact.
    }
    if (reason !== null) {
      for (const f of [dataFile, "lock.mdb"]) rmSync(join(this.path, f), { force: true });
      syncFolder(this.path);
    }
    writeSyncState(this.path, bootId, true);
    return reason;
  }

  /** The environment's page size and last page in use, as committed. */
  private envStats(): { pageSize: number; lastPageNumber: number } {
    // lmdb-js's getStats() is declared to return {}: it has the main database's stat and
    // the environment's info (mdb_stat, mdb_env_info).
    return this.root.getStats() as { pageSize: number; lastPageNumber: number };
  }

  /**
   * @internal With the write map: the last page in use, the page the last commit was
   * bounded by (MapReserve.ensure), and the bytes with their blocks; else null.
   */
  writeMapState(): { lastPage: number; boundEnd: number; reservedBytes: number } | null {
    if (this.reserve === null) return null;
    return {
      lastPage: this.envStats().lastPageNumber,
      boundEnd: this.reservedEnd,
      reservedBytes: this.reserve.reservedBytes,
    };
  }

  /** A database's tree as committed (CommitWrites.pagesBound). */
  private treeShape(db: Database<Buffer, Buffer>): TreeShape {
    const s = db.getStats() as {
      treeDepth: number;
      treeBranchPageCount: number;
      treeLeafPageCount: number;
    };
    return { depth: s.treeDepth, pages: s.treeBranchPageCount + s.treeLeafPageCount };
  }

  /**
   * With the write map: makes sure the transaction about to carry `writes` writes only
   * pages that have their blocks (map-reserve.ts), or throws the StorageError that fails
   * it. A commit (`sync` false, none in flight) may wait: the promise of when it may
   * start, its zeros being written on libuv's pool, or null if it may start now.
   * dropShard's synchronous transaction (`sync`) cannot: it throws instead, and while a
   * commit is in flight it starts past where that commit's reserve ends.
   */
  private reserveFor(writes: CommitWrites, sync: boolean): Promise<void> | null {
    const reserve = this.reserve;
    if (reserve === null) return null;
    const from = this.envStats().lastPageNumber + 1;
    const pages = writes.pagesBound((db) => this.treeShape(db), reserve.pageBytes);
    if (sync) {
      reserve.ensure(this.committing !== null ? Math.max(from, this.reservedEnd) : from, pages);
      return null;
    }
    const { end, ready } = reserve.reserve(from, pages);
    this.reservedEnd = end;
    return ready;
  }

  /** A slot's stored bytes, counted key by key (folders written before bytes were kept). */
  private countBytes(slot: number): number {
    let bytes = 0;
    for (const { key, value } of this.data.getRange(slotRange(slot))) {
      bytes += (key as Buffer).length + (value as Buffer).length;
    }
    return bytes;
  }

  private checkFormat(): void {
    const stored = this.meta.getBinary(FORMAT_KEY);
    if (stored === undefined) {
      const v = Buffer.alloc(4);
      v.writeUInt32BE(formatVersion, 0);
      this.root.transactionSync(() => this.meta.putSync(FORMAT_KEY, v), commitFlags);
      return;
    }
    const version = stored.readUInt32BE(0);
    if (version !== formatVersion) {
      throw new StorageError("OTHER", `shard data format ${version}, expected ${formatVersion}`);
    }
  }

  openShard(shard: number, slots: readonly SlotRange[]): ShardStore {
    this.checkOpen();
    checkShardId(shard);
    assert(!this.shards.has(shard), `shard store: shard ${shard} already open`);
    const ranges = normalizeSlots(slots);
    const stored = this.meta.getBinary(u32Key(shard));
    if (stored !== undefined) {
      assert(
        sameSlots(decodeMeta(stored).slots, ranges),
        `shard store: shard ${shard} was stored with other slots`,
      );
    }
    this.owners.claim(shard, ranges);
    const backend = new LmdbShardBackend(this, shard, ranges, stored);
    this.shards.set(shard, backend);
    return new ShardStore(backend);
  }

  dropShard(shard: number): void {
    this.checkOpen();
    assert(!this.shards.has(shard), `shard store: dropping open shard ${shard}`);
    const stored = this.meta.getBinary(u32Key(shard));
    if (stored === undefined) return;
    const slots = decodeMeta(stored).slots;
    const deltas: SlotDeltas = new Map();
    const writes = new CommitWrites(this.data);
    this.clearShard(shard, slots, deltas, writes);
    this.writeSlotCounts(deltas, writes);
    writes.remove(this.meta, u32Key(shard));
    this.reserveFor(writes, true);
    this.root.transactionSync(() => writes.issue(true), commitFlags);
    this.applySlotDeltas(deltas);
  }

  shardIds(): number[] {
    this.checkOpen();
    const out: number[] = [];
    for (const k of this.meta.getKeys({})) {
      const key = k as Buffer;
      if (key.length === 4) out.push(key.readUInt32BE(0));
    }
    return out;
  }

  /**
   * Bytes of the environment's file (all shards) in use: its pages up to the last one in
   * use, those free included. Not the zeros reserved past them (map-reserve.ts).
   */
  usedBytes(): number {
    try {
      const st = statSync(join(this.path, dataFile));
      const env = this.envStats();
      return Math.min(st.size, st.blocks * 512, (env.lastPageNumber + 1) * env.pageSize);
    } catch {
      return 0;
    }
  }

  /** Commits what is queued, then closes the environment; close the shards' stores first. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    while (this.committing !== null || this.queue.length > 0) {
      if (this.committing === null) this.commitQueued();
      await this.committing;
    }
    this.closed = true;
    for (const b of this.shards.values()) b.markClosed();
    this.shards.clear();
    if (this.syncing !== null) await this.syncing;
    this.reserve?.close();
    await this.root.close();
    if (this.bootId !== null) {
      // Every commit is in the page cache: sync the file, then say so. A failure leaves
      // the state "open", which after a restart of the machine means rebuilding.
      try {
        syncFile(join(this.path, dataFile));
        writeSyncState(this.path, this.bootId, false);
      } catch (cause) {
        throw toStorageError(cause, `cannot sync the shard data folder ${this.path}`);
      }
    }
  }

  /** @internal */
  enqueue(item: Queued): void {
    if (this.closed) {
      item.reject(new StorageError("CLOSED", "the shard space is closed"));
      return;
    }
    this.queue.push(item);
    this.count(item);
    const full =
      this.queuedWrites >= this.commitWritesMax || this.queuedBytes >= this.commitBytesMax;
    if (full || item.backend.closing) this.expedite();
    else if (!this.scheduled && this.committing === null) this.scheduleCommit();
  }

  /** Adds a queued batch to the counts commitWritesMax and commitBytesMax bound. */
  private count(item: Queued): void {
    this.queuedWrites += item.batch.entries.size;
    this.queuedBytes += item.batch.bytes ?? 0;
  }

  /**
   * The next commit starts without waiting out the interval: enough writes or bytes wait
   * (queued, or in a store's pending layer: hurry), or a closing store waits for its own.
   * One in flight already: the next starts right after.
   * @internal
   */
  expedite(): void {
    this.urgent = true;
    if (this.committing !== null || this.queue.length === 0) return;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
      this.scheduled = false;
    }
    if (!this.scheduled) this.scheduleCommit();
  }

  /**
   * The next commit: after this turn's replies have been written (the raft log, not this
   * environment, makes an applied write durable, so a client need not wait for this
   * commit, and the applies of the next turns join it), and no sooner than
   * commitIntervalMs after the last one started, unless commitWritesMax writes or
   * commitBytesMax bytes wait.
   */
  private scheduleCommit(): void {
    this.scheduled = true;
    const now = Date.now();
    const wait = Math.max(
      this.urgent ? 0 : this.lastCommitAt + this.commitIntervalMs - now,
      this.retryAt - now,
    );
    if (wait <= 0) {
      setImmediate(() => this.commitQueued());
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      this.commitQueued();
    }, wait);
  }

  /** @internal */
  release(backend: LmdbShardBackend): void {
    if (this.shards.get(backend.shard) !== backend) return;
    this.shards.delete(backend.shard);
    this.owners.release(backend.slots);
  }

  /**
   * All queued batches in one transaction; each settles as its chain allows. One commit
   * at a time: what is queued meanwhile waits for it and goes in the next (the staging
   * reads the committed counts, chain and records). This thread only works out the
   * writes (CommitWrites: reading each key's old record for the counts and indexes) and
   * queues them as one lmdb-js batch; the B-tree work, the commit and its sync run on
   * lmdb-js's writer thread. Staging inside a transaction callback with putSync, as
   * before, held the event loop 13–16 µs per write (1.4 ms per commit at 1 writer, 8 ms
   * at 50, 14–56 ms at 200: docs/cluster.md); the staging itself now runs in slices of
   * stageSliceMs (stageAll), and only the hand-over to lmdb-js is one piece.
   *
   * A transaction that fails (a full disk, an I/O error) changes nothing, on disk or in
   * memory: its batches go back to the head of the queue and are tried again, after
   * 100 ms, doubling up to 2 s, for as long as it takes. The writes stay served from the
   * stores' overlays meanwhile. They are applied raft entries, already acknowledged and
   * durable in the raft log, so failing them (the overlay's rollback) would lose what
   * clients were told is there. Only a batch of a store that is closing, or of a space
   * that is closing, is failed instead: its entries are re-applied from the raft log
   * after the next open.
   */
  private commitQueued(): void {
    this.scheduled = false;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.urgent = false;
    if (this.committing !== null || this.closed) return;
    const items = this.queue;
    this.queue = [];
    this.queuedWrites = 0;
    this.queuedBytes = 0;
    if (items.length === 0) return;
    this.lastCommitAt = Date.now();
    const staged = new Map<LmdbShardBackend, Staged>();
    const deltas: SlotDeltas = new Map();
    const refused: (StorageError | null)[] = [];
    const writes = new CommitWrites(this.data);
    writes.shareShards(items.map((item) => item.backend.shard));
    const done = this.stageAll(items, staged, deltas, refused, writes).then(() => {
      this.writeSlotCounts(deltas, writes);
      const reserved = this.reserveFor(writes, false);
      // Staged in full before anything is queued: a throw in the staging leaves nothing
      // half written.
      // While zeros are written first (reserved), no other transaction starts: dropShard
      // refuses, so what the staging read stays committed as it read it.
      return reserved === null
        ? this.root.batch(() => writes.issue())
        : reserved.then(() => this.root.batch(() => writes.issue()));
    });
    this.committing = done
      .then(
        () => this.settle(items, staged, deltas, refused),
        async (cause: unknown) => {
          const error = toStorageError(await commitCause(cause), `write to ${this.path} failed`);
          this.failed(items, error);
        },
      )
      .finally(() => {
        this.committing = null;
        if (this.queue.length > 0 && !this.scheduled && !this.closed) this.scheduleCommit();
      });
  }

  /**
   * Stages `items` into `writes`, stageSliceMs of the event loop at a time. Between the
   * slices nothing changes what the staging reads: no other commit starts while this one
   * is in flight, the batches staged are sealed, and their stores stay open until the
   * commit settles (OverlayStore.close waits for it); dropShard, which may commit
   * meanwhile, deletes only shards that are closed. Items not staged (behind a clear)
   * go back to the head of the queue, and `items` is cut to those staged.
   */
  private async stageAll(
    items: Queued[],
    staged: Map<LmdbShardBackend, Staged>,
    deltas: SlotDeltas,
    refused: (StorageError | null)[],
    writes: CommitWrites,
  ): Promise<void> {
    let sliceEnd = performance.now() + this.stageSliceMs;
    let n = 0;
    for (; n < items.length; n++) {
      const item = items[n] as Queued;
      // A clear reads the keys it deletes from the committed state, which must then be
      // all there is: it starts a commit of its own.
      if (item.batch.cleared && n > 0) break;
      const steps = this.stage(item, staged, deltas, writes);
      let step = steps.next();
      while (step.done !== true) {
        if (performance.now() >= sliceEnd) {
          await nextTurn();
          this.stats.stagePauses += 1;
          sliceEnd = performance.now() + this.stageSliceMs;
        }
        step = steps.next();
      }
      refused.push(step.value);
    }
    if (n < items.length) {
      for (const item of items.slice(n)) this.count(item);
      this.queue = items.slice(n).concat(this.queue);
      items.length = n;
      // They were due now: the next commit follows this one at once.
      this.urgent = true;
    }
  }

  /**
   * Starts a background sync if one is due (syncIntervalMs, without syncs per commit). A
   * sync that fails is reported as a failing commit: the next commits meet the same disk.
   */
  private maybeSync(): void {
    if (this.bootId === null || this.syncIntervalMs === 0 || this.syncing !== null) return;
    if (Date.now() - this.lastSyncAt < this.syncIntervalMs) return;
    this.lastSyncAt = Date.now();
    // lmdb-js's sync (mdb_env_sync on a libuv thread) is in its JavaScript API but not in
    // its type declarations.
    const root = this.root as unknown as { sync(done: (error: unknown) => void): void };
    this.syncing = new Promise((settled) =>
      root.sync((error) => {
        this.syncing = null;
        settled();
        if (error === null || error === undefined) {
          this.stats.syncs += 1;
          this.syncFailing = false;
          return;
        }
        this.stats.syncFailures += 1;
        if (!this.syncFailing)
          this.onCommitFailing?.(toStorageError(error, `sync of ${this.path} failed`));
        this.syncFailing = true;
      }),
    );
  }

  /** A transaction failed: its batches wait for the next try, or fail (see commitQueued). */
  private failed(items: readonly Queued[], error: StorageError): void {
    this.stats.commitFailures += 1;
    if (this.failures === 0) this.onCommitFailing?.(error);
    this.failures += 1;
    this.retryAt = Date.now() + Math.min(retryFirstMs * 2 ** (this.failures - 1), retryMaxMs);
    const again: Queued[] = [];
    for (const item of items) {
      if (this.closing || item.backend.closing) {
        item.reject(error);
        continue;
      }
      again.push(item);
      this.count(item);
    }
    this.queue = again.concat(this.queue);
  }

  private settle(
    items: readonly Queued[],
    staged: Map<LmdbShardBackend, Staged>,
    deltas: SlotDeltas,
    refused: readonly (StorageError | null)[],
  ): void {
    if (this.failures > 0) this.onCommitResumed?.(this.failures);
    this.failures = 0;
    this.retryAt = 0;
    this.stats.commits += 1;
    this.stats.batches += items.length;
    this.applySlotDeltas(deltas);
    for (const [backend, st] of staged) backend.committed(st);
    items.forEach((item, i) => {
      const error = refused[i];
      if (error === null || error === undefined) item.resolve();
      else item.reject(error);
    });
    this.maybeSync();
  }

  /** One item's staging, pausing every stageCheckWrites writes (stageAll); its refusal. */
  private *stage(
    item: Queued,
    staged: Map<LmdbShardBackend, Staged>,
    deltas: SlotDeltas,
    writes: CommitWrites,
  ): Generator<void, StorageError | null> {
    const b = item.backend;
    let st = staged.get(b);
    if (st === undefined) {
      st = { lastBatch: b.lastBatchId(), mark: b.storedMark(), keys: 0, expiring: 0, bytes: 0 };
      staged.set(b, st);
    }
    if (b.isClosed()) return new StorageError("CLOSED", `shard ${b.shard} is closed`);
    if (st.lastBatch !== item.chain.after) return notApplied(item.chain);
    const keysBefore = st.keys;
    const expiringBefore = st.expiring;
    if (item.batch.cleared) {
      // Relative to the committed counts, as every staged delta is: nothing is left.
      st.keys = -b.count();
      st.expiring = -b.expiringCount();
      st.bytes = -b.dataBytes();
      this.clearShard(b.shard, b.slots, deltas, writes);
    }
    let sinceCheck = 0;
    for (const w of item.batch.entries.values()) {
      b.stageWrite(w.key, w.value, st, deltas, writes);
      if (++sinceCheck === stageCheckWrites) {
        sinceCheck = 0;
        yield;
      }
    }
    // Read here, where each key's old record is read anyway: the overlay need not read them
    // again to count (OverlayStore.counts).
    item.batch.countsWorkedOut?.(st.keys - keysBefore, st.expiring - expiringBefore);
    st.lastBatch = item.chain.id;
    st.mark = item.mark;
    writes.put(this.meta, u32Key(b.shard), encodeMeta(st.lastBatch, item.mark, b.slots));
    return null;
  }

  /**
   * Deletes every key of `slots` and the shard's index entries. The first thing its
   * commit does (commitQueued): the committed keys are all the keys.
   */
  private clearShard(
    shard: number,
    slots: readonly SlotRange[],
    deltas: SlotDeltas,
    writes: CommitWrites,
  ) {
    assert(writes.size === 0, "shard space: a clear must begin its commit");
    for (const r of slots) {
      for (let s = r.from; s <= r.to; s++) {
        const count = this.slotKeys[s] as number;
        if (count === 0) continue;
        for (const k of this.data.getKeys(slotRange(s))) writes.remove(this.data, k as Buffer);
        addDelta(deltas, s, -count, -(this.slotBytes[s] as number));
      }
    }
    const range = shardRange(shard);
    for (const db of [this.hashes, this.expires]) {
      for (const k of db.getKeys(range)) writes.remove(db, k as Buffer);
    }
    writes.cleared.add(shard);
  }

  private writeSlotCounts(deltas: SlotDeltas, writes: CommitWrites): void {
    for (const [slot, delta] of deltas) {
      if (delta.keys === 0 && delta.bytes === 0) continue;
      const count = (this.slotKeys[slot] as number) + delta.keys;
      assert(count >= 0, `shard store: slot ${slot} count below zero`);
      if (count === 0) writes.remove(this.slotCounts, u16Key(slot));
      else {
        const v = Buffer.allocUnsafe(slotRecordBytes);
        v.writeUInt32BE(count, 0);
        v.writeDoubleBE(Math.max(0, (this.slotBytes[slot] as number) + delta.bytes), 4);
        writes.put(this.slotCounts, u16Key(slot), v);
      }
    }
  }

  private applySlotDeltas(deltas: SlotDeltas): void {
    for (const [slot, delta] of deltas) {
      const count = (this.slotKeys[slot] as number) + delta.keys;
      this.slotKeys[slot] = count;
      this.slotBytes[slot] =
        count === 0 ? 0 : Math.max(0, (this.slotBytes[slot] as number) + delta.bytes);
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new StorageError("CLOSED", "the shard space is closed");
  }
}

/** Slots whose first keys a keysFrom merge fetches at once; it doubles up to the max. */
const mergeBatchFirst = 4;
const mergeBatchMax = 256;

/** One shard's view of an LmdbShardSpace: the durable part of its ShardStore. */
class LmdbShardBackend implements ShardBackend {
  readonly slotOf: SlotOf;
  private keys = 0;
  private bytes = 0;
  private expiring: number;
  private lastBatch: number;
  private mark: AppliedMark;
  private markSource: () => AppliedMark;
  /** @internal Closing: its batches are committed without waiting out the interval. */
  closing = false;
  private closed = false;
  private readonly prefix: Buffer;

  constructor(
    private readonly space: LmdbShardSpace,
    readonly shard: number,
    readonly slots: readonly SlotRange[],
    stored: Buffer | undefined,
  ) {
    this.slotOf = space.slotOf;
    this.prefix = u32Key(shard);
    const meta = stored === undefined ? undefined : decodeMeta(stored);
    this.lastBatch = meta?.lastBatch ?? 0;
    this.mark = meta?.mark ?? NO_MARK;
    this.markSource = () => this.mark;
    for (const r of slots) {
      for (let s = r.from; s <= r.to; s++) {
        this.keys += space.slotKeys[s] as number;
        this.bytes += space.slotBytes[s] as number;
      }
    }
    this.expiring = space.expires.getKeysCount(shardRange(shard));
  }

  storedMark(): AppliedMark {
    return this.mark;
  }

  setMarkSource(source: () => AppliedMark): void {
    this.markSource = source;
  }

  private dataKey(key: Uint8Array): Buffer {
    return dataKeyOf(this.slotOf(key), key);
  }

  get(key: Buffer): StoredValue | undefined {
    const raw = fastBuffer(this.space.data.getBinaryFast(this.dataKey(key)));
    return raw === undefined ? undefined : decodeValue(raw);
  }

  peekExpiry(key: Buffer): number | undefined {
    return fastBuffer(this.space.data.getBinaryFast(this.dataKey(key)))?.readDoubleBE(2);
  }

  *slotKeys(slot: number): IterableIterator<Buffer> {
    if (this.space.slotKeys[slot] === 0) return;
    for (const dk of this.space.data.getKeys(slotRange(slot))) yield this.originalKey(dk as Buffer);
  }

  /** The shard's keys in byte order: a merge of its non-empty slots (see SlotMerge). */
  *keysFrom(start: Buffer | undefined): IterableIterator<Buffer> {
    const merge = new SlotMerge(
      this.space.data,
      start === undefined ? undefined : storedKey(start),
    );
    for (const r of this.slots) {
      for (let s = r.from; s <= r.to; s++) if (this.space.slotKeys[s] !== 0) merge.addSlot(s);
    }
    for (let dk = merge.next(); dk !== undefined; dk = merge.next()) yield this.originalKey(dk);
  }

  *keysByHash(fromHash: number): IterableIterator<HashedKey> {
    const start = Buffer.alloc(10);
    this.prefix.copy(start, 0);
    writeKeyHash(fromHash, start, 4);
    const { end } = shardRange(this.shard);
    for (const k of this.space.hashes.getKeys(end === undefined ? { start } : { start, end })) {
      const entry = k as Buffer;
      yield { hash: entry.readUIntBE(4, 6), key: this.originalKey(entry.subarray(10)) };
    }
  }

  expiredKeys(nowMs: number, limit: number): Buffer[] {
    const out: Buffer[] = [];
    if (limit <= 0) return out;
    for (const k of this.space.expires.getKeys(shardRange(this.shard))) {
      const entry = k as Buffer;
      if (entry.readDoubleBE(4) > nowMs) break;
      out.push(this.originalKey(entry.subarray(12)));
      if (out.length >= limit) break;
    }
    return out;
  }

  count(): number {
    return this.keys;
  }

  dataBytes(): number {
    return Math.max(0, this.bytes);
  }

  expiringCount(): number {
    return this.expiring;
  }

  /** Uniform: a random rank, found through the per-slot counts, then an offset in the slot. */
  randomKey(random: Random): Buffer | undefined {
    if (this.keys === 0) return undefined;
    let rank = random.int(this.keys);
    for (const r of this.slots) {
      for (let s = r.from; s <= r.to; s++) {
        const n = this.space.slotKeys[s] as number;
        if (rank >= n) {
          rank -= n;
          continue;
        }
        for (const k of this.space.data.getKeys({ ...slotRange(s), offset: rank, limit: 1 })) {
          return this.originalKey(k as Buffer);
        }
        return undefined;
      }
    }
    return undefined;
  }

  lastBatchId(): number {
    return this.lastBatch;
  }

  /** The shard's data records, slot range after slot range: by slot, then stored key. */
  snapshot(): BackendSnapshot {
    const ranges = this.slots.map((r) => ({ start: u16Key(r.from), end: u16Key(r.to + 1) }));
    return snapshotOf(
      this.space.root,
      this.space.data,
      ranges,
      (dk, raw) => recordKey(raw) ?? dk.subarray(2),
    );
  }

  placeOf(key: Buffer): Buffer {
    return this.dataKey(key);
  }

  /** The pending layer's bytes past which the store calls hurry(): commitBytesMax. */
  get hurryBytes(): number {
    return this.space.commitBytesMax;
  }

  /** The writes gathering in the store's pending layer are many: commit without waiting. */
  hurry(): void {
    this.space.expedite();
  }

  commit(batch: WriteBatch, chain: BatchChain): Promise<void> {
    const mark = this.markSource();
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new StorageError("CLOSED", `shard ${this.shard} is closed`));
        return;
      }
      this.space.enqueue({ backend: this, batch, chain, mark, resolve, reject });
    });
  }

  /** @internal Staging a commit: one write, with its index entries. */
  stageWrite(
    key: Buffer,
    value: StoredValue | null,
    st: Staged,
    deltas: SlotDeltas,
    writes: CommitWrites,
  ): void {
    const { hashes, expires } = this.space;
    const slot = this.slotOf(key);
    const dk = dataKeyOf(slot, key);
    const old = writes.record(dk, this.shard);
    const existed = old !== undefined;
    if (existed) {
      const oldExpiry = old.readDoubleBE(2);
      if (oldExpiry !== 0) {
        writes.remove(expires, expireKey(this.prefix, oldExpiry, dk));
        st.expiring--;
      }
    }
    const oldBytes = existed ? dk.length + old.length : 0;
    if (value === null) {
      if (!existed) return;
      writes.setRecord(dk, this.shard, null);
      writes.remove(hashes, hashKey(this.prefix, key, dk));
      st.keys--;
      st.bytes -= oldBytes;
      addDelta(deltas, slot, -1, -oldBytes);
      return;
    }
    const record = encodeValue(key, dk.length - 2, value); // past the slot prefix
    writes.setRecord(dk, this.shard, record, old);
    if (value.expireAtMs !== 0) {
      writes.put(expires, expireKey(this.prefix, value.expireAtMs, dk), EMPTY);
      st.expiring++;
    }
    const bytes = dk.length + record.length - oldBytes;
    st.bytes += bytes;
    if (existed) {
      addDelta(deltas, slot, 0, bytes);
      return;
    }
    writes.put(hashes, hashKey(this.prefix, key, dk), EMPTY);
    st.keys++;
    addDelta(deltas, slot, 1, bytes);
  }

  /** @internal The space's transaction holding this shard's batches committed. */
  committed(st: Staged): void {
    this.keys += st.keys;
    this.bytes += st.bytes;
    this.expiring += st.expiring;
    this.lastBatch = st.lastBatch;
    this.mark = st.mark;
  }

  private originalKey(dk: Buffer): Buffer {
    if (dk.length - 2 <= directKeyBytesMax) return Buffer.from(dk.subarray(2));
    const raw = fastBuffer(this.space.data.getBinaryFast(dk));
    if (raw === undefined) return Buffer.from(dk.subarray(2));
    const len = raw.readUInt32BE(headerBytes);
    return Buffer.from(raw.subarray(headerBytes + 4, headerBytes + 4 + len));
  }

  usedBytes(): number {
    return this.space.usedBytes();
  }

  isClosed(): boolean {
    return this.closed;
  }

  /** @internal */
  markClosed(): void {
    this.closed = true;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.space.release(this);
  }

  beginClose(): void {
    this.closing = true;
    this.space.expedite();
  }
}

/** One slot's place in a SlotMerge: a batch of its data keys and the position in it. */
interface SlotCursor {
  slot: number;
  keys: Buffer[];
  at: number;
  batch: number;
  done: boolean;
}

/**
 * The keys of several slots in byte order (of the key, not the slot): a binary heap of
 * per-slot cursors, each reading its slot in batches, so no LMDB cursor stays open between
 * calls. A merge over S slots costs S seeks to start, then O(log S) a key.
 */
class SlotMerge {
  private readonly heap: SlotCursor[] = [];

  constructor(
    private readonly data: Database<Buffer, Buffer>,
    private readonly start: Buffer | undefined,
  ) {}

  addSlot(slot: number): void {
    const c: SlotCursor = { slot, keys: [], at: 0, batch: mergeBatchFirst, done: false };
    const first = this.start === undefined ? u16Key(slot) : dataKeyFromStored(slot, this.start);
    this.fill(c, first, false);
    if (c.keys.length > 0) this.push(c);
  }

  /** The next data key in order, or undefined. */
  next(): Buffer | undefined {
    const top = this.heap[0];
    if (top === undefined) return undefined;
    const dk = top.keys[top.at] as Buffer;
    top.at++;
    if (top.at >= top.keys.length) {
      if (!top.done) this.fill(top, dk, true);
      else top.keys = [];
    }
    if (top.at >= top.keys.length) this.popTop();
    else this.siftDown(0);
    return dk;
  }

  private fill(c: SlotCursor, from: Buffer, exclusiveStart: boolean): void {
    const { end } = slotRange(c.slot);
    c.keys = [];
    c.at = 0;
    for (const k of this.data.getKeys({ start: from, end, exclusiveStart, limit: c.batch })) {
      c.keys.push(Buffer.from(k as Buffer));
    }
    c.done = c.keys.length < c.batch;
    c.batch = Math.min(c.batch * 2, mergeBatchMax);
  }

  private less(i: number, j: number): boolean {
    const a = this.heap[i] as SlotCursor;
    const b = this.heap[j] as SlotCursor;
    const ka = a.keys[a.at] as Buffer;
    const kb = b.keys[b.at] as Buffer;
    return ka.compare(kb, 2, kb.length, 2, ka.length) < 0;
  }

  private push(c: SlotCursor): void {
    const h = this.heap;
    h.push(c);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      [h[i], h[parent]] = [h[parent] as SlotCursor, h[i] as SlotCursor];
      i = parent;
    }
  }

  private popTop(): void {
    const h = this.heap;
    const last = h.pop() as SlotCursor;
    if (h.length === 0) return;
    h[0] = last;
    this.siftDown(0);
  }

  private siftDown(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(l, m)) m = l;
      if (r < h.length && this.less(r, m)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m] as SlotCursor, h[i] as SlotCursor];
      i = m;
    }
  }
}

function u16Key(v: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(v, 0);
  return b;
}

function u32Key(v: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(v, 0);
  return b;
}

/** The data keys of one slot. */
function slotRange(slot: number): { start: Buffer; end: Buffer } {
  return { start: u16Key(slot), end: u16Key(slot + 1) };
}

/** The index keys of one shard: everything after its 4-byte prefix, before the next one. */
function shardRange(shard: number): { start: Buffer; end?: Buffer } {
  return shard === shardIdMax
    ? { start: u32Key(shard) }
    : { start: u32Key(shard), end: u32Key(shard + 1) };
}

/** The key as stored after the slot: itself, or a prefix and a digest when too long. */
function storedKey(key: Uint8Array): Buffer {
  const k = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  if (k.length <= directKeyBytesMax) return k;
  const digest = createHash("sha256").update(k).digest();
  return Buffer.concat([k.subarray(0, hashedPrefixBytes), digest]);
}

function dataKeyFromStored(slot: number, sk: Buffer): Buffer {
  const out = Buffer.allocUnsafe(2 + sk.length);
  out.writeUInt16BE(slot, 0);
  sk.copy(out, 2);
  return out;
}

function dataKeyOf(slot: number, key: Uint8Array): Buffer {
  return dataKeyFromStored(slot, storedKey(key));
}

function hashKey(prefix: Buffer, key: Buffer, dk: Buffer): Buffer {
  const out = Buffer.allocUnsafe(10 + dk.length);
  prefix.copy(out, 0);
  writeKeyHash(keyHash(key), out, 4);
  dk.copy(out, 10);
  return out;
}

function expireKey(prefix: Buffer, expireAtMs: number, dk: Buffer): Buffer {
  const out = Buffer.allocUnsafe(12 + dk.length);
  prefix.copy(out, 0);
  out.writeDoubleBE(expireAtMs, 4);
  dk.copy(out, 12);
  return out;
}

function encodeMeta(lastBatch: number, mark: AppliedMark, slots: readonly SlotRange[]): Buffer {
  const out = Buffer.allocUnsafe(metaFixedBytes + 4 * slots.length);
  out.writeDoubleBE(lastBatch, 0);
  out.writeDoubleBE(mark.index, 8);
  out.writeDoubleBE(mark.nowMs, 16);
  out.writeUInt16BE(slots.length, 24);
  slots.forEach((r, i) => {
    out.writeUInt16BE(r.from, metaFixedBytes + 4 * i);
    out.writeUInt16BE(r.to, metaFixedBytes + 4 * i + 2);
  });
  return out;
}

function decodeMeta(raw: Buffer): {
  lastBatch: number;
  mark: AppliedMark;
  slots: SlotRange[];
} {
  const n = raw.readUInt16BE(24);
  const slots: SlotRange[] = [];
  for (let i = 0; i < n; i++) {
    slots.push({
      from: raw.readUInt16BE(metaFixedBytes + 4 * i),
      to: raw.readUInt16BE(metaFixedBytes + 4 * i + 2),
    });
  }
  return {
    lastBatch: raw.readDoubleBE(0),
    mark: { index: raw.readDoubleBE(8), nowMs: raw.readDoubleBE(16) },
    slots,
  };
}

// ---- in memory -----------------------------------------------------------------------------

interface MemoryShard {
  readonly backend: MemoryBackend;
  readonly slots: readonly SlotRange[];
  /** The mark committed with each batch still needed: the last one's (and any in flight). */
  readonly marks: Map<number, AppliedMark>;
}

/**
 * The in-memory twin of LmdbShardSpace, for tests and the simulator: one MemoryBackend per
 * shard, kept across closes, so a shard reopened in the same space finds its keys and mark
 * as last committed. `crash()` models a process crash: open stores are abandoned with
 * whatever they had not committed.
 */
export class MemoryShardSpace implements ShardSpace {
  private readonly stored = new Map<number, MemoryShard>();
  private readonly open = new Map<number, MemoryShardBackend>();
  private readonly owners = new SlotOwners();

  constructor(readonly slotOf: SlotOf) {}

  openShard(shard: number, slots: readonly SlotRange[]): ShardStore {
    checkShardId(shard);
    assert(!this.open.has(shard), `shard store: shard ${shard} already open`);
    const ranges = normalizeSlots(slots);
    let s = this.stored.get(shard);
    if (s === undefined) {
      s = { backend: new MemoryBackend(), slots: ranges, marks: new Map() };
      this.stored.set(shard, s);
    }
    assert(sameSlots(s.slots, ranges), `shard store: shard ${shard} was stored with other slots`);
    this.owners.claim(shard, ranges);
    const backend = new MemoryShardBackend(this, shard, s, this.slotOf);
    this.open.set(shard, backend);
    return new ShardStore(backend);
  }

  dropShard(shard: number): void {
    assert(!this.open.has(shard), `shard store: dropping open shard ${shard}`);
    this.stored.delete(shard);
  }

  shardIds(): number[] {
    return [...this.stored.keys()].sort((a, b) => a - b);
  }

  /** The MemoryBackend holding a shard's committed keys (fault injection: failNextCommits). */
  backendOf(shard: number): MemoryBackend | undefined {
    return this.stored.get(shard)?.backend;
  }

  /** Every open store is abandoned, as by a process crash; the committed state remains. */
  crash(): void {
    for (const b of this.open.values()) b.abandon();
    this.open.clear();
    this.owners.release(ALL_SLOTS);
  }

  async close(): Promise<void> {
    this.crash();
  }

  /** @internal */
  release(backend: MemoryShardBackend): void {
    if (this.open.get(backend.shard) !== backend) return;
    this.open.delete(backend.shard);
    this.owners.release(backend.slots);
  }
}

class MemoryShardBackend implements ShardBackend {
  readonly slots: readonly SlotRange[];
  private readonly inner: MemoryBackend;
  private markSource: () => AppliedMark;
  private closed = false;

  constructor(
    private readonly space: MemoryShardSpace,
    readonly shard: number,
    private readonly stored: MemoryShard,
    readonly slotOf: SlotOf,
  ) {
    this.slots = stored.slots;
    this.inner = stored.backend;
    this.markSource = () => this.storedMark();
  }

  storedMark(): AppliedMark {
    return this.stored.marks.get(this.inner.lastBatchId()) ?? NO_MARK;
  }

  setMarkSource(source: () => AppliedMark): void {
    this.markSource = source;
  }

  get(key: Buffer): StoredValue | undefined {
    return this.inner.get(key);
  }
  peekExpiry(key: Buffer): number | undefined {
    return this.inner.peekExpiry(key);
  }
  keysFrom(start: Buffer | undefined): IterableIterator<Buffer> {
    return this.inner.keysFrom(start);
  }
  keysByHash(fromHash: number): IterableIterator<HashedKey> {
    return this.inner.keysByHash(fromHash);
  }
  *slotKeys(slot: number): IterableIterator<Buffer> {
    for (const key of this.inner.keysFrom(undefined)) if (this.slotOf(key) === slot) yield key;
  }
  expiredKeys(nowMs: number, limit: number): Buffer[] {
    return this.inner.expiredKeys(nowMs, limit);
  }
  count(): number {
    return this.inner.count();
  }
  dataBytes(): number {
    return this.inner.usedBytes();
  }
  expiringCount(): number {
    return this.inner.expiringCount();
  }
  randomKey(random: Random): Buffer | undefined {
    return this.inner.randomKey(random);
  }
  lastBatchId(): number {
    return this.inner.lastBatchId();
  }
  /** In the LMDB shard's order (by slot, then stored key), so that images match. */
  snapshot(): BackendSnapshot {
    const all: PlacedEntry[] = [];
    const inner = this.inner.snapshot();
    for (let e = inner.next(); e !== undefined; e = inner.next()) {
      all.push({ key: e.key, value: e.value, place: this.placeOf(e.key) });
    }
    all.sort((a, b) => Buffer.compare(a.place, b.place));
    let i = 0;
    return {
      next: () => all[i++],
      close: () => {
        i = all.length;
      },
    };
  }
  placeOf(key: Buffer): Buffer {
    return dataKeyOf(this.slotOf(key), key);
  }
  usedBytes(): number {
    return this.inner.usedBytes();
  }

  /**
   * The mark is filed under the batch's id before the batch commits, so the batch and its
   * mark become current together (lastBatchId moves with the batch, atomically).
   */
  async commit(batch: WriteBatch, chain: BatchChain): Promise<void> {
    const marks = this.stored.marks;
    marks.set(chain.id, this.markSource());
    // As a disk write would, the batch lands later: a crash() before then abandons it.
    await Promise.resolve();
    if (this.closed) throw new StorageError("CLOSED", `shard ${this.shard} is closed`);
    await this.inner.commit(batch, chain);
    const last = this.inner.lastBatchId();
    for (const id of marks.keys()) if (id < last) marks.delete(id);
  }

  /** @internal */
  abandon(): void {
    this.closed = true;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.space.release(this);
  }
}

/** The sync-state file (see LmdbShardSpaceOptions.bootId): null if there is none. */
function readSyncState(dir: string): { bootId: string; open: boolean } | null | "garbled" {
  let text: string;
  try {
    text = readFileSync(join(dir, syncStateFile), "latin1");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
  const m = /^([\x21-\x7e]+) (open|closed)\n$/.exec(text);
  if (m === null) return "garbled";
  return { bootId: m[1] as string, open: m[2] === "open" };
}

function writeSyncState(dir: string, bootId: string, open: boolean): void {
  replaceFile(dir, syncStateFile, Buffer.from(`${bootId} ${open ? "open" : "closed"}\n`, "latin1"));
}

/**
 * What made an lmdb-js asynchronous commit fail. Its rejection says only "Commit failed";
 * the error itself (errno 28 for a full disk) comes through the promise it carries as
 * `commitError`, which rejects in the same callback.
 */
async function commitCause(cause: unknown): Promise<unknown> {
  const detail = (cause as { commitError?: unknown } | null)?.commitError;
  if (!(detail instanceof Promise)) return cause;
  const timeout = new Promise<void>((r) => setTimeout(r, 100).unref());
  return Promise.race([
    detail.then(
      () => cause,
      (e: unknown) => e,
    ),
    timeout.then(() => cause),
  ]);
}

/** Resolves in the next turn of the event loop, after its I/O. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

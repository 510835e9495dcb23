import { assert } from "../core/assert.js";
import { MemoryLogStorage } from "../raft/storage.js";
import type { ConfState, Entry, HardState, Snapshot } from "../raft/types.js";
import type { GroupLog, GroupWrite, RaftLogs } from "./multi-raft.js";

/**
 * RaftLogs in memory: the twin of WalRaftLogs for tests and the simulator. The "disk" is
 * one MemoryLogStorage per group (raft/storage.ts, the reference LogStorage); what a
 * persist wrote survives restart(), which models a process crash and restart: the old
 * instance and its logs are dead, a new one sees the same disk with nothing open. Writes
 * are synchronous, so a persist is trivially atomic and durable; it fails, writing
 * nothing, only while the `failing` hook says so (a full disk, for tests and
 * ClusterSim.failDisk).
 */
export class MemoryRaftLogs implements RaftLogs<MemoryGroupLog> {
  private readonly open = new Map<number, MemoryGroupLog>();
  private dead = false;
  private readonly totals = { commits: 0, entries: 0, groupWrites: 0 };

  /** A new, empty disk (or, from restart(), an existing one). */
  constructor(
    private readonly disk: Map<number, MemoryLogStorage> = new Map(),
    private readonly failing: () => boolean = () => false,
  ) {}

  openGroup(group: number, conf: ConfState): MemoryGroupLog {
    this.checkAlive();
    assert(!this.open.has(group), "memory raft logs: group already open");
    let stored = this.disk.get(group);
    if (stored === undefined) {
      stored = new MemoryLogStorage(conf);
      this.disk.set(group, stored);
    }
    const log = new MemoryGroupLog(this, group, stored);
    this.open.set(group, log);
    return log;
  }

  /** As WalRaftLogs.persist: every group's write, in the Ready contract's order. */
  persist(writes: readonly GroupWrite<MemoryGroupLog>[]): void {
    this.checkAlive();
    if (this.failing()) throw new Error("memory raft logs: disk full (injected)");
    if (writes.length === 0) return;
    for (const { log, write } of writes) {
      assert(this.open.get(log.group) === log, "memory raft logs: a log not open here");
      log.write(write.snapshot, write.entries, write.hardState);
      this.totals.entries += write.entries.length;
    }
    this.totals.commits += 1;
    this.totals.groupWrites += writes.length;
  }

  removeGroup(group: number): void {
    this.checkAlive();
    assert(!this.open.has(group), "memory raft logs: removing an open group");
    this.disk.delete(group);
  }

  /** Ids of the groups on the disk, ascending. */
  groupIds(): number[] {
    return [...this.disk.keys()].sort((a, b) => a - b);
  }

  /** Same shape as WalRaftLogs.stats(): commits are persist calls with writes. */
  stats(): { commits: number; entries: number; groupWrites: number } {
    return { ...this.totals };
  }

  /** The process died and started again: a fresh instance over the same disk. */
  restart(): MemoryRaftLogs {
    this.dead = true;
    for (const log of this.open.values()) log.markClosed();
    this.open.clear();
    return new MemoryRaftLogs(this.disk, this.failing);
  }

  /** @internal */
  release(log: MemoryGroupLog): void {
    if (this.open.get(log.group) === log) this.open.delete(log.group);
  }

  private checkAlive(): void {
    assert(!this.dead, "memory raft logs: used after restart()");
  }
}

/**
 * One group's log in MemoryRaftLogs: reads go to the stored MemoryLogStorage, writes only
 * through its owner's persist (and createSnapshot), as with WalLogStorage.
 */
export class MemoryGroupLog implements GroupLog {
  private closed = false;

  constructor(
    readonly owner: MemoryRaftLogs,
    readonly group: number,
    private readonly stored: MemoryLogStorage,
  ) {}

  hardState(): HardState {
    return this.stored.hardState();
  }

  snapshot(): Snapshot {
    return this.stored.snapshot();
  }

  firstIndex(): number {
    return this.stored.firstIndex();
  }

  lastIndex(): number {
    return this.stored.lastIndex();
  }

  term(i: number): number | null {
    return this.stored.term(i);
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    return this.stored.entries(lo, hi, maxBytes);
  }

  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot {
    this.checkOpen();
    return this.stored.createSnapshot(index, conf, data);
  }

  close(): void {
    this.closed = true;
    this.owner.release(this);
  }

  /** @internal The owner's persist. */
  write(snapshot: Snapshot | null, entries: readonly Entry[], hardState: HardState | null): void {
    this.checkOpen();
    if (snapshot !== null) this.stored.applySnapshot(snapshot);
    this.stored.append(entries);
    if (hardState !== null) this.stored.setHardState(hardState);
  }

  /** @internal */
  markClosed(): void {
    this.closed = true;
  }

  private checkOpen(): void {
    assert(!this.closed, `memory raft logs: group ${this.group} is closed`);
  }
}

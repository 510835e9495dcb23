import { assert } from "../core/assert.js";
import {
  type ConfState,
  type Entry,
  emptyHardState,
  entryBytes,
  type HardState,
  type Snapshot,
} from "./types.js";

/**
 * The durable half of a raft log, as raft reads it. Raft never writes here: the host
 * persists what a Ready hands it (see types.ts, Ready) and raft reads it back through this
 * interface, synchronously. An implementation keeps a snapshot (the compacted prefix of
 * the log, as an image of the state machine) followed by the entries after it.
 *
 * Index arithmetic: entries cover [firstIndex(), lastIndex()]; the entry just before,
 * at firstIndex() − 1, is the snapshot's last entry and only its term is known. An empty
 * log after a snapshot at index s has firstIndex() = s + 1 and lastIndex() = s.
 */
export interface LogStorage {
  /** The hard state last persisted (all zero for a new replica). */
  hardState(): HardState;
  /**
   * The latest snapshot. A new group starts from one at index 0, term 0 whose conf is the
   * initial configuration and whose data is the empty state machine.
   */
  snapshot(): Snapshot;
  firstIndex(): number;
  lastIndex(): number;
  /**
   * The term of entry i, for firstIndex() − 1 ≤ i ≤ lastIndex(); null outside (compacted
   * away or not yet written).
   */
  term(i: number): number | null;
  /**
   * Entries [lo, hi), firstIndex() ≤ lo < hi ≤ lastIndex() + 1, stopping before the entry
   * that would take the total past maxBytes — but always at least one.
   */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
}

/**
 * LogStorage in memory, with the write side a host needs. It is the simulator's disk and
 * the reference for the LMDB implementation: what a crash keeps is exactly what was
 * written here.
 */
export class MemoryLogStorage implements LogStorage {
  private hard: HardState = emptyHardState;
  private snap: Snapshot;
  /** Entries after the compaction point; ents[k] has index compactedIndex + 1 + k. */
  private ents: Entry[] = [];
  private compactedIndex: number;
  private compactedTerm: number;

  /** A new replica of a group whose initial configuration is `conf`. */
  constructor(conf: ConfState) {
    this.snap = { meta: { index: 0, term: 0, conf: copyConf(conf) }, data: new Uint8Array(0) };
    this.compactedIndex = 0;
    this.compactedTerm = 0;
  }

  hardState(): HardState {
    return this.hard;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  firstIndex(): number {
    return this.compactedIndex + 1;
  }

  lastIndex(): number {
    return this.compactedIndex + this.ents.length;
  }

  term(i: number): number | null {
    if (i === this.compactedIndex) return this.compactedTerm;
    if (i < this.compactedIndex || i > this.lastIndex()) return null;
    return (this.ents[i - this.compactedIndex - 1] as Entry).term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    assert(lo >= this.firstIndex() && hi <= this.lastIndex() + 1, "storage: entries out of range");
    assert(lo < hi, "storage: empty entries range");
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.ents[i - this.compactedIndex - 1] as Entry;
      bytes += entryBytes(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  // ---- the host's write side -----------------------------------------------------------

  setHardState(hs: HardState): void {
    assert(hs.term >= this.hard.term, "storage: term went back");
    this.hard = { ...hs };
  }

  /** Appends entries, first dropping every stored entry at index ≥ entries[0].index. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = (entries[0] as Entry).index;
    assert(first > this.compactedIndex, "storage: append below the compaction point");
    assert(first <= this.lastIndex() + 1, "storage: append leaves a gap");
    this.ents.length = first - this.compactedIndex - 1;
    for (const e of entries) {
      assert(e.index === this.lastIndex() + 1, "storage: entries not contiguous");
      this.ents.push(e);
    }
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  applySnapshot(s: Snapshot): void {
    assert(s.meta.index >= this.snap.meta.index, "storage: snapshot older than ours");
    this.snap = s;
    this.ents = [];
    this.compactedIndex = s.meta.index;
    this.compactedTerm = s.meta.term;
  }

  /**
   * Records a snapshot the state machine took at `index` (≤ the applied index) with the
   * configuration raft reports for it, and drops the entries it covers.
   */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot {
    assert(index > this.snap.meta.index, "storage: snapshot not newer");
    assert(index <= this.lastIndex(), "storage: snapshot beyond the log");
    const term = this.term(index);
    assert(term !== null, "storage: snapshot index compacted");
    this.snap = { meta: { index, term, conf: copyConf(conf) }, data };
    this.compact(index);
    return this.snap;
  }

  /** Drops entries up to `index`, which must be covered by the snapshot. */
  compact(index: number): void {
    if (index <= this.compactedIndex) return;
    assert(index <= this.snap.meta.index, "storage: compacting past the snapshot");
    const term = this.term(index);
    assert(term !== null, "storage: compact beyond the log");
    this.ents = this.ents.slice(index - this.compactedIndex);
    this.compactedIndex = index;
    this.compactedTerm = term;
  }
}

export function copyConf(c: ConfState): ConfState {
  return { voters: [...c.voters], learners: [...c.learners] };
}

import { assert } from "../core/assert.js";
import type { LogStorage } from "./storage.js";
import { type Entry, entryBytes, type Snapshot } from "./types.js";

/**
 * Entries (and possibly a snapshot) raft has accepted but the host has not yet confirmed
 * persisted: the tail of the log, in memory. A crash loses exactly this.
 */
class Unstable {
  snapshot: Snapshot | null = null;
  entries: Entry[] = [];
  /** Index of entries[0] (or where the next entry would go). */
  offset: number;

  constructor(offset: number) {
    this.offset = offset;
  }

  firstIndex(): number | null {
    return this.snapshot === null ? null : this.snapshot.meta.index + 1;
  }

  lastIndex(): number | null {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot === null ? null : this.snapshot.meta.index;
  }

  term(i: number): number | null {
    if (i < this.offset) {
      const s = this.snapshot;
      return s !== null && s.meta.index === i ? s.meta.term : null;
    }
    const e = this.entries[i - this.offset];
    return e === undefined ? null : e.term;
  }

  /** The host persisted entries up to (i, t); t guards against a truncation meanwhile. */
  stableTo(i: number, t: number): void {
    if (i < this.offset || this.term(i) !== t) return;
    this.entries = this.entries.slice(i + 1 - this.offset);
    this.offset = i + 1;
  }

  stableSnapTo(i: number): void {
    if (this.snapshot !== null && this.snapshot.meta.index === i) this.snapshot = null;
  }

  restore(s: Snapshot): void {
    this.offset = s.meta.index + 1;
    this.entries = [];
    this.snapshot = s;
  }

  truncateAndAppend(ents: readonly Entry[]): void {
    const after = (ents[0] as Entry).index;
    if (after === this.offset + this.entries.length) {
      for (const e of ents) this.entries.push(e);
    } else if (after <= this.offset) {
      // Replaces everything unstable; the host will drop the stored suffix from `after`.
      this.offset = after;
      this.entries = [...ents];
    } else {
      this.entries = this.entries.slice(0, after - this.offset).concat(ents);
    }
  }
}

/**
 * The raft log: stable storage followed by the unstable tail, with the commit and apply
 * marks. Invariant: applied ≤ committed ≤ lastIndex(), firstIndex() − 1 ≤ applied.
 */
export class RaftLog {
  readonly storage: LogStorage;
  readonly unstable: Unstable;
  committed: number;
  /** The highest index handed to the host to apply and acknowledged by advance(). */
  applied: number;

  constructor(storage: LogStorage) {
    this.storage = storage;
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    assert(first >= 1 && last >= first - 1, "raft log: bad storage bounds");
    this.unstable = new Unstable(last + 1);
    this.committed = first - 1;
    this.applied = first - 1;
  }

  firstIndex(): number {
    return this.unstable.firstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.lastIndex() ?? this.storage.lastIndex();
  }

  /** Term of entry i, or null if it is compacted away or beyond the log. */
  term(i: number): number | null {
    const dummy = this.firstIndex() - 1;
    if (i < dummy || i > this.lastIndex()) return null;
    return this.unstable.term(i) ?? this.storage.term(i);
  }

  lastTerm(): number {
    const t = this.term(this.lastIndex());
    assert(t !== null, "raft log: last term unknown");
    return t;
  }

  matchTerm(i: number, t: number): boolean {
    return this.term(i) === t;
  }

  /** Raft §5.4.1: a candidate's log ending at (index, term) is at least as up to date. */
  isUpToDate(index: number, term: number): boolean {
    const lastTerm = this.lastTerm();
    return term > lastTerm || (term === lastTerm && index >= this.lastIndex());
  }

  /**
   * The index of the first entry of `ents` that is not in our log (absent, or present
   * with another term), or 0 when all are present.
   */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The last index ≤ index whose term is ≤ term, with that term: where a log that has
   * `term` at `index` can agree with ours at best. Used on both sides of the fast
   * back-off. Returns [firstIndex − 1, its term] or [i, 0] if it runs off what we know.
   */
  findConflictByTerm(index: number, term: number): [number, number] {
    let i = Math.min(index, this.lastIndex());
    for (;;) {
      const t = this.term(i);
      if (t === null) return [i, 0];
      if (t <= term) return [i, t];
      i -= 1;
    }
  }

  /**
   * A follower's side of an append after (index, logTerm): null if our log does not have
   * that entry, else the index of the last new entry, having appended what was missing and
   * moved the commit mark to min(committed, last new).
   */
  maybeAppend(
    index: number,
    logTerm: number,
    committed: number,
    ents: readonly Entry[],
  ): number | null {
    if (!this.matchTerm(index, logTerm)) return null;
    const lastNew = index + ents.length;
    const conflict = this.findConflict(ents);
    if (conflict !== 0) {
      assert(conflict > this.committed, "raft log: conflict with a committed entry");
      this.append(ents.slice(conflict - index - 1));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = (ents[0] as Entry).index - 1;
    assert(after >= this.committed, "raft log: append would overwrite committed entries");
    assert(after <= this.lastIndex(), "raft log: append leaves a gap");
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /**
   * Entries from lo to the end, at most maxBytes (at least one); null if lo is compacted
   * away (the caller sends a snapshot instead).
   */
  entriesFrom(lo: number, maxBytes: number, countMax: number): Entry[] | null {
    const last = this.lastIndex();
    if (lo > last) return [];
    return this.slice(lo, Math.min(last + 1, lo + countMax), maxBytes);
  }

  /** Entries [lo, hi) within maxBytes (at least one); null if lo is compacted away. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] | null {
    if (lo < this.firstIndex()) return null;
    assert(hi <= this.lastIndex() + 1, "raft log: slice beyond the log");
    if (lo >= hi) return [];
    const out: Entry[] = [];
    let bytes = 0;
    const offset = this.unstable.offset;
    if (lo < offset) {
      const stored = this.storage.entries(lo, Math.min(hi, offset), maxBytes);
      for (const e of stored) {
        bytes += entryBytes(e);
        out.push(e);
      }
      if (out.length < Math.min(hi, offset) - lo) return out;
    }
    for (let i = Math.max(lo, offset); i < hi; i++) {
      const e = this.unstable.entries[i - offset] as Entry;
      bytes += entryBytes(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** Committed entries not yet handed out for applying, from `after` + 1. */
  committedAfter(after: number, maxBytes: number): Entry[] {
    if (after >= this.committed) return [];
    const got = this.slice(after + 1, this.committed + 1, maxBytes);
    assert(got !== null, "raft log: committed entries compacted before applied");
    return got;
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  commitTo(i: number): void {
    if (i <= this.committed) return;
    assert(i <= this.lastIndex(), "raft log: commit beyond the last index");
    this.committed = i;
  }

  appliedTo(i: number): void {
    assert(i <= this.committed && i >= this.applied, "raft log: applied out of range");
    this.applied = i;
  }

  /** Installs a snapshot received from the leader: it replaces the whole log. */
  restore(s: Snapshot): void {
    assert(s.meta.index > this.committed, "raft log: restoring an older snapshot");
    this.committed = s.meta.index;
    this.unstable.restore(s);
  }

  checkInvariants(): void {
    assert(this.applied <= this.committed, "raft log: applied > committed");
    assert(this.committed <= this.lastIndex(), "raft log: committed > last index");
    assert(this.firstIndex() - 1 <= this.committed, "raft log: committed compacted away");
  }
}

import { assert } from "../core/assert.js";
import type { ConfState, NodeId, Snapshot } from "./types.js";

/**
 * The appends in flight to one follower, oldest first, bounded by count and by bytes: a
 * ring of (last index, bytes) pairs. Full means "stop sending until acknowledgements
 * free some room".
 */
export class Inflights {
  private readonly indexes: number[];
  private readonly sizes: number[];
  private start = 0;
  private count = 0;
  private bytes = 0;

  constructor(
    private readonly countMax: number,
    private readonly bytesMax: number,
  ) {
    this.indexes = new Array<number>(countMax).fill(0);
    this.sizes = new Array<number>(countMax).fill(0);
  }

  get size(): number {
    return this.count;
  }

  get inflightBytes(): number {
    return this.bytes;
  }

  full(): boolean {
    return this.count >= this.countMax || this.bytes >= this.bytesMax;
  }

  add(index: number, bytes: number): void {
    assert(!this.full(), "inflights: add when full");
    const slot = (this.start + this.count) % this.countMax;
    if (this.count > 0) {
      const prev = this.indexes[(slot + this.countMax - 1) % this.countMax] as number;
      assert(index > prev, "inflights: indexes not increasing");
    }
    this.indexes[slot] = index;
    this.sizes[slot] = bytes;
    this.count += 1;
    this.bytes += bytes;
  }

  /** Frees every append whose last index is ≤ index (acknowledged). */
  freeLE(index: number): void {
    while (this.count > 0 && (this.indexes[this.start] as number) <= index) this.freeFirst();
  }

  freeFirst(): void {
    if (this.count === 0) return;
    this.bytes -= this.sizes[this.start] as number;
    this.start = (this.start + 1) % this.countMax;
    this.count -= 1;
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
    this.bytes = 0;
  }
}

/**
 * How the leader sends to one follower (etcd's tracker.Progress):
 *
 * - probe: we do not know where the follower's log matches ours. Send one append, then
 *   wait for its answer or the next heartbeat answer (probeSent).
 * - replicate: the follower is known to match up to `match`. Stream appends, advancing
 *   `next` optimistically, within the inflight bounds.
 * - snapshot: the entries it needs are compacted away; a snapshot is being sent in chunks,
 *   one at a time, and appends wait until it is installed.
 */
export type ProgressState = "probe" | "replicate" | "snapshot";

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = "probe";
  /** probe: an append is out and unanswered. */
  probeSent = false;
  /** snapshot: the snapshot being sent, and the first byte the follower has not confirmed. */
  snapshot: Snapshot | null = null;
  snapOffset = 0;
  /** snapshot: a chunk was acknowledged since the last heartbeat answer (else resend). */
  snapProgressed = false;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** Highest heartbeat round this follower answered (read-index and lease; 0 = none). */
  ackedRound = 0;
  readonly inflights: Inflights;

  constructor(next: number, inflightMsgsMax: number, inflightBytesMax: number) {
    this.next = next;
    this.inflights = new Inflights(inflightMsgsMax, inflightBytesMax);
  }

  private resetState(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.snapshot = null;
    this.snapOffset = 0;
    this.snapProgressed = false;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // Coming out of a snapshot, the follower has at least the snapshot's entries.
    const snapIndex = this.state === "snapshot" ? (this.snapshot?.meta.index ?? 0) : 0;
    this.resetState("probe");
    this.next = Math.max(this.match + 1, snapIndex + 1);
  }

  becomeReplicate(): void {
    this.resetState("replicate");
    this.next = this.match + 1;
  }

  becomeSnapshot(s: Snapshot): void {
    this.resetState("snapshot");
    this.snapshot = s;
    this.next = s.meta.index + 1;
  }

  /** An acknowledgement up to n. False if it told us nothing new. */
  maybeUpdate(n: number): boolean {
    if (n <= this.match) return false;
    this.match = n;
    this.next = Math.max(this.next, n + 1);
    this.probeSent = false;
    return true;
  }

  /** replicate: we just sent up to n; the next append starts after it. */
  optimisticUpdate(n: number): void {
    this.next = n + 1;
  }

  /**
   * The follower rejected an append after `rejected`, and (from its hint) cannot match
   * beyond `matchHint`. False if the rejection is stale (answers an older append).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.full();
      case "snapshot":
        return true;
    }
  }
}

export type VoteResult = "won" | "lost" | "pending";

const matchOf = (pr: Progress): number => pr.match;
const ackedRoundOf = (pr: Progress): number => pr.ackedRound;

/**
 * The configuration and every member's progress, with the quorum arithmetic: a majority
 * of voters elects a leader and commits an entry.
 */
export class Tracker {
  voters = new Set<NodeId>();
  learners = new Set<NodeId>();
  readonly progress = new Map<NodeId, Progress>();
  private readonly votes = new Map<NodeId, boolean>();
  /** quorumValue's working array. */
  private readonly scratch: number[] = [];

  constructor(
    private readonly inflightMsgsMax: number,
    private readonly inflightBytesMax: number,
  ) {}

  /** Adopts a configuration: members keep their progress, new ones start at probe. */
  setConf(conf: ConfState, nextIndex: number): void {
    this.voters = new Set(conf.voters);
    this.learners = new Set(conf.learners);
    for (const id of this.progress.keys()) {
      if (!this.voters.has(id) && !this.learners.has(id)) this.progress.delete(id);
    }
    for (const id of [...conf.voters, ...conf.learners]) {
      if (this.progress.has(id)) continue;
      const pr = this.newProgress(nextIndex);
      // A new member gets an election timeout to answer before check-quorum counts it out.
      pr.recentActive = true;
      this.progress.set(id, pr);
    }
  }

  conf(): ConfState {
    return {
      voters: [...this.voters].sort((a, b) => a - b),
      learners: [...this.learners].sort((a, b) => a - b),
    };
  }

  newProgress(next: number): Progress {
    return new Progress(next, this.inflightMsgsMax, this.inflightBytesMax);
  }

  isVoter(id: NodeId): boolean {
    return this.voters.has(id);
  }

  quorum(): number {
    return Math.floor(this.voters.size / 2) + 1;
  }

  /** The highest index a quorum of voters has: the commit candidate. */
  committedIndex(): number {
    return this.quorumValue(matchOf);
  }

  /** The highest heartbeat round a quorum of voters has answered. */
  quorumAckedRound(): number {
    return this.quorumValue(ackedRoundOf);
  }

  /**
   * The highest value a quorum of voters has reached: the quorum-th largest. Called on
   * every acknowledgement a leader gets, so it sorts in a kept array (insertion sort of a
   * handful of voters) rather than allocating one per call.
   */
  private quorumValue(of: (pr: Progress) => number): number {
    if (this.voters.size === 0) return 0;
    const values = this.scratch;
    values.length = 0;
    for (const id of this.voters) {
      const pr = this.progress.get(id);
      const v = pr === undefined ? 0 : of(pr);
      let i = values.length;
      for (; i > 0 && (values[i - 1] as number) < v; i--) values[i] = values[i - 1] as number;
      values[i] = v;
    }
    return values[this.quorum() - 1] as number;
  }

  resetVotes(): void {
    this.votes.clear();
  }

  recordVote(id: NodeId, granted: boolean): void {
    if (!this.voters.has(id) || this.votes.has(id)) return;
    this.votes.set(id, granted);
  }

  voteResult(): VoteResult {
    let granted = 0;
    let rejected = 0;
    for (const v of this.votes.values()) {
      if (v) granted += 1;
      else rejected += 1;
    }
    const q = this.quorum();
    if (granted >= q) return "won";
    if (rejected > this.voters.size - q) return "lost";
    return "pending";
  }

  /**
   * Check-quorum: whether a quorum of voters (us included) was heard from since the last
   * call; then forgets who was, for the next round.
   */
  quorumActive(self: NodeId): boolean {
    let active = 0;
    for (const id of this.voters) {
      const pr = this.progress.get(id);
      if (id === self || pr?.recentActive) active += 1;
    }
    for (const [id, pr] of this.progress) pr.recentActive = id === self;
    return active >= this.quorum();
  }
}

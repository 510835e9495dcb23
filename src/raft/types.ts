/**
 * The data raft reads and writes: log entries, the hard state it persists, snapshots,
 * configurations, and the messages peers exchange. Everything here is plain data, so a
 * test can compare it with deepEqual and the codec (codec.ts) can put it on the wire.
 *
 * Ids are positive integers below 2^32 (0 means "none"); terms and indexes are
 * non-negative safe integers (below 2^53), which no real log outgrows.
 */

/** A replica id within one group. 0 is "none". */
export type NodeId = number;
export const none: NodeId = 0;

/**
 * "normal": an application command, or empty (the leader's no-op on election).
 * "conf": a configuration change (ConfChange encoded in data by encodeConfChange).
 */
export type EntryType = "normal" | "conf";

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

/** Per-entry overhead counted in byte budgets: type, term and index as the codec writes them. */
export const entryOverheadBytes = 1 + 8 + 8 + 4;

export function entryBytes(e: Entry): number {
  return entryOverheadBytes + e.data.length;
}

/** What must be on disk before any message of the same Ready leaves (raft §5, figure 2). */
export interface HardState {
  term: number;
  /** Whom we voted for in `term`, or `none`. */
  vote: NodeId;
  /** Highest index known committed. Persisting it is an optimisation, not for safety. */
  commit: number;
}

export const emptyHardState: HardState = Object.freeze({ term: 0, vote: none, commit: 0 });

export function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/**
 * A group's configuration. Voters elect and count for commit; learners only receive the
 * log (a new member catches up as a learner before it is promoted).
 */
export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

/** One single-member configuration change, carried by an entry of type "conf". */
export type ConfChange =
  | { type: "add-voter"; node: NodeId }
  | { type: "add-learner"; node: NodeId }
  | { type: "remove"; node: NodeId };

export interface SnapshotMeta {
  /** The last index the snapshot covers, and its term. */
  index: number;
  term: number;
  /** The configuration as of `index`. */
  conf: ConfState;
}

export interface Snapshot {
  meta: SnapshotMeta;
  /** The state machine's image; opaque to raft. */
  data: Uint8Array;
}

export type RaftState = "follower" | "pre-candidate" | "candidate" | "leader";

/** Volatile state the host may want to show (not persisted). */
export interface SoftState {
  lead: NodeId;
  state: RaftState;
}

/**
 * Messages between replicas of one group. Every message carries the sender's term; the
 * per-type fields follow etcd's naming where one exists (index/logTerm = the entry a
 * request refers to).
 */
export type Message =
  /**
   * Append entries after (index, logTerm); `commit` is the leader's commit index. An empty
   * `entries` is a probe or a commit update.
   */
  | {
      type: "app";
      from: NodeId;
      to: NodeId;
      term: number;
      index: number;
      logTerm: number;
      commit: number;
      entries: Entry[];
    }
  /**
   * Reply to "app". Accepted: `index` is the last index now matching the leader's log.
   * Rejected: `index` is the rejected append's index, and (hintIndex, hintTerm) is the
   * follower's last entry at or below it whose term is ≤ the append's logTerm, so the
   * leader skips a whole conflicting term in one round trip (fast back-off).
   */
  | {
      type: "app-resp";
      from: NodeId;
      to: NodeId;
      term: number;
      index: number;
      reject: boolean;
      hintIndex: number;
      hintTerm: number;
    }
  /**
   * A vote request for `term` by a candidate whose last entry is (index, logTerm). `pre`:
   * a pre-vote (term is the one the candidate would campaign in; nobody changes state).
   * `transfer`: sent on a leader's TimeoutNow, so it overrides the leader lease.
   */
  | {
      type: "vote";
      from: NodeId;
      to: NodeId;
      term: number;
      index: number;
      logTerm: number;
      pre: boolean;
      transfer: boolean;
    }
  | {
      type: "vote-resp";
      from: NodeId;
      to: NodeId;
      term: number;
      pre: boolean;
      reject: boolean;
    }
  /**
   * Leader liveness and commit. `commit` is min(leader commit, follower match), so a
   * follower never commits past what it has verified matches. `context` is a read-index
   * round (0 when none) echoed back by the response.
   */
  | { type: "heartbeat"; from: NodeId; to: NodeId; term: number; commit: number; context: number }
  | { type: "heartbeat-resp"; from: NodeId; to: NodeId; term: number; context: number }
  /**
   * One chunk of a snapshot. `offset` is where `chunk` sits in the whole image of
   * `totalBytes`; the follower installs it once the last chunk has arrived in order.
   */
  | {
      type: "snap";
      from: NodeId;
      to: NodeId;
      term: number;
      meta: SnapshotMeta;
      offset: number;
      totalBytes: number;
      chunk: Uint8Array;
    }
  /** Reply to a snapshot chunk: `offset` is the next byte wanted; `reject` restarts it. */
  | {
      type: "snap-resp";
      from: NodeId;
      to: NodeId;
      term: number;
      index: number;
      offset: number;
      reject: boolean;
    }
  /** Leader transfer: "campaign now, ignoring the election timer and leases". */
  | { type: "timeout-now"; from: NodeId; to: NodeId; term: number };

export type MessageType = Message["type"];

/** A linearizable read point: once `index` is applied locally, serve the read `id`. */
export interface ReadState {
  id: number;
  index: number;
}

/**
 * The output of a RaftNode, taken by the host with ready() and acknowledged with
 * advance(). The host must handle it in this order:
 *
 *   1. persist, durably (fsync), and atomically enough that a crash leaves either all or
 *      a prefix of the entries: `snapshot` (if any), then `entries` (dropping every stored
 *      entry at index ≥ entries[0].index first), then `hardState` (if not null);
 *   2. only then send `messages` — a vote or an append acknowledgement promises that
 *      what it vouches for is on disk, and that promise must survive a crash;
 *   3. apply `snapshot` (if any) then `committedEntries` to the state machine, and answer
 *      `readStates` once their index is applied;
 *   4. call advance().
 *
 * Steps 2 and 3 may run in either order or in parallel, but both after 1.
 */
export interface Ready {
  /** Non-null when term, vote or commit changed since the last Ready. */
  hardState: HardState | null;
  /** Entries to append to stable storage (possibly overwriting a conflicting suffix). */
  entries: Entry[];
  /** A snapshot received from the leader, to persist and to apply. */
  snapshot: Snapshot | null;
  /** To send after step 1. */
  messages: Message[];
  /** Committed entries to apply, in order. */
  committedEntries: Entry[];
  readStates: ReadState[];
  /** Non-null when leader or role changed since the last Ready. */
  softState: SoftState | null;
}

export type ProposeResult =
  | { ok: true; index: number; term: number }
  | {
      ok: false;
      /**
       * "not-leader": propose on the leader (`lead` says who, if known); "transferring":
       * a leader transfer is under way; "overloaded": the leader's uncommitted bytes are
       * at their bound; "too-large": one proposal above maxEntryBytes;
       * "conf-pending": a configuration change is not yet applied (or the leader's no-op
       * is not); "invalid": the change would leave no voter or too many members;
       * "not-learner": a voter must first be added as a learner; "not-caught-up": the
       * learner's log is behind the leader's commit index (retry once it has caught up).
       */
      reason:
        | "not-leader"
        | "transferring"
        | "overloaded"
        | "too-large"
        | "conf-pending"
        | "invalid"
        | "not-learner"
        | "not-caught-up";
      lead: NodeId;
    };

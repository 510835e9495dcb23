import { assert } from "../core/assert.js";
import type { Random } from "../core/random.js";
import { decodeConfChange, encodeConfChange } from "./codec.js";
import {
  entriesPerMessageMax,
  leaseTicks,
  membersMax,
  pendingReadsMax,
  type RaftConfig,
  validateConfig,
} from "./config.js";
import { RaftLog } from "./log.js";
import { type Progress, Tracker } from "./progress.js";
import type { LogStorage } from "./storage.js";
import {
  type ConfChange,
  type ConfState,
  type Entry,
  type EntryType,
  entryBytes,
  type HardState,
  type Message,
  type NodeId,
  none,
  type ProposeResult,
  type RaftState,
  type ReadState,
  type Ready,
  type Snapshot,
  type SoftState,
} from "./types.js";

/** Counters for introspection: every dropped input lands in exactly one drop counter. */
export interface RaftStats {
  stepped: number;
  droppedMisaddressed: number;
  droppedStale: number;
  droppedMalformed: number;
  droppedUnknownPeer: number;
  elections: number;
  preElections: number;
  snapshotsSent: number;
  snapshotsInstalled: number;
  proposalsDropped: number;
}

export type ReadResult =
  | { ok: true }
  | {
      ok: false;
      /** "not-leader": ask `lead`; "not-ready": no entry of this term committed yet, retry. */
      reason: "not-leader" | "not-ready" | "overloaded";
      lead: NodeId;
    };

interface PendingRead {
  id: number;
  index: number;
  round: number;
}

/** A snapshot arriving in chunks (follower side). Bounded by config.snapshotBytesMax. */
interface IncomingSnapshot {
  from: NodeId;
  term: number;
  meta: Snapshot["meta"];
  totalBytes: number;
  parts: Uint8Array[];
  received: number;
}

/** What a Ready handed out, so advance() can acknowledge exactly that. */
interface Handed {
  lastEntry: { index: number; term: number } | null;
  snapshotIndex: number;
  appliedTo: number;
  hardState: HardState;
}

/** Heartbeat rounds whose send tick is remembered for the lease (older ones: no lease). */
const roundsKept = 64;

/**
 * One raft group's replica as a deterministic state machine (STYLE.md, 1), after
 * etcd-io/raft: no I/O, no clock, no timers. The host drives it:
 *
 *   tick()                 one logical tick (every group from one loop; idle cost: a
 *                          counter increment and a compare)
 *   step(message)          a message from a peer (decoded by codec.ts); never throws on
 *                          bad input, drops it and counts it in stats
 *   propose(data)          a command, on the leader; proposeConfChange, transferLeader,
 *                          readIndex likewise
 *   hasReady() / ready()   what to persist, send and apply (types.ts, Ready: persist
 *                          before sending); then advance()
 *
 * Randomness (the election timeout) comes from the injected Random.
 */
export class RaftNode {
  readonly id: NodeId;
  readonly config: Readonly<RaftConfig>;
  readonly log: RaftLog;
  readonly stats: RaftStats = {
    stepped: 0,
    droppedMisaddressed: 0,
    droppedStale: 0,
    droppedMalformed: 0,
    droppedUnknownPeer: 0,
    elections: 0,
    preElections: 0,
    snapshotsSent: 0,
    snapshotsInstalled: 0,
    proposalsDropped: 0,
  };

  term = 0;
  vote: NodeId = none;
  lead: NodeId = none;
  state: RaftState = "follower";

  private readonly random: Random;
  private readonly tracker: Tracker;
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private msgs: Message[] = [];
  /** Index of the last conf entry whose change the tracker has adopted. */
  private confIndex = 0;
  /** Leader: the newest conf entry proposed; no other until it is applied. */
  private pendingConfIndex = 0;
  /** Leader: the no-op of its term; no conf change until it is committed (see proposeConfChange). */
  private noopIndex = 0;
  private uncommittedBytes = 0;
  private leadTransferee: NodeId = none;
  /** Leader: ticks since it became leader, the clock of its lease. */
  private leaderTicks = 0;
  private heartbeatRound = 0;
  private readonly roundSentTick: Array<[number, number]> = [];
  /** Leader: no lease reads before this tick (a transfer may have made another leader). */
  private leaseBlockedUntil = 0;
  /**
   * After a restart with lease reads on, we do not remember whose lease we honoured:
   * refuse votes for one election timeout as if we had just heard a leader.
   */
  private restartLease: boolean;
  private pendingReads: PendingRead[] = [];
  private readStates: ReadState[] = [];
  private incoming: IncomingSnapshot | null = null;
  private prevHardState: HardState;
  private prevSoftState: SoftState;
  private handed: Handed | null = null;
  /**
   * Proposals appended since the last ready(): their appends go out there, one per
   * follower for all of them, instead of one per proposal (and one answer each).
   */
  private appendsDue = false;

  constructor(config: RaftConfig, storage: LogStorage, random: Random) {
    validateConfig(config);
    this.config = Object.freeze({ ...config });
    this.id = config.id;
    this.random = random;
    this.tracker = new Tracker(config.maxInflightMsgs, config.maxInflightBytes);
    this.log = new RaftLog(storage);
    const hs = storage.hardState();
    const snap = storage.snapshot();
    this.log.committed = Math.max(this.log.committed, Math.min(hs.commit, this.log.lastIndex()));
    this.term = hs.term;
    this.vote = hs.vote;
    this.tracker.setConf(snap.meta.conf, this.log.lastIndex() + 1);
    this.confIndex = snap.meta.index;
    this.adoptCommittedConfs();
    this.prevHardState = this.hardState();
    this.becomeFollower(this.term, none);
    this.prevSoftState = this.softState();
    this.restartLease = config.clockDriftBound > 0;
    this.checkInvariants();
  }

  // ---- inputs --------------------------------------------------------------------------

  tick(): void {
    if (this.state === "leader") this.tickLeader();
    else this.tickElection();
  }

  /** A message from a peer. Drops (and counts) what is misaddressed, stale or malformed. */
  step(m: Message): void {
    this.stats.stepped += 1;
    if (m.to !== this.id || m.from === this.id || m.from === none) {
      this.stats.droppedMisaddressed += 1;
      return;
    }
    if (!this.wellFormed(m)) {
      this.stats.droppedMalformed += 1;
      return;
    }
    if (m.term > this.term) {
      if (!this.onHigherTerm(m)) return;
    } else if (m.term < this.term) {
      this.onLowerTerm(m);
      return;
    }
    if (m.type === "vote") this.onVote(m);
    else if (this.state === "leader") this.stepLeader(m);
    else if (this.state === "follower") this.stepFollower(m);
    else this.stepCandidate(m);
    this.checkInvariants();
  }

  /** Appends a command to the log (on the leader) and starts replicating it. */
  propose(data: Uint8Array): ProposeResult {
    return this.proposeEntry("normal", data);
  }

  /**
   * Proposes one membership change. Only one may be in flight: the previous one must be
   * applied. And the leader must have committed an entry of its own term first (its
   * no-op) — without that a single-server change can lose a committed configuration
   * (Ongaro, raft-dev, 2015: "bug in single-server membership changes").
   *
   * A voter is only ever a learner promoted once it has caught up (its match index at
   * least the leader's commit index): a new, empty voter would count towards every
   * quorum while it could acknowledge nothing, stalling commits (a 1-voter group that
   * adds a second voter could commit nothing until it had the whole log).
   */
  proposeConfChange(cc: ConfChange): ProposeResult {
    if (this.state === "leader") {
      const pending = this.pendingConfIndex > this.log.applied;
      if (pending || this.log.applied < this.noopIndex) {
        return { ok: false, reason: "conf-pending", lead: this.lead };
      }
      if (cc.type === "add-voter" && !this.tracker.isVoter(cc.node)) {
        const pr = this.tracker.progress.get(cc.node);
        if (!this.tracker.learners.has(cc.node) || pr === undefined) {
          return { ok: false, reason: "not-learner", lead: this.lead };
        }
        if (pr.match < this.log.committed) {
          return { ok: false, reason: "not-caught-up", lead: this.lead };
        }
      }
      const next = applyChange(this.tracker.conf(), cc);
      if (next === null) return { ok: false, reason: "invalid", lead: this.lead };
    }
    const result = this.proposeEntry("conf", encodeConfChange(cc));
    if (result.ok) this.pendingConfIndex = result.index;
    return result;
  }

  /**
   * Leader transfer (thesis §3.10): stop taking proposals, bring `to` up to date, then
   * tell it to campaign at once (TimeoutNow). Aborted after an election timeout.
   */
  transferLeader(to: NodeId): boolean {
    if (this.state !== "leader" || to === this.id || !this.tracker.isVoter(to)) return false;
    if (this.leadTransferee === to) return true;
    this.leadTransferee = to;
    this.electionElapsed = 0;
    // The target may win by TimeoutNow, which overrides leases: none of ours from now on.
    this.leaseBlockedUntil = this.leaderTicks + this.config.electionTicks + leaseTicks(this.config);
    const pr = this.tracker.progress.get(to) as Progress;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to, true);
    return true;
  }

  /**
   * A linearizable read (thesis §6.4). On success a ReadState { id, index } appears in a
   * later Ready: once the state machine has applied `index`, the read may be served.
   * With a lease (config.clockDriftBound > 0) and the lease valid, it is immediate;
   * otherwise it waits for a quorum to answer one heartbeat round sent after this call.
   */
  readIndex(id: number): ReadResult {
    if (this.state !== "leader") return { ok: false, reason: "not-leader", lead: this.lead };
    if (this.log.term(this.log.committed) !== this.term) {
      return { ok: false, reason: "not-ready", lead: this.lead };
    }
    const index = this.log.committed;
    if (this.tracker.voters.size === 1 || this.leaseValid()) {
      this.readStates.push({ id, index });
      return { ok: true };
    }
    if (this.pendingReads.length >= pendingReadsMax) {
      return { ok: false, reason: "overloaded", lead: this.lead };
    }
    this.heartbeatRound += 1;
    this.pendingReads.push({ id, index, round: this.heartbeatRound });
    this.broadcastHeartbeat();
    return { ok: true };
  }

  /** Campaign now (the host's "campaign" command; tests use it to pick a leader). */
  campaign(): void {
    this.hup(false);
    this.checkInvariants();
  }

  // ---- outputs -------------------------------------------------------------------------

  hasReady(): boolean {
    if (this.handed !== null) return false;
    return (
      this.msgs.length > 0 ||
      this.log.unstable.entries.length > 0 ||
      this.log.unstable.snapshot !== null ||
      this.readStates.length > 0 ||
      this.log.committed > this.log.applied ||
      this.hardStateChanged() ||
      this.softStateChanged()
    );
  }

  /** Field by field, so that an idle group's check and a Ready allocate nothing for it. */
  private hardStateChanged(): boolean {
    const hs = this.prevHardState;
    return this.term !== hs.term || this.vote !== hs.vote || this.log.committed !== hs.commit;
  }

  private softStateChanged(): boolean {
    return this.lead !== this.prevSoftState.lead || this.state !== this.prevSoftState.state;
  }

  /** What to persist, send and apply; acknowledge with advance() (contract: types.ts). */
  ready(): Ready {
    assert(this.handed === null, "raft: ready() again before advance()");
    if (this.appendsDue) {
      this.appendsDue = false;
      this.broadcastAppend(true);
    }
    const unstable = this.log.unstable;
    // The states as last handed out when unchanged (most of a busy leader's Readies): no
    // objects made for them.
    const prevHs = this.prevHardState;
    const hs = this.hardStateChanged() ? this.hardState() : prevHs;
    const prevSs = this.prevSoftState;
    const ss = this.softStateChanged() ? this.softState() : prevSs;
    const snapshot = unstable.snapshot;
    const appliedFrom = Math.max(this.log.applied, snapshot?.meta.index ?? 0);
    const committedEntries = this.log.committedAfter(appliedFrom, this.config.maxApplyBytes);
    const entries = [...unstable.entries];
    const last = entries[entries.length - 1];
    const rd: Ready = {
      hardState: hs === prevHs ? null : hs,
      entries,
      snapshot,
      messages: this.msgs,
      committedEntries,
      readStates: this.readStates,
      softState: ss === prevSs ? null : ss,
    };
    this.msgs = [];
    this.readStates = [];
    this.prevSoftState = ss;
    const lastApplied = committedEntries[committedEntries.length - 1];
    this.handed = {
      lastEntry: last === undefined ? null : { index: last.index, term: last.term },
      snapshotIndex: snapshot?.meta.index ?? 0,
      appliedTo: lastApplied === undefined ? appliedFrom : lastApplied.index,
      hardState: hs,
    };
    this.onHandedOut(committedEntries);
    return rd;
  }

  /** The host has done everything the last Ready asked. */
  advance(): void {
    const h = this.handed;
    assert(h !== null, "raft: advance() without ready()");
    this.handed = null;
    if (h.snapshotIndex > 0) {
      this.log.unstable.stableSnapTo(h.snapshotIndex);
      this.log.applied = Math.max(this.log.applied, h.snapshotIndex);
    }
    if (h.lastEntry !== null) this.log.unstable.stableTo(h.lastEntry.index, h.lastEntry.term);
    if (h.appliedTo > this.log.applied) this.log.appliedTo(h.appliedTo);
    this.prevHardState = h.hardState;
    this.checkInvariants();
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  softState(): SoftState {
    return { lead: this.lead, state: this.state };
  }

  /** The configuration as of the last entry handed out to apply (for snapshots). */
  confState(): ConfState {
    return this.tracker.conf();
  }

  /** Whether `id` is a voter or learner in confState(), without building it. */
  hasMember(id: NodeId): boolean {
    return this.tracker.voters.has(id) || this.tracker.learners.has(id);
  }

  /** The leader's view of a follower (tests, introspection). */
  progressOf(id: NodeId): Readonly<Progress> | undefined {
    return this.state === "leader" ? this.tracker.progress.get(id) : undefined;
  }

  get transferee(): NodeId {
    return this.leadTransferee;
  }

  /** Local invariants, cheap enough to run after every input. */
  checkInvariants(): void {
    this.log.checkInvariants();
    assert(this.vote === none || this.term > 0, "raft: vote without a term");
    assert((this.state === "leader") === (this.lead === this.id), "raft: leader iff lead is us");
    assert(this.tracker.progress.size <= membersMax, "raft: members bound");
    assert(this.pendingReads.length <= pendingReadsMax, "raft: pending reads bound");
    if (this.state === "leader") {
      assert(this.vote === this.id, "raft: leader did not vote for itself");
      for (const pr of this.tracker.progress.values()) {
        assert(pr.match < pr.next, "raft: match ≥ next");
        assert(pr.match <= this.log.lastIndex(), "raft: match beyond our log");
      }
    }
    if (this.incoming !== null) {
      assert(this.incoming.received <= this.incoming.totalBytes, "raft: snapshot overrun");
    }
  }

  // ---- timers --------------------------------------------------------------------------

  private tickElection(): void {
    this.electionElapsed += 1;
    if (this.restartLease && this.electionElapsed >= this.config.electionTicks) {
      this.restartLease = false;
    }
    // A non-voter keeps counting, so it stops honouring a silent leader's lease.
    if (this.electionElapsed < this.randomizedElectionTimeout || !this.promotable()) return;
    this.electionElapsed = 0;
    this.hup(false);
  }

  private tickLeader(): void {
    this.heartbeatElapsed += 1;
    this.electionElapsed += 1;
    this.leaderTicks += 1;
    if (this.electionElapsed >= this.config.electionTicks) {
      this.electionElapsed = 0;
      if (this.config.checkQuorum && !this.tracker.quorumActive(this.id)) {
        this.becomeFollower(this.term, none);
        return;
      }
      this.leadTransferee = none;
    }
    if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.heartbeatRound += 1;
      this.broadcastHeartbeat();
    }
  }

  private resetRandomizedElectionTimeout(): void {
    const t = this.config.electionTicks;
    this.randomizedElectionTimeout = t + this.random.int(t);
  }

  // ---- role changes --------------------------------------------------------------------

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = none;
    }
    this.lead = none;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.leadTransferee = none;
    this.appendsDue = false;
    this.tracker.resetVotes();
    const next = this.log.lastIndex() + 1;
    for (const id of [...this.tracker.progress.keys()]) {
      const fresh = this.tracker.newProgress(next);
      if (id === this.id) fresh.match = next - 1;
      this.tracker.progress.set(id, fresh);
    }
    this.pendingConfIndex = 0;
    this.noopIndex = 0;
    this.uncommittedBytes = 0;
    this.leaderTicks = 0;
    this.heartbeatRound = 0;
    this.roundSentTick.length = 0;
    this.leaseBlockedUntil = 0;
    this.pendingReads = [];
  }

  private becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.state = "follower";
  }

  private becomePreCandidate(): void {
    assert(this.state !== "leader", "raft: leader to pre-candidate");
    // Pre-vote changes neither term nor vote: a failed one leaves no trace.
    this.tracker.resetVotes();
    this.lead = none;
    this.state = "pre-candidate";
  }

  private becomeCandidate(): void {
    assert(this.state !== "leader", "raft: leader to candidate");
    this.reset(this.term + 1);
    this.vote = this.id;
    this.state = "candidate";
  }

  private becomeLeader(): void {
    assert(this.state === "candidate", "raft: leader without an election");
    this.reset(this.term);
    this.lead = this.id;
    this.state = "leader";
    const self = this.tracker.progress.get(this.id);
    self?.becomeReplicate();
    if (self !== undefined) self.recentActive = true;
    // Entries of earlier terms commit only through one of ours (raft §5.4.2): the no-op.
    this.pendingConfIndex = this.log.lastIndex();
    const noop: Entry = {
      term: this.term,
      index: this.log.lastIndex() + 1,
      type: "normal",
      data: new Uint8Array(0),
    };
    this.appendEntries([noop]);
    this.noopIndex = this.log.lastIndex();
  }

  // ---- elections -----------------------------------------------------------------------

  private promotable(): boolean {
    return this.tracker.isVoter(this.id) && this.log.unstable.snapshot === null;
  }

  private hup(transfer: boolean): void {
    if (this.state === "leader" || !this.promotable()) return;
    // A configuration change committed but not yet adopted could change who votes.
    if (this.hasUnadoptedConf()) return;
    if (this.config.preVote && !transfer) this.runElection(true, false);
    else this.runElection(false, transfer);
  }

  private runElection(pre: boolean, transfer: boolean): void {
    let voteTerm: number;
    if (pre) {
      this.becomePreCandidate();
      this.stats.preElections += 1;
      voteTerm = this.term + 1;
    } else {
      this.becomeCandidate();
      this.stats.elections += 1;
      voteTerm = this.term;
    }
    this.tracker.recordVote(this.id, true);
    if (this.tracker.voteResult() === "won") {
      this.onElectionWon(pre);
      return;
    }
    const index = this.log.lastIndex();
    const logTerm = this.log.lastTerm();
    for (const id of this.tracker.voters) {
      if (id === this.id) continue;
      this.send({
        type: "vote",
        from: this.id,
        to: id,
        term: voteTerm,
        index,
        logTerm,
        pre,
        transfer,
      });
    }
  }

  private onElectionWon(pre: boolean): void {
    if (pre) {
      this.runElection(false, false);
    } else {
      this.becomeLeader();
      this.broadcastAppend();
    }
  }

  private onVote(m: Extract<Message, { type: "vote" }>): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === none && this.lead === none) ||
      (m.pre && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // A granted pre-vote answers in the term asked about, so the candidate counts it.
      this.send({
        type: "vote-resp",
        from: this.id,
        to: m.from,
        term: m.term,
        pre: m.pre,
        reject: false,
      });
      if (!m.pre) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({
        type: "vote-resp",
        from: this.id,
        to: m.from,
        term: this.term,
        pre: m.pre,
        reject: true,
      });
    }
  }

  /** A message from a later term. Returns false when it must be ignored. */
  private onHigherTerm(m: Message): boolean {
    if (m.type === "vote") {
      // The lease: we heard from a leader less than an election timeout ago, so it is
      // alive and this candidate is the one cut off. Only a transfer overrides it.
      const inLease =
        this.config.checkQuorum &&
        ((this.lead !== none && this.electionElapsed < this.config.electionTicks) ||
          this.restartLease);
      if (inLease && !m.transfer) {
        this.stats.droppedStale += 1;
        return false;
      }
      if (m.pre) return true;
    }
    // We asked for pre-votes in a future term; a grant does not move us there yet.
    if (m.type === "vote-resp" && m.pre && !m.reject) return true;
    const fromLeader = m.type === "app" || m.type === "heartbeat" || m.type === "snap";
    this.becomeFollower(m.term, fromLeader ? m.from : none);
    return true;
  }

  private onLowerTerm(m: Message): void {
    if (
      (this.config.checkQuorum || this.config.preVote) &&
      (m.type === "app" || m.type === "heartbeat")
    ) {
      // A deposed leader (or one cut off while we moved on): tell it our term so it steps
      // down. Without this, with pre-vote, a node whose log is ahead could never win
      // while the stale leader keeps others from voting.
      this.send({
        type: "app-resp",
        from: this.id,
        to: m.from,
        term: this.term,
        index: 0,
        reject: false,
        hintIndex: 0,
        hintTerm: 0,
      });
    } else if (m.type === "vote" && m.pre) {
      this.send({
        type: "vote-resp",
        from: this.id,
        to: m.from,
        term: this.term,
        pre: true,
        reject: true,
      });
    }
    this.stats.droppedStale += 1;
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case "vote-resp": {
        if (m.pre !== (this.state === "pre-candidate")) return;
        this.tracker.recordVote(m.from, !m.reject);
        const result = this.tracker.voteResult();
        if (result === "won") this.onElectionWon(m.pre);
        else if (result === "lost") this.becomeFollower(this.term, none);
        return;
      }
      case "app":
      case "heartbeat":
      case "snap":
        this.becomeFollower(m.term, m.from);
        this.stepFollower(m);
        return;
      default:
        return;
    }
  }

  // ---- follower ------------------------------------------------------------------------

  private stepFollower(m: Message): void {
    switch (m.type) {
      case "app":
        this.heardFromLeader(m.from);
        this.onAppend(m);
        return;
      case "heartbeat":
        this.heardFromLeader(m.from);
        this.onHeartbeat(m);
        return;
      case "snap":
        this.heardFromLeader(m.from);
        this.onSnapshotChunk(m);
        return;
      case "timeout-now":
        // Only a voter campaigns; the transfer flag lets its votes past the leases.
        if (this.promotable()) this.hup(true);
        return;
      default:
        return;
    }
  }

  private heardFromLeader(from: NodeId): void {
    this.electionElapsed = 0;
    this.lead = from;
    this.restartLease = false;
  }

  private onAppend(m: Extract<Message, { type: "app" }>): void {
    const reply = (index: number, reject: boolean, hintIndex: number, hintTerm: number): void =>
      this.send({
        type: "app-resp",
        from: this.id,
        to: m.from,
        term: this.term,
        index,
        reject,
        hintIndex,
        hintTerm,
      });
    if (m.index < this.log.committed) {
      reply(this.log.committed, false, 0, 0);
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== null) {
      reply(lastNew, false, 0, 0);
      return;
    }
    // Fast back-off: our last entry at or below m.index with a term ≤ m.logTerm; the
    // leader then skips every index where our terms cannot match.
    const [hintIndex, hintTerm] = this.log.findConflictByTerm(
      Math.min(m.index, this.log.lastIndex()),
      m.logTerm,
    );
    reply(m.index, true, hintIndex, hintTerm);
  }

  private onHeartbeat(m: Extract<Message, { type: "heartbeat" }>): void {
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.send({
      type: "heartbeat-resp",
      from: this.id,
      to: m.from,
      term: this.term,
      context: m.context,
    });
  }

  private onSnapshotChunk(m: Extract<Message, { type: "snap" }>): void {
    const ack = (offset: number, reject: boolean): void =>
      this.send({
        type: "snap-resp",
        from: this.id,
        to: m.from,
        term: this.term,
        index: m.meta.index,
        offset,
        reject,
      });
    if (m.meta.index <= this.log.committed) {
      this.incoming = null;
      this.sendAppAck(m.from, this.log.committed);
      return;
    }
    let inc = this.incoming;
    const same =
      inc !== null &&
      inc.from === m.from &&
      inc.term === m.term &&
      inc.meta.index === m.meta.index &&
      inc.meta.term === m.meta.term &&
      inc.totalBytes === m.totalBytes;
    if (m.offset === 0) {
      if (m.totalBytes > this.config.snapshotBytesMax) {
        this.stats.droppedMalformed += 1;
        return;
      }
      if (!same || inc === null || inc.received > 0) {
        inc = {
          from: m.from,
          term: m.term,
          meta: m.meta,
          totalBytes: m.totalBytes,
          parts: [],
          received: 0,
        };
        this.incoming = inc;
      }
    } else if (!same || inc === null || inc.received !== m.offset) {
      ack(same && inc !== null ? inc.received : 0, true);
      return;
    }
    if (m.chunk.length === 0 && m.totalBytes > 0) {
      ack(inc.received, true);
      return;
    }
    inc.parts.push(m.chunk);
    inc.received += m.chunk.length;
    if (inc.received < inc.totalBytes) {
      ack(inc.received, false);
      return;
    }
    this.incoming = null;
    const data = concat(inc.parts, inc.totalBytes);
    ack(inc.totalBytes, false);
    if (this.restore({ meta: inc.meta, data })) {
      this.stats.snapshotsInstalled += 1;
      this.sendAppAck(m.from, this.log.lastIndex());
    } else {
      this.sendAppAck(m.from, this.log.committed);
    }
  }

  private sendAppAck(to: NodeId, index: number): void {
    this.send({
      type: "app-resp",
      from: this.id,
      to,
      term: this.term,
      index,
      reject: false,
      hintIndex: 0,
      hintTerm: 0,
    });
  }

  /** Installs a snapshot; false if our log already has what it covers (then just commit). */
  private restore(s: Snapshot): boolean {
    if (s.meta.index <= this.log.committed) return false;
    if (this.log.matchTerm(s.meta.index, s.meta.term)) {
      this.log.commitTo(s.meta.index);
      return false;
    }
    this.log.restore(s);
    this.tracker.setConf(s.meta.conf, this.log.lastIndex() + 1);
    this.confIndex = s.meta.index;
    return true;
  }

  // ---- leader --------------------------------------------------------------------------

  private stepLeader(m: Message): void {
    const pr = this.tracker.progress.get(m.from);
    if (pr === undefined) {
      this.stats.droppedUnknownPeer += 1;
      return;
    }
    switch (m.type) {
      case "app-resp":
        pr.recentActive = true;
        if (m.reject) this.onAppendRejected(m, pr);
        else this.onAppendAccepted(m, pr);
        return;
      case "heartbeat-resp":
        this.onHeartbeatResponse(m, pr);
        return;
      case "snap-resp":
        pr.recentActive = true;
        this.onSnapshotResponse(m, pr);
        return;
      default:
        // Another leader in our term cannot exist (election safety); vote answers are late.
        this.stats.droppedStale += 1;
        return;
    }
  }

  private onAppendRejected(m: Extract<Message, { type: "app-resp" }>, pr: Progress): void {
    let nextProbe = m.hintIndex;
    if (m.hintTerm > 0) [nextProbe] = this.log.findConflictByTerm(m.hintIndex, m.hintTerm);
    if (!pr.maybeDecrTo(m.index, nextProbe)) return;
    if (pr.state === "replicate") pr.becomeProbe();
    this.sendAppend(m.from, true);
  }

  private onAppendAccepted(m: Extract<Message, { type: "app-resp" }>, pr: Progress): void {
    if (m.index > this.log.lastIndex()) {
      this.stats.droppedMalformed += 1;
      return;
    }
    const wasPaused = pr.isPaused();
    const updated = pr.maybeUpdate(m.index);
    // The follower has the snapshot we were sending (or a later log).
    const snapDone = pr.state === "snapshot" && pr.match >= (pr.snapshot?.meta.index ?? 0);
    if (!updated && !snapDone && !(pr.match === m.index && pr.state === "probe")) return;
    if (pr.state === "probe") {
      pr.becomeReplicate();
    } else if (snapDone) {
      // If we compacted past it meanwhile, stay in probe: the next send is a newer snapshot.
      pr.becomeProbe();
      if (pr.match + 1 >= this.log.firstIndex()) pr.becomeReplicate();
    } else if (pr.state === "replicate") {
      pr.inflights.freeLE(m.index);
    }
    const committedBefore = this.log.committed;
    // The followers learn a new commit index from the next append or heartbeat (at most a
    // heartbeat later), not from an empty append of its own: that append and its answer
    // were half the frames of a write at one client (docs/raft.md has what it cost in
    // writes/s). Except a conf change: a replica must apply it as soon as it can, or it
    // counts an old configuration's voters (docs/control.md).
    if (this.maybeCommit() && this.confChangeCommitted(committedBefore)) this.broadcastAppend();
    else if (wasPaused) this.sendAppend(m.from, true);
    // Fill the pipeline; each send takes an inflight slot, so this ends. A spare waits for
    // its next heartbeat, unless this answer just ranked it among the quorum's followers.
    if (!this.isSpare(m.from, pr)) this.fillPipeline(m.from);
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.sendTimeoutNow(m.from);
    }
  }

  private onHeartbeatResponse(m: Extract<Message, { type: "heartbeat-resp" }>, pr: Progress): void {
    pr.recentActive = true;
    pr.probeSent = false;
    if (m.context > pr.ackedRound && m.context <= this.heartbeatRound) {
      pr.ackedRound = m.context;
      this.releaseReads();
    }
    if (pr.state === "snapshot") {
      // No chunk acknowledged for a whole heartbeat: it or its answer was lost, resend.
      if (!pr.snapProgressed) this.sendSnapshotChunk(m.from, pr);
      pr.snapProgressed = false;
      return;
    }
    // Appends (or their answers) may have been lost with the pipeline full: free one
    // slot so the next append goes out; a gap makes the follower reject, and we probe.
    if (pr.state === "replicate" && pr.inflights.full()) pr.inflights.freeFirst();
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from, true);
    // A spare's catch-up: everything it lacks, in as many appends as the pipeline holds.
    if (this.isSpare(m.from, pr)) this.fillPipeline(m.from);
  }

  /** Sends appends to `to` until it has every entry or its pipeline is full. */
  private fillPipeline(to: NodeId): void {
    for (let i = 0; i < this.config.maxInflightMsgs && this.sendAppend(to, false); i++);
  }

  private onSnapshotResponse(m: Extract<Message, { type: "snap-resp" }>, pr: Progress): void {
    const s = pr.snapshot;
    if (pr.state !== "snapshot" || s === null || s.meta.index !== m.index) return;
    if (m.offset > s.data.length) {
      this.stats.droppedMalformed += 1;
      return;
    }
    if (m.reject) {
      pr.snapOffset = m.offset;
      this.sendSnapshotChunk(m.from, pr);
      return;
    }
    if (m.offset <= pr.snapOffset) return;
    pr.snapOffset = m.offset;
    pr.snapProgressed = true;
    if (m.offset < s.data.length) this.sendSnapshotChunk(m.from, pr);
  }

  /**
   * The commit index, from `before`, passed the pending conf change, or it is this term's
   * first commit (the new leader's configuration and no-op: every replica should learn
   * them at once).
   */
  private confChangeCommitted(before: number): boolean {
    if (this.log.term(before) !== this.term) return true;
    return this.pendingConfIndex > before && this.pendingConfIndex <= this.log.committed;
  }

  /** Raft §5.4.2: commit by counting replicas only an entry of the current term. */
  private maybeCommit(): boolean {
    const index = this.tracker.committedIndex();
    if (index <= this.log.committed || this.log.term(index) !== this.term) return false;
    this.log.commitTo(index);
    return true;
  }

  private proposeEntry(type: EntryType, data: Uint8Array): ProposeResult {
    if (this.state !== "leader") return this.refuse("not-leader");
    if (this.leadTransferee !== none) return this.refuse("transferring");
    const entry: Entry = { term: this.term, index: this.log.lastIndex() + 1, type, data };
    const bytes = entryBytes(entry);
    if (bytes > this.config.maxEntryBytes) return this.refuse("too-large");
    const charged = this.charged(bytes);
    if (
      this.uncommittedBytes > 0 &&
      this.uncommittedBytes + charged > this.config.maxUncommittedBytes
    ) {
      return this.refuse("overloaded");
    }
    this.appendEntries([entry]);
    this.uncommittedBytes += charged;
    // A conf change goes to every member at once (see onAppendAccepted); other entries
    // wait for ready(), so that a burst of proposals leaves in one append per follower.
    if (type === "normal") this.appendsDue = true;
    else this.broadcastAppend(false);
    this.checkInvariants();
    return { ok: true, index: this.log.lastIndex(), term: this.term };
  }

  private refuse(reason: Extract<ProposeResult, { ok: false }>["reason"]): ProposeResult {
    this.stats.proposalsDropped += 1;
    return { ok: false, reason, lead: this.lead };
  }

  /** Appends new entries of ours, made with this term and the indexes after the log's. */
  private appendEntries(ents: Entry[]): void {
    let index = this.log.lastIndex();
    for (const e of ents) {
      assert(e.term === this.term && e.index === ++index, "raft: an entry not stamped for us");
    }
    const last = this.log.append(ents);
    // Our own copy counts toward the quorum now: we persist it before any follower can
    // acknowledge it, because our appends leave only after our Ready is persisted.
    this.tracker.progress.get(this.id)?.maybeUpdate(last);
    this.maybeCommit();
  }

  /** Sends every member what it lacks; with `skipSpares`, every member but the spares. */
  private broadcastAppend(skipSpares = false): void {
    for (const [id, pr] of this.tracker.progress) {
      if (id === this.id || (skipSpares && this.isSpare(id, pr))) continue;
      this.sendAppend(id, true);
    }
  }

  /**
   * Whether a follower is a spare (RaftConfig.sparesAtHeartbeat): a voter that at least
   * quorum − 1 other followers rank ahead of — by a longer acknowledged log, then by
   * coming sooner after the leader's id, in ring order. A spare gets new entries only when
   * it answers a heartbeat. Ranking by the acknowledged log lets a spare take the place
   * of a follower that stopped answering at its next catch-up, while a tie (every
   * follower up to date) keeps the choice stable. Learners and a transfer's target are
   * never spares.
   */
  private isSpare(id: NodeId, pr: Progress): boolean {
    if (!this.config.sparesAtHeartbeat || id === this.leadTransferee) return false;
    if (!this.tracker.voters.has(id)) return false;
    const needed = this.tracker.quorum() - 1;
    const distance = ringDistance(this.id, id);
    let ahead = 0;
    for (const v of this.tracker.voters) {
      if (v === this.id || v === id) continue;
      const other = this.tracker.progress.get(v);
      if (other === undefined) continue;
      if (
        other.match > pr.match ||
        (other.match === pr.match && ringDistance(this.id, v) < distance)
      ) {
        ahead += 1;
        if (ahead >= needed) return true;
      }
    }
    return false;
  }

  private broadcastHeartbeat(): void {
    const round = this.heartbeatRound;
    this.roundSentTick[round % roundsKept] = [round, this.leaderTicks];
    for (const [id, pr] of this.tracker.progress) {
      if (id === this.id) continue;
      const commit = Math.min(pr.match, this.log.committed);
      this.send({
        type: "heartbeat",
        from: this.id,
        to: id,
        term: this.term,
        commit,
        context: round,
      });
    }
    const self = this.tracker.progress.get(this.id);
    if (self !== undefined) self.ackedRound = round;
    this.releaseReads();
  }

  /** Sends an append (or a snapshot) if the follower's progress allows; true if sent. */
  private sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.tracker.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    const entries =
      prevTerm === null
        ? null
        : this.log.entriesFrom(pr.next, this.config.maxMsgBytes, entriesPerMessageMax);
    if (prevTerm === null || entries === null) return this.sendSnapshot(to, pr);
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send({
      type: "app",
      from: this.id,
      to,
      term: this.term,
      index: prevIndex,
      logTerm: prevTerm,
      commit: this.log.committed,
      entries,
    });
    const last = entries[entries.length - 1];
    if (pr.state === "replicate" && last !== undefined) {
      let bytes = 0;
      for (const e of entries) bytes += entryBytes(e);
      pr.optimisticUpdate(last.index);
      pr.inflights.add(last.index, bytes);
    } else if (pr.state === "probe") {
      pr.probeSent = true;
    }
    return true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    // An unresponsive follower would waste a whole snapshot transfer.
    if (!pr.recentActive) return false;
    const s = this.log.snapshot();
    assert(s.meta.index > 0, "raft: log compacted without a snapshot");
    this.stats.snapshotsSent += 1;
    pr.becomeSnapshot(s);
    this.sendSnapshotChunk(to, pr);
    return true;
  }

  private sendSnapshotChunk(to: NodeId, pr: Progress): void {
    const s = pr.snapshot;
    assert(s !== null, "raft: no snapshot to send");
    const total = s.data.length;
    // Everything was acknowledged but not the install: start over; the follower answers
    // with its log position if it already has the snapshot.
    const offset = pr.snapOffset >= total && total > 0 ? 0 : pr.snapOffset;
    const chunk = s.data.subarray(offset, Math.min(total, offset + this.config.snapshotChunkBytes));
    this.send({
      type: "snap",
      from: this.id,
      to,
      term: this.term,
      meta: s.meta,
      offset,
      totalBytes: total,
      chunk,
    });
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send({ type: "timeout-now", from: this.id, to, term: this.term });
  }

  // ---- reads ---------------------------------------------------------------------------

  private leaseValid(): boolean {
    const lease = leaseTicks(this.config);
    if (lease === 0 || this.leaderTicks < this.leaseBlockedUntil) return false;
    const round = this.tracker.quorumAckedRound();
    const sent = this.roundSentTick[round % roundsKept];
    if (round === 0 || sent === undefined || sent[0] !== round) return false;
    return this.leaderTicks - sent[1] < lease;
  }

  private releaseReads(): void {
    if (this.pendingReads.length === 0) return;
    const acked = this.tracker.quorumAckedRound();
    let k = 0;
    while (k < this.pendingReads.length && (this.pendingReads[k] as PendingRead).round <= acked) {
      const r = this.pendingReads[k] as PendingRead;
      this.readStates.push({ id: r.id, index: r.index });
      k += 1;
    }
    if (k > 0) this.pendingReads = this.pendingReads.slice(k);
  }

  // ---- configuration -------------------------------------------------------------------

  /**
   * What an entry of `bytes` counts for in uncommittedBytes: an entry bigger than one
   * append counts as one append, so that one big write neither blocks the small ones
   * behind it nor is starved by them (see maxUncommittedBytes).
   */
  private charged(bytes: number): number {
    return Math.min(bytes, this.config.maxMsgBytes);
  }

  /** Entries handed to the host to apply: adopt configuration changes among them. */
  private onHandedOut(committed: readonly Entry[]): void {
    let bytes = 0;
    for (const e of committed) {
      bytes += this.charged(entryBytes(e));
      if (e.type === "conf" && e.index > this.confIndex) this.adoptConf(e);
    }
    this.uncommittedBytes = Math.max(0, this.uncommittedBytes - bytes);
  }

  /** On restart: configuration changes committed after the snapshot. */
  private adoptCommittedConfs(): void {
    const from = this.confIndex + 1;
    const to = this.log.committed;
    for (let i = from; i <= to; ) {
      const batch = this.log.slice(i, to + 1, this.config.maxApplyBytes);
      assert(batch !== null && batch.length > 0, "raft: committed entries missing");
      for (const e of batch) if (e.type === "conf") this.adoptConf(e);
      i += batch.length;
    }
  }

  private adoptConf(e: Entry): void {
    this.confIndex = e.index;
    const decoded = decodeConfChange(e.data);
    // A committed entry we cannot read is a bug or corruption, not an operating error.
    assert(decoded.ok, `raft: undecodable conf change at ${e.index}`);
    const next = applyChange(this.tracker.conf(), decoded.value);
    if (next === null) return;
    this.tracker.setConf(next, this.log.lastIndex() + 1);
    if (this.state !== "leader") return;
    if (!this.tracker.isVoter(this.id)) {
      // Removed (or demoted): hand over by stepping down; the rest elect a new leader.
      this.becomeFollower(this.term, none);
      return;
    }
    // A smaller quorum may commit more; a new member needs the log.
    this.maybeCommit();
    this.broadcastAppend();
  }

  private hasUnadoptedConf(): boolean {
    for (let i = Math.max(this.confIndex, this.log.applied) + 1; i <= this.log.committed; ) {
      const batch = this.log.slice(i, this.log.committed + 1, this.config.maxApplyBytes);
      if (batch === null || batch.length === 0) return false;
      if (batch.some((e) => e.type === "conf")) return true;
      i += batch.length;
    }
    return false;
  }

  // ---- helpers -------------------------------------------------------------------------

  private send(m: Message): void {
    this.msgs.push(m);
  }

  /** Field checks a decoder cannot make alone (what a well-behaved peer always satisfies). */
  private wellFormed(m: Message): boolean {
    if (m.type !== "app") return true;
    let prevTerm = m.logTerm;
    for (let i = 0; i < m.entries.length; i++) {
      const e = m.entries[i] as Entry;
      if (e.index !== m.index + 1 + i || e.term < prevTerm || e.term > m.term) return false;
      prevTerm = e.term;
    }
    return m.logTerm <= m.term;
  }
}

/** How far after `from` the id `to` comes, going up from `from` and wrapping at 2^32. */
function ringDistance(from: NodeId, to: NodeId): number {
  return (to - from) >>> 0;
}

/** A configuration after one change, or null if the change is invalid or a no-op. */
export function applyChange(conf: ConfState, cc: ConfChange): ConfState | null {
  const voters = conf.voters.filter((id) => id !== cc.node);
  const learners = conf.learners.filter((id) => id !== cc.node);
  if (cc.type === "add-voter") voters.push(cc.node);
  if (cc.type === "add-learner") learners.push(cc.node);
  if (voters.length === 0 || voters.length + learners.length > membersMax) return null;
  voters.sort((a, b) => a - b);
  learners.sort((a, b) => a - b);
  return { voters, learners };
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1 && (parts[0] as Uint8Array).length === total)
    return parts[0] as Uint8Array;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

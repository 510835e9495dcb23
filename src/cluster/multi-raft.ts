import { assert } from "../core/assert.js";
import type { Random } from "../core/random.js";
import { messageBytesMax } from "../raft/codec.js";
import { type RaftConfig, validateConfig } from "../raft/config.js";
import { RaftNode, type ReadResult } from "../raft/raft.js";
import type { LogStorage } from "../raft/storage.js";
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  NodeId,
  ProposeResult,
  RaftState,
  ReadState,
  Ready,
  Snapshot,
} from "../raft/types.js";
import {
  decodeEnvelope,
  EnvelopeBuilder,
  envelopeBytesMax,
  envelopeHeaderBytes,
  itemHeaderBytes,
} from "./envelope.js";

/**
 * The multi-raft host: every raft group (shard) with a replica on this node, driven as
 * one. It is the shell of STYLE.md §1 for many groups at once, and still pure: it touches
 * the world only through the injected logs, `send` callback and Random, so the server and
 * the simulator run the same code. What it shares across groups:
 *
 *   - one tick loop: tick() ticks every group; no group has a timer of its own;
 *   - one synced transaction: flush() persists the Readies of all groups with one
 *     logs.persist call (WalRaftLogs: one write, one fdatasync), so the disk
 *     cost of a flush does not grow with the number of busy groups;
 *   - one message stream per peer node: flush() sends everything for node B as ONE
 *     envelope (envelope.ts; split only above envelopeBytesMax), with heartbeats and
 *     their responses as compact records instead of whole messages (coalescing). An idle
 *     node pair thus costs one frame per direction per heartbeat interval, and each
 *     leader–follower link ~15 bytes in it (a heartbeat and its answer; measured by
 *     scripts/bench-multi-raft.ts), instead of a 34-byte and a 26-byte message, each a
 *     transport message of its own with ~90 bytes of framing, seal and ack.
 *
 * Every replica on a node uses the node's raft id, so a raft id names a node, and
 * envelopes are addressed by raft id; the server maps ids to transport addresses.
 *
 * Driving it (the server, the simulator, tests):
 *
 *   tick()                  every tick interval (the raft config counts in ticks)
 *   receive(from, bytes)    every envelope from a peer; never throws on bad input
 *   propose / readIndex /   on a group's leader; queued in raft until the next flush
 *   proposeConfChange / transferLeader
 *   flush()                 after a batch of inputs (each event-loop turn, or after each
 *                           tick and each burst of receives): persist, send, apply, advance.
 *                           Returns true if a group already has more (call again soon).
 *
 * Quiescence (an idle group's leader stops heartbeating) is NOT done, on purpose:
 *
 *   - followers of a silent leader campaign after an election timeout, so the leader
 *     must tell them to stop ticking the group too (a new envelope item), and any
 *     message for the group must wake it again on every replica;
 *   - with those clocks stopped, nothing inside raft notices that the leader's node has
 *     died: a quiesced group would never fail over. It needs node liveness from outside
 *     (membership's SWIM) to wake the groups whose leader's node is suspected, which is
 *     why CockroachDB ties its quiescence to its node-liveness records;
 *   - check-quorum and lease reads count the leader's ticks: a quiesced leader must stop
 *     serving lease reads and re-establish its lease on wake-up, or reads go stale;
 *   - a follower that missed the quiesce message keeps campaigning (pre-votes) against
 *     replicas that hold a frozen lease, and must itself wake the group.
 *   With coalescing, an idle group already costs ~15 bytes per follower per heartbeat
 *   interval and a few microseconds of CPU per tick (bench-multi-raft.ts measures both),
 *   so the risk buys little until nodes host tens of thousands of groups. Revisit with
 *   the membership wiring.
 */

// ---- the storage side --------------------------------------------------------------------

/**
 * One group's raft log as the host needs it: what raft reads (LogStorage), plus taking a
 * snapshot for compaction and releasing the log. WalLogStorage, LmdbLogStorage and MemoryGroupLog
 * (memory-logs.ts) are both one.
 */
export interface GroupLog extends LogStorage {
  /**
   * Records a snapshot the state machine took at `index` (≤ the applied index) with the
   * configuration as of that index, and drops the entries it covers (durably).
   */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot;
  /**
   * Releases the log (it is not used again). WalLogStorage.close and LmdbLogStorage.close
   * are async in type but, for a group opened through their logs' openGroup, release
   * synchronously and never reject:
   * its only await is for an environment it owns, and such a group owns none.
   */
  close(): void;
}

/** What one group's Ready asks to persist, in this order: snapshot, entries, hard state. */
export interface ReadyWrite {
  snapshot: Snapshot | null;
  entries: readonly Entry[];
  hardState: HardState | null;
}

export interface GroupWrite<L extends GroupLog = GroupLog> {
  log: L;
  write: ReadyWrite;
}

/**
 * The raft logs of every group on this node, in one store that can persist the writes of
 * many groups atomically and durably in one go. WalRaftLogs (storage/wal-raft-log.ts, the
 * server's) and LmdbRaftLogs (storage/raft-log.ts) are ones as they stand (the on-disk
 * suite of test/cluster/multi-raft.test.ts holds them to this type);
 * MemoryRaftLogs (memory-logs.ts) is its twin for tests and the simulator.
 */
export interface RaftLogs<L extends GroupLog = GroupLog> {
  /**
   * The log of `group`, created (durably) as a new replica with initial configuration
   * `conf` if it is not stored yet; for a stored group `conf` is ignored.
   */
  openGroup(group: number, conf: ConfState): L;
  /**
   * Persists all `writes` in ONE durable transaction before returning: all or nothing,
   * each group's write in the Ready contract's order (types.ts, Ready). Throws on a
   * storage failure, with nothing written: the same call may be made again (MultiRaft
   * retries it, see retryFlush).
   */
  persist(writes: readonly GroupWrite<L>[]): void;
  /**
   * True once a failure has left the store unable to take any write until it is opened
   * again (a retry cannot succeed). Optional: a store without the state never is.
   */
  broken?(): boolean;
  /** Deletes a group's log (closed first) and everything in it. */
  removeGroup(group: number): void;
}

// ---- the state machine side --------------------------------------------------------------

/**
 * A group's replicated state machine, as the host drives it. All calls are synchronous
 * and come from flush() (restore also from addGroup), in log order.
 *
 * Why this shape:
 *   - apply gets whole entries, not just data: the index is what a proposal's result
 *     ({index, term}) is matched against, and a term different from the proposal's at
 *     that index means the proposal was lost (the client retries). Every committed entry
 *     comes, the leader's empty no-op and "conf" entries included (decodeConfChange
 *     reads the latter), so the machine's applied index moves with no gaps; it applies
 *     only non-empty "normal" entries.
 *   - restore replaces everything: a follower that fell behind the leader's compaction
 *     gets the leader's image instead of the entries.
 *   - snapshot is synchronous and returns the image as of the last applied index: the
 *     host calls it right after an apply, with nothing applied in between, so the image
 *     and the index agree without the machine tracking anything.
 *   - reads come only once their index is applied (the host holds them until then), so
 *     the machine serves them from its current state.
 *
 * Restart: addGroup opens the group's stored log; if it holds a snapshot (index > 0) the
 * host calls restore(snapshot) at once, then re-applies every committed entry after it.
 * A machine whose state is volatile starts empty and thereby rebuilds itself. A durable
 * machine (one that keeps its own applied index on disk) skips entries at or below it,
 * and ignores a restore at or below it.
 */
export interface GroupMachine {
  /** Committed entries, contiguous, in log order, each once per incarnation. */
  apply(entries: readonly Entry[]): void;
  /** Replaces the whole state with the snapshot's image (data) as of snapshot.meta.index. */
  restore(snapshot: Snapshot): void;
  /** The image of the state as of the last applied index, for log compaction. */
  snapshot(): Uint8Array;
  /**
   * Optional: the same image, built a slice at a time (SnapshotJob) while entries go on
   * being applied, so that a big state does not hold the host for the whole image at
   * each compaction. Without it, compaction calls snapshot().
   */
  beginSnapshot?(): SnapshotJob;
  /** Read-index reads (readIndex ids) whose index is applied: serve them now. */
  reads(reads: readonly ReadState[]): void;
  /**
   * Leader or role changed (after this flush's entries were applied). A leader that lost
   * its role fails the proposals it was waiting for: they may or may not commit.
   */
  roleChanged?(status: GroupStatus): void;
  /** Bytes of the state: what a new replica copies (balance evens it per node). */
  dataBytes?(): number;
}

/**
 * An image of a machine's state as of the last index applied when it began, built in
 * steps (GroupMachine.beginSnapshot). The machine may apply entries between steps.
 */
export interface SnapshotJob {
  /**
   * Builds up to `units` more of the image (keys, for a shard machine); returns the image
   * once complete, else null. Throws if the job was aborted.
   */
  step(units: number): Uint8Array | null;
  /** Why the image cannot be completed (its state was replaced meanwhile), or null. */
  readonly aborted: string | null;
  /** Gives the job up; it is not stepped again. */
  cancel(): void;
}

// ---- the host ----------------------------------------------------------------------------

export interface GroupStatus {
  group: number;
  /** The leader's raft id (node), 0 when unknown. */
  lead: NodeId;
  term: number;
  role: RaftState;
  commit: number;
  /** The last index applied to (or restored into) the machine. */
  applied: number;
  lastIndex: number;
  /** The index the stored snapshot covers (the log is compacted up to it). */
  snapshotIndex: number;
}

interface NoGroup {
  ok: false;
  /** "stalled": this node's raft logs cannot be written now (MultiRaft.stalled). */
  reason: "no-group" | "stalled";
  lead: NodeId;
}
export type GroupProposeResult = ProposeResult | NoGroup;
export type GroupReadResult = ReadResult | NoGroup;

export interface MultiRaftOptions {
  /** Largest envelope sent and accepted; default envelopeBytesMax (the transport's bound). */
  envelopeBytesMax?: number;
  /**
   * A group snapshots its machine and compacts its log once this many entries have been
   * applied since its last snapshot; 0 never compacts (tests). Default 10,000: a
   * compaction copies the machine's whole image, so it must be amortised over many
   * entries, and a follower that lags by fewer entries than the log keeps catches up by
   * appends, far cheaper than a snapshot. 10,000 entries of ~100 bytes keep ~1 MB of log
   * per group. etcd's --snapshot-count is of the same order. Each group adds up to a
   * quarter more of its own (compactEvery), so that groups do not compact together. A
   * group whose machine is bigger (dataBytes) waits until the entries applied since its
   * last compaction hold as many bytes as the machine (maybeCompact).
   */
  compactEntries?: number;
  /**
   * A message arrived for a group with no replica here. The hook may create it with
   * addGroup (a replica being added to this node by a configuration change), and the
   * message is then stepped into it. It must NOT recreate a replica this node removed
   * (the message is stale): the shard map says which replicas belong here.
   */
  onUnknownGroup?: (group: number, fromNode: NodeId, message: Message) => void;
}

/** Totals since creation; read them, never write them. */
export interface MultiRaftStats {
  /** Flushes that found at least one Ready. */
  flushes: number;
  /** logs.persist calls: one durable transaction each, at most one per flush. */
  persists: number;
  /** Group writes (Readies with something to persist) those transactions carried. */
  groupWrites: number;
  /** Hard states that only moved the commit index, left for a later transaction. */
  hardStatesDeferred: number;
  envelopesSent: number;
  bytesSent: number;
  /** Raft messages sent, all kinds (items in envelopes). */
  messagesSent: number;
  /** Of messagesSent, heartbeats and heartbeat responses sent as compact records. */
  heartbeatsCoalesced: number;
  envelopesReceived: number;
  bytesReceived: number;
  itemsReceived: number;
  /** Undecodable envelopes (garbage, truncation, bounds): dropped whole. */
  envelopesRejected: number;
  /** Envelopes not for this node, or whose sender is not who the transport says. */
  envelopesMisaddressed: number;
  /** Items for a group with no replica here (after onUnknownGroup had its chance). */
  itemsUnknownGroup: number;
  entriesApplied: number;
  readsServed: number;
  /** Compactions: machine images taken and stored, the log cut behind them. */
  snapshotsTaken: number;
  /** Of the compactions, images built in steps (GroupMachine.beginSnapshot) begun. */
  imagesBegun: number;
  /**
   * Images in steps given up: the machine's state was replaced (a leader's snapshot, a
   * clear), the group was removed, or a step or the snapshot's write threw (lastImageError).
   * The group compacts again later.
   */
  imagesDropped: number;
  /** Leaders' snapshots installed (this replica was too far behind for appends). */
  snapshotsInstalled: number;
  /** Stored snapshots restored into machines by addGroup (restarts). */
  snapshotsLoaded: number;
  /** logs.persist calls that threw (each left the instance stalled, see retryFlush). */
  persistsFailed: number;
  /** Envelopes and ticks dropped while stalled. */
  droppedStalled: number;
}

interface Group<L extends GroupLog> {
  readonly id: number;
  readonly raft: RaftNode;
  readonly log: L;
  readonly machine: GroupMachine;
  applied: number;
  snapshotIndex: number;
  /** Read states handed out by raft whose index is not applied yet. */
  reads: ReadState[];
  /** Term and vote last written to the log (-1: none written since the group was added). */
  writtenTerm: number;
  writtenVote: number;
  /** A hard state that only moved the commit index, not written yet (see persist). */
  deferred: HardState | null;
  /**
   * A replica created from a configuration that is not its own yet (see addGroup's
   * `passive`): not ticked, so it never campaigns, while its configuration is still this
   * one; null once it has applied a different one (then it is an ordinary replica).
   */
  passive: ConfState | null;
  /** MultiRaft's tick count when a leader last sent this replica an append, heartbeat or snapshot. */
  leaderHeardTick: number;
  /** Bytes of entry data applied since the last compaction began (or snapshot installed). */
  appliedBytes: number;
}

/** A compaction waiting for its image: the snapshot will be labelled `index` and `conf`. */
interface Imaging {
  readonly index: number;
  readonly conf: ConfState;
  readonly job: SnapshotJob;
}

/** What one flush writes, and which groups of its batch that covers. */
interface PreparedWrites<L extends GroupLog> {
  writes: GroupWrite<L>[];
  written: Set<Group<L>>;
}

interface Handed<L extends GroupLog> {
  group: Group<L>;
  rd: Ready;
}

/** A flush between its halves (flushStart, flushEnd). */
export interface FlushHalf {
  /** The first half applied committed entries or served reads (replies may be waiting). */
  readonly applied: boolean;
}

interface Half<L extends GroupLog> extends FlushHalf {
  batch: Handed<L>[];
  writes: PreparedWrites<L> | null;
  early: boolean[];
  /** Per Readies of `batch`: entries applied by applyDurable, or -1. */
  appliedEarly: number[];
}

const groupIdMax = 0xffff_ffff;
/**
 * A leader postpones compaction while a member's log is behind the snapshot point (that
 * member would need the whole image instead of a few appends), but only until the log
 * holds this many times compactEntries: a member down for long must not pin the log.
 */
const laggardLogFactor = 4;
/** An envelope builder whose buffer grew past this is dropped after its flush. */
const builderRetainBytesMax = 256 * 1024;

export class MultiRaft<L extends GroupLog = GroupLog> {
  readonly id: NodeId;
  readonly stats: MultiRaftStats = {
    flushes: 0,
    persists: 0,
    groupWrites: 0,
    hardStatesDeferred: 0,
    envelopesSent: 0,
    bytesSent: 0,
    messagesSent: 0,
    heartbeatsCoalesced: 0,
    envelopesReceived: 0,
    bytesReceived: 0,
    itemsReceived: 0,
    envelopesRejected: 0,
    envelopesMisaddressed: 0,
    itemsUnknownGroup: 0,
    entriesApplied: 0,
    readsServed: 0,
    snapshotsTaken: 0,
    imagesBegun: 0,
    imagesDropped: 0,
    snapshotsInstalled: 0,
    snapshotsLoaded: 0,
    persistsFailed: 0,
    droppedStalled: 0,
  };
  /** Why the last rejected envelope was rejected (diagnostics). */
  lastRejection = "";
  /** Why the last image in steps was given up (diagnostics), or "". */
  lastImageError = "";

  private readonly config: RaftConfig;
  private readonly envelopeBytesMax: number;
  private readonly messageBytesMax: number;
  private readonly compactEntries: number;
  private readonly groups = new Map<number, Group<L>>();
  /** tick() calls so far: the clock of leaderHeardTick. */
  private ticks = 0;
  /** Groups given an input since the last flush; all of them after a tick. */
  private readonly dirty = new Set<Group<L>>();
  private allDirty = false;
  /** Groups holding a deferred hard state (see persist). */
  private readonly deferred = new Set<Group<L>>();
  /** Compactions whose image is being built, oldest first (stepImages). */
  private readonly imaging = new Map<Group<L>, Imaging>();
  /** One per peer node, reused flush after flush. */
  private readonly builders = new Map<NodeId, EnvelopeBuilder>();
  private flushing = false;
  /** A flush between flushStart and flushEnd, or null. */
  private half: Half<L> | null = null;
  /** Set when a flush failed half-way: the instance is unusable (see flush()). */
  private failure: unknown = null;
  /** What the last persist threw while its flush waits for retryFlush, or null. */
  private stall: unknown = null;

  /**
   * `config` is every group's (its id is replaced by `id`). `random` is shared by all
   * groups: they draw from it in a fixed order (groups in the order added), so a seed
   * still reproduces a run. `send` gets each envelope once it may leave (after the
   * persist); the caller delivers it to node `toNode`, in order per node, or drops it —
   * it must not throw (a throw in a flush makes this instance unusable, see flush()).
   */
  constructor(
    id: NodeId,
    config: RaftConfig,
    private readonly random: Random,
    private readonly logs: RaftLogs<L>,
    private readonly send: (toNode: NodeId, bytes: Uint8Array) => void,
    private readonly options: MultiRaftOptions = {},
  ) {
    this.id = id;
    this.config = Object.freeze({ ...config, id });
    validateConfig(this.config);
    this.envelopeBytesMax = options.envelopeBytesMax ?? envelopeBytesMax;
    this.messageBytesMax = messageBytesMax(config);
    // The largest message raft sends must fit alone in an envelope.
    assert(
      envelopeHeaderBytes + itemHeaderBytes + 4 + this.messageBytesMax <= this.envelopeBytesMax,
      "multi-raft: envelopeBytesMax below the largest raft message",
    );
    this.compactEntries = options.compactEntries ?? 10_000;
    assert(
      Number.isSafeInteger(this.compactEntries) && this.compactEntries >= 0,
      "multi-raft: bad compactEntries",
    );
  }

  // ---- groups ------------------------------------------------------------------------------

  /**
   * Opens (or creates, with initial configuration `conf`) this node's replica of `group`
   * and drives it from now on. If its log holds a snapshot, machine.restore gets it now
   * (see GroupMachine, "Restart"). Not during a flush.
   *
   * `passive`: the replica is being created from a configuration that is not yet its own
   * (a host recreating a replica from the cluster's bootstrap configuration, to replay the
   * log's conf changes onto it). It is not ticked — so it never campaigns — until it has
   * applied a configuration different from `conf`. Without this, the node that bootstrapped
   * the cluster (the bootstrap configuration's only voter) would elect itself alone in a
   * group it is being added back to.
   */
  addGroup(
    group: number,
    conf: ConfState,
    machine: GroupMachine,
    options: { passive?: boolean } = {},
  ): void {
    this.checkUsable();
    assert(!this.flushing, "multi-raft: addGroup during a flush");
    assert(Number.isInteger(group) && group >= 0 && group <= groupIdMax, "multi-raft: bad group");
    assert(!this.groups.has(group), `multi-raft: group ${group} already added`);
    const log = this.logs.openGroup(group, conf);
    let raft: RaftNode;
    const snapshotIndex = log.firstIndex() - 1;
    try {
      raft = new RaftNode(this.config, log, this.random);
      if (snapshotIndex > 0) {
        machine.restore(log.snapshot());
        this.stats.snapshotsLoaded += 1;
      }
    } catch (e) {
      // Released, so a retry (or the caller's clean-up) can open it again.
      log.close();
      throw e;
    }
    const g: Group<L> = {
      id: group,
      raft,
      log,
      machine,
      applied: snapshotIndex,
      snapshotIndex,
      reads: [],
      writtenTerm: -1,
      writtenVote: -1,
      deferred: null,
      passive: options.passive === true ? conf : null,
      leaderHeardTick: this.ticks,
      appliedBytes: 0,
    };
    this.groups.set(group, g);
    this.dirty.add(g);
  }

  /**
   * Stops driving `group` and deletes its log: this node's replica was removed from the
   * group. Pending reads are dropped (the caller fails them). False if there is no such
   * group. Not during a flush.
   */
  removeGroup(group: number): boolean {
    this.checkUsable();
    assert(!this.flushing && this.half === null, "multi-raft: removeGroup during a flush");
    const g = this.groups.get(group);
    if (g === undefined) return false;
    this.groups.delete(group);
    this.dirty.delete(g);
    this.deferred.delete(g);
    this.dropImage(g, null);
    g.log.close();
    this.logs.removeGroup(group);
    return true;
  }

  has(group: number): boolean {
    return this.groups.has(group);
  }

  /** Group ids in the order they were added. */
  /**
   * Ticks since the group's leader last sent this replica an append, heartbeat or snapshot
   * (or since the group was added); null if there is no such group. A leader keeps sending
   * to every member of its configuration, learners included, so a replica that hears from
   * its leader is still wanted, whatever configuration it has applied so far.
   */
  ticksSinceLeader(group: number): number | null {
    const g = this.groups.get(group);
    return g === undefined ? null : this.ticks - g.leaderHeardTick;
  }

  groupIds(): number[] {
    return [...this.groups.keys()];
  }

  get size(): number {
    return this.groups.size;
  }

  /** Whether this node leads `group` (status's role, without making a status). */
  leads(group: number): boolean {
    return this.groups.get(group)?.raft.state === "leader";
  }

  status(group: number): GroupStatus | null {
    const g = this.groups.get(group);
    return g === undefined ? null : statusOf(g);
  }

  /** The group's machine's dataBytes(); null without the group or the method. */
  dataBytes(group: number): number | null {
    const m = this.groups.get(group)?.machine;
    return m?.dataBytes === undefined ? null : m.dataBytes();
  }

  /**
   * The group's RaftNode, for introspection (stats, progress) and tests. Give it inputs
   * only through this class, which then knows to look at it in the next flush.
   */
  raftOf(group: number): RaftNode | undefined {
    return this.groups.get(group)?.raft;
  }

  // ---- inputs ------------------------------------------------------------------------------

  /** One tick for every group: the only clock they have. */
  tick(): void {
    this.checkUsable();
    if (this.stall !== null) {
      this.stats.droppedStalled += 1;
      return;
    }
    this.ticks += 1;
    for (const g of this.groups.values()) {
      if (g.passive !== null) {
        if (sameConf(g.raft.confState(), g.passive)) continue;
        g.passive = null;
      }
      g.raft.tick();
    }
    this.allDirty = true;
  }

  /**
   * An envelope from node `fromNode` (as the transport authenticated it). Undecodable,
   * misaddressed and unknown-group input is counted and dropped, never thrown.
   */
  receive(fromNode: NodeId, bytes: Uint8Array): void {
    this.checkUsable();
    if (this.stall !== null) {
      this.stats.droppedStalled += 1;
      return;
    }
    // Between a flush's halves too: an acknowledgement must not be counted before the
    // entries it acknowledges are durable here (a leader counts its own copy at once).
    assert(!this.flushing && this.half === null, "multi-raft: receive during a flush (queue it)");
    this.stats.envelopesReceived += 1;
    this.stats.bytesReceived += bytes.length;
    const decoded = decodeEnvelope(bytes, {
      bytesMax: this.envelopeBytesMax,
      messageBytesMax: this.messageBytesMax,
    });
    if (!decoded.ok) {
      this.stats.envelopesRejected += 1;
      this.lastRejection = decoded.error;
      return;
    }
    const env = decoded.value;
    // A peer must not speak for another node: the envelope's sender is the one the
    // transport vouches for, and every message in it is from that sender (envelope.ts).
    if (env.to !== this.id || env.from !== fromNode || env.from === this.id) {
      this.stats.envelopesMisaddressed += 1;
      return;
    }
    for (const { group, message } of env.items) {
      this.stats.itemsReceived += 1;
      let g = this.groups.get(group);
      if (g === undefined) {
        this.options.onUnknownGroup?.(group, fromNode, message);
        g = this.groups.get(group);
        if (g === undefined) {
          this.stats.itemsUnknownGroup += 1;
          continue;
        }
      }
      g.raft.step(message);
      if (
        (message.type === "app" || message.type === "heartbeat" || message.type === "snap") &&
        g.raft.lead === message.from
      ) {
        g.leaderHeardTick = this.ticks;
      }
      this.dirty.add(g);
    }
  }

  propose(group: number, data: Uint8Array): GroupProposeResult {
    if (this.stall !== null) return stalled;
    const g = this.input(group);
    return g === undefined ? noGroup : g.raft.propose(data);
  }

  proposeConfChange(group: number, cc: ConfChange): GroupProposeResult {
    if (this.stall !== null) return stalled;
    const g = this.input(group);
    return g === undefined ? noGroup : g.raft.proposeConfChange(cc);
  }

  transferLeader(group: number, to: NodeId): boolean {
    if (this.stall !== null) return false;
    const g = this.input(group);
    return g === undefined ? false : g.raft.transferLeader(to);
  }

  /** A linearizable read; machine.reads gets `id` once the read's index is applied. */
  readIndex(group: number, id: number): GroupReadResult {
    if (this.stall !== null) return stalled;
    const g = this.input(group);
    return g === undefined ? noGroup : g.raft.readIndex(id);
  }

  /** Campaign now (tests, and picking a leader at bootstrap). */
  campaign(group: number): boolean {
    if (this.stall !== null) return false;
    const g = this.input(group);
    g?.raft.campaign();
    return g !== undefined;
  }

  // ---- output ------------------------------------------------------------------------------

  /**
   * Handles one Ready of every group that has one, as the Ready contract orders
   * (types.ts, Ready), for all groups at once:
   *
   *   0. send the appends and heartbeats of the groups this node leads, when their Ready
   *      changes neither term nor vote: a leader may write its own log in parallel with
   *      its followers (raft thesis, 10.2.1), because it counts itself toward a quorum
   *      only with entries it has persisted, and no acknowledgement is looked at before
   *      this flush's persist returns (flush is synchronous);
   *   1. persist every group's snapshot, entries and hard state in ONE logs.persist call
   *      (one durable transaction), before anything else leaves;
   *   2. send every group's other messages, ONE envelope per destination node (more only
   *      if it would exceed envelopeBytesMax), heartbeats as compact records;
   *   3. apply every group's snapshot and committed entries to its machine, and serve the
   *      reads whose index is now applied — the committed entries that were durable here
   *      before this flush (below its Ready's new entries) already before step 1, so that
   *      their replies need not wait for this flush's sync (flushStart);
   *   4. advance() every group; then snapshot and compact the groups that are due.
   *
   * One Ready per group per flush: a group may have another already (more committed
   * entries than maxApplyBytes, or inputs given by a machine callback); then it returns
   * true and the caller flushes again soon — in its next turn, so that inputs arriving
   * meanwhile join the same transaction and envelopes.
   *
   * A persist that throws (a full disk, an I/O error) leaves the instance **stalled**:
   * the logs are as they were before it (RaftLogs.persist), so the flush waits, half
   * done, for retryFlush to persist the same writes again — to raft, a disk that took
   * long to answer. Meanwhile nothing reaches raft: ticks and envelopes are dropped (a
   * paused node, which raft tolerates: the other replicas elect a leader among
   * themselves), proposals and reads are refused with reason "stalled", and every
   * machine this node leads for is told it lost the role (roleChanged, role "follower"),
   * so that the clients waiting on it learn that their writes may or may not commit.
   *
   * Any other throw (a bug, a machine that failed) leaves Readies handed out but not
   * acknowledged: their other messages must not leave and raft cannot take them back (a
   * leader's appends that left in step 0 are harmless: nothing counts them as durable
   * here). The instance then refuses all further calls; the caller recreates it from its
   * logs, as after a crash.
   */
  flush(): boolean {
    const half = this.flushStart();
    return half === null ? this.dirty.size > 0 : this.flushEnd(half);
  }

  /**
   * The first half of flush(): takes the Readies, sends what leaves before the persist
   * (step 0), and applies what is durable already — the committed entries below each
   * Ready's new entries (they were persisted by an earlier flush) — and serves the reads
   * that allows. Null if no group has a Ready. Then flushEnd(half) must follow before any
   * other input but proposals, reads and addGroup; a host may first let the replies the
   * applies resolved go out (the server runs the promise jobs they queued), so that a
   * client whose write committed does not also wait for the sync of newer writes.
   */
  flushStart(): FlushHalf | null {
    this.checkUsable();
    if (this.stall !== null) return null;
    assert(!this.flushing && this.half === null, "multi-raft: flush re-entered");
    const batch = this.takeReadies();
    if (batch.length === 0) return null;
    this.flushing = true;
    try {
      const writes = this.prepareWrites(batch);
      const early = this.beginFlush(batch, writes !== null);
      const served = this.stats.readsServed;
      const appliedEarly = batch.map(({ group, rd }) => this.applyDurable(group, rd));
      const applied = appliedEarly.some((k) => k > 0) || this.stats.readsServed > served;
      this.half = { batch, writes, early, appliedEarly, applied };
      return this.half;
    } catch (e) {
      this.failure = e;
      throw e;
    } finally {
      this.flushing = false;
    }
  }

  /**
   * The second half of flush() (steps 1 to 4); true if a group already has more. Throws
   * what the persist threw, leaving the instance stalled (see flush()).
   */
  flushEnd(half: FlushHalf): boolean {
    this.checkUsable();
    assert(this.half === half && !this.flushing, "multi-raft: flushEnd without its flushStart");
    assert(this.stall === null, "multi-raft: flushEnd while stalled (retryFlush)");
    return this.endFlush(half as Half<L>);
  }

  /**
   * What the persist that stalled this instance threw, or null: while it is set the
   * instance takes no input (see flush()) and waits for retryFlush.
   */
  get stalled(): unknown {
    return this.stall;
  }

  /**
   * Persists the stalled flush's writes again, and finishes it as flushEnd would; true if
   * a group already has more (flush again), as flushEnd. Throws again, still stalled, if
   * the persist fails again.
   */
  retryFlush(): boolean {
    this.checkUsable();
    assert(this.stall !== null && this.half !== null, "multi-raft: retryFlush without a stall");
    return this.endFlush(this.half);
  }

  private endFlush(h: Half<L>): boolean {
    this.flushing = true;
    try {
      if (h.writes !== null) {
        try {
          this.logs.persist(h.writes.writes);
        } catch (e) {
          this.stats.persistsFailed += 1;
          if (this.stall === null) this.loseLeadership();
          this.stall = e;
          throw e;
        }
        this.stall = null;
        this.recordWritten(h.batch, h.writes);
      }
      this.finishFlush(h.batch, h.early, h.appliedEarly);
    } catch (e) {
      if (this.stall !== e) this.failure = e;
      throw e;
    } finally {
      this.flushing = false;
      if (this.stall === null) this.half = null;
    }
    return this.afterFlush(h.batch);
  }

  /**
   * Entering a stall: the machines of the groups this node leads hear that it lost the
   * role. Their waiting proposals may commit through the entries already sent, or not.
   */
  private loseLeadership(): void {
    for (const g of this.groups.values()) {
      if (g.raft.state !== "leader") continue;
      g.machine.roleChanged?.({ ...statusOf(g), role: "follower", lead: 0 });
    }
  }

  /**
   * Step 0: counts the flush and sends what may leave before the persist. A flush with
   * nothing to persist sends everything at once, in step 2 (one envelope per peer).
   */
  private beginFlush(batch: readonly Handed<L>[], persists: boolean): boolean[] {
    this.stats.flushes += 1;
    const early = batch.map(({ group, rd }) => persists && this.leadsUnchanged(group, rd));
    if (persists) this.sendMessages(batch, early, true);
    return early;
  }

  /** Steps 2 to 4, once the batch is durable. */
  private finishFlush(
    batch: readonly Handed<L>[],
    early: readonly boolean[],
    appliedEarly: readonly number[],
  ): void {
    this.sendMessages(batch, early, false);
    for (const [k, { group, rd }] of batch.entries()) {
      this.apply(group, rd, appliedEarly[k] as number);
    }
    for (const { group } of batch) group.raft.advance();
    for (const { group } of batch) this.maybeCompact(group);
  }

  private afterFlush(batch: readonly Handed<L>[]): boolean {
    for (const { group } of batch) if (group.raft.hasReady()) this.dirty.add(group);
    return this.dirty.size > 0;
  }

  private takeReadies(): Handed<L>[] {
    const batch: Handed<L>[] = [];
    const candidates = this.allDirty ? this.groups.values() : this.dirty.values();
    for (const g of candidates) {
      if (g.raft.hasReady()) batch.push({ group: g, rd: g.raft.ready() });
    }
    this.allDirty = false;
    this.dirty.clear();
    return batch;
  }

  /**
   * A Ready whose only write is a hard state that moved the commit index (same term and
   * vote) is not written now: the commit index is volatile state in raft (a restarted
   * replica learns it again from the leader, and never applies past what its log and
   * the leader say), so it waits for the next synced transaction of any group, which
   * carries every deferred hard state. Each write of a new entry would otherwise cost a
   * second synced transaction on every replica, one round after the first, only to
   * record the commit.
   */
  private prepareWrites(batch: readonly Handed<L>[]): PreparedWrites<L> | null {
    const writes: GroupWrite<L>[] = [];
    const written = new Set<Group<L>>();
    for (const { group, rd } of batch) {
      const hs = rd.hardState;
      if (rd.snapshot === null && rd.entries.length === 0) {
        if (hs === null) continue;
        if (hs.term === group.writtenTerm && hs.vote === group.writtenVote) {
          group.deferred = hs;
          this.deferred.add(group);
          this.stats.hardStatesDeferred += 1;
          continue;
        }
      }
      written.add(group);
      writes.push({
        log: group.log,
        write: { snapshot: rd.snapshot, entries: rd.entries, hardState: hs ?? group.deferred },
      });
    }
    if (writes.length === 0) return null;
    for (const g of this.deferred) {
      if (g.deferred === null || written.has(g)) continue;
      writes.push({ log: g.log, write: { snapshot: null, entries: [], hardState: g.deferred } });
    }
    return { writes, written };
  }

  /** After the prepared writes are durable: what each group has on disk now. */
  private recordWritten(batch: readonly Handed<L>[], p: PreparedWrites<L>): void {
    this.stats.persists += 1;
    this.stats.groupWrites += p.writes.length;
    for (const { group, rd } of batch) {
      const hs = rd.hardState ?? group.deferred;
      if (!p.written.has(group) || hs === null) continue;
      group.writtenTerm = hs.term;
      group.writtenVote = hs.vote;
    }
    for (const g of this.deferred) g.deferred = null;
    this.deferred.clear();
  }

  /** A leader's Ready that writes no new term or vote (its appends may leave early). */
  private leadsUnchanged(group: Group<L>, rd: Ready): boolean {
    const hs = rd.hardState;
    return (
      group.raft.state === "leader" &&
      rd.snapshot === null &&
      (hs === null || (hs.term === group.writtenTerm && hs.vote === group.writtenVote))
    );
  }

  /**
   * Sends the batch's messages that leave before the persist (`beforePersist`: appends
   * and heartbeats of the Readies marked in `early`) or all the others.
   */
  private sendMessages(
    batch: readonly Handed<L>[],
    early: readonly boolean[],
    beforePersist: boolean,
  ): void {
    for (const [k, { group, rd }] of batch.entries()) {
      const groupEarly = early[k] === true;
      for (const m of rd.messages) {
        const leavesEarly = groupEarly && (m.type === "app" || m.type === "heartbeat");
        if (leavesEarly !== beforePersist) continue;
        this.builderFor(m.to).add(group.id, m);
        this.stats.messagesSent += 1;
        if (m.type === "heartbeat" || m.type === "heartbeat-resp") {
          this.stats.heartbeatsCoalesced += 1;
        }
      }
    }
    for (const [to, builder] of this.builders) {
      if (builder.pending === 0) continue;
      for (const bytes of builder.finish()) {
        this.stats.envelopesSent += 1;
        this.stats.bytesSent += bytes.length;
        this.send(to, bytes);
      }
      if (builder.capacity > builderRetainBytesMax) this.builders.delete(to);
    }
  }

  private builderFor(to: NodeId): EnvelopeBuilder {
    let b = this.builders.get(to);
    if (b === undefined) {
      b = new EnvelopeBuilder(this.id, to, this.envelopeBytesMax);
      this.builders.set(to, b);
    }
    return b;
  }

  /**
   * Before the persist: applies the Ready's committed entries that are durable here
   * already, i.e. below its first new entry (every entry below it was persisted by an
   * earlier flush: an unstable entry is in the Ready's entries), and takes its read
   * states. Returns how many entries it applied, or -1 if it did nothing (a Ready with a
   * snapshot is applied whole after the persist).
   *
   * Only where this node leads: a follower has no client waiting on its applies, and its
   * acknowledgement of the new entries (sent right after the persist) is what the
   * leader's clients wait for. Applying first would put the apply on that path: at 1
   * writer, every append carries the commit of the write before it.
   */
  private applyDurable(g: Group<L>, rd: Ready): number {
    if (rd.snapshot !== null || g.raft.state !== "leader") return -1;
    const firstNew = rd.entries[0]?.index ?? Number.POSITIVE_INFINITY;
    const entries = rd.committedEntries;
    let k = 0;
    while (k < entries.length && (entries[k] as Entry).index < firstNew) k += 1;
    if (k > 0) this.applyEntries(g, k === entries.length ? entries : entries.slice(0, k));
    for (const rs of rd.readStates) g.reads.push(rs);
    if (g.reads.length > 0) this.serveReads(g);
    return k;
  }

  /** After the persist: the rest of the Ready (applyDurable did `done` of its entries). */
  private apply(g: Group<L>, rd: Ready, done: number): void {
    if (rd.snapshot !== null) {
      this.dropImage(g, "a leader's snapshot replaced the state");
      g.machine.restore(rd.snapshot);
      g.applied = rd.snapshot.meta.index;
      g.snapshotIndex = rd.snapshot.meta.index;
      g.appliedBytes = 0;
      this.stats.snapshotsInstalled += 1;
    }
    const all = rd.committedEntries;
    const entries = done <= 0 ? all : all.slice(done);
    if (entries.length > 0) this.applyEntries(g, entries);
    if (done < 0) for (const rs of rd.readStates) g.reads.push(rs);
    if (g.reads.length > 0) this.serveReads(g);
    if (rd.softState !== null) g.machine.roleChanged?.(statusOf(g));
  }

  private applyEntries(g: Group<L>, entries: readonly Entry[]): void {
    const first = entries[0] as Entry;
    assert(first.index === g.applied + 1, `multi-raft: group ${g.id} applies out of order`);
    g.machine.apply(entries);
    g.applied = (entries[entries.length - 1] as Entry).index;
    for (const e of entries) g.appliedBytes += e.data.length;
    this.stats.entriesApplied += entries.length;
  }

  /** Reads whose index is applied; the rest wait (apply is bounded by maxApplyBytes). */
  private serveReads(g: Group<L>): void {
    let k = 0;
    while (k < g.reads.length && (g.reads[k] as ReadState).index <= g.applied) k += 1;
    if (k === 0) return;
    // Read states come in index order (each is the commit index when it was asked for, and
    // a replica's commit index never goes back), so the ready ones are a prefix.
    const ready = g.reads.splice(0, k);
    this.stats.readsServed += ready.length;
    g.machine.reads(ready);
  }

  /**
   * Snapshots the machine and compacts the log once compactEntries are applied since the
   * last snapshot. Each compaction is its own durable transaction (createSnapshot): rare
   * (every compactEntries entries per group), so not worth folding into the flush's.
   */
  private maybeCompact(g: Group<L>): void {
    if (this.imaging.has(g)) return;
    const every = this.compactEvery(g.id);
    const index = g.applied;
    if (every === 0 || index - g.snapshotIndex < every) return;
    // An image costs the state's size, so a big state waits until the entries since the
    // last compaction hold as many bytes as it does (as Redis rewrites its AOF once it has
    // doubled): imaging then costs about one byte per byte written, whatever the size.
    if (g.appliedBytes < (g.machine.dataBytes?.() ?? 0)) return;
    // raft's confState() is the configuration as of the last entry handed out, except
    // right after a restart, when raft adopts every committed change at once: compact
    // only when all that is committed is applied, so the snapshot's conf is its index's.
    if (index !== g.raft.log.committed || index > g.log.lastIndex()) return;
    if (g.raft.state === "leader" && index - g.snapshotIndex < laggardLogFactor * every) {
      if (this.someMemberBehind(g, index)) return;
    }
    g.appliedBytes = 0;
    if (g.machine.beginSnapshot !== undefined) {
      this.imaging.set(g, { index, conf: g.raft.confState(), job: g.machine.beginSnapshot() });
      this.stats.imagesBegun += 1;
      return;
    }
    g.log.createSnapshot(index, g.raft.confState(), g.machine.snapshot());
    g.snapshotIndex = index;
    this.stats.snapshotsTaken += 1;
  }

  /** Compactions waiting for their image to be built (stepImages). */
  get imagesPending(): number {
    return this.imaging.size;
  }

  /**
   * Builds up to `units` more of the oldest pending compaction image (keys, for a shard
   * machine), and once it is complete stores the snapshot and compacts the log behind it
   * (one durable transaction, as a compaction in a flush). The host calls it between
   * flushes while imagesPending > 0, a slice at a time, so that flushes go on meanwhile;
   * the snapshot is labelled with the index and configuration of when the image began.
   * Returns whether images are still pending. Not during a flush, nor while stalled (the
   * log takes no write then).
   *
   * An image that cannot be finished, or whose snapshot the log refuses, is given up
   * (stats.imagesDropped, lastImageError) and the group compacts again after its next
   * flush: a compaction is an optimisation, never needed for safety.
   */
  stepImages(units: number): boolean {
    this.checkUsable();
    assert(!this.flushing && this.half === null, "multi-raft: stepImages during a flush");
    const oldest = this.imaging.entries().next().value;
    if (this.stall !== null || oldest === undefined) return this.imaging.size > 0;
    const [g, im] = oldest;
    let image: Uint8Array | null = null;
    try {
      if (im.job.aborted === null) image = im.job.step(units);
    } catch (e) {
      if (im.job.aborted === null) this.dropImage(g, `image step failed: ${(e as Error).message}`);
    }
    if (im.job.aborted !== null) this.dropImage(g, im.job.aborted);
    else if (image !== null) this.storeImage(g, im, image);
    return this.imaging.size > 0;
  }

  /** A finished image: its snapshot stored and the log compacted, if still newer. */
  private storeImage(g: Group<L>, im: Imaging, image: Uint8Array): void {
    if (im.index <= g.snapshotIndex || im.index > g.log.lastIndex()) {
      this.dropImage(g, `snapshot at ${im.index} no longer fits the log`);
      return;
    }
    try {
      g.log.createSnapshot(im.index, im.conf, image);
    } catch (e) {
      this.dropImage(g, `storing the snapshot failed: ${(e as Error).message}`);
      return;
    }
    this.imaging.delete(g);
    g.snapshotIndex = im.index;
    this.stats.snapshotsTaken += 1;
  }

  /** Gives up the group's image in steps, if it has one; `why` counts it as dropped. */
  private dropImage(g: Group<L>, why: string | null): void {
    const im = this.imaging.get(g);
    if (im === undefined) return;
    im.job.cancel();
    this.imaging.delete(g);
    if (why === null) return;
    this.stats.imagesDropped += 1;
    this.lastImageError = `group ${g.id}: ${why}`;
  }

  /**
   * compactEntries, plus up to a quarter more by group: groups written at the same rate
   * would otherwise image their machines in the same moments, and each image holds the
   * loop (tens of ms for a shard of 6,000 keys; docs/cluster.md). Fixed per group, so the
   * compactions drift apart and stay apart.
   */
  private compactEvery(group: number): number {
    const every = this.compactEntries;
    if (every === 0) return 0;
    const spread = Math.floor(every / 4);
    return spread === 0 ? every : every + ((Math.imul(group + 1, 0x9e3779b1) >>> 0) % spread);
  }

  private someMemberBehind(g: Group<L>, index: number): boolean {
    const conf = g.raft.confState();
    for (const ids of [conf.voters, conf.learners]) {
      for (const id of ids) {
        if (id === this.id) continue;
        const pr = g.raft.progressOf(id);
        if (pr === undefined || pr.match < index) return true;
      }
    }
    return false;
  }

  // ---- helpers -----------------------------------------------------------------------------

  /** The group an input is for, marked for the next flush; undefined if none. */
  private input(group: number): Group<L> | undefined {
    this.checkUsable();
    const g = this.groups.get(group);
    // Inputs during a flush (from a machine callback) are fine: raft queues them, and the
    // mark survives because the flush cleared the set before applying.
    if (g !== undefined) this.dirty.add(g);
    return g;
  }

  private checkUsable(): void {
    assert(
      this.failure === null,
      `multi-raft: unusable after a failed flush (${String(this.failure)}); recreate it`,
    );
  }
}

const noGroup: NoGroup = Object.freeze({ ok: false, reason: "no-group", lead: 0 });
const stalled: NoGroup = Object.freeze({ ok: false, reason: "stalled", lead: 0 });

function sameConf(a: ConfState, b: ConfState): boolean {
  const same = (x: readonly number[], y: readonly number[]) =>
    x.length === y.length && x.every((v) => y.includes(v));
  return same(a.voters, b.voters) && same(a.learners, b.learners);
}

function statusOf<L extends GroupLog>(g: Group<L>): GroupStatus {
  const r = g.raft;
  return {
    group: g.id,
    lead: r.lead,
    term: r.term,
    role: r.state,
    commit: r.log.committed,
    applied: g.applied,
    lastIndex: r.log.lastIndex(),
    snapshotIndex: g.snapshotIndex,
  };
}

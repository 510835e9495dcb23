import { assert } from "../core/assert.js";
import { reliableBytesMax } from "../core/transport.js";
import { entryOverheadBytes, type NodeId } from "./types.js";

/**
 * Tunables of one raft group. Time is counted in ticks: the host calls tick() on every
 * group from one loop every tick interval (for example 100 ms), so these numbers scale
 * with that interval and a group needs no timers of its own.
 */
export interface RaftConfig {
  /** This replica's id: a positive integer below 2^32. */
  id: NodeId;
  /**
   * T. A follower that hears nothing from a leader for a random time in [T, 2T) campaigns;
   * a leader steps down (check-quorum) after T without hearing from a quorum. It must be
   * many heartbeats long so that a few lost heartbeats do not start an election:
   * T = 10 · heartbeatTicks tolerates nine lost in a row (etcd's recommendation). With a
   * 100 ms tick, failover starts within 1–2 s.
   */
  electionTicks: number;
  /**
   * The leader's heartbeat period. 1 tick: the tick interval is chosen to be a few round
   * trips (say 100 ms for a LAN), so a heartbeat per tick is the fastest useful rate.
   */
  heartbeatTicks: number;
  /**
   * Bytes of entries in one append, when there are several: it should be large enough to
   * amortise a round trip (1 MiB). An entry bigger than this goes alone in its append.
   */
  maxMsgBytes: number;
  /**
   * Bytes of the largest single entry (its data and per-entry overhead): a bigger
   * proposal is refused ("too-large"). The largest append is max(maxMsgBytes,
   * maxEntryBytes) plus headers, and must fit the transport's reliableBytesMax. 16 MiB by
   * default: a Redis command of up to 16 MiB is one write (etcd's default bound is
   * 1.5 MiB, TiKV's 8 MiB, CockroachDB's 64 MiB). Such an entry holds a node's one thread
   * for a while on every replica, every group on it waiting: measured on this project's
   * test machine, a 16 MiB SET held other writes up to 0.6 s, a 32 MiB one up to 1 s and
   * a 63 MiB one past an election timeout (docs/cluster.md, "Big commands").
   */
  maxEntryBytes: number;
  /**
   * Appends in flight to one follower in the replicate state (the pipeline depth). The
   * pipeline must cover a round trip at full rate: inflight ≥ bandwidth · RTT / message
   * size. With small (a few KiB) batched appends on a 10 Gbit/s LAN at 0.5 ms RTT that is
   * ~150; 256 (etcd's server default) leaves headroom.
   */
  maxInflightMsgs: number;
  /**
   * Bytes in flight to one follower, the other half of flow control, so 256 large
   * appends cannot pin 256 MiB: bandwidth · RTT at 10 Gbit/s and 5 ms (a busy LAN, or a
   * nearby zone) is ~6 MiB; 8 MiB = 8 · maxMsgBytes.
   */
  maxInflightBytes: number;
  /**
   * Bytes of proposals a leader holds uncommitted before it refuses more ("overloaded"),
   * so a slow quorum turns into back-pressure instead of an unbounded log in memory:
   * 2 · maxInflightBytes keeps the pipelines full with one batch waiting. An entry
   * bigger than maxMsgBytes counts as maxMsgBytes, so one big write neither holds back
   * the small ones behind it nor is starved by them: the bytes held are then at most
   * maxUncommittedBytes / maxMsgBytes · maxEntryBytes (256 MiB by default), reached only
   * by clients sending that many big commands at once.
   */
  maxUncommittedBytes: number;
  /** Bytes of committed entries handed to the host in one Ready: one append's worth. */
  maxApplyBytes: number;
  /**
   * Bytes of snapshot image in one chunk: one append's worth, so a snapshot transfer has
   * the same frame bound as replication and interleaves with heartbeats.
   */
  snapshotChunkBytes: number;
  /** Largest snapshot image accepted from a leader: what a replica must be able to buffer. */
  snapshotBytesMax: number;
  /**
   * Pre-vote (raft thesis §9.6): a candidate first asks whether it could win, without
   * bumping terms, so a node returning from a partition does not depose a healthy leader.
   */
  preVote: boolean;
  /**
   * Check-quorum (thesis §6.2): a leader that has not heard from a quorum within an
   * election timeout steps down, and a follower that has heard from a leader within one
   * rejects (pre-)votes — the leader's lease, which keeps a flapping node from disrupting.
   */
  checkQuorum: boolean;
  /**
   * Lease reads (thesis §6.4.1): the leader answers reads without a round trip while its
   * lease lasts. Safe only if clocks (tick rates) drift at most by this fraction between
   * replicas; 0 disables lease reads (reads use read-index, one heartbeat round).
   * Requires checkQuorum. See leaseTicks() for the lease length.
   */
  clockDriftBound: number;
  /**
   * Spares get new entries only at heartbeats. A commit needs quorum − 1 followers
   * besides the leader, so the leader sends each new entry at once only to the quorum − 1
   * followers whose acknowledged logs are longest (on a tie, those first after its own id,
   * in ring order). The other voters, the spares, catch up with one burst of appends each
   * time they answer a heartbeat. On 3 replicas one of the two followers then does no
   * work per write of its own: a quarter less CPU per write at one writer, in most
   * rounds measured (docs/raft.md, docs/benchmarks.md).
   * A spare lags by at most a heartbeat interval; if a follower the quorum counts on stops
   * answering, the spare overtakes it at its next catch-up and takes its place, so writes
   * wait at most one heartbeat interval longer. Learners, a leader transfer's target, a
   * new leader's first entry and conf changes are never held back.
   */
  sparesAtHeartbeat: boolean;
}

/** Appends in one message, whatever their size: the codec's count field is bounded by it. */
export const entriesPerMessageMax = 65_536;
/** Members of one group (voters + learners): a replication group is 3–7; 64 is generous. */
export const membersMax = 64;
/** Read-index requests a leader keeps pending (each waits for one heartbeat round). */
export const pendingReadsMax = 4_096;

/** maxEntryBytes of the LAN preset, which every node of a cluster runs with. */
export const lanEntryBytesMax = 16 * 1024 * 1024;

/** LAN preset; ticks assumed ~100 ms. */
export function lanConfig(id: NodeId): RaftConfig {
  const maxMsgBytes = 1024 * 1024;
  const maxInflightBytes = 8 * maxMsgBytes;
  return {
    id,
    electionTicks: 10,
    heartbeatTicks: 1,
    maxMsgBytes,
    maxEntryBytes: lanEntryBytesMax,
    maxInflightMsgs: 256,
    maxInflightBytes,
    maxUncommittedBytes: 2 * maxInflightBytes,
    maxApplyBytes: maxMsgBytes,
    snapshotChunkBytes: maxMsgBytes,
    snapshotBytesMax: 1024 * 1024 * 1024,
    preVote: true,
    checkQuorum: true,
    clockDriftBound: 0,
    sparesAtHeartbeat: true,
  };
}

/**
 * The lease a leader may serve reads under, in its own ticks, counted from the tick in
 * which it sent the last heartbeat round a quorum answered. A follower that got that
 * heartbeat refuses votes until electionTicks of its own ticks have passed, and its
 * first tick may come right after the heartbeat: it holds out at least electionTicks − 1
 * tick intervals, which on a clock fast by the drift bound d is (electionTicks − 1) /
 * (1 + d) of the leader's. The leader, k ticks after the send, is less than k + 1 of its
 * intervals past it. So reads are safe while k < floor((electionTicks − 1) / (1 + d)).
 * 0 (no lease reads) when d is 0.
 */
export function leaseTicks(config: RaftConfig): number {
  if (config.clockDriftBound <= 0) return 0;
  return Math.max(0, Math.floor((config.electionTicks - 1) / (1 + config.clockDriftBound)));
}

export function validateConfig(c: RaftConfig): void {
  const positive = (v: number, name: string): void =>
    assert(Number.isSafeInteger(v) && v > 0, `raft config: ${name} must be a positive integer`);
  assert(Number.isInteger(c.id) && c.id > 0 && c.id <= 0xffff_ffff, "raft config: bad id");
  positive(c.electionTicks, "electionTicks");
  positive(c.heartbeatTicks, "heartbeatTicks");
  assert(c.electionTicks > c.heartbeatTicks, "raft config: electionTicks ≤ heartbeatTicks");
  positive(c.maxMsgBytes, "maxMsgBytes");
  positive(c.maxEntryBytes, "maxEntryBytes");
  assert(c.maxEntryBytes > entryOverheadBytes, "raft config: maxEntryBytes holds no data");
  // The largest append with its headers (a few hundred bytes, see codec.ts) and an
  // envelope's must fit one transport message: 1 MiB is room for them with margin.
  assert(
    Math.max(c.maxMsgBytes, c.maxEntryBytes) + 1024 * 1024 <= reliableBytesMax,
    "raft config: maxMsgBytes or maxEntryBytes too large for a transport message",
  );
  positive(c.maxInflightMsgs, "maxInflightMsgs");
  positive(c.maxInflightBytes, "maxInflightBytes");
  positive(c.maxUncommittedBytes, "maxUncommittedBytes");
  positive(c.maxApplyBytes, "maxApplyBytes");
  positive(c.snapshotChunkBytes, "snapshotChunkBytes");
  assert(c.snapshotChunkBytes <= c.maxMsgBytes, "raft config: snapshotChunkBytes > maxMsgBytes");
  positive(c.snapshotBytesMax, "snapshotBytesMax");
  assert(c.clockDriftBound >= 0 && c.clockDriftBound < 1, "raft config: clockDriftBound in [0, 1)");
  assert(c.clockDriftBound === 0 || c.checkQuorum, "raft config: lease reads need checkQuorum");
}

import { assert } from "../core/assert.js";
import { datagramBytesMax as transportDatagramBytesMax } from "../core/transport.js";
import { datagramBytesMin, memberRecordBytesMax } from "./codec.js";

/**
 * Tunables of the SWIM + Lifeguard protocol. The defaults below are memberlist's LAN
 * preset (hashicorp/memberlist config.go), which has years of production behind it; each
 * carries its reason. Values that must grow with the cluster are not stored here but
 * derived from them and from the live member count N by the functions further down, so
 * one config serves 3 members and 10,000.
 */
export interface MembershipConfig {
  /**
   * Time between probes (SWIM's protocol period T). Failure-detection time and probe
   * traffic are both proportional to it: 1 s detects a crash in seconds while costing each
   * member one ping a second regardless of N.
   */
  probeIntervalMs: number;
  /**
   * How long to wait for a direct ack before asking others to probe. Must exceed the
   * network's round trip at p99.9 by a wide margin, and be below probeIntervalMs so the
   * indirect probes have time to come back within the period: 500 ms is half of it.
   */
  probeTimeoutMs: number;
  /**
   * Members asked to probe indirectly (SWIM's k). Each one is an independent path around
   * a lossy link; 3 makes a false suspicion caused by a single bad link need four losses.
   */
  indirectChecks: number;
  /**
   * Suspicion lasts suspicionMult · max(1, log10 N) · probeIntervalMs at least. Each
   * member probes every period, so log10 N scaling gives more periods for a refutation to
   * travel back through a larger cluster. 4 periods leave room for the suspected member
   * to be probed (and told, by the buddy system) a few times.
   */
  suspicionMult: number;
  /**
   * Lifeguard: suspicion starts at suspicionMaxTimeoutMult times the minimum above and
   * shrinks toward it as independent confirmations arrive (see suspicionTimeoutMs). 6
   * gives a lone suspecter, which may be the sick one, six times longer to be corrected.
   */
  suspicionMaxTimeoutMult: number;
  /**
   * An update is retransmitted retransmitMult · ceil(log10(N + 1)) times by every member
   * that hears it (λ·log N in SWIM, memberlist's formula), or more when the miss bound
   * below asks for more (see retransmitLimit). Epidemic spread needs O(log N)
   * transmissions per member for every member to hear it with high probability.
   */
  retransmitMult: number;
  /**
   * The chance that some member misses an update by gossip (and waits for push-pull) is
   * kept below this: each member hears an update about Poisson(limit) times, so N members
   * all hear it with probability ≈ 1 − N·e^−limit, and limit ≥ ln(N / this) bounds the
   * miss. 0.001: a missed update is rare, but costs up to a push-pull cycle.
   */
  disseminationMissMax: number;
  /**
   * Gossip period. Besides riding on probes, pending updates are pushed to gossipNodes
   * random members this often: 200 ms makes dissemination several times faster than the
   * probe period alone while each datagram stays small.
   */
  gossipIntervalMs: number;
  /** Fanout of each gossip round: 3, so an update reaches N members in about log4 N rounds. */
  gossipNodes: number;
  /**
   * Keep gossiping to a member this long after it was declared dead, so a member wrongly
   * declared dead hears of it and refutes: 30 s is many suspicion periods.
   */
  gossipToTheDeadMs: number;
  /**
   * State sync with one random member (anti-entropy). It repairs whatever gossip missed
   * (after a partition, or a retransmit limit exhausted while a member was unreachable).
   * 30 s, memberlist's period, fixed: its size is bounded by pushPullWindowEntries
   * instead of its period being stretched with N.
   */
  pushPullIntervalMs: number;
  /**
   * A periodic push-pull covers a window of the member table expected to hold this many
   * records (both ways), sliding on by one window each period; with N ≤ this the window
   * is the whole table. So its bytes per member per second, ≈ 2 · 64 · ~60 B /
   * 30 s ≈ 260 B/s, stay flat in N (full-state sync costs N·~60 B per period and grew
   * with N even with memberlist's stretched period), while every record is still compared
   * with a random member's once per N / 64 periods (8 min at N = 1,000). 64 records, ~4 KB,
   * also keep a push-pull well inside one TCP window. A join still sends the whole table.
   */
  pushPullWindowEntries: number;
  /**
   * A windowed push-pull also carries a 4-byte digest per window-sized bucket of the ring
   * (N / 64 of them: 64 B at N = 1,000, 640 B at 10,000), and each side sends the records
   * of up to this many buckets whose digests differ from its own. A record gossip missed
   * is then repaired by the first push-pull between the member lacking it and any member
   * having it — within about one period, as a full-state sync would — instead of once per
   * N / 64 periods when the sliding window reaches it (≈ 39 min at N = 5,000, where
   * forming 5,000 members left a join missed that long). 2 bounds an exchange at ≈ 3
   * windows (~12 KB) while a table is still changing and every bucket differs. 0: no
   * digests.
   */
  pushPullRepairBuckets: number;
  /**
   * Lifeguard local health: the multiplier on our own probe interval and timeout ranges
   * over 1..awarenessMax. 8 lets a badly overloaded member slow its judgements by 8×.
   */
  awarenessMax: number;
  /**
   * A member relaying an indirect probe sends a nack after this fraction of probeTimeoutMs
   * without an ack, so the requester can tell "target silent" from "my own links lossy"
   * (Lifeguard): 0.8 leaves the nack time to arrive before the requester's deadline.
   */
  nackTimeoutFraction: number;
  /**
   * A join is retried while no other member is known: every joinRetryMs (2 probe periods,
   * so a slow seed has answered) up to joinAttemptsMax times (a minute in all by default).
   */
  joinRetryMs: number;
  joinAttemptsMax: number;
  /**
   * Dead and left members are remembered this long, so a stale "alive" with an old
   * incarnation cannot resurrect them: 3 push-pull intervals let every member hear.
   */
  tombstoneMs: number;
  /**
   * Lifeguard on (health awareness, nacks, dynamic suspicion, buddy system) or off (plain
   * SWIM: fixed suspicion of suspicionTimeoutMin, no health scaling). Off exists only so
   * the simulator can measure what Lifeguard buys; production keeps it on.
   */
  lifeguard: boolean;
  /**
   * A datagram never exceeds this. It must fit the transport's payload bound (1350,
   * core/transport.ts); 1320 leaves the 30 bytes of the transport's seal spare, so the
   * sealed datagram with its sender header and IP/UDP headers stays within one Ethernet
   * MTU (1500).
   */
  datagramBytesMax: number;
  /** A push-pull state transfer never exceeds this. Must fit membersMax full records. */
  streamBytesMax: number;
  /** Members tracked (tombstones included); beyond it new members are dropped and counted. */
  membersMax: number;
  /** Pending broadcasts; the most-transmitted are dropped first when it is full. */
  broadcastsMax: number;
  /** Indirect probes relayed for others at once; more requests are dropped and counted. */
  relaysMax: number;
}

/** memberlist's DefaultLANConfig, reasons above. */
export const lanConfig: Readonly<MembershipConfig> = Object.freeze({
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  indirectChecks: 3,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  retransmitMult: 4,
  disseminationMissMax: 0.001,
  gossipIntervalMs: 200,
  gossipNodes: 3,
  gossipToTheDeadMs: 30_000,
  pushPullIntervalMs: 30_000,
  pushPullWindowEntries: 64,
  pushPullRepairBuckets: 2,
  awarenessMax: 8,
  nackTimeoutFraction: 0.8,
  lifeguard: true,
  joinRetryMs: 2000,
  joinAttemptsMax: 30,
  tombstoneMs: 90_000,
  datagramBytesMax: 1320,
  streamBytesMax: 16 * 1024 * 1024,
  membersMax: 16_384,
  broadcastsMax: 16_384,
  relaysMax: 1024,
});

/**
 * For loopback and tests on one machine: round trips are microseconds, so periods can be
 * 5× shorter and one indirect path suffices (memberlist's DefaultLocalConfig, same idea).
 */
export const localConfig: Readonly<MembershipConfig> = Object.freeze({
  ...lanConfig,
  probeIntervalMs: 200,
  probeTimeoutMs: 100,
  indirectChecks: 1,
  suspicionMult: 3,
  retransmitMult: 2,
  gossipIntervalMs: 100,
  gossipToTheDeadMs: 15_000,
  pushPullIntervalMs: 15_000,
  joinRetryMs: 400,
  tombstoneMs: 45_000,
});

/** Throws on a config that cannot work: a programmer error, not an operating one. */
export function validateConfig(c: MembershipConfig): void {
  type NumericKey = {
    [K in keyof MembershipConfig]: MembershipConfig[K] extends number ? K : never;
  }[keyof MembershipConfig];
  const positive: NumericKey[] = [
    "probeIntervalMs",
    "probeTimeoutMs",
    "suspicionMult",
    "suspicionMaxTimeoutMult",
    "retransmitMult",
    "gossipIntervalMs",
    "pushPullIntervalMs",
    "pushPullWindowEntries",
    "awarenessMax",
    "joinRetryMs",
    "datagramBytesMax",
    "streamBytesMax",
    "membersMax",
    "broadcastsMax",
    "relaysMax",
  ];
  for (const key of positive) {
    assert(Number.isFinite(c[key]) && c[key] > 0, `membership config: ${key} must be > 0`);
  }
  assert(c.probeTimeoutMs < c.probeIntervalMs, "membership config: probeTimeoutMs < interval");
  assert(c.suspicionMaxTimeoutMult >= 1, "membership config: suspicionMaxTimeoutMult >= 1");
  assert(c.indirectChecks >= 0 && c.gossipNodes >= 0, "membership config: fanouts >= 0");
  assert(
    Number.isInteger(c.pushPullRepairBuckets) && c.pushPullRepairBuckets >= 0,
    "membership config: pushPullRepairBuckets must be an integer >= 0",
  );
  assert(
    c.nackTimeoutFraction > 0 && c.nackTimeoutFraction < 1,
    "membership config: nackTimeoutFraction in (0, 1)",
  );
  assert(
    c.disseminationMissMax > 0 && c.disseminationMissMax < 1,
    "membership config: disseminationMissMax in (0, 1)",
  );
  assert(
    c.datagramBytesMax >= datagramBytesMin,
    `membership config: datagramBytesMax must hold a probe and a broadcast (${datagramBytesMin})`,
  );
  assert(
    c.datagramBytesMax <= transportDatagramBytesMax,
    `membership config: datagramBytesMax must fit the transport's ${transportDatagramBytesMax}`,
  );
  assert(
    c.membersMax * memberRecordBytesMax + 64 <= c.streamBytesMax,
    "membership config: streamBytesMax must hold membersMax member records",
  );
}

/**
 * Retransmissions per broadcast: the larger of memberlist's retransmitMult ·
 * ceil(log10(N + 1)) (λ·log N) and ceil(ln(N / disseminationMissMax)). Every member that
 * hears an update sends it this many times to random members, so a given member misses
 * it with probability ≈ e^−limit and some member with ≈ N·e^−limit. memberlist's step
 * function dips just below each power of ten: 8 at N = 97, where 3% of updates missed a
 * member in the simulator (late by up to a push-pull cycle, 30 s), and 4 below N = 10;
 * the ln term keeps the miss below disseminationMissMax everywhere (12 at N = 97, 10 at
 * N = 10) and costs a few datagrams per update.
 */
export function retransmitLimit(c: MembershipConfig, n: number): number {
  const size = Math.max(1, n);
  const lambdaLogN = c.retransmitMult * Math.ceil(Math.log10(size + 1));
  return Math.max(lambdaLogN, Math.ceil(Math.log(size / c.disseminationMissMax)));
}

/** Shortest suspicion: suspicionMult · max(1, log10 N) · probeIntervalMs. */
export function suspicionTimeoutMinMs(c: MembershipConfig, n: number): number {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)));
  return Math.floor(c.suspicionMult * nodeScale * c.probeIntervalMs);
}

/** Longest suspicion (no confirmations): suspicionMaxTimeoutMult · the shortest. */
export function suspicionTimeoutMaxMs(c: MembershipConfig, n: number): number {
  return c.suspicionMaxTimeoutMult * suspicionTimeoutMinMs(c, n);
}

/**
 * Independent confirmations that shrink suspicion to its minimum: suspicionMult − 2
 * (memberlist's choice), or none when the cluster is too small to supply that many
 * suspecters besides the first and the suspected member itself.
 */
export function suspicionConfirmationsExpected(c: MembershipConfig, n: number): number {
  const k = c.suspicionMult - 2;
  return n - 2 < k ? 0 : Math.max(0, k);
}

/**
 * Lifeguard's dynamic suspicion timeout after `confirmations` independent confirmations
 * out of `expected`: max − (max − min) · log(c + 1) / log(k + 1), never below min. The log
 * makes the first confirmations count most: each is strong evidence the first suspecter
 * was not just the sick one.
 */
export function suspicionTimeoutMs(
  minMs: number,
  maxMs: number,
  expected: number,
  confirmations: number,
): number {
  if (expected < 1) return minMs;
  const frac = Math.log(confirmations + 1) / Math.log(expected + 1);
  return Math.max(minMs, Math.floor(maxMs - frac * (maxMs - minMs)));
}

/**
 * The share of the id-hash ring (out of 2³²) a periodic push-pull covers with N live
 * members: pushPullWindowEntries / N of it, or null (the whole table) while N ≤
 * pushPullWindowEntries. Window sizes are a hint, not a contract: a window holds about that many records
 * (member ids hash uniformly), and the peer replies with its own records in the same window.
 */
export function pushPullWindowSpan(c: MembershipConfig, n: number): number | null {
  if (n <= c.pushPullWindowEntries) return null;
  return Math.max(1, Math.floor((ringSize * c.pushPullWindowEntries) / n));
}

/** Member ids hash onto a 32-bit ring (membership.ts: idHash). */
export const ringSize = 2 ** 32;

/**
 * Gossip rounds for an update to reach all N members with high probability: push
 * epidemics with fanout f finish in log_{f+1} N + ln N / f + O(1) rounds (Pittel; Karp
 * et al.). The + 2 is the O(1) term, checked against the tests' runs.
 */
export function disseminationRounds(c: MembershipConfig, n: number): number {
  const f = Math.max(1, c.gossipNodes);
  const size = Math.max(2, n);
  return Math.ceil(Math.log(size) / Math.log(f + 1) + Math.log(size) / f) + 2;
}

/**
 * Upper bound (p99) on the time from a crash until every live member has declared the
 * crashed one dead, with healthy probers (health multiplier 1):
 *
 *   bound(N) = (ceil(ln 100) + 1) · T  +  suspicionTimeoutMax(N)  +  R(N) · G
 *
 * - First probe of the crashed member: each of the N − 1 others probes it once per
 *   round-robin round of N − 1 periods at an independent random slot, so a period passes
 *   without anyone probing it with probability (1 − 1/(N−1))^(N−1) ≤ 1/e; ceil(ln 100)
 *   periods pass without any probe with probability ≤ 1%. The probe that starts then
 *   fails at the end of its own period: + 1 · T. That member now suspects.
 * - The suspicion reaches every member by gossip within R(N) rounds of G
 *   (disseminationRounds); each member's own suspicion timer then fires at most
 *   suspicionTimeoutMax(N) later (less once confirmations arrive). A member that hears
 *   "dead" from an earlier decider only decides sooner.
 */
export function detectionBoundMs(c: MembershipConfig, n: number): number {
  const firstProbePeriods = Math.ceil(Math.log(100)) + 1;
  return (
    firstProbePeriods * c.probeIntervalMs +
    suspicionTimeoutMaxMs(c, n) +
    disseminationRounds(c, n) * c.gossipIntervalMs
  );
}

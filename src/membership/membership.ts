import { assert } from "../core/assert.js";
import { fmix32 } from "../core/hash.js";
import type { Random } from "../core/random.js";
import { BroadcastQueue } from "./broadcast.js";
import {
  type Broadcast,
  decodeFrame,
  digestBuckets,
  encodeBroadcast,
  encodeFrame,
  encodeMessage,
  frameHeaderBytes,
  frameMessagesMax,
  frozenMeta,
  type Message,
  metaProblem,
  type PushPullEntry,
  type PushPullWindow,
} from "./codec.js";
import {
  disseminationRounds,
  type MembershipConfig,
  pushPullWindowSpan,
  retransmitLimit,
  ringSize,
  suspicionConfirmationsExpected,
  suspicionTimeoutMaxMs,
  suspicionTimeoutMinMs,
  validateConfig,
} from "./config.js";
import { Awareness, Suspicion } from "./health.js";
import {
  ALIVE,
  DEAD,
  IdIndex,
  type Info,
  isLive,
  LEFT,
  MemberTable,
  type StateCode,
  SUSPECT,
  stateName,
} from "./table.js";
import type {
  Member,
  MemberEvent,
  MemberEventKind,
  MemberState,
  MembershipStats,
  NodeMeta,
  Outgoing,
  Ready,
  SelfDescription,
} from "./types.js";

/** Seed addresses tried by one join. */
export const seedsMax = 64;

/** Our probe of one member in the current period. */
interface Probe {
  seq: number;
  /** The target's member index (IdIndex). */
  target: number;
  /** Direct ack deadline: then ask others (ping-req). */
  indirectAtMs: number;
  /** End of the period: no ack by then means suspect. */
  endAtMs: number;
  indirectSent: boolean;
  nacksExpected: number;
  nacks: number;
}

/** An indirect probe we run for another member. */
interface Relay {
  requester: string;
  requesterSeq: number;
  nackAtMs: number;
  expireAtMs: number;
  nackDue: boolean;
}

/**
 * SWIM with the Lifeguard extensions, as a deterministic state machine (STYLE.md, 1).
 *
 * It does no I/O and reads no clock: the driver (server/ with sockets, sim/ with a virtual
 * network) feeds it time and messages and carries out what it asks:
 *
 *   tick(nowMs)                  run the timers that are due
 *   receive(from, data, nowMs)   one datagram or stream message from the network (the
 *                                alias step(); `from` is the sender's transport address)
 *   join(seeds, nowMs), leave(nowMs), updateMeta(meta, nowMs)
 *   ready() → { messages, events }  what to send and what happened; then advance()
 *   nextWakeMs()                 the earliest time tick() has work, for idle skipping
 *
 * Every call takes the current time in ms on one monotonic clock; it must not go back.
 * All randomness is drawn from the injected Random, so a seed replays a run exactly.
 */
export class Membership {
  readonly config: Readonly<MembershipConfig>;
  readonly id: string;
  readonly stats: MembershipStats = {
    received: 0,
    droppedOversized: 0,
    droppedGarbled: 0,
    droppedMembersFull: 0,
    droppedRelaysFull: 0,
    droppedBroadcastsFull: 0,
    probes: 0,
    probesFailed: 0,
    indirectProbes: 0,
    refutations: 0,
    pushPulls: 0,
    messagesSent: 0,
    bytesSent: 0,
  };

  private readonly random: Random;
  private readonly ids: IdIndex;
  /** Our member index. */
  private readonly me: number;
  /** Every member we know, us included (table.ts). */
  private readonly table = new MemberTable();
  /** Every member but us, in probe order; reshuffled after each full round. */
  private probeOrder: number[] = [];
  private probeIndex = 0;
  /** The suspicion of each member in state suspect, and of no other. */
  private readonly suspicions = new Map<number, Suspicion>();
  private readonly broadcasts: BroadcastQueue;
  private readonly awareness: Awareness;
  private readonly relays = new Map<number, Relay>();
  private probe: Probe | null = null;
  private seq = 0;
  /** Members alive or suspect, us included: the N every scaled parameter uses. */
  private liveCount = 1;
  private started = false;
  private leaving = false;
  private nowMs = 0;
  private nextProbeAtMs = 0;
  private nextGossipAtMs = 0;
  private nextPushPullAtMs = 0;
  /** Where the next periodic push-pull window starts on the id-hash ring. */
  private pushPullCursor = 0;
  private joining: { seeds: string[]; attempts: number; nextAtMs: number } | null = null;
  /** When to repeat the join's full-state sync (tickJoin), or +∞. */
  private rejoinSyncAtMs = Number.POSITIVE_INFINITY;
  /** The wait before that sync; doubled each time one still teaches us a member. */
  private rejoinSyncDelayMs = 0;
  /** Whom the last such sync went to: its reply is the one to judge. */
  private rejoinSyncPeer: string | null = null;
  /** retransmitLimit(config, limitFor), kept while N stays the same. */
  private limit = 0;
  private limitFor = -1;
  private outbox: Outgoing[] = [];
  private events: MemberEvent[] = [];

  /**
   * `ids` maps member ids to indices; a server leaves it out (each Membership has its own),
   * the simulator gives all its members one to share (table.ts, IdIndex).
   */
  constructor(
    config: MembershipConfig,
    self: SelfDescription,
    random: Random,
    ids: IdIndex = new IdIndex(),
  ) {
    validateConfig(config);
    this.config = Object.freeze({ ...config });
    const problem = metaProblem(self.meta);
    if (problem !== null) throw new RangeError(`membership: bad metadata: ${problem}`);
    this.random = random;
    this.id = self.id;
    this.ids = ids;
    const info = { address: self.address, meta: frozenMeta(self.meta) };
    // The encoder checks id and address bounds: fail here, not at the first send.
    encodeMessage(aliveOf(self.id, info, 0));
    this.me = ids.intern(self.id);
    this.table.add(this.me, info, 0, ALIVE, 0);
    this.broadcasts = new BroadcastQueue(config.broadcastsMax);
    this.awareness = new Awareness(config.awarenessMax);
  }

  // ---- the driver's face -------------------------------------------------------------

  /** Runs every timer due at `nowMs`: probe phases, relays, suspicions, gossip, push-pull. */
  tick(nowMs: number): void {
    this.advanceTime(nowMs);
    this.tickJoin(nowMs);
    this.tickProbe(nowMs);
    this.tickRelays(nowMs);
    this.tickSuspicions(nowMs);
    this.tickGossip(nowMs);
    this.tickPushPull(nowMs);
    this.checkCheapInvariants();
  }

  /** A message from the network. Bad input is dropped and counted in stats; never throws. */
  receive(from: string, data: Uint8Array, nowMs: number): void {
    this.advanceTime(nowMs);
    this.stats.received += 1;
    if (data.length > this.config.streamBytesMax) {
      this.stats.droppedOversized += 1;
      return;
    }
    const decoded = decodeFrame(data, this.config.membersMax);
    if (!decoded.ok) {
      this.stats.droppedGarbled += 1;
      return;
    }
    const isStream = decoded.messages.some((m) => m.type === "push-pull");
    if (isStream && decoded.messages.length !== 1) {
      this.stats.droppedGarbled += 1;
      return;
    }
    if (!isStream && data.length > this.config.datagramBytesMax) {
      this.stats.droppedOversized += 1;
      return;
    }
    // Gossip first, so an ack answering a ping in the same datagram already carries what
    // it caused (above all the refutation of a suspicion the buddy system delivered).
    for (const message of decoded.messages) {
      if (isBroadcast(message)) this.handle(from, message, nowMs);
    }
    for (const message of decoded.messages) {
      if (!isBroadcast(message)) this.handle(from, message, nowMs);
    }
  }

  /** receive() under STYLE.md's name. */
  step(from: string, data: Uint8Array, nowMs: number): void {
    this.receive(from, data, nowMs);
  }

  /** What to send and what happened since the last advance(). */
  ready(): Ready {
    return { messages: this.outbox, events: this.events };
  }

  /** The driver has taken everything ready() returned. */
  advance(): void {
    this.outbox = [];
    this.events = [];
  }

  /** ready() then advance(). */
  drain(): Ready {
    const out = this.ready();
    this.advance();
    return out;
  }

  /**
   * When tick() next has something to do. May be ≤ now (tick now). Before the first call
   * of anything it is 0; after a leave it only covers gossiping the leave out.
   */
  nextWakeMs(): number {
    if (!this.started) return 0;
    let at = Number.POSITIVE_INFINITY;
    if (!this.leaving) at = Math.min(at, this.nextProbeAtMs, this.nextPushPullAtMs);
    if (this.probe !== null) {
      at = Math.min(at, this.probe.endAtMs);
      if (!this.probe.indirectSent) at = Math.min(at, this.probe.indirectAtMs);
    }
    for (const relay of this.relays.values()) {
      at = Math.min(at, relay.nackDue ? relay.nackAtMs : relay.expireAtMs);
    }
    for (const s of this.suspicions.values()) at = Math.min(at, s.deadlineMs);
    if (this.broadcasts.size > 0) at = Math.min(at, this.nextGossipAtMs);
    if (this.joining !== null) at = Math.min(at, this.joining.nextAtMs);
    at = Math.min(at, this.rejoinSyncAtMs);
    return at;
  }

  /** Joins through any one of `seeds` (transport addresses): full-state sync with each. */
  join(seeds: string[], nowMs: number): void {
    this.advanceTime(nowMs);
    const address = this.selfInfo.address;
    const unique = [...new Set(seeds)].filter((a) => a !== address).slice(0, seedsMax);
    if (unique.length === 0 || this.leaving) return;
    this.joining = { seeds: unique, attempts: 1, nextAtMs: nowMs + this.config.joinRetryMs };
    for (const seed of unique) this.sendPushPull(seed, true, false, null);
  }

  /**
   * Graceful leave: tells the cluster we left (a "dead" about ourselves, which others
   * record as left rather than failed) and stops probing. Keep ticking until
   * broadcastsPending() is 0 (or a timeout) so the news gets out, then stop the driver.
   */
  leave(nowMs: number): void {
    this.advanceTime(nowMs);
    if (this.leaving) return;
    this.leaving = true;
    this.joining = null;
    this.probe = null;
    const incarnation = this.selfIncarnation;
    this.table.set(this.me, this.selfInfo, incarnation, LEFT, nowMs);
    this.liveCount -= 1;
    this.enqueue({ type: "dead", incarnation, id: this.id, from: this.id });
    this.nextGossipAtMs = nowMs;
    this.tickGossip(nowMs);
  }

  /** Advertises new metadata; its version becomes at least the old one + 1. */
  updateMeta(meta: NodeMeta, nowMs: number): void {
    this.advanceTime(nowMs);
    const version = Math.max(meta.version, this.selfInfo.meta.version + 1);
    const next = frozenMeta({ ...meta, version });
    const problem = metaProblem(next);
    if (problem !== null) throw new RangeError(`membership: bad metadata: ${problem}`);
    if (this.leaving) return;
    const info = { address: this.selfInfo.address, meta: next };
    this.table.set(this.me, info, this.selfIncarnation + 1, ALIVE, this.nowMs);
    this.enqueue(this.aliveOf(this.me));
  }

  /** Every known member, us included, tombstones (dead, left) until reaped. */
  members(): Member[] {
    const out: Member[] = [];
    for (let k = 0; k < this.table.size; k++) out.push(this.memberAt(this.table.at(k)));
    return out;
  }

  member(id: string): Member | undefined {
    const i = this.ids.find(id);
    return this.table.has(i) ? this.memberAt(i) : undefined;
  }

  /** member(id)?.state without the copy: the simulator asks it N² times per check. */
  stateOf(id: string): MemberState | undefined {
    const i = this.ids.find(id);
    return this.table.has(i) ? stateName(this.table.state[i] as number) : undefined;
  }

  /** Members alive or suspect, us included. */
  get liveMembers(): number {
    return this.liveCount;
  }

  /** Lifeguard health score, 0 (healthy) to awarenessMax − 1. */
  get health(): number {
    return this.awareness.health;
  }

  get incarnation(): number {
    return this.selfIncarnation;
  }

  broadcastsPending(): number {
    return this.broadcasts.size;
  }

  /** Full consistency check, O(N): for tests and the simulator's invariant phase. */
  checkInvariants(): void {
    this.checkCheapInvariants();
    const seen = new Set<number>();
    for (const i of this.probeOrder) {
      assert(!seen.has(i), `membership: ${this.ids.id(i)} twice in probe order`);
      assert(i !== this.me, "membership: self in probe order");
      seen.add(i);
    }
    let live = 0;
    for (let k = 0; k < this.table.size; k++) {
      const i = this.table.at(k);
      const state = this.table.state[i] as number;
      assert(
        i === this.me || seen.has(i),
        `membership: ${this.ids.id(i)} missing from probe order`,
      );
      if (isLive(state)) live += 1;
      assert((state === SUSPECT) === this.suspicions.has(i), "membership: suspicions");
    }
    assert(this.suspicions.size <= this.table.size, "membership: suspicions of the absent");
    assert(live === this.liveCount, "membership: live count");
  }

  // ---- timers --------------------------------------------------------------------------

  private advanceTime(nowMs: number): void {
    assert(Number.isFinite(nowMs), "membership: time must be finite");
    assert(nowMs >= this.nowMs, "membership: time went backwards");
    this.nowMs = nowMs;
    if (this.started) return;
    this.started = true;
    // Random phases, so members started together do not probe and gossip in lockstep.
    this.nextProbeAtMs = nowMs + this.random.int(this.config.probeIntervalMs);
    this.nextGossipAtMs = nowMs + this.random.int(this.config.gossipIntervalMs);
    this.nextPushPullAtMs = nowMs + this.random.int(this.config.pushPullIntervalMs);
    this.pushPullCursor = this.random.int(ringSize);
  }

  private tickJoin(nowMs: number): void {
    if (nowMs >= this.rejoinSyncAtMs) {
      this.rejoinSyncAtMs = Number.POSITIVE_INFINITY;
      const [i] = this.randomMembers(1, (x) => this.table.state[x] === ALIVE);
      if (i !== undefined && !this.leaving) {
        this.rejoinSyncPeer = this.addressOf(i);
        // Pull only: we want the peer's table; ours it hears of by gossip and push-pull.
        const pull = { digests: null, buckets: [], window: false };
        this.sendPushPull(this.rejoinSyncPeer, false, false, null, pull);
      }
    }
    const j = this.joining;
    if (j === null || nowMs < j.nextAtMs) return;
    if (this.table.size > 1 || j.attempts >= this.config.joinAttemptsMax) {
      this.joining = null;
      return;
    }
    j.attempts += 1;
    j.nextAtMs = nowMs + this.config.joinRetryMs;
    for (const seed of j.seeds) this.sendPushPull(seed, true, false, null);
  }

  private tickProbe(nowMs: number): void {
    const p = this.probe;
    if (p !== null && !p.indirectSent && nowMs >= p.indirectAtMs) this.sendIndirect(p);
    if (p !== null && nowMs >= p.endAtMs) this.finishProbe(p, nowMs);
    if (this.leaving || nowMs < this.nextProbeAtMs) return;
    if (this.probe !== null) this.finishProbe(this.probe, nowMs);
    this.nextProbeAtMs = nowMs + this.awareness.scale(this.config.probeIntervalMs);
    const target = this.nextProbeTarget(nowMs);
    if (target >= 0) this.startProbe(target, nowMs);
  }

  private nextProbeTarget(nowMs: number): number {
    // One pass over the order plus one reset: enough to find any probeable member.
    for (let tries = this.probeOrder.length + 1; tries > 0; tries--) {
      if (this.probeIndex >= this.probeOrder.length) {
        this.resetProbeOrder(nowMs);
        if (this.probeOrder.length === 0) return -1;
      }
      const i = this.probeOrder[this.probeIndex++] as number;
      if (isLive(this.table.state[i] as number)) return i;
    }
    return -1;
  }

  /** After a full round: reap old tombstones and reshuffle (SWIM's round-robin order). */
  private resetProbeOrder(nowMs: number): void {
    const kept: number[] = [];
    const t = this.table;
    for (const i of this.probeOrder) {
      if (!t.has(i)) continue;
      const state = t.state[i] as number;
      const tomb = state === DEAD || state === LEFT;
      if (tomb && nowMs - (t.changedMs[i] as number) > this.config.tombstoneMs) {
        t.delete(i);
        continue;
      }
      kept.push(i);
    }
    for (let i = kept.length - 1; i > 0; i--) {
      const j = this.random.int(i + 1);
      const x = kept[i] as number;
      kept[i] = kept[j] as number;
      kept[j] = x;
    }
    this.probeOrder = kept;
    this.probeIndex = 0;
  }

  private startProbe(target: number, nowMs: number): void {
    this.stats.probes += 1;
    const seq = this.nextSeq();
    this.probe = {
      seq,
      target,
      indirectAtMs: nowMs + this.awareness.scale(this.config.probeTimeoutMs),
      endAtMs: nowMs + this.awareness.scale(this.config.probeIntervalMs),
      indirectSent: false,
      nacksExpected: 0,
      nacks: 0,
    };
    // Lifeguard's buddy system: a suspected member learns it in the probe itself and can
    // refute at once, instead of waiting for the suspicion to reach it by gossip.
    const extra: Uint8Array[] = [];
    const id = this.ids.id(target);
    if (this.table.state[target] === SUSPECT && this.config.lifeguard) {
      const incarnation = this.table.incarnation[target] as number;
      extra.push(encodeMessage({ type: "suspect", incarnation, id, from: this.id }));
    }
    this.send(this.addressOf(target), { type: "ping", seq, targetId: id }, extra);
  }

  private sendIndirect(p: Probe): void {
    p.indirectSent = true;
    if (!this.table.has(p.target)) return;
    const helpers = this.randomMembers(
      this.config.indirectChecks,
      (i) => this.table.state[i] === ALIVE && i !== p.target,
    );
    this.stats.indirectProbes += helpers.length;
    p.nacksExpected = helpers.length;
    for (const h of helpers) {
      this.send(this.addressOf(h), {
        type: "ping-req",
        seq: p.seq,
        targetId: this.ids.id(p.target),
        targetAddress: this.addressOf(p.target),
        wantNack: this.config.lifeguard,
      });
    }
  }

  private finishProbe(p: Probe, nowMs: number): void {
    this.probe = null;
    this.stats.probesFailed += 1;
    // Lifeguard: helpers that did not even nack point at our own links (or our own
    // slowness); with no helper to ask, the failed probe alone counts against us.
    const missed = p.nacksExpected > 0 ? p.nacksExpected - p.nacks : 1;
    this.adjustHealth(Math.max(0, missed));
    const t = p.target;
    if (!isLive(this.table.state[t] as number)) return;
    const incarnation = this.table.incarnation[t] as number;
    this.onSuspect({ type: "suspect", incarnation, id: this.ids.id(t), from: this.id }, nowMs);
  }

  private tickRelays(nowMs: number): void {
    for (const [seq, relay] of this.relays) {
      if (relay.nackDue && nowMs >= relay.nackAtMs) {
        relay.nackDue = false;
        this.send(relay.requester, { type: "nack", seq: relay.requesterSeq });
      }
      if (nowMs >= relay.expireAtMs) this.relays.delete(seq);
    }
  }

  private tickSuspicions(nowMs: number): void {
    const due: number[] = [];
    for (const [i, s] of this.suspicions) if (nowMs >= s.deadlineMs) due.push(i);
    for (const i of due) {
      const incarnation = this.table.incarnation[i] as number;
      this.onDead({ type: "dead", incarnation, id: this.ids.id(i), from: this.id }, nowMs);
    }
  }

  private tickGossip(nowMs: number): void {
    if (nowMs < this.nextGossipAtMs) return;
    this.nextGossipAtMs = nowMs + this.config.gossipIntervalMs;
    if (this.broadcasts.size === 0) return;
    const t = this.table;
    const targets = this.randomMembers(this.config.gossipNodes, (i) => {
      const state = t.state[i] as number;
      if (isLive(state)) return true;
      // Tell the recently dead too, so a wrongly declared member hears it and refutes.
      return state === DEAD && nowMs - (t.changedMs[i] as number) < this.config.gossipToTheDeadMs;
    });
    for (const i of targets) {
      const parts = this.piggyback(frameHeaderBytes, 0);
      if (parts.length > 0) this.emitFrame(this.addressOf(i), parts);
    }
  }

  private tickPushPull(nowMs: number): void {
    if (this.leaving || nowMs < this.nextPushPullAtMs) return;
    this.nextPushPullAtMs = nowMs + this.config.pushPullIntervalMs;
    const [i] = this.randomMembers(1, (x) => this.table.state[x] === ALIVE);
    if (i === undefined) return;
    const peer = this.addressOf(i);
    const span = pushPullWindowSpan(this.config, this.liveCount);
    if (span === null) {
      this.sendPushPull(peer, false, false, null);
      return;
    }
    const window = { start: this.pushPullCursor, span };
    this.pushPullCursor = (this.pushPullCursor + span) % ringSize;
    const digests = this.config.pushPullRepairBuckets > 0 ? this.bucketDigests(span) : null;
    this.sendPushPull(peer, false, false, window, { digests, buckets: [], window: true });
  }

  // ---- messages ------------------------------------------------------------------------

  private handle(from: string, m: Message, nowMs: number): void {
    switch (m.type) {
      case "ping":
        // A ping for another id reached our address (a reused address): stay silent.
        if (m.targetId === this.id) this.send(from, { type: "ack", seq: m.seq });
        return;
      case "ping-req":
        this.onPingReq(from, m, nowMs);
        return;
      case "ack":
        this.onAck(m.seq);
        return;
      case "nack":
        if (this.probe !== null && this.probe.seq === m.seq) this.probe.nacks += 1;
        return;
      case "alive":
        this.onAlive(m, nowMs);
        return;
      case "suspect":
        this.onSuspect(m, nowMs);
        return;
      case "dead":
        this.onDead(m, nowMs);
        return;
      case "push-pull":
        this.onPushPull(from, m, nowMs);
        return;
    }
  }

  private onPingReq(from: string, m: Extract<Message, { type: "ping-req" }>, nowMs: number): void {
    if (this.relays.size >= this.config.relaysMax) {
      this.stats.droppedRelaysFull += 1;
      return;
    }
    const seq = this.nextSeq();
    const timeoutMs = this.config.probeTimeoutMs;
    this.relays.set(seq, {
      requester: from,
      requesterSeq: m.seq,
      nackAtMs: nowMs + Math.floor(timeoutMs * this.config.nackTimeoutFraction),
      expireAtMs: nowMs + timeoutMs,
      nackDue: m.wantNack,
    });
    this.send(m.targetAddress, { type: "ping", seq, targetId: m.targetId });
  }

  private onAck(seq: number): void {
    const p = this.probe;
    if (p !== null && p.seq === seq) {
      // A direct ack in time is evidence of our own health; an indirect one is not.
      if (!p.indirectSent) this.adjustHealth(-1);
      this.probe = null;
      return;
    }
    const relay = this.relays.get(seq);
    if (relay === undefined) return;
    this.relays.delete(seq);
    this.send(relay.requester, { type: "ack", seq: relay.requesterSeq });
  }

  /**
   * An alive message, or a push-pull record in state alive (stored as our Info either way).
   * What it changes is gossiped on, unless `relay` is false.
   */
  private onAlive(m: Alive | PushPullEntry, nowMs: number, relay = true): void {
    if (m.id === this.id) {
      if (this.leaving) return;
      const self = this.selfInfo;
      const same = m.address === self.address && sameMeta(m.meta, self.meta);
      // Our own news echoed back is fine; anything newer, or different at our
      // incarnation, is a stale or conflicting claim about us: out-bid it.
      const ours = this.selfIncarnation;
      if (m.incarnation > ours || (m.incarnation === ours && !same)) this.refute(m.incarnation);
      return;
    }
    const t = this.table;
    let i = this.ids.find(m.id);
    if (!t.has(i)) {
      if (t.size >= this.config.membersMax) {
        this.stats.droppedMembersFull += 1;
        return;
      }
      if (i < 0) i = this.ids.intern(m.id);
      t.add(i, m, m.incarnation, ALIVE, nowMs);
      this.liveCount += 1;
      this.insertIntoProbeOrder(i);
      this.emit("joined", i, nowMs);
      if (relay) this.enqueue("type" in m ? m : aliveOf(m.id, m, m.incarnation));
      return;
    }
    if (m.incarnation <= (t.incarnation[i] as number)) return;
    const previous = t.state[i] as number;
    const known = t.info[i] as Info;
    const changed = m.address !== known.address || !sameMeta(m.meta, known.meta);
    this.setState(i, ALIVE, nowMs, m, m.incarnation);
    if (previous === DEAD || previous === LEFT) this.emit("joined", i, nowMs);
    else {
      if (previous === SUSPECT) this.emit("alive", i, nowMs);
      if (changed) this.emit("updated", i, nowMs);
    }
    if (relay) this.enqueue("type" in m ? m : aliveOf(m.id, m, m.incarnation));
  }

  private onSuspect(m: Extract<Message, { type: "suspect" }>, nowMs: number): void {
    if (m.id === this.id) {
      if (!this.leaving && m.incarnation >= this.selfIncarnation) this.refute(m.incarnation);
      return;
    }
    const t = this.table;
    const i = this.ids.find(m.id);
    if (!t.has(i) || m.incarnation < (t.incarnation[i] as number)) return;
    const state = t.state[i] as number;
    if (state === SUSPECT) {
      if ((this.suspicions.get(i) as Suspicion).confirm(m.from)) this.enqueue(m);
      return;
    }
    if (state !== ALIVE) return;
    this.setState(i, SUSPECT, nowMs, t.info[i] as Info, m.incarnation);
    const n = this.liveCount;
    const minMs = suspicionTimeoutMinMs(this.config, n);
    this.suspicions.set(
      i,
      this.config.lifeguard
        ? new Suspicion(
            m.from,
            nowMs,
            minMs,
            suspicionTimeoutMaxMs(this.config, n),
            suspicionConfirmationsExpected(this.config, n),
          )
        : new Suspicion(m.from, nowMs, minMs, minMs, 0),
    );
    this.emit("suspect", i, nowMs);
    this.enqueue(m);
  }

  private onDead(m: Extract<Message, { type: "dead" }>, nowMs: number): void {
    if (m.id === this.id) {
      // Declared dead, or a leave from an earlier life: we are here, so out-bid it.
      if (!this.leaving && m.incarnation >= this.selfIncarnation) this.refute(m.incarnation);
      return;
    }
    const t = this.table;
    const i = this.ids.find(m.id);
    if (!t.has(i) || m.incarnation < (t.incarnation[i] as number)) return;
    const state = t.state[i] as number;
    if (state === DEAD || state === LEFT) return;
    const left = m.from === m.id;
    this.setState(i, left ? LEFT : DEAD, nowMs, t.info[i] as Info, m.incarnation);
    this.emit(left ? "left" : "dead", i, nowMs);
    this.enqueue(m);
  }

  private onPushPull(
    from: string,
    m: Extract<Message, { type: "push-pull" }>,
    nowMs: number,
  ): void {
    this.stats.pushPulls += 1;
    // The table a seed answers our join with is news to us, not to the cluster: gossiping
    // it on would send every member's record λ·log N more times per joiner (half of what
    // forming a cluster cost). What the seed knows and others missed, push-pull repairs.
    const relay = !(m.reply && this.joining !== null);
    const sizeBefore = this.table.size;
    for (const e of m.entries) {
      switch (e.state) {
        case "alive": {
          // Most records of a push-pull are what we already know: skip them here
          // (onAlive would ignore them too, a little later).
          const i = e.id === this.id ? -1 : this.ids.find(e.id);
          if (this.table.has(i) && e.incarnation <= (this.table.incarnation[i] as number)) break;
          this.onAlive(e, nowMs, relay);
          break;
        }
        case "left":
          this.onDead({ type: "dead", incarnation: e.incarnation, id: e.id, from: e.id }, nowMs);
          break;
        // Another member's "dead" is only its opinion: suspect, so the member (if alive)
        // gets its chance to refute (as memberlist's mergeState does).
        case "dead":
        case "suspect":
          this.onSuspect(
            { type: "suspect", incarnation: e.incarnation, id: e.id, from: this.id },
            nowMs,
          );
          break;
      }
    }
    if (!this.leaving) {
      // Compared after the merge, so what the peer just taught us is not a difference.
      const w = m.window;
      const ours = w !== null && m.digests !== null ? this.bucketDigests(w.span) : null;
      const buckets =
        ours !== null && m.digests !== null ? this.bucketsDiffering(ours, m.digests) : [];
      if (!m.reply) {
        // Our window, the buckets that differ, and our digests: the peer then sends what
        // we lack in those buckets.
        const repair = ours !== null ? { digests: ours, buckets, window: true } : undefined;
        this.sendPushPull(from, false, true, w, repair);
      } else if (w !== null && buckets.length > 0) {
        // The reply's digests still differ after its records: send ours for those buckets.
        this.sendPushPull(from, false, true, w, { digests: null, buckets, window: false });
      }
    }
    if (this.joining !== null && this.table.size > 1) {
      this.joining = null;
      // While the cluster learns of us, gossip about others does not reach us (nobody
      // picks us as a target yet), and we do not pass on the table the seed gave us. So
      // sync the whole table once more, with a random member, once news of our join has
      // had time to spread: twice the rounds an update needs to reach everyone.
      // Again, twice as late, each time one still teaches us a member: while a cluster is
      // forming, news spreads slower than the rounds say (every member has a backlog).
      const rounds = disseminationRounds(this.config, this.liveCount);
      this.rejoinSyncDelayMs = 2 * rounds * this.config.gossipIntervalMs;
      this.rejoinSyncAtMs = nowMs + this.rejoinSyncDelayMs;
    } else if (m.reply && m.window === null && from === this.rejoinSyncPeer) {
      this.rejoinSyncPeer = null;
      this.rejoinSyncDelayMs *= 2;
      const learned = this.table.size > sizeBefore;
      if (learned && this.rejoinSyncDelayMs < this.config.pushPullIntervalMs) {
        this.rejoinSyncAtMs = nowMs + this.rejoinSyncDelayMs;
      }
    }
  }

  private refute(accusedIncarnation: number): void {
    this.stats.refutations += 1;
    const incarnation = Math.max(this.selfIncarnation, accusedIncarnation) + 1;
    this.table.set(this.me, this.selfInfo, incarnation, ALIVE, this.nowMs);
    // Lifeguard: being suspected is a hint that we are the slow one.
    this.adjustHealth(1);
    this.enqueue(this.aliveOf(this.me));
  }

  // ---- sending -------------------------------------------------------------------------

  /** A datagram: `primary`, then `extra`, then as many pending broadcasts as fit. */
  private send(to: string, primary: Message, extra: Uint8Array[] = []): void {
    const parts = [encodeMessage(primary), ...extra];
    let used = frameHeaderBytes;
    for (const p of parts) used += p.length;
    parts.push(...this.piggyback(used, parts.length));
    this.emitFrame(to, parts);
  }

  private piggyback(usedBytes: number, usedCount: number): Uint8Array[] {
    if (this.limitFor !== this.liveCount) {
      this.limitFor = this.liveCount;
      this.limit = retransmitLimit(this.config, this.liveCount);
    }
    return this.broadcasts.take(
      this.config.datagramBytesMax - usedBytes,
      this.limit,
      frameMessagesMax - usedCount,
    );
  }

  private emitFrame(to: string, parts: Uint8Array[], reliable = false): void {
    const data = encodeFrame(parts);
    this.stats.messagesSent += 1;
    this.stats.bytesSent += data.length;
    this.outbox.push({ to, data, reliable });
  }

  /**
   * Our records in `window` (all of them when null) to `to`, over a stream; with `repair`,
   * also (or, without `repair.window`, only) those in the window-sized buckets listed.
   */
  private sendPushPull(
    to: string,
    join: boolean,
    reply: boolean,
    window: PushPullWindow | null,
    repair?: { digests: Uint32Array | null; buckets: readonly number[]; window: boolean },
  ): void {
    const entries: PushPullEntry[] = [];
    const wanted = repair === undefined || repair.buckets.length === 0 ? null : repair.buckets;
    const t = this.table;
    for (let k = 0; k < t.size; k++) {
      const i = t.at(k);
      const hash = this.ids.hash(i);
      let send = window === null || (hash - window.start + ringSize) % ringSize < window.span;
      if (repair !== undefined && !repair.window) send = false;
      if (!send && wanted !== null && window !== null) {
        send = wanted.includes(Math.floor(hash / window.span));
      }
      if (send) entries.push(this.entryOf(i));
    }
    const digests = repair?.digests ?? null;
    const body = encodeMessage({ type: "push-pull", join, reply, window, digests, entries });
    this.emitFrame(to, [body], true);
  }

  /**
   * The digest of each bucket of `span` ids on the ring (codec.ts, digestBuckets): a sum
   * of a hash of each record's id, incarnation and state. Alive and suspect count as one
   * state: a suspicion is transient and spreads by gossip, and a push-pull that sent every
   * bucket holding one would mostly move records that agree.
   */
  private bucketDigests(span: number): Uint32Array {
    const digests = new Uint32Array(digestBuckets(span));
    const t = this.table;
    for (let k = 0; k < t.size; k++) {
      const i = t.at(k);
      const hash = this.ids.hash(i);
      const state = t.state[i] === SUSPECT ? ALIVE : (t.state[i] as number);
      const incarnation = t.incarnation[i] as number;
      const h = fmix32(hash ^ Math.imul(incarnation, 0x9e3779b1) ^ Math.imul(state, 0x85ebca6b));
      const b = Math.floor(hash / span);
      digests[b] = ((digests[b] as number) + h) | 0;
    }
    return digests;
  }

  /** Up to pushPullRepairBuckets buckets whose digests differ from ours, from a random one on. */
  private bucketsDiffering(ours: Uint32Array, theirs: Uint32Array): number[] {
    const differing: number[] = [];
    for (let i = 0; i < ours.length; i++) if (ours[i] !== theirs[i]) differing.push(i);
    const take = Math.min(differing.length, this.config.pushPullRepairBuckets);
    if (take === 0) return [];
    const first = this.random.int(differing.length);
    const chosen: number[] = [];
    for (let k = 0; k < take; k++) chosen.push(differing[(first + k) % differing.length] as number);
    return chosen;
  }

  private enqueue(b: Broadcast): void {
    const before = this.broadcasts.dropped;
    this.broadcasts.enqueue(b.id, encodeBroadcast(b));
    this.stats.droppedBroadcastsFull += this.broadcasts.dropped - before;
  }

  // ---- bookkeeping ---------------------------------------------------------------------

  /** Changes a member's state (and info and incarnation), keeping liveCount and suspicions. */
  private setState(
    i: number,
    state: StateCode,
    nowMs: number,
    info: Info,
    incarnation: number,
  ): void {
    const t = this.table;
    this.liveCount += (isLive(state) ? 1 : 0) - (isLive(t.state[i] as number) ? 1 : 0);
    t.set(i, info, incarnation, state, nowMs);
    if (state !== SUSPECT) this.suspicions.delete(i);
  }

  /** At a random place, so a new member is probed within a round, not always last. */
  private insertIntoProbeOrder(i: number): void {
    this.probeOrder.push(i);
    const last = this.probeOrder.length - 1;
    const j = this.random.int(last + 1);
    this.probeOrder[last] = this.probeOrder[j] as number;
    this.probeOrder[j] = i;
  }

  /**
   * Up to k distinct random members (never us) that pass `accept`. Random draws rather
   * than a scan keep this O(k) in large clusters; 3·size draws bound the work when few
   * members qualify (memberlist's kRandomNodes does the same).
   */
  private randomMembers(k: number, accept: (i: number) => boolean): number[] {
    const out: number[] = [];
    const size = this.probeOrder.length;
    for (let draws = 3 * size; draws > 0 && out.length < k; draws--) {
      const i = this.probeOrder[this.random.int(size)] as number;
      if (this.table.has(i) && accept(i) && !out.includes(i)) out.push(i);
    }
    return out;
  }

  private adjustHealth(delta: number): void {
    if (this.config.lifeguard) this.awareness.apply(delta);
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    return this.seq;
  }

  private emit(kind: MemberEventKind, i: number, atMs: number): void {
    const info = this.table.info[i] as Info;
    this.events.push({
      kind,
      id: this.ids.id(i),
      address: info.address,
      incarnation: this.table.incarnation[i] as number,
      meta: info.meta,
      atMs,
    });
  }

  private aliveOf(i: number): Alive {
    return aliveOf(this.ids.id(i), this.table.info[i] as Info, this.table.incarnation[i] as number);
  }

  /** Member i as a push-pull entry: shared and frozen, so the codec encodes it once. */
  private entryOf(i: number): PushPullEntry {
    const t = this.table;
    const info = t.info[i] as Info;
    const incarnation = t.incarnation[i] as number;
    const state = stateName(t.state[i] as number);
    // A record learned from a push-pull is such an entry already.
    if ("state" in info) {
      const e = info as PushPullEntry;
      if (e.state === state && e.incarnation === incarnation) return e;
    }
    const known = entries.get(info);
    if (known !== undefined && known.state === state && known.incarnation === incarnation) {
      return known;
    }
    const id = this.ids.id(i);
    const e = Object.freeze({ id, address: info.address, meta: info.meta, incarnation, state });
    entries.set(info, e);
    return e;
  }

  private addressOf(i: number): string {
    return (this.table.info[i] as Info).address;
  }

  private memberAt(i: number): Member {
    const t = this.table;
    const info = t.info[i] as Info;
    return {
      id: this.ids.id(i),
      address: info.address,
      state: stateName(t.state[i] as number),
      incarnation: t.incarnation[i] as number,
      meta: info.meta,
      stateChangeMs: t.changedMs[i] as number,
    };
  }

  private get selfInfo(): Info {
    return this.table.info[this.me] as Info;
  }

  private get selfIncarnation(): number {
    return this.table.incarnation[this.me] as number;
  }

  private checkCheapInvariants(): void {
    assert(this.table.state[this.me] === (this.leaving ? LEFT : ALIVE), "membership: self state");
    assert(this.relays.size <= this.config.relaysMax, "membership: relays bound");
    assert(this.broadcasts.size <= this.config.broadcastsMax, "membership: broadcasts bound");
    assert(this.table.size <= this.config.membersMax, "membership: members bound");
    assert(this.liveCount >= 0, "membership: live count");
  }
}

type Alive = Extract<Message, { type: "alive" }>;

/**
 * The last push-pull entry made for each Info (table.ts): every member of a simulated
 * cluster sends the same record about a member, so they share one entry and its
 * encoding. Weak, so it holds nothing alive; pure, as a cache of immutable values.
 */
const entries = new WeakMap<Info, PushPullEntry>();

function aliveOf(id: string, info: Info, incarnation: number): Alive {
  return { type: "alive", incarnation, id, address: info.address, meta: info.meta };
}

function isBroadcast(m: Message): m is Broadcast {
  return m.type === "alive" || m.type === "suspect" || m.type === "dead";
}

function sameMeta(a: NodeMeta, b: NodeMeta): boolean {
  if (a === b) return true;
  if (a.zone !== b.zone || a.version !== b.version) return false;
  if (a.addresses.length !== b.addresses.length) return false;
  if (a.addresses.some((x, i) => x !== b.addresses[i])) return false;
  const ka = Object.keys(a.capacity);
  if (ka.length !== Object.keys(b.capacity).length) return false;
  return ka.every((k) => a.capacity[k] === b.capacity[k]);
}

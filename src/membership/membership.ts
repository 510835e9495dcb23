import { assert } from "../core/assert.js";
import { fmix32, fnv1a32String } from "../core/hash.js";
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

interface MemberRecord extends Member {
  suspicion: Suspicion | null;
  /** idHash(id): where the member sits on the ring push-pull windows slide over. */
  hash: number;
}

/** Our probe of one member in the current period. */
interface Probe {
  seq: number;
  targetId: string;
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
  private readonly self: MemberRecord;
  private readonly table = new Map<string, MemberRecord>();
  /** Ids of every member but us, in probe order; reshuffled after each full round. */
  private probeOrder: string[] = [];
  private probeIndex = 0;
  private readonly suspected = new Set<string>();
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
  private outbox: Outgoing[] = [];
  private events: MemberEvent[] = [];

  constructor(config: MembershipConfig, self: SelfDescription, random: Random) {
    validateConfig(config);
    this.config = Object.freeze({ ...config });
    const problem = metaProblem(self.meta);
    if (problem !== null) throw new RangeError(`membership: bad metadata: ${problem}`);
    this.random = random;
    this.id = self.id;
    this.self = {
      id: self.id,
      address: self.address,
      meta: frozenMeta(self.meta),
      state: "alive",
      incarnation: 0,
      stateChangeMs: 0,
      suspicion: null,
      hash: idHash(self.id),
    };
    // The encoder checks id and address bounds: fail here, not at the first send.
    encodeMessage(this.aliveOf(this.self));
    this.table.set(self.id, this.self);
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
    this.checkCheapInvariants();
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
    for (const id of this.suspected) {
      const s = this.table.get(id)?.suspicion;
      if (s) at = Math.min(at, s.deadlineMs);
    }
    if (this.broadcasts.size > 0) at = Math.min(at, this.nextGossipAtMs);
    if (this.joining !== null) at = Math.min(at, this.joining.nextAtMs);
    return at;
  }

  /** Joins through any one of `seeds` (transport addresses): full-state sync with each. */
  join(seeds: string[], nowMs: number): void {
    this.advanceTime(nowMs);
    const unique = [...new Set(seeds)].filter((a) => a !== this.self.address).slice(0, seedsMax);
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
    this.self.state = "left";
    this.self.stateChangeMs = nowMs;
    this.liveCount -= 1;
    this.enqueue({ type: "dead", incarnation: this.self.incarnation, id: this.id, from: this.id });
    this.nextGossipAtMs = nowMs;
    this.tickGossip(nowMs);
  }

  /** Advertises new metadata; its version becomes at least the old one + 1. */
  updateMeta(meta: NodeMeta, nowMs: number): void {
    this.advanceTime(nowMs);
    const version = Math.max(meta.version, this.self.meta.version + 1);
    const next = frozenMeta({ ...meta, version });
    const problem = metaProblem(next);
    if (problem !== null) throw new RangeError(`membership: bad metadata: ${problem}`);
    if (this.leaving) return;
    this.self.meta = next;
    this.self.incarnation += 1;
    this.enqueue(this.aliveOf(this.self));
  }

  /** Every known member, us included, tombstones (dead, left) until reaped. */
  members(): Member[] {
    const out: Member[] = [];
    for (const m of this.table.values()) {
      out.push({
        id: m.id,
        address: m.address,
        state: m.state,
        incarnation: m.incarnation,
        meta: m.meta,
        stateChangeMs: m.stateChangeMs,
      });
    }
    return out;
  }

  member(id: string): Member | undefined {
    const m = this.table.get(id);
    return m === undefined ? undefined : { ...m };
  }

  /** member(id)?.state without the copy: the simulator asks it N² times per check. */
  stateOf(id: string): MemberState | undefined {
    return this.table.get(id)?.state;
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
    return this.self.incarnation;
  }

  broadcastsPending(): number {
    return this.broadcasts.size;
  }

  /** Full consistency check, O(N): for tests and the simulator's invariant phase. */
  checkInvariants(): void {
    this.checkCheapInvariants();
    const seen = new Set<string>();
    for (const id of this.probeOrder) {
      assert(!seen.has(id), `membership: ${id} twice in probe order`);
      assert(id !== this.id, "membership: self in probe order");
      seen.add(id);
    }
    let live = 0;
    for (const [id, m] of this.table) {
      assert(id === this.id || seen.has(id), `membership: ${id} missing from probe order`);
      if (m.state === "alive" || m.state === "suspect") live += 1;
      assert((m.state === "suspect") === (m.suspicion !== null), "membership: suspicion state");
      assert((m.state === "suspect") === this.suspected.has(id), "membership: suspected set");
    }
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
    if (target !== null) this.startProbe(target, nowMs);
  }

  private nextProbeTarget(nowMs: number): MemberRecord | null {
    // One pass over the order plus one reset: enough to find any probeable member.
    for (let tries = this.probeOrder.length + 1; tries > 0; tries--) {
      if (this.probeIndex >= this.probeOrder.length) {
        this.resetProbeOrder(nowMs);
        if (this.probeOrder.length === 0) return null;
      }
      const m = this.table.get(this.probeOrder[this.probeIndex++] as string);
      if (m !== undefined && (m.state === "alive" || m.state === "suspect")) return m;
    }
    return null;
  }

  /** After a full round: reap old tombstones and reshuffle (SWIM's round-robin order). */
  private resetProbeOrder(nowMs: number): void {
    const kept: string[] = [];
    for (const id of this.probeOrder) {
      const m = this.table.get(id);
      if (m === undefined) continue;
      const tomb = m.state === "dead" || m.state === "left";
      if (tomb && nowMs - m.stateChangeMs > this.config.tombstoneMs) {
        this.table.delete(id);
        continue;
      }
      kept.push(id);
    }
    for (let i = kept.length - 1; i > 0; i--) {
      const j = this.random.int(i + 1);
      const t = kept[i] as string;
      kept[i] = kept[j] as string;
      kept[j] = t;
    }
    this.probeOrder = kept;
    this.probeIndex = 0;
  }

  private startProbe(target: MemberRecord, nowMs: number): void {
    this.stats.probes += 1;
    const seq = this.nextSeq();
    this.probe = {
      seq,
      targetId: target.id,
      indirectAtMs: nowMs + this.awareness.scale(this.config.probeTimeoutMs),
      endAtMs: nowMs + this.awareness.scale(this.config.probeIntervalMs),
      indirectSent: false,
      nacksExpected: 0,
      nacks: 0,
    };
    // Lifeguard's buddy system: a suspected member learns it in the probe itself and can
    // refute at once, instead of waiting for the suspicion to reach it by gossip.
    const extra: Uint8Array[] = [];
    if (target.state === "suspect" && this.config.lifeguard) {
      const s = { incarnation: target.incarnation, id: target.id, from: this.id };
      extra.push(encodeMessage({ type: "suspect", ...s }));
    }
    this.send(target.address, { type: "ping", seq, targetId: target.id }, extra);
  }

  private sendIndirect(p: Probe): void {
    p.indirectSent = true;
    const target = this.table.get(p.targetId);
    if (target === undefined) return;
    const helpers = this.randomMembers(
      this.config.indirectChecks,
      (m) => m.state === "alive" && m.id !== p.targetId,
    );
    this.stats.indirectProbes += helpers.length;
    p.nacksExpected = helpers.length;
    for (const h of helpers) {
      this.send(h.address, {
        type: "ping-req",
        seq: p.seq,
        targetId: target.id,
        targetAddress: target.address,
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
    const target = this.table.get(p.targetId);
    if (target === undefined || target.state === "dead" || target.state === "left") return;
    this.onSuspect(
      { type: "suspect", incarnation: target.incarnation, id: target.id, from: this.id },
      nowMs,
    );
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
    const due: MemberRecord[] = [];
    for (const id of this.suspected) {
      const m = this.table.get(id) as MemberRecord;
      if (nowMs >= (m.suspicion as Suspicion).deadlineMs) due.push(m);
    }
    for (const m of due) {
      this.onDead({ type: "dead", incarnation: m.incarnation, id: m.id, from: this.id }, nowMs);
    }
  }

  private tickGossip(nowMs: number): void {
    if (nowMs < this.nextGossipAtMs) return;
    this.nextGossipAtMs = nowMs + this.config.gossipIntervalMs;
    if (this.broadcasts.size === 0) return;
    const targets = this.randomMembers(this.config.gossipNodes, (m) => {
      if (m.state === "alive" || m.state === "suspect") return true;
      // Tell the recently dead too, so a wrongly declared member hears it and refutes.
      return m.state === "dead" && nowMs - m.stateChangeMs < this.config.gossipToTheDeadMs;
    });
    for (const t of targets) {
      const parts = this.piggyback(frameHeaderBytes, 0);
      if (parts.length > 0) this.emitFrame(t.address, parts);
    }
  }

  private tickPushPull(nowMs: number): void {
    if (this.leaving || nowMs < this.nextPushPullAtMs) return;
    this.nextPushPullAtMs = nowMs + this.config.pushPullIntervalMs;
    const [peer] = this.randomMembers(1, (m) => m.state === "alive");
    if (peer === undefined) return;
    const span = pushPullWindowSpan(this.config, this.liveCount);
    if (span === null) {
      this.sendPushPull(peer.address, false, false, null);
      return;
    }
    const window = { start: this.pushPullCursor, span };
    this.pushPullCursor = (this.pushPullCursor + span) % ringSize;
    const digests = this.config.pushPullRepairBuckets > 0 ? this.bucketDigests(span) : null;
    this.sendPushPull(peer.address, false, false, window, { digests, buckets: [], window: true });
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

  private onAlive(m: Extract<Message, { type: "alive" }>, nowMs: number): void {
    if (m.id === this.id) {
      if (this.leaving) return;
      const same = m.address === this.self.address && sameMeta(m.meta, this.self.meta);
      // Our own news echoed back is fine; anything newer, or different at our
      // incarnation, is a stale or conflicting claim about us: out-bid it.
      if (
        m.incarnation > this.self.incarnation ||
        (m.incarnation === this.self.incarnation && !same)
      ) {
        this.refute(m.incarnation);
      }
      return;
    }
    const known = this.table.get(m.id);
    if (known === undefined) {
      if (this.table.size >= this.config.membersMax) {
        this.stats.droppedMembersFull += 1;
        return;
      }
      const rec: MemberRecord = {
        id: m.id,
        address: m.address,
        meta: m.meta,
        state: "alive",
        incarnation: m.incarnation,
        stateChangeMs: nowMs,
        suspicion: null,
        hash: idHash(m.id),
      };
      this.table.set(m.id, rec);
      this.liveCount += 1;
      this.insertIntoProbeOrder(m.id);
      this.emit("joined", rec, nowMs);
      this.enqueue(m);
      return;
    }
    if (m.incarnation <= known.incarnation) return;
    const previous = known.state;
    const changed = m.address !== known.address || !sameMeta(m.meta, known.meta);
    known.incarnation = m.incarnation;
    known.address = m.address;
    known.meta = m.meta;
    this.setState(known, "alive", nowMs);
    if (previous === "dead" || previous === "left") this.emit("joined", known, nowMs);
    else {
      if (previous === "suspect") this.emit("alive", known, nowMs);
      if (changed) this.emit("updated", known, nowMs);
    }
    this.enqueue(m);
  }

  private onSuspect(m: Extract<Message, { type: "suspect" }>, nowMs: number): void {
    if (m.id === this.id) {
      if (!this.leaving && m.incarnation >= this.self.incarnation) this.refute(m.incarnation);
      return;
    }
    const known = this.table.get(m.id);
    if (known === undefined || m.incarnation < known.incarnation) return;
    if (known.state === "suspect") {
      if ((known.suspicion as Suspicion).confirm(m.from)) this.enqueue(m);
      return;
    }
    if (known.state !== "alive") return;
    known.incarnation = m.incarnation;
    this.setState(known, "suspect", nowMs);
    const n = this.liveCount;
    const minMs = suspicionTimeoutMinMs(this.config, n);
    known.suspicion = this.config.lifeguard
      ? new Suspicion(
          m.from,
          nowMs,
          minMs,
          suspicionTimeoutMaxMs(this.config, n),
          suspicionConfirmationsExpected(this.config, n),
        )
      : new Suspicion(m.from, nowMs, minMs, minMs, 0);
    this.emit("suspect", known, nowMs);
    this.enqueue(m);
  }

  private onDead(m: Extract<Message, { type: "dead" }>, nowMs: number): void {
    if (m.id === this.id) {
      // Declared dead, or a leave from an earlier life: we are here, so out-bid it.
      if (!this.leaving && m.incarnation >= this.self.incarnation) this.refute(m.incarnation);
      return;
    }
    const known = this.table.get(m.id);
    if (known === undefined || m.incarnation < known.incarnation) return;
    if (known.state === "dead" || known.state === "left") return;
    known.incarnation = m.incarnation;
    const left = m.from === m.id;
    this.setState(known, left ? "left" : "dead", nowMs);
    this.emit(left ? "left" : "dead", known, nowMs);
    this.enqueue(m);
  }

  private onPushPull(
    from: string,
    m: Extract<Message, { type: "push-pull" }>,
    nowMs: number,
  ): void {
    this.stats.pushPulls += 1;
    for (const e of m.entries) {
      switch (e.state) {
        case "alive": {
          // Most records of a push-pull are what we already know: skip them before
          // building a message (onAlive would ignore them too).
          const known = e.id === this.id ? undefined : this.table.get(e.id);
          if (known !== undefined && e.incarnation <= known.incarnation) break;
          this.onAlive(aliveOf(e), nowMs);
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
    if (this.joining !== null && this.table.size > 1) this.joining = null;
  }

  private refute(accusedIncarnation: number): void {
    this.stats.refutations += 1;
    this.self.incarnation = Math.max(this.self.incarnation, accusedIncarnation) + 1;
    // Lifeguard: being suspected is a hint that we are the slow one.
    this.adjustHealth(1);
    this.enqueue(this.aliveOf(this.self));
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
    return this.broadcasts.take(
      this.config.datagramBytesMax - usedBytes,
      retransmitLimit(this.config, this.liveCount),
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
    for (const m of this.table.values()) {
      let send = window === null || (m.hash - window.start + ringSize) % ringSize < window.span;
      if (repair !== undefined && !repair.window) send = false;
      if (!send && wanted !== null && window !== null) {
        send = wanted.includes(Math.floor(m.hash / window.span));
      }
      if (send) entries.push(m); // a record is a PushPullEntry: encoded as it is, no copy
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
    for (const m of this.table.values()) {
      const state = m.state === "dead" ? 1 : m.state === "left" ? 2 : 0;
      const h = fmix32(
        m.hash ^ Math.imul(m.incarnation, 0x9e3779b1) ^ Math.imul(state + 1, 0x85ebca6b),
      );
      const i = Math.floor(m.hash / span);
      digests[i] = ((digests[i] as number) + h) | 0;
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

  private setState(m: MemberRecord, state: MemberState, nowMs: number): void {
    const wasLive = m.state === "alive" || m.state === "suspect";
    const isLive = state === "alive" || state === "suspect";
    this.liveCount += (isLive ? 1 : 0) - (wasLive ? 1 : 0);
    if (m.state !== state) m.stateChangeMs = nowMs;
    m.state = state;
    if (state !== "suspect") {
      m.suspicion = null;
      this.suspected.delete(m.id);
    } else {
      this.suspected.add(m.id);
    }
  }

  /** At a random place, so a new member is probed within a round, not always last. */
  private insertIntoProbeOrder(id: string): void {
    this.probeOrder.push(id);
    const i = this.probeOrder.length - 1;
    const j = this.random.int(i + 1);
    this.probeOrder[i] = this.probeOrder[j] as string;
    this.probeOrder[j] = id;
  }

  /**
   * Up to k distinct random members (never us) that pass `accept`. Random draws rather
   * than a scan keep this O(k) in large clusters; 3·size draws bound the work when few
   * members qualify (memberlist's kRandomNodes does the same).
   */
  private randomMembers(k: number, accept: (m: MemberRecord) => boolean): MemberRecord[] {
    const out: MemberRecord[] = [];
    const size = this.probeOrder.length;
    for (let draws = 3 * size; draws > 0 && out.length < k; draws--) {
      const m = this.table.get(this.probeOrder[this.random.int(size)] as string);
      if (m !== undefined && accept(m) && !out.includes(m)) out.push(m);
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

  private emit(kind: MemberEventKind, m: MemberRecord, atMs: number): void {
    this.events.push({
      kind,
      id: m.id,
      address: m.address,
      incarnation: m.incarnation,
      meta: m.meta,
      atMs,
    });
  }

  private aliveOf(m: MemberRecord): Alive {
    return aliveOf(m);
  }

  private checkCheapInvariants(): void {
    assert(this.self.state === (this.leaving ? "left" : "alive"), "membership: self state");
    assert(this.relays.size <= this.config.relaysMax, "membership: relays bound");
    assert(this.broadcasts.size <= this.config.broadcastsMax, "membership: broadcasts bound");
    assert(this.table.size <= this.config.membersMax, "membership: members bound");
    assert(this.liveCount >= 0, "membership: live count");
  }
}

type Alive = Extract<Message, { type: "alive" }>;

function aliveOf(m: { id: string; address: string; meta: NodeMeta; incarnation: number }): Alive {
  return { type: "alive", incarnation: m.incarnation, id: m.id, address: m.address, meta: m.meta };
}

/**
 * FNV-1a, 32 bits, over the id's UTF-16 code units, then murmur3's finaliser: spreads ids
 * evenly over the ring that push-pull windows slide over. FNV-1a alone leaves the high
 * bits of short ids that differ in their last characters ("n1", "n2", ...) clustered.
 * Not a defence against chosen ids; it only balances load.
 */
export function idHash(id: string): number {
  return fmix32(fnv1a32String(id));
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

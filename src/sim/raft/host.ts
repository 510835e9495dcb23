import { assert } from "../../core/assert.js";
import type { TimerHandle } from "../../core/clock.js";
import type { SeededRandom } from "../../core/random.js";
import { datagramBytesMax } from "../../core/transport.js";
import {
  decodeMessage,
  type Entry,
  encodeMessage,
  type HardState,
  MemoryLogStorage,
  type Message,
  messageBytesMax,
  type NodeId,
  type RaftConfig,
  RaftNode,
  type ReadState,
  type Ready,
  type SafetyChecker,
  type Snapshot,
} from "../../raft/index.js";
import type { SimNetwork, SimNode } from "../network.js";
import type { Scheduler } from "../scheduler.js";
import { applyKv, type KvOutput } from "./history.js";
import { decodeCommand, encodeCommand, KvMachine } from "./kv-machine.js";
import {
  addressOf,
  type ClientReply,
  type ClientRequest,
  decodeJson,
  encodeJson,
  isReplicaAddress,
  type ReplyError,
} from "./wire.js";

/**
 * One raft replica as the simulator runs it: the pure RaftNode plus the shell a server
 * gives it (STYLE.md, 1) — a durable log whose writes take virtual time, a tick loop on the
 * host's own (possibly drifting) clock, the KV state machine, and the client-facing side.
 *
 * The disk is `storage` (MemoryLogStorage): what is in it survives a crash, nothing else
 * does. A Ready that has something to persist becomes one disk write in flight; only when
 * it completes is it copied into `storage`, are its messages sent, its committed entries
 * applied and advance() called (the Ready contract, types.ts). A crash while it is in
 * flight loses it — or, with tornProbability, keeps a prefix of it in the contract's order
 * (snapshot, entries, hard state), as a torn write-ahead-log tail would.
 */

/** Deliberate bugs, to prove the checkers can fail (never on by default). */
export type ScenarioBug =
  | "none"
  /** The leader answers a write as soon as it is proposed, before it commits. */
  | "ack-before-commit"
  /** Any replica answers a GET from its local state, without read-index. */
  | "follower-reads";

export interface HostOptions {
  tickMs: number;
  /** Mean extra latency of a disk write (exponential) on top of diskMinMs. */
  diskMeanMs: number;
  diskMinMs: number;
  /** A disk write never takes longer than this (times the slow factor). */
  diskMaxMs: number;
  /** A crash during a write keeps a prefix of it with this probability. */
  tornProbability: number;
  /** The state machine takes a snapshot (and the log is compacted) every K applied entries. */
  snapshotEvery: number;
  /** Safety checks of a replica whose log changed are at most this far apart (observe()). */
  checkIntervalMs: number;
  bug: ScenarioBug;
}

/** What the scenario learns from a host, for its figures and its trace. */
export interface HostEvents {
  becameLeader(host: RaftHost, term: number): void;
  /** A leader applied a client command of its own term: it serves writes. */
  servedWrite(host: RaftHost, term: number): void;
  applied(host: RaftHost, e: Entry): void;
}

/**
 * A leader's log changes with every proposal and leader completeness walks every index
 * ever committed: leaders are checked this many times less often (a leader only appends).
 */
const leaderCheckFactor = 20;

/** Ticks run at once when a host catches up after a pause: past this nothing changes. */
const catchUpTicksMax = 1_000;

interface WaitingWrite {
  s: number;
  a: number;
  from: string;
  /** The term it was proposed in: a retry in a later term proposes again. */
  term: number;
}

interface WaitingRead {
  req: ClientRequest;
  from: string;
  term: number;
}

export class RaftHost {
  readonly storage: MemoryLogStorage;
  node: RaftNode | null = null;
  kv: KvMachine = new KvMachine();
  sim: SimNode;
  up = true;
  /** Extra disk latency factor while the nemesis makes this host slow. */
  diskSlowFactor = 1;
  diskWrites = 0;
  tornWrites = 0;
  snapshotsTaken = 0;
  /** Ticks per virtual tick interval: 1 + drift. Fixed per run. */
  readonly rate: number;
  private writing: Ready | null = null;
  private bootMs = 0;
  private ticked = 0;
  private tickTimer: TimerHandle | null = null;
  private readonly waitingWrites = new Map<number, WaitingWrite>();
  private readonly waitingReads = new Map<number, WaitingRead>();
  private readStates: ReadState[] = [];
  private nextReadId = 1;
  private appendedWrites = 0;
  /** What observe() last saw: term, role, first, last, last term, commit, writes. */
  private readonly seen: number[] = [-1, -1, -1, -1, -1, -1, -1];
  private checkedMs = Number.NEGATIVE_INFINITY;
  /** The term this host leads and answers clients in; 0 when not leading. */
  private servingTerm = 0;

  constructor(
    readonly id: NodeId,
    readonly config: RaftConfig,
    voters: NodeId[],
    private readonly scheduler: Scheduler,
    private readonly network: SimNetwork,
    private readonly checker: SafetyChecker,
    private readonly random: SeededRandom,
    private readonly options: HostOptions,
    private readonly events: HostEvents,
    drift: number,
  ) {
    this.storage = new MemoryLogStorage({ voters, learners: [] });
    this.rate = 1 + drift;
    this.sim = network.addNode(addressOf(id));
    this.boot();
  }

  get address(): string {
    return addressOf(this.id);
  }

  /** Kills the process: memory, timers and the write in flight are gone (maybe torn). */
  crash(): void {
    assert(this.up, "host: crash while down");
    const inflight = this.writing;
    if (inflight !== null && this.random.next() < this.options.tornProbability) {
      this.persistPrefix(inflight);
    }
    this.network.crash(this.address);
    this.up = false;
    this.node = null;
    this.writing = null;
    this.tickTimer = null;
    this.waitingWrites.clear();
    this.waitingReads.clear();
    this.readStates = [];
    this.seen.fill(-1);
    this.servingTerm = 0;
  }

  /** A fresh process recovering from its disk: hard state, snapshot and entries. */
  restart(): void {
    assert(!this.up, "host: restart while up");
    this.sim = this.network.restart(this.address);
    this.up = true;
    this.boot();
  }

  private boot(): void {
    this.sim.transport.onMessage((from, data) => this.receive(from, data));
    this.node = new RaftNode(this.config, this.storage, this.sim.random);
    const snap = this.storage.snapshot();
    this.kv = KvMachine.restore(snap.data, snap.meta.index);
    // The clock's phase is arbitrary: hosts do not tick in step.
    this.bootMs = this.scheduler.nowMs - this.random.next() * this.options.tickMs;
    this.ticked = 0;
    this.scheduleTick();
    this.pump();
  }

  // ---- time ------------------------------------------------------------------------------

  /**
   * Ticks owed by the local clock, run before any input is handled. A host that was paused
   * (its timers and deliveries held) thus first sees the time that passed, as a real
   * server reading a monotonic clock would: a paused leader's lease and check-quorum
   * expire before it answers anyone.
   */
  private catchUp(): void {
    const node = this.node as RaftNode;
    const localMs = (this.scheduler.nowMs - this.bootMs) * this.rate;
    const due = Math.floor(localMs / this.options.tickMs + 1e-9);
    const owed = Math.min(due - this.ticked, catchUpTicksMax);
    this.ticked = Math.max(this.ticked, due);
    for (let i = 0; i < owed; i++) node.tick();
  }

  private scheduleTick(): void {
    const nextMs = this.bootMs + ((this.ticked + 1) * this.options.tickMs) / this.rate;
    const delayMs = Math.max(0, nextMs - this.scheduler.nowMs);
    this.tickTimer = this.sim.timers.schedule(delayMs, () => {
      this.tickTimer = null;
      this.catchUp();
      this.pump();
      this.scheduleTick();
    });
  }

  // ---- inputs ----------------------------------------------------------------------------

  private receive(from: string, data: Uint8Array): void {
    if (!this.up || data.length === 0) return;
    this.catchUp();
    const node = this.node as RaftNode;
    if (isReplicaAddress(from)) {
      const decoded = decodeMessage(data, messageBytesMax(this.config));
      assert(decoded.ok, `host ${this.id}: undecodable raft message`);
      node.step(decoded.value);
    } else {
      this.onRequest(from, decodeJson<ClientRequest>(data));
    }
    this.pump();
  }

  private onRequest(from: string, req: ClientRequest): void {
    const node = this.node as RaftNode;
    if (req.op.op === "get") {
      if (this.options.bug === "follower-reads") {
        this.reply(from, { k: "ok", c: req.c, s: req.s, a: req.a, out: this.kv.read(req.op) });
        return;
      }
      const readId = this.nextReadId++;
      const r = node.readIndex(readId);
      if (r.ok) this.waitingReads.set(readId, { req, from, term: node.term });
      else this.refuse(from, req, r.reason === "not-leader" ? "not-leader" : "retry", r.lead);
      return;
    }
    if (node.state !== "leader") {
      this.refuse(from, req, "not-leader", node.lead);
      return;
    }
    // Applied already (a retry after a lost reply): its one answer, from the session.
    const done = this.kv.answered(req.c, req.s);
    if (done !== undefined) {
      this.reply(from, { k: "ok", c: req.c, s: req.s, a: req.a, out: done });
      return;
    }
    const waiting = this.waitingWrites.get(req.c);
    if (waiting !== undefined && waiting.s === req.s && waiting.term === node.term) {
      waiting.a = req.a;
      waiting.from = from;
      return;
    }
    const r = node.propose(encodeCommand({ c: req.c, s: req.s, op: req.op }));
    if (!r.ok) {
      this.refuse(from, req, r.reason === "not-leader" ? "not-leader" : "retry", r.lead);
      return;
    }
    if (this.options.bug === "ack-before-commit") {
      const out = applyKv(this.kv.read({ op: "get", key: req.op.key }) as string | null, req.op);
      this.reply(from, { k: "ok", c: req.c, s: req.s, a: req.a, out: out.output });
      return;
    }
    this.waitingWrites.set(req.c, { s: req.s, a: req.a, from, term: node.term });
  }

  private refuse(from: string, req: ClientRequest, e: ReplyError, lead: NodeId): void {
    this.reply(from, { k: "err", c: req.c, s: req.s, a: req.a, e, lead });
  }

  private reply(to: string, reply: ClientReply): void {
    this.sim.transport.send(to, encodeJson(reply));
  }

  // ---- the Ready loop --------------------------------------------------------------------

  /** Handles Readies until one needs the disk (then it resumes when the write completes). */
  private pump(): void {
    const node = this.node;
    while (node !== null && this.writing === null && node.hasReady()) {
      const rd = node.ready();
      if (rd.snapshot !== null || rd.entries.length > 0 || rd.hardState !== null) {
        this.writing = rd;
        this.diskWrites += 1;
        this.sim.timers.schedule(this.diskLatencyMs(), () => {
          this.writing = null;
          persist(this.storage, rd.snapshot, rd.entries, rd.hardState);
          if (rd.entries.length > 0) this.appendedWrites += 1;
          this.finish(node, rd);
          this.pump();
        });
        break;
      }
      this.finish(node, rd);
    }
    this.observe();
  }

  /** After the persist: send, apply, advance (types.ts, Ready, steps 2–4). */
  private finish(node: RaftNode, rd: Ready): void {
    for (const m of rd.messages) this.send(m);
    if (rd.snapshot !== null) this.kv = KvMachine.restore(rd.snapshot.data, rd.snapshot.meta.index);
    for (const e of rd.committedEntries) this.apply(node, e);
    for (const rs of rd.readStates) this.readStates.push(rs);
    this.serveReads();
    const leading = node.state === "leader" ? node.term : 0;
    if (leading !== this.servingTerm) {
      this.servingTerm = leading;
      this.abandonWaiting(leading, node.lead);
      if (leading !== 0) this.events.becameLeader(this, leading);
    }
    node.advance();
    this.maybeSnapshot(node);
  }

  private send(m: Message): void {
    const bytes = encodeMessage(m);
    assert(bytes.length <= datagramBytesMax, `host: ${m.type} of ${bytes.length} bytes`);
    this.sim.transport.send(addressOf(m.to), bytes);
  }

  private apply(node: RaftNode, e: Entry): void {
    this.checker.applied(this.id, e);
    this.events.applied(this, e);
    if (e.type !== "normal" || e.data.length === 0) {
      this.kv.skip(e.index);
      return;
    }
    const cmd = decodeCommand(e.data);
    const { out } = this.kv.apply(e.index, cmd);
    if (node.state === "leader" && e.term === node.term) this.events.servedWrite(this, e.term);
    const waiting = this.waitingWrites.get(cmd.c);
    if (waiting === undefined || waiting.s !== cmd.s) return;
    this.waitingWrites.delete(cmd.c);
    this.reply(waiting.from, { k: "ok", c: cmd.c, s: cmd.s, a: waiting.a, out });
  }

  /** Read states whose index is applied: the read is linearizable now (thesis §6.4). */
  private serveReads(): void {
    if (this.readStates.length === 0) return;
    const applied = this.kv.appliedIndex;
    const later: ReadState[] = [];
    for (const rs of this.readStates) {
      if (rs.index > applied) {
        later.push(rs);
        continue;
      }
      const w = this.waitingReads.get(rs.id);
      if (w === undefined) continue;
      this.waitingReads.delete(rs.id);
      const { req } = w;
      const out: KvOutput = this.kv.read(req.op);
      this.reply(w.from, { k: "ok", c: req.c, s: req.s, a: req.a, out });
    }
    this.readStates = later;
  }

  /**
   * No longer leader (or leader of another term): pending writes may or may not commit ("lost": the client retries,
   * the session deduplicates); pending read-index rounds are void. Read states already
   * handed out stay valid and are served once applied.
   */
  private abandonWaiting(leading: number, lead: NodeId): void {
    for (const [c, w] of this.waitingWrites) {
      if (w.term === leading) continue;
      this.reply(w.from, { k: "err", c, s: w.s, a: w.a, e: "lost", lead });
      this.waitingWrites.delete(c);
    }
    const handed = new Set(this.readStates.map((rs) => rs.id));
    for (const [id, w] of this.waitingReads) {
      if (handed.has(id) || w.term === leading) continue;
      this.refuse(w.from, w.req, "not-leader", lead);
      this.waitingReads.delete(id);
    }
  }

  /** Every K applied entries: snapshot the machine, compact the log (an atomic write). */
  private maybeSnapshot(node: RaftNode): void {
    const applied = this.kv.appliedIndex;
    if (applied - this.storage.snapshot().meta.index < this.options.snapshotEvery) return;
    if (applied > this.storage.lastIndex()) return;
    this.storage.createSnapshot(applied, node.confState(), this.kv.snapshot());
    this.snapshotsTaken += 1;
  }

  private diskLatencyMs(): number {
    const o = this.options;
    const u = 1 - this.random.next();
    const ms = o.diskMinMs - o.diskMeanMs * Math.log(u);
    return Math.min(ms, o.diskMaxMs) * this.diskSlowFactor;
  }

  /** A crash mid-write keeps the first k of its parts, in the contract's order. */
  private persistPrefix(rd: Ready): void {
    const parts = (rd.snapshot === null ? 0 : 1) + rd.entries.length + (rd.hardState ? 1 : 0);
    const k = this.random.int(parts + 1);
    if (k === 0) return;
    this.tornWrites += 1;
    let left = k;
    let snapshot: Snapshot | null = null;
    if (rd.snapshot !== null) {
      snapshot = rd.snapshot;
      left -= 1;
    }
    const entries = rd.entries.slice(0, left);
    left -= entries.length;
    const hardState = left > 0 ? rd.hardState : null;
    persist(this.storage, snapshot, entries, hardState);
  }

  // ---- checks ----------------------------------------------------------------------------

  /**
   * Runs the cross-replica safety checker on this replica when its term or role changed,
   * and otherwise when its log or commit changed but at most once per checkIntervalMs of
   * virtual time (0: after every change). Observing an unchanged replica proves nothing
   * new, and the checker's passes walk the whole log (leader completeness: every index
   * ever committed), so checking every change of a busy group costs more than the rest of
   * the simulation. What is skipped is seen at the next check: a wrong entry stays in a
   * log until compacted (snapshotEvery entries later), a leader only appends, and applied
   * entries are checked one by one as they apply (state machine safety).
   */
  private observe(): void {
    const node = this.node;
    if (node === null) return;
    const log = node.log;
    const seen = this.seen;
    const roleChanged = seen[0] !== node.term || seen[1] !== roleCode(node);
    if (
      !roleChanged &&
      seen[2] === log.firstIndex() &&
      seen[3] === log.lastIndex() &&
      seen[4] === log.lastTerm() &&
      seen[5] === log.committed &&
      seen[6] === this.appendedWrites
    ) {
      return;
    }
    const nowMs = this.scheduler.nowMs;
    const leader = node.state === "leader";
    const intervalMs = this.options.checkIntervalMs * (leader ? leaderCheckFactor : 1);
    if (!roleChanged && nowMs - this.checkedMs < intervalMs) return;
    this.checkedMs = nowMs;
    seen[0] = node.term;
    seen[1] = roleCode(node);
    seen[2] = log.firstIndex();
    seen[3] = log.lastIndex();
    seen[4] = log.lastTerm();
    seen[5] = log.committed;
    seen[6] = this.appendedWrites;
    this.checker.observe([node]);
  }

  /** The tick timer is armed while up (a liveness guard for the tests). */
  get ticking(): boolean {
    return this.tickTimer !== null;
  }
}

function roleCode(node: RaftNode): number {
  return node.state === "leader"
    ? 3
    : node.state === "candidate"
      ? 2
      : node.state === "follower"
        ? 0
        : 1;
}

function persist(
  storage: MemoryLogStorage,
  snapshot: Snapshot | null,
  entries: readonly Entry[],
  hardState: HardState | null,
): void {
  if (snapshot !== null) storage.applySnapshot(snapshot);
  storage.append(entries);
  if (hardState !== null) storage.setHardState(hardState);
}

import { SeededRandom } from "../../src/core/random.js";
import {
  type ConfState,
  decodeMessage,
  type Entry,
  encodeMessage,
  lanConfig,
  MemoryLogStorage,
  type Message,
  messageBytesMax,
  type NodeId,
  type RaftConfig,
  RaftNode,
  type ReadState,
  runReady,
  SafetyChecker,
} from "../../src/raft/index.js";

/** One replica: its disk (survives crashes) and its memory (does not). */
export interface Replica {
  id: NodeId;
  config: RaftConfig;
  storage: MemoryLogStorage;
  /** null while crashed. */
  node: RaftNode | null;
  random: SeededRandom;
  /** The state machine: data of applied non-empty normal entries, and the applied index. */
  sm: string[];
  smIndex: number;
  readStates: ReadState[];
  /** When set, its Ready is not handled: what it holds is unpersisted and unsent. */
  stalled: boolean;
}

export interface Envelope {
  from: NodeId;
  to: NodeId;
  type: Message["type"];
  bytes: Uint8Array;
}

const text = new TextEncoder();
const untext = new TextDecoder();

/** Scripts use small timeouts and no lease unless asked: */
export function testConfig(id: NodeId): RaftConfig {
  return { ...lanConfig(id), electionTicks: 10, heartbeatTicks: 1 };
}

/**
 * Several replicas of one group in one process, with a message queue in between that a
 * test (or a seeded nemesis) delivers, drops, duplicates and reorders. Every message goes
 * through the codec. After every operation the caller may run check(): the cross-replica
 * safety properties (SafetyChecker).
 */
export class Cluster {
  readonly replicas = new Map<NodeId, Replica>();
  queue: Envelope[] = [];
  readonly checker = new SafetyChecker();
  /** "a->b" pairs whose messages are dropped (partitions). */
  readonly blocked = new Set<string>();
  delivered = 0;
  /** Read id → the highest commit index any replica knew when the read was asked. */
  readonly readFloor = new Map<number, number>();
  /** Each replica draws from its own stream, forked from the seed in the order added. */
  private readonly randoms: SeededRandom;

  constructor(seed = 1) {
    this.randoms = new SeededRandom(seed);
  }

  add(id: NodeId, conf: ConfState, configure: (c: RaftConfig) => RaftConfig = (c) => c): Replica {
    if (this.replicas.has(id)) throw new Error(`node ${id} exists`);
    const config = configure(testConfig(id));
    const storage = new MemoryLogStorage(conf);
    const random = this.randoms.fork();
    const r: Replica = {
      id,
      config,
      storage,
      node: new RaftNode(config, storage, random),
      random,
      sm: [],
      smIndex: 0,
      readStates: [],
      stalled: false,
    };
    this.replicas.set(id, r);
    return r;
  }

  get(id: NodeId): Replica {
    const r = this.replicas.get(id);
    if (r === undefined) throw new Error(`no node ${id}`);
    return r;
  }

  node(id: NodeId): RaftNode {
    const n = this.get(id).node;
    if (n === null) throw new Error(`node ${id} is down`);
    return n;
  }

  live(): RaftNode[] {
    const out: RaftNode[] = [];
    for (const r of this.replicas.values()) if (r.node !== null) out.push(r.node);
    return out;
  }

  /** Handles every Ready of one replica: persist, then send, then apply (types.ts, Ready). */
  process(id: NodeId): void {
    const r = this.get(id);
    const n = r.node;
    if (n === null || r.stalled) return;
    runReady(n, {
      persist: (snapshot, entries, hardState) => {
        if (snapshot !== null) r.storage.applySnapshot(snapshot);
        r.storage.append(entries);
        if (hardState !== null) r.storage.setHardState(hardState);
      },
      send: (messages) => {
        for (const m of messages) {
          if (this.blocked.has(`${id}->${m.to}`)) continue;
          this.queue.push({ from: id, to: m.to, type: m.type, bytes: encodeMessage(m) });
        }
      },
      apply: (snapshot, committed, reads) => {
        if (snapshot !== null) this.restoreMachine(r, snapshot.data, snapshot.meta.index);
        for (const e of committed) this.apply(r, e);
        for (const s of reads) {
          const floor = this.readFloor.get(s.id) ?? 0;
          if (s.index < floor) throw new Error(`read ${s.id} at ${s.index} misses commit ${floor}`);
          r.readStates.push(s);
        }
      },
    });
    if (n.hasReady()) throw new Error(`node ${id} never quiesces`);
  }

  processAll(): void {
    for (const id of this.replicas.keys()) this.process(id);
  }

  private apply(r: Replica, e: Entry): void {
    this.checker.applied(r.id, e);
    if (e.index !== r.smIndex + 1)
      throw new Error(`node ${r.id} applies ${e.index} after ${r.smIndex}`);
    r.smIndex = e.index;
    if (e.type === "normal" && e.data.length > 0) r.sm.push(untext.decode(e.data));
  }

  private restoreMachine(r: Replica, data: Uint8Array, index: number): void {
    r.sm = data.length === 0 ? [] : (JSON.parse(untext.decode(data)) as string[]);
    r.smIndex = index;
  }

  /** The state machine takes a snapshot at its applied index and the log is compacted. */
  snapshot(id: NodeId): void {
    const r = this.get(id);
    const n = this.node(id);
    if (r.smIndex <= r.storage.snapshot().meta.index) return;
    r.storage.createSnapshot(r.smIndex, n.confState(), text.encode(JSON.stringify(r.sm)));
  }

  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) {
      this.get(id).node?.tick();
      this.process(id);
    }
  }

  /** Delivers one queued message (by position) and handles the receiver's Ready. */
  deliverAt(i: number): void {
    const [env] = this.queue.splice(i, 1);
    if (env === undefined) return;
    this.deliverEnvelope(env);
  }

  private deliverEnvelope(env: Envelope): void {
    const r = this.replicas.get(env.to);
    if (r === undefined || r.node === null || this.blocked.has(`${env.from}->${env.to}`)) return;
    const decoded = decodeMessage(env.bytes, messageBytesMax(r.config));
    if (!decoded.ok) throw new Error(`codec round trip failed: ${decoded.error}`);
    this.delivered += 1;
    r.node.step(decoded.value);
    this.process(env.to);
  }

  /** Delivers every queued message matching `filter` once (answers stay queued). */
  deliverMatching(filter: (e: Envelope) => boolean): number {
    const now = this.queue.filter(filter);
    this.queue = this.queue.filter((e) => !filter(e));
    for (const env of now) this.deliverEnvelope(env);
    return now.length;
  }

  /** Delivers until no message is left (answers included), within a bound. */
  stabilize(roundsMax = 1000): void {
    this.processAll();
    for (let round = 0; this.queue.length > 0; round++) {
      if (round >= roundsMax) throw new Error("cluster did not stabilize");
      this.deliverMatching(() => true);
      this.processAll();
    }
  }

  drop(filter: (e: Envelope) => boolean): number {
    const before = this.queue.length;
    this.queue = this.queue.filter((e) => !filter(e));
    return before - this.queue.length;
  }

  /** Loses the replica's memory: whatever its last Ready held that was not handled. */
  crash(id: NodeId): void {
    const r = this.get(id);
    r.node = null;
    r.stalled = false;
    r.sm = [];
    r.smIndex = 0;
    r.readStates = [];
    this.queue = this.queue.filter((e) => e.to !== id);
  }

  restart(id: NodeId): void {
    const r = this.get(id);
    if (r.node !== null) return;
    r.node = new RaftNode(r.config, r.storage, r.random);
    const snap = r.storage.snapshot();
    this.restoreMachine(r, snap.data, snap.meta.index);
    this.process(id);
  }

  /** Cuts every link between different groups; ids in no group are cut from everyone. */
  partition(groups: NodeId[][]): void {
    this.blocked.clear();
    const groupOf = new Map<NodeId, number>();
    groups.forEach((g, i) => {
      for (const id of g) groupOf.set(id, i);
    });
    for (const a of this.replicas.keys()) {
      for (const b of this.replicas.keys()) {
        if (a === b) continue;
        const ga = groupOf.get(a);
        if (ga === undefined || ga !== groupOf.get(b)) this.blocked.add(`${a}->${b}`);
      }
    }
  }

  heal(): void {
    this.blocked.clear();
  }

  leaders(): RaftNode[] {
    return this.live().filter((n) => n.state === "leader");
  }

  /** The leader of the highest term, if any. */
  leader(): RaftNode | null {
    let best: RaftNode | null = null;
    for (const n of this.leaders()) if (best === null || n.term > best.term) best = n;
    return best;
  }

  check(): void {
    this.checker.observe(this.live());
  }

  propose(id: NodeId, data: string): boolean {
    const result = this.node(id).propose(text.encode(data));
    this.process(id);
    return result.ok;
  }
}

export function logOf(n: RaftNode): string[] {
  const log = n.log;
  const ents = log.slice(log.firstIndex(), log.lastIndex() + 1, Number.POSITIVE_INFINITY) ?? [];
  return ents.map((e) => `${e.term}/${e.index}`);
}

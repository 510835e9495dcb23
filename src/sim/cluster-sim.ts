/**
 * A whole sharded cluster in one process, deterministic from its seed: every node's
 * MultiRaft with in-memory logs, the meta group's machine, the shard machines on in-memory
 * key spaces, the controller on the meta leader, and a network of queued envelopes that
 * nodes can be cut from (killed, or partitioned for a while). One step is one raft tick
 * (100 ms of virtual time). The same protocol code as a real node — raft, MultiRaft, the
 * meta machine, the controller's plan(), the shard machine — with the server's wiring
 * (server/cluster.ts) reduced to what the protocols need:
 *
 *   - membership is an oracle: a node cut off from the meta leader is "suspect" after
 *     `suspectSteps` and "dead" after twice that; the dead-node time counts from suspicion
 *     (as ClusterRuntime counts from "not alive");
 *   - every node reads the shard map from the meta leader's state (a real node reads its
 *     own meta replica, which lags by a heartbeat at most);
 *   - observations reach the controller at once (a real node reports every 500 ms).
 *
 * Writes are SETs of increasing numbers per key, proposed on the shard's leader and
 * acknowledged when applied there; checkNoLostWrites() reads every key on its shard's
 * leader at the end: its number must be at least the last acknowledged one.
 */
import {
  type Action,
  actionSettled,
  type GroupObservation,
  observeGroup,
  plan,
} from "../cluster/controller.js";
import { MemoryRaftLogs } from "../cluster/memory-logs.js";
import {
  encodeMetaCommand,
  firstRaftId,
  type MetaCommand,
  MetaMachine,
  metaGroupId,
} from "../cluster/meta.js";
import { MultiRaft } from "../cluster/multi-raft.js";
import { newReplicaStart, replicasToDrop } from "../cluster/replica-gc.js";
import { type Shard, shardOfSlot } from "../cluster/shard-map.js";
import { keyHashSlot } from "../cluster/slots.js";
import { assert } from "../core/assert.js";
import { SeededRandom } from "../core/random.js";
import { encodeLogCommand, ShardMachine } from "../kv/machine.js";
import type { MemberState } from "../membership/types.js";
import { lanConfig, type NodeId } from "../raft/index.js";
import { MemoryShardSpace } from "../storage/shard-store.js";

export interface ClusterSimOptions {
  nodes: number;
  zones: number;
  shards: number;
  seed: number;
  /** Steps a node is cut off before the controller sees it suspect (dead at twice that). */
  suspectSteps?: number;
  /** Steps a node may be not alive before its replicas are rebuilt (the dead-node time). */
  deadNodeAfterSteps?: number;
  /** The controller plans every this many steps (5: every 500 ms, as a real node). */
  controllerEverySteps?: number;
  /** Shards mid-change at once (the meta setting conf-changes-max). */
  confChangesMax?: number;
  /**
   * The bytes each shard's leader reports (GroupObservation.bytes) instead of its machine's
   * own (a few KB here): declares shards of production sizes, so the controller's byte
   * balancing runs. Default: the machines' own.
   */
  shardBytes?: (shard: number) => number | undefined;
}

interface SimNode {
  readonly raftId: NodeId;
  readonly id: string;
  readonly zone: string;
  readonly multi: MultiRaft;
  readonly space: MemoryShardSpace;
  readonly machines: Map<number, ShardMachine>;
  readonly meta: MetaMachine;
  /** Groups this replica was in the configuration of (see ClusterRuntime.memberOf). */
  readonly memberOf: Set<number>;
  /** Groups removed from this node, until which step (late messages do not recreate). */
  readonly removed: Map<number, number>;
  alive: boolean;
}

interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly bytes: Uint8Array;
}

/** An action the controller issued, in flight until it settles or `until` (a step). */
interface Inflight {
  readonly action: Action;
  readonly until: number;
}

/** Every raft change carried out, for counting moves. */
export interface MoveRecord {
  readonly step: number;
  readonly group: number;
  readonly change: string;
  readonly node: number;
}

/** Keys of a compaction image built per node per step: small, so images span many steps. */
const simImageSliceKeys = 16;
const removedQuietSteps = 100;
const inflightTimeoutSteps = 100;

function nodeIdOf(raftId: number): string {
  return raftId.toString(16).padStart(40, "0");
}

export class ClusterSim {
  readonly nodes = new Map<NodeId, SimNode>();
  readonly moves: MoveRecord[] = [];
  readonly random: SeededRandom;
  step = 0;
  /** Per key: the numbers proposed, and the last one acknowledged. */
  readonly acked = new Map<string, number>();
  readonly proposed = new Map<string, Set<number>>();
  /** Called with every plan the controller makes (diagnostics). */
  onPlan: ((step: number, actions: readonly Action[]) => void) | null = null;
  writesAcked = 0;
  writesRefused = 0;
  private next = 1;
  private queue: Envelope[] = [];
  /** Nodes cut off from everyone, until a step (partitions). */
  private readonly cutUntil = new Map<NodeId, number>();
  /** When the controller's oracle first saw each node cut off. */
  private readonly cutSince = new Map<NodeId, number>();
  /** Nodes whose raft log writes fail, until a step (failDisk). */
  private readonly diskFailsUntil = new Map<NodeId, number>();
  private inflight: Inflight[] = [];
  private readonly o: Required<ClusterSimOptions>;

  constructor(options: ClusterSimOptions) {
    this.o = {
      suspectSteps: 20,
      deadNodeAfterSteps: 100,
      controllerEverySteps: 5,
      confChangesMax: 4,
      shardBytes: () => undefined,
      ...options,
    };
    this.random = new SeededRandom(options.seed);
    const first = this.addNode();
    first.multi.addGroup(metaGroupId, { voters: [first.raftId], learners: [] }, first.meta);
    first.multi.campaign(metaGroupId);
    this.runUntil("the first node leads the meta group", () => this.metaLeader() === first, 50);
    this.proposeMeta({
      kind: "bootstrap",
      clusterId: "sim",
      node: this.address(first),
      shardCount: options.shards,
      replicaTarget: 3,
    });
    this.proposeMeta({
      kind: "set-setting",
      name: "conf-changes-max",
      value: this.o.confChangesMax,
    });
    this.runUntil("bootstrapped", () => first.meta.clusterId !== null, 50);
    for (const shard of first.meta.shardMap().shards) {
      this.openShard(first, shard.id, { voters: [first.raftId], learners: [] });
      first.multi.campaign(shard.id);
    }
    for (let i = 1; i < options.nodes; i++) this.join();
  }

  private address(n: SimNode) {
    return {
      id: n.id,
      host: "10.0.0.1",
      port: 6000 + n.raftId,
      busPort: 16000 + n.raftId,
      zone: n.zone,
    };
  }

  /** A new node process (not yet registered). */
  private addNode(): SimNode {
    const raftId = this.nodes.size + 1;
    const zone = `z${(raftId - 1) % this.o.zones}`;
    const random = this.random.fork();
    const space = new MemoryShardSpace(keyHashSlot);
    const meta = new MetaMachine();
    const node: SimNode = {
      raftId,
      id: nodeIdOf(raftId),
      zone,
      space,
      machines: new Map(),
      meta,
      memberOf: new Set(),
      removed: new Map(),
      alive: true,
      multi: new MultiRaft(
        raftId,
        lanConfig(raftId),
        random,
        new MemoryRaftLogs(new Map(), () => (this.diskFailsUntil.get(raftId) ?? 0) > this.step),
        (to, bytes) => this.queue.push({ from: raftId, to, bytes: bytes.slice() }),
        {
          compactEntries: 500,
          onUnknownGroup: (group) => this.onUnknownGroup(node, group),
        },
      ),
    };
    this.nodes.set(raftId, node);
    return node;
  }

  /** A node joins: registered through the meta leader; the controller adds it to groups. */
  join(): SimNode {
    const n = this.addNode();
    this.proposeMeta({ kind: "register-node", node: this.address(n) });
    this.runUntil(
      `node ${n.raftId} registered`,
      () => this.leaderState().nodes.some((x) => x.raftId === n.raftId),
      50,
    );
    return n;
  }

  private leaderState() {
    return (this.metaLeader() ?? (this.nodes.get(firstRaftId) as SimNode)).meta.state;
  }

  private proposeMeta(cmd: MetaCommand): void {
    const leader = this.metaLeader();
    assert(leader !== null, "sim: no meta leader to propose to");
    const r = leader.multi.propose(metaGroupId, encodeMetaCommand(cmd));
    assert(r.ok, `sim: meta proposal refused (${r.ok ? "" : r.reason})`);
  }

  metaLeader(): SimNode | null {
    for (const n of this.nodes.values()) {
      if (n.alive && n.multi.status(metaGroupId)?.role === "leader") return n;
    }
    return null;
  }

  private openShard(
    n: SimNode,
    group: number,
    conf: { voters: number[]; learners: number[] },
    passive = false,
  ): void {
    if (n.multi.has(group)) return;
    const shard = this.leaderState().shardMap.shards.find((s) => s.id === group);
    if (shard === undefined) return;
    const store = n.space.openShard(
      group,
      shard.slots.map(([from, to]) => ({ from, to })),
    );
    const machine = new ShardMachine({ store, maxBulkBytes: 1 << 20 });
    n.machines.set(group, machine);
    n.multi.addGroup(group, conf, machine, { passive });
  }

  private onUnknownGroup(n: SimNode, group: number): void {
    const until = n.removed.get(group);
    if (until !== undefined && this.step < until) return;
    n.removed.delete(group);
    const { conf, passive } = newReplicaStart(n.raftId);
    if (group === metaGroupId) n.multi.addGroup(metaGroupId, conf, n.meta, { passive });
    else this.openShard(n, group, conf, passive);
  }

  /** Drops the replicas the node is no longer a member of (ClusterRuntime.afterFlush). */
  private dropRemoved(n: SimNode): void {
    for (const g of replicasToDrop(n.multi, n.raftId, n.memberOf)) {
      n.removed.set(g, this.step + removedQuietSteps);
      n.multi.removeGroup(g);
      const m = n.machines.get(g);
      n.machines.delete(g);
      void m?.close().then(() => n.space.dropShard(g));
    }
  }

  // ---- faults -------------------------------------------------------------------------------

  /** The node's process dies for good (its messages and timers stop). */
  kill(raftId: NodeId): void {
    const n = this.nodes.get(raftId) as SimNode;
    n.alive = false;
  }

  /** The node is cut off from everyone for `steps` steps, then heals. */
  partition(raftId: NodeId, steps: number): void {
    this.cutUntil.set(raftId, this.step + steps);
  }

  /**
   * The node's raft log writes fail for `steps` steps (a full disk): its MultiRaft stalls
   * and retries each step, as RaftRuntime does.
   */
  failDisk(raftId: NodeId, steps: number): void {
    this.diskFailsUntil.set(raftId, this.step + steps);
  }

  private reachable(n: SimNode): boolean {
    return n.alive && (this.cutUntil.get(n.raftId) ?? 0) <= this.step;
  }

  // ---- running ------------------------------------------------------------------------------

  async run(steps: number, writesPerStep = 0): Promise<void> {
    for (let i = 0; i < steps; i++) {
      this.tick(writesPerStep);
      // Let the shard machines' promises (acknowledgements) settle.
      await Promise.resolve();
    }
  }

  async runUntilAsync(
    what: string,
    done: () => boolean,
    stepsMax: number,
    writesPerStep = 0,
  ): Promise<number> {
    for (let i = 0; i < stepsMax; i++) {
      if (done()) return i;
      this.tick(writesPerStep);
      await Promise.resolve();
    }
    throw new Error(`sim: not ${what} after ${stepsMax} steps`);
  }

  private runUntil(what: string, done: () => boolean, stepsMax: number): void {
    for (let i = 0; i < stepsMax; i++) {
      if (done()) return;
      this.tick(0);
    }
    throw new Error(`sim: not ${what} after ${stepsMax} steps`);
  }

  private tick(writesPerStep: number): void {
    this.step += 1;
    const inflight = this.queue;
    this.queue = [];
    for (const e of inflight) {
      const from = this.nodes.get(e.from) as SimNode;
      const to = this.nodes.get(e.to);
      if (to === undefined || !this.reachable(from) || !this.reachable(to)) continue;
      to.multi.receive(e.from, e.bytes);
    }
    for (const n of this.nodes.values()) {
      if (!n.alive) continue;
      n.multi.tick();
      try {
        if (n.multi.stalled === null || n.multi.retryFlush()) {
          for (let k = 0; k < 4 && n.multi.flush(); k++) {
            // more Readies (a single-voter group commits in its own flush)
          }
        }
      } catch (e) {
        // A failed raft log write (failDisk) stalls the node until a retry goes through.
        if (n.multi.stalled === null) throw e;
      }
      if (n.multi.stalled === null) {
        // Compaction images a slice a step, so that writes land while they are built.
        n.multi.stepImages(simImageSliceKeys);
        this.dropRemoved(n);
      }
      // Replicas the shard map gives this node that it does not hold yet are created by the
      // leader's messages (onUnknownGroup), as on a real node.
    }
    for (let w = 0; w < writesPerStep; w++) this.write();
    if (this.step % this.o.controllerEverySteps === 0) this.control();
  }

  // ---- the controller, on the meta leader ---------------------------------------------------

  private liveness(): { liveness: Map<string, MemberState>; expired: Set<string> } {
    const liveness = new Map<string, MemberState>();
    const expired = new Set<string>();
    for (const n of this.nodes.values()) {
      if (this.reachable(n)) {
        this.cutSince.delete(n.raftId);
        liveness.set(n.id, "alive");
        continue;
      }
      const since = this.cutSince.get(n.raftId) ?? this.step;
      this.cutSince.set(n.raftId, since);
      const cut = this.step - since;
      liveness.set(
        n.id,
        cut < this.o.suspectSteps ? "alive" : cut < 2 * this.o.suspectSteps ? "suspect" : "dead",
      );
      if (cut >= this.o.suspectSteps + this.o.deadNodeAfterSteps) expired.add(n.id);
    }
    return { liveness, expired };
  }

  private control(): void {
    const leader = this.metaLeader();
    if (leader === null || !this.reachable(leader)) {
      this.liveness();
      return;
    }
    const groups = new Map<number, GroupObservation>();
    for (const n of this.nodes.values()) {
      if (!this.reachable(n)) continue;
      for (const g of n.multi.groupIds()) {
        const obs = observeGroup(n.multi, g);
        if (obs === null || obs.leader !== n.raftId) continue;
        const declared = this.o.shardBytes(g);
        groups.set(g, declared === undefined ? obs : { ...obs, bytes: declared });
      }
    }
    this.inflight = this.inflight.filter(
      ({ action, until }) => this.step <= until && !actionSettled(action, groups.get(action.group)),
    );
    const { liveness, expired } = this.liveness();
    const actions = plan({
      meta: leader.meta.state,
      liveness,
      expired,
      groups,
      inflight: this.inflight.map((i) => i.action),
    });
    this.onPlan?.(this.step, actions);
    for (const a of actions) this.execute(leader, a);
  }

  private execute(leader: SimNode, a: Action): void {
    if (a.kind === "propose") {
      const r = leader.multi.propose(metaGroupId, encodeMetaCommand(a.command));
      // A proposal applies within a round or two: until then it is not planned again.
      if (r.ok) this.inflight.push({ action: a, until: this.step + 10 });
      return;
    }
    const at = this.nodes.get(a.at);
    if (at === undefined || !this.reachable(at)) return;
    if (a.kind === "transfer-leader") {
      if (at.multi.transferLeader(a.group, a.to)) {
        this.inflight.push({ action: a, until: this.step + inflightTimeoutSteps });
      }
      return;
    }
    const r = at.multi.proposeConfChange(a.group, a.change);
    if (!r.ok) return;
    this.inflight.push({ action: a, until: this.step + inflightTimeoutSteps });
    this.moves.push({
      step: this.step,
      group: a.group,
      change: a.change.type,
      node: a.change.node,
    });
  }

  // ---- the workload -------------------------------------------------------------------------

  private shardOf(key: string): Shard | null {
    return shardOfSlot(this.leaderState().shardMap)(keyHashSlot(Buffer.from(key)));
  }

  /** The node leading `group` now (alive and reachable), or null. */
  leaderOf(group: number): SimNode | null {
    for (const n of this.nodes.values()) {
      if (this.reachable(n) && n.multi.status(group)?.role === "leader") return n;
    }
    return null;
  }

  private write(): void {
    const key = `k${this.random.int(2000)}`;
    const shard = this.shardOf(key);
    if (shard === null) return;
    const leader = this.leaderOf(shard.id);
    const machine = leader?.machines.get(shard.id);
    if (leader === null || machine === undefined) {
      this.writesRefused += 1;
      return;
    }
    const value = this.next++;
    const args = [Buffer.from("SET"), Buffer.from(key), Buffer.from(String(value))];
    const nowMs = Math.max(this.step * 100, machine.lastNowMs);
    const r = leader.multi.propose(
      shard.id,
      encodeLogCommand({ kind: "command", nowMs, seed: value, args }),
    );
    if (!r.ok) {
      this.writesRefused += 1;
      return;
    }
    let set = this.proposed.get(key);
    if (set === undefined) {
      set = new Set();
      this.proposed.set(key, set);
    }
    set.add(value);
    machine.expect(r.index, r.term).then(
      (reply) => {
        if (reply.kind !== "simple") return;
        this.writesAcked += 1;
        this.acked.set(key, Math.max(this.acked.get(key) ?? 0, value));
      },
      () => {
        // lost: its outcome is unknown, which the check allows
      },
    );
  }

  // ---- checks -------------------------------------------------------------------------------

  /** Problems with the acknowledged writes ([] when none was lost): read on each shard's leader. */
  lostWrites(): string[] {
    const problems: string[] = [];
    for (const [key, ackedValue] of this.acked) {
      const shard = this.shardOf(key);
      const leader = shard === null ? null : this.leaderOf(shard.id);
      const machine = shard === null ? undefined : leader?.machines.get(shard.id);
      if (shard === null || machine === undefined) {
        problems.push(`${key}: no leader to read from`);
        continue;
      }
      const stored = machine.store.get(Buffer.from(key));
      const got = stored === undefined ? 0 : Number(stored.data.toString());
      if (got < ackedValue) problems.push(`${key}: ${got} < acknowledged ${ackedValue}`);
      else if (!(this.proposed.get(key)?.has(got) ?? false))
        problems.push(`${key}: ${got} was never written`);
    }
    return problems;
  }

  /**
   * Keys whose value differs between a shard's leader and one of its voters ([] when all
   * agree). Meaningful once writes have stopped and every replica has caught up.
   */
  divergentReplicas(): string[] {
    const problems: string[] = [];
    for (const key of this.proposed.keys()) {
      const shard = this.shardOf(key);
      const leader = shard === null ? null : this.leaderOf(shard.id);
      if (shard === null || leader === null) continue;
      const valueOn = (n: SimNode) =>
        n.machines.get(shard.id)?.store.get(Buffer.from(key))?.data.toString() ?? "(none)";
      const expected = valueOn(leader);
      for (const v of leader.multi.raftOf(shard.id)?.confState().voters ?? []) {
        const n = this.nodes.get(v) as SimNode;
        const got = valueOn(n);
        if (got !== expected) problems.push(`${key} on node ${v}: ${got}, leader ${expected}`);
      }
    }
    return problems;
  }

  /**
   * Per shard, as its leader sees it: `atTarget` counts shards with at least `replicas`
   * voters, every one reachable (a move in progress may hold one more); `settled` those
   * with exactly `replicas` voters and no learner; `zonesSpread` is false if a settled
   * shard has two voters in one zone while there are enough zones.
   */
  healthyShards(replicas = 3): {
    atTarget: number;
    settled: number;
    total: number;
    zonesSpread: boolean;
  } {
    const shards = this.leaderState().shardMap.shards;
    let atTarget = 0;
    let settled = 0;
    let zonesSpread = true;
    for (const s of shards) {
      const conf = this.leaderOf(s.id)?.multi.raftOf(s.id)?.confState();
      if (conf === undefined) continue;
      const live = conf.voters.filter((v) => this.reachable(this.nodes.get(v) as SimNode));
      if (live.length < replicas || live.length < conf.voters.length) continue;
      atTarget += 1;
      if (conf.voters.length !== replicas || conf.learners.length > 0) continue;
      settled += 1;
      const zones = new Set(conf.voters.map((v) => (this.nodes.get(v) as SimNode).zone));
      if (zones.size < Math.min(replicas, this.o.zones)) zonesSpread = false;
    }
    return { atTarget, settled, total: shards.length, zonesSpread };
  }

  /** Voters per reachable node (the load the controller balances). */
  replicasPerNode(): Map<NodeId, number> {
    return this.perNode(() => 1);
  }

  /** Bytes held per reachable node (voters only), each shard weighing `size(shard)`. */
  bytesPerNode(size: (shard: number) => number): Map<NodeId, number> {
    return this.perNode(size);
  }

  private perNode(weight: (shard: number) => number): Map<NodeId, number> {
    const sums = new Map<NodeId, number>();
    for (const n of this.nodes.values()) if (this.reachable(n)) sums.set(n.raftId, 0);
    for (const s of this.leaderState().shardMap.shards) {
      const conf = this.leaderOf(s.id)?.multi.raftOf(s.id)?.confState();
      for (const v of conf?.voters ?? [])
        if (sums.has(v)) sums.set(v, (sums.get(v) as number) + weight(s.id));
    }
    return sums;
  }
}

import { readFileSync, statfsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pack, unpack } from "msgpackr";
import {
  type Action,
  actionSettled,
  type GroupObservation,
  observeGroup,
  plan,
} from "../cluster/controller.js";
import {
  currentContract,
  encodeMetaCommand,
  type FunctionLibraries,
  firstRaftId,
  type MetaCommand,
  MetaMachine,
  type MetaResult,
  metaGroupId,
  type NodeAddress,
  ProposalLostError,
  type RegisteredNode,
} from "../cluster/meta.js";
import type { GroupMachine } from "../cluster/multi-raft.js";
import { newReplicaStart, replicasToDrop } from "../cluster/replica-gc.js";
import {
  type ClusterView,
  clusterInfo,
  clusterMyId,
  clusterNodes,
  clusterShards,
  clusterSlots,
} from "../cluster/replies.js";
import {
  hasOwnRedirectPort,
  type ShardMap,
  type SlotRange,
  shardOfSlot,
} from "../cluster/shard-map.js";
import { checkFeasibility, feasibilityVerdict } from "../contract/feasibility.js";
import { formatErrors, parseContract } from "../contract/parse.js";
import type { Contract } from "../contract/schema.js";
import type { Random } from "../core/random.js";
import { reliableBytesMax } from "../core/transport.js";
import { formatAddress, parseAddress } from "../core/udp-transport.js";
import type { MemberState } from "../membership/index.js";
import { lanConfig, type NodeId, type RaftConfig } from "../raft/index.js";
import * as R from "../resp/reply.js";
import type { Reply } from "../resp/types.js";
import { openRaftLogs } from "../storage/raft-log-migrate.js";
import type { WalLogStorage, WalRaftLogs } from "../storage/wal-raft-log.js";
import { type JournalContext, JournalWriter } from "./journal.js";
import type { Logger } from "./log.js";
import type { MembershipDriver } from "./membership-driver.js";
import { RaftRuntime } from "./raft-runtime.js";
import { call, callAll } from "./resp-client.js";

/**
 * A meta proposal's outcome: the command's result; why it was not even proposed here;
 * "not-applied" when another entry took its place in the log (it never ran: proposing it
 * again is safe); "outcome-unknown" when this node stopped leading the meta group and did
 * not learn the entry's fate in time (meta commands are safe to retry: see meta.ts).
 */
export type MetaOutcome =
  | MetaResult
  | { ok: false; code: "not-proposed" | "not-applied" | "outcome-unknown"; message: string };

/** Real milliseconds per raft tick: raft's election timeout is 10 ticks (1–2 s to fail over). */
export const raftTickMs = 100;
/**
 * Longest a clean stop waits for its leaderships to move (handOver): a transfer takes a
 * round trip or two once the target is caught up; one that has not happened by then
 * (no live voter to take it, a target that lags far behind) leaves an election.
 */
const handOverMs = 3000;
/** How often the meta leader plans (controller.ts): a few ticks, so actions settle between plans. */
const controllerIntervalMs = 500;
/** First byte of a controller message on the bus (membership's is 0xb5, raft's envelopes 1). */
const controlMagic = 0xc7;
/** First byte of a published Pub/Sub message on the bus (publishToOthers); SPUBLISH's. */
const publishMagic = 0xc8;
const spublishMagic = 0xc9;
/** The largest channel plus message publishToOthers carries: a bus message, less its head. */
export const publishBytesMax = reliableBytesMax - 5;

/** Between nodes: reports of led groups to the meta leader, and actions back. */
type ControlMessage =
  | {
      t: "obs";
      groups: (Omit<GroupObservation, "learnerMatch"> & { learnerMatch: [number, number][] })[];
      /** The sender's raft id and its data disk's free and total bytes (null: unknown). */
      from?: number;
      disk?: DiskSpace | null;
    }
  | { t: "act"; action: Action };

/** A node's data disk: bytes free (to an unprivileged writer) and in all. */
interface DiskSpace {
  free: number;
  total: number;
}

/**
 * A node whose data disk has less than this fraction free gets no new replica (the
 * controller's guard against filling a disk by moving data onto it); what it holds stays.
 */
const fullFreeFraction = 0.1;
/** How long a node's disk report counts (it sends one every controller interval). */
const diskReportTtlMs = 5_000;

/** How long a replica we were removed from is not recreated by late messages. */
const removedGroupQuietMs = 10_000;
/** How long, and how often, a node proposes again a conf change refused for a passing reason. */
const confRetryForMs = 3_000;
const confRetryEveryMs = 100;

/** A refusal that goes away by itself: the learner catches up, the last change applies. */
function passingRefusal(reason: string): boolean {
  return reason === "not-caught-up" || reason === "conf-pending";
}

/** How long the bus addresses taken from membership are reused before being read again. */
const memberAddressesTtlMs = 1000;
/** How long a node is only down before its replicas are rebuilt elsewhere (default). */
export const deadNodeAfterMsDefault = 5 * 60_000;
/** Shards a new cluster is split into, each a raft group. */
export const shardCountDefault = 16;

export interface ClusterOptions {
  dir: string;
  log: Logger;
  membership: MembershipDriver;
  random: Random;
  /** This node as clients and peers reach it. */
  host: string;
  port: number;
  busPort: number;
  /** The Redis port for cluster-aware clients (ClusterNode.redirectPort). */
  redirectPort: number;
  zone: string;
  /** Members' Redis addresses to join through; empty: start a new cluster (first start only). */
  seeds: readonly string[];
  password: string;
  shardCount?: number;
  replicaTarget?: number;
  /**
   * How long a node may be silent before its replicas are rebuilt on other nodes (used
   * while this node leads the meta group); until then it is only down and nothing moves.
   */
  deadNodeAfterMs?: number;
  /**
   * Builds the state machine of a shard group on this node, or null while its slots are
   * not known yet (the meta replica has not caught up): its messages are then ignored
   * and the leader sends them again.
   */
  shardMachine(group: number, slots: readonly SlotRange[]): GroupMachine | null;
  /** Each raft flush's thread time (RaftRuntimeOptions.onFlushMs). */
  onFlushMs?(ms: number): void;
  /** A shard replica was dropped from this node: release its machine and data. */
  shardRemoved(group: number): void;
  /** After the raft groups stopped: close the shard machines and their storage. */
  onClose?(): Promise<void>;
}

/**
 * The cluster side of one node: its raft groups (the meta group and the shards it holds
 * replicas of) on one MultiRaft over the bus, the meta state machine every node follows,
 * and, on the meta leader, the controller that places replicas and leaders.
 *
 * Start-up:
 *   - first start, no seeds: raft id 1, a meta group with us as its only voter, then the
 *     bootstrap command (cluster id, shard count, replica target) and every shard group
 *     with us as its only voter;
 *   - first start with seeds: HOMEOSTAT REGISTER through a seed (it answers with the meta
 *     leader's address when it is not the leader); the meta log allots our raft id, which
 *     is kept in `raft-id` next to `node-id`; the meta leader's controller then adds us to
 *     the meta group (as a learner, so we get the shard map) and to shards;
 *   - a restart: the raft id from `raft-id`, and every group from the raft log.
 */
export class ClusterRuntime {
  readonly meta: MetaMachine;
  readonly runtime: RaftRuntime<WalLogStorage>;
  readonly raftId: NodeId;
  /** Bus addresses learnt from envelopes before the registry has them (a joiner's first). */
  private readonly heard = new Map<NodeId, string>();
  /**
   * Groups we were removed from, until when: messages the leader sent before it applied
   * our removal must not recreate the replica. After a while the controller may add us
   * to the group again, and then a message for it is welcome.
   */
  private readonly removedGroups = new Map<number, number>();
  /** Groups whose configuration has held us since this process started. */
  private readonly memberOf = new Set<number>();
  /** Shards with a raft log on this node, not yet reopened (restart, see open()). */
  private readonly reopening = new Set<number>();
  private readonly inflight: Action[] = [];
  /** On the meta leader: what other nodes last reported of the groups they lead. */
  private readonly reported = new Map<number, { obs: GroupObservation; at: number }>();
  private controllerTimer: NodeJS.Timeout | null = null;
  /** Since when each registered node has not been alive (every node keeps it: expiredNodes). */
  private readonly notAliveSince = new Map<string, number>();
  /** On the meta leader: each node's last disk report (raft id). */
  private readonly disks = new Map<number, DiskSpace & { at: number }>();
  /** On the meta leader: decisions waiting to be written to the journal. */
  private readonly journal = new JournalWriter();
  /** contractInForce's cache: the version parsed, and its contract (null: did not parse). */
  private parsedContract: { version: number; contract: Contract | null } | null = null;
  /** The last feasibility seen by watchFeasibility ("version:verdict"), or null. */
  private lastFeasibility: string | null = null;
  private addressCache: {
    at: number;
    byNode: Map<string, string>;
    byAddress: Map<string, string>;
  } | null = null;
  /** Set by close(): background work (re-registering) stops. */
  private closed = false;

  private constructor(
    private readonly o: ClusterOptions,
    private readonly logs: WalRaftLogs,
    raftId: NodeId,
  ) {
    this.raftId = raftId;
    this.meta = new MetaMachine({ onChange: () => this.onMetaChange() });
    const config: RaftConfig = lanConfig(raftId);
    this.runtime = new RaftRuntime({
      id: raftId,
      config,
      random: o.random,
      logs,
      transport: o.membership.transport,
      addressOf: (id) => this.busAddressOf(id),
      idOf: (address) => this.raftIdOf(address),
      learn: (id, address) => {
        if (this.heard.size < 1024) this.heard.set(id, address);
      },
      tickMs: raftTickMs,
      log: o.log,
      multi: {
        onUnknownGroup: (group) => this.onUnknownGroup(group),
      },
      ...(o.onFlushMs === undefined ? {} : { onFlushMs: o.onFlushMs }),
    });
  }

  /**
   * Whether the raft log writes its segment with O_DIRECT (INFO raft); false on a file
   * system without it, which then goes through the page cache (docs/storage.md).
   */
  raftLogWritesDirect(): boolean {
    return this.logs.writesDirect();
  }

  static async open(o: ClusterOptions): Promise<ClusterRuntime> {
    // The raft folder of LMDB is moved over to the log once, then deleted.
    const { logs, migratedGroups } = await openRaftLogs(
      { path: join(o.dir, "raft-log") },
      join(o.dir, "raft"),
    );
    if (migratedGroups > 0) o.log.info({ groups: migratedGroups }, "raft logs moved from LMDB");
    let raftId = loadRaftId(o.dir);
    const fresh = raftId === null;
    if (raftId === null) {
      raftId = o.seeds.length === 0 ? firstRaftId : await register(o);
      saveRaftId(o.dir, raftId);
    }
    const c = new ClusterRuntime(o, logs, raftId);
    if (!fresh) {
      // A restart may come back on other ports: registering again updates our address
      // in the registry (same node id, same raft id), so clients are sent where we are.
      // Through ourselves first, then the seeds: our HOMEOSTAT REGISTER answers with the
      // meta leader once the meta group has one, and registers us at once if that is us.
      // It must: the registry names the meta leader by its address, so a meta leader
      // that came back on other ports is found there only once it has registered (and
      // each redirect starts the next round from the leader named, then this list).
      // Until then clients and forwards go to our old address, so this keeps trying
      // for as long as the node runs (the meta group may need the other nodes back).
      const stored = raftId;
      const through = [formatAddress(o.host, o.port), ...o.seeds];
      register({ ...o, seeds: through }, () => c.closed).then(
        (id) => {
          if (id !== stored)
            o.log.error({ stored, registered: id }, "raft id mismatch on re-registering");
        },
        (err: unknown) => {
          if (!c.closed) o.log.warn({ err: String(err) }, "could not re-register with the cluster");
        },
      );
    }
    o.membership.onForeign((from, data) => {
      if (data[0] === controlMagic) c.onControl(data);
      else if (data[0] === publishMagic || data[0] === spublishMagic) c.onPublished(data);
      else c.runtime.receive(from, data);
    });
    const stored = new Set(logs.groupIds());
    // Restart: every group we hold a log of; the meta group first (routing needs it).
    if (stored.has(metaGroupId) || (fresh && o.seeds.length === 0)) {
      c.runtime.multi.addGroup(metaGroupId, { voters: [raftId], learners: [] }, c.meta);
    }
    // A shard's machine needs its slots, from the shard map, which the meta replica has
    // only once it has applied its log (in the first flushes): until then the stored
    // shards wait in `reopening` (afterFlush opens them). Without their leaders' messages
    // (the whole cluster restarting) nothing else would open them.
    for (const g of [...stored].sort((a, b) => a - b)) {
      if (g !== metaGroupId) c.reopening.add(g);
    }
    c.reopenStored();
    c.runtime.onFlushed(() => c.afterFlush());
    c.runtime.start();
    if (fresh && o.seeds.length === 0) await c.bootstrap();
    c.controllerTimer = setInterval(() => c.control(), controllerIntervalMs);
    return c;
  }

  /** The first node of a new cluster: the meta group elects us, then bootstrap. */
  private async bootstrap(): Promise<void> {
    const multi = this.runtime.multi;
    multi.campaign(metaGroupId);
    this.runtime.flushSoon();
    await this.until(() => multi.status(metaGroupId)?.role === "leader", 10_000);
    const shardCount = this.o.shardCount ?? shardCountDefault;
    const result = await this.proposeMeta({
      kind: "bootstrap",
      clusterId: `${this.o.membership.id}`,
      node: this.address(),
      shardCount,
      replicaTarget: this.o.replicaTarget ?? 3,
    });
    if (!result.ok) throw new Error(`cannot bootstrap the cluster: ${result.message}`);
    for (const shard of this.meta.shardMap().shards) {
      this.addShard(shard.id, { voters: [this.raftId], learners: [] });
      multi.campaign(shard.id);
    }
    this.runtime.flushSoon();
    this.o.log.info({ shards: shardCount, raftId: this.raftId }, "new cluster bootstrapped");
  }

  /** This node's entry in the registry. */
  address(): NodeAddress {
    return {
      id: clusterNodeId(this.o.membership.id),
      host: this.o.host,
      port: this.o.port,
      busPort: this.o.busPort,
      zone: this.o.zone,
      redirectPort: this.o.redirectPort,
    };
  }

  /**
   * Proposes a meta command on this node (it must lead the meta group) and waits for it.
   * Never rejects for a lost proposal: a leader change while it waits ends as an outcome
   * the caller can word (see MetaOutcome), not as an exception.
   */
  proposeMeta(cmd: MetaCommand): Promise<MetaOutcome> {
    const r = this.runtime.multi.propose(metaGroupId, encodeMetaCommand(cmd));
    if (!r.ok) return Promise.resolve({ ok: false, code: "not-proposed", message: r.reason });
    const done = new Promise<MetaOutcome>((resolve, reject) =>
      this.meta.expect(r.index, r.term, { resolve, reject }),
    );
    this.runtime.flushSoon();
    return done.catch((err: unknown) => {
      if (!(err instanceof ProposalLostError)) throw err;
      return err.didNotRun
        ? {
            ok: false,
            code: "not-applied",
            message: "the meta group's leader changed before it committed; try again",
          }
        : {
            ok: false,
            code: "outcome-unknown",
            message:
              "the meta group's leader changed before this node learned whether it was " +
              "applied; check, then try again",
          };
    });
  }

  /** The meta group's leader as a registered node, or undefined while there is none. */
  metaLeader(): RegisteredNode | undefined {
    const lead = this.runtime.multi.status(metaGroupId)?.lead ?? 0;
    return lead === 0 ? undefined : this.meta.nodeByRaftId(lead);
  }

  isMetaLeader(): boolean {
    return this.runtime.multi.status(metaGroupId)?.role === "leader";
  }

  /** HOMEOSTAT REGISTER on this node: a joiner asks for its raft id. */
  async registerNode(node: NodeAddress): Promise<Reply> {
    if (!this.isMetaLeader()) {
      const leader = this.metaLeader();
      if (leader === undefined) return R.error("CLUSTERDOWN the meta group has no leader yet");
      return R.error(`TRYAGAIN meta leader at ${formatAddress(leader.host, leader.port)}`);
    }
    const result = await this.proposeMeta({ kind: "register-node", node });
    if (!result.ok) return R.error(`ERR cannot register: ${result.message}`);
    return R.integer(result.raftId);
  }

  /** The cluster's function libraries, as this node's meta replica has them. */
  functionLibraries(): FunctionLibraries {
    return this.meta.state.functions;
  }

  /**
   * Waits until `done()` holds of this node's meta replica (checked every 10 ms), at most
   * `timeoutMs`: whether it held.
   */
  async metaApplied(done: () => boolean, timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() >= until) return false;
      await new Promise((r) => setTimeout(r, 10));
    }
    return true;
  }

  /** Asks the meta leader to run `args` (a node that does not lead the meta group). */
  async askMetaLeader(args: readonly (string | Buffer)[]): Promise<Reply> {
    const leader = this.metaLeader();
    if (leader === undefined) return R.error("CLUSTERDOWN the meta group has no leader yet");
    try {
      const t = { host: leader.host, port: leader.port };
      return this.o.password === ""
        ? await call(t, args)
        : ((await callAll(t, [["AUTH", this.o.password], args]))[1] as Reply);
    } catch (err) {
      return R.error(`TRYAGAIN the meta leader did not answer: ${String(err)}`);
    }
  }

  /**
   * HOMEOSTAT CONTRACT APPLY: validates the file, proposes it as the next version (compare-
   * and-set on the version it was checked against), and answers with the version and the
   * feasibility check against the nodes present. An invalid file changes nothing; an
   * infeasible one is applied and reported as such (and journaled).
   */
  async applyContract(text: string): Promise<Reply> {
    const parsed = parseContract(text, "contract");
    if (!parsed.ok) {
      const why = formatErrors(parsed.errors, "contract").split("\n").join("; ");
      return R.error(`ERR invalid contract, nothing changed: ${why}`);
    }
    if (!this.isMetaLeader()) return this.askMetaLeader(["HOMEOSTAT", "CONTRACT", "APPLY", text]);
    const current = currentContract(this.meta.state)?.version ?? 0;
    const c = parsed.contract;
    const result = await this.proposeMeta({
      kind: "apply-contract",
      expectedVersion: current,
      appliedAtMs: Date.now(),
      text,
      replicas: c.durability.replicas,
      deadNodeAfterMs: c.availability.deadNodeAfterMs,
    });
    if (!result.ok) return R.error(`ERR contract not applied: ${result.message}`);
    const f = checkFeasibility(c, this.feasibilityNodes());
    const verdict = feasibilityVerdict(f);
    this.journal.note({
      atMs: Date.now(),
      reconciler: "contract",
      observed: verdict,
      action: `contract version ${current + 1} applied (replicas ${c.durability.replicas})`,
    });
    if (!f.feasible) this.o.log.warn({ problems: f.problems }, "the contract cannot be met");
    return R.array([
      R.bulk(`contract version ${current + 1} applied`),
      R.bulk(
        f.feasible ? "feasible with the nodes present" : `infeasible: ${f.problems.join("; ")}`,
      ),
    ]);
  }

  /** HOMEOSTAT CONTRACT SHOW: the contract in force, its version and feasibility now. */
  contractShow(): Reply {
    const current = currentContract(this.meta.state);
    if (current === undefined) {
      return R.bulk(
        "no contract applied: the cluster runs on its start options " +
          `(replicas ${this.meta.state.settings.replicaTarget}, ` +
          `dead node after ${this.deadNodeAfterMs() / 1000} s)\n`,
      );
    }
    const lines = [
      `# version ${current.version}, applied ${new Date(current.appliedAtMs).toISOString()}`,
    ];
    const contract = this.contractInForce();
    if (contract !== null) {
      const f = checkFeasibility(contract, this.feasibilityNodes());
      lines.push(`# ${f.feasible ? "feasible with the nodes present" : feasibilityVerdict(f)}`);
    }
    return R.bulk(`${lines.join("\n")}\n${current.text}`);
  }

  /** HOMEOSTAT CONTRACT HISTORY: one line per version kept, oldest first. */
  contractHistory(): Reply {
    return R.array(
      this.meta.state.contracts.map((c) =>
        R.bulk(
          `version ${c.version}  applied ${new Date(c.appliedAtMs).toISOString()}  ` +
            `replicas ${c.replicas}  dead node after ${c.deadNodeAfterMs / 1000} s  ` +
            `${Buffer.byteLength(c.text)} bytes`,
        ),
      ),
    );
  }

  /** HOMEOSTAT JOURNAL [AFTER seq]: the decision journal's entries after `after`. */
  journalRows(after: number): Reply {
    return R.array(
      this.meta.state.journal
        .filter((e) => e.seq > after)
        .map((e) =>
          R.bulk(
            `${e.seq}  ${new Date(e.atMs).toISOString()}  ${e.reconciler}  ` +
              `${e.action}  (saw: ${e.observed})`,
          ),
        ),
    );
  }

  /**
   * On the meta leader, each control round: the contract's feasibility against the nodes
   * present; a change (a node came or went) is journaled and logged, so an operator sees
   * when the cluster stops or starts being able to keep its contract.
   */
  private watchFeasibility(now: number): void {
    const current = currentContract(this.meta.state);
    const contract = this.contractInForce();
    if (current === undefined || contract === null) return;
    const nodes = this.feasibilityNodes();
    const f = checkFeasibility(contract, nodes);
    const verdict = feasibilityVerdict(f);
    const key = `${current.version}:${verdict}`;
    if (this.lastFeasibility === null) {
      this.lastFeasibility = key;
      return;
    }
    if (key === this.lastFeasibility) return;
    this.lastFeasibility = key;
    if (f.feasible) this.o.log.info({ version: current.version }, "the contract can be met again");
    else this.o.log.warn({ problems: f.problems }, "the contract can no longer be met");
    this.journal.note({
      atMs: now,
      reconciler: "contract",
      observed: `nodes present: ${nodes.filter((n) => n.alive).length} live`,
      action: `contract version ${current.version} is now ${verdict}`,
    });
  }

  /**
   * The contract in force, parsed (once per version: the meta leader checks it every
   * control round), or null when none is applied.
   */
  private contractInForce(): Contract | null {
    const current = currentContract(this.meta.state);
    if (current === undefined) return null;
    if (this.parsedContract?.version !== current.version) {
      const parsed = parseContract(current.text, "contract");
      // It was validated before it was proposed: a failure here is a newer format.
      this.parsedContract = {
        version: current.version,
        contract: parsed.ok ? parsed.contract : null,
      };
    }
    return this.parsedContract.contract;
  }

  /** Membership's state of each node, by registry node id (absent: unknown to it). */
  private memberStates(): Map<string, MemberState> {
    const states = new Map<string, MemberState>();
    for (const m of this.o.membership.members()) states.set(clusterNodeId(m.id), m.state);
    return states;
  }

  /** Active registered nodes, with membership's view, for the feasibility check. */
  private feasibilityNodes(): { id: string; zone: string; alive: boolean }[] {
    const states = this.memberStates();
    return this.meta
      .nodes()
      .filter((n) => n.status === "active")
      .map((n) => ({ id: n.id, zone: n.zone, alive: states.get(n.id) === "alive" }));
  }

  /**
   * Decommission (HOMEOSTAT REMOVE): marks node `who` (raft id, or node id or a unique
   * prefix of it) "removing"; the controller then moves its replicas and leaderships away
   * (each replica rebuilt elsewhere before the node's is removed), and marks it removed
   * once it holds nothing. Refused when the nodes left could not hold every shard's
   * replica target: data stays at full replication throughout. On a node that does not
   * lead the meta group, asked of the meta leader.
   */
  async removeNode(who: string): Promise<Reply> {
    if (!this.isMetaLeader()) return this.askMetaLeader(["HOMEOSTAT", "REMOVE", who]);
    const nodes = this.meta.nodes();
    const byRaft = /^\d+$/.test(who) ? nodes.filter((n) => n.raftId === Number(who)) : [];
    const matches =
      byRaft.length > 0 ? byRaft : nodes.filter((n) => who.length >= 4 && n.id.startsWith(who));
    if (matches.length !== 1) {
      return R.error(
        matches.length === 0
          ? `ERR no node ${who} (give its raft id or node id, as HOMEOSTAT MEMBERS shows)`
          : `ERR ${who} names ${matches.length} nodes: give more of the node id`,
      );
    }
    const n = matches[0] as RegisteredNode;
    if (n.status === "removed") return R.error(`ERR node ${n.raftId} is already removed`);
    if (n.status === "removing") return R.simple(`OK node ${n.raftId} is already draining`);
    const staying = this.feasibilityNodes().filter((x) => x.alive && x.id !== n.id).length;
    const target = this.meta.state.settings.replicaTarget;
    if (staying < target) {
      return R.error(
        `ERR removing node ${n.raftId} would leave ${staying} nodes for ${target} replicas ` +
          "per shard (live nodes other than it): add a node first",
      );
    }
    const result = await this.proposeMeta({
      kind: "set-node-status",
      id: n.id,
      status: "removing",
    });
    if (!result.ok) return R.error(`ERR cannot remove node ${n.raftId}: ${result.message}`);
    this.o.log.info({ node: n.id, raftId: n.raftId }, "node marked for removal: draining it");
    this.journal.note({
      atMs: Date.now(),
      reconciler: "drain",
      observed: `an operator asked to remove node ${n.raftId}; ${staying} live nodes stay`,
      action: `node ${n.raftId}: removing (its replicas move first)`,
    });
    return R.simple(`OK node ${n.raftId} is draining`);
  }

  // ---- groups ------------------------------------------------------------------------------

  private addShard(
    group: number,
    conf: { voters: number[]; learners: number[] },
    passive = false,
  ): void {
    if (this.runtime.multi.has(group)) return;
    const shard = this.meta.shardMap().shards.find((s) => s.id === group);
    if (shard === undefined) return;
    const machine = this.o.shardMachine(group, shard.slots);
    if (machine === null) return;
    this.runtime.multi.addGroup(group, conf, machine, { passive });
  }

  /** Reopens the stored shards the shard map knows by now (their logs hold their state). */
  private reopenStored(): void {
    const shards = this.meta.shardMap().shards;
    for (const g of this.reopening) {
      if (!shards.some((s) => s.id === g)) continue;
      this.reopening.delete(g);
      // An existing log keeps its own configuration; this one is not used.
      this.addShard(g, { voters: [], learners: [] });
      this.runtime.flushSoon();
    }
  }

  /** A message for a group we do not hold: a leader is adding us to it (newReplicaStart). */
  private onUnknownGroup(group: number): void {
    const until = this.removedGroups.get(group);
    if (until !== undefined && Date.now() < until) return;
    this.removedGroups.delete(group);
    const { conf, passive } = newReplicaStart(this.raftId);
    if (group === metaGroupId) {
      this.runtime.multi.addGroup(metaGroupId, conf, this.meta, { passive });
      return;
    }
    this.addShard(group, conf, passive);
  }

  /** After each flush: drop the groups whose configuration no longer holds us. */
  private afterFlush(): void {
    const multi = this.runtime.multi;
    if (this.reopening.size > 0) this.reopenStored();
    for (const g of replicasToDrop(multi, this.raftId, this.memberOf)) {
      this.removedGroups.set(g, Date.now() + removedGroupQuietMs);
      multi.removeGroup(g);
      this.o.shardRemoved(g);
      this.o.log.info({ group: g }, "removed from a shard: its replica is dropped");
    }
  }

  private onMetaChange(): void {
    // Nothing to cache: lookups read the meta state, which is an immutable value.
  }

  // ---- the controller (meta leader) --------------------------------------------------------

  /** Observations of the groups this node leads (the controller needs a leader's view). */
  private observeLed(): GroupObservation[] {
    const multi = this.runtime.multi;
    const out: GroupObservation[] = [];
    for (const g of multi.groupIds()) {
      const obs = observeGroup(multi, g);
      if (obs !== null && obs.leader === this.raftId) out.push(obs);
    }
    return out;
  }

  /**
   * Every node reports the groups it leads to the meta leader each controller interval,
   * and the meta leader sends each conf change or transfer to the node leading that group:
   * only a leader can propose one, and only a leader knows its learners' progress.
   */
  onControl(data: Uint8Array): void {
    if (this.closed) return;
    let msg: ControlMessage;
    try {
      msg = unpack(data.subarray(1)) as ControlMessage;
    } catch {
      return;
    }
    if (msg.t === "obs" && Array.isArray(msg.groups)) {
      const at = Date.now();
      if (typeof msg.from === "number" && msg.disk !== undefined && msg.disk !== null) {
        this.disks.set(msg.from, { ...msg.disk, at });
      }
      for (const g of msg.groups) {
        const obs: GroupObservation = { ...g, learnerMatch: new Map(g.learnerMatch) };
        const known = this.reported.get(g.group);
        if (known === undefined || known.obs.term <= obs.term)
          this.reported.set(g.group, { obs, at });
      }
    } else if (msg.t === "act" && msg.action !== undefined) {
      this.execute(msg.action);
    }
  }

  /** Where messages PUBLISHed on other nodes go (the node's Pub/Sub); none: dropped. */
  published: ((channel: Buffer, message: Buffer, shard: boolean) => void) | null = null;

  /**
   * A message PUBLISHed on this node, sent once to every other live member, in order per
   * member (the bus stream), not acknowledged: Pub/Sub delivers at most once, and a member
   * that is down misses it, as a Redis Cluster node's subscribers do.
   * Message: magic:u8 channelLength:u32 channel message.
   */
  publishToOthers(channel: Buffer, message: Buffer, shard: boolean): void {
    if (this.closed) return;
    const self = this.o.membership.transport.localAddress;
    const data = Buffer.allocUnsafe(5 + channel.length + message.length);
    data[0] = shard ? spublishMagic : publishMagic;
    data.writeUInt32BE(channel.length, 1);
    channel.copy(data, 5);
    message.copy(data, 5 + channel.length);
    for (const address of this.memberAddresses().byAddress.keys()) {
      if (address !== self) this.o.membership.transport.sendStream(address, data);
    }
  }

  onPublished(data: Uint8Array): void {
    if (this.closed || this.published === null || data.length < 5) return;
    const b = Buffer.from(data.buffer, data.byteOffset, data.length);
    const length = b.readUInt32BE(1);
    if (5 + length > b.length) return;
    // The transport's buffer dies when we return: copy.
    this.published(
      Buffer.from(b.subarray(5, 5 + length)),
      Buffer.from(b.subarray(5 + length)),
      b[0] === spublishMagic,
    );
  }

  private sendControl(to: NodeId, msg: ControlMessage): void {
    const address = this.busAddressOf(to);
    if (address === undefined) return;
    const body = pack(msg);
    const data = new Uint8Array(body.length + 1);
    data[0] = controlMagic;
    data.set(body, 1);
    this.o.membership.transport.sendReliable(address, data).catch(() => {});
  }

  private control(): void {
    if (this.closed || this.meta.clusterId === null) return;
    const led = this.observeLed();
    // Every node keeps the dead-node clock (how long each node has not been alive, as its
    // own membership sees it), so a new meta leader carries on from its own count rather
    // than starting it afresh when it takes over.
    const now = Date.now();
    const liveness = this.memberStates();
    const expired = this.expiredNodes(liveness, now);
    if (!this.isMetaLeader()) {
      const lead = this.runtime.multi.status(metaGroupId)?.lead ?? 0;
      if (lead !== 0) {
        const groups = led.map((g) => ({ ...g, learnerMatch: [...g.learnerMatch] }));
        this.sendControl(lead, { t: "obs", groups, from: this.raftId, disk: this.diskSpace() });
      }
      return;
    }
    const groups = new Map<number, GroupObservation>();
    for (const [g, r] of this.reported) {
      if (now - r.at < 3 * controllerIntervalMs) groups.set(g, r.obs);
      else this.reported.delete(g);
    }
    for (const obs of led) groups.set(obs.group, obs);
    const ctx = this.journalContext(expired, now);
    for (let i = this.inflight.length - 1; i >= 0; i--) {
      const a = this.inflight[i] as Action;
      const g = "group" in a ? a.group : metaGroupId;
      if (actionSettled(a, groups.get(g))) {
        this.inflight.splice(i, 1);
        this.journal.ended(a, "done", ctx, now);
      }
    }
    const actions = plan({
      meta: this.meta.state,
      liveness,
      expired,
      full: this.fullNodes(now),
      groups,
      inflight: this.inflight,
    });
    for (const a of actions) {
      this.execute(a);
      this.journal.decided(a, ctx, now);
    }
    this.watchFeasibility(now);
    const drafts = this.journal.take();
    if (drafts.length > 0) {
      void this.proposeMeta({ kind: "journal", entries: drafts }).then((r) => {
        if (r.ok) return;
        this.o.log.warn(
          { code: r.code, reason: r.message, entries: drafts.length },
          "journal entries lost",
        );
      });
    }
  }

  /** This node's data disk, or null if it cannot be read. */
  private diskSpace(): DiskSpace | null {
    try {
      const s = statfsSync(this.o.dir);
      return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
    } catch {
      return null;
    }
  }

  /** Raft ids of nodes whose recent disk report shows less than fullFreeFraction free. */
  private fullNodes(now: number): Set<number> {
    const own = this.diskSpace();
    if (own !== null) this.disks.set(this.raftId, { ...own, at: now });
    const full = new Set<number>();
    for (const [id, d] of this.disks) {
      if (now - d.at > diskReportTtlMs) this.disks.delete(id);
      else if (d.total > 0 && d.free / d.total < fullFreeFraction) full.add(id);
    }
    return full;
  }

  private journalContext(expired: ReadonlySet<string>, now: number): JournalContext {
    const silentForMs = new Map<string, number>();
    for (const [id, since] of this.notAliveSince) silentForMs.set(id, now - since);
    return {
      meta: this.meta.state,
      expired,
      silentForMs,
      deadNodeAfterMs: this.deadNodeAfterMs(),
    };
  }

  /** The contract's dead-node time once one is applied, else the node's option. */
  private deadNodeAfterMs(): number {
    return (
      currentContract(this.meta.state)?.deadNodeAfterMs ??
      this.o.deadNodeAfterMs ??
      deadNodeAfterMsDefault
    );
  }

  /**
   * Registered nodes not alive for longer than the dead-node time, counted from when this
   * node first saw them so. Every node runs it each control round, so a new meta leader
   * carries on from its own count; a node restarted meanwhile starts afresh, which can only
   * delay a repair, never hasten it.
   */
  private expiredNodes(liveness: ReadonlyMap<string, MemberState>, now: number): Set<string> {
    const expired = new Set<string>();
    const after = this.deadNodeAfterMs();
    for (const n of this.meta.nodes()) {
      if (n.status === "removed" || liveness.get(n.id) === "alive") {
        this.notAliveSince.delete(n.id);
        continue;
      }
      const since = this.notAliveSince.get(n.id);
      if (since === undefined) this.notAliveSince.set(n.id, now);
      else if (now - since >= after) expired.add(n.id);
    }
    return expired;
  }

  private execute(a: Action): void {
    const multi = this.runtime.multi;
    const remote =
      (a.kind === "conf-change" || a.kind === "transfer-leader") && a.at !== this.raftId;
    if (remote && this.isMetaLeader()) {
      this.sendControl(a.at, { t: "act", action: a });
      this.track(a);
      return;
    }
    switch (a.kind) {
      case "conf-change": {
        if (a.at !== this.raftId) return;
        const r = multi.proposeConfChange(a.group, a.change);
        if (r.ok && this.isMetaLeader()) this.track(a);
        else if (!r.ok && !this.isMetaLeader() && passingRefusal(r.reason)) {
          this.proposeConfAgain(a, Date.now() + confRetryForMs);
        }
        break;
      }
      case "transfer-leader":
        if (a.at === this.raftId && multi.transferLeader(a.group, a.to) && this.isMetaLeader()) {
          this.track(a);
        }
        break;
      case "propose":
        this.track(a);
        void this.proposeMeta(a.command).finally(() => this.untrack(a));
        break;
    }
    this.o.log.debug({ action: a.kind, why: a.why }, "controller");
    this.runtime.flushSoon();
  }

  /**
   * A conf change the meta leader sent this node, refused for a passing reason, proposed
   * again every confRetryEveryMs until `until`. The meta leader tracks a remote action
   * from the moment it sends it and hears nothing of a refusal, so without this it waits
   * out the 10 s timeout (track) and plans it again. Under steady writes a learner's
   * match trails the leader's commit index most of the time ("not-caught-up"): the
   * 5-node suite's drain, under a CPU hog beside it, took 10–25 s in some runs instead of
   * 5 s, one `add-voter` timing out once or twice (docs/control.md, "Drain").
   */
  private proposeConfAgain(a: Action & { kind: "conf-change" }, until: number): void {
    setTimeout(() => {
      if (this.closed) return;
      const r = this.runtime.multi.proposeConfChange(a.group, a.change);
      if (r.ok) this.runtime.flushSoon();
      else if (passingRefusal(r.reason) && Date.now() < until) this.proposeConfAgain(a, until);
    }, confRetryEveryMs).unref();
  }

  private track(a: Action): void {
    this.inflight.push(a);
    // Bounded: an action that never settles is forgotten after a while and planned again.
    setTimeout(() => {
      if (!this.inflight.includes(a)) return;
      this.untrack(a);
      if (this.isMetaLeader()) {
        const now = Date.now();
        this.journal.ended(a, "timed out", this.journalContext(new Set(), now), now);
      }
    }, 10_000).unref();
  }

  private untrack(a: Action): void {
    const i = this.inflight.indexOf(a);
    if (i >= 0) this.inflight.splice(i, 1);
  }

  // ---- routing -----------------------------------------------------------------------------

  /** The shard holding `slot`, from the meta group's shard map. */
  shardOf(slot: number): number | null {
    return shardOfSlot(this.meta.shardMap())(slot)?.id ?? null;
  }

  /** The Redis address of a shard's leader: ours when we lead it, else the best we know. */
  leaderOf(group: number): { raftId: NodeId; node: RegisteredNode | undefined } | null {
    const status = this.runtime.multi.status(group);
    let lead = status?.lead ?? 0;
    if (lead === 0) {
      const shard = this.meta.shardMap().shards.find((s) => s.id === group);
      lead = shard?.leader ?? 0;
    }
    if (lead === 0) return null;
    return { raftId: lead, node: this.meta.nodeByRaftId(lead) };
  }

  view(failed: ReadonlySet<number> = new Set()): ClusterView {
    const map: ShardMap = this.meta.shardMap();
    const shards = map.shards.map((s) => {
      const lead = this.runtime.multi.status(s.id)?.lead;
      return lead !== undefined && lead !== 0 ? { ...s, leader: lead } : s;
    });
    return { myself: this.raftId, nodes: this.meta.nodes(), map: { ...map, shards }, failed };
  }

  /** One line per raft group on this node, for HOMEOSTAT GROUPS. */
  groupRows(): string[] {
    const multi = this.runtime.multi;
    return multi.groupIds().map((g) => {
      const st = multi.status(g);
      const raft = multi.raftOf(g);
      const conf = raft?.confState();
      // The log's span and, on a leader, where each peer stands (state:match/next), so a
      // replica that does not catch up can be told from one that is still copying.
      let extra = "";
      if (raft !== undefined && conf !== undefined) {
        extra = ` first=${raft.log.firstIndex()} last=${raft.log.lastIndex()} bytes=${multi.dataBytes(g) ?? 0}`;
        if (raft.state === "leader") {
          const peers = [...conf.voters, ...conf.learners].filter((id) => id !== raft.id);
          const progress = peers.map((id) => {
            const pr = raft.progressOf(id);
            return pr === undefined ? `${id}:none` : `${id}:${pr.state}:${pr.match}/${pr.next}`;
          });
          extra += ` progress=${progress.join(",")}`;
        }
        const s = raft.stats;
        extra += ` snaps-sent=${s.snapshotsSent} snaps-installed=${s.snapshotsInstalled} dropped=${s.droppedStale + s.droppedMalformed + s.droppedUnknownPeer + s.droppedMisaddressed}`;
      }
      return (
        `group=${g} role=${st?.role} lead=${st?.lead} term=${st?.term} commit=${st?.commit} ` +
        `applied=${st?.applied} voters=${conf?.voters.join(",")} learners=${conf?.learners.join(",")}` +
        extra
      );
    });
  }

  /** CLUSTER <subcommand> replies. */
  clusterReply(sub: string): Reply | null {
    const view = this.view(this.failedNodes());
    switch (sub) {
      case "slots":
        return clusterSlots(view);
      case "shards":
        return clusterShards(view);
      case "nodes":
        return clusterNodes(view);
      case "info":
        return clusterInfo(view);
      case "myid":
        return clusterMyId({ ...this.address(), raftId: this.raftId });
      default:
        return null;
    }
  }

  private failedNodes(): Set<number> {
    const failed = new Set<number>();
    const states = this.memberStates();
    for (const n of this.meta.nodes()) {
      const s = states.get(n.id);
      if (n.raftId !== this.raftId && (s === "dead" || s === "left")) failed.add(n.raftId);
    }
    return failed;
  }

  // ---- addresses ---------------------------------------------------------------------------

  /**
   * Where a raft id is now: membership's address for its node (current after a restart
   * on other ports, before the registry can be told: that needs a meta quorum, which
   * may itself need this node's messages), else the registry's, else what its envelopes
   * said.
   */
  private busAddressOf(id: NodeId): string | undefined {
    const n = this.meta.nodeByRaftId(id);
    if (n === undefined) return this.heard.get(id);
    return this.memberAddresses().byNode.get(n.id) ?? formatAddress(n.host, n.busPort);
  }

  private raftIdOf(address: string): NodeId | undefined {
    const node = this.memberAddresses().byAddress.get(address);
    const known = node === undefined ? undefined : this.meta.nodeById(node);
    if (known !== undefined) return known.raftId;
    for (const n of this.meta.nodes()) {
      if (formatAddress(n.host, n.busPort) === address) return n.raftId;
    }
    for (const [id, a] of this.heard) if (a === address) return id;
    return undefined;
  }

  /** Live members' bus addresses by registry node id and back, rebuilt every second. */
  private memberAddresses(): { byNode: Map<string, string>; byAddress: Map<string, string> } {
    const now = Date.now();
    const c = this.addressCache;
    if (c !== null && now - c.at < memberAddressesTtlMs) return c;
    const byNode = new Map<string, string>();
    const byAddress = new Map<string, string>();
    for (const m of this.o.membership.members()) {
      if (m.state === "dead" || m.state === "left") continue;
      const id = clusterNodeId(m.id);
      byNode.set(id, m.address);
      byAddress.set(m.address, id);
    }
    this.addressCache = { at: now, byNode, byAddress };
    return this.addressCache;
  }

  /** Waits until `done()` or the deadline (then throws). */
  private async until(done: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error("timed out waiting for the cluster");
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /**
   * Before a clean stop: moves every leadership this node holds to another live voter of
   * its group (raft's leader transfer: the target is brought up to date, then campaigns
   * at once), until it leads nothing or `timeoutMs` has passed. Returns how many
   * leaderships moved and how many it still holds.
   * Without it, each group it led would wait out an election timeout (1-2 s) after the
   * stop with no leader, every write to it paused. The controller stops planning here
   * first, so that it moves nothing back; another node's would only after a round.
   */
  async handOver(timeoutMs = handOverMs): Promise<{ moved: number; kept: number }> {
    if (this.controllerTimer !== null) clearInterval(this.controllerTimer);
    this.controllerTimer = null;
    const multi = this.runtime.multi;
    const led = () => multi.groupIds().filter((g) => multi.leads(g));
    const first = led().length;
    const deadline = Date.now() + timeoutMs;
    // One target per group, kept while it is alive: a new target restarts a transfer.
    const targets = new Map<number, number>();
    for (;;) {
      const groups = led();
      if (groups.length === 0 || Date.now() > deadline || this.closed) {
        return { moved: first - groups.length, kept: groups.length };
      }
      const states = this.memberStates();
      const alive = (id: number) => {
        const n = this.meta.nodeByRaftId(id);
        return n !== undefined && states.get(n.id) === "alive";
      };
      let transferring = 0;
      for (const g of groups) {
        const raft = multi.raftOf(g);
        if (raft === undefined) continue;
        let to = targets.get(g) ?? 0;
        if (to === 0 || !alive(to)) {
          // The live voter furthest along: the shortest catch-up before it campaigns.
          to = 0;
          let best = -1;
          for (const id of raft.confState().voters) {
            const match = raft.progressOf(id)?.match ?? -1;
            if (id !== this.raftId && alive(id) && match > best) [to, best] = [id, match];
          }
        }
        if (to === 0) continue;
        targets.set(g, to);
        if (multi.transferLeader(g, to)) transferring += 1;
      }
      // Nothing can move (a one-node cluster, no other voter alive): no need to wait.
      if (transferring === 0) return { moved: first - groups.length, kept: groups.length };
      this.runtime.flushSoon();
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.controllerTimer !== null) clearInterval(this.controllerTimer);
    this.runtime.close();
    await this.o.onClose?.();
    await this.logs.close();
  }
}

/** Redis node ids are 40 hex digits; membership's may be shorter (older data folders). */
export function clusterNodeId(memberId: string): string {
  return memberId.length >= 40 ? memberId.slice(0, 40) : memberId.padEnd(40, "0");
}

function loadRaftId(dir: string): NodeId | null {
  try {
    const id = Number.parseInt(readFileSync(join(dir, "raft-id"), "utf8").trim(), 10);
    return Number.isSafeInteger(id) && id > 0 ? id : null;
  } catch {
    return null;
  }
}

function saveRaftId(dir: string, id: NodeId): void {
  writeFileSync(join(dir, "raft-id"), `${id}\n`);
}

/**
 * Asks the cluster for a raft id: registers this node through its seeds (HOMEOSTAT
 * REGISTER), following the meta leader they name. A node joining for the first time gives up after about 30 s (its start
 * fails and says so); with `stopped`, a restarted node re-registering tries until it
 * succeeds or `stopped()` says the node is shutting down.
 */
async function register(o: ClusterOptions, stopped?: () => boolean): Promise<NodeId> {
  const me = {
    id: clusterNodeId(o.membership.id),
    host: o.host,
    port: o.port,
    busPort: o.busPort,
    zone: o.zone,
    redirectPort: o.redirectPort,
  };
  const args = [
    "HOMEOSTAT",
    "REGISTER",
    me.id,
    me.host,
    String(me.port),
    String(me.busPort),
    me.zone,
    // Only a port of its own: a meta leader of the version before takes 7 arguments.
    ...(hasOwnRedirectPort(me) ? [String(me.redirectPort)] : []),
  ];
  let targets = [...o.seeds];
  const attemptsMax = stopped === undefined ? 60 : Number.POSITIVE_INFINITY;
  for (let attempt = 0; attempt < attemptsMax; attempt++) {
    if (stopped?.() === true) throw new Error("the node is shutting down");
    for (const seed of targets) {
      const t = parseAddress(seed);
      if (t === null) continue;
      try {
        const reply =
          o.password === ""
            ? await call(t, args)
            : ((await callAll(t, [["AUTH", o.password], args]))[1] as Reply);
        if (reply.kind === "integer") return Number(reply.value);
        const text = "value" in reply ? String(reply.value) : "";
        const m = /^TRYAGAIN meta leader at (\S+)$/.exec(text);
        if (m !== null) {
          targets = [m[1] as string, ...o.seeds];
          break;
        }
        o.log.debug({ seed, reply: text }, "registration not accepted yet");
      } catch (err) {
        o.log.debug({ seed, err: String(err) }, "seed unreachable for registration");
      }
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error("could not register with the cluster through any seed");
}

/**
 * The placement controller: runs on the meta group's leader and decides, from the meta
 * state, membership's view of the nodes and each group's observed raft status, what to do
 * next. plan() is a pure function (STYLE.md §1): it returns actions; the server carries
 * them out (raft conf changes and leader transfers on the groups' leaders, meta commands
 * on the meta leader), observes the result, and plans again. A plan is a small step, never
 * a whole migration: every action is re-derived from what was observed after the last one.
 *
 * What it does:
 *
 *   - records what happened. When a shard's observed voters, learners or leader differ from
 *     the shard map, it proposes record-shard-change for the first difference, with the map's
 *     epoch as compare-and-set precondition (so two controllers — an old leader's plan
 *     committed late and a new leader's — never interleave) and the observation's index and
 *     term (so a late report cannot undo a newer one). A plan's records are numbered from
 *     the current epoch on (epoch, epoch + 1, ...): proposed in order on one leader they
 *     apply in order; if one fails, the rest fail their precondition and are replanned.
 *   - places replicas and leaders with shard-map.ts's planPlacement: every shard gets
 *     min(replicaTarget, live active nodes) voters spread over zones and nodes, leaders
 *     spread evenly. Each shard gets at most one action per plan, and only once its map
 *     entry agrees with what was observed and nothing is in flight for it. A new replica is
 *     a learner first and is promoted only once the leader reports it caught up (its match
 *     at least the commit index, raft's own rule).
 *   - bounds the work: at most settings.confChangesMax (K) shards are mid-change at once —
 *     a shard is mid-change while it has a learner, more voters than the target, a change
 *     not yet recorded, or a conf change in flight. Shards already mid-change are finished
 *     first; a new change (a learner added to a settled shard) waits for a free slot.
 *     Leader transfers and records take no slot. The meta group is not counted: its image
 *     is small, raft allows it one change at a time, and its repair must never wait
 *     behind shard moves.
 *   - keeps the meta group's own voters: min(settings.metaVoters, active nodes), spread over
 *     zones, sticky (a voter stays while it is active and not dead or left), with a dead
 *     voter replaced only when a live node can take its place: the newcomer is added as a
 *     learner (every node already is one), promoted once caught up, and only then the dead
 *     voter removed; no voter is removed or demoted unless a majority of the voters left is
 *     alive. A leader that is no longer wanted as voter hands its leadership over first.
 *     Every other active node is kept as a meta learner (so it has the shard map), up to
 *     raft's membersMax members.
 *   - finishes a graceful removal: once a node marked "removing" holds no replica and no
 *     meta vote, it proposes set-node-status removed, then drops it from the meta group.
 *
 *   - repairs: a node that has not been alive for longer than the dead-node time
 *     (PlanInput.expired) is treated as a node being removed: each shard it holds gets a
 *     learner on a live node, promoted once caught up, and only then the dead voter is
 *     removed — the same steps, bounds and quorum checks as any move. The node keeps its
 *     registry entry: if it comes back it is live again and placement may use it.
 *
 * A shard with a voter on an active node that is not alive (suspect, dead, left, or
 * unknown to membership) and has not expired is frozen: it gets no action and is left
 * out of the placement (its replicas do not count in the nodes' loads) until that node
 * is alive again or expires. Learners on such nodes are removed (they hold no vote; their
 * catch-up would never end).
 */
import type { MemberState } from "../membership/types.js";
import { membersMax } from "../raft/config.js";
import type { ConfChange } from "../raft/types.js";
import {
  type MetaCommand,
  type MetaState,
  metaGroupId,
  nodeByRaftId,
  type RegisteredNode,
  type ShardChange,
} from "./meta.js";
import type { MultiRaft } from "./multi-raft.js";
import { type ClusterNode, type PlacementStep, planPlacement, type Shard } from "./shard-map.js";

// ---- types -------------------------------------------------------------------------------

/**
 * One group's raft status as a replica reports it — its leader's, whenever possible: only
 * the leader knows its learners' progress. observeGroup builds one from a MultiRaft host.
 */
export interface GroupObservation {
  readonly group: number;
  /** The leader's raft id as the reporter knows it; 0 while unknown. */
  readonly leader: number;
  /** The reporter's term. */
  readonly term: number;
  /** The reporter's applied index: `voters` and `learners` are the configuration as of it. */
  readonly applied: number;
  /** The reporter's commit index. */
  readonly commit: number;
  readonly voters: readonly number[];
  readonly learners: readonly number[];
  /** Each learner's match index, as the leader tracks it; empty from a non-leader. */
  readonly learnerMatch: ReadonlyMap<number, number>;
  /** The shard's data bytes on the reporter (MultiRaft.dataBytes); absent if unknown. */
  readonly bytes?: number;
}

export interface PlanInput {
  readonly meta: MetaState;
  /**
   * Membership's view, by node id (ClusterNode.id). A node missing here is unknown: it is
   * not live (nothing is placed on it) but not dead either (a meta voter on it stays).
   */
  readonly liveness: ReadonlyMap<string, MemberState>;
  /**
   * Nodes (ClusterNode.id) that have not been alive for longer than the dead-node time:
   * their replicas are rebuilt on live nodes. A node not alive for less is only down: the
   * shards it holds are left alone, so a short absence moves no data. The caller keeps the
   * time (plan is pure). Empty or absent: no node has expired.
   */
  readonly expired?: ReadonlySet<string>;
  /**
   * Raft ids of nodes whose disks are nearly full: they get no new replica (no move, no
   * repair copy onto them); the replicas they hold stay. Absent: none.
   */
  readonly full?: ReadonlySet<number>;
  /** The freshest observation of each group: the shards and metaGroupId. */
  readonly groups: ReadonlyMap<number, GroupObservation>;
  /**
   * Actions issued by earlier plans that have not settled yet: a conf change or transfer
   * until actionSettled says so, its proposal is refused, or it times out; a proposal until
   * MetaMachine.expect settles it. A group with an action in flight gets no new one.
   */
  readonly inflight: readonly Action[];
}

/**
 * One thing to do, with the reason (for the decision journal). `group` is the raft group it
 * concerns (metaGroupId for the meta group and for proposals about nodes and meta voters).
 */
export type Action =
  /** MultiRaft.proposeConfChange(group, change) on node `at`, the group's leader. */
  | {
      readonly kind: "conf-change";
      readonly group: number;
      readonly at: number;
      readonly change: ConfChange;
      readonly why: string;
    }
  /** MultiRaft.transferLeader(group, to) on node `at`, the group's leader. */
  | {
      readonly kind: "transfer-leader";
      readonly group: number;
      readonly at: number;
      readonly to: number;
      readonly why: string;
    }
  /**
   * MultiRaft.propose(metaGroupId, encodeMetaCommand(command)) on the meta leader, in the
   * order the plan lists them (records are numbered by epoch).
   */
  | {
      readonly kind: "propose";
      readonly group: number;
      readonly command: MetaCommand;
      readonly why: string;
    };

/**
 * Records one plan proposes at most. Each is a meta proposal; the rest follow in the next
 * plan, so a storm of leader changes cannot flood the meta log in one go.
 */
export const recordsPerPlanMax = 64;

// ---- helpers for the server --------------------------------------------------------------

/**
 * The observation of `group` on a MultiRaft host, or null if it has no replica of it.
 * Learners' progress is known only when this replica leads.
 */
export function observeGroup(
  host: Pick<MultiRaft, "status" | "raftOf"> & Partial<Pick<MultiRaft, "dataBytes">>,
  group: number,
): GroupObservation | null {
  const status = host.status(group);
  const raft = host.raftOf(group);
  if (status === null || raft === undefined) return null;
  const conf = raft.confState();
  const learnerMatch = new Map<number, number>();
  for (const id of conf.learners) {
    const match = raft.progressOf(id)?.match;
    if (match !== undefined) learnerMatch.set(id, match);
  }
  return {
    group,
    leader: status.lead,
    term: status.term,
    applied: status.applied,
    commit: status.commit,
    voters: [...conf.voters],
    learners: [...conf.learners],
    learnerMatch,
    ...bytesOf(host, group),
  };
}

function bytesOf(host: Partial<Pick<MultiRaft, "dataBytes">>, group: number): { bytes?: number } {
  const bytes = host.dataBytes?.(group);
  return bytes === null || bytes === undefined ? {} : { bytes };
}

/**
 * Whether a conf change or transfer has taken effect in `observation` (then it is no
 * longer in flight). Proposals settle through MetaMachine.expect instead: always false.
 */
export function actionSettled(action: Action, observation: GroupObservation | undefined): boolean {
  if (action.kind === "propose" || observation === undefined) return false;
  if (action.kind === "transfer-leader") return observation.leader === action.to;
  const { type, node } = action.change;
  const voter = observation.voters.includes(node);
  const learner = observation.learners.includes(node);
  if (type === "add-voter") return voter;
  if (type === "add-learner") return learner;
  return !voter && !learner;
}

// ---- planning ----------------------------------------------------------------------------

/** What every part of a plan reads: the input and the lookups derived from it. */
interface Context {
  readonly input: PlanInput;
  readonly meta: MetaState;
  /** Groups with an action in flight. */
  readonly busy: ReadonlySet<number>;
}

function node(ctx: Context, raftId: number): RegisteredNode | undefined {
  return nodeByRaftId(ctx.meta, raftId);
}

/** Registered, not removed, and alive in membership: may receive replicas and votes. */
function alive(ctx: Context, raftId: number): boolean {
  const n = node(ctx, raftId);
  return n !== undefined && n.status !== "removed" && ctx.input.liveness.get(n.id) === "alive";
}

/** Unregistered, removed, or dead or left in membership: will not come back by itself. */
function gone(ctx: Context, raftId: number): boolean {
  const n = node(ctx, raftId);
  if (n === undefined || n.status === "removed") return true;
  const state = ctx.input.liveness.get(n.id);
  return state === "dead" || state === "left";
}

function majority(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

function liveCount(ctx: Context, ids: readonly number[]): number {
  return ids.filter((id) => alive(ctx, id)).length;
}

function caughtUp(o: GroupObservation, learner: number): boolean {
  const match = o.learnerMatch.get(learner);
  return match !== undefined && match >= o.commit;
}

/** Promoting one more live voter keeps a live majority (so the group can still commit). */
function promoteSafe(ctx: Context, o: GroupObservation): boolean {
  return liveCount(ctx, o.voters) + 1 >= majority(o.voters.length + 1);
}

/** Removing (or demoting) voter `v` leaves a live majority among the voters left. */
function removeSafe(ctx: Context, o: GroupObservation, v: number): boolean {
  const liveAfter = liveCount(ctx, o.voters) - (alive(ctx, v) ? 1 : 0);
  return o.voters.length > 1 && liveAfter >= majority(o.voters.length - 1);
}

const ascending = (a: number, b: number): number => a - b;

function sameSet(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((x) => set.has(x));
}

/**
 * The actions to take now; [] when the cluster is where it should be. Deterministic: the
 * same input gives the same actions, in the order they must be carried out.
 */
export function plan(input: PlanInput): Action[] {
  if (input.meta.clusterId === null) return [];
  const ctx: Context = {
    input,
    meta: input.meta,
    busy: new Set(input.inflight.map((a) => a.group)),
  };
  return [...planMeta(ctx), ...planShards(ctx)];
}

// ---- the meta group ----------------------------------------------------------------------

/** One meta action at most: the meta group takes one conf change at a time anyway. */
function planMeta(ctx: Context): Action[] {
  if (ctx.busy.has(metaGroupId)) return [];
  const stored = ctx.meta.metaVoters;
  const desired = desiredMetaVoters(ctx);
  if (desired.length > 0 && !sameSet(desired, stored)) {
    return [
      {
        kind: "propose",
        group: metaGroupId,
        command: { kind: "set-meta-voters", from: stored, to: desired },
        why: `meta voters [${stored.join(", ")}] should be [${desired.join(", ")}]`,
      },
    ];
  }
  const conf = metaConfAction(ctx);
  if (conf !== null) return [conf];
  const drained = drainedNode(ctx);
  return drained === null ? [] : [drained];
}

/**
 * Who should vote in the meta group: min(settings.metaVoters, active nodes) nodes. The
 * current voters stay while active and not gone; free seats go to live active nodes in a
 * zone not yet represented first, then by raft id; a voter whose zone another voter
 * shares gives way to a live node of an unrepresented zone; a gone voter is kept when no
 * live node can replace it (a seat left empty would not make the group any safer).
 */
function desiredMetaVoters(ctx: Context): number[] {
  const { meta } = ctx;
  const active = meta.nodes.filter((n) => n.status === "active");
  const size = Math.min(meta.settings.metaVoters, active.length);
  const zone = (id: number): string => node(ctx, id)?.zone ?? "";
  const leader = ctx.input.groups.get(metaGroupId)?.leader ?? 0;
  const chosen = meta.metaVoters.filter(
    (id) => node(ctx, id)?.status === "active" && !gone(ctx, id),
  );
  while (chosen.length > size) {
    chosen.splice(chosen.indexOf(pickLeaving(chosen, zone, leader)), 1);
  }
  const candidates = active.map((n) => n.raftId).filter((id) => alive(ctx, id));
  const newZoneFirst = (list: readonly number[]) => {
    const zones = new Set(list.map(zone));
    const spare = candidates.filter((id) => !list.includes(id));
    return spare.find((id) => !zones.has(zone(id))) ?? spare[0];
  };
  while (chosen.length < size) {
    const id = newZoneFirst(chosen);
    if (id === undefined) break;
    chosen.push(id);
  }
  for (let guard = size; guard > 0; guard--) {
    const zones = new Set(chosen.map(zone));
    const arrival = candidates.find((id) => !chosen.includes(id) && !zones.has(zone(id)));
    const crowded = chosen.filter((id) => chosen.some((o) => o !== id && zone(o) === zone(id)));
    if (arrival === undefined || crowded.length === 0) break;
    chosen[chosen.indexOf(pickLeaving(crowded, zone, leader))] = arrival;
  }
  for (const id of meta.metaVoters) {
    if (chosen.length >= size) break;
    if (!chosen.includes(id) && node(ctx, id)?.status === "active") chosen.push(id);
  }
  return chosen.sort(ascending);
}

/** Of `ids`, the one to give up a seat: sharing a zone, then not the leader, then highest id. */
function pickLeaving(ids: readonly number[], zone: (id: number) => string, leader: number): number {
  const shared = (id: number): number => Number(ids.some((o) => o !== id && zone(o) === zone(id)));
  const sorted = [...ids].sort(
    (a, b) => shared(b) - shared(a) || Number(a === leader) - Number(b === leader) || b - a,
  );
  return sorted[0] as number;
}

/**
 * The next conf change (or transfer) that takes the meta group's configuration toward
 * the desired voters, plus every other node as a learner; null when there is none to make.
 * Order: desired voters join (as learners, then promoted once caught up); only when all
 * of them vote do unwanted voters go (dead ones first; the leader hands over first); then
 * learners are added for nodes that lack one and removed for nodes that were removed.
 */
function metaConfAction(ctx: Context): Action | null {
  const o = ctx.input.groups.get(metaGroupId);
  if (o === undefined || o.leader === 0 || !o.voters.includes(o.leader)) return null;
  const at = o.leader;
  const act = (change: ConfChange, why: string): Action => ({
    kind: "conf-change",
    group: metaGroupId,
    at,
    change,
    why,
  });
  const desired = ctx.meta.metaVoters;
  const members = o.voters.length + o.learners.length;
  let promoting = false;
  for (const d of desired) {
    if (o.voters.includes(d)) continue;
    promoting = true;
    if (!o.learners.includes(d)) {
      if (alive(ctx, d) && members < membersMax) {
        return act({ type: "add-learner", node: d }, `meta voter-to-be ${d} is not a learner yet`);
      }
    } else if (caughtUp(o, d) && promoteSafe(ctx, o)) {
      return act({ type: "add-voter", node: d }, `meta voter-to-be ${d} has caught up`);
    }
  }
  if (!promoting) {
    const leaving = o.voters
      .filter((v) => !desired.includes(v))
      .sort((a, b) => Number(gone(ctx, b)) - Number(gone(ctx, a)) || a - b);
    for (const v of leaving) {
      if (v === at) {
        const to = desired.find((d) => d !== at && alive(ctx, d));
        if (to === undefined) continue;
        return {
          kind: "transfer-leader",
          group: metaGroupId,
          at,
          to,
          why: `meta leader ${at} is no longer a desired voter`,
        };
      }
      if (!removeSafe(ctx, o, v)) continue;
      const status = node(ctx, v)?.status;
      if (!gone(ctx, v) && status !== undefined && status !== "removed") {
        return act({ type: "add-learner", node: v }, `meta voter ${v} is not desired: demoted`);
      }
      return act({ type: "remove", node: v }, `meta voter ${v} is not desired and gone`);
    }
  }
  return metaLearnerAction(ctx, o, act);
}

function metaLearnerAction(
  ctx: Context,
  o: GroupObservation,
  act: (change: ConfChange, why: string) => Action,
): Action | null {
  const members = new Set([...o.voters, ...o.learners]);
  if (members.size < membersMax) {
    for (const n of ctx.meta.nodes) {
      if (n.status === "removed" || members.has(n.raftId) || !alive(ctx, n.raftId)) continue;
      return act(
        { type: "add-learner", node: n.raftId },
        `node ${n.raftId} follows the meta group`,
      );
    }
  }
  for (const id of [...o.learners].sort(ascending)) {
    const status = node(ctx, id)?.status;
    if (status === undefined || status === "removed") {
      return act({ type: "remove", node: id }, `meta learner ${id} is no registered node`);
    }
  }
  return null;
}

/** set-node-status removed for the first "removing" node that holds nothing any more. */
function drainedNode(ctx: Context): Action | null {
  const metaConf = ctx.input.groups.get(metaGroupId);
  for (const n of ctx.meta.nodes) {
    if (n.status !== "removing") continue;
    const id = n.raftId;
    if (ctx.meta.metaVoters.includes(id) || metaConf?.voters.includes(id)) continue;
    const holds = ctx.meta.shardMap.shards.some(
      (s) => s.replicas.includes(id) || s.learners.includes(id),
    );
    if (holds) continue;
    return {
      kind: "propose",
      group: metaGroupId,
      command: { kind: "set-node-status", id: n.id, status: "removed" },
      why: `node ${id} is drained: it holds no replica and no meta vote`,
    };
  }
  return null;
}

// ---- the shards --------------------------------------------------------------------------

/** A shard as the controller sees it this plan. */
interface ShardView {
  readonly shard: Shard;
  /** Its observation, if there is one at least as new as what the map recorded. */
  readonly o: GroupObservation | undefined;
  /** The first observed membership change the map has not recorded, or null. */
  readonly change: ShardChange | null;
  /** An observed leader the map has not recorded (a voter), or null. */
  readonly leader: number | null;
  /** A voter on an active node that is not alive: left alone (see the module comment). */
  readonly frozen: boolean;
  /** Mid-change: takes one of the K slots. */
  occupied: boolean;
}

function planShards(ctx: Context): Action[] {
  const { meta } = ctx;
  const liveNodes: ClusterNode[] = meta.nodes.filter(
    (n) => n.status === "active" && alive(ctx, n.raftId),
  );
  const r = Math.min(meta.settings.replicaTarget, liveNodes.length);
  const views = meta.shardMap.shards.map((shard) => viewOf(ctx, shard, r));
  const actions = recordActions(ctx, views);
  const recorded = new Set(actions.map((a) => a.group));
  if (r === 0) return actions;
  const planning = views
    .filter((v) => !v.frozen)
    .map((v): Shard => {
      const leader = v.o !== undefined && v.shard.replicas.includes(v.o.leader) ? v.o.leader : null;
      return { ...v.shard, leader: leader ?? v.shard.leader };
    });
  const shardBytes = new Map<number, number>();
  for (const v of views) if (v.o?.bytes !== undefined) shardBytes.set(v.shard.id, v.o.bytes);
  // No size reported at all (an older node, a test's observations): counts alone, exactly
  // as before sizes existed.
  const steps = planPlacement(
    liveNodes,
    { epoch: meta.shardMap.epoch, shards: planning },
    meta.settings.replicaTarget,
    { stepsMax: Number.MAX_SAFE_INTEGER, ...(shardBytes.size > 0 ? { shardBytes } : {}) },
  );
  const first = new Map<number, PlacementStep>();
  for (const step of steps) if (!first.has(step.shard)) first.set(step.shard, step);
  const byId = new Map(views.map((v) => [v.shard.id, v]));
  const leads = leaderCounts(views);
  // While a node is down but not yet dead (a frozen shard), its shards are left out of the
  // placement and the loads are skewed: new copies would be moved back once it returns.
  // Only repairs (a shard below its target) copy data until then.
  const holdBalance = views.some((v) => v.frozen);
  let slots = meta.settings.confChangesMax - views.filter((v) => v.occupied && !v.frozen).length;
  // Shards mid-change first, so moves under way finish before new ones start.
  const order = [...first.values()].sort(
    (a, b) => Number(byId.get(b.shard)?.occupied) - Number(byId.get(a.shard)?.occupied),
  );
  for (const step of order) {
    const v = byId.get(step.shard) as ShardView;
    if (recorded.has(v.shard.id) || ctx.busy.has(v.shard.id)) continue;
    const action = stepAction(ctx, v, step, slots > 0, leads, holdBalance ? r : 0);
    if (action === null) continue;
    if (action.kind === "conf-change" && !v.occupied) {
      v.occupied = true;
      slots--;
    }
    actions.push(action);
  }
  return actions;
}

/** Shards each node leads, as observed (or recorded where there is no observation). */
function leaderCounts(views: readonly ShardView[]): Map<number, number> {
  const leads = new Map<number, number>();
  for (const v of views) {
    const leader = v.o !== undefined && v.o.leader !== 0 ? v.o.leader : v.shard.leader;
    if (leader !== null) leads.set(leader, (leads.get(leader) ?? 0) + 1);
  }
  return leads;
}

function viewOf(ctx: Context, shard: Shard, r: number): ShardView {
  const mark = ctx.meta.marks.get(shard.id) ?? { index: 0, term: 0 };
  const observed = ctx.input.groups.get(shard.id);
  const o = observed !== undefined && observed.applied >= mark.index ? observed : undefined;
  const change = o === undefined ? null : firstChange(shard, o);
  const leader =
    o !== undefined &&
    change === null &&
    o.term >= mark.term &&
    o.leader !== 0 &&
    o.leader !== shard.leader &&
    shard.replicas.includes(o.leader)
      ? o.leader
      : null;
  const frozen = shard.replicas.some((id) => {
    const n = node(ctx, id);
    if (n === undefined) return true;
    return n.status === "active" && !alive(ctx, id) && !(ctx.input.expired?.has(n.id) ?? false);
  });
  const inflightConf = ctx.input.inflight.some(
    (a) => a.group === shard.id && a.kind === "conf-change",
  );
  const occupied =
    inflightConf ||
    change !== null ||
    shard.learners.length > 0 ||
    (o?.learners.length ?? 0) > 0 ||
    shard.replicas.length > r;
  return { shard, o, change, leader, frozen, occupied };
}

/**
 * The first membership change that takes the map's record of `shard` toward what `o`
 * shows, or null if they agree: promotions, then additions (a new voter is recorded as a
 * learner first, then promoted), then removals — so the record never loses its last voter.
 */
function firstChange(shard: Shard, o: GroupObservation): ShardChange | null {
  const voters = new Set(o.voters);
  const learners = new Set(o.learners);
  const recorded = new Set([...shard.replicas, ...shard.learners]);
  for (const id of [...shard.learners].sort(ascending)) {
    if (voters.has(id)) return { kind: "promote", node: id };
  }
  for (const id of [...o.learners, ...o.voters].sort(ascending)) {
    if (!recorded.has(id)) return { kind: "add-learner", node: id };
  }
  for (const id of [...shard.learners].sort(ascending)) {
    if (!learners.has(id)) return { kind: "remove", node: id };
  }
  for (const id of [...shard.replicas].sort(ascending)) {
    if (!voters.has(id)) return { kind: "remove", node: id };
  }
  return null;
}

/** Records of observed changes, numbered by epoch; none while an earlier one is in flight. */
function recordActions(ctx: Context, views: readonly ShardView[]): Action[] {
  const recordInFlight = ctx.input.inflight.some(
    (a) => a.kind === "propose" && a.command.kind === "record-shard-change",
  );
  if (recordInFlight) return [];
  const actions: Action[] = [];
  let epoch = ctx.meta.shardMap.epoch;
  for (const v of views) {
    if (actions.length >= recordsPerPlanMax) break;
    const o = v.o;
    if (o === undefined || ctx.busy.has(v.shard.id)) continue;
    const change: ShardChange | null =
      v.change ?? (v.leader !== null ? { kind: "leader", node: v.leader } : null);
    if (change === null) continue;
    actions.push({
      kind: "propose",
      group: v.shard.id,
      command: {
        kind: "record-shard-change",
        expectedEpoch: epoch,
        shard: v.shard.id,
        change,
        observedIndex: o.applied,
        observedTerm: o.term,
      },
      why: `shard ${v.shard.id} was observed with ${change.kind} ${change.node} at index ${o.applied}`,
    });
    epoch++;
  }
  return actions;
}

/**
 * The leader of `v` is to lose its replica: it hands leadership first to the live voter on
 * an active node that leads the fewest shards (then the lowest raft id). planPlacement
 * leaves this out when the leader's node is not among the placement's nodes — it expects
 * a dead leader to be replaced by an election — but a node being drained is alive and
 * leads until told otherwise.
 */
function handOver(
  ctx: Context,
  v: ShardView,
  o: GroupObservation,
  leads: Map<number, number>,
): Action | null {
  const candidates = o.voters.filter(
    (id) => id !== o.leader && alive(ctx, id) && node(ctx, id)?.status === "active",
  );
  const to = candidates.sort((a, b) => (leads.get(a) ?? 0) - (leads.get(b) ?? 0) || a - b)[0];
  if (to === undefined) return null;
  leads.set(to, (leads.get(to) ?? 0) + 1);
  leads.set(o.leader, (leads.get(o.leader) ?? 0) - 1);
  return {
    kind: "transfer-leader",
    group: v.shard.id,
    at: o.leader,
    to,
    why: `shard ${v.shard.id} gives up its leader's node ${o.leader}: leadership moves first`,
  };
}

/**
 * The action for a shard's next placement step, or null if it must wait: its record is
 * behind, its leader unknown, the learner not caught up, quorum would be at risk, or it
 * would start a new change with no slot free (`slotFree`).
 */
function stepAction(
  ctx: Context,
  v: ShardView,
  step: PlacementStep,
  slotFree: boolean,
  leads: Map<number, number>,
  /** > 0: balance is on hold; only a shard with fewer live voters than this gains a copy. */
  repairsOnlyBelow: number,
): Action | null {
  const o = v.o;
  if (v.frozen || o === undefined || v.change !== null || v.leader !== null) return null;
  if (o.leader === 0 || !o.voters.includes(o.leader)) return null;
  const group = v.shard.id;
  const at = o.leader;
  const conf = (change: ConfChange, why: string): Action => ({
    kind: "conf-change",
    group,
    at,
    change,
    why,
  });
  switch (step.kind) {
    case "transfer-leader":
      return {
        kind: "transfer-leader",
        group,
        at,
        to: step.to,
        why: `spread leaders: shard ${group} moves from node ${at} to ${step.to}`,
      };
    case "promote":
      if (!caughtUp(o, step.node) || !promoteSafe(ctx, o)) return null;
      return conf(
        { type: "add-voter", node: step.node },
        `learner ${step.node} of shard ${group} has caught up`,
      );
    case "add-learner":
      if (!v.occupied && !slotFree) return null;
      if (repairsOnlyBelow > 0 && liveCount(ctx, o.voters) >= repairsOnlyBelow) return null;
      if (ctx.input.full?.has(step.node) === true) return null;
      return conf(
        { type: "add-learner", node: step.node },
        `shard ${group} wants a replica on node ${step.node}`,
      );
    case "remove": {
      const voter = o.voters.includes(step.node);
      if (voter && step.node === at) return handOver(ctx, v, o, leads);
      if (voter && !removeSafe(ctx, o, step.node)) return null;
      if (!v.occupied && !slotFree) return null;
      return conf({ type: "remove", node: step.node }, `shard ${group} gives up node ${step.node}`);
    }
  }
}

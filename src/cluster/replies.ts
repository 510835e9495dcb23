/**
 * The replies of Redis Cluster's discovery commands and redirections, in Redis 7's exact
 * shapes and texts, built from the shard map: what cluster-aware clients (ioredis cluster
 * mode, node-redis, redis-py, Jedis, Lettuce, redis-cli -c) read to route keys.
 *
 * How raft shards map onto Redis's masters and replicas
 * -----------------------------------------------------
 * Redis Cluster has one master per shard, each node in exactly one shard. Homeostat has
 * one raft group per shard, and a node is a member of many groups, leading some. So:
 *
 *   - A raft shard is a Redis shard. Its master is its raft leader; its replicas are its
 *     other voters. While it has no known live leader (an election is running, or the
 *     leader's node failed), its first live voter by raft id stands in as master, so its
 *     slots stay covered: clients that check coverage (redis-py does by default) keep
 *     working through an election, and the stand-in forwards to whoever wins. Learners
 *     (replicas still catching up) are left out of CLUSTER SLOTS, so no client reads from
 *     them, and shown in CLUSTER SHARDS with health "loading", as Redis shows a replica
 *     still syncing. A shard with no voter in the registry serves nothing: its slots are
 *     unassigned.
 *   - CLUSTER SLOTS and CLUSTER SHARDS are exact per shard: one entry per shard's slot
 *     range, master first. A node is thus master of the shards it leads and replica of
 *     others. Redis never reports that, but clients route per slot range: ioredis keeps,
 *     per slot, the address list of its entry and sends writes to the first one, and when
 *     a node appears both as master and as replica its connection pool keeps it as a
 *     master (ConnectionPool.reset; test/cluster/replies.test.ts drives that code).
 *   - CLUSTER NODES must give each node one line and one role. A node leading at least
 *     one shard is a `master` owning the slots of every shard it leads (or stands in
 *     for); a node leading none is a `slave` of the master of the lowest-id shard it votes
 *     in (else learns in); a node in no shard is a master without slots, as a new empty
 *     Redis master is. The slots each line claims agree with CLUSTER SLOTS, which is what
 *     clients that route from CLUSTER NODES (Lettuce, redis-cli --cluster) read. Clients
 *     use the replica relation only to pick nodes for reads (after READONLY), and any
 *     node answers any key by forwarding to the shard's leader.
 *   - Failover is raft's business, not the client's: a replica is never promoted by a
 *     client command, and after an election the new leader shows up as master in the
 *     next CLUSTER SLOTS; a client that wrote to the old one got MOVED (or was forwarded).
 *
 * Endpoints: a ClusterNode has one `host`, an IP address or a name. It is the preferred
 * endpoint everywhere (CLUSTER SLOTS's first field, SHARDS's `endpoint`, MOVED) and
 * SHARDS's `ip`; when it is a name, it is also reported as `hostname` (SHARDS, and NODES's
 * `,hostname` suffix), as Redis 7 does for a node announcing one.
 */
import { array, bulk, error, integer, map, verbatim } from "../resp/reply.js";
import type { Reply } from "../resp/types.js";
import {
  type ClusterNode,
  redirectPortOf,
  type Shard,
  type ShardMap,
  type SlotRange,
} from "./shard-map.js";
import { keyHashSlot, SLOT_COUNT } from "./slots.js";

/** What a node knows of the cluster when it answers a CLUSTER command. */
export interface ClusterView {
  /** The raft id of the node answering (the `myself` flag). */
  readonly myself: number;
  /** The node registry. */
  readonly nodes: readonly ClusterNode[];
  readonly map: ShardMap;
  /** Raft ids of nodes membership holds as failed (dead): flagged `fail`, never masters. */
  readonly failed?: ReadonlySet<number>;
  /** A replica's replication offset (its applied index in the shard's log); default 0. */
  readonly offset?: (shard: number, raftId: number) => number;
}

/** Health of a shard, in Redis's words for a master's slots. */
type SlotHealth =
  /** Its raft leader is known and live. */
  | "ok"
  /** No live leader, but a majority of its voters is live: an election will settle it. */
  | "pfail"
  /** A majority of its voters failed: it cannot elect a leader until they come back. */
  | "fail";

/** A shard as clients are shown it. */
interface Served {
  readonly shard: Shard;
  /** Sorted, in ascending slot order. */
  readonly slots: readonly SlotRange[];
  readonly master: ClusterNode;
  /** Its other voters in the registry, by raft id. */
  readonly replicas: readonly ClusterNode[];
  /** Its learners in the registry, by raft id. */
  readonly learners: readonly ClusterNode[];
  readonly health: SlotHealth;
}

const noFailures: ReadonlySet<number> = new Set();

function failedOf(view: ClusterView): ReadonlySet<number> {
  return view.failed ?? noFailures;
}

function byRaftId(a: ClusterNode, b: ClusterNode): number {
  return a.raftId - b.raftId;
}

/** The shards with at least one voter in the registry, in ascending order of first slot. */
function servedShards(view: ClusterView): Served[] {
  const failed = failedOf(view);
  const byId = new Map(view.nodes.map((n) => [n.raftId, n]));
  const known = (ids: readonly number[]) => ids.flatMap((id) => byId.get(id) ?? []).sort(byRaftId);
  const served: Served[] = [];
  for (const shard of view.map.shards) {
    const voters = known(shard.replicas);
    if (voters.length === 0) continue;
    const live = voters.filter((n) => !failed.has(n.raftId));
    const leader = voters.find((n) => n.raftId === shard.leader && !failed.has(n.raftId));
    const master = leader ?? live[0] ?? (voters[0] as ClusterNode);
    const health: SlotHealth =
      leader !== undefined ? "ok" : live.length * 2 > shard.replicas.length ? "pfail" : "fail";
    served.push({
      shard,
      slots: [...shard.slots].sort((a, b) => a[0] - b[0]),
      master,
      replicas: voters.filter((n) => n !== master),
      learners: known(shard.learners),
      health,
    });
  }
  const firstSlot = (s: Served) => s.slots[0]?.[0] ?? SLOT_COUNT + s.shard.id;
  return served.sort((a, b) => firstSlot(a) - firstSlot(b));
}

function isIpLiteral(host: string): boolean {
  return host.includes(":") || /^\d{1,3}(\.\d{1,3}){3}$/.test(host);
}

/** The node's host name, or "" when its host is an IP address. */
function hostnameOf(node: ClusterNode): string {
  return isIpLiteral(node.host) ? "" : node.host;
}

function slotCount(ranges: readonly SlotRange[]): number {
  let n = 0;
  for (const [start, end] of ranges) n += end - start + 1;
  return n;
}

/** Ranges sorted and with touching ones joined: 0-99 and 100-199 become 0-199. */
function mergedRanges(ranges: readonly SlotRange[]): SlotRange[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [start, end] of sorted) {
    const last = merged[merged.length - 1];
    if (last !== undefined && start <= last[1] + 1) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return merged;
}

// ---- CLUSTER SLOTS -----------------------------------------------------------------------

/** A node as CLUSTER SLOTS lists it: endpoint, port, id, and a map of other endpoints. */
function slotsNode(node: ClusterNode): Reply {
  // Redis 7 adds the endpoints that are not the preferred one ("ip", "hostname") in this
  // map; a ClusterNode has only one, so it is empty (RESP2 `*0`, RESP3 `%0`, as Redis).
  return array([bulk(node.host), integer(redirectPortOf(node)), bulk(node.id), map([])]);
}

/**
 * CLUSTER SLOTS: one entry per contiguous slot range, `[start, end, master, ...replicas]`
 * in slot order, replicas on failed nodes left out (as Redis leaves out failed replicas).
 * Touching ranges served by the same nodes are joined, as Redis joins a master's ranges.
 */
export function clusterSlots(view: ClusterView): Reply {
  const failed = failedOf(view);
  const entries: { start: number; end: number; nodes: ClusterNode[] }[] = [];
  const ranges = servedShards(view).flatMap((s) => {
    const nodes = [s.master, ...s.replicas.filter((n) => !failed.has(n.raftId))];
    return s.slots.map(([start, end]) => ({ start, end, nodes }));
  });
  ranges.sort((a, b) => a.start - b.start);
  for (const r of ranges) {
    const last = entries[entries.length - 1];
    const same =
      last !== undefined &&
      last.end + 1 === r.start &&
      last.nodes.length === r.nodes.length &&
      last.nodes.every((n, i) => n === r.nodes[i]);
    if (same) last.end = r.end;
    else entries.push({ ...r });
  }
  return array(
    entries.map((e) => array([integer(e.start), integer(e.end), ...e.nodes.map(slotsNode)])),
  );
}

// ---- CLUSTER SHARDS ----------------------------------------------------------------------

type ShardRole = "master" | "replica" | "learner";

/** A node as CLUSTER SHARDS describes it, with Redis 7's keys in Redis 7's order. */
function shardsNode(view: ClusterView, s: Served, node: ClusterNode, role: ShardRole): Reply {
  const failed = failedOf(view).has(node.raftId);
  const fields: [string, Reply][] = [
    ["id", bulk(node.id)],
    ["port", integer(redirectPortOf(node))],
    ["ip", bulk(node.host)],
    ["endpoint", bulk(node.host)],
  ];
  const hostname = hostnameOf(node);
  if (hostname !== "") fields.push(["hostname", bulk(hostname)]);
  fields.push(
    ["role", bulk(role === "master" ? "master" : "replica")],
    ["replication-offset", integer(view.offset?.(s.shard.id, node.raftId) ?? 0)],
    ["health", bulk(failed ? "fail" : role === "learner" ? "loading" : "online")],
  );
  return map(fields.map(([k, v]) => [bulk(k), v] as const));
}

/**
 * CLUSTER SHARDS (Redis 7): per shard, a map of "slots" (flat start, end, start, end...)
 * and "nodes" (master, then replicas, then learners, each a map).
 */
export function clusterShards(view: ClusterView): Reply {
  return array(
    servedShards(view).map((s) => {
      const slots = s.slots.flatMap(([start, end]) => [integer(start), integer(end)]);
      const nodes = [
        shardsNode(view, s, s.master, "master"),
        ...s.replicas.map((n) => shardsNode(view, s, n, "replica")),
        ...s.learners.map((n) => shardsNode(view, s, n, "learner")),
      ];
      return map([
        [bulk("slots"), array(slots)],
        [bulk("nodes"), array(nodes)],
      ]);
    }),
  );
}

// ---- CLUSTER NODES -----------------------------------------------------------------------

/** Each node's one role for CLUSTER NODES: the slots it masters, or whom it replicates. */
interface NodeRole {
  readonly slots: SlotRange[];
  /** The master it is shown replicating, or null for a master. */
  readonly masterOf: ClusterNode | null;
}

function nodeRoles(view: ClusterView, served: readonly Served[]): Map<number, NodeRole> {
  const slots = new Map<number, SlotRange[]>();
  for (const s of served) {
    const list = slots.get(s.master.raftId);
    if (list === undefined) slots.set(s.master.raftId, [...s.slots]);
    else list.push(...s.slots);
  }
  const byShardId = [...served].sort((a, b) => a.shard.id - b.shard.id);
  const roles = new Map<number, NodeRole>();
  for (const node of view.nodes) {
    const own = slots.get(node.raftId);
    if (own !== undefined) {
      roles.set(node.raftId, { slots: mergedRanges(own), masterOf: null });
      continue;
    }
    const host =
      byShardId.find((s) => s.replicas.includes(node)) ??
      byShardId.find((s) => s.learners.includes(node));
    roles.set(node.raftId, { slots: [], masterOf: host?.master ?? null });
  }
  return roles;
}

/** One line of CLUSTER NODES, its "\n" included. */
function nodesLine(view: ClusterView, node: ClusterNode, role: NodeRole): string {
  const failed = failedOf(view).has(node.raftId);
  const flags = [
    ...(node.raftId === view.myself ? ["myself"] : []),
    role.masterOf === null ? "master" : "slave",
    ...(failed ? ["fail"] : []),
  ].join(",");
  const hostname = hostnameOf(node);
  const address = `${node.host}:${redirectPortOf(node)}@${node.busPort}${hostname === "" ? "" : `,${hostname}`}`;
  const master = role.masterOf === null ? "-" : role.masterOf.id;
  // ping-sent and pong-recv are wall-clock times Redis's bus keeps per peer; this pure
  // view has none, and clients do not route by them: 0 as Redis shows for a fresh peer.
  const link = failed ? "disconnected" : "connected";
  const slots = role.slots.map(([start, end]) =>
    start === end ? ` ${start}` : ` ${start}-${end}`,
  );
  return `${node.id} ${address} ${flags} ${master} 0 0 ${view.map.epoch} ${link}${slots.join("")}\n`;
}

/**
 * CLUSTER NODES: one line per node, `<id> <ip:port@cport[,hostname]> <flags> <master>
 * <ping-sent> <pong-recv> <config-epoch> <link-state> <slot>...`, each ending in "\n", as
 * a verbatim string (RESP3) or a bulk string (RESP2), as Redis 7 sends it. Nodes in raft
 * id order. The config epoch of every node is the shard map's epoch.
 */
export function clusterNodes(view: ClusterView): Reply {
  const roles = nodeRoles(view, servedShards(view));
  const lines = [...view.nodes]
    .sort(byRaftId)
    .map((n) => nodesLine(view, n, roles.get(n.raftId) as NodeRole));
  return verbatim(lines.join(""));
}

// ---- CLUSTER INFO ------------------------------------------------------------------------

/** Cluster bus traffic counters, if the caller keeps them. */
export interface ClusterStats {
  readonly messagesSent: number;
  readonly messagesReceived: number;
}

/**
 * CLUSTER INFO with Redis 7's fields, in its order, as "field:value\r\n" lines. A slot is
 * ok when its shard has a live leader, pfail while a live majority elects one, and fail
 * when its shard lost a majority of its voters; the state is `ok` when every slot is
 * assigned and none is in fail, as Redis with cluster-require-full-coverage. cluster_size
 * counts the masters serving slots in CLUSTER NODES; both epochs are the map's epoch.
 */
export function clusterInfo(view: ClusterView, stats?: ClusterStats): Reply {
  const served = servedShards(view);
  const slotsIn = (health: SlotHealth) =>
    served.filter((s) => s.health === health).reduce((n, s) => n + slotCount(s.slots), 0);
  const assigned = served.reduce((n, s) => n + slotCount(s.slots), 0);
  const failing = slotsIn("fail");
  const masters = new Set(served.filter((s) => s.slots.length > 0).map((s) => s.master.raftId));
  const fields: [string, string | number][] = [
    ["cluster_state", assigned === SLOT_COUNT && failing === 0 ? "ok" : "fail"],
    ["cluster_slots_assigned", assigned],
    ["cluster_slots_ok", slotsIn("ok")],
    ["cluster_slots_pfail", slotsIn("pfail")],
    ["cluster_slots_fail", failing],
    ["cluster_known_nodes", view.nodes.length],
    ["cluster_size", masters.size],
    ["cluster_current_epoch", view.map.epoch],
    ["cluster_my_epoch", view.map.epoch],
    ["cluster_stats_messages_sent", stats?.messagesSent ?? 0],
    ["cluster_stats_messages_received", stats?.messagesReceived ?? 0],
    ["total_cluster_links_buffer_limit_exceeded", 0],
  ];
  return verbatim(fields.map(([k, v]) => `${k}:${v}\r\n`).join(""));
}

// ---- small replies and errors ------------------------------------------------------------

/** CLUSTER KEYSLOT key: the key's hash slot. */
export function clusterKeyslot(key: Uint8Array): Reply {
  return integer(keyHashSlot(key));
}

/** CLUSTER MYID: this node's 40-character id. */
export function clusterMyId(node: ClusterNode): Reply {
  return bulk(node.id);
}

/**
 * The cluster errors Redis sends, in its exact words: clients match on the first word
 * (ioredis: MOVED, ASK, TRYAGAIN, CLUSTERDOWN) and some on the whole text.
 */
export const CLUSTER_ERRORS = {
  CROSSSLOT: {
    message: "CROSSSLOT Keys in request don't hash to the same slot",
    meaning: "A multi-key command named keys in different hash slots; use hash tags.",
  },
  TRYAGAIN: {
    message: "TRYAGAIN Multiple keys request during rehashing of slot",
    meaning:
      "A multi-key command's slot is being moved between shards; the client retries shortly.",
  },
  CLUSTERDOWN: {
    message: "CLUSTERDOWN The cluster is down",
    meaning: "Some slots are unassigned or their shard lost a majority; nothing is served.",
  },
  CLUSTERDOWN_READONLY: {
    message: "CLUSTERDOWN The cluster is down and only accepts read commands",
    meaning: "The cluster is down but still answers reads; the command was a write.",
  },
  CLUSTERDOWN_UNBOUND: {
    message: "CLUSTERDOWN Hash slot not served",
    meaning: "The key's slot belongs to no shard with a replica.",
  },
} as const;

/**
 * `MOVED <slot> <host>:<port>`: the slot is served by that node; the client sends the
 * command there and refreshes its slot table. The port is the node's redirect port, as in
 * the slot map (a client that follows MOVED is cluster-aware). The host is printed bare
 * even when it is an IPv6 address, as Redis does (clients split at the last ':').
 */
export function moved(
  slot: number,
  node: Pick<ClusterNode, "host" | "port" | "redirectPort">,
): Reply {
  return error(`MOVED ${slot} ${node.host}:${redirectPortOf(node)}`);
}

export function crossSlot(): Reply {
  return error(CLUSTER_ERRORS.CROSSSLOT.message);
}

export function tryAgain(): Reply {
  return error(CLUSTER_ERRORS.TRYAGAIN.message);
}

/**
 * CLUSTERDOWN: "down" when the cluster serves nothing, "readonly" when it serves only
 * reads, "unbound" when the key's slot has no shard.
 */
export function clusterDown(reason: "down" | "readonly" | "unbound" = "down"): Reply {
  const entry =
    reason === "down"
      ? CLUSTER_ERRORS.CLUSTERDOWN
      : reason === "readonly"
        ? CLUSTER_ERRORS.CLUSTERDOWN_READONLY
        : CLUSTER_ERRORS.CLUSTERDOWN_UNBOUND;
  return error(entry.message);
}

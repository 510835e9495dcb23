/**
 * The shard map: which raft group (shard) owns which hash slots, and which nodes hold its
 * replicas. The meta group stores it and the node registry (encoded here); every node
 * routes with it (shardOfSlot), answers CLUSTER SLOTS/SHARDS/NODES from it (replies.ts),
 * and the placement reconciler changes it one raft conf change at a time (planPlacement).
 *
 * Everything here is a pure function of its arguments: the same map and nodes give the
 * same index, the same problems and the same plan on every node and in the simulator.
 */
import { ByteReader, ByteWriter, DecodeError, readText, writeText } from "../core/bytes.js";
import { lowerBound } from "../core/sorted.js";
import { zoneBytesMax } from "../membership/codec.js";
import type { DecodeResult } from "../raft/codec.js";
import { SLOT_COUNT } from "./slots.js";

// ---- types -------------------------------------------------------------------------------

/** One machine of the cluster, as the node registry records it and clients are told. */
export interface ClusterNode {
  /** Its Redis node id: 40 lowercase hex characters (CLUSTER MYID, NODES, SLOTS). */
  readonly id: string;
  /** Its id inside every raft group it is a member of (a u32, never 0: raft's "none"). */
  readonly raftId: number;
  /** Where clients reach it: an IP address or a host name. */
  readonly host: string;
  /** Its Redis (RESP) port. */
  readonly port: number;
  /** Its cluster bus port, shown as `@cport` in CLUSTER NODES. */
  readonly busPort: number;
  /**
   * Its Redis port for cluster-aware clients, the one the slot map and MOVED name: every
   * connection there is answered MOVED for a slot another node leads, where one on `port`
   * is forwarded (docs/cluster.md, "Two ports for clients"). Absent: `port` (a registry
   * written before it existed).
   */
  readonly redirectPort?: number;
  /** Failure domain, as membership advertises it; "" when unknown. */
  readonly zone: string;
}

/** Hash slots start..end, both included. */
export type SlotRange = readonly [start: number, end: number];

export interface Shard {
  /** Its raft group id. */
  readonly id: number;
  /** The slots it owns, as inclusive ranges. */
  readonly slots: readonly SlotRange[];
  /** The raft ids of its voters. */
  readonly replicas: readonly number[];
  /** The raft ids of its learners: replicas catching up, not yet voting. */
  readonly learners: readonly number[];
  /** The raft id of its leader as last reported, or null while unknown. */
  readonly leader: number | null;
}

export interface ShardMap {
  /** Bumped by every change: a node keeps the map with the highest epoch it has seen. */
  readonly epoch: number;
  readonly shards: readonly Shard[];
}

const u32Max = 0xffff_ffff;
const nodeIdPattern = /^[0-9a-f]{40}$/;
/**
 * Voters and learners of one shard. Every write goes to each of them, so real groups
 * have 3 or 5 voters; 32 leaves room to replace all voters of a 7-voter group by
 * learners at once, and bounds what a decoder accepts.
 */
export const shardMembersMax = 32;
/** A DNS name is at most 253 bytes; an IPv6 literal with a zone id is far shorter. */
export const hostBytesMax = 255;
/** Nodes in the registry (a u16 count): far above the thousands membership is built for. */
export const nodesMax = 0xffff;
/** The first shard id initialShards uses: group 0 is left to the meta group. */
export const firstShardId = 1;

// ---- building and looking up -------------------------------------------------------------

/**
 * `count` shards covering all slots in contiguous ranges whose sizes differ by at most
 * one (the first SLOT_COUNT % count shards get the extra slot), with ids from `firstId`
 * and no replicas yet.
 */
export function initialShards(count: number, firstId = firstShardId): Shard[] {
  if (!Number.isInteger(count) || count < 1 || count > SLOT_COUNT) {
    throw new RangeError(`shard count must be 1..${SLOT_COUNT}, not ${count}`);
  }
  if (!Number.isInteger(firstId) || firstId < 0 || firstId + count - 1 > u32Max) {
    throw new RangeError(`shard ids from ${firstId} are not u32s`);
  }
  const base = Math.floor(SLOT_COUNT / count);
  const extra = SLOT_COUNT % count;
  const shards: Shard[] = [];
  let start = 0;
  for (let i = 0; i < count; i++) {
    const size = base + (i < extra ? 1 : 0);
    shards.push({
      id: firstId + i,
      slots: [[start, start + size - 1]],
      replicas: [],
      learners: [],
      leader: null,
    });
    start += size;
  }
  return shards;
}

/**
 * Slot → index into map.shards (-1: no shard), built once per map object. A map is an
 * immutable value, so the index is cached by identity; weakly, so it dies with the map.
 */
const slotIndexes = new WeakMap<ShardMap, Int32Array>();

function slotIndex(map: ShardMap): Int32Array {
  let index = slotIndexes.get(map);
  if (index !== undefined) return index;
  index = new Int32Array(SLOT_COUNT).fill(-1);
  map.shards.forEach((shard, i) => {
    for (const [start, end] of shard.slots) {
      index.fill(i, Math.max(0, start), Math.min(SLOT_COUNT - 1, end) + 1);
    }
  });
  slotIndexes.set(map, index);
  return index;
}

/**
 * A lookup from slot to the shard that owns it (null: no shard does), O(1) a call: every
 * keyed command routes through it. Meant for validated maps; in a map with overlapping
 * ranges the later shard wins.
 */
export function shardOfSlot(map: ShardMap): (slot: number) => Shard | null {
  const index = slotIndex(map);
  return (slot) => {
    const i = index[slot];
    return i === undefined || i < 0 ? null : (map.shards[i] as Shard);
  };
}

// ---- validation --------------------------------------------------------------------------

function rangeText(start: number, end: number): string {
  return start === end ? `slot ${start}` : `slots ${start}-${end}`;
}

function isU32Id(v: number): boolean {
  return Number.isInteger(v) && v >= 1 && v <= u32Max;
}

/** Bytes `s` takes in UTF-8, without allocating for the usual ASCII. */
function utf8Bytes(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/**
 * What is wrong with a node registry, one sentence per problem ([] when nothing is).
 * Hosts may not contain spaces, commas or `@`: CLUSTER NODES prints `host:port@cport`
 * in a space-separated line, and such a host would corrupt every client's parse.
 */
export function validateNodes(nodes: readonly ClusterNode[]): string[] {
  const problems: string[] = [];
  if (nodes.length > nodesMax) problems.push(`${nodes.length} nodes exceed ${nodesMax}`);
  const ids = new Set<string>();
  const raftIds = new Set<number>();
  const addresses = new Set<string>();
  for (const n of nodes) {
    const who = `node ${n.id}`;
    if (!nodeIdPattern.test(n.id)) problems.push(`${who}: id is not 40 lowercase hex characters`);
    else if (ids.has(n.id)) problems.push(`${who}: id is used twice`);
    ids.add(n.id);
    if (!isU32Id(n.raftId)) problems.push(`${who}: raft id ${n.raftId} is not a u32 above 0`);
    else if (raftIds.has(n.raftId)) problems.push(`${who}: raft id ${n.raftId} is used twice`);
    raftIds.add(n.raftId);
    if (n.host === "" || utf8Bytes(n.host) > hostBytesMax || /[\s,@]/.test(n.host)) {
      problems.push(`${who}: host "${n.host}" is empty, too long or has a space, ',' or '@'`);
    }
    const ports: [string, number][] = [
      ["port", n.port],
      ["bus port", n.busPort],
    ];
    if (n.redirectPort !== undefined) ports.push(["redirect port", n.redirectPort]);
    for (const [name, port] of ports) {
      if (!Number.isInteger(port) || port < 1 || port > 0xffff) {
        problems.push(`${who}: ${name} ${port} is not 1..65535`);
      }
    }
    const address = `${n.host}:${n.port}`;
    if (addresses.has(address)) problems.push(`${who}: address ${address} is used twice`);
    addresses.add(address);
    if (utf8Bytes(n.zone) > zoneBytesMax)
      problems.push(`${who}: zone exceeds ${zoneBytesMax} bytes`);
  }
  return problems;
}

/**
 * What is wrong with a shard map given the node registry, one precise sentence per
 * problem ([] when nothing is): bad ids and ranges, overlapping ranges, slots no shard
 * owns, members that are not registered nodes or are listed twice, a leader that is not a
 * voter. A shard without replicas is not a problem: it is not placed yet.
 */
export function validateShardMap(map: ShardMap, nodes: readonly ClusterNode[]): string[] {
  const problems: string[] = [];
  if (!Number.isSafeInteger(map.epoch) || map.epoch < 0) {
    problems.push(`epoch ${map.epoch} is not a non-negative safe integer`);
  }
  const known = new Set(nodes.map((n) => n.raftId));
  const shardIds = new Set<number>();
  /** Per slot: index of the first shard claiming it, and of a second (overlap), or -1. */
  const owner = new Int32Array(SLOT_COUNT).fill(-1);
  const second = new Int32Array(SLOT_COUNT).fill(-1);
  map.shards.forEach((shard, i) => {
    const who = `shard ${shard.id}`;
    if (!Number.isInteger(shard.id) || shard.id < 0 || shard.id > u32Max) {
      problems.push(`${who}: id is not a u32`);
    } else if (shardIds.has(shard.id)) problems.push(`${who}: id is used twice`);
    shardIds.add(shard.id);
    for (const [start, end] of shard.slots) {
      if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || start > end) {
        problems.push(`${who}: range ${start}-${end} is not a range of slots`);
        continue;
      }
      if (end >= SLOT_COUNT) {
        problems.push(`${who}: range ${start}-${end} goes past slot ${SLOT_COUNT - 1}`);
        continue;
      }
      for (let s = start; s <= end; s++) {
        if (owner[s] === -1) owner[s] = i;
        else if (second[s] === -1) second[s] = i;
      }
    }
    problems.push(...memberProblems(shard, known));
  });
  problems.push(...coverageProblems(map, owner, second));
  return problems;
}

function memberProblems(shard: Shard, known: ReadonlySet<number>): string[] {
  const problems: string[] = [];
  const who = `shard ${shard.id}`;
  const members = shard.replicas.length + shard.learners.length;
  if (members > shardMembersMax)
    problems.push(`${who}: ${members} members exceed ${shardMembersMax}`);
  /** Each id once, however often it is listed. */
  const reported = new Set<number>();
  for (const [role, list] of [
    ["replica", shard.replicas],
    ["learner", shard.learners],
  ] as const) {
    for (const id of list) {
      if (reported.has(id)) continue;
      reported.add(id);
      if (!known.has(id)) problems.push(`${who}: ${role} ${id} is not a known node`);
      if (role === "replica" && shard.learners.includes(id)) {
        problems.push(`${who}: node ${id} is both a replica and a learner`);
      }
      if (list.indexOf(id) !== list.lastIndexOf(id)) {
        problems.push(`${who}: ${role} ${id} is listed more than once`);
      }
    }
  }
  if (shard.leader !== null && !shard.replicas.includes(shard.leader)) {
    problems.push(`${who}: leader ${shard.leader} is not one of its replicas`);
  }
  return problems;
}

/** Runs of slots claimed twice, and of slots nobody claims, as one sentence per run. */
function coverageProblems(map: ShardMap, owner: Int32Array, second: Int32Array): string[] {
  const problems: string[] = [];
  let start = 0;
  for (let s = 1; s <= SLOT_COUNT; s++) {
    if (s < SLOT_COUNT && owner[s] === owner[start] && second[s] === second[start]) continue;
    const a = owner[start] as number;
    const b = second[start] as number;
    if (a === -1) problems.push(`${rangeText(start, s - 1)} belong to no shard`);
    else if (b !== -1) {
      const ida = (map.shards[a] as Shard).id;
      const idb = (map.shards[b] as Shard).id;
      problems.push(`${rangeText(start, s - 1)} belong to both shard ${ida} and shard ${idb}`);
    }
    start = s;
  }
  return problems;
}

// ---- codec -------------------------------------------------------------------------------
//
// shardmap = version:u8 epoch:u64 count:u32 shard{count}
// shard    = id:u32 ranges:u16 (start:u16 end:u16){ranges}
//            replicas:u8 raftId:u32{replicas} learners:u8 raftId:u32{learners}
//            leader:u32 (0: unknown; raft ids are never 0)
// nodes    = version:u8 count:u16 node{count}
// node     = id:20 bytes (the 40 hex digits) raftId:u32 host:str8 port:u16 busPort:u16
//            zone:str8 redirectPort:u16 (version 2; version 1, written while no node
//            has a redirect port of its own, has none: the port)
// str8     = length:u8 UTF-8 bytes
//
// Decoding checks the encoding — bounds, counts, ranges inside the key space, no zero
// raft ids, nothing trailing — so the result is well-typed; whether the map is coherent
// (overlaps, gaps, unknown nodes) is validateShardMap's question, asked by whoever
// installs it. Encoding data that cannot be decoded back is a programmer error: it throws.

export const shardMapCodecVersion = 1;
export const nodesCodecVersion = 2;

/** The port a node's slot-map entries and MOVED replies name (ClusterNode.redirectPort). */
export function redirectPortOf(n: Pick<ClusterNode, "port" | "redirectPort">): number {
  return n.redirectPort ?? n.port;
}

/**
 * Whether `n` has a redirect port of its own: one that is its Redis port is none, left out
 * of the registry and written in the encodings of the version before (version 1).
 */
export function hasOwnRedirectPort(n: Pick<ClusterNode, "port" | "redirectPort">): boolean {
  return redirectPortOf(n) !== n.port;
}

function writeIds(w: ByteWriter, ids: readonly number[]): void {
  w.u8(ids.length);
  for (const id of ids) {
    if (!isU32Id(id)) throw new RangeError(`raft id ${id} is not a u32 above 0`);
    w.u32(id);
  }
}

function readIds(r: ByteReader, max: number): number[] {
  const count = r.u8();
  if (count > max) throw new DecodeError("too many shard members");
  const ids: number[] = [];
  for (let i = 0; i < count; i++) {
    const id = r.u32();
    if (id === 0) throw new DecodeError("raft id 0");
    ids.push(id);
  }
  return ids;
}

export function encodeShardMap(map: ShardMap): Uint8Array {
  if (map.shards.length > SLOT_COUNT) throw new RangeError("more shards than slots");
  const w = new ByteWriter(16 + map.shards.length * 40);
  w.u8(shardMapCodecVersion);
  w.u64(map.epoch);
  w.u32(map.shards.length);
  for (const shard of map.shards) {
    w.u32(shard.id);
    w.u16(shard.slots.length);
    for (const [start, end] of shard.slots) {
      if (!(start <= end && end < SLOT_COUNT)) throw new RangeError(`bad range ${start}-${end}`);
      w.u16(start);
      w.u16(end);
    }
    if (shard.replicas.length + shard.learners.length > shardMembersMax) {
      throw new RangeError(`shard ${shard.id} has more than ${shardMembersMax} members`);
    }
    writeIds(w, shard.replicas);
    writeIds(w, shard.learners);
    w.u32(shard.leader ?? 0);
  }
  return w.done();
}

export function decodeShardMap(bytes: Uint8Array): DecodeResult<ShardMap> {
  try {
    const r = new ByteReader(bytes);
    if (r.u8() !== shardMapCodecVersion) throw new DecodeError("unknown shard map version");
    const epoch = r.u64();
    const count = r.u32();
    if (count > SLOT_COUNT) throw new DecodeError("more shards than slots");
    const shards: Shard[] = [];
    /** Disjoint ranges cannot outnumber the slots: bounds the work on a lying input. */
    let rangesLeft = SLOT_COUNT;
    for (let i = 0; i < count; i++) {
      const id = r.u32();
      const rangeCount = r.u16();
      if (rangeCount > rangesLeft) throw new DecodeError("more slot ranges than slots");
      rangesLeft -= rangeCount;
      const slots: SlotRange[] = [];
      for (let j = 0; j < rangeCount; j++) {
        const start = r.u16();
        const end = r.u16();
        if (start > end || end >= SLOT_COUNT) throw new DecodeError("bad slot range");
        slots.push([start, end]);
      }
      const replicas = readIds(r, shardMembersMax);
      const learners = readIds(r, shardMembersMax - replicas.length);
      const leader = r.u32();
      shards.push({ id, slots, replicas, learners, leader: leader === 0 ? null : leader });
    }
    if (r.remaining !== 0) throw new DecodeError("trailing bytes");
    return { ok: true, value: { epoch, shards } };
  } catch (e) {
    if (e instanceof DecodeError) return { ok: false, error: e.message };
    throw e;
  }
}

const nodeIdBytes = 20;

export function encodeNodes(nodes: readonly ClusterNode[]): Uint8Array {
  if (nodes.length > nodesMax) throw new RangeError(`more than ${nodesMax} nodes`);
  const w = new ByteWriter(3 + nodes.length * 48);
  // Version 1 while no node has a redirect port of its own: a node of the version before
  // reads it (encodeMetaCommand says why).
  const version = nodes.some(hasOwnRedirectPort) ? nodesCodecVersion : 1;
  w.u8(version);
  w.u16(nodes.length);
  for (const n of nodes) {
    if (!nodeIdPattern.test(n.id)) throw new RangeError(`node id ${n.id} is not 40 hex digits`);
    for (let i = 0; i < nodeIdBytes; i++) w.u8(Number.parseInt(n.id.slice(i * 2, i * 2 + 2), 16));
    if (!isU32Id(n.raftId)) throw new RangeError(`raft id ${n.raftId} is not a u32 above 0`);
    w.u32(n.raftId);
    writeText(w, n.host, hostBytesMax, "host");
    w.u16(n.port);
    w.u16(n.busPort);
    writeText(w, n.zone, zoneBytesMax, "zone");
    if (version >= 2) w.u16(redirectPortOf(n));
  }
  return w.done();
}

export function decodeNodes(bytes: Uint8Array): DecodeResult<ClusterNode[]> {
  try {
    const r = new ByteReader(bytes);
    const version = r.u8();
    if (version !== nodesCodecVersion && version !== 1) {
      throw new DecodeError("unknown node registry version");
    }
    const count = r.u16();
    const nodes: ClusterNode[] = [];
    for (let i = 0; i < count; i++) {
      let id = "";
      for (const b of r.bytesOf(nodeIdBytes)) id += b.toString(16).padStart(2, "0");
      const raftId = r.u32();
      if (raftId === 0) throw new DecodeError("raft id 0");
      const host = readText(r, hostBytesMax, "host");
      const port = r.u16();
      const busPort = r.u16();
      const zone = readText(r, zoneBytesMax, "zone");
      const node = { id, raftId, host, port, busPort, zone };
      const redirectPort = version === 1 ? port : r.u16();
      nodes.push(hasOwnRedirectPort({ port, redirectPort }) ? { ...node, redirectPort } : node);
    }
    if (r.remaining !== 0) throw new DecodeError("trailing bytes");
    return { ok: true, value: nodes };
  } catch (e) {
    if (e instanceof DecodeError) return { ok: false, error: e.message };
    throw e;
  }
}

// ---- placement ---------------------------------------------------------------------------

/**
 * One change to one shard: a raft conf change (add-learner, promote, remove) or a leader
 * transfer. `node` and `to` are raft ids.
 */
export type PlacementStep =
  | {
      readonly kind: "add-learner" | "promote" | "remove";
      readonly shard: number;
      readonly node: number;
    }
  | { readonly kind: "transfer-leader"; readonly shard: number; readonly to: number };

export interface PlacementOptions {
  /**
   * Most steps in one plan (default placementStepsMaxDefault). The reconciler carries a
   * plan out and then plans again from the map its steps produced, so a longer plan would
   * only go stale before it is done; repairs come first, so a bound never starves them.
   */
  readonly stepsMax?: number;
  /**
   * Each shard's data bytes as its leader measures them (GroupObservation.bytes); a shard
   * missing here counts as the mean of those present. Given, placement also evens bytes
   * per node (balanceBytes); absent, it balances replica and leader counts only.
   */
  readonly shardBytes?: ReadonlyMap<number, number>;
}

/**
 * Bytes are balanced only once the mean node holds this much: below it an uneven spread
 * costs nothing anyone would notice, while every move costs a snapshot copy and controller
 * rounds (and a young cluster's sizes change fast, which would churn).
 */
export const byteBalanceFloor = 64 * 1024 * 1024;
/**
 * A byte move (or swap) is made only if it shifts at least this fraction of the mean
 * node's bytes and leaves the two nodes at least as far apart the other way round:
 * hysteresis, so a shard that grows a little does not move back and forth.
 */
export const byteBalanceMargin = 0.1;

/**
 * Byte changes (a move or a swap) one plan starts: a wave. The next wave is planned only
 * once this one is done (the map settled again), from where it ended. Two changes are at
 * most 4 replicas copied, which conf-changes-max (default 4) lets the controller start at
 * once: a wave started in parts would be planned afresh in between, and a greedy plan from
 * a state it did not foresee may move a replica the last wave placed.
 */
export const byteChangesMax = 2;

/**
 * A replica moved costs three steps over two plans (add-learner; promote and remove), and
 * each add-learner starts a snapshot transfer. 256 learners are a new node's whole share
 * when 4,096 shards of 3 replicas spread over 48 nodes (4096 × 3 / 48) — one plan — while
 * bounding the snapshots a plan starts; bigger moves take a few plans.
 */
export const placementStepsMaxDefault = 256;

/** The live nodes' raft ids, zones and loads while a plan is computed. */
interface Fleet {
  /** Live raft ids, ascending. */
  readonly ids: readonly number[];
  readonly zone: ReadonlyMap<number, string>;
  /** Voters per live node in the target being built. */
  readonly load: Map<number, number>;
}

function makeFleet(nodes: readonly ClusterNode[]): Fleet {
  const ids = [...new Set(nodes.map((n) => n.raftId))].sort((a, b) => a - b);
  const zone = new Map(nodes.map((n) => [n.raftId, n.zone]));
  return { ids, zone, load: new Map(ids.map((id) => [id, 0])) };
}

function loadOf(fleet: Fleet, id: number): number {
  return fleet.load.get(id) ?? 0;
}

function bumpLoad(fleet: Fleet, id: number, delta: number): void {
  fleet.load.set(id, loadOf(fleet, id) + delta);
}

/** How many of `members` other than `except` are in `zone`. */
function inZone(fleet: Fleet, members: readonly number[], zone: string, except = -1): number {
  let n = 0;
  for (const m of members) if (m !== except && fleet.zone.get(m) === zone) n++;
  return n;
}

/** Compares number tuples: the first difference decides. */
function byKey(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return 0;
}

/** The element of `list` with the smallest key (the first of equals). */
function minBy<T>(list: readonly T[], key: (t: T) => readonly number[]): T | undefined {
  let best: T | undefined;
  let bestKey: readonly number[] = [];
  for (const t of list) {
    const k = key(t);
    if (best === undefined || byKey(k, bestKey) < 0) {
      best = t;
      bestKey = k;
    }
  }
  return best;
}

/** Where a new replica of a shard with `members` goes: a new zone, then the least loaded. */
function pickNewMember(fleet: Fleet, members: readonly number[]): number | undefined {
  const candidates = fleet.ids.filter((id) => !members.includes(id));
  return minBy(candidates, (id) => [
    inZone(fleet, members, fleet.zone.get(id) ?? ""),
    loadOf(fleet, id),
    id,
  ]);
}

/**
 * Which member to give up when a shard has too many: one whose zone another member also
 * covers, then not one of `learners` (moves under way; planPlacement passes them when it
 * has shard sizes), then not the leader, then the most loaded node, then the highest raft
 * id. (With shard sizes, planPlacement trims by trimBySize; spreadZones uses this.)
 */
function pickDropped(
  fleet: Fleet,
  members: readonly number[],
  leader: number | null,
  learners: readonly number[] = [],
): number {
  const victim = minBy(members, (id) => [
    -inZone(fleet, members, fleet.zone.get(id) ?? "", id),
    learners.includes(id) ? 1 : 0,
    id === leader ? 1 : 0,
    -loadOf(fleet, id),
    -id,
  ]);
  return victim as number;
}

/** Trims a shard with more than `r` members down to `r`, updating loads. */
function trimMembers(fleet: Fleet, members: number[], r: number, leader: number | null): void {
  while (members.length > r) {
    const victim = pickDropped(fleet, members, leader);
    members.splice(members.indexOf(victim), 1);
    bumpLoad(fleet, victim, -1);
  }
}

/** Tops a shard with fewer than `r` members up to `r` (or every live node), updating loads. */
function fillMembers(fleet: Fleet, members: number[], r: number): void {
  while (members.length < r) {
    const id = pickNewMember(fleet, members);
    if (id === undefined) return;
    members.push(id);
    bumpLoad(fleet, id, 1);
  }
}

/**
 * Replaces members whose zone another member covers by nodes of zones the shard lacks,
 * while there are such nodes: surviving a zone's loss comes before an even spread. Of
 * the crowded members, one of `learners` goes last (see pickDropped).
 */
function spreadZones(
  fleet: Fleet,
  members: number[],
  leader: number | null,
  learners: readonly number[] = [],
): void {
  for (let guard = members.length; guard > 0; guard--) {
    const present = new Set(members.map((m) => fleet.zone.get(m)));
    const outside = fleet.ids.filter((id) => !present.has(fleet.zone.get(id)));
    const crowded = members.filter((m) => inZone(fleet, members, fleet.zone.get(m) ?? "", m) > 0);
    if (outside.length === 0 || crowded.length === 0) return;
    const victim = pickDropped(fleet, crowded, leader, learners);
    const arrival = minBy(outside, (id) => [loadOf(fleet, id), id]) as number;
    members[members.indexOf(victim)] = arrival;
    bumpLoad(fleet, victim, -1);
    bumpLoad(fleet, arrival, 1);
  }
}

interface Target {
  readonly shard: Shard;
  /** The voters the shard should end with. */
  readonly members: number[];
  /** The leader it should end with (a member), or null if it has no members. */
  leader: number | null;
}

/**
 * Whether replacing `from` by a node of zone `to` keeps the shard's zone count: yes if
 * the zone stays the same, if another member covers `from`'s zone, or if the shard lacks
 * the new zone.
 */
function keepsZones(fleet: Fleet, members: readonly number[], from: number, to: string): boolean {
  const fromZone = fleet.zone.get(from) ?? "";
  if (fromZone === to) return true;
  return inZone(fleet, members, fromZone, from) > 0 || inZone(fleet, members, to) === 0;
}

/**
 * Moves replicas from nodes holding at least two more than another node to that node,
 * never lowering a shard's zone count and preferring shards the giving node does not
 * lead, until no such move is left. Each move lowers the sum of squared loads by at least
 * 2, so this ends; `movesMax` only names that bound. With `size` (byte balancing on: see
 * planPlacement), of the giver's shards that qualify the one that best evens the two
 * nodes' bytes moves — a tie-break only, so the moves made and their number are the same.
 */
function balanceReplicas(
  fleet: Fleet,
  targets: readonly Target[],
  movesMax: number,
  size: ReadonlyMap<Target, number> | null,
): void {
  const state: BalanceState = {
    holders: new Map(fleet.ids.map((id) => [id, new Set<Target>()])),
    zones: new Set(fleet.zone.values()),
    flexible: new Map(),
    size,
    bytes: size === null ? null : nodeBytes(fleet, targets, size),
  };
  for (const t of targets) for (const id of t.members) state.holders.get(id)?.add(t);
  for (let i = 0; i < movesMax; i++) {
    const move = findReplicaMove(fleet, state);
    if (move === null) return;
    const { target, from, to } = move;
    if (state.bytes !== null) {
      const b = state.size?.get(target) ?? 0;
      state.bytes.set(from, (state.bytes.get(from) ?? 0) - b);
      state.bytes.set(to, (state.bytes.get(to) ?? 0) + b);
    }
    for (const id of target.members) state.flexible.delete(id);
    state.flexible.delete(to);
    target.members[target.members.indexOf(from)] = to;
    state.holders.get(from)?.delete(target);
    state.holders.get(to)?.add(target);
    bumpLoad(fleet, from, -1);
    bumpLoad(fleet, to, 1);
  }
}

interface BalanceState {
  /** The targets each node is a member of, so a move looks only at the giver's shards. */
  readonly holders: Map<number, Set<Target>>;
  /** Every zone with a live node. */
  readonly zones: ReadonlySet<string | undefined>;
  /**
   * Per node, whether it can give a replica to a node of another zone: whether one of its
   * shards has its zone twice or lacks a zone. Dropped when one of its shards changes.
   */
  readonly flexible: Map<number, boolean>;
  /** Each target's bytes when byte balancing is on, else null (counts only). */
  readonly size: ReadonlyMap<Target, number> | null;
  /** Bytes per live node in the target being built, kept up to date; null with `size`. */
  readonly bytes: Map<number, number> | null;
}

interface ReplicaMove {
  readonly target: Target;
  readonly from: number;
  readonly to: number;
}

function isFlexible(fleet: Fleet, state: BalanceState, from: number): boolean {
  let flexible = state.flexible.get(from);
  if (flexible !== undefined) return flexible;
  const zone = fleet.zone.get(from) ?? "";
  flexible = false;
  for (const t of state.holders.get(from) ?? []) {
    const present = new Set(t.members.map((id) => fleet.zone.get(id)));
    if (inZone(fleet, t.members, zone, from) > 0 || present.size < state.zones.size) {
      flexible = true;
      break;
    }
  }
  state.flexible.set(from, flexible);
  return flexible;
}

/**
 * The order in which findReplicaMove looks at a giver's shards, as [avoid a shard with a
 * move under way, avoid a shard the giver leads]. With bytes, a shard that has a learner
 * goes last: its replica on the giver may be the learner itself, and moving it on would
 * waste the copy (found by the random fleets of balance-bytes.test.ts: after a plan of
 * swaps, trimming can leave a giver one over, and the count pass then moved a learner).
 */
const countTiers: readonly (readonly [boolean, boolean])[] = [
  [false, true],
  [false, false],
];
const byteTiers: readonly (readonly [boolean, boolean])[] = [
  [true, true],
  [true, false],
  [false, true],
  [false, false],
];

/**
 * The move balanceReplicas makes next: from the most loaded node that can give, to the
 * least loaded node that can take, in the first shard (not led by the giver if possible)
 * where the move keeps the zone count — with bytes (state.size), the shard of those
 * whose move leaves the two nodes' bytes closest: |gap − 2·size| least, where gap is
 * the giver's bytes minus the taker's (a heavy giver gives a big shard, a light one its
 * smallest), then the first. Null when none is left.
 */
function findReplicaMove(fleet: Fleet, state: BalanceState): ReplicaMove | null {
  const byLoadDesc = [...fleet.ids].sort((a, b) => loadOf(fleet, b) - loadOf(fleet, a) || a - b);
  const byLoadAsc = [...fleet.ids].sort((a, b) => loadOf(fleet, a) - loadOf(fleet, b) || a - b);
  for (const from of byLoadDesc) {
    const held = state.holders.get(from) ?? new Set<Target>();
    const fromZone = fleet.zone.get(from) ?? "";
    const flexible = isFlexible(fleet, state, from);
    for (const to of byLoadAsc) {
      if (loadOf(fleet, from) - loadOf(fleet, to) < 2) break;
      const zone = fleet.zone.get(to) ?? "";
      if (!flexible && zone !== fromZone) continue;
      const gap = (state.bytes?.get(from) ?? 0) - (state.bytes?.get(to) ?? 0);
      for (const [avoidMoving, avoidLeader] of state.size === null ? countTiers : byteTiers) {
        let best: Target | null = null;
        let bestGap = Number.POSITIVE_INFINITY;
        for (const target of held) {
          if (target.members.includes(to)) continue;
          if (avoidMoving && target.shard.learners.length > 0) continue;
          if (avoidLeader && target.shard.leader === from) continue;
          if (!keepsZones(fleet, target.members, from, zone)) continue;
          if (state.size === null) return { target, from, to };
          const left = Math.abs(gap - 2 * (state.size.get(target) ?? 0));
          if (left < bestGap) {
            best = target;
            bestGap = left;
          }
        }
        if (best !== null) return { target: best, from, to };
      }
    }
  }
  return null;
}

/**
 * Each target's bytes: its shardBytes entry, else the mean of the known ones (0 if none);
 * an entry that is not a finite non-negative number counts as unknown.
 */
function targetSizes(
  targets: readonly Target[],
  shardBytes: ReadonlyMap<number, number>,
): Map<Target, number> {
  const valid = (b: number | undefined): b is number =>
    b !== undefined && Number.isFinite(b) && b >= 0;
  const known = targets.map((t) => shardBytes.get(t.shard.id)).filter(valid);
  const fallback = known.length === 0 ? 0 : known.reduce((a, b) => a + b, 0) / known.length;
  const size = new Map<Target, number>();
  for (const t of targets) {
    const b = shardBytes.get(t.shard.id);
    size.set(t, valid(b) ? b : fallback);
  }
  return size;
}

/** Bytes per live node: the sizes of the targets it is a member of. */
function nodeBytes(
  fleet: Fleet,
  targets: readonly Target[],
  size: ReadonlyMap<Target, number>,
): Map<number, number> {
  const bytes = new Map<number, number>(fleet.ids.map((id) => [id, 0]));
  for (const t of targets) {
    for (const id of t.members) bytes.set(id, (bytes.get(id) ?? 0) + (size.get(t) ?? 0));
  }
  return bytes;
}

function meanOf(values: ReadonlyMap<number, number>): number {
  let total = 0;
  for (const v of values.values()) total += v;
  return values.size === 0 ? 0 : total / values.size;
}

/** One byte-balancing change: `give` moves from `from` to `to`, `take` (if any) back. */
interface ByteMove {
  readonly from: number;
  readonly to: number;
  readonly give: Target;
  readonly take: Target | null;
  /** Bytes that leave `from` for `to`, net. */
  readonly shift: number;
}

/**
 * Evens data bytes per node once replica counts are even (balanceReplicas): from the node
 * holding the most bytes to the one holding the fewest that it can improve on, either one
 * replica (only if `from` holds more replicas than `to`, so counts stay within one) or a
 * swap (a big shard one way, a smaller one back, counts unchanged). Zones are kept as
 * keepsZones keeps them, and a node gives a shard it does not lead when it can.
 *
 * Hysteresis: nothing moves while the mean node holds less than byteBalanceFloor, and a
 * change is made only if it shifts d bytes with margin ≤ d ≤ gap − margin, where gap is
 * the two nodes' difference and margin = byteBalanceMargin × the mean. Each change lowers
 * the sum over nodes of squared bytes by 2·d·(gap − d) ≥ 2·margin² and keeps the replica
 * counts' multiset, so the potential (Σ loads², Σ bytes²) falls strictly, lexicographically,
 * with every move of either pass: within a plan no state comes back, and this ends. From
 * one settled map to the next it falls too when each wave is finished as planned (below;
 * balance-bytes.test.ts checks it on random fleets).
 *
 * Only on a settled map (planPlacement calls it when no target differs from its shard),
 * and each change only if the next plan, finding its learners, will drop exactly the
 * replicas it meant to (trimBySize, predicted with the learners of every change of this
 * plan): the next plan's target is then this one, so it finishes these moves instead of
 * choosing afresh — planning afresh from a trim that guessed wrong moved replicas twice
 * and, on some random fleets, round in circles. A shard moves once per plan at most.
 */
function balanceBytes(
  fleet: Fleet,
  targets: readonly Target[],
  size: ReadonlyMap<Target, number>,
): void {
  if (fleet.ids.length < 2 || targets.length === 0) return;
  const bytes = nodeBytes(fleet, targets, size);
  const mean = meanOf(bytes);
  if (mean < byteBalanceFloor) return;
  // What a later plan sees before any change of this wave: the shards' voters (settled).
  const base = new Map(fleet.ids.map((id) => [id, { load: 0, bytes: 0 }]));
  for (const [t, s] of size) {
    for (const id of t.shard.replicas) {
      const b = base.get(id);
      if (b !== undefined) base.set(id, { load: b.load + 1, bytes: b.bytes + s });
    }
  }
  const pass: BytePass = {
    size,
    bytes,
    base,
    margin: byteBalanceMargin * mean,
    changes: [],
    moved: new Set(),
  };
  for (let i = 0; i < byteChangesMax; i++) {
    const move = findByteMove(fleet, targets, pass);
    if (move === null) return;
    const { from, to, give, take, shift } = move;
    give.members[give.members.indexOf(from)] = to;
    pass.moved.add(give);
    if (take === null) {
      bumpLoad(fleet, from, -1);
      bumpLoad(fleet, to, 1);
    } else {
      take.members[take.members.indexOf(to)] = from;
      pass.moved.add(take);
    }
    bytes.set(from, (bytes.get(from) ?? 0) - shift);
    bytes.set(to, (bytes.get(to) ?? 0) + shift);
    pass.changes.push(move);
  }
}

interface BytePass {
  readonly size: ReadonlyMap<Target, number>;
  /** Bytes per node in the target being built. */
  readonly bytes: Map<number, number>;
  /** Replicas and bytes per node on the settled map the pass started from. */
  readonly base: ReadonlyMap<number, { readonly load: number; readonly bytes: number }>;
  readonly margin: number;
  /** The changes made so far, in order. */
  readonly changes: ByteMove[];
  /** Targets a change of this plan moved: not moved again by it. */
  readonly moved: Set<Target>;
}

function findByteMove(fleet: Fleet, targets: readonly Target[], pass: BytePass): ByteMove | null {
  const b = (id: number) => pass.bytes.get(id) ?? 0;
  const held = new Map<number, Target[]>(fleet.ids.map((id) => [id, []]));
  for (const t of targets) for (const id of t.members) held.get(id)?.push(t);
  const desc = [...fleet.ids].sort((x, y) => b(y) - b(x) || x - y);
  const asc = [...desc].reverse();
  const size = (t: Target) => pass.size.get(t) ?? 0;
  for (const from of desc) {
    for (const to of asc) {
      const gap = b(from) - b(to);
      if (gap < 2 * pass.margin) break;
      const fits = (d: number) => d >= pass.margin && d <= gap - pass.margin;
      const zoneTo = fleet.zone.get(to) ?? "";
      const zoneFrom = fleet.zone.get(from) ?? "";
      const gives = (held.get(from) ?? []).filter(
        (t) =>
          !pass.moved.has(t) &&
          !t.members.includes(to) &&
          keepsZones(fleet, t.members, from, zoneTo),
      );
      const takes = (held.get(to) ?? []).filter(
        (t) =>
          !pass.moved.has(t) &&
          !t.members.includes(from) &&
          keepsZones(fleet, t.members, to, zoneFrom),
      );
      // Counts' multiset kept: one replica only from a node holding one more than `to`
      // (balanceReplicas left no pair two apart that a move could mend).
      const canMoveOne = loadOf(fleet, from) - loadOf(fleet, to) === 1;
      const candidates: { readonly move: ByteMove; readonly key: readonly number[] }[] = [];
      const consider = (move: ByteMove) => {
        // Shards their givers do not lead first, then the change closest to halving the gap.
        const leads =
          Number(move.give.shard.leader === from) + Number(move.take?.shard.leader === to);
        candidates.push({ move, key: [leads, Math.abs(gap / 2 - move.shift)] });
      };
      // Swaps: for each shard given, the few taken back whose size is nearest the one that
      // halves the gap (takes sorted by size), not every pair: a node holds hundreds of
      // shards, and all pairs of two nodes' shards made a plan of 4,096 shards take 0.3 s.
      takes.sort((x, y) => size(x) - size(y) || x.shard.id - y.shard.id);
      const takeSizes = takes.map(size);
      for (const give of gives) {
        const g = size(give);
        if (canMoveOne && fits(g)) consider({ from, to, give, take: null, shift: g });
        const at = lowerBound(takeSizes, g - gap / 2);
        const lo = Math.max(0, at - swapNeighbours);
        const hi = Math.min(takes.length, at + swapNeighbours);
        for (let i = lo; i < hi; i++) {
          const take = takes[i] as Target;
          const d = g - (takeSizes[i] as number);
          if (fits(d)) consider({ from, to, give, take, shift: d });
        }
      }
      candidates.sort((x, y) => byKey(x.key, y.key));
      for (const { move } of candidates) if (finishable(fleet, pass, move)) return move;
    }
  }
  return null;
}

/**
 * Shards taken back that a swap considers for each shard given: this many on each side of
 * the size that would halve the gap. Enough for the best fit and a few fallbacks when the
 * best would lead or could not be finished (finishable).
 */
const swapNeighbours = 4;

/**
 * Whether, with `move` added to this plan's changes, a later plan drops exactly the
 * replica each change means to move, whatever it sees of them. The controller starts a
 * wave's changes together (byteChangesMax) but each shard's steps run at their own pace:
 * learner, promotion, removal, each recorded in its own round; so a later plan may find
 * the other half of a swap not yet voting or already done, and the other changes under
 * way or not started. Each move must be the one dropped with the other half of its swap
 * present or done, and the other changes' new replicas all present or all absent (the new
 * replica itself is kept either way: newcomers).
 */
function finishable(fleet: Fleet, pass: BytePass, move: ByteMove): boolean {
  interface Hop {
    readonly t: Target;
    readonly from: number;
    readonly to: number;
    readonly change: number;
  }
  const hops: Hop[] = [];
  [...pass.changes, move].forEach((c, change) => {
    hops.push({ t: c.give, from: c.from, to: c.to, change });
    if (c.take !== null) hops.push({ t: c.take, from: c.to, to: c.from, change });
  });
  /** Loads and bytes with the new replicas of `present` added and the old of `done` gone. */
  const seen = (present: readonly Hop[], done: readonly Hop[]) => {
    const load = new Map([...pass.base].map(([id, b]) => [id, b.load]));
    const bytes = new Map([...pass.base].map(([id, b]) => [id, b.bytes]));
    const add = (id: number, t: Target, n: number) => {
      load.set(id, (load.get(id) ?? 0) + n);
      bytes.set(id, (bytes.get(id) ?? 0) + n * (pass.size.get(t) ?? 0));
    };
    for (const h of [...present, ...done]) add(h.to, h.t, 1);
    for (const h of done) add(h.from, h.t, -1);
    return { load, bytes };
  };
  return hops.every((h) => {
    const partner = hops.filter((o) => o !== h && o.change === h.change);
    const others = hops.filter((o) => o.change !== h.change);
    const views = [
      seen([h, ...partner, ...others], []),
      seen([h, ...partner], []),
      seen([h, ...others], partner),
      seen([h], partner),
    ];
    const members = [...h.t.shard.replicas, h.to];
    return views.every(
      ({ load, bytes }) => droppedFirst(fleet, members, [h.to], load, bytes) === h.from,
    );
  });
}

/**
 * The member trimBySize drops first from `members` given the loads and bytes it sees, or
 * null when two tie on everything before the leader and the raft id: then the pick would
 * hang on who leads, which a plan's leader transfers change, so a change relying on it is
 * not made.
 */
function droppedFirst(
  fleet: Fleet,
  members: readonly number[],
  learners: readonly number[],
  load: ReadonlyMap<number, number>,
  bytes: ReadonlyMap<number, number>,
): number | null {
  const keyOf = (id: number) => dropKey(fleet, members, learners, load, bytes, id);
  const sorted = [...members].sort((x, y) => byKey(keyOf(x), keyOf(y)));
  const [first, second] = sorted;
  if (first === undefined) return null;
  if (second !== undefined && byKey(keyOf(first), keyOf(second)) === 0) return null;
  return first;
}

/**
 * trimBySize's order, leader and raft id left out: a member whose zone another covers,
 * then not a learner, then the most loaded node, then the node with the most bytes.
 */
function dropKey(
  fleet: Fleet,
  members: readonly number[],
  learners: readonly number[],
  load: ReadonlyMap<number, number>,
  bytes: ReadonlyMap<number, number>,
  id: number,
): number[] {
  return [
    -inZone(fleet, members, fleet.zone.get(id) ?? "", id),
    learners.includes(id) ? 1 : 0,
    -(load.get(id) ?? 0),
    -(bytes.get(id) ?? 0),
  ];
}

/**
 * Trims every shard with more than `r` members when sizes are known. Each shard drops by
 * dropKey — a newcomer (newcomers) is kept — then not the leader, then the highest raft
 * id, all against the loads and bytes seen before any drop, so the pick of one shard does
 * not depend on another's: balanceBytes predicts these picks to make sure the plans after
 * it finish its moves.
 */
function trimBySize(
  fleet: Fleet,
  targets: readonly Target[],
  r: number,
  live: ReadonlySet<number>,
  size: ReadonlyMap<Target, number>,
): void {
  const load = new Map(fleet.load);
  const bytes = nodeBytes(fleet, targets, size);
  for (const t of targets) {
    const leader = liveLeader(t.shard, live);
    while (t.members.length > r) {
      const members = t.members;
      const victim = minBy(members, (id) => [
        ...dropKey(fleet, members, newcomers(t.shard, r), load, bytes, id),
        id === leader ? 1 : 0,
        -id,
      ]) as number;
      members.splice(members.indexOf(victim), 1);
      bumpLoad(fleet, victim, -1);
    }
  }
}

/**
 * The members of a shard that are a move under way: its learners, and, while it has more
 * than `r` voters, its last voter — the one promoted most recently (applyStep, and so the
 * meta machine, appends a promoted learner to the voters). A learner is promoted and the
 * replica it replaces removed in separate rounds of the controller, so between them the
 * new voter must be told from the old ones, or the plan in between may drop the new one.
 */
function newcomers(shard: Shard, r: number): readonly number[] {
  const last = shard.replicas[shard.replicas.length - 1];
  if (shard.replicas.length <= r || last === undefined) return shard.learners;
  return [...shard.learners, last];
}

/** One hand-over of a chain: `target`'s leadership goes to `to`. */
interface LeaderMove {
  readonly target: Target;
  readonly to: number;
}

/**
 * Gives every target a leader — its current one when that one stays a live voter, else
 * its member leading the fewest — then evens leadership out along chains (leaderChain)
 * until no node leads two more shards than one it could, directly or through others,
 * hand a shard to. Then no node leads more than ⌈shards/nodes⌉ unless the voter sets
 * leave no other way.
 */
function balanceLeaders(fleet: Fleet, targets: readonly Target[], live: ReadonlySet<number>): void {
  const leads = new Map(fleet.ids.map((id) => [id, 0]));
  const count = (id: number): number => leads.get(id) ?? 0;
  for (const t of targets) {
    // Chains visit members in raft id order (and steps list new ones in that order).
    t.members.sort((a, b) => a - b);
    const current = t.shard.leader;
    t.leader =
      current !== null && live.has(current) && t.members.includes(current)
        ? current
        : (minBy(t.members, (id) => [count(id), id]) ?? null);
    if (t.leader !== null) leads.set(t.leader, count(t.leader) + 1);
  }
  // Direct hand-overs first (a chain of one, found without a search): they do most of
  // the work cheaply, e.g. giving a new node its share.
  for (let changed = true; changed; ) {
    changed = false;
    for (const t of targets) {
      const from = t.leader;
      const to = minBy(t.members, (id) => [count(id), id]);
      if (from === null || to === undefined || count(from) - count(to) < 2) continue;
      t.leader = to;
      leads.set(from, count(from) - 1);
      leads.set(to, count(to) + 1);
      changed = true;
    }
  }
  // A hand-over, direct or chained, lowers the sum of squared counts by at least 2, so
  // the direct loop above ends and this bound is never reached.
  const chainsMax = targets.length * targets.length + 1;
  for (let i = 0; i < chainsMax; i++) {
    const chain = leaderChain(fleet, targets, count);
    if (chain === null) return;
    const source = (chain[0] as LeaderMove).target.leader as number;
    const sink = (chain[chain.length - 1] as LeaderMove).to;
    for (const move of chain) move.target.leader = move.to;
    leads.set(source, count(source) - 1);
    leads.set(sink, count(sink) + 1);
  }
}

/**
 * The shortest chain of hand-overs (breadth first, in shard and raft id order) from a
 * node leading the most shards possible to a node leading at least two fewer: node a
 * hands shard s to b, a voter of s; b hands shard t to c... Every node on the way keeps
 * its count; only the ends change. Null when there is none at any level.
 */
function leaderChain(
  fleet: Fleet,
  targets: readonly Target[],
  count: (id: number) => number,
): LeaderMove[] | null {
  const led = new Map<number, Target[]>();
  for (const t of targets) {
    if (t.leader === null) continue;
    const list = led.get(t.leader);
    if (list === undefined) led.set(t.leader, [t]);
    else list.push(t);
  }
  const levels = [...new Set(fleet.ids.map(count))].sort((a, b) => b - a);
  const least = levels[levels.length - 1] ?? 0;
  for (const level of levels) {
    if (level - least < 2) break;
    const sources = fleet.ids.filter((id) => count(id) === level);
    /** How each reached node was reached: the hand-over into it. */
    const via = new Map<number, LeaderMove & { readonly from: number }>();
    const seen = new Set(sources);
    const queue = [...sources];
    for (let head = 0; head < queue.length; head++) {
      const from = queue[head] as number;
      for (const target of led.get(from) ?? []) {
        for (const to of target.members) {
          if (seen.has(to)) continue;
          seen.add(to);
          via.set(to, { target, to, from });
          if (count(to) <= level - 2) return unwind(via, to);
          queue.push(to);
        }
      }
    }
  }
  return null;
}

function unwind(
  via: ReadonlyMap<number, LeaderMove & { readonly from: number }>,
  end: number,
): LeaderMove[] {
  const chain: LeaderMove[] = [];
  for (let step = via.get(end); step !== undefined; step = via.get(step.from)) {
    chain.unshift({ target: step.target, to: step.to });
  }
  return chain;
}

/** The shard's leader if it is known and on a live node, else null. */
function liveLeader(shard: Shard, live: ReadonlySet<number>): number | null {
  return shard.leader !== null && live.has(shard.leader) ? shard.leader : null;
}

/**
 * The steps that take one shard toward its target, in the order they must run:
 *   1. learners the target wants are promoted (they were added by an earlier plan, so
 *      raft has had time to catch them up), the others removed;
 *   2. leadership moves to the target leader if that node already votes;
 *   3. voters the target drops are removed — dead ones first, never the leader, and only
 *      while the shard keeps more than `r` voters, so a replacement always votes before
 *      the replica it replaces goes;
 *   4. the target's new members are added as learners, to be promoted by a later plan.
 */
function stepsFor(t: Target, r: number, live: ReadonlySet<number>): PlacementStep[] {
  const { shard } = t;
  const id = shard.id;
  const want = new Set(t.members);
  const steps: PlacementStep[] = [];
  const voters = [...shard.replicas];
  for (const node of shard.learners) {
    if (want.has(node)) {
      steps.push({ kind: "promote", shard: id, node });
      voters.push(node);
    } else steps.push({ kind: "remove", shard: id, node });
  }
  let leader = liveLeader(shard, live);
  if (leader !== null && !voters.includes(leader)) leader = null;
  if (leader !== null && t.leader !== null && t.leader !== leader && voters.includes(t.leader)) {
    steps.push({ kind: "transfer-leader", shard: id, to: t.leader });
    leader = t.leader;
  }
  const leaving = voters
    .filter((node) => !want.has(node))
    .sort((a, b) => Number(live.has(a)) - Number(live.has(b)) || a - b);
  let remaining = voters.length;
  for (const node of leaving) {
    if (remaining <= r) break;
    if (node === leader) continue;
    steps.push({ kind: "remove", shard: id, node });
    remaining--;
  }
  for (const node of t.members) {
    if (!voters.includes(node) && !shard.learners.includes(node)) {
      steps.push({ kind: "add-learner", shard: id, node });
    }
  }
  return steps;
}

/**
 * The steps that bring every shard to min(replicaTarget, nodes.length) voters on
 * distinct live nodes, spread evenly, with leadership spread evenly. `nodes` are the live
 * nodes; a member on any other node is replaced. Pure and deterministic: the same
 * arguments give the same plan on any node.
 *
 * The target is built from the live voters only, ignoring learners, so a plan's own
 * add-learner steps do not change the next plan's target: the learners it added are the
 * ones the next plan promotes. Building it:
 *   1. keep every live voter; trim shards with too many, fill shards with too few (a zone
 *      the shard lacks first, then the node with fewest replicas, then the lowest raft id);
 *   2. swap members sharing a zone for nodes in zones the shard lacks;
 *   3. move replicas from nodes holding two more than another to that other, never losing
 *      a zone, until replica counts differ by at most one (exactly so without zones;
 *      with zones, as far as keeping every shard's zone spread allows);
 *   4. with options.shardBytes, once the nodes hold byteBalanceFloor on average: the
 *      count moves of 3 pick the shard that best evens bytes, and, on a settled map, a
 *      wave of at most byteChangesMax byte moves or swaps evens bytes per node
 *      (balanceBytes); shards are trimmed by trimBySize, which keeps moves under way;
 *   5. balance leaders (balanceLeaders).
 *
 * Steps for one shard must run in order, each after the previous has taken effect; steps
 * for different shards are independent. A new replica is always added as a learner and
 * promoted by a later plan; a leader is moved away before its replica is removed. Shards
 * with no replicas (not placed yet: bootstrapShardMap places them) or with no live voter
 * (nothing left to copy from: only a human can help) get no steps. At most
 * options.stepsMax steps, whole shards at a time, under-replicated shards first.
 */
export function planPlacement(
  nodes: readonly ClusterNode[],
  map: ShardMap,
  replicaTarget: number,
  options: PlacementOptions = {},
): PlacementStep[] {
  if (!Number.isInteger(replicaTarget) || replicaTarget < 1) {
    throw new RangeError(`replica target must be a positive integer, not ${replicaTarget}`);
  }
  const fleet = makeFleet(nodes);
  const r = Math.min(replicaTarget, fleet.ids.length);
  if (r === 0) return [];
  const live = new Set(fleet.ids);
  const targets: Target[] = [];
  for (const shard of [...map.shards].sort((a, b) => a.id - b.id)) {
    // A learner on a live node is a move under way: it counts as a member (and as load),
    // so the next plan continues that move instead of choosing afresh — otherwise a
    // changing fleet (nodes joining one after another) had placement drop a learner it
    // had just added and add it again later (found by the cluster simulation).
    const members = [...shard.replicas, ...shard.learners]
      .filter((id) => live.has(id))
      .sort((a, b) => a - b);
    if (members.length === 0) continue;
    for (const id of members) bumpLoad(fleet, id, 1);
    targets.push({ shard, members, leader: null });
  }
  // Sizes bring the trim that keeps moves under way; a call without shardBytes plans
  // exactly as before they existed.
  const size = options.shardBytes === undefined ? null : targetSizes(targets, options.shardBytes);
  if (size !== null) trimBySize(fleet, targets, r, live, size);
  else for (const t of targets) trimMembers(fleet, t.members, r, liveLeader(t.shard, live));
  for (const t of targets) fillMembers(fleet, t.members, r);
  for (const t of targets) {
    // With sizes a learner is kept here too: a count move that replaced the only voter
    // by a node of its zone (keepsZones allows it) was otherwise undone here, while the
    // shard lacked its other replicas, and redone by the count pass, plan after plan (the
    // 12-node simulation, growing from one node, never settled).
    const learners = size === null ? [] : t.shard.learners;
    spreadZones(fleet, t.members, liveLeader(t.shard, live), learners);
  }
  // Below the floor bytes play no part at all, not even as the count pass's tie-break.
  const evenBytes =
    size !== null && meanOf(nodeBytes(fleet, targets, size)) >= byteBalanceFloor ? size : null;
  // A move lowers the sum of squared loads by at least 2, so this bound is never reached.
  const movesMax = (targets.length * r) ** 2 + 1;
  balanceReplicas(fleet, targets, movesMax, evenBytes);
  if (evenBytes !== null && targets.every(unchanged)) balanceBytes(fleet, targets, evenBytes);
  balanceLeaders(fleet, targets, live);
  return boundedPlan(targets, r, live, options.stepsMax ?? placementStepsMaxDefault);
}

/**
 * Whether a target is what its shard already is: the same voters, all live, no learner.
 * Bytes are evened only while every shard is so (nothing moving, nothing to repair, counts
 * and zones already right): a plan then starts byte moves on a settled map, the next plan
 * finds each of them under way and finishes it, and only then are bytes looked at again.
 */
function unchanged(t: Target): boolean {
  const { replicas, learners } = t.shard;
  return (
    learners.length === 0 &&
    replicas.length === t.members.length &&
    replicas.every((id) => t.members.includes(id))
  );
}

/** Whole shards' steps, repairs first, then by shard id, up to stepsMax (at least one shard). */
function boundedPlan(
  targets: readonly Target[],
  r: number,
  live: ReadonlySet<number>,
  stepsMax: number,
): PlacementStep[] {
  const groups = targets
    .map((t) => ({
      repair: t.shard.replicas.filter((id) => live.has(id)).length < r ? 0 : 1,
      steps: stepsFor(t, r, live),
    }))
    .filter((g) => g.steps.length > 0);
  groups.sort((a, b) => a.repair - b.repair);
  const plan: PlacementStep[] = [];
  for (const g of groups) {
    if (plan.length > 0 && plan.length + g.steps.length > stepsMax) break;
    plan.push(...g.steps);
  }
  return plan;
}

/**
 * `count` shards (initialShards) with their first voters already chosen, as placement
 * would (zones first, then the fewest replicas), and no leader yet. For a new cluster: a
 * raft group starts with its voter set, which needs no catching up, where growing one
 * from nothing would need a first voter that placement's steps cannot create.
 */
export function bootstrapShardMap(
  nodes: readonly ClusterNode[],
  count: number,
  replicaTarget: number,
): ShardMap {
  const fleet = makeFleet(nodes);
  const r = Math.min(replicaTarget, fleet.ids.length);
  const shards = initialShards(count).map((shard): Shard => {
    const members: number[] = [];
    fillMembers(fleet, members, r);
    return { ...shard, replicas: members.sort((a, b) => a - b) };
  });
  return { epoch: 1, shards };
}

/**
 * The map once `step` has taken effect, with the epoch bumped. A step that does not fit
 * the map (adding a member twice, promoting a non-learner...) is a programmer error.
 */
export function applyStep(map: ShardMap, step: PlacementStep): ShardMap {
  const index = map.shards.findIndex((s) => s.id === step.shard);
  const shard = map.shards[index];
  if (shard === undefined) throw new RangeError(`no shard ${step.shard}`);
  const shards = [...map.shards];
  shards[index] = changedShard(shard, step);
  return { epoch: map.epoch + 1, shards };
}

function changedShard(shard: Shard, step: PlacementStep): Shard {
  const without = (list: readonly number[], id: number) => list.filter((x) => x !== id);
  switch (step.kind) {
    case "add-learner":
      if (shard.replicas.includes(step.node) || shard.learners.includes(step.node)) {
        throw new RangeError(`node ${step.node} is already in shard ${shard.id}`);
      }
      return { ...shard, learners: [...shard.learners, step.node] };
    case "promote":
      if (!shard.learners.includes(step.node)) {
        throw new RangeError(`node ${step.node} is not a learner of shard ${shard.id}`);
      }
      return {
        ...shard,
        replicas: [...shard.replicas, step.node],
        learners: without(shard.learners, step.node),
      };
    case "remove":
      if (!shard.replicas.includes(step.node) && !shard.learners.includes(step.node)) {
        throw new RangeError(`node ${step.node} is not in shard ${shard.id}`);
      }
      return {
        ...shard,
        replicas: without(shard.replicas, step.node),
        learners: without(shard.learners, step.node),
        leader: shard.leader === step.node ? null : shard.leader,
      };
    case "transfer-leader":
      if (!shard.replicas.includes(step.to)) {
        throw new RangeError(`node ${step.to} is not a voter of shard ${shard.id}`);
      }
      return { ...shard, leader: step.to };
  }
}

/**
 * The meta group's state machine: the cluster's id, the node registry (with each node's
 * status), the shard map and its epoch, the settings, the meta group's own desired
 * voters, and the cluster's Redis function libraries. The meta group is raft group
 * `metaGroupId` on up to a few voters; every other node follows it as a learner, so every
 * node has this state locally and routes with it.
 *
 * Pure and deterministic (STYLE.md §1): applyMetaCommand is a function of the state and
 * the command, and MetaMachine applies committed entries with it in log order, so every
 * replica holds the same state and takes the same snapshot bytes at the same index.
 *
 * Raft ids are allocated here, by the log: bootstrap gives the first node `firstRaftId`,
 * and each register-node of an unknown node id takes the next one. A node never picks its
 * own, so two nodes can never claim the same id, and an id is never reused (a removed
 * node's id is retired with it: its old replicas' votes must never be mistaken for a
 * newcomer's).
 *
 * Every command gets a result — ok, or one of metaErrors with a precise message — which
 * MetaMachine hands to the proposer that registered for it with expect(index, term).
 * Commands are safe to retry after a lost outcome: register-node and set-node-status are
 * idempotent, and record-shard-change, set-meta-voters, apply-contract and set-functions
 * carry a compare-and-set precondition, so a command that already took effect is refused
 * the second time instead of applied twice.
 */
import { assert } from "../core/assert.js";
import { ByteReader, ByteWriter, DecodeError, readText, writeText } from "../core/bytes.js";
import { zoneBytesMax } from "../membership/codec.js";
import type { DecodeResult } from "../raft/codec.js";
import type { Entry, ReadState, Snapshot } from "../raft/types.js";
import {
  bounded,
  type ContractVersion,
  contractVersionsKept,
  type JournalDraft,
  type JournalEntry,
  journalBatchMax,
  journalEntriesKept,
  readContract,
  readDraft,
  readEntry,
  writeContract,
  writeDraft,
  writeEntry,
} from "./meta-records.js";
import type { GroupMachine, GroupStatus } from "./multi-raft.js";
import {
  applyStep,
  bootstrapShardMap,
  type ClusterNode,
  decodeNodes,
  decodeShardMap,
  encodeNodes,
  encodeShardMap,
  hasOwnRedirectPort,
  hostBytesMax,
  nodesMax,
  type PlacementStep,
  redirectPortOf,
  type Shard,
  type ShardMap,
  shardMembersMax,
  validateNodes,
  validateShardMap,
} from "./shard-map.js";
import { SLOT_COUNT } from "./slots.js";

// ---- constants ---------------------------------------------------------------------------

/** The meta group's raft group id (shard-map.ts leaves group 0 to it). */
export const metaGroupId = 0;
/** The raft id bootstrap gives the first node: its meta group starts with it as sole voter. */
export const firstRaftId = 1;
/** A cluster id is a name or a UUID: 64 bytes is room for either. */
export const clusterIdBytesMax = 64;
/**
 * Default replicas per shard: 3 voters survive one node's loss with a quorum left, the
 * usual trade between durability and write fan-out (etcd, CockroachDB, TiKV alike).
 */
export const replicaTargetDefault = 3;
/** Every write goes to each voter: beyond 7 the fan-out buys no real durability. */
export const replicaTargetMax = 7;
/**
 * Default bound on shards changing at once (confChangesMax). Each change starts with a
 * snapshot stream from the shard's leader to a new learner: 4 keeps the extra copying a
 * node sees to a few streams, while a 16-shard cluster still rebalances in a few rounds.
 */
export const confChangesMaxDefault = 4;
/** The largest confChangesMax a setting may ask for. */
export const confChangesMaxLimit = 256;
/** Meta voters: 3 survive one failure; the meta state is small, so more buy little. */
export const metaVotersDefault = 3;
export const metaVotersMax = 7;
/**
 * Proposers waiting for an outcome (expect). Meta commands are rare (joins, settings, one
 * record per conf change), so this bound is only reached by a bug or a storm; it keeps a
 * leader's memory bounded either way.
 */
export const waitersMax = 1024;
/**
 * The function libraries' payload (a FUNCTION DUMP): it travels whole in one meta raft
 * entry, which should fit one append (maxMsgBytes, 1 MiB); half of it leaves room for the
 * entry's framing and keeps the meta snapshot, which carries it too, small.
 */
export const functionsBytesMax = 512 * 1024;

// ---- types -------------------------------------------------------------------------------

/**
 * active: holds and gains replicas. removing: being drained (the controller moves its
 * replicas away). removed: holds nothing and never will again; its ids are retired.
 */
export type NodeStatus = "active" | "removing" | "removed";
const nodeStatuses: readonly NodeStatus[] = ["active", "removing", "removed"];

export interface RegisteredNode extends ClusterNode {
  readonly status: NodeStatus;
}

/** A node as it asks to join: everything but the raft id, which the log assigns. */
export type NodeAddress = Omit<ClusterNode, "raftId">;

export interface MetaSettings {
  /** Voters each shard should have (fewer while there are fewer nodes). */
  readonly replicaTarget: number;
  /** Shards the cluster was bootstrapped with (0 before bootstrap); fixed until splits exist. */
  readonly shardCount: number;
  /** Shards that may be mid-change at once (the controller's K). */
  readonly confChangesMax: number;
  /** Voters the meta group should have (fewer while there are fewer nodes). */
  readonly metaVoters: number;
}

export type SettingName = "replica-target" | "conf-changes-max" | "meta-voters";
const settingNames: readonly SettingName[] = ["replica-target", "conf-changes-max", "meta-voters"];

/**
 * What the controller saw happen to one shard: a raft conf change that took effect
 * (add-learner, promote, remove) or the leader it observed.
 */
export interface ShardChange {
  readonly kind: "add-learner" | "promote" | "remove" | "leader";
  /** A raft id. */
  readonly node: number;
}
const changeKinds: readonly ShardChange["kind"][] = ["add-learner", "promote", "remove", "leader"];

/**
 * The freshest observation of a shard recorded so far: the shard's applied index for its
 * membership (a conf is a function of the applied index, so a lower one is older), and
 * the leader's term for its leader. A record made from an older observation is refused,
 * so a report that arrives late cannot undo a newer one.
 */
export interface ObservedMark {
  readonly index: number;
  readonly term: number;
}

/** The cluster's Redis function libraries (FUNCTION LOAD...): an opaque payload the nodes parse. */
export interface FunctionLibraries {
  /** 0 before any change; +1 at every change. */
  readonly version: number;
  /** The libraries as FUNCTION DUMP gives them; empty when there are none. */
  readonly payload: Uint8Array;
}

export type MetaCommand =
  | {
      readonly kind: "bootstrap";
      readonly clusterId: string;
      readonly node: NodeAddress;
      readonly shardCount: number;
      readonly replicaTarget: number;
    }
  | { readonly kind: "register-node"; readonly node: NodeAddress }
  | { readonly kind: "set-node-status"; readonly id: string; readonly status: NodeStatus }
  | {
      readonly kind: "record-shard-change";
      /** Refused unless the shard map's epoch is still this (compare-and-set). */
      readonly expectedEpoch: number;
      readonly shard: number;
      readonly change: ShardChange;
      /** The observation the change was seen in (ObservedMark). */
      readonly observedIndex: number;
      readonly observedTerm: number;
    }
  | {
      readonly kind: "set-meta-voters";
      /** Refused unless the desired voters are still these (compare-and-set). */
      readonly from: readonly number[];
      readonly to: readonly number[];
    }
  | { readonly kind: "set-setting"; readonly name: SettingName; readonly value: number }
  | {
      readonly kind: "apply-contract";
      /** Refused unless the current contract version is still this (0: none yet). */
      readonly expectedVersion: number;
      readonly appliedAtMs: number;
      readonly text: string;
      readonly replicas: number;
      readonly deadNodeAfterMs: number;
    }
  | { readonly kind: "journal"; readonly entries: readonly JournalDraft[] }
  | {
      readonly kind: "set-functions";
      /** Refused unless the libraries' version is still this (compare-and-set). */
      readonly expectedVersion: number;
      /** Stored as is: the proposer checked that it parses. */
      readonly payload: Uint8Array;
    };

export type MetaCommandKind = MetaCommand["kind"];
const commandKinds: readonly MetaCommandKind[] = [
  "bootstrap",
  "register-node",
  "set-node-status",
  "record-shard-change",
  "set-meta-voters",
  "set-setting",
  "apply-contract",
  "journal",
  // Codes are positions: a new kind goes last.
  "set-functions",
];

/** The whole replicated state: an immutable value, replaced by every change. */
export interface MetaState {
  /** null until bootstrapped. */
  readonly clusterId: string | null;
  /** The raft id the next new node gets. */
  readonly nextRaftId: number;
  readonly settings: MetaSettings;
  /** Every node ever registered, removed ones included, in registration (raft id) order. */
  readonly nodes: readonly RegisteredNode[];
  /** Its epoch is the cluster's configuration epoch: bumped by every shard change. */
  readonly shardMap: ShardMap;
  /** Per shard id. */
  readonly marks: ReadonlyMap<number, ObservedMark>;
  /** The meta group's desired voters (raft ids, ascending); the controller drives raft to them. */
  readonly metaVoters: readonly number[];
  /** The service contract's versions, oldest first; the last is in force. Empty: none yet. */
  readonly contracts: readonly ContractVersion[];
  /** The decision journal, oldest first (meta-records.ts). */
  readonly journal: readonly JournalEntry[];
  /** The last journal entry's seq (entries before the kept ones were dropped). */
  readonly journalSeq: number;
  readonly functions: FunctionLibraries;
}

export const emptyMetaState: MetaState = Object.freeze({
  clusterId: null,
  nextRaftId: firstRaftId,
  settings: Object.freeze({
    replicaTarget: replicaTargetDefault,
    shardCount: 0,
    confChangesMax: confChangesMaxDefault,
    metaVoters: metaVotersDefault,
  }),
  nodes: Object.freeze([]),
  shardMap: Object.freeze({ epoch: 0, shards: Object.freeze([]) }),
  marks: new Map(),
  metaVoters: Object.freeze([]),
  contracts: Object.freeze([]),
  journal: Object.freeze([]),
  journalSeq: 0,
  functions: Object.freeze({ version: 0, payload: Object.freeze(new Uint8Array(0)) }),
});

/** Every error a meta command can end with, and what it means (STYLE.md §6). */
export const metaErrors = {
  "bad-command": "The entry is not a meta command this version can decode (garbled or newer).",
  "not-bootstrapped": "The cluster has no state yet: bootstrap must come first.",
  "already-bootstrapped": "Bootstrap on a cluster that already has a state.",
  "invalid-cluster-id": "A cluster id must be 1 to clusterIdBytesMax bytes.",
  "invalid-node": "A node's id, host, ports or zone is malformed (the message says which).",
  "address-in-use": "Another node that is not removed already has this host and port.",
  "registry-full": "No more nodes can be registered (nodesMax, or raft ids exhausted).",
  "unknown-node": "No registered node has this id or raft id.",
  "node-removed": "The node was removed: its ids are retired; it must join with a new id.",
  "node-in-use": "The node still holds shard replicas or a meta vote: it cannot be removed yet.",
  "last-active-node": "The change would leave no active node to hold the data.",
  "epoch-moved": "The shard map changed since the controller planned: replan.",
  "stale-observation": "A newer observation of the shard is already recorded.",
  "unknown-shard": "No shard has this id.",
  "invalid-change": "The change does not fit the shard as recorded (the message says why).",
  "shard-full": "The shard already has shardMembersMax members.",
  "meta-voters-moved": "The meta group's desired voters changed since the controller planned.",
  "invalid-meta-voters": "Meta voters must be 1 to metaVotersMax distinct registered nodes.",
  "invalid-setting": "The value is outside what the setting accepts.",
  "contract-moved": "Another contract was applied since this one was validated: check again.",
  "invalid-contract": "The contract's values are outside what the cluster accepts.",
  "invalid-journal": "A journal batch is empty or too large.",
  "functions-moved": "The function libraries changed since the proposer read them: read again.",
  "invalid-functions": "The libraries' payload exceeds functionsBytesMax (or versions ran out).",
} as const;

export type MetaErrorCode = keyof typeof metaErrors;

export type MetaResult =
  | {
      readonly ok: true;
      /** The shard map's epoch after the command. */
      readonly epoch: number;
      /** bootstrap and register-node: the node's raft id; other commands: 0. */
      readonly raftId: number;
    }
  | { readonly ok: false; readonly code: MetaErrorCode; readonly message: string };

/**
 * Why a proposal's outcome is unknown: it may or may not have been applied. The proposer
 * retries (safely: see the module comment) or reports the failure.
 */
export type LostReason =
  /**
   * Another term's entry was applied at the proposal's index, or another proposal took
   * the index: the command did not run and never will (ProposalLostError.didNotRun).
   */
  | "overwritten"
  /**
   * This replica stopped leading (or leads in a new term) and did not learn the entry's
   * fate before the host gave up on it (MetaMachine.dropOrphans).
   */
  | "leadership-lost"
  /** A snapshot covering the index was installed: the entries were not applied here. */
  | "snapshot"
  /** expect() came after the index was applied, or too many proposers were waiting. */
  | "not-waited";

export class ProposalLostError extends Error {
  override name = "ProposalLostError";
  readonly code = "proposal-lost";
  constructor(
    readonly reason: LostReason,
    readonly index: number,
    readonly term: number,
  ) {
    const outcome = reason === "overwritten" ? "not applied" : "outcome unknown";
    super(`meta proposal at index ${index}, term ${term}: ${outcome} (${reason})`);
  }

  /** The command did not run and never will: proposing it again runs it once. */
  get didNotRun(): boolean {
    return this.reason === "overwritten";
  }
}

/** Who waits for a proposal's result. Called from apply()/roleChanged(): must not throw. */
export interface MetaWaiter {
  resolve(result: MetaResult): void;
  reject(error: ProposalLostError): void;
}

/** Which parts of the state one apply() (or restore) changed. */
export interface MetaChanges {
  readonly nodes: boolean;
  readonly shardMap: boolean;
  readonly settings: boolean;
  readonly metaVoters: boolean;
  readonly functions: boolean;
}

// ---- lookups -----------------------------------------------------------------------------

interface NodeIndex {
  readonly byId: ReadonlyMap<string, RegisteredNode>;
  readonly byRaftId: ReadonlyMap<number, RegisteredNode>;
}

/** Per registry array (immutable), built once: every record looks a node up. */
const nodeIndexes = new WeakMap<readonly RegisteredNode[], NodeIndex>();

function nodeIndexOf(nodes: readonly RegisteredNode[]): NodeIndex {
  let index = nodeIndexes.get(nodes);
  if (index === undefined) {
    index = {
      byId: new Map(nodes.map((n) => [n.id, n])),
      byRaftId: new Map(nodes.map((n) => [n.raftId, n])),
    };
    nodeIndexes.set(nodes, index);
  }
  return index;
}

export function nodeById(state: MetaState, id: string): RegisteredNode | undefined {
  return nodeIndexOf(state.nodes).byId.get(id);
}

export function nodeByRaftId(state: MetaState, raftId: number): RegisteredNode | undefined {
  return nodeIndexOf(state.nodes).byRaftId.get(raftId);
}

/** The contract in force (the newest version applied), or undefined when none is. */
export function currentContract(state: MetaState): ContractVersion | undefined {
  return state.contracts[state.contracts.length - 1];
}

// ---- applying a command ------------------------------------------------------------------

export interface Applied {
  readonly state: MetaState;
  readonly result: MetaResult;
}

function fail(state: MetaState, code: MetaErrorCode, message: string): Applied {
  return { state, result: { ok: false, code, message } };
}

function ok(state: MetaState, raftId = 0): Applied {
  return { state, result: { ok: true, epoch: state.shardMap.epoch, raftId } };
}

/**
 * The state after `cmd`, and its result. A refused command leaves the state as it was
 * (the same object). Deterministic: no clock, no randomness, no iteration over anything
 * whose order differs between replicas.
 */
export function applyMetaCommand(state: MetaState, cmd: MetaCommand): Applied {
  if (cmd.kind === "bootstrap") return bootstrap(state, cmd);
  if (state.clusterId === null) {
    return fail(state, "not-bootstrapped", `${cmd.kind} before the cluster was bootstrapped`);
  }
  switch (cmd.kind) {
    case "register-node":
      return registerNode(state, cmd.node);
    case "set-node-status":
      return setNodeStatus(state, cmd.id, cmd.status);
    case "record-shard-change":
      return recordShardChange(state, cmd);
    case "set-meta-voters":
      return setMetaVoters(state, cmd.from, cmd.to);
    case "set-setting":
      return setSetting(state, cmd.name, cmd.value);
    case "apply-contract":
      return applyContract(state, cmd);
    case "journal":
      return appendJournal(state, cmd.entries);
    case "set-functions":
      return setFunctions(state, cmd);
  }
}

function applyContract(
  state: MetaState,
  cmd: Extract<MetaCommand, { kind: "apply-contract" }>,
): Applied {
  const current = currentContract(state)?.version ?? 0;
  if (cmd.expectedVersion !== current) {
    return fail(
      state,
      "contract-moved",
      `contract version is ${current}, not ${cmd.expectedVersion}`,
    );
  }
  if (!isIntIn(cmd.replicas, 1, replicaTargetMax)) {
    return fail(
      state,
      "invalid-contract",
      `replicas ${cmd.replicas} is not 1..${replicaTargetMax}`,
    );
  }
  if (!Number.isSafeInteger(cmd.deadNodeAfterMs) || cmd.deadNodeAfterMs < 1000) {
    return fail(state, "invalid-contract", `dead-node time ${cmd.deadNodeAfterMs} ms`);
  }
  const version: ContractVersion = {
    version: current + 1,
    appliedAtMs: cmd.appliedAtMs,
    text: cmd.text,
    replicas: cmd.replicas,
    deadNodeAfterMs: cmd.deadNodeAfterMs,
  };
  return ok({
    ...state,
    settings: { ...state.settings, replicaTarget: cmd.replicas },
    contracts: bounded(state.contracts, [version], contractVersionsKept),
  });
}

function setFunctions(
  state: MetaState,
  cmd: Extract<MetaCommand, { kind: "set-functions" }>,
): Applied {
  const current = state.functions.version;
  if (cmd.expectedVersion !== current) {
    return fail(
      state,
      "functions-moved",
      `function libraries changed meanwhile (version ${current}, expected ${cmd.expectedVersion})`,
    );
  }
  if (cmd.payload.length > functionsBytesMax) {
    return fail(
      state,
      "invalid-functions",
      `function libraries of ${cmd.payload.length} bytes exceed ${functionsBytesMax}`,
    );
  }
  // The version is a u32 in the codecs; 4 billion loads is no real cluster's.
  if (current >= u32Max) return fail(state, "invalid-functions", "function versions exhausted");
  // A plain copy: the caller's bytes (maybe a Buffer over a pooled slab) stay the caller's.
  const payload = new Uint8Array(cmd.payload);
  return ok({ ...state, functions: { version: current + 1, payload } });
}

function appendJournal(state: MetaState, drafts: readonly JournalDraft[]): Applied {
  if (drafts.length === 0 || drafts.length > journalBatchMax) {
    return fail(state, "invalid-journal", `${drafts.length} entries in one batch`);
  }
  const entries = drafts.map((d, i): JournalEntry => ({ ...d, seq: state.journalSeq + 1 + i }));
  return ok({
    ...state,
    journal: bounded(state.journal, entries, journalEntriesKept),
    journalSeq: state.journalSeq + entries.length,
  });
}

function bootstrap(state: MetaState, cmd: Extract<MetaCommand, { kind: "bootstrap" }>): Applied {
  if (state.clusterId !== null) {
    return fail(state, "already-bootstrapped", `cluster ${state.clusterId} is bootstrapped`);
  }
  const idBytes = textEncoder.encode(cmd.clusterId).length;
  if (idBytes < 1 || idBytes > clusterIdBytesMax) {
    return fail(
      state,
      "invalid-cluster-id",
      `cluster id of ${idBytes} bytes, not 1..${clusterIdBytesMax}`,
    );
  }
  if (!isIntIn(cmd.shardCount, 1, SLOT_COUNT)) {
    return fail(state, "invalid-setting", `shard count ${cmd.shardCount} is not 1..${SLOT_COUNT}`);
  }
  if (!isIntIn(cmd.replicaTarget, 1, replicaTargetMax)) {
    return fail(
      state,
      "invalid-setting",
      `replica target ${cmd.replicaTarget} is not 1..${replicaTargetMax}`,
    );
  }
  const node: RegisteredNode = { ...pickAddress(cmd.node), raftId: firstRaftId, status: "active" };
  const problems = validateNodes([node]);
  if (problems.length > 0) return fail(state, "invalid-node", problems.join("; "));
  const shardMap = bootstrapShardMap([node], cmd.shardCount, cmd.replicaTarget);
  const next: MetaState = {
    clusterId: cmd.clusterId,
    nextRaftId: firstRaftId + 1,
    settings: { ...state.settings, replicaTarget: cmd.replicaTarget, shardCount: cmd.shardCount },
    nodes: [node],
    shardMap,
    marks: new Map(shardMap.shards.map((s) => [s.id, { index: 0, term: 0 }])),
    metaVoters: [firstRaftId],
    contracts: state.contracts,
    journal: state.journal,
    journalSeq: state.journalSeq,
    functions: state.functions,
  };
  return ok(next, firstRaftId);
}

/**
 * Only the address fields: a command decoded or built elsewhere may carry more. A redirect
 * port that is the Redis port is no port of its own, and left out (as decodeNodes does).
 */
function pickAddress(a: NodeAddress): NodeAddress {
  const { id, host, port, busPort, zone } = a;
  const address = { id, host, port, busPort, zone };
  return hasOwnRedirectPort(a) ? { ...address, redirectPort: redirectPortOf(a) } : address;
}

function sameAddress(a: NodeAddress, b: NodeAddress): boolean {
  return (
    a.host === b.host &&
    a.port === b.port &&
    a.busPort === b.busPort &&
    a.zone === b.zone &&
    redirectPortOf(a) === redirectPortOf(b)
  );
}

/** A node other than `id`, not removed, already at host:port. */
function addressHolder(state: MetaState, a: NodeAddress): RegisteredNode | undefined {
  return state.nodes.find(
    (n) => n.status !== "removed" && n.id !== a.id && n.host === a.host && n.port === a.port,
  );
}

/**
 * Idempotent: a known node id gets its raft id back. A known node that comes back with a
 * new address or zone (a restart on another IP) has them updated; a removed one is refused.
 */
function registerNode(state: MetaState, address: NodeAddress): Applied {
  const a = pickAddress(address);
  const known = nodeById(state, a.id);
  if (known?.status === "removed") {
    return fail(state, "node-removed", `node ${a.id} was removed; join with a new node id`);
  }
  if (known !== undefined && sameAddress(known, a)) return ok(state, known.raftId);
  if (known === undefined && state.nodes.length >= nodesMax) {
    return fail(state, "registry-full", `the registry holds ${nodesMax} nodes`);
  }
  if (known === undefined && state.nextRaftId > u32Max) {
    return fail(state, "registry-full", "raft ids are exhausted");
  }
  const raftId = known?.raftId ?? state.nextRaftId;
  const node: RegisteredNode = { ...a, raftId, status: known?.status ?? "active" };
  const problems = validateNodes([node]);
  if (problems.length > 0) return fail(state, "invalid-node", problems.join("; "));
  const holder = addressHolder(state, a);
  if (holder !== undefined) {
    return fail(
      state,
      "address-in-use",
      `${a.host}:${a.port} belongs to node ${holder.id} (${holder.status}); remove it first`,
    );
  }
  const nodes =
    known === undefined
      ? [...state.nodes, node]
      : state.nodes.map((n) => (n.id === a.id ? node : n));
  const nextRaftId = known === undefined ? state.nextRaftId + 1 : state.nextRaftId;
  return ok({ ...state, nodes, nextRaftId }, raftId);
}

/** The shards that hold `raftId` as a voter or a learner. */
function shardsHolding(map: ShardMap, raftId: number): Shard[] {
  return map.shards.filter((s) => s.replicas.includes(raftId) || s.learners.includes(raftId));
}

/**
 * active ⇄ removing; either → removed once the node holds nothing (no replica, learner or
 * desired meta vote); removed is final. Setting the current status again is a no-op.
 */
function setNodeStatus(state: MetaState, id: string, status: NodeStatus): Applied {
  const node = nodeById(state, id);
  if (node === undefined) return fail(state, "unknown-node", `no node ${id}`);
  if (node.status === status) return ok(state);
  if (node.status === "removed") return fail(state, "node-removed", `node ${id} was removed`);
  if (status !== "active" && node.status === "active") {
    const others = state.nodes.some((n) => n.status === "active" && n.id !== id);
    if (!others) return fail(state, "last-active-node", `node ${id} is the last active node`);
  }
  if (status === "removed") {
    const held = shardsHolding(state.shardMap, node.raftId);
    if (held.length > 0) {
      const some = held.slice(0, 5).map((s) => s.id);
      return fail(
        state,
        "node-in-use",
        `node ${id} still holds ${held.length} shard replicas (shards ${some.join(", ")}${held.length > 5 ? ", ..." : ""})`,
      );
    }
    if (state.metaVoters.includes(node.raftId)) {
      return fail(state, "node-in-use", `node ${id} is a desired meta voter`);
    }
  }
  const changed: RegisteredNode = { ...node, status };
  return ok({ ...state, nodes: state.nodes.map((n) => (n.id === id ? changed : n)) });
}

function recordShardChange(
  state: MetaState,
  cmd: Extract<MetaCommand, { kind: "record-shard-change" }>,
): Applied {
  const map = state.shardMap;
  if (cmd.expectedEpoch !== map.epoch) {
    return fail(
      state,
      "epoch-moved",
      `expected epoch ${cmd.expectedEpoch}, the map is at ${map.epoch}`,
    );
  }
  const shard = map.shards.find((s) => s.id === cmd.shard);
  if (shard === undefined) return fail(state, "unknown-shard", `no shard ${cmd.shard}`);
  const { kind, node } = cmd.change;
  const registered = nodeByRaftId(state, node);
  if (registered === undefined) return fail(state, "unknown-node", `no node with raft id ${node}`);
  const mark = state.marks.get(shard.id) ?? { index: 0, term: 0 };
  if (kind === "leader" ? cmd.observedTerm < mark.term : cmd.observedIndex < mark.index) {
    return fail(
      state,
      "stale-observation",
      `shard ${shard.id} was observed at index ${mark.index} term ${mark.term}; this change at index ${cmd.observedIndex} term ${cmd.observedTerm}`,
    );
  }
  const refusal = changeRefusal(shard, cmd.change, registered);
  if (refusal !== null) return fail(state, refusal.code, refusal.message);
  const marks = new Map(state.marks);
  marks.set(shard.id, {
    index: Math.max(mark.index, cmd.observedIndex),
    term: Math.max(mark.term, cmd.observedTerm),
  });
  if (kind === "leader" && shard.leader === node) return ok({ ...state, marks });
  const step: PlacementStep =
    kind === "leader"
      ? { kind: "transfer-leader", shard: shard.id, to: node }
      : { kind, shard: shard.id, node };
  return ok({ ...state, shardMap: applyStep(map, step), marks });
}

/** Why `change` does not fit `shard`, or null if it does. */
function changeRefusal(
  shard: Shard,
  change: ShardChange,
  node: RegisteredNode,
): { code: MetaErrorCode; message: string } | null {
  const who = `node ${change.node}`;
  const where = `shard ${shard.id}`;
  const voter = shard.replicas.includes(change.node);
  const learner = shard.learners.includes(change.node);
  const invalid = (message: string) => ({ code: "invalid-change" as const, message });
  switch (change.kind) {
    case "add-learner":
      if (node.status === "removed") return { code: "node-removed", message: `${who} was removed` };
      if (voter || learner) return invalid(`${who} is already a member of ${where}`);
      if (shard.replicas.length + shard.learners.length >= shardMembersMax) {
        return { code: "shard-full", message: `${where} has ${shardMembersMax} members` };
      }
      return null;
    case "promote":
      return learner ? null : invalid(`${who} is not a learner of ${where}`);
    case "remove":
      if (!voter && !learner) return invalid(`${who} is not a member of ${where}`);
      if (voter && shard.replicas.length === 1)
        return invalid(`${who} is the last voter of ${where}`);
      return null;
    case "leader":
      return voter ? null : invalid(`${who} is not a voter of ${where}`);
  }
}

function sameSet(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((x) => set.has(x));
}

function setMetaVoters(state: MetaState, from: readonly number[], to: readonly number[]): Applied {
  if (!sameSet(from, state.metaVoters)) {
    return fail(
      state,
      "meta-voters-moved",
      `expected meta voters [${from.join(", ")}], they are [${state.metaVoters.join(", ")}]`,
    );
  }
  const voters = [...new Set(to)].sort((a, b) => a - b);
  if (voters.length !== to.length || voters.length < 1 || voters.length > metaVotersMax) {
    return fail(
      state,
      "invalid-meta-voters",
      `[${to.join(", ")}] is not 1..${metaVotersMax} distinct nodes`,
    );
  }
  for (const id of voters) {
    const node = nodeByRaftId(state, id);
    if (node === undefined || node.status === "removed") {
      return fail(
        state,
        "invalid-meta-voters",
        `raft id ${id} is not a registered node that is not removed`,
      );
    }
  }
  if (sameSet(voters, state.metaVoters)) return ok(state);
  return ok({ ...state, metaVoters: voters });
}

const settingRanges: Record<SettingName, readonly [min: number, max: number]> = {
  "replica-target": [1, replicaTargetMax],
  "conf-changes-max": [1, confChangesMaxLimit],
  "meta-voters": [1, metaVotersMax],
};

function setSetting(state: MetaState, name: SettingName, value: number): Applied {
  const [min, max] = settingRanges[name];
  if (!isIntIn(value, min, max)) {
    return fail(state, "invalid-setting", `${name} ${value} is not ${min}..${max}`);
  }
  const key = (
    {
      "replica-target": "replicaTarget",
      "conf-changes-max": "confChangesMax",
      "meta-voters": "metaVoters",
    } as const
  )[name];
  if (state.settings[key] === value) return ok(state);
  return ok({ ...state, settings: { ...state.settings, [key]: value } });
}

function isIntIn(v: number, min: number, max: number): boolean {
  return Number.isInteger(v) && v >= min && v <= max;
}

// ---- command codec -----------------------------------------------------------------------
//
// command  = version:u8 kind:u8 body
// bootstrap            clusterId:str8 address shardCount:u16 replicaTarget:u8
// register-node        address
// set-node-status      id:20 bytes status:u8
// record-shard-change  expectedEpoch:u64 shard:u32 change:u8 node:u32 observedIndex:u64
//                      observedTerm:u64
// set-meta-voters      from:ids8 to:ids8
// set-setting          name:u8 value:u32
// apply-contract       expectedVersion:u32 contract (meta-records.ts writeContract)
// journal              count:u8 draft{count} (meta-records.ts writeDraft)
// set-functions        expectedVersion:u32 payload:bytes32
// address  = id:20 bytes (the 40 hex digits) host:str8 port:u16 busPort:u16 zone:str8
//            redirectPort:u16 (version 2; version 1 has none: the port, and is what a
//            command is written in when its address has no redirect port of its own)
// str8     = length:u8 UTF-8 bytes;  ids8 = count:u8 raftId:u32{count}
// bytes32  = length:u32 bytes (at most functionsBytesMax)
//
// A new kind takes the next code and needs no new version: the version tells how an
// address is written, and a node that does not know a kind refuses it as "bad-command".
//
// Decoding checks the encoding (bounds, codes, no zero raft id, nothing trailing) and
// never throws; whether the values make sense is applyMetaCommand's question, so that a
// bad value gets a precise result instead of "bad-command". Encoding what cannot be
// decoded back is a programmer error: it throws.

export const metaCommandVersion = 2;

const u32Max = 0xffff_ffff;
const nodeIdBytes = 20;
const nodeIdPattern = /^[0-9a-f]{40}$/;
const textEncoder = new TextEncoder();

function writeNodeId(w: ByteWriter, id: string): void {
  if (!nodeIdPattern.test(id)) throw new RangeError(`node id ${id} is not 40 lowercase hex digits`);
  for (let i = 0; i < nodeIdBytes; i++) w.u8(Number.parseInt(id.slice(i * 2, i * 2 + 2), 16));
}

function readNodeId(r: ByteReader): string {
  let id = "";
  for (const b of r.bytesOf(nodeIdBytes)) id += b.toString(16).padStart(2, "0");
  return id;
}

function writeAddress(w: ByteWriter, a: NodeAddress, version: number): void {
  writeNodeId(w, a.id);
  writeText(w, a.host, hostBytesMax, "host");
  w.u16(a.port);
  w.u16(a.busPort);
  writeText(w, a.zone, zoneBytesMax, "zone");
  if (version >= 2) w.u16(redirectPortOf(a));
}

function readAddress(r: ByteReader, version: number): NodeAddress {
  const id = readNodeId(r);
  const host = readText(r, hostBytesMax, "host");
  const port = r.u16();
  const busPort = r.u16();
  const zone = readText(r, zoneBytesMax, "zone");
  const redirectPort = version === 1 ? port : r.u16();
  return pickAddress({ id, host, port, busPort, zone, redirectPort });
}

function writeRaftIds(w: ByteWriter, ids: readonly number[], max: number): void {
  if (ids.length > max) throw new RangeError(`${ids.length} raft ids exceed ${max}`);
  w.u8(ids.length);
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 1 || id > u32Max) throw new RangeError(`raft id ${id}`);
    w.u32(id);
  }
}

function readRaftIds(r: ByteReader, max: number): number[] {
  const n = r.u8();
  if (n > max) throw new DecodeError("too many raft ids");
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const id = r.u32();
    if (id === 0) throw new DecodeError("raft id 0");
    ids.push(id);
  }
  return ids;
}

function writePayload(w: ByteWriter, payload: Uint8Array): void {
  if (payload.length > functionsBytesMax) {
    throw new RangeError(
      `function libraries of ${payload.length} bytes exceed ${functionsBytesMax}`,
    );
  }
  w.u32(payload.length);
  w.raw(payload);
}

function readPayload(r: ByteReader): Uint8Array {
  const n = r.u32();
  if (n > functionsBytesMax) throw new DecodeError("function libraries too large");
  return r.bytesOf(n);
}

function readCode<T>(list: readonly T[], r: ByteReader, what: string): T {
  const c = r.u8();
  const v = list[c];
  if (v === undefined) throw new DecodeError(`unknown ${what} ${c}`);
  return v;
}

function writeCode<T>(w: ByteWriter, list: readonly T[], v: T): void {
  const c = list.indexOf(v);
  if (c < 0) throw new RangeError(`unknown code ${String(v)}`);
  w.u8(c);
}

export function encodeMetaCommand(cmd: MetaCommand): Uint8Array {
  const w = new ByteWriter(64);
  // Version 1 wherever it says the same (no address with a redirect port of its own), so
  // that a node of the version before reads it: a cluster can be upgraded node by node
  // (docs/cluster.md, "Two ports for clients").
  const ownPort =
    (cmd.kind === "bootstrap" || cmd.kind === "register-node") && hasOwnRedirectPort(cmd.node);
  const version = ownPort ? metaCommandVersion : 1;
  w.u8(version);
  writeCode(w, commandKinds, cmd.kind);
  switch (cmd.kind) {
    case "bootstrap":
      writeText(w, cmd.clusterId, clusterIdBytesMax, "cluster id");
      writeAddress(w, cmd.node, version);
      w.u16(cmd.shardCount);
      w.u8(cmd.replicaTarget);
      break;
    case "register-node":
      writeAddress(w, cmd.node, version);
      break;
    case "set-node-status":
      writeNodeId(w, cmd.id);
      writeCode(w, nodeStatuses, cmd.status);
      break;
    case "record-shard-change":
      w.u64(cmd.expectedEpoch);
      w.u32(cmd.shard);
      writeCode(w, changeKinds, cmd.change.kind);
      if (cmd.change.node < 1) throw new RangeError(`raft id ${cmd.change.node}`);
      w.u32(cmd.change.node);
      w.u64(cmd.observedIndex);
      w.u64(cmd.observedTerm);
      break;
    case "set-meta-voters":
      writeRaftIds(w, cmd.from, metaVotersMax);
      writeRaftIds(w, cmd.to, metaVotersMax);
      break;
    case "set-setting":
      writeCode(w, settingNames, cmd.name);
      w.u32(cmd.value);
      break;
    case "apply-contract":
      w.u32(cmd.expectedVersion);
      writeContract(w, {
        version: 0,
        appliedAtMs: cmd.appliedAtMs,
        text: cmd.text,
        replicas: cmd.replicas,
        deadNodeAfterMs: cmd.deadNodeAfterMs,
      });
      break;
    case "journal":
      if (cmd.entries.length > journalBatchMax) throw new RangeError("journal batch too large");
      w.u8(cmd.entries.length);
      for (const e of cmd.entries) writeDraft(w, e);
      break;
    case "set-functions":
      w.u32(cmd.expectedVersion);
      writePayload(w, cmd.payload);
      break;
  }
  return w.done();
}

export function decodeMetaCommand(bytes: Uint8Array): DecodeResult<MetaCommand> {
  try {
    const r = new ByteReader(bytes);
    const version = r.u8();
    if (version !== metaCommandVersion && version !== 1) {
      throw new DecodeError("unknown meta command version");
    }
    const cmd = readCommandBody(r, readCode(commandKinds, r, "meta command"), version);
    if (r.remaining !== 0) throw new DecodeError("trailing bytes");
    return { ok: true, value: cmd };
  } catch (e) {
    if (e instanceof DecodeError) return { ok: false, error: e.message };
    throw e;
  }
}

function readCommandBody(r: ByteReader, kind: MetaCommandKind, version: number): MetaCommand {
  switch (kind) {
    case "bootstrap": {
      const clusterId = readText(r, clusterIdBytesMax, "cluster id");
      const node = readAddress(r, version);
      return { kind, clusterId, node, shardCount: r.u16(), replicaTarget: r.u8() };
    }
    case "register-node":
      return { kind, node: readAddress(r, version) };
    case "set-node-status":
      return { kind, id: readNodeId(r), status: readCode(nodeStatuses, r, "node status") };
    case "record-shard-change": {
      const expectedEpoch = r.u64();
      const shard = r.u32();
      const changeKind = readCode(changeKinds, r, "shard change");
      const node = r.u32();
      if (node === 0) throw new DecodeError("raft id 0");
      const observedIndex = r.u64();
      const observedTerm = r.u64();
      return {
        kind,
        expectedEpoch,
        shard,
        change: { kind: changeKind, node },
        observedIndex,
        observedTerm,
      };
    }
    case "set-meta-voters": {
      const from = readRaftIds(r, metaVotersMax);
      return { kind, from, to: readRaftIds(r, metaVotersMax) };
    }
    case "set-setting":
      return { kind, name: readCode(settingNames, r, "setting"), value: r.u32() };
    case "apply-contract": {
      const expectedVersion = r.u32();
      const c = readContract(r);
      return {
        kind,
        expectedVersion,
        appliedAtMs: c.appliedAtMs,
        text: c.text,
        replicas: c.replicas,
        deadNodeAfterMs: c.deadNodeAfterMs,
      };
    }
    case "journal": {
      const n = r.u8();
      if (n > journalBatchMax) throw new DecodeError("journal batch too large");
      const entries: JournalDraft[] = [];
      for (let i = 0; i < n; i++) entries.push(readDraft(r));
      return { kind, entries };
    }
    case "set-functions": {
      const expectedVersion = r.u32();
      return { kind, expectedVersion, payload: readPayload(r) };
    }
  }
}

// ---- state image codec -------------------------------------------------------------------
//
// image    = version:u8 bootstrapped:u8 (0: the empty state, nothing follows)
//            clusterId:str8 nextRaftId:u64 replicaTarget:u8 shardCount:u16
//            confChangesMax:u16 metaVoters:u8
//            nodesLength:u32 nodes (shard-map.ts encodeNodes) statuses:u16 status:u8{..}
//            mapLength:u32 shardmap (encodeShardMap) marks:u32 (index:u64 term:u64){marks}
//            metaVoterIds:ids8
//            (version 2 on) contracts:u8 contract{contracts} journalSeq:u64
//            journalLength:u16 entry{journalLength} (meta-records.ts)
//            (version 3 on) functionsVersion:u32 functionsPayload:bytes32
// Marks come in the shard map's shard order, one per shard. The same state always gives
// the same bytes: every list is in a fixed order. An older version decodes to what its
// fields hold and the rest empty (version 2: no function libraries).

export const metaImageVersion = 3;

export function encodeMetaState(state: MetaState): Uint8Array {
  const w = new ByteWriter(
    256 +
      state.nodes.length * 60 +
      state.shardMap.shards.length * 64 +
      state.functions.payload.length,
  );
  w.u8(metaImageVersion);
  if (state.clusterId === null) {
    w.u8(0);
    return w.done();
  }
  w.u8(1);
  writeText(w, state.clusterId, clusterIdBytesMax, "cluster id");
  w.u64(state.nextRaftId);
  const s = state.settings;
  w.u8(s.replicaTarget);
  w.u16(s.shardCount);
  w.u16(s.confChangesMax);
  w.u8(s.metaVoters);
  const nodes = encodeNodes(state.nodes);
  w.u32(nodes.length);
  w.raw(nodes);
  w.u16(state.nodes.length);
  for (const n of state.nodes) writeCode(w, nodeStatuses, n.status);
  const map = encodeShardMap(state.shardMap);
  w.u32(map.length);
  w.raw(map);
  w.u32(state.shardMap.shards.length);
  for (const shard of state.shardMap.shards) {
    const mark = state.marks.get(shard.id) ?? { index: 0, term: 0 };
    w.u64(mark.index);
    w.u64(mark.term);
  }
  writeRaftIds(w, state.metaVoters, metaVotersMax);
  // Version 2: the contract's versions and the decision journal.
  w.u8(state.contracts.length);
  for (const c of state.contracts) writeContract(w, c);
  w.u64(state.journalSeq);
  w.u16(state.journal.length);
  for (const e of state.journal) writeEntry(w, e);
  // Version 3: the function libraries.
  w.u32(state.functions.version);
  writePayload(w, state.functions.payload);
  return w.done();
}

/**
 * The state an image holds. Beyond the encoding it checks coherence — unique ids, raft
 * ids below nextRaftId, a shard map valid against the registry, meta voters registered —
 * so a corrupt image is refused rather than installed.
 */
export function decodeMetaState(bytes: Uint8Array): DecodeResult<MetaState> {
  try {
    const r = new ByteReader(bytes);
    const version = r.u8();
    if (!isIntIn(version, 1, metaImageVersion)) {
      throw new DecodeError("unknown meta image version");
    }
    const bootstrapped = r.u8();
    if (bootstrapped > 1) throw new DecodeError("bad bootstrapped flag");
    if (bootstrapped === 0) {
      if (r.remaining !== 0) throw new DecodeError("trailing bytes");
      return { ok: true, value: emptyMetaState };
    }
    const state = readState(r, version);
    if (r.remaining !== 0) throw new DecodeError("trailing bytes");
    const problems = stateProblems(state);
    if (problems.length > 0) throw new DecodeError(problems.slice(0, 3).join("; "));
    return { ok: true, value: state };
  } catch (e) {
    if (e instanceof DecodeError) return { ok: false, error: e.message };
    throw e;
  }
}

function readState(r: ByteReader, version: number): MetaState {
  const clusterId = readText(r, clusterIdBytesMax, "cluster id");
  const nextRaftId = r.u64();
  const settings: MetaSettings = {
    replicaTarget: r.u8(),
    shardCount: r.u16(),
    confChangesMax: r.u16(),
    metaVoters: r.u8(),
  };
  const nodes = decodeNodes(r.bytesOf(r.u32()));
  if (!nodes.ok) throw new DecodeError(`nodes: ${nodes.error}`);
  if (r.u16() !== nodes.value.length) throw new DecodeError("statuses do not match the nodes");
  const registered = nodes.value.map(
    (n): RegisteredNode => ({ ...n, status: readCode(nodeStatuses, r, "node status") }),
  );
  const map = decodeShardMap(r.bytesOf(r.u32()));
  if (!map.ok) throw new DecodeError(`shard map: ${map.error}`);
  if (r.u32() !== map.value.shards.length) throw new DecodeError("marks do not match the shards");
  const marks = new Map<number, ObservedMark>();
  for (const shard of map.value.shards) marks.set(shard.id, { index: r.u64(), term: r.u64() });
  const metaVoters = readRaftIds(r, metaVotersMax);
  const contracts: ContractVersion[] = [];
  const journal: JournalEntry[] = [];
  let journalSeq = 0;
  if (version >= 2) {
    const n = r.u8();
    if (n > contractVersionsKept) throw new DecodeError("too many contract versions");
    for (let i = 0; i < n; i++) contracts.push(readContract(r));
    journalSeq = r.u64();
    const m = r.u16();
    if (m > journalEntriesKept) throw new DecodeError("journal too long");
    for (let i = 0; i < m; i++) journal.push(readEntry(r));
  }
  let functions = emptyMetaState.functions;
  if (version >= 3) {
    const functionsVersion = r.u32();
    const payload = readPayload(r);
    if (functionsVersion !== 0 || payload.length !== 0) {
      functions = { version: functionsVersion, payload };
    }
  }
  return {
    clusterId,
    nextRaftId,
    settings,
    nodes: registered,
    shardMap: map.value,
    marks,
    metaVoters,
    contracts,
    journal,
    journalSeq,
    functions,
  };
}

/** What makes a decoded state incoherent ([] when nothing does). */
function stateProblems(s: MetaState): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  const raftIds = new Set<number>();
  for (const n of s.nodes) {
    if (ids.has(n.id) || raftIds.has(n.raftId)) problems.push(`node ${n.id} is listed twice`);
    if (n.raftId >= s.nextRaftId) problems.push(`node ${n.id} has raft id ${n.raftId} ≥ next`);
    ids.add(n.id);
    raftIds.add(n.raftId);
  }
  const live = s.nodes.filter((n) => n.status !== "removed");
  problems.push(...validateNodes(live));
  problems.push(...validateShardMap(s.shardMap, s.nodes));
  for (const id of s.metaVoters) {
    if (!raftIds.has(id)) problems.push(`meta voter ${id} is not a node`);
  }
  const set = s.settings;
  if (!isIntIn(set.replicaTarget, 1, replicaTargetMax)) problems.push("bad replica target");
  if (!isIntIn(set.confChangesMax, 1, confChangesMaxLimit)) problems.push("bad conf changes max");
  if (!isIntIn(set.metaVoters, 1, metaVotersMax)) problems.push("bad meta voters");
  const f = s.functions;
  if (f.payload.length > functionsBytesMax) problems.push("function libraries too large");
  if (!isIntIn(f.version, 0, u32Max)) problems.push("bad function libraries version");
  if (f.version === 0 && f.payload.length > 0) problems.push("function libraries at version 0");
  return problems;
}

// ---- the machine -------------------------------------------------------------------------

export interface MetaMachineOptions {
  /**
   * Called once after each apply() that changed something, and after each restore, with
   * what changed: the server refreshes its routing table when shardMap or nodes did, and
   * its function libraries when functions did.
   * Called from inside MultiRaft.flush: it must not throw, nor call into MultiRaft
   * except to queue inputs (propose and the like).
   */
  onChange?: (changes: MetaChanges, machine: MetaMachine) => void;
  /** Read-index reads whose index is applied: serve them from the accessors now. */
  onReads?: (reads: readonly ReadState[]) => void;
}

interface Waiting {
  readonly term: number;
  readonly waiter: MetaWaiter;
  /** 0 while this replica leads in `term`; else the orphan round it stopped in (dropOrphans). */
  orphaned: number;
}

const noCommand: MetaResult = {
  ok: false,
  code: "bad-command",
  message: "the entry is no command",
};
const noChanges: MetaChanges = {
  nodes: false,
  shardMap: false,
  settings: false,
  metaVoters: false,
  functions: false,
};
const allChanges: MetaChanges = {
  nodes: true,
  shardMap: true,
  settings: true,
  metaVoters: true,
  functions: true,
};

/**
 * The meta group's GroupMachine. Its state is volatile: after a restart MultiRaft
 * restores the stored snapshot and re-applies the committed entries after it.
 *
 * A proposer proposes encodeMetaCommand(cmd) on the meta leader (MultiRaft.propose),
 * then at once — before the next flush — calls expect(index, term, waiter) with what
 * propose returned. The waiter then gets the command's result when that entry applies,
 * or a ProposalLostError when the outcome cannot be known here. It holds no promise
 * (STYLE.md §1): the server wraps it in one if it likes:
 *
 *   new Promise<MetaResult>((resolve, reject) => meta.expect(index, term, { resolve, reject }))
 */
export class MetaMachine implements GroupMachine {
  private current: MetaState = emptyMetaState;
  private appliedIndex = 0;
  /** By log index, each waiting for the entry at its index to apply. */
  private readonly waiting = new Map<number, Waiting>();
  /** Counts the host's dropOrphans calls: a waiter orphaned in an earlier round is dropped. */
  private orphanRound = 1;

  constructor(private readonly options: MetaMachineOptions = {}) {}

  // ---- reading -----------------------------------------------------------------------------

  /** The whole state, an immutable value: keep it as long as you like. */
  get state(): MetaState {
    return this.current;
  }

  get applied(): number {
    return this.appliedIndex;
  }

  get epoch(): number {
    return this.current.shardMap.epoch;
  }

  get clusterId(): string | null {
    return this.current.clusterId;
  }

  nodes(): readonly RegisteredNode[] {
    return this.current.nodes;
  }

  shardMap(): ShardMap {
    return this.current.shardMap;
  }

  settings(): MetaSettings {
    return this.current.settings;
  }

  metaVoters(): readonly number[] {
    return this.current.metaVoters;
  }

  functions(): FunctionLibraries {
    return this.current.functions;
  }

  nodeByRaftId(raftId: number): RegisteredNode | undefined {
    return nodeByRaftId(this.current, raftId);
  }

  nodeById(id: string): RegisteredNode | undefined {
    return nodeById(this.current, id);
  }

  /** Proposers waiting for an outcome. */
  get waiters(): number {
    return this.waiting.size;
  }

  // ---- proposals ---------------------------------------------------------------------------

  /** See the class comment. A proposal already applied, or one too many, is rejected at once. */
  expect(index: number, term: number, waiter: MetaWaiter): void {
    assert(Number.isSafeInteger(index) && index > 0, "meta: bad index to expect");
    if (index <= this.appliedIndex || this.waiting.size >= waitersMax) {
      waiter.reject(new ProposalLostError("not-waited", index, term));
      return;
    }
    // An older proposal at the same index was from another term: it is overwritten.
    const older = this.waiting.get(index);
    older?.waiter.reject(new ProposalLostError("overwritten", index, older.term));
    this.waiting.set(index, { term, waiter, orphaned: 0 });
  }

  // ---- GroupMachine ------------------------------------------------------------------------

  apply(entries: readonly Entry[]): void {
    const before = this.current;
    for (const e of entries) {
      assert(
        e.index === this.appliedIndex + 1,
        `meta: applies ${e.index} after ${this.appliedIndex}`,
      );
      this.appliedIndex = e.index;
      const result = this.applyEntry(e);
      const w = this.waiting.get(e.index);
      if (w === undefined) continue;
      this.waiting.delete(e.index);
      if (w.term !== e.term) w.waiter.reject(new ProposalLostError("overwritten", e.index, w.term));
      else w.waiter.resolve(result);
    }
    this.notify(changesBetween(before, this.current));
  }

  /** The result of an entry; the leader's no-op and conf entries are no command. */
  private applyEntry(e: Entry): MetaResult {
    if (e.type !== "normal" || e.data.length === 0) return noCommand;
    const decoded = decodeMetaCommand(e.data);
    if (!decoded.ok) return { ok: false, code: "bad-command", message: decoded.error };
    const { state, result } = applyMetaCommand(this.current, decoded.value);
    this.current = state;
    return result;
  }

  restore(snapshot: Snapshot): void {
    const index = snapshot.meta.index;
    if (snapshot.data.length === 0) this.current = emptyMetaState;
    else {
      const decoded = decodeMetaState(snapshot.data);
      // The image was taken by snapshot() on a replica and stored or sent checksummed: a
      // bad one is corrupt storage or a bug, not input to handle.
      assert(
        decoded.ok,
        `meta: snapshot at ${index} does not decode: ${decoded.ok ? "" : decoded.error}`,
      );
      this.current = decoded.value;
    }
    this.appliedIndex = index;
    for (const [i, w] of [...this.waiting]) {
      if (i > index) continue;
      this.waiting.delete(i);
      w.waiter.reject(new ProposalLostError("snapshot", i, w.term));
    }
    this.notify(allChanges);
  }

  snapshot(): Uint8Array {
    return encodeMetaState(this.current);
  }

  reads(reads: readonly ReadState[]): void {
    this.options.onReads?.(reads);
  }

  /**
   * Not leading any more, or leading in a new term: a proposal waiting here may or may not
   * commit. It keeps waiting, as an orphan, because this replica goes on applying the meta
   * log (every node holds a replica): the entry applied at its index settles it, with the
   * command's result when it is the proposal's own (same index and term), or as not run
   * when it is another. A meta leader that paused (a stop, a long collection) or handed
   * its role over usually learns so within an election. The host bounds the wait with
   * dropOrphans, as ShardMachine's.
   */
  roleChanged(status: GroupStatus): void {
    const leading = status.role === "leader";
    for (const w of this.waiting.values()) {
      if (w.orphaned === 0 && (!leading || w.term < status.term)) w.orphaned = this.orphanRound;
    }
  }

  /**
   * Gives up on the orphans (see roleChanged) of the rounds before this call: their
   * outcome is unknown ("leadership-lost"). Called every so often, an orphan waits between
   * one and two periods for the entry at its index to be applied here.
   */
  dropOrphans(): void {
    const round = this.orphanRound;
    for (const [i, w] of [...this.waiting]) {
      if (w.orphaned === 0 || w.orphaned >= round) continue;
      this.waiting.delete(i);
      w.waiter.reject(new ProposalLostError("leadership-lost", i, w.term));
    }
    this.orphanRound++;
  }

  private notify(changes: MetaChanges): void {
    if (changes === noChanges || this.options.onChange === undefined) return;
    const { nodes, shardMap, settings, metaVoters, functions } = changes;
    if (!(nodes || shardMap || settings || metaVoters || functions)) return;
    this.options.onChange(changes, this);
  }
}

function changesBetween(a: MetaState, b: MetaState): MetaChanges {
  if (a === b) return noChanges;
  return {
    nodes: a.nodes !== b.nodes,
    shardMap: a.shardMap !== b.shardMap,
    settings: a.settings !== b.settings,
    metaVoters: a.metaVoters !== b.metaVoters,
    functions: a.functions !== b.functions,
  };
}

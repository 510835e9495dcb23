/**
 * What a member advertises about itself, so later layers can place data by zone and
 * capacity. Bounded in size (codec.ts: metaBytesMax) because it rides in datagrams.
 */
export interface NodeMeta {
  /** Failure domain, e.g. "eu-west-1a"; "" when unknown. At most zoneBytesMax bytes. */
  zone: string;
  /** Further addresses, e.g. the client (RESP) address; at most metaAddressesMax. */
  addresses: string[];
  /** Capacity hints by name, e.g. { memoryBytes: 8e9, cpus: 4 }; at most capacityEntriesMax. */
  capacity: Record<string, number>;
  /** Bumped by every updateMeta(), so a reader can tell newer metadata from older. */
  version: number;
}

export type MemberState = "alive" | "suspect" | "dead" | "left";

/** One row of members(). */
export interface Member {
  id: string;
  /** Where to reach it: an opaque transport address such as "127.0.0.1:16380" or "n17". */
  address: string;
  state: MemberState;
  incarnation: number;
  meta: NodeMeta;
  /** When this member last changed state, on the caller's clock. */
  stateChangeMs: number;
}

/**
 * What the driver learns from the protocol. "joined": a member not known (or known dead
 * or left) is alive; "alive": a suspected member refuted; "updated": address or metadata
 * changed; "suspect", "dead", "left" as named.
 */
export type MemberEventKind = "joined" | "alive" | "suspect" | "dead" | "left" | "updated";

export interface MemberEvent {
  kind: MemberEventKind;
  id: string;
  address: string;
  incarnation: number;
  meta: NodeMeta;
  atMs: number;
}

/**
 * A message for the driver to send. reliable = over a stream (TCP): push-pull state
 * transfers, up to streamBytesMax. Otherwise a datagram (UDP) of at most datagramBytesMax;
 * losing one is expected and harmless.
 */
export interface Outgoing {
  to: string;
  data: Uint8Array;
  reliable: boolean;
}

/** The output of a step, as STYLE.md's pure-state-machine face: `ready()` then `advance()`. */
export interface Ready {
  messages: Outgoing[];
  events: MemberEvent[];
}

/** The node itself, as handed to the constructor. */
export interface SelfDescription {
  id: string;
  address: string;
  meta: NodeMeta;
}

/** Counters for introspection; every dropped input lands in exactly one of the drop ones. */
export interface MembershipStats {
  received: number;
  droppedOversized: number;
  droppedGarbled: number;
  droppedMembersFull: number;
  droppedRelaysFull: number;
  droppedBroadcastsFull: number;
  probes: number;
  probesFailed: number;
  indirectProbes: number;
  refutations: number;
  pushPulls: number;
  messagesSent: number;
  bytesSent: number;
}

export function emptyMeta(): NodeMeta {
  return { zone: "", addresses: [], capacity: {}, version: 0 };
}

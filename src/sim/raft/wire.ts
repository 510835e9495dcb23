import type { KvInput, KvOutput } from "./history.js";

/**
 * What travels between the scenario's processes, as datagrams: raft messages (codec.ts
 * bytes) between replicas, and the client protocol (small JSON) between clients and
 * replicas; a replica tells them apart by the sender's address (replicas are "r<id>",
 * clients "c<id>"). Everything is bytes on the simulated network, so loss, duplication
 * and reordering apply to all of it.
 */

/** A client's attempt `a` at its command `s`; retries of one command keep `s`. */
export interface ClientRequest {
  c: number;
  s: number;
  a: number;
  op: KvInput;
}

/**
 * "not-leader": ask `lead` (0 when unknown). "retry": refused, with no effect (no entry of
 * this term committed yet, overloaded, transferring). "lost": the node stopped leading
 * while the command waited; it may still commit.
 */
export type ReplyError = "not-leader" | "retry" | "lost";

export type ClientReply =
  | { k: "ok"; c: number; s: number; a: number; out: KvOutput }
  | { k: "err"; c: number; s: number; a: number; e: ReplyError; lead: number };

const text = new TextEncoder();
const untext = new TextDecoder();

export function encodeJson(value: ClientRequest | ClientReply): Uint8Array {
  return text.encode(JSON.stringify(value));
}

export function decodeJson<T extends ClientRequest | ClientReply>(data: Uint8Array): T {
  return JSON.parse(untext.decode(data)) as T;
}

/** A replica's address on the network. */
export function addressOf(id: number): string {
  return `r${id}`;
}

/** Replicas' addresses; anything else on the network is a client. */
export function isReplicaAddress(address: string): boolean {
  return address.charCodeAt(0) === 0x72; // "r"
}

import type { RaftNode } from "./raft.js";
import type { Entry, HardState, Message, ReadState, Snapshot } from "./types.js";

/**
 * The host's side of the Ready contract (types.ts, Ready) as three callbacks, for hosts
 * whose disk writes are synchronous (the simulator, tests, tools). A host that persists
 * asynchronously follows the same order by hand: persist, and only when durable, send
 * and apply, then advance().
 */
export interface ReadyHost {
  /** Must be durable when it returns: snapshot, then entries (truncating), then hard state. */
  persist(snapshot: Snapshot | null, entries: readonly Entry[], hardState: HardState | null): void;
  send(messages: readonly Message[]): void;
  /** The snapshot (if any) first, then the entries, in order; reads once applied. */
  apply(snapshot: Snapshot | null, committed: readonly Entry[], reads: readonly ReadState[]): void;
}

/** Runs every pending Ready of `node` through `host` in the contract's order; false if none. */
export function runReady(node: RaftNode, host: ReadyHost, roundsMax = 1_000): boolean {
  let ran = false;
  for (let round = 0; round < roundsMax && node.hasReady(); round++) {
    const rd = node.ready();
    host.persist(rd.snapshot, rd.entries, rd.hardState);
    host.send(rd.messages);
    host.apply(rd.snapshot, rd.committedEntries, rd.readStates);
    node.advance();
    ran = true;
  }
  return ran;
}

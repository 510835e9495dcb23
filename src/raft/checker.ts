import { assert } from "../core/assert.js";
import type { RaftNode } from "./raft.js";
import type { Entry, NodeId } from "./types.js";

interface CommittedRecord {
  term: number;
  data: Uint8Array;
  /** The lowest term in which some replica knew it committed: leaders after it must have it. */
  atTerm: number;
}

/**
 * Raft's safety properties (raft paper, figure 3), checked across the replicas of one
 * group as a test or the simulator runs them. Call observe() with every live replica
 * after each step and applied() for every entry a state machine applies; a violation is
 * an AssertionError naming the property.
 *
 * - Election safety: at most one leader per term.
 * - Log matching: two logs with an entry of the same index and term agree on it and on
 *   everything before it (checked by induction: each (index, term) always has the same
 *   data and the same preceding term).
 * - Leader completeness: an entry committed in term t is in the log of every leader of a
 *   term ≥ t.
 * - State machine safety: no two replicas apply different entries at one index.
 */
export class SafetyChecker {
  private readonly leaders = new Map<number, NodeId>();
  private readonly seen = new Map<string, { prevTerm: number; data: Uint8Array }>();
  private readonly committed = new Map<number, CommittedRecord>();
  private readonly appliedAt = new Map<number, { term: number; data: Uint8Array }>();

  observe(nodes: Iterable<RaftNode>): void {
    const list = [...nodes];
    for (const n of list) {
      n.checkInvariants();
      this.electionSafety(n);
      this.logMatching(n);
      this.recordCommitted(n);
    }
    for (const n of list) if (n.state === "leader") this.leaderCompleteness(n);
  }

  applied(id: NodeId, e: Entry): void {
    const prior = this.appliedAt.get(e.index);
    if (prior === undefined) {
      this.appliedAt.set(e.index, { term: e.term, data: e.data });
      return;
    }
    assert(
      prior.term === e.term && equalBytes(prior.data, e.data),
      `state machine safety: ${id} applied ${e.term}/${e.index}, another applied ${prior.term}/${e.index}`,
    );
  }

  /** How many indexes some replica has applied (for liveness checks). */
  get appliedCount(): number {
    return this.appliedAt.size;
  }

  private electionSafety(n: RaftNode): void {
    if (n.state !== "leader") return;
    const known = this.leaders.get(n.term);
    if (known === undefined) this.leaders.set(n.term, n.id);
    else assert(known === n.id, `election safety: ${known} and ${n.id} both led term ${n.term}`);
  }

  private entries(n: RaftNode): Entry[] {
    const log = n.log;
    return log.slice(log.firstIndex(), log.lastIndex() + 1, Number.POSITIVE_INFINITY) ?? [];
  }

  private logMatching(n: RaftNode): void {
    let prevTerm = n.log.term(n.log.firstIndex() - 1) ?? 0;
    for (const e of this.entries(n)) {
      const key = `${e.index}/${e.term}`;
      const prior = this.seen.get(key);
      if (prior === undefined) {
        this.seen.set(key, { prevTerm, data: e.data });
      } else {
        assert(
          prior.prevTerm === prevTerm && equalBytes(prior.data, e.data),
          `log matching: ${n.id} holds ${key} with a different history or data`,
        );
      }
      prevTerm = e.term;
    }
  }

  private recordCommitted(n: RaftNode): void {
    const log = n.log;
    const first = log.firstIndex();
    const lo = Math.max(first, log.committed - 2048);
    const ents = log.committed >= lo ? (log.slice(lo, log.committed + 1, Infinity) ?? []) : [];
    for (const e of ents) {
      const prior = this.committed.get(e.index);
      if (prior === undefined) {
        this.committed.set(e.index, { term: e.term, data: e.data, atTerm: n.term });
        continue;
      }
      assert(
        prior.term === e.term && equalBytes(prior.data, e.data),
        `commit safety: ${n.id} committed ${e.term}/${e.index}, another ${prior.term}/${e.index}`,
      );
      if (n.term < prior.atTerm) prior.atTerm = n.term;
    }
  }

  private leaderCompleteness(n: RaftNode): void {
    const first = n.log.firstIndex();
    for (const [index, rec] of this.committed) {
      if (rec.atTerm > n.term || index < first) continue;
      assert(
        n.log.term(index) === rec.term,
        `leader completeness: leader ${n.id} of term ${n.term} lacks ${rec.term}/${index}, committed by term ${rec.atTerm}`,
      );
    }
  }
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

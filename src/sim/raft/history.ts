import {
  applyKv,
  checkLinearizability,
  type KvInput,
  type KvOutput,
  type KvState,
  kvModel,
  type Operation,
  returned,
  unknownOutcome,
} from "../checkers/linearizability.js";

/**
 * The raft scenario's one doorway to the linearizability checker (src/sim/checkers), so a
 * change of its API touches this file only. Operations are Redis string commands on a few
 * keys (kvModel), checked per key.
 */

export type { KvInput, KvOutput, KvState };
export { applyKv };

export type KvOperation = Operation<KvInput, KvOutput>;

export interface HistoryVerdict {
  verdict: "linearizable" | "not-linearizable" | "unknown";
  /** Model steps the search took, over all keys. */
  steps: number;
  message: string;
}

/** Collects a client history on virtual time. */
export class KvHistory {
  private readonly ops: KvOperation[] = [];

  /** A reply arrived: the operation took effect once, inside [callMs, returnMs]. */
  returned(client: number, input: KvInput, callMs: number, returnMs: number, out: KvOutput): void {
    this.ops.push(returned(client, input, callMs, returnMs, out));
  }

  /** No reply, and it may have taken effect (at any time after its call) or not. */
  unknown(client: number, input: KvInput, callMs: number): void {
    this.ops.push(unknownOutcome(client, input, callMs));
  }

  get length(): number {
    return this.ops.length;
  }

  operations(): readonly KvOperation[] {
    return this.ops;
  }

  /** Checks every key's sub-history; stepsMax bounds each key's search. */
  check(stepsMax: number): HistoryVerdict {
    const r = checkLinearizability(kvModel, this.ops, { stepsMax });
    return { verdict: r.verdict, steps: r.steps, message: r.message };
  }
}

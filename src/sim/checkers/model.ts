import type { Operation } from "./history.js";

/**
 * A sequential specification: what one object (a register, a key of a key-value store)
 * does when operations are applied one at a time. The checker asks whether some order of a
 * concurrent history's operations, consistent with real time, is a legal run of it.
 *
 * Models must be deterministic — the next state is a function of state and input — and
 * states are immutable values: the checker keeps them in its cache and on its stack.
 */

/** The output of an operation whose outcome is unknown: any output is acceptable. */
export const UNKNOWN: unique symbol = Symbol("unknown output");
export type Unknown = typeof UNKNOWN;

export type StepResult<S> = { readonly ok: true; readonly next: S } | { readonly ok: false };

/** The answer for an output the model cannot produce from this state. */
export const REJECTED: StepResult<never> = Object.freeze({ ok: false });

/** One independent piece of a history (one key) — P-compositionality, see below. */
export interface Partition {
  /** A label for messages, e.g. the key. */
  readonly key: string;
  /** Indices into the history, in ascending order. */
  readonly operations: readonly number[];
}

export interface Model<S, I, O> {
  readonly name: string;
  init(): S;
  /**
   * Applies `input` to `state`. `ok` is false when the model, in this state, cannot
   * return `output`; `output` is UNKNOWN for an operation whose outcome is unknown, and then
   * any output is acceptable: `ok` is true and `next` is where the operation leads.
   */
  step(state: S, input: I, output: O | Unknown): StepResult<S>;
  /**
   * Optional: true if this input with this output changes no state — in every state where
   * `step` accepts it, `next` equals that state (a GET, a DEL that removed nothing, an
   * INCR that failed). The search then places such an operation as soon as it can, without
   * trying the alternatives: a large saving when many reads overlap. A wrong `true` makes
   * the checker miss linearizations; `false` or absent is always safe.
   */
  readOnly?(input: I, output: O | Unknown): boolean;
  equal(a: S, b: S): boolean;
  /** A 32-bit hash consistent with `equal`. */
  hash(state: S): number;
  /**
   * Splits a history into independent sub-histories, when the model's object is a
   * collection of independent objects (keys). A history is linearizable if and only if each
   * of them is (Herlihy and Wing's locality, "P-compositionality" in Lowe's paper), so each
   * is checked alone — exponentially cheaper than checking the whole. Without it the whole
   * history is one partition.
   */
  partition?(history: readonly Operation<I, O>[]): readonly Partition[];
  /** For failure messages: "SET x 1", "GET x". */
  describeInput(input: I): string;
  /** For failure messages: "OK", "\"1\"", "(nil)". */
  describeOutput(output: O): string;
  describeState(state: S): string;
}

/** `partition` for a model whose every input names one key. Keys in first-seen order. */
export function partitionByKey<I, O>(
  keyOf: (input: I) => string,
): (history: readonly Operation<I, O>[]) => Partition[] {
  return (history) => {
    const byKey = new Map<string, number[]>();
    for (let i = 0; i < history.length; i++) {
      const key = keyOf((history[i] as Operation<I, O>).input);
      let list = byKey.get(key);
      if (list === undefined) {
        list = [];
        byKey.set(key, list);
      }
      list.push(i);
    }
    return [...byKey].map(([key, operations]) => ({ key, operations }));
  };
}

/** FNV-1a over UTF-16 code units: a quick, decent 32-bit string hash for model states. */
export { fmix32 as mix32, fnv1a32String as hashString } from "../../core/hash.js";

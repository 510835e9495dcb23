import { assert } from "../../core/assert.js";
import { type Operation, validateHistory } from "./history.js";
import type { Model, Partition } from "./model.js";
import { type SearchLimits, searchLinearization } from "./wgl.js";

/**
 * Linearizability checking of recorded histories: does some order of the operations,
 * consistent with the real-time order of their calls and returns, make a legal sequential
 * run of the model? Pure: the work is bounded by counts passed in, never by a clock.
 * docs/linearizability.md describes the algorithm and how to use it.
 */

export {
  type ClientId,
  HistoryError,
  HistoryRecorder,
  type Operation,
  type ReturnedOperation,
  returned,
  type UnknownOperation,
  unknownOutcome,
  validateHistory,
} from "./history.js";
export {
  applyKv,
  type KvError,
  type KvInput,
  type KvOutput,
  type KvState,
  kvModel,
} from "./kv-model.js";
export {
  type Model,
  type Partition,
  partitionByKey,
  REJECTED,
  type StepResult,
  UNKNOWN,
  type Unknown,
} from "./model.js";
export {
  type RegisterInput,
  type RegisterOutput,
  type RegisterState,
  registerModel,
} from "./register-model.js";

/**
 * Model steps per partition before its verdict is "unknown". A step costs about a
 * microsecond with the models here (0.5–2 µs measured, cache included), so the default
 * bounds one partition's search to a few seconds. A linearizable partition of n
 * operations with c clients on it needs about n·c steps when the search seldom backs up,
 * so this covers partitions of tens of thousands of operations; what it cuts short is
 * heavy backtracking (docs/linearizability.md, "Complexity, measured"). Total work is at
 * most partitions × stepsMax.
 */
export const stepsMaxDefault = 2_000_000;

/**
 * 32-bit words of linearized-set snapshots the cache may hold per partition: 32 Mi words
 * is 128 MiB. Each cache entry stores a snapshot of ceil(n / 32) words for a partition of
 * n operations, so big partitions reach this before the step bound.
 */
export const cacheWordsMaxDefault = 32 * 1024 * 1024;

/** Operations listed in a failure message, of the linearization and of the pending. */
export const counterexampleOpsShown = 8;

export interface CheckOptions {
  /** Model steps per partition; stepsMaxDefault when absent. */
  readonly stepsMax?: number;
  /** Cache words per partition; cacheWordsMaxDefault when absent. */
  readonly cacheWordsMax?: number;
}

/**
 * Why a history is not linearizable, as the search saw it. The operations can be put in a
 * legal order (`linearized`) that respects real time and takes in every operation that
 * returned before `operation` did; no legal order gets through `operation`'s return —
 * that return is where the history stops being linearizable. Indices are into the
 * history that was checked.
 */
export interface Counterexample {
  /** The partition (key) the violation is in. */
  readonly key: string;
  /** The operation whose return no legal order of the operations before it reaches. */
  readonly operation: number;
  /** A longest legal order found, in order: the last operations are the likeliest culprits. */
  readonly linearized: readonly number[];
  /** The model state after `linearized`, described. */
  readonly state: string;
  /** Operations called before that return and not in `linearized`, `operation` included. */
  readonly pending: readonly number[];
}

export type CheckResult =
  | { readonly verdict: "linearizable"; readonly steps: number; readonly message: string }
  | {
      readonly verdict: "not-linearizable";
      readonly steps: number;
      readonly counterexample: Counterexample;
      readonly message: string;
    }
  | {
      readonly verdict: "unknown";
      readonly steps: number;
      /** The partitions whose search ran out of budget. */
      readonly undecided: readonly string[];
      readonly message: string;
    };

/**
 * Checks `history` against `model`, one partition at a time. Stops at the first partition
 * that is not linearizable; partitions whose search runs out of budget make the verdict
 * "unknown" unless another is not linearizable. Throws HistoryError if the history is
 * malformed.
 */
export function checkLinearizability<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  options: CheckOptions = {},
): CheckResult {
  validateHistory(history);
  const limits: SearchLimits = {
    stepsMax: options.stepsMax ?? stepsMaxDefault,
    cacheWordsMax: options.cacheWordsMax ?? cacheWordsMaxDefault,
  };
  assert(
    Number.isInteger(limits.stepsMax) && limits.stepsMax >= 0 && limits.cacheWordsMax >= 0,
    "check: stepsMax and cacheWordsMax must be natural numbers",
  );
  const partitions = partitionsOf(model, history);
  let steps = 0;
  const undecided: string[] = [];
  let firstExhausted = "";
  for (const partition of partitions) {
    const ops = partition.operations.map((i) => history[i] as Operation<I, O>);
    const outcome = searchLinearization(model, ops, limits);
    steps += outcome.steps;
    if (outcome.verdict === "unknown") {
      if (undecided.length === 0) {
        firstExhausted =
          outcome.exhausted === "steps"
            ? `stepsMax ${limits.stepsMax} reached`
            : `cacheWordsMax ${limits.cacheWordsMax} reached`;
      }
      undecided.push(partition.key);
    } else if (outcome.verdict === "not-linearizable") {
      const global = (local: number) => partition.operations[local] as number;
      const counterexample: Counterexample = {
        key: partition.key,
        operation: global(outcome.blocked),
        linearized: outcome.linearized.map(global),
        state: outcome.state,
        pending: outcome.pending.map(global),
      };
      return {
        verdict: "not-linearizable",
        steps,
        counterexample,
        message: describeCounterexample(model, history, counterexample),
      };
    }
  }
  const counts = `${partitions.length} partition(s), ${history.length} operations, ${steps} steps`;
  if (undecided.length > 0) {
    return {
      verdict: "unknown",
      steps,
      undecided,
      message:
        `unknown: budget exhausted on ${undecided.length} of ${counts}; ` +
        `first undecided: ${JSON.stringify(undecided[0])} (${firstExhausted})`,
    };
  }
  return { verdict: "linearizable", steps, message: `linearizable: ${counts}` };
}

function partitionsOf<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
): readonly Partition[] {
  if (model.partition === undefined) {
    return [{ key: "(all)", operations: history.map((_, i) => i) }];
  }
  const partitions = model.partition(history);
  // Each operation in exactly one partition, or the verdict would not be the history's.
  const seen = new Uint8Array(history.length);
  for (const p of partitions) {
    for (const i of p.operations) {
      assert(i >= 0 && i < history.length && seen[i] === 0, "check: partitions overlap");
      seen[i] = 1;
    }
  }
  assert(!seen.includes(0), "check: partitions miss an operation");
  return partitions;
}

/** One line per operation: `#17 client 3 [120, 130] GET x → "1"`. */
export function describeOperation<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  index: number,
): string {
  const op = history[index] as Operation<I, O>;
  const interval =
    op.outcome === "returned" ? `[${op.callTime}, ${op.returnTime}]` : `[${op.callTime}, ?]`;
  const output = op.outcome === "returned" ? model.describeOutput(op.output) : "unknown";
  return `#${index} client ${op.client} ${interval} ${model.describeInput(op.input)} → ${output}`;
}

function describeCounterexample<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  c: Counterexample,
): string {
  const line = (i: number) => `    ${describeOperation(model, history, i)}`;
  const shown = c.linearized.slice(-counterexampleOpsShown);
  const count = c.linearized.length;
  const tail = shown.length < count ? `, the last ${shown.length} shown` : "";
  const lines = [
    `not linearizable (${model.name}), key ${JSON.stringify(c.key)}: ` +
      "no legal order of the operations gets past the return of",
    line(c.operation),
    "  a longest legal order found, covering every operation that returned before it " +
      `(${count} operation(s)${tail}):`,
    ...shown.map(line),
    `  leaving the state ${c.state}; called before that return and not placed:`,
    ...c.pending.slice(0, counterexampleOpsShown).map(line),
  ];
  if (c.pending.length > counterexampleOpsShown) {
    lines.push(`    ... and ${c.pending.length - counterexampleOpsShown} more`);
  }
  return lines.join("\n");
}

import {
  hashString,
  type Model,
  partitionByKey,
  REJECTED,
  type StepResult,
  UNKNOWN,
  type Unknown,
} from "./model.js";

/**
 * A read/write register per key: `set` stores a value and returns "OK", `get` returns the
 * value last set, or null if none was. The simplest object to check reads against writes
 * with — and, with unique values per write, the one where a violation is easiest to read.
 */
export type RegisterInput =
  | { readonly op: "get"; readonly key: string }
  | { readonly op: "set"; readonly key: string; readonly value: string };

/** `get`: the value or null; `set`: "OK". */
export type RegisterOutput = string | null;

/** One key's value (the model is partitioned by key), null before the first set. */
export type RegisterState = string | null;

/** Any fixed value unlikely to collide with a string's hash would do. */
const nullHash = 0x6a09e667;

function step(
  state: RegisterState,
  input: RegisterInput,
  output: RegisterOutput | Unknown,
): StepResult<RegisterState> {
  if (input.op === "set") {
    return output === UNKNOWN || output === "OK" ? { ok: true, next: input.value } : REJECTED;
  }
  return output === UNKNOWN || output === state ? { ok: true, next: state } : REJECTED;
}

export const registerModel: Model<RegisterState, RegisterInput, RegisterOutput> = {
  name: "register",
  init: () => null,
  step,
  readOnly: (input) => input.op === "get",
  equal: (a, b) => a === b,
  hash: (s) => (s === null ? nullHash : hashString(s)),
  partition: partitionByKey((input: RegisterInput) => input.key),
  describeInput: (input) =>
    input.op === "get" ? `GET ${input.key}` : `SET ${input.key} ${JSON.stringify(input.value)}`,
  describeOutput: (output) => (output === null ? "(nil)" : JSON.stringify(output)),
  describeState: (state) => (state === null ? "(nil)" : JSON.stringify(state)),
};

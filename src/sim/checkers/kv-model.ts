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
 * The single-key string commands of Redis, as a model for the checker: GET, SET (with NX),
 * SETNX, GETSET, DEL, INCR, APPEND. Each names one key, so histories partition by key and
 * a state is one key's value: a string, or null when the key does not exist.
 *
 * Values are JavaScript strings as a client decodes them (UTF-8); APPEND's length is the
 * UTF-8 byte length, as Redis counts it. Integer replies are JavaScript numbers, as ioredis
 * returns them: exact up to 2^53, which INCR in a test does not reach.
 */
export type KvInput =
  | { readonly op: "get"; readonly key: string }
  /** SET key value [NX]: "OK", or with NX null when the key existed. */
  | { readonly op: "set"; readonly key: string; readonly value: string; readonly nx?: boolean }
  /** SETNX key value: 1 if set, 0 if the key existed. */
  | { readonly op: "setnx"; readonly key: string; readonly value: string }
  /** GETSET key value: the old value or null. */
  | { readonly op: "getset"; readonly key: string; readonly value: string }
  /** DEL key: the number of keys removed, 0 or 1. */
  | { readonly op: "del"; readonly key: string }
  /** INCR key: the new value, or an error if the value is not a 64-bit integer. */
  | { readonly op: "incr"; readonly key: string }
  /** APPEND key value: the new length in bytes. */
  | { readonly op: "append"; readonly key: string; readonly value: string };

/**
 * An error reply. Any error matches any error: the message wording differs between
 * servers, and what the checker needs is that the command failed without effect.
 */
export interface KvError {
  readonly error: string;
}

export type KvOutput = string | number | null | KvError;

export type KvState = string | null;

/** Redis integers are signed 64-bit. */
const i64Max = (1n << 63n) - 1n;
const i64Min = -(1n << 63n);
/** A canonical integer as Redis's string2ll accepts it: no sign on 0, no leading zeros. */
const canonicalInteger = /^(0|-?[1-9][0-9]{0,18})$/;
const nullHash = 0x6a09e667;

function parseI64(s: string): bigint | undefined {
  if (!canonicalInteger.test(s)) return undefined;
  const n = BigInt(s);
  return n >= i64Min && n <= i64Max ? n : undefined;
}

/** Bytes in the UTF-8 encoding of `s` (lone surrogates count 3, as TextEncoder writes U+FFFD). */
export function utf8Length(s: string): number {
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/** What Redis does: the reply and the key's next value. */
export function applyKv(state: KvState, input: KvInput): { output: KvOutput; next: KvState } {
  switch (input.op) {
    case "get":
      return { output: state, next: state };
    case "set":
      if (input.nx === true && state !== null) return { output: null, next: state };
      return { output: "OK", next: input.value };
    case "setnx":
      return state === null ? { output: 1, next: input.value } : { output: 0, next: state };
    case "getset":
      return { output: state, next: input.value };
    case "del":
      return { output: state === null ? 0 : 1, next: null };
    case "incr": {
      const n = parseI64(state ?? "0");
      if (n === undefined) {
        return { output: { error: "ERR value is not an integer or out of range" }, next: state };
      }
      if (n === i64Max) {
        return { output: { error: "ERR increment or decrement would overflow" }, next: state };
      }
      return { output: Number(n + 1n), next: (n + 1n).toString() };
    }
    case "append": {
      const next = (state ?? "") + input.value;
      return { output: utf8Length(next), next };
    }
  }
}

function sameOutput(a: KvOutput, b: KvOutput): boolean {
  if (a === null || b === null) return a === b;
  if (typeof a === "object" || typeof b === "object") {
    return typeof a === "object" && typeof b === "object";
  }
  return a === b;
}

function step(state: KvState, input: KvInput, output: KvOutput | Unknown): StepResult<KvState> {
  const expected = applyKv(state, input);
  if (output !== UNKNOWN && !sameOutput(output, expected.output)) return REJECTED;
  return { ok: true, next: expected.next };
}

/** Replies that mean the command changed nothing (see Model.readOnly). */
function readOnly(input: KvInput, output: KvOutput | Unknown): boolean {
  switch (input.op) {
    case "get":
      return true;
    case "set":
      return input.nx === true && output === null;
    case "setnx":
    case "del":
      return output === 0;
    case "incr":
      return output !== null && typeof output === "object";
    default:
      return false;
  }
}

function describeInput(input: KvInput): string {
  switch (input.op) {
    case "get":
    case "del":
    case "incr":
      return `${input.op.toUpperCase()} ${input.key}`;
    case "set":
      return `SET ${input.key} ${JSON.stringify(input.value)}${input.nx === true ? " NX" : ""}`;
    default:
      return `${input.op.toUpperCase()} ${input.key} ${JSON.stringify(input.value)}`;
  }
}

function describeOutput(output: KvOutput): string {
  if (output === null) return "(nil)";
  if (typeof output === "number") return `(integer) ${output}`;
  if (typeof output === "object") return `(error) ${output.error}`;
  return JSON.stringify(output);
}

export const kvModel: Model<KvState, KvInput, KvOutput> = {
  name: "redis strings",
  init: () => null,
  step,
  readOnly,
  equal: (a, b) => a === b,
  hash: (s) => (s === null ? nullHash : hashString(s)),
  partition: partitionByKey((input: KvInput) => input.key),
  describeInput,
  describeOutput,
  describeState: (state) => (state === null ? "(nil)" : JSON.stringify(state)),
};

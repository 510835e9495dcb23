import type { Reply } from "./types.js";

/** Constructors for `Reply`, with the common ones allocated once. */
export const OK: Reply = { kind: "simple", value: "OK" };
export const QUEUED: Reply = { kind: "simple", value: "QUEUED" };
export const PONG: Reply = { kind: "simple", value: "PONG" };
export const NULL: Reply = { kind: "null" };
export const NULL_ARRAY: Reply = { kind: "nullArray" };
export const EMPTY_ARRAY: Reply = { kind: "array", value: [] };

const SMALL_INTS: Reply[] = Array.from({ length: 257 }, (_, i) => ({
  kind: "integer",
  value: i - 1,
}));

export function simple(value: string): Reply {
  return { kind: "simple", value };
}

/** `message` includes the code: "ERR ...", "WRONGTYPE ...". */
export function error(message: string): Reply {
  return { kind: "error", value: message };
}

export function integer(value: number | bigint): Reply {
  if (typeof value === "number" && value >= -1 && value <= 255 && Number.isInteger(value)) {
    return SMALL_INTS[value + 1] as Reply;
  }
  return { kind: "integer", value };
}

export function bulk(value: Buffer | string): Reply {
  return { kind: "bulk", value };
}

/** A bulk string, or null when the value is undefined. */
export function bulkOrNull(value: Buffer | string | undefined): Reply {
  return value === undefined ? NULL : { kind: "bulk", value };
}

export function array(value: readonly Reply[]): Reply {
  return { kind: "array", value };
}

/** A RESP3 push reply (an array in RESP2): what Pub/Sub delivers. */
export function push(value: readonly Reply[]): Reply {
  return { kind: "array", value, push: true };
}

/** Items in pairs: an array of [a, b] arrays in RESP3, flat in RESP2 (see Reply). */
export function pairs(flat: readonly Reply[]): Reply {
  return { kind: "array", value: flat, pairs: true };
}

export function map(value: readonly (readonly [Reply, Reply])[]): Reply {
  return { kind: "map", value };
}

export function set(value: readonly Reply[]): Reply {
  return { kind: "set", value };
}

export function double(value: number): Reply {
  return { kind: "double", value };
}

/** A double whose text is not `%.17g` (GEOPOS's coordinates), in both protocols. */
export function doubleText(value: number, text: string): Reply {
  return { kind: "double", value, text };
}

export function boolean(value: boolean): Reply {
  return { kind: "boolean", value };
}

export function verbatim(value: string, format = "txt"): Reply {
  return { kind: "verbatim", format, value };
}

/** A container command's HELP: its usage line, `lines`, then HELP itself, as Redis words it. */
export function help(command: string, lines: readonly string[]): Reply {
  const all = [
    `${command} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:`,
    ...lines,
    "HELP",
    "    Prints this help.",
  ];
  return array(all.map((l) => simple(l)));
}

/**
 * The values exchanged with clients, independent of how they are encoded.
 * RESP2 and RESP3 differ only in the encoder (see encoder.ts): a `map` becomes a flat
 * array in RESP2, `null` becomes `$-1`, a `double` a bulk string, and so on.
 */
export type Reply =
  | { readonly kind: "simple"; readonly value: string }
  /** `value` is the whole message with its code, e.g. "ERR syntax error", "WRONGTYPE ...". */
  | { readonly kind: "error"; readonly value: string }
  | { readonly kind: "integer"; readonly value: number | bigint }
  | { readonly kind: "bulk"; readonly value: Buffer | string }
  /** Null bulk string (RESP2 `$-1`, RESP3 `_`). */
  | { readonly kind: "null" }
  /** Null array (RESP2 `*-1`, RESP3 `_`). */
  | { readonly kind: "nullArray" }
  /**
   * `push`: a RESP3 push (`>`, Pub/Sub messages); RESP2 sends it as an array. `pairs`:
   * RESP3 sends `value` as an array of two-element arrays, one per pair of items in order
   * (HRANDFIELD WITHVALUES); RESP2 as it is, flat.
   */
  | {
      readonly kind: "array";
      readonly value: readonly Reply[];
      readonly push?: true;
      readonly pairs?: true;
    }
  /**
   * RESP3 map; RESP2 flat array of key, value, key, value... or, `nested`, an array of
   * [key, value] arrays (XREAD's streams).
   */
  | {
      readonly kind: "map";
      readonly value: readonly (readonly [Reply, Reply])[];
      readonly nested?: true;
    }
  /** RESP3 set; RESP2 array. */
  | { readonly kind: "set"; readonly value: readonly Reply[] }
  /**
   * RESP3 double; RESP2 bulk string formatted as Redis does (`%.17g`), or as `text` says
   * when the command formats it otherwise (GEOPOS's coordinates).
   */
  | { readonly kind: "double"; readonly value: number; readonly text?: string }
  /** RESP3 boolean; RESP2 integer 1 or 0. */
  | { readonly kind: "boolean"; readonly value: boolean }
  /** RESP3 verbatim string (format is three letters, e.g. "txt"); RESP2 bulk string. */
  | { readonly kind: "verbatim"; readonly format: string; readonly value: string };

/**
 * One parsed command: its arguments are offsets into the frame the parser read, so no
 * per-argument objects are made unless a handler asks for one. Valid only until the handler
 * returns: whatever must outlive it has to be copied.
 */
export interface Args {
  /** Number of arguments, the command name included. */
  readonly length: number;
  /** Argument `i` as a Buffer view (no copy). */
  buf(i: number): Buffer;
  /** Argument `i` decoded as UTF-8. */
  str(i: number): string;
  /** Argument `i` decoded as Latin-1 and lower-cased: for command names and option words. */
  lower(i: number): string;
  /** Whether argument `i` equals `word` (ASCII, case-insensitive); `word` must be lower case. */
  is(i: number, word: string): boolean;
  /** Byte length of argument `i`. */
  byteLength(i: number): number;
}

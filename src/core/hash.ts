import { createHash } from "node:crypto";

/**
 * Small non-cryptographic hashes shared by the codecs, the simulator and its checkers.
 * None of them is a defence against chosen input; they spread keys and compare states.
 * (sha256, at the end, is the one that is.)
 *
 * The `| 0`s keep the running value a small integer for V8: FNV's offset basis is above
 * 2³¹, and without them the loops run on doubles, about 5× slower.
 */

const fnvOffsetBasis = 0x811c9dc5 | 0;
const fnvPrime = 0x01000193;

/** FNV-1a, 32 bits, over bytes[start, end). */
export function fnv1a32Bytes(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let h = fnvOffsetBasis;
  for (let i = start; i < end; i++) h = Math.imul((h ^ (bytes[i] as number)) | 0, fnvPrime) | 0;
  return h >>> 0;
}

/** FNV-1a, 32 bits, over a string's UTF-16 code units. */
export function fnv1a32String(s: string): number {
  let h = fnvOffsetBasis;
  for (let i = 0; i < s.length; i++) h = Math.imul((h ^ s.charCodeAt(i)) | 0, fnvPrime) | 0;
  return h >>> 0;
}

/** murmur3's finaliser: spreads every input bit over the 32-bit result. */
export function fmix32(x: number): number {
  let h = x | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * SHA-256 of the parts, one after the other: a digest no input can be crafted to collide
 * with (kv/transaction.ts's fingerprints, which decide whether a transaction runs).
 */
export function sha256(parts: readonly (Uint8Array | string)[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
}

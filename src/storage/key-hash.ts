import { fmix32 } from "../core/hash.js";
/**
 * The 48-bit hash that orders keys for SCAN. SCAN's cursor must be a plain number that
 * carries all the state, and resuming must never skip a key even when keys share long
 * prefixes. Walking keys in hash order gives that: the cursor is the hash to resume at,
 * and a call only stops between two different hashes.
 *
 * 48 bits keep the cursor a safe JavaScript integer; with ten million keys the expected
 * number of colliding pairs is below one (n²/2^49), and a collision only makes one SCAN
 * reply a key longer. Two independent 32-bit multiply-xorshift lanes (murmur3's mixing
 * constants), 24 bits taken from each.
 */
export function keyHash(key: Uint8Array): number {
  let h1 = 0x9747b28c ^ key.length;
  let h2 = 0x5bd1e995 ^ key.length;
  for (let i = 0; i < key.length; i++) {
    const b = key[i] as number;
    h1 = Math.imul(h1 ^ b, 0xcc9e2d51);
    h1 = (h1 << 15) | (h1 >>> 17);
    h2 = Math.imul(h2 ^ b, 0x1b873593);
    h2 = (h2 << 13) | (h2 >>> 19);
  }
  h1 = fmix32(h1);
  h2 = fmix32(h2 ^ h1);
  return (h1 >>> 8) * 0x1000000 + (h2 >>> 8);
}

/** The largest value `keyHash` returns. */
export const KEY_HASH_MAX = 2 ** 48 - 1;

/** Big-endian 6-byte form: sorts as the number does. */
export function writeKeyHash(hash: number, out: Buffer, offset: number): void {
  out.writeUIntBE(hash, offset, 6);
}

/**
 * Keys to hash slots, exactly as Redis Cluster computes them (src/cluster.c keyHashSlot,
 * src/crc16.c), so a cluster-aware client's own slot computation agrees with the server's
 * routing: a client that disagreed would be sent MOVED on every such request. Redis is
 * the reference, not any client: cluster-key-slot 1.1 (ioredis's slot function) hashes
 * "foo{}{bar}" by its later tag where Redis hashes the whole key, and its users pay one
 * MOVED per command on such keys, as they do against Redis.
 */

/** Hash slots in the key space, as Redis Cluster: a CRC16 keeps only its low 14 bits. */
export const SLOT_COUNT = 16_384;
const slotMask = SLOT_COUNT - 1;

const openBrace = 0x7b;
const closeBrace = 0x7d;

/**
 * CRC16-CCITT as XMODEM computes it (polynomial 0x1021, initial value 0, no reflection,
 * no final xor): the variant Redis's crc16.c tabulates. The table is built once here
 * rather than written out: it is the same 256 values, and a typo in a literal table is a
 * bug no reader would spot.
 */
const crcTable: Uint16Array = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    table[byte] = crc & 0xffff;
  }
  return table;
})();

/** CRC16 (XMODEM) of bytes[start, end), one table lookup a byte as Redis's crc16(). */
export function crc16(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) {
    crc = ((crc << 8) ^ (crcTable[((crc >>> 8) ^ (bytes[i] as number)) & 0xff] as number)) & 0xffff;
  }
  return crc;
}

/**
 * The hash slot of a key. Hash tags, as Redis: if the key has a `{` and a `}` after it
 * with at least one byte between them, only the bytes between the first `{` and the first
 * `}` after it are hashed, so `{user1000}.following` and `{user1000}.followers` share a
 * slot and can be used together in one multi-key command. An empty tag (`foo{}{bar}`) or
 * an unclosed one hashes the whole key.
 */
export function keyHashSlot(key: Uint8Array): number {
  const open = byteIndex(key, openBrace, 0);
  if (open < 0) return crc16(key) & slotMask;
  const close = byteIndex(key, closeBrace, open + 1);
  if (close < 0 || close === open + 1) return crc16(key) & slotMask;
  return crc16(key, open + 1, close) & slotMask;
}

/**
 * key.indexOf(byte, from), looked for here for short keys: Buffer's indexOf is a call into
 * C++ that costs more than scanning a few dozen bytes (1% of a node's main thread at 50
 * writers, every write hashing its key three times or more).
 */
function byteIndex(key: Uint8Array, byte: number, from: number): number {
  if (key.length > 64) return key.indexOf(byte, from);
  for (let i = from; i < key.length; i++) if (key[i] === byte) return i;
  return -1;
}

/** What slotOfKeys answers for keys in different slots: no slot has that number. */
export const CROSS_SLOT = -1;

/**
 * The one slot all the keys of a command hash to, as Redis Cluster requires of a
 * multi-key command: `args.buf(i)` for each of `indexes` (at least one), or CROSS_SLOT.
 * Keys in different slots are refused even when their slots happen to sit in the same
 * shard today, as Redis refuses them even when one master holds both slots: a shard's
 * slot range changes when shards split or merge, and a command that worked only because
 * two slots shared a shard would start failing the day they no longer do. With Redis's
 * rule a client learns at once to use hash tags, and what works keeps working. Nothing is
 * allocated: every routed command asks.
 */
export function slotOfKeys(
  args: { buf(i: number): Uint8Array },
  indexes: readonly number[],
): number {
  const slot = keyHashSlot(args.buf(indexes[0] as number));
  for (let i = 1; i < indexes.length; i++) {
    if (keyHashSlot(args.buf(indexes[i] as number)) !== slot) return CROSS_SLOT;
  }
  return slot;
}

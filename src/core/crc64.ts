/**
 * CRC-64 as Redis computes it (crc64.c: the "Jones" polynomial 0xad93d23594c935a9,
 * reflected, initial value 0, no final xor): the checksum at the end of a DUMP payload.
 * Check value: crc64(0, "123456789") = 0xe9c6d914c4b8d9ca.
 *
 * Kept as two 32-bit halves so that a byte costs a table lookup and a few integer
 * operations, not BigInt arithmetic.
 */

/** The polynomial, bit-reversed (the reflected algorithm shifts right). */
const POLY_HI = 0x95ac9329;
const POLY_LO = 0xac4bc9b5;

const TABLE_HI = new Uint32Array(256);
const TABLE_LO = new Uint32Array(256);
for (let i = 0; i < 256; i++) {
  let hi = 0;
  let lo = i;
  for (let k = 0; k < 8; k++) {
    const carry = lo & 1;
    lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
    hi = hi >>> 1;
    if (carry !== 0) {
      hi = (hi ^ POLY_HI) >>> 0;
      lo = (lo ^ POLY_LO) >>> 0;
    }
  }
  TABLE_HI[i] = hi;
  TABLE_LO[i] = lo;
}

/** The CRC-64 of `data`, continuing from `crc` (0 to start). */
export function crc64(crc: bigint, data: Uint8Array): bigint {
  let hi = Number((crc >> 32n) & 0xffff_ffffn);
  let lo = Number(crc & 0xffff_ffffn);
  for (let i = 0; i < data.length; i++) {
    const t = (lo ^ (data[i] as number)) & 0xff;
    lo = (((lo >>> 8) | (hi << 24)) ^ (TABLE_LO[t] as number)) >>> 0;
    hi = ((hi >>> 8) ^ (TABLE_HI[t] as number)) >>> 0;
  }
  return (BigInt(hi) << 32n) | BigInt(lo);
}

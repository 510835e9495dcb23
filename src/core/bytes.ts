/**
 * Big-endian binary writing and reading with checked bounds: the base of the hand-written
 * wire codecs (membership/codec.ts, raft/codec.ts), which add their own fields on top.
 * A reader never reads past its bytes: a short or lying input throws DecodeError, which a
 * codec turns into a rejected message, never a crash.
 */

/** Garbled input: what a codec catches and reports as "rejected". */
export class DecodeError extends Error {}

const u32Max = 0xffff_ffff;
const twoTo32 = 0x1_0000_0000;
/** Above this high word a u64 is past 2^53 and no longer an exact JavaScript number. */
const safeHighWordMax = 0x1f_ffff;

export class ByteWriter {
  protected bytes: Uint8Array;
  protected view: DataView;
  length = 0;

  constructor(capacity = 64) {
    this.bytes = new Uint8Array(Math.max(1, capacity));
    this.view = new DataView(this.bytes.buffer);
  }

  protected reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    let size = Math.max(64, this.bytes.length * 2);
    while (size < this.length + n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }

  u8(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`not a u8: ${v}`);
    this.reserve(1);
    this.bytes[this.length] = v;
    this.length += 1;
  }

  u16(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError(`not a u16: ${v}`);
    this.reserve(2);
    this.view.setUint16(this.length, v);
    this.length += 2;
  }

  u32(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > u32Max) throw new RangeError(`not a u32: ${v}`);
    this.reserve(4);
    this.view.setUint32(this.length, v);
    this.length += 4;
  }

  /** A non-negative safe integer (< 2^53) in 8 bytes. */
  u64(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`not a safe u64: ${v}`);
    this.reserve(8);
    this.view.setUint32(this.length, Math.floor(v / twoTo32));
    this.view.setUint32(this.length + 4, v >>> 0);
    this.length += 8;
  }

  f64(v: number): void {
    this.reserve(8);
    this.view.setFloat64(this.length, v);
    this.length += 8;
  }

  raw(b: Uint8Array): void {
    this.reserve(b.length);
    this.bytes.set(b, this.length);
    this.length += b.length;
  }

  /** A copy of what was written from `start` on. */
  copyFrom(start: number): Uint8Array {
    return this.bytes.slice(start, this.length);
  }

  /**
   * What was written from `start` on, without a copy: for a writer reused message after
   * message, valid until its next reset (growing leaves earlier views intact).
   */
  viewFrom(start: number): Uint8Array {
    return this.bytes.subarray(start, this.length);
  }

  /** Bytes it holds before it must grow. */
  get capacity(): number {
    return this.bytes.length;
  }

  done(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }

  /**
   * What was written, without a copy: for a writer that is dropped right after (the bytes
   * are its own buffer, so a later write to this writer would change them).
   */
  take(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }

  /** Starts over, keeping the buffer: for a writer reused message after message. */
  reset(): void {
    this.length = 0;
  }
}

/**
 * `n` bytes from Node's pool of small buffers, not zeroed, as a plain Uint8Array (whose
 * slice copies, where a Buffer's would not): no malloc for n under 4 KiB. For bytes that
 * die young; a long-lived one keeps its 8 KiB pool slab alive.
 */
export function pooledBytes(n: number): Uint8Array {
  const b = Buffer.allocUnsafe(n);
  return new Uint8Array(b.buffer, b.byteOffset, n);
}

/** `n` rounded up to a multiple of `to`. */
export function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/** A copy of `src` in pooledBytes. */
export function pooledCopy(src: Uint8Array): Uint8Array {
  const out = pooledBytes(src.length);
  out.set(src);
  return out;
}

export class ByteReader {
  protected offset = 0;
  /** Made on first use: most messages read no float. */
  private view: DataView | null = null;

  constructor(protected readonly bytes: Uint8Array) {}

  protected need(n: number): void {
    if (this.offset + n > this.bytes.length) throw new DecodeError("truncated");
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  get position(): number {
    return this.offset;
  }

  skipTo(offset: number): void {
    if (offset < 0 || offset > this.bytes.length) throw new DecodeError("truncated");
    this.offset = offset;
  }

  u8(): number {
    this.need(1);
    return this.bytes[this.offset++] as number;
  }

  u16(): number {
    this.need(2);
    const b = this.bytes;
    const o = this.offset;
    this.offset += 2;
    return ((b[o] as number) << 8) | (b[o + 1] as number);
  }

  u32(): number {
    this.need(4);
    const b = this.bytes;
    const o = this.offset;
    this.offset += 4;
    return (
      (b[o] as number) * 0x100_0000 +
      (((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number))
    );
  }

  /** A u64 that must be a safe integer (< 2^53). */
  u64(): number {
    const hi = this.u32();
    const lo = this.u32();
    if (hi > safeHighWordMax) throw new DecodeError("integer beyond 2^53");
    return hi * twoTo32 + lo;
  }

  /** A finite float. */
  f64(): number {
    this.need(8);
    this.view ??= new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    const v = this.view.getFloat64(this.offset);
    this.offset += 8;
    if (!Number.isFinite(v)) throw new DecodeError("non-finite number");
    return v;
  }

  /** The next n bytes, copied: a decoded value may outlive the buffer it came in. */
  bytesOf(n: number): Uint8Array {
    this.need(n);
    const b = this.bytes.slice(this.offset, this.offset + n);
    this.offset += n;
    return b;
  }
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });

/** The field a text's byte length is written in, before its UTF-8 bytes. */
export type LengthField = "u8" | "u32";

/** `s` as its UTF-8 length, then its bytes; more than `max` bytes is a programmer error. */
export function writeText(
  w: ByteWriter,
  s: string,
  max: number,
  what: string,
  length: LengthField = "u8",
): void {
  const b = textEncoder.encode(s);
  if (b.length > max) throw new RangeError(`${what} of ${b.length} bytes exceeds ${max}`);
  if (length === "u8") w.u8(b.length);
  else w.u32(b.length);
  w.raw(b);
}

/** What writeText wrote; DecodeError if longer than `max` or not UTF-8. */
export function readText(
  r: ByteReader,
  max: number,
  what: string,
  length: LengthField = "u8",
): string {
  const n = length === "u8" ? r.u8() : r.u32();
  if (n > max) throw new DecodeError(`${what} too long`);
  try {
    return textDecoder.decode(r.bytesOf(n));
  } catch {
    throw new DecodeError(`${what} is not UTF-8`);
  }
}

/**
 * The big-endian u32 at `at` of `data`, read without Buffer's argument checks: the scans
 * of a hash's or a sorted set's value read one or two per entry. The caller checks the
 * bounds it needs.
 */
export function u32be(data: Uint8Array, at: number): number {
  return (
    (((data[at] as number) << 24) |
      ((data[at + 1] as number) << 16) |
      ((data[at + 2] as number) << 8) |
      (data[at + 3] as number)) >>>
    0
  );
}

/**
 * Length-prefixed frames on a byte stream: u32 big-endian length, then that many bytes.
 * No I/O here: bytes in, frames out, so it is tested by splitting input at every offset.
 */
export const frameHeaderBytes = 4;

export function encodeFrameHeader(length: number): Buffer {
  const header = Buffer.allocUnsafe(frameHeaderBytes);
  writeFrameHeader(header, length);
  return header;
}

/** Writes the header of a frame of `length` bytes at the start of `into`. */
export function writeFrameHeader(into: Buffer, length: number): void {
  into.writeUInt32BE(length, 0);
}

/**
 * Collects chunks until a whole frame is there. Chunks are kept in a list and joined once
 * per frame, so a large frame arriving in small chunks costs one copy, not one per chunk.
 * A length above `frameBytesMax` poisons the reader: the stream cannot be resynchronised,
 * the caller closes the connection.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private poisoned = false;

  constructor(private readonly frameBytesMax: number) {}

  /** Frames completed by this chunk, or "oversized" once a bad length was seen. */
  push(chunk: Buffer): Buffer[] | "oversized" {
    if (this.poisoned) return "oversized";
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Buffer[] = [];
    while (this.buffered >= frameHeaderBytes) {
      const length = this.peekLength();
      if (length > this.frameBytesMax) {
        this.poisoned = true;
        this.chunks = [];
        this.buffered = 0;
        return "oversized";
      }
      if (this.buffered < frameHeaderBytes + length) break;
      const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
      const end = frameHeaderBytes + length;
      frames.push(all.subarray(frameHeaderBytes, end));
      const rest = all.subarray(end);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
    }
    return frames;
  }

  private peekLength(): number {
    const first = this.chunks[0];
    if (first.length >= frameHeaderBytes) return first.readUInt32BE(0);
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined.readUInt32BE(0);
  }
}

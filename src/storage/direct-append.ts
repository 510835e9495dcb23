import { closeSync, constants, openSync } from "node:fs";
import { assert } from "../core/assert.js";
import { roundUp } from "../core/bytes.js";
import { writeFully } from "./files.js";

/**
 * Appends to a file already filled with zeros, with O_DIRECT: each write goes from this
 * process's memory to the device, not through the page cache, so the fdatasync that
 * follows only has the device's cache to flush. Measured on this project's test machine
 * (a virtio disk, ext4), a 4 KiB write and its fdatasync took 0.115 ms against 0.145 with
 * two processes syncing at once, 0.143 against 0.175 with three (docs/storage.md,
 * "Direct writes").
 *
 * O_DIRECT wants whole blocks from aligned memory. The appender keeps the last partial
 * block of the file in memory and writes it again, with the new bytes after it, from the
 * block's start: the bytes before the new ones are the same as on disk, so a write torn
 * anywhere leaves them whole, as a write through the page cache (which writes back whole
 * pages) would. What follows the new bytes up to the block's end is written as zeros,
 * which the file already holds there.
 */

/** Bytes of a write's unit and of its memory's alignment: a page, a common physical block. */
export const directBlockBytes = 4096;
/**
 * The most one direct write takes. Its aligned memory is made once (a WebAssembly memory
 * reserves gigabytes of address space, and V8 caps the total: one made per big write could
 * run out before the collector frees them); a bigger write goes through the page cache.
 */
export const directWriteBytesMax = 1024 * 1024;
/** A WebAssembly memory grows in pages of 64 KiB. */
const wasmPageBytes = 64 * 1024;

/** The one piece of the WebAssembly API used here (the project's types have no DOM lib). */
declare const WebAssembly: {
  Memory: new (size: { initial: number; maximum: number }) => { buffer: ArrayBuffer };
};

/**
 * Memory whose first byte is page-aligned: V8 maps a WebAssembly memory in whole pages
 * (nothing in node:buffer promises any alignment).
 */
function alignedBytes(size: number): Buffer {
  const pages = Math.max(1, Math.ceil(size / wasmPageBytes));
  return Buffer.from(new WebAssembly.Memory({ initial: pages, maximum: pages }).buffer);
}

export class DirectAppender {
  private buf: Buffer;
  /** File offset of buf[0], a multiple of directBlockBytes. */
  private start = 0;
  /** Bytes at buf[0..length) are the file's at [start, start + length). */
  private length = 0;

  private constructor(
    private readonly fd: number,
    memory: Buffer | undefined,
  ) {
    this.buf = memory ?? alignedBytes(directWriteBytesMax + directBlockBytes);
  }

  /**
   * Opens `path` for direct writes, or null if its file system has no O_DIRECT (EINVAL).
   * With `after`, an appender of a file written before (closed by now), it takes over its
   * aligned memory. The caller says where its next write goes with resume().
   */
  static open(path: string, after?: DirectAppender): DirectAppender | null {
    let fd: number;
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_DIRECT);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EINVAL") return null;
      throw err;
    }
    return new DirectAppender(fd, after?.buf);
  }

  /** The next write goes at `at`; `before` is the file's bytes from at's block start to at. */
  resume(at: number, before: Uint8Array): void {
    const start = at - (at % directBlockBytes);
    assert(before.length === at - start, "direct append: the bytes before don't fit");
    this.start = start;
    this.length = before.length;
    this.buf.set(before, 0);
  }

  /** Where the next write goes. */
  get position(): number {
    return this.start + this.length;
  }

  /** Whether `bytes` can go in one direct write (else: written through the page cache). */
  fits(bytes: number): boolean {
    return bytes <= directWriteBytesMax;
  }

  /**
   * Writes `data` (it fits) at position (not synced). False if the file system refuses a
   * direct write (EINVAL): the caller writes `data` through the page cache instead. Throws
   * what else the write throws; the appender is then as before it.
   */
  append(data: Uint8Array): boolean {
    assert(this.fits(data.length), "direct append: a write too big for one");
    const end = this.length + data.length;
    const span = roundUp(end, directBlockBytes);
    this.buf.set(data, this.length);
    this.buf.fill(0, end, span);
    try {
      writeFully(this.fd, this.buf.subarray(0, span), this.start);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EINVAL") return false;
      throw err;
    }
    const tail = end - (end % directBlockBytes);
    this.buf.copyWithin(0, tail, end);
    this.start += tail;
    this.length = end - tail;
    return true;
  }

  /** The caller wrote `data` (too big to fit) at position through the page cache. */
  passed(data: Uint8Array): void {
    assert(!this.fits(data.length), "direct append: a write that fits passed by");
    const end = this.start + this.length + data.length;
    const start = end - (end % directBlockBytes);
    this.resume(end, data.subarray(data.length - (end - start)));
  }

  close(): void {
    try {
      closeSync(this.fd);
    } catch {
      // Already closed, or the file system is gone: nothing left to release.
    }
  }
}

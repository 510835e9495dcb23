import { assert } from "../core/assert.js";
import { lowerWord } from "./parser.js";
import type { Args } from "./types.js";

/**
 * `Args` over whole byte arrays (an entry's views, or a read's copies). A part that is a
 * Buffer (decodeLogCommand's views) is handed out as it is: apply asks for the key two or
 * three times per command, and a view per ask was a tenth of a node's allocations.
 */
export class ArrayArgs implements Args {
  constructor(private readonly parts: readonly Uint8Array[]) {}
  get length(): number {
    return this.parts.length;
  }
  buf(i: number): Buffer {
    const p = this.parts[i];
    assert(p !== undefined, `argument ${i} out of range`);
    return toBuffer(p);
  }
  str(i: number): string {
    return this.buf(i).toString("utf8");
  }
  lower(i: number): string {
    const b = this.buf(i);
    return lowerWord(b, 0, b.length);
  }
  is(i: number, word: string): boolean {
    const p = this.parts[i];
    if (p === undefined || p.length !== word.length) return false;
    for (let j = 0; j < p.length; j++) {
      const c = p[j] as number;
      const lower = c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
      if (lower !== word.charCodeAt(j)) return false;
    }
    return true;
  }
  byteLength(i: number): number {
    return this.parts[i]?.length ?? 0;
  }
}

/** `u` as a Buffer over the same bytes: itself if it is one. */
function toBuffer(u: Uint8Array): Buffer {
  return u instanceof Buffer ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

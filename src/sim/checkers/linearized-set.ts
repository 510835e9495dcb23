import { assert } from "../../core/assert.js";
import { mix32 } from "./model.js";

/**
 * The set of operations linearized so far, as bits, with what the search's cache needs:
 * a hash kept up to date on every change, and a small snapshot to store.
 *
 * Hash: Zobrist hashing, the XOR of a fixed random-looking word per member, so a cache
 * lookup costs O(1) until two entries share a hash.
 *
 * Snapshot: storing all n bits per cache entry would cost n/32 words per entry — 160
 * words for a 5,000-operation partition, hundreds of megabytes for a long search. But
 * members are numbered so the set is nearly always a prefix: returned operations get the
 * members 0..R-1 in the order of their calls, and an operation can be linearized only
 * before the first return still ahead of the search. So if `lo` is the first returned
 * operation not linearized, every member lies below the first return after lo's call —
 * all below lo are members, and only the operations called during lo's interval can be
 * either. A snapshot keeps the words from the first not-full one (`loWord`) to the last
 * non-zero one (`hiWord`): a few words, however long the history. Unknown outcomes never
 * return and would hold `lo` back for good, so they have members R..R+U-1 after the
 * returned ones, and their words are all stored.
 */
export class LinearizedSet {
  /** Returned operations' words, then unknown operations' words. */
  readonly words: Uint32Array;
  hash = 0;
  /** Words of returned operations: members 0..returnedCount-1. */
  private readonly returnedWords: number;
  /** Every word of the returned region before this one is full. */
  private loWord = 0;
  /** No word of the returned region after this one has a member (-1: none has). */
  private hiWord = -1;
  /** Scratch for snapshot(), kept to spare an allocation per step. */
  private readonly codes: number[] = [];

  constructor(
    readonly returnedCount: number,
    readonly unknownCount: number,
  ) {
    assert(
      Number.isInteger(returnedCount) && returnedCount >= 0 && Number.isInteger(unknownCount),
      "linearized set: counts must be natural numbers",
    );
    this.returnedWords = Math.ceil(returnedCount / 32);
    this.words = new Uint32Array(this.returnedWords + Math.ceil(unknownCount / 32));
  }

  /** The member number of returned operation `i` (in call order). */
  returnedMember(i: number): number {
    assert(i >= 0 && i < this.returnedCount, "linearized set: returned member out of range");
    return i;
  }

  /** The member number of unknown operation `i` (in call order). */
  unknownMember(i: number): number {
    assert(i >= 0 && i < this.unknownCount, "linearized set: unknown member out of range");
    return this.returnedWords * 32 + i;
  }

  has(m: number): boolean {
    return ((this.words[m >>> 5] as number) & (1 << (m & 31))) !== 0;
  }

  add(m: number): void {
    assert(!this.has(m), "linearized set: add of a member");
    const w = m >>> 5;
    this.words[w] = (this.words[w] as number) | (1 << (m & 31));
    this.hash ^= memberHash(m);
    if (w >= this.returnedWords) return;
    if (w > this.hiWord) this.hiWord = w;
    while (this.loWord < this.returnedWords && this.words[this.loWord] === 0xffffffff) {
      this.loWord++;
    }
  }

  delete(m: number): void {
    assert(this.has(m), "linearized set: delete of a non-member");
    const w = m >>> 5;
    this.words[w] = (this.words[w] as number) & ~(1 << (m & 31));
    this.hash ^= memberHash(m);
    if (w >= this.returnedWords) return;
    if (w < this.loWord) this.loWord = w;
    while (this.hiWord >= 0 && this.words[this.hiWord] === 0) this.hiWord--;
  }

  /**
   * The whole set in few words — loWord, the words loWord..hiWord, the unknown words —
   * each as two UTF-16 code units of a string. A string, not a typed array: a cache entry
   * then costs about 110 bytes instead of about 290 (V8's typed arrays carry a heavy
   * header), and comparing two is one native call.
   */
  snapshot(): string {
    const codes = this.codes;
    codes.length = 0;
    codes.push(this.loWord & 0xffff, this.loWord >>> 16);
    for (let w = this.loWord; w <= this.hiWord; w++) {
      const word = this.words[w] as number;
      codes.push(word & 0xffff, word >>> 16);
    }
    for (let w = this.returnedWords; w < this.words.length; w++) {
      const word = this.words[w] as number;
      codes.push(word & 0xffff, word >>> 16);
    }
    if (codes.length <= codesPerCallMax) return String.fromCharCode(...codes);
    let text = "";
    for (let i = 0; i < codes.length; i += codesPerCallMax) {
      text += String.fromCharCode(...codes.slice(i, i + codesPerCallMax));
    }
    return text;
  }
}

/** Arguments per String.fromCharCode call, far below engines' limits on argument counts. */
const codesPerCallMax = 8192;

/** A fixed pseudo-random word per member; +1 keeps member 0 from hashing to mix32(0) = 0. */
function memberHash(m: number): number {
  return mix32(m + 1);
}

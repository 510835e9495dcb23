/**
 * Randomness, injected. Protocol code draws every choice from a `Random` so a seeded one
 * makes a whole run reproducible.
 */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, bound). `bound` must be a positive integer. */
  int(bound: number): number;
}

/**
 * splitmix32-seeded xoshiro128**: small, fast, and good enough for simulation and for
 * picking random keys. Not for secrets.
 */
export class SeededRandom implements Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const mix = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = mix();
    this.b = mix();
    this.c = mix();
    this.d = mix();
  }

  private nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.b << 9) >>> 0;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  next(): number {
    return this.nextU32() / 0x1_0000_0000;
  }

  int(bound: number): number {
    if (!(bound > 0) || !Number.isInteger(bound)) {
      throw new RangeError(`Random.int: bound must be a positive integer, got ${bound}`);
    }
    return Math.floor(this.next() * bound);
  }

  /**
   * An independent stream seeded from this one: the simulator gives each node its own, so
   * adding a node or a draw in one node does not shift every other node's choices.
   */
  fork(): SeededRandom {
    return new SeededRandom(this.nextU32());
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

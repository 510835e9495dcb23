import { assert } from "../core/assert.js";

/** Items a take looks at before it settles for what it has (see take). */
const takeLooksMax = 64;

interface Queued {
  key: string;
  bytes: Uint8Array;
  transmits: number;
}

/**
 * Pending gossip, each item sent a bounded number of times (λ·log N, see retransmitLimit)
 * and the least-transmitted first, so a fresh update overtakes ones most members have
 * already heard. One item per key (the member it is about): a newer update about a member
 * replaces the older one, which is now wrong. Items sit in tiers by transmit count; taking
 * walks the tiers from 0 upward, so a take costs what it returns, not the queue's size.
 */
export class BroadcastQueue {
  private readonly byKey = new Map<string, Queued>();
  private readonly tiers: Map<string, Queued>[] = [];
  dropped = 0;

  constructor(private readonly itemsMax: number) {
    assert(itemsMax > 0, "BroadcastQueue: itemsMax > 0");
  }

  get size(): number {
    return this.byKey.size;
  }

  enqueue(key: string, bytes: Uint8Array): void {
    this.remove(key);
    if (this.byKey.size >= this.itemsMax) this.dropMostTransmitted();
    const item: Queued = { key, bytes, transmits: 0 };
    this.byKey.set(key, item);
    this.tier(0).set(key, item);
  }

  /**
   * Up to `countMax` encoded broadcasts whose total fits `budgetBytes`; each taken one
   * counts a transmission and leaves the queue once it reaches `transmitLimit`.
   */
  take(budgetBytes: number, transmitLimit: number, countMax: number): Uint8Array[] {
    const taken: Queued[] = [];
    let budget = budgetBytes;
    let looked = 0;
    walk: for (const tier of this.tiers) {
      for (const item of tier.values()) {
        if (taken.length >= countMax || budget < smallestBroadcastBytes) break walk;
        // Items too big for what is left are skipped, but only so many: with a large
        // queue, scanning all of them for every datagram made taking cost O(queue).
        if (++looked > takeLooksMax) break walk;
        if (item.bytes.length <= budget) {
          taken.push(item);
          budget -= item.bytes.length;
        }
      }
    }
    // Tiers move after the walk, so an item is never taken twice in one datagram.
    for (const item of taken) {
      this.tiers[item.transmits]?.delete(item.key);
      item.transmits += 1;
      if (item.transmits >= transmitLimit) this.byKey.delete(item.key);
      else this.tier(item.transmits).set(item.key, item);
    }
    return taken.map((item) => item.bytes);
  }

  private remove(key: string): void {
    const old = this.byKey.get(key);
    if (old === undefined) return;
    this.byKey.delete(key);
    this.tiers[old.transmits]?.delete(key);
  }

  private dropMostTransmitted(): void {
    for (let t = this.tiers.length - 1; t >= 0; t--) {
      const tier = this.tiers[t] as Map<string, Queued>;
      const first = tier.keys().next();
      if (!first.done) {
        this.remove(first.value);
        this.dropped += 1;
        return;
      }
    }
  }

  private tier(transmits: number): Map<string, Queued> {
    while (this.tiers.length <= transmits) this.tiers.push(new Map());
    return this.tiers[transmits] as Map<string, Queued>;
  }
}

/** type + incarnation + two empty strings: nothing smaller fits, so stop looking. */
const smallestBroadcastBytes = 1 + 4 + 2 + 2;

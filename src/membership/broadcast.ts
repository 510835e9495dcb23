import { assert } from "../core/assert.js";

/** Items a take looks at before it settles for what it has (see take). */
const takeLooksMax = 64;
/**
 * Items too big for the rest of the datagram that a take passes over before it stops.
 * Broadcasts differ in size by a few bytes (ids, addresses), so once one does not fit,
 * the next few rarely do: looking on through takeLooksMax items at the end of every full
 * datagram cost more than the bytes it could fill (40% of a take's time in the simulator).
 */
const takeMissesMax = 4;
/** A tier's array is compacted once it holds more vacated slots than this and than items. */
const vacatedSlotsMax = 32;

interface Queued {
  key: string;
  bytes: Uint8Array;
  transmits: number;
  /** False once replaced or dropped; its slot in a tier is then vacated lazily. */
  queued: boolean;
}

/**
 * Items with the same transmit count, oldest first. An array with a head index rather than
 * a Map: a Map used as a queue keeps the deleted entries at its front until it rehashes,
 * and iterating from the front skips them all, so each take paid for the queue's churn
 * (it was the simulator's top function at 1,000 members). Slots are vacated in place
 * (null, or an item no longer queued at this count) and compacted in bulk.
 */
class Tier {
  slots: (Queued | null)[] = [];
  head = 0;
  vacated = 0;

  push(item: Queued): void {
    this.slots.push(item);
  }

  holds(item: Queued | null, transmits: number): item is Queued {
    return item?.queued === true && item.transmits === transmits;
  }

  vacate(index: number): void {
    this.slots[index] = null;
    this.vacated += 1;
  }

  /** Drops vacated slots at the front, and compacts when they dominate. */
  tidy(transmits: number): void {
    while (this.head < this.slots.length && !this.holds(this.slots[this.head] ?? null, transmits)) {
      this.head += 1;
    }
    if (this.head === this.slots.length) {
      this.slots = [];
      this.head = 0;
      this.vacated = 0;
      return;
    }
    const waste = this.head + this.vacated;
    if (waste > vacatedSlotsMax && waste > this.slots.length - waste) {
      this.slots = this.slots.slice(this.head).filter((s) => this.holds(s, transmits));
      this.head = 0;
      this.vacated = 0;
    }
  }
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
  private readonly tiers: Tier[] = [];
  /**
   * No queued item is smaller than this (a lower bound: it is reset only when the queue
   * empties). A take stops once what is left of the datagram is below it, instead of
   * looking at takeLooksMax items that cannot fit: that scan at the end of every full
   * datagram was most of a take's cost while a cluster formed.
   */
  private smallestBytes = Number.POSITIVE_INFINITY;
  /** Scratch for take(), reused: one array less per datagram. */
  private readonly taken: Queued[] = [];
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
    const item: Queued = { key, bytes, transmits: 0, queued: true };
    this.smallestBytes = Math.min(this.smallestBytes, bytes.length);
    this.byKey.set(key, item);
    this.tier(0).push(item);
  }

  /**
   * Up to `countMax` encoded broadcasts whose total fits `budgetBytes`; each taken one
   * counts a transmission and leaves the queue once it reaches `transmitLimit`.
   */
  take(budgetBytes: number, transmitLimit: number, countMax: number): Uint8Array[] {
    if (this.byKey.size === 0) {
      this.smallestBytes = Number.POSITIVE_INFINITY;
      return [];
    }
    const taken = this.taken;
    taken.length = 0;
    let budget = budgetBytes;
    const fitsMin = Math.max(smallestBroadcastBytes, this.smallestBytes);
    let looked = 0;
    let misses = 0;
    walk: for (let t = 0; t < this.tiers.length; t++) {
      const tier = this.tiers[t] as Tier;
      for (let i = tier.head; i < tier.slots.length; i++) {
        const item = tier.slots[i] ?? null;
        if (!tier.holds(item, t)) continue;
        if (taken.length >= countMax || budget < fitsMin) break walk;
        // Items too big for what is left are skipped, but only so many: with a large
        // queue, scanning all of them for every datagram made taking cost O(queue).
        if (++looked > takeLooksMax) break walk;
        if (item.bytes.length <= budget) {
          taken.push(item);
          budget -= item.bytes.length;
          tier.vacate(i);
        } else if (++misses > takeMissesMax) {
          break walk;
        }
      }
    }
    // Tiers move after the walk, so an item is never taken twice in one datagram.
    const out: Uint8Array[] = [];
    let lowest = this.tiers.length;
    let highest = -1;
    for (const item of taken) {
      out.push(item.bytes);
      lowest = Math.min(lowest, item.transmits);
      highest = Math.max(highest, item.transmits);
      item.transmits += 1;
      if (item.transmits >= transmitLimit) {
        item.queued = false;
        this.byKey.delete(item.key);
      } else {
        this.tier(item.transmits).push(item);
      }
    }
    for (let t = lowest; t <= highest; t++) (this.tiers[t] as Tier).tidy(t);
    return out;
  }

  private remove(key: string): void {
    const old = this.byKey.get(key);
    if (old === undefined) return;
    this.byKey.delete(key);
    old.queued = false;
    const tier = this.tiers[old.transmits] as Tier;
    tier.vacated += 1;
    tier.tidy(old.transmits);
  }

  private dropMostTransmitted(): void {
    for (let t = this.tiers.length - 1; t >= 0; t--) {
      const tier = this.tiers[t] as Tier;
      tier.tidy(t);
      const first = tier.slots[tier.head] ?? null;
      if (tier.holds(first, t)) {
        this.remove(first.key);
        this.dropped += 1;
        return;
      }
    }
  }

  private tier(transmits: number): Tier {
    while (this.tiers.length <= transmits) this.tiers.push(new Tier());
    return this.tiers[transmits] as Tier;
  }
}

/** type + incarnation + two empty strings: nothing smaller fits, so stop looking. */
const smallestBroadcastBytes = 1 + 4 + 2 + 2;

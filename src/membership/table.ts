import { fmix32, fnv1a32String } from "../core/hash.js";
import type { MemberState, NodeMeta } from "./types.js";

/**
 * FNV-1a, 32 bits, over the id's UTF-16 code units, then murmur3's finaliser: spreads ids
 * evenly over the ring that push-pull windows slide over. FNV-1a alone leaves the high
 * bits of short ids that differ in their last characters ("n1", "n2", ...) clustered.
 * Not a defence against chosen ids; it only balances load.
 */
export function idHash(id: string): number {
  return fmix32(fnv1a32String(id));
}

/**
 * Member ids as small integers, so a member table is a handful of typed arrays indexed by
 * them instead of a Map of objects. One per Membership in a server; the simulator gives
 * all its members one, so N members' N-entry tables share one copy of each id, its hash
 * and its index, and each table costs ~30 bytes per known member instead of ~400
 * (docs/membership-measurements.md). Pure: a deterministic function of the ids interned,
 * in their order.
 *
 * It only grows: an id stays interned after its member is forgotten. Ids are stable per
 * machine (a restarted node keeps its id), so this grows with machines ever seen, and a
 * Membership interns an id only when its table takes the member in (membersMax bounds
 * that, and only authenticated messages get that far).
 */
export class IdIndex {
  private readonly byId = new Map<string, number>();
  private readonly ids: string[] = [];
  private hashes = new Uint32Array(64);

  /** The index of `id`, given one if new. */
  intern(id: string): number {
    const known = this.byId.get(id);
    if (known !== undefined) return known;
    const i = this.ids.length;
    this.byId.set(id, i);
    this.ids.push(id);
    if (i >= this.hashes.length) {
      const grown = new Uint32Array(this.hashes.length * 2);
      grown.set(this.hashes);
      this.hashes = grown;
    }
    this.hashes[i] = idHash(id);
    return i;
  }

  /** The index of `id`, or −1 if it was never interned. */
  find(id: string): number {
    return this.byId.get(id) ?? -1;
  }

  id(i: number): string {
    return this.ids[i] as string;
  }

  /** idHash(id(i)), computed once. */
  hash(i: number): number {
    return this.hashes[i] as number;
  }

  get size(): number {
    return this.ids.length;
  }
}

/** States as stored: 0 is "not in the table". */
export const ABSENT = 0;
export const ALIVE = 1;
export const SUSPECT = 2;
export const DEAD = 3;
export const LEFT = 4;
export type StateCode = 0 | 1 | 2 | 3 | 4;

const stateNames: readonly MemberState[] = ["alive", "alive", "suspect", "dead", "left"];
const stateCodes: Readonly<Record<MemberState, StateCode>> = {
  alive: ALIVE,
  suspect: SUSPECT,
  dead: DEAD,
  left: LEFT,
};

export function stateName(code: number): MemberState {
  return stateNames[code] as MemberState;
}

export function stateCode(state: MemberState): StateCode {
  return stateCodes[state];
}

/** Alive or suspect: counted in N, probed, gossiped to. */
export function isLive(code: number): boolean {
  return code === ALIVE || code === SUSPECT;
}

/**
 * Where and what a member is. Decoded alive messages and push-pull records are frozen and
 * shared by the codec's caches, so a table keeps a pointer to one instead of a copy.
 */
export interface Info {
  readonly address: string;
  readonly meta: NodeMeta;
}

/**
 * One member's view of the others: per member index (IdIndex), its state, incarnation,
 * last state change and Info; plus a dense list of the indices present, for iteration
 * and random picks. The arrays are public for the protocol's hot paths (a typed-array
 * read per gossip receipt, instead of a Map lookup and an object): read them, change
 * them only through add(), delete() and set().
 */
export class MemberTable {
  state = new Uint8Array(0);
  incarnation = new Uint32Array(0);
  changedMs = new Float64Array(0);
  info: (Info | undefined)[] = [];
  /** Indices present, in no particular order; size of them are valid. */
  private members = new Int32Array(16);
  /** Position in `members` + 1 (0: absent). */
  private position = new Int32Array(0);
  size = 0;

  has(i: number): boolean {
    return i >= 0 && i < this.state.length && this.state[i] !== ABSENT;
  }

  /** The k-th member present, 0 ≤ k < size; order changes when members are deleted. */
  at(k: number): number {
    return this.members[k] as number;
  }

  add(i: number, info: Info, incarnation: number, state: StateCode, nowMs: number): void {
    if (i >= this.state.length) this.grow(i + 1);
    if (this.size === this.members.length) {
      const grown = new Int32Array(this.members.length * 2);
      grown.set(this.members);
      this.members = grown;
    }
    this.members[this.size] = i;
    this.size += 1;
    this.position[i] = this.size;
    this.set(i, info, incarnation, state, nowMs);
  }

  set(i: number, info: Info, incarnation: number, state: StateCode, nowMs: number): void {
    this.info[i] = info;
    this.incarnation[i] = incarnation;
    if (this.state[i] !== state) this.changedMs[i] = nowMs;
    this.state[i] = state;
  }

  delete(i: number): void {
    const p = (this.position[i] as number) - 1;
    if (p < 0) return;
    const last = this.members[this.size - 1] as number;
    this.members[p] = last;
    this.position[last] = p + 1;
    this.position[i] = 0;
    this.size -= 1;
    this.state[i] = ABSENT;
    this.incarnation[i] = 0;
    this.changedMs[i] = 0;
    this.info[i] = undefined;
  }

  private grow(needed: number): void {
    const n = Math.max(needed, this.state.length * 2, 16);
    const state = new Uint8Array(n);
    state.set(this.state);
    this.state = state;
    const incarnation = new Uint32Array(n);
    incarnation.set(this.incarnation);
    this.incarnation = incarnation;
    const changedMs = new Float64Array(n);
    changedMs.set(this.changedMs);
    this.changedMs = changedMs;
    const position = new Int32Array(n);
    position.set(this.position);
    this.position = position;
  }
}

/**
 * A minimal deterministic network for membership tests: N Membership instances, one
 * virtual clock, a message queue with seeded random delays (and optional loss), and
 * crash and pause. The full simulator (sim/) does much more; this is just enough to drive
 * the state machine through its driver face exactly as a real driver would.
 */
import { SeededRandom } from "../../src/core/random.js";
import {
  type MemberEvent,
  Membership,
  type MembershipConfig,
  type NodeMeta,
} from "../../src/membership/index.js";

interface Delivery {
  atMs: number;
  order: number;
  from: string;
  to: string;
  data: Uint8Array;
}

export interface SimNode {
  id: string;
  m: Membership;
  crashed: boolean;
  paused: boolean;
  backlog: Delivery[];
}

export interface LoggedEvent {
  at: string;
  event: MemberEvent;
}

export interface NetOptions {
  delayMinMs?: number;
  delayMaxMs?: number;
  lossRate?: number;
}

export function metaFor(i: number): NodeMeta {
  return {
    zone: `z${i % 3}`,
    addresses: [`n${i}:6379`],
    capacity: { memoryBytes: 1e9 },
    version: 0,
  };
}

/** Steps through virtual time until nothing is due before `endMs`. */
export class Net {
  nowMs = 0;
  readonly nodes = new Map<string, SimNode>();
  readonly log: LoggedEvent[] = [];
  messages = 0;
  private readonly random: SeededRandom;
  private readonly heap: Delivery[] = [];
  private order = 0;
  private readonly delayMinMs: number;
  private readonly delayMaxMs: number;
  private readonly lossRate: number;

  constructor(
    private readonly seed: number,
    readonly config: MembershipConfig,
    options: NetOptions = {},
  ) {
    this.random = new SeededRandom(seed);
    this.delayMinMs = options.delayMinMs ?? 1;
    this.delayMaxMs = options.delayMaxMs ?? 10;
    this.lossRate = options.lossRate ?? 0;
  }

  add(i: number): SimNode {
    const id = `n${i}`;
    const rng = new SeededRandom((this.seed * 7919 + i * 104_729) >>> 0);
    const m = new Membership(this.config, { id, address: id, meta: metaFor(i) }, rng);
    const node: SimNode = { id, m, crashed: false, paused: false, backlog: [] };
    this.nodes.set(id, node);
    return node;
  }

  /** n nodes, each joining through n0 at a random time in the first second. */
  static formed(seed: number, config: MembershipConfig, n: number, options?: NetOptions): Net {
    const net = new Net(seed, config, options);
    for (let i = 0; i < n; i++) net.add(i);
    net.node("n0").m.tick(0);
    for (let i = 1; i < n; i++) {
      net.runUntil(net.random.int(1000) + i);
      net.act(`n${i}`, (m) => m.join(["n0"], net.nowMs));
    }
    return net;
  }

  node(id: string): SimNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  live(): SimNode[] {
    return [...this.nodes.values()].filter((n) => !n.crashed);
  }

  /** Runs a call on a node at the current time, then ships what it produced. */
  act(id: string, fn: (m: Membership) => void): void {
    const node = this.node(id);
    fn(node.m);
    this.flush(node);
  }

  crash(id: string): void {
    this.node(id).crashed = true;
  }

  pause(id: string): void {
    this.node(id).paused = true;
  }

  /** As a process continued after SIGSTOP: the datagrams queued meanwhile arrive at once. */
  resume(id: string): void {
    const node = this.node(id);
    node.paused = false;
    const backlog = node.backlog;
    node.backlog = [];
    for (const d of backlog) {
      node.m.receive(d.from, d.data, this.nowMs);
      this.flush(node);
    }
  }

  runFor(ms: number): void {
    this.runUntil(this.nowMs + ms);
  }

  runUntil(endMs: number): void {
    for (let guard = 0; ; guard++) {
      if (guard > 10_000_000) throw new Error("harness: no progress");
      let next = this.heap.length > 0 ? (this.heap[0] as Delivery).atMs : Number.POSITIVE_INFINITY;
      for (const node of this.nodes.values()) {
        if (!node.crashed && !node.paused) next = Math.min(next, node.m.nextWakeMs());
      }
      if (next > endMs) {
        this.nowMs = Math.max(this.nowMs, endMs);
        return;
      }
      this.nowMs = Math.max(this.nowMs, next);
      this.deliverDue();
      for (const node of this.nodes.values()) {
        if (node.crashed || node.paused || node.m.nextWakeMs() > this.nowMs) continue;
        node.m.tick(this.nowMs);
        this.flush(node);
      }
    }
  }

  /** Runs in steps of `stepMs` until `done()` holds; returns the time it took, or -1. */
  runUntilTrue(done: () => boolean, limitMs: number, stepMs = 50): number {
    const start = this.nowMs;
    while (this.nowMs - start <= limitMs) {
      if (done()) return this.nowMs - start;
      this.runFor(stepMs);
    }
    return -1;
  }

  /** Every live, unpaused node sees every other live node alive and knows all n. */
  converged(): boolean {
    const live = this.live();
    for (const node of live) {
      const alive = node.m.members().filter((x) => x.state === "alive").length;
      if (alive !== live.length) return false;
    }
    return true;
  }

  private deliverDue(): void {
    while (this.heap.length > 0 && (this.heap[0] as Delivery).atMs <= this.nowMs) {
      const d = this.pop();
      const node = this.nodes.get(d.to);
      if (node === undefined || node.crashed) continue;
      if (node.paused) {
        node.backlog.push(d);
        continue;
      }
      node.m.receive(d.from, d.data, this.nowMs);
      this.flush(node);
    }
  }

  private flush(node: SimNode): void {
    const { messages, events } = node.m.drain();
    for (const event of events) this.log.push({ at: node.id, event });
    for (const msg of messages) {
      this.messages += 1;
      if (!msg.reliable && this.lossRate > 0 && this.random.next() < this.lossRate) continue;
      const span = this.delayMaxMs - this.delayMinMs;
      const delay = this.delayMinMs + (span > 0 ? this.random.int(span + 1) : 0);
      this.push({
        atMs: this.nowMs + delay,
        order: this.order++,
        from: node.id,
        to: msg.to,
        data: msg.data,
      });
    }
  }

  private push(d: Delivery): void {
    const h = this.heap;
    h.push(d);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i] as Delivery, h[parent] as Delivery)) break;
      [h[i], h[parent]] = [h[parent] as Delivery, h[i] as Delivery];
      i = parent;
    }
  }

  private pop(): Delivery {
    const h = this.heap;
    const top = h[0] as Delivery;
    const last = h.pop() as Delivery;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l] as Delivery, h[m] as Delivery)) m = l;
        if (r < h.length && before(h[r] as Delivery, h[m] as Delivery)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m] as Delivery, h[i] as Delivery];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Delivery, b: Delivery): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.order < b.order);
}

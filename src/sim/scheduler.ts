import { assert } from "../core/assert.js";
import { type Clock, checkDelay, type TimerHandle, type Timers } from "../core/clock.js";

/**
 * Virtual time: one priority queue of events ordered by (time, sequence number). Nothing
 * here reads a real clock or draws randomness, so a run is a pure function of its inputs
 * and the seed the network and nemesis draw from.
 *
 * Events are plain records (SimEvent) with a callback or a sink, not closures built per
 * message: a 1,000-node run moves tens of millions of them (docs/runtime.md has figures).
 */

/** Runaway guard: a protocol that schedules without bound fails loudly, not by OOM. */
export const eventsPendingMax = 50_000_000;

/** Where a non-timer event (a message delivery) goes to run or to be dropped. */
export interface EventSink {
  fire(event: SimEvent): void;
  /** The event will never run (its host crashed, or a paused host's queue overflowed). */
  drop(event: SimEvent): void;
}

/** One simulated machine, as far as scheduling goes: up or not, paused or not. */
export class SimHost {
  up = true;
  paused = false;
  pausedUntilMs = 0;
  /** Bumped by each crash: timers of an earlier life never fire. */
  epoch = 0;
  /** Events that came due while paused, in the order they came due. */
  deferred: SimEvent[] = [];
  deferredDatagrams = 0;
  /** Datagrams a paused host holds, as a socket receive buffer does; more are dropped. */
  pausedQueueMax = 4096;
  /** Extra delay on each delivery to this host, as on an overloaded machine. */
  slowMs = 0;
  /** Partition side: hosts talk only within one side. 0 is the default side. */
  side = 0;
  isolated = false;
  /** One-way blocks: messages from this host to these are lost. */
  blockedTo: Set<SimHost> | null = null;
  /** Per destination, the time the last reliable message lands: streams stay in order. */
  reliableTailMs: Map<SimHost, number> | null = null;

  constructor(
    readonly address: string,
    readonly index: number,
  ) {}
}

export class SimEvent implements TimerHandle {
  at = 0;
  seq = 0;
  cancelled = false;
  host: SimHost | null = null;
  /** Timers are gated by their host's epoch; deliveries (epoch -1) are checked on arrival. */
  epoch = -1;
  fn: (() => void) | null = null;
  sink: EventSink | null = null;
  source: SimHost | null = null;
  data: Uint8Array | null = null;
  reliable = false;
  resolve: (() => void) | null = null;
  reject: ((error: Error) => void) | null = null;

  cancel(): void {
    this.cancelled = true;
  }
}

export class Scheduler {
  nowMs = 0;
  eventsRun = 0;
  /** A running hash of every event run: equal seeds must give equal traces. */
  trace = 0x811c9dc5;
  private readonly heap: SimEvent[] = [];
  private seq = 0;

  get pending(): number {
    return this.heap.length;
  }

  /** Runs `fn` at `atMs` on no particular host (nemesis actions, test probes). */
  at(atMs: number, fn: () => void): SimEvent {
    const event = new SimEvent();
    event.at = Math.max(atMs, this.nowMs);
    event.fn = fn;
    this.push(event);
    return event;
  }

  push(event: SimEvent): void {
    assert(event.at >= this.nowMs, "event scheduled in the past");
    assert(this.heap.length < eventsPendingMax, "too many pending events");
    event.seq = this.seq++;
    const heap = this.heap;
    let i = heap.length;
    heap.push(event);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent];
      if (p.at < event.at || (p.at === event.at && p.seq < event.seq)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = event;
  }

  /** Runs the next event; false when none is left. */
  step(): boolean {
    const event = this.pop();
    if (event === undefined) return false;
    this.dispatch(event);
    return true;
  }

  /** Runs every event due at or before `untilMs`, then sets the clock to it. */
  runUntil(untilMs: number): void {
    const heap = this.heap;
    while (heap.length > 0 && heap[0].at <= untilMs) this.step();
    if (untilMs > this.nowMs) this.nowMs = untilMs;
  }

  runFor(ms: number): void {
    this.runUntil(this.nowMs + ms);
  }

  /**
   * As runUntil, but lets promise continuations run after every event, so async driver
   * code (awaiting a sendReliable or a disk write) sees virtual time as it was. Slower:
   * one macrotask turn per event.
   */
  async runUntilAsync(untilMs: number): Promise<void> {
    await drainMicrotasks();
    while (this.heap.length > 0 && this.heap[0].at <= untilMs) {
      this.step();
      await drainMicrotasks();
    }
    if (untilMs > this.nowMs) this.nowMs = untilMs;
  }

  /** Runs events until `promise` settles; throws if the world runs dry first. */
  async settle<T>(promise: Promise<T>, maxMs = 3_600_000): Promise<T> {
    let done = false;
    promise.then(
      () => {
        done = true;
      },
      () => {
        done = true;
      },
    );
    const limitMs = this.nowMs + maxMs;
    await drainMicrotasks();
    while (!done) {
      const next = this.heap[0];
      if (next === undefined || next.at > limitMs) {
        throw new Error(`nothing left to run before the promise settled (t=${this.nowMs})`);
      }
      this.step();
      await drainMicrotasks();
    }
    return promise;
  }

  /** Stops a host's events until `resumeAtMs`, as a GC pause or a blocked loop would. */
  pause(host: SimHost, durationMs: number): void {
    checkDelay(durationMs);
    const untilMs = this.nowMs + durationMs;
    if (host.paused && host.pausedUntilMs >= untilMs) return;
    host.paused = true;
    host.pausedUntilMs = untilMs;
    this.at(untilMs, () => {
      if (host.paused && this.nowMs >= host.pausedUntilMs) this.resume(host);
    });
  }

  resume(host: SimHost): void {
    host.paused = false;
    const deferred = host.deferred;
    host.deferred = [];
    host.deferredDatagrams = 0;
    for (const event of deferred) {
      event.at = this.nowMs;
      this.push(event);
    }
  }

  /** The host's pending timers die with it; messages held for it are dropped. */
  crash(host: SimHost): void {
    host.up = false;
    host.paused = false;
    host.epoch++;
    const deferred = host.deferred;
    host.deferred = [];
    host.deferredDatagrams = 0;
    for (const event of deferred) event.sink?.drop(event);
  }

  private dispatch(event: SimEvent): void {
    if (event.cancelled) return;
    this.nowMs = event.at;
    const host = event.host;
    if (host !== null) {
      if (event.epoch >= 0 && event.epoch !== host.epoch) return;
      if (host.paused) {
        this.defer(host, event);
        return;
      }
    }
    this.eventsRun++;
    this.trace = Math.imul(this.trace ^ ((event.at * 1000) | 0), 0x01000193);
    this.trace = Math.imul(this.trace ^ (host === null ? -1 : host.index), 0x01000193);
    if (event.fn !== null) event.fn();
    else (event.sink as EventSink).fire(event);
  }

  private defer(host: SimHost, event: SimEvent): void {
    const isDatagram = event.sink !== null && !event.reliable;
    if (isDatagram && host.deferredDatagrams >= host.pausedQueueMax) {
      (event.sink as EventSink).drop(event);
      return;
    }
    if (isDatagram) host.deferredDatagrams++;
    host.deferred.push(event);
  }

  private pop(): SimEvent | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length === 0 || last === undefined) return top;
    const n = heap.length;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      let c = heap[left];
      if (right < n) {
        const r = heap[right];
        if (r.at < c.at || (r.at === c.at && r.seq < c.seq)) {
          child = right;
          c = r;
        }
      }
      if (last.at < c.at || (last.at === c.at && last.seq < c.seq)) break;
      heap[i] = c;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}

/** Lets every queued promise continuation run: one macrotask turn. */
function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A host's timers: they die with the host's life (epoch) and wait while it is paused. */
export class HostTimers implements Timers {
  private readonly epoch: number;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly host: SimHost,
  ) {
    this.epoch = host.epoch;
  }

  schedule(delayMs: number, fn: () => void): TimerHandle {
    checkDelay(delayMs);
    const event = new SimEvent();
    event.at = this.scheduler.nowMs + delayMs;
    event.host = this.host;
    event.epoch = this.epoch;
    event.fn = fn;
    this.scheduler.push(event);
    return event;
  }
}

/** Virtual time as a Clock; the wall clock starts at a fixed, plausible date. */
export class VirtualClock implements Clock {
  constructor(
    private readonly scheduler: Scheduler,
    private readonly wallStartMs = 1_700_000_000_000,
  ) {}
  nowMs(): number {
    return this.wallStartMs + this.scheduler.nowMs;
  }
  monotonicMs(): number {
    return this.scheduler.nowMs;
  }
}

import { assert } from "../core/assert.js";
import type { SeededRandom } from "../core/random.js";
import {
  datagramBytesMax,
  type MessageHandler,
  newTransportCounters,
  reliableBytesMax,
  type Transport,
  TransportError,
} from "../core/transport.js";
import {
  type EventSink,
  HostTimers,
  type Scheduler,
  SimEvent,
  SimHost,
  VirtualClock,
} from "./scheduler.js";

/**
 * The simulated network: many nodes in one process, each with a Transport identical in
 * contract to the real one (test/core/transport.compliance.ts runs against both). Every
 * choice — delay, loss, duplication — is drawn from one seeded Random, so a run replays.
 *
 * Fault model (docs/runtime.md):
 * - one-way delay = latencyMinMs + log-normal(median, sigma), capped; reordering follows
 *   from independent delays. Slow hosts add uniform [0, 2·slowMs) on delivery.
 * - datagrams: lost with lossProbability, delivered twice with duplicateProbability.
 * - reliable messages: never lost or duplicated, in order per pair of hosts; rejected
 *   when the peer is down ("unreachable") or cut off ("timeout", after reliableTimeoutMs).
 * - partitions are checked at send and at arrival: a message in flight when a partition
 *   starts is lost.
 */
export interface NetworkOptions {
  /** Propagation: the least any message takes. */
  latencyMinMs: number;
  /** Median of the random, log-normal part of the delay (queueing, scheduling). */
  latencyMedianMs: number;
  /** Log-normal spread: 0 is constant; 0.5 a moderate tail; 1 a heavy one. */
  latencySigma: number;
  /** A real queue is bounded, a log-normal tail is not: no delay exceeds this. */
  latencyMaxMs: number;
  lossProbability: number;
  duplicateProbability: number;
  /** A reliable send to a cut-off peer gives up after this, as TCP does. */
  reliableTimeoutMs: number;
  /** Datagrams held for a paused host (a socket's receive buffer); the rest are lost. */
  pausedQueueMax: number;
}

/** A quiet LAN: ~0.3 ms one way, a tail to a few ms, nothing lost. */
export const lanNetwork: NetworkOptions = {
  latencyMinMs: 0.05,
  latencyMedianMs: 0.25,
  latencySigma: 0.6,
  latencyMaxMs: 200,
  lossProbability: 0,
  duplicateProbability: 0,
  reliableTimeoutMs: 10_000,
  pausedQueueMax: 4096,
};

export interface NetworkCounters {
  sent: number;
  delivered: number;
  lost: number;
  duplicated: number;
  /** Cut off by a partition, at send or on arrival. */
  blocked: number;
  /** The destination was down or its transport closed. */
  droppedDown: number;
  /** A paused host's queue was full. */
  droppedPaused: number;
  /** No host has that address. */
  unknownAddress: number;
}

/** What a driver gets for one simulated node (a new one after each restart). */
export interface SimNode {
  readonly address: string;
  readonly host: SimHost;
  readonly transport: SimTransport;
  readonly timers: HostTimers;
  readonly clock: VirtualClock;
  readonly random: SeededRandom;
}

export class SimTransport implements Transport {
  readonly counters = newTransportCounters();
  handler: MessageHandler | null = null;
  closed = false;

  constructor(
    private readonly network: SimNetwork,
    readonly host: SimHost,
  ) {}

  get localAddress(): string {
    return this.host.address;
  }

  send(to: string, data: Uint8Array): void {
    assert(data.length <= datagramBytesMax, `datagram of ${data.length} bytes is too large`);
    if (this.closed) return;
    this.counters.datagramsSent++;
    this.counters.bytesSent += data.length;
    this.network.send(this.host, to, data.slice(), false, null, null);
  }

  sendReliable(to: string, data: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(new TransportError("closed", "transport closed"));
    if (data.length > reliableBytesMax) {
      return Promise.reject(new TransportError("too-large", `${data.length} bytes`));
    }
    this.counters.reliableSent++;
    this.counters.bytesSent += data.length;
    return new Promise((resolve, reject) => {
      this.network.send(this.host, to, data.slice(), true, resolve, reject);
    });
  }

  sendStream(to: string, data: Uint8Array): void {
    this.sendReliable(to, data).catch(() => {});
  }

  onMessage(handler: MessageHandler): void {
    this.handler = handler;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.handler = null;
  }
}

export class SimNetwork implements EventSink {
  readonly counters: NetworkCounters = {
    sent: 0,
    delivered: 0,
    lost: 0,
    duplicated: 0,
    blocked: 0,
    droppedDown: 0,
    droppedPaused: 0,
    unknownAddress: 0,
  };
  options: NetworkOptions;
  private readonly hosts = new Map<string, SimHost>();
  private readonly transports: SimTransport[] = [];
  private spareGaussian: number | null = null;

  constructor(
    readonly scheduler: Scheduler,
    private readonly random: SeededRandom,
    options: Partial<NetworkOptions> = {},
  ) {
    this.options = { ...lanNetwork, ...options };
    checkOptions(this.options);
  }

  /** Changes fault parameters mid-run (the nemesis turns loss up and down). */
  setOptions(options: Partial<NetworkOptions>): void {
    const next = { ...this.options, ...options };
    checkOptions(next);
    this.options = next;
    for (const host of this.hosts.values()) host.pausedQueueMax = next.pausedQueueMax;
  }

  addNode(address: string): SimNode {
    assert(!this.hosts.has(address), `duplicate address ${address}`);
    const host = new SimHost(address, this.hosts.size);
    host.pausedQueueMax = this.options.pausedQueueMax;
    this.hosts.set(address, host);
    return this.boot(host);
  }

  host(address: string): SimHost {
    const host = this.hosts.get(address);
    assert(host !== undefined, `no host ${address}`);
    return host;
  }

  addresses(): string[] {
    return [...this.hosts.keys()];
  }

  crash(address: string): void {
    const host = this.host(address);
    this.transports[host.index].closed = true;
    this.transports[host.index].handler = null;
    this.scheduler.crash(host);
  }

  /** A fresh process on the same address: new transport, timers and random stream. */
  restart(address: string): SimNode {
    const host = this.host(address);
    if (host.up) this.crash(address);
    host.up = true;
    return this.boot(host);
  }

  pause(address: string, durationMs: number): void {
    this.scheduler.pause(this.host(address), durationMs);
  }

  setSlow(address: string, slowMs: number): void {
    assert(slowMs >= 0, "slowMs must not be negative");
    this.host(address).slowMs = slowMs;
  }

  /** Symmetric partition: listed groups talk only within themselves; others form one more. */
  partition(sides: readonly (readonly string[])[]): void {
    for (const host of this.hosts.values()) host.side = 0;
    sides.forEach((side, i) => {
      for (const address of side) this.host(address).side = i + 1;
    });
  }

  /** Cuts the hosts into two random halves (drawn from the seed); returns them. */
  splitInTwo(): [string[], string[]] {
    const all = this.addresses();
    for (let i = all.length - 1; i > 0; i--) {
      const j = this.random.int(i + 1);
      [all[i], all[j]] = [all[j], all[i]];
    }
    const half = all.length >> 1;
    const sides: [string[], string[]] = [all.slice(0, half), all.slice(half)];
    this.partition(sides);
    return sides;
  }

  isolate(address: string): void {
    this.host(address).isolated = true;
  }

  /** Messages from `from` to `to` are lost; the other direction still works. */
  blockOneWay(from: string, to: string): void {
    const source = this.host(from);
    source.blockedTo ??= new Set();
    source.blockedTo.add(this.host(to));
  }

  heal(): void {
    for (const host of this.hosts.values()) {
      host.side = 0;
      host.isolated = false;
      host.blockedTo = null;
    }
  }

  /** Called by SimTransport; `data` is already a private copy. */
  send(
    source: SimHost,
    to: string,
    data: Uint8Array,
    reliable: boolean,
    resolve: (() => void) | null,
    reject: ((error: Error) => void) | null,
  ): void {
    const target = this.hosts.get(to);
    this.counters.sent++;
    if (target === undefined) {
      this.counters.unknownAddress++;
      if (reject !== null) this.rejectLater(reject, "unreachable", `no host ${to}`, 0);
      return;
    }
    if (!reliable) {
      if (this.cut(source, target)) return;
      const o = this.options;
      if (o.lossProbability > 0 && this.random.next() < o.lossProbability) {
        this.counters.lost++;
        return;
      }
      this.deliver(source, target, data, false, null, null, this.delayMs(target));
      if (o.duplicateProbability > 0 && this.random.next() < o.duplicateProbability) {
        this.counters.duplicated++;
        this.deliver(source, target, data, false, null, null, this.delayMs(target));
      }
      return;
    }
    source.reliableTailMs ??= new Map();
    const atMs = Math.max(
      this.scheduler.nowMs + this.delayMs(target),
      source.reliableTailMs.get(target) ?? 0,
    );
    source.reliableTailMs.set(target, atMs);
    this.deliver(source, target, data, true, resolve, reject, atMs - this.scheduler.nowMs);
  }

  fire(event: SimEvent): void {
    const target = event.host as SimHost;
    const source = event.source as SimHost;
    const transport = this.transports[target.index];
    if (!target.up || transport.closed || transport.handler === null) {
      this.drop(event);
      return;
    }
    if (this.cut(source, target)) {
      if (event.reject !== null) {
        const timeoutMs = this.options.reliableTimeoutMs;
        this.rejectLater(event.reject, "timeout", `${target.address} cut off`, timeoutMs);
      }
      return;
    }
    const data = event.data as Uint8Array;
    this.counters.delivered++;
    const counters = transport.counters;
    if (event.reliable) counters.reliableReceived++;
    else counters.datagramsReceived++;
    counters.bytesReceived += data.length;
    transport.handler(source.address, data, event.reliable);
    if (event.resolve !== null) event.resolve();
  }

  drop(event: SimEvent): void {
    const target = event.host as SimHost;
    if (target.up && target.paused) this.counters.droppedPaused++;
    else this.counters.droppedDown++;
    if (event.reject !== null) {
      event.reject(new TransportError("unreachable", `${target.address} is down`));
    }
  }

  private boot(host: SimHost): SimNode {
    const transport = new SimTransport(this, host);
    this.transports[host.index] = transport;
    return {
      address: host.address,
      host,
      transport,
      timers: new HostTimers(this.scheduler, host),
      clock: new VirtualClock(this.scheduler),
      random: this.random.fork(),
    };
  }

  private cut(source: SimHost, target: SimHost): boolean {
    const blocked =
      source.side !== target.side ||
      source.isolated ||
      target.isolated ||
      source.blockedTo?.has(target) === true;
    if (blocked) this.counters.blocked++;
    return blocked;
  }

  private deliver(
    source: SimHost,
    target: SimHost,
    data: Uint8Array,
    reliable: boolean,
    resolve: (() => void) | null,
    reject: ((error: Error) => void) | null,
    delayMs: number,
  ): void {
    const event = new SimEvent();
    event.at = this.scheduler.nowMs + delayMs;
    event.host = target;
    event.sink = this;
    event.source = source;
    event.data = data;
    event.reliable = reliable;
    event.resolve = resolve;
    event.reject = reject;
    this.scheduler.push(event);
  }

  private rejectLater(
    reject: (error: Error) => void,
    code: "unreachable" | "timeout",
    message: string,
    delayMs: number,
  ): void {
    this.scheduler.at(this.scheduler.nowMs + delayMs, () => {
      reject(new TransportError(code, message));
    });
  }

  private delayMs(target: SimHost): number {
    const o = this.options;
    let delayMs = o.latencyMinMs;
    if (o.latencyMedianMs > 0) {
      const jitter = o.latencyMedianMs * Math.exp(o.latencySigma * this.gaussian());
      delayMs += Math.min(jitter, o.latencyMaxMs - o.latencyMinMs);
    }
    if (target.slowMs > 0) delayMs += this.random.next() * 2 * target.slowMs;
    return delayMs;
  }

  /** Standard normal by Box–Muller; the second value of each pair is kept for next time. */
  private gaussian(): number {
    const spare = this.spareGaussian;
    if (spare !== null) {
      this.spareGaussian = null;
      return spare;
    }
    const u = 1 - this.random.next(); // (0, 1]: log(0) would be -Infinity
    const v = this.random.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareGaussian = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

function checkOptions(o: NetworkOptions): void {
  const probability = (p: number) => p >= 0 && p <= 1;
  assert(probability(o.lossProbability), "lossProbability must be in [0, 1]");
  assert(probability(o.duplicateProbability), "duplicateProbability must be in [0, 1]");
  assert(o.latencyMinMs >= 0 && o.latencyMedianMs >= 0, "latencies must not be negative");
  assert(o.latencySigma >= 0, "latencySigma must not be negative");
  assert(o.latencyMaxMs >= o.latencyMinMs, "latencyMaxMs must be at least latencyMinMs");
  assert(o.reliableTimeoutMs >= 0, "reliableTimeoutMs must not be negative");
  assert(o.pausedQueueMax >= 0, "pausedQueueMax must not be negative");
}

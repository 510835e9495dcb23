import {
  type GroupLog,
  MultiRaft,
  type MultiRaftOptions,
  type RaftLogs,
} from "../cluster/multi-raft.js";
import type { Random } from "../core/random.js";
import type { Transport } from "../core/transport.js";
import type { NodeId, RaftConfig } from "../raft/index.js";
import type { Logger } from "./log.js";

export interface RaftRuntimeOptions<L extends GroupLog> {
  /** This node's raft id (the meta group allotted it). */
  id: NodeId;
  config: RaftConfig;
  random: Random;
  logs: RaftLogs<L>;
  /** The bus transport; raft envelopes travel as its unacknowledged stream messages. */
  transport: Pick<Transport, "sendStream">;
  /** A node's bus address, or undefined while it is not in the registry. */
  addressOf(id: NodeId): string | undefined;
  /** The raft id behind a bus address, or undefined. */
  idOf(address: string): NodeId | undefined;
  /** A sender not in the registry named itself in its envelope: remember its address. */
  learn?(id: NodeId, address: string): void;
  /** Real milliseconds per raft tick (the raft config counts its timeouts in ticks). */
  tickMs: number;
  log: Logger;
  multi?: MultiRaftOptions;
  /**
   * The node's thread time of each flush's two halves (the raft log's write and sync, then
   * the sends and applies), in ms: the latency monitor's raft-flush event.
   */
  onFlushMs?(ms: number): void;
}

/**
 * Resolves once every promise job queued so far has run, and every job those queued in
 * turn: a microtask that schedules a tick, and Node runs ticks only once the microtask
 * queue is empty. Between a flush's halves this lets a reply travel from the machine's
 * apply to its client's socket however many promise hops it takes (about six: the
 * machine's promise, the router's catch, the async atLeader, the node's then and its
 * release of the replies settled together). It replaced 16 awaits in a row, which
 * covered at most 16 hops and allocated about 3 KB a flush, garbage for the next
 * scavenge (docs/benchmarks.md, "Warm servers, the floor, and the garbage collector").
 */
export function afterPromiseJobs(): Promise<void> {
  return new Promise((resolve) => queueMicrotask(() => process.nextTick(resolve)));
}

/**
 * Keys of a compaction image built per turn of the event loop (MultiRaft.stepImages): a
 * few milliseconds of work (5–8 µs a key here), so a big shard's image holds the loop no
 * longer than a busy turn's flush does, and flushes go on between its slices.
 */
const imageSliceKeys = 512;

/** Waits between retries of a raft log write that failed: doubling from the first. */
const stallRetryFirstMs = 100;
const stallRetryMaxMs = 1000;

/**
 * The impure shell around MultiRaft on a real node (STYLE.md, 1): one interval timer
 * ticks every group, envelopes from the bus are stepped in as they arrive, and one flush
 * per turn of the event loop (setImmediate) persists, sends and applies whatever the turn
 * produced — so the Readies of every group touched in a turn share one write and one
 * fdatasync of the write-ahead log, and one envelope per peer. The persist runs
 * synchronously: the sync is the price of a write being durable before it is
 * acknowledged (raft's rule), and it blocks the loop for the fdatasync (~0.1–0.6 ms here). Writes that were durable before it are
 * applied, and answered, first (flushTurn).
 */
export class RaftRuntime<L extends GroupLog = GroupLog> {
  readonly multi: MultiRaft<L>;
  readonly stats = { unroutable: 0, unknownSenders: 0, flushes: 0, stalls: 0 };
  private timer: NodeJS.Timeout | null = null;
  /** The retry of a stalled flush (see scheduleRetry), or null. */
  private retryTimer: NodeJS.Timeout | null = null;
  /** Date.now() when the current stall began. */
  private stalledAt = 0;
  private flushQueued = false;
  /** A slice of compaction image is queued (pumpImages). */
  private imageQueued = false;
  private closed = false;
  private readonly listeners: (() => void)[] = [];

  constructor(private readonly o: RaftRuntimeOptions<L>) {
    this.multi = new MultiRaft(
      o.id,
      o.config,
      o.random,
      o.logs,
      (to, bytes) => this.send(to, bytes),
      o.multi,
    );
  }

  start(): void {
    if (this.timer !== null || this.closed) return;
    this.timer = setInterval(() => {
      this.multi.tick();
      this.flushSoon();
    }, this.o.tickMs);
  }

  /** A stream message on the bus that is not membership's: an envelope from `from`. */
  receive(from: string, data: Uint8Array): void {
    if (this.closed) return;
    let id = this.o.idOf(from);
    if (id === undefined && data.length >= 5) {
      // Not in our registry yet (we are joining, or it is): the envelope names its sender
      // (version byte, then the sender's raft id). The bus is sealed with the cluster key,
      // so only a member can claim an id, as with membership's own messages.
      id =
        (data[1] as number) * 2 ** 24 +
        ((data[2] as number) << 16) +
        ((data[3] as number) << 8) +
        (data[4] as number);
      this.o.learn?.(id, from);
    }
    if (id === undefined || id === 0) {
      this.stats.unknownSenders += 1;
      return;
    }
    // The transport's buffer dies when we return; MultiRaft copies what it keeps.
    this.multi.receive(id, data);
    this.flushSoon();
  }

  /** Runs a flush after the current turn (proposals, reads and receipts gather until then). */
  flushSoon(): void {
    // While stalled only the retry (scheduleRetry) flushes, and tells the listeners.
    if (this.flushQueued || this.closed || this.multi.stalled !== null) return;
    this.flushQueued = true;
    setImmediate(() => {
      this.flushQueued = false;
      if (this.closed) return;
      this.flushTurn().then(
        () => {
          if (this.multi.stalled === null) for (const l of this.listeners) l();
          this.pumpImages();
        },
        (err: unknown) => this.onFlushError(err),
      );
    });
  }

  /**
   * A flush threw. A failed raft log write stalls MultiRaft (multi-raft.ts, flush): the
   * node stays up, its groups paused, and the write is retried until it goes through.
   * Anything else (or logs that cannot take a write until reopened) leaves MultiRaft
   * unusable: the node must restart from its logs.
   */
  private onFlushError(err: unknown): void {
    if (this.closed) return;
    if (!this.retryable()) {
      this.o.log.fatal({ err }, "raft flush failed: the node must restart from its logs");
      this.closed = true;
      process.exitCode = 70;
      process.kill(process.pid, "SIGTERM");
      return;
    }
    this.stats.stalls += 1;
    this.stalledAt = Date.now();
    this.o.log.error(
      { err },
      "raft log write failed: this node's raft groups are paused (commands they lead " +
        "answer MISCONF, the other replicas elect leaders without it) and the write is " +
        "retried until it succeeds",
    );
    this.scheduleRetry(stallRetryFirstMs);
  }

  /** The flush that threw stalled MultiRaft, and the logs can take a write again. */
  private retryable(): boolean {
    return this.multi.stalled !== null && this.o.logs.broken?.() !== true;
  }

  private scheduleRetry(waitMs: number): void {
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.closed) return;
      try {
        this.multi.retryFlush();
      } catch (err) {
        if (this.retryable()) this.scheduleRetry(Math.min(waitMs * 2, stallRetryMaxMs));
        else this.onFlushError(err);
        return;
      }
      this.o.log.info(
        { stalledMs: Date.now() - this.stalledAt },
        "raft log writes succeed again: this node's raft groups resume",
      );
      for (const l of this.listeners) l();
      this.flushSoon();
    }, waitMs);
  }

  /**
   * The flushes of one turn. A group that already has more (e.g. entries committed by
   * this flush's own persist on a single-replica group) is flushed again at once. Between
   * a flush's halves, the promise jobs its applies queued run (afterPromiseJobs), so the
   * replies of writes that were durable before this flush leave before its sync. Only
   * promise jobs and ticks run there, never I/O or timers: nothing is received meanwhile.
   */
  private async flushTurn(): Promise<void> {
    const timed = this.o.onFlushMs;
    for (let i = 0; i < 8 && !this.closed; i++) {
      const startMs = timed === undefined ? 0 : performance.now();
      const half = this.multi.flushStart();
      if (half === null) return;
      this.stats.flushes += 1;
      const firstMs = timed === undefined ? 0 : performance.now() - startMs;
      if (half.applied) await afterPromiseJobs();
      // Finished even if the runtime closed meanwhile: a flush left half done would
      // refuse the clean-up's removeGroup.
      const endMs = timed === undefined ? 0 : performance.now();
      const more = this.multi.flushEnd(half);
      if (timed !== undefined) timed(firstMs + performance.now() - endMs);
      if (!more) return;
    }
  }

  /**
   * Builds the pending compaction images a slice per turn (setImmediate, as the flushes),
   * until none is left: I/O and flushes run between the slices.
   */
  private pumpImages(): void {
    if (this.imageQueued || this.closed || this.multi.imagesPending === 0) return;
    this.imageQueued = true;
    setImmediate(() => {
      this.imageQueued = false;
      if (this.closed || this.multi.stalled !== null) return;
      let more: boolean;
      try {
        more = this.multi.stepImages(imageSliceKeys);
      } catch (err) {
        // MultiRaft is unusable (a flush failed; stepImages itself gives up what it cannot
        // finish): the node must restart from its logs, as after a failed flush.
        this.onFlushError(err);
        return;
      }
      if (more) this.pumpImages();
    });
  }

  /** Called after every flush: the place to look at leadership and applied indices. */
  onFlushed(listener: () => void): void {
    this.listeners.push(listener);
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private send(to: NodeId, bytes: Uint8Array): void {
    const address = this.o.addressOf(to);
    if (address === undefined) {
      this.stats.unroutable += 1;
      return;
    }
    // Raft retransmits what is lost, so the bus need not acknowledge envelopes (a peer that
    // is down shows in membership, not here).
    this.o.transport.sendStream(address, bytes);
  }
}

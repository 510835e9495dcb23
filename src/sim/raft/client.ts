import type { TimerHandle } from "../../core/clock.js";
import type { SeededRandom } from "../../core/random.js";
import type { SimNode } from "../network.js";
import type { Scheduler } from "../scheduler.js";
import type { KvHistory, KvInput, KvOutput } from "./history.js";
import { addressOf, type ClientReply, type ClientRequest, decodeJson, encodeJson } from "./wire.js";

/**
 * A client of the replicated KV store: one command at a time, sent to the replica it
 * believes leads; redirected on "not-leader", retried elsewhere on a timeout, given up
 * after a bounded time. Retries keep the command's sequence number, so the state
 * machine's session applies it at most once.
 *
 * Outcomes: "ok" (a reply: recorded with its interval); "failed" (no reply, and every
 * answer said it had no effect); "unknown" (no reply, and some attempt may have been
 * proposed). A write that did not return is recorded as unknown in both cases: a request
 * datagram duplicated or delayed by the network can still reach a leader after the client
 * gave up, so even a "failed" write may take effect. A read that did not return is not
 * recorded: it has no effect.
 */

export interface ClientOptions {
  /** How long one attempt waits for a reply before trying another replica. */
  attemptTimeoutMs: number;
  /** How long a command is retried before the client gives up on it. */
  opTimeoutMs: number;
  /** Mean pause between one command's end and the next one's start (exponential). */
  thinkMeanMs: number;
  /** Backoff after a refusal without a leader hint, doubling up to backoffMaxMs. */
  backoffMinMs: number;
  backoffMaxMs: number;
  keys: number;
  /**
   * Clients move to fresh keys every this many virtual ms (keys are named by generation):
   * contention on a key stays high while each key's history stays short, so its check
   * stays within the checker's budget even with many unknown outcomes (each unknown INCR
   * or APPEND doubles what the search may have to consider). 0: the same keys throughout.
   */
  keyGenerationMs: number;
  /** Reads go to a random replica (the broken follower-reads variant needs this). */
  readAnywhere: boolean;
}

export interface ClientCounts {
  readsOk: number;
  readsFailed: number;
  writesOk: number;
  writesFailed: number;
  writesUnknown: number;
  attempts: number;
}

export interface ClientHooks {
  /**
   * An operation finished: its outcome and, when "ok", how long it took from call to
   * reply (for the trace and the figures).
   */
  done(
    client: SimClient,
    outcome: "ok" | "failed" | "unknown",
    isRead: boolean,
    latencyMs: number,
  ): void;
}

interface Current {
  input: KvInput;
  seq: number;
  callMs: number;
  deadlineMs: number;
  attempt: number;
  maybeApplied: boolean;
  backoffMs: number;
  timer: TimerHandle | null;
  onDone: ((ok: boolean) => void) | null;
}

export class SimClient {
  /** When false, no new command starts after the current one. */
  active = false;
  private seq = 0;
  private target: number;
  private current: Current | null = null;

  constructor(
    readonly id: number,
    private readonly sim: SimNode,
    private readonly scheduler: Scheduler,
    private readonly replicas: readonly string[],
    private readonly random: SeededRandom,
    private readonly options: ClientOptions,
    private readonly history: KvHistory,
    readonly counts: ClientCounts,
    private readonly hooks: ClientHooks,
  ) {
    this.target = random.int(replicas.length);
    sim.transport.onMessage((_from, data) => this.onReply(decodeJson<ClientReply>(data)));
  }

  get busy(): boolean {
    return this.current !== null;
  }

  /** Starts issuing random commands until `active` is cleared. */
  start(): void {
    this.active = true;
    this.thinkThenNext();
  }

  /** Runs one given command now (the liveness probe); `onDone(ok)` when it ends. */
  runOne(input: KvInput, timeoutMs: number, onDone: (ok: boolean) => void): void {
    this.begin(input, timeoutMs, onDone);
  }

  private thinkThenNext(): void {
    if (!this.active) return;
    const u = 1 - this.random.next();
    const thinkMs = -this.options.thinkMeanMs * Math.log(u);
    this.sim.timers.schedule(thinkMs, () => {
      if (this.active && this.current === null) this.begin(this.nextInput(), -1, null);
    });
  }

  /** A random command on one of a few keys: reads, sets, increments, appends, deletes. */
  private nextInput(): KvInput {
    const g = this.options.keyGenerationMs;
    const generation = g > 0 ? Math.floor(this.scheduler.nowMs / g) : 0;
    const key = `g${generation}k${this.random.int(this.options.keys)}`;
    const p = this.random.int(100);
    const value = `${this.id}.${this.seq + 1}`;
    if (p < 40) return { op: "get", key };
    if (p < 60) return { op: "set", key, value: String(this.id * 1000 + this.seq + 1) };
    if (p < 80) return { op: "incr", key };
    if (p < 95) return { op: "append", key, value };
    return { op: "del", key };
  }

  private begin(input: KvInput, timeoutMs: number, onDone: ((ok: boolean) => void) | null): void {
    this.seq += 1;
    const nowMs = this.scheduler.nowMs;
    this.current = {
      input,
      seq: this.seq,
      callMs: nowMs,
      deadlineMs: nowMs + (timeoutMs > 0 ? timeoutMs : this.options.opTimeoutMs),
      attempt: 0,
      maybeApplied: false,
      backoffMs: this.options.backoffMinMs,
      timer: null,
      onDone,
    };
    if (input.op === "get" && this.options.readAnywhere) {
      this.target = this.random.int(this.replicas.length);
    }
    this.send();
  }

  private send(): void {
    const cur = this.current;
    if (cur === null) return;
    if (this.scheduler.nowMs >= cur.deadlineMs) {
      this.giveUp(cur);
      return;
    }
    cur.attempt += 1;
    this.counts.attempts += 1;
    const req: ClientRequest = { c: this.id, s: cur.seq, a: cur.attempt, op: cur.input };
    this.sim.transport.send(this.replicas[this.target] as string, encodeJson(req));
    const attempt = cur.attempt;
    cur.timer = this.sim.timers.schedule(this.options.attemptTimeoutMs, () => {
      if (this.current !== cur || cur.attempt !== attempt) return;
      // It may have reached a leader and been proposed; its reply may be lost.
      if (cur.input.op !== "get") cur.maybeApplied = true;
      this.target = (this.target + 1) % this.replicas.length;
      this.send();
    });
  }

  private onReply(reply: ClientReply): void {
    const cur = this.current;
    if (cur === null || reply.c !== this.id || reply.s !== cur.seq) return;
    if (reply.k === "ok") {
      this.finish(cur, "ok", reply.out);
      return;
    }
    // An error answers one attempt only; a late one for an earlier attempt says nothing.
    if (reply.a !== cur.attempt) return;
    cur.timer?.cancel();
    if (reply.e === "lost" && cur.input.op !== "get") cur.maybeApplied = true;
    let delayMs = 0;
    const hinted = reply.lead > 0 ? this.replicas.indexOf(addressOf(reply.lead)) : -1;
    if (reply.e === "not-leader" && hinted >= 0 && hinted !== this.target) {
      this.target = hinted;
    } else {
      if (reply.e === "not-leader") this.target = (this.target + 1) % this.replicas.length;
      delayMs = cur.backoffMs;
      cur.backoffMs = Math.min(2 * cur.backoffMs, this.options.backoffMaxMs);
    }
    cur.timer = this.sim.timers.schedule(delayMs, () => {
      if (this.current === cur) this.send();
    });
  }

  private giveUp(cur: Current): void {
    this.finish(cur, cur.maybeApplied ? "unknown" : "failed", null);
  }

  private finish(cur: Current, outcome: "ok" | "failed" | "unknown", out: KvOutput): void {
    cur.timer?.cancel();
    this.current = null;
    const isRead = cur.input.op === "get";
    const c = this.counts;
    if (outcome === "ok") {
      this.history.returned(this.id, cur.input, cur.callMs, this.scheduler.nowMs, out);
      if (isRead) c.readsOk += 1;
      else c.writesOk += 1;
    } else if (isRead) {
      c.readsFailed += 1;
    } else {
      this.history.unknown(this.id, cur.input, cur.callMs);
      if (outcome === "failed") c.writesFailed += 1;
      else c.writesUnknown += 1;
    }
    this.hooks.done(this, outcome, isRead, this.scheduler.nowMs - cur.callMs);
    cur.onDone?.(outcome === "ok");
    this.thinkThenNext();
  }
}

export function newClientCounts(): ClientCounts {
  return {
    readsOk: 0,
    readsFailed: 0,
    writesOk: 0,
    writesFailed: 0,
    writesUnknown: 0,
    attempts: 0,
  };
}

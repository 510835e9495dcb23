import type { Socket } from "node:net";
import type { Watch } from "../kv/transaction.js";
import type { Reply } from "../resp/types.js";

/**
 * A reply held back until the writes it depends on are durable, or until a command that
 * runs elsewhere (a raft group, another node) has answered: replies leave in command order.
 */
export interface HeldReply {
  /**
   * The store's writeSeq when the command ran; sent once durableSeq reaches it. +∞ while
   * the command is still running elsewhere; 0 once it has answered.
   */
  tag: number;
  reply: Reply;
}

/** A command queued between MULTI and EXEC, its arguments copied. */
export interface QueuedCommand {
  readonly name: string;
  readonly args: readonly Buffer[];
  /** A key-space command's slot (its keys all in one), or null (no keys, or not key-space). */
  readonly slot: number | null;
}

export type ClientType = "normal" | "pubsub" | "master" | "replica";

/** A TYPE argument's client type (Redis's getClientTypeByName), or undefined. */
export function clientTypeByName(name: string): ClientType | undefined {
  switch (name.toLowerCase()) {
    case "normal":
      return "normal";
    case "pubsub":
      return "pubsub";
    case "master":
      return "master";
    case "slave":
    case "replica":
      return "replica";
    default:
      return undefined;
  }
}

/** One client connection's state. */
export class Client {
  name = "";
  libName = "";
  libVersion = "";
  protocol: 2 | 3 = 2;
  authenticated: boolean;
  lastInteractionMs: number;
  lastCommand = "NULL";
  /** Replies waiting for durability, in command order. */
  readonly held: HeldReply[] = [];
  /** Set by QUIT or a protocol error: close once the held replies are out. */
  closing = false;
  /** Reading is paused while the socket's output is backed up. */
  paused = false;
  /** Blocked by a blocking pop (blocking.ts keeps it): CLIENT LIST's flag b. */
  blocked = false;
  /** Its command waits for CLIENT PAUSE to end (node.ts): it reads nothing meanwhile. */
  postponed = false;
  /** EXEC is running this client's queued commands: none of them blocks (WAIT answers at once). */
  inExec = false;
  /** CLIENT NO-EVICT ON: CLIENT LIST's flag e (a node evicts no client either way). */
  noEvict = false;
  /** Another node forwarding its clients' commands: never forward them on (no loops). */
  forwarded = false;
  /** Asked for the slot map (CLUSTER SLOTS/SHARDS/NODES): gets MOVED instead of forwarding. */
  clusterAware = false;
  /**
   * CLIENT REPLY: "off" sends no replies; "skip-next" is set by SKIP and becomes "skip"
   * for the command after it, whose reply is dropped, then "on" again.
   */
  replies: "on" | "off" | "skip-next" | "skip" = "on";
  /** Channels, patterns and shard channels subscribed to (latin1; pubsub.ts keeps them). */
  readonly channels = new Set<string>();
  readonly patterns = new Set<string>();
  readonly shardChannels = new Set<string>();
  /** The commands queued since MULTI, or null outside a transaction (transactions.ts). */
  tx: QueuedCommand[] | null = null;
  /** A command was refused while queuing: EXEC answers EXECABORT. */
  txFailed = false;
  /**
   * What each WATCH since the last EXEC, DISCARD or UNWATCH watches: its keys'
   * fingerprints, or their promise while a sharded cluster reads them.
   */
  watches: (readonly Watch[] | Promise<readonly Watch[]>)[] = [];
  readonly addr: string;
  readonly laddr: string;

  constructor(
    readonly id: number,
    readonly socket: Socket,
    readonly createdAtMs: number,
    passwordRequired: boolean,
  ) {
    this.authenticated = !passwordRequired;
    this.lastInteractionMs = createdAtMs;
    this.addr = `${socket.remoteAddress}:${socket.remotePort}`;
    this.laddr = `${socket.localAddress}:${socket.localPort}`;
  }

  /** In a subscribed state: in RESP2 it may then only (un)subscribe, PING, QUIT, RESET. */
  get subscribed(): boolean {
    return this.channels.size + this.patterns.size + this.shardChannels.size > 0;
  }

  /**
   * Redis's client type (CLIENT LIST and KILL's TYPE). Another node's connection that
   * forwards its clients' commands is "master", as a Redis replica's link to its master
   * is: so `CLIENT KILL TYPE normal` closes the applications' connections, not the
   * cluster's own.
   */
  get type(): ClientType {
    if (this.forwarded) return "master";
    return this.subscribed ? "pubsub" : "normal";
  }

  /** CLIENT LIST's flags: P subscribed, x in MULTI, b blocked (or paused), e no-evict, N none. */
  private flags(): string {
    const blocked = this.blocked || this.postponed;
    const f = `${this.subscribed ? "P" : ""}${this.tx === null ? "" : "x"}${blocked ? "b" : ""}${this.noEvict ? "e" : ""}`;
    return f === "" ? "N" : f;
  }

  /** One line of CLIENT LIST / CLIENT INFO, in Redis's format. */
  describe(nowMs: number, queryBufferBytes: number): string {
    const age = Math.floor((nowMs - this.createdAtMs) / 1000);
    const idle = Math.floor((nowMs - this.lastInteractionMs) / 1000);
    const omem = this.socket.writableLength;
    return [
      `id=${this.id}`,
      `addr=${this.addr}`,
      `laddr=${this.laddr}`,
      "fd=-1",
      `name=${this.name}`,
      `age=${age}`,
      `idle=${idle}`,
      `flags=${this.flags()}`,
      "db=0",
      `sub=${this.channels.size}`,
      `psub=${this.patterns.size}`,
      `ssub=${this.shardChannels.size}`,
      `multi=${this.tx === null ? -1 : this.tx.length}`,
      `qbuf=${queryBufferBytes}`,
      "qbuf-free=0",
      "argv-mem=0",
      "multi-mem=0",
      "rbs=0",
      "rbp=0",
      "obl=0",
      `oll=${this.held.length}`,
      `omem=${omem}`,
      `tot-mem=${queryBufferBytes + omem}`,
      `events=r${omem > 0 ? "w" : ""}`,
      `cmd=${this.lastCommand}`,
      "user=default",
      "redir=-1",
      `resp=${this.protocol}`,
      `lib-name=${this.libName}`,
      `lib-ver=${this.libVersion}`,
    ].join(" ");
  }
}

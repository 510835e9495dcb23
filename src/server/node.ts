import { createServer, type Server, type Socket } from "node:net";
import { basename, dirname } from "node:path";
import type { FunctionLibraries } from "../cluster/meta.js";
import type { Clock } from "../core/clock.js";
import type { Random } from "../core/random.js";
import { arityAccepts, COMMAND_SPECS, type CommandSpec, runSpec } from "../kv/command-table.js";
import { isReply, lookup } from "../kv/db.js";
import { unknownCommand, wrongArity } from "../kv/errors.js";
import { activeExpireCycle } from "../kv/expire.js";
import { KV_HANDLERS } from "../kv/handlers.js";
import { copyArgs } from "../kv/machine.js";
import { NOTIFY_EXPIRED } from "../kv/notify.js";
import { declaresNoWrites } from "../kv/script.js";
import { lastIdOf, parseXread, type XreadArgs } from "../kv/streams.js";
import type { Watch } from "../kv/transaction.js";
import type { CommandHandler, ExecContext } from "../kv/types.js";
import { ArrayArgs } from "../resp/args.js";
import { ReplyWriter } from "../resp/encoder.js";
import { type ProtocolError, RequestParser } from "../resp/parser.js";
import * as R from "../resp/reply.js";
import type { Args, Reply } from "../resp/types.js";
import { replaceFile } from "../storage/files.js";
import type { KeyStore, StorageError } from "../storage/types.js";
import { Blocking, foundNothing, isBlockingCommand } from "./blocking.js";
import { Client, type HeldReply, type QueuedCommand } from "./client.js";
import type { ClusterRuntime } from "./cluster.js";
import { NO_REPLY, SERVER_HANDLERS, type ServerHandler } from "./commands.js";
import {
  changeClusterFunctions,
  fcallArgs,
  fcallMayWrite,
  functionLearnMs,
  functionNotFound,
  LibrarySet,
  readLibraries,
} from "./functions.js";
import { LatencyTracker } from "./latency.js";
import { LatencyMonitor } from "./latency-monitor.js";
import type { Logger } from "./log.js";
import type { MembershipDriver } from "./membership-driver.js";
import { monitorArgs, monitorLine } from "./monitor.js";
import { KeyspaceNotifier } from "./notifications.js";
import { PubSub } from "./pubsub.js";
import { ScriptCache } from "./scripts.js";
import type { Settings } from "./settings.js";
import { entryArgs, SlowLog } from "./slowlog.js";
import { queue, queues, refusedInMulti } from "./transactions.js";

/** Counters reported by INFO stats. */
export class Stats {
  connectionsReceived = 0;
  connectionsRejected = 0;
  commandsProcessed = 0;
  expiredKeys = 0;
  netInputBytes = 0;
  netOutputBytes = 0;
  flushes = 0;
  flushFailures = 0;
  lastFlushError: StorageError | null = null;
  /** Durations of the last flushes, for INFO (ms). */
  lastFlushMs = 0;
  /** Per command, as Redis's INFO commandstats (see CommandStat). */
  readonly commands = new Map<string, CommandStat>();
  /** Error replies by their code, the first word (INFO errorstats); at most errorCodesMax. */
  readonly errors = new Map<string, number>();
  errorReplies = 0;

  /** CONFIG RESETSTAT: the counters back to zero (not the flush state). */
  reset(): void {
    this.connectionsReceived = 0;
    this.connectionsRejected = 0;
    this.commandsProcessed = 0;
    this.expiredKeys = 0;
    this.netInputBytes = 0;
    this.netOutputBytes = 0;
    this.commands.clear();
    this.errors.clear();
    this.errorReplies = 0;
  }

  /** Counts an error reply sent to a client. */
  error(message: string): void {
    this.errorReplies++;
    const space = message.indexOf(" ");
    const code = space < 0 ? message : message.slice(0, space);
    const seen = this.errors.get(code);
    // As Redis, a bounded table: a client cannot grow it with made-up codes.
    if (seen !== undefined) this.errors.set(code, seen + 1);
    else if (this.errors.size < errorCodesMax) this.errors.set(code, 1);
  }
}

/**
 * One command's figures, as Redis's INFO commandstats: calls run, the time spent running
 * them on this node's thread (µs; a write routed to its shard's raft group is counted
 * until it is proposed or forwarded, not while it waits for its quorum), calls refused
 * before running (arity, authentication...) and calls answered with an error.
 */
export interface CommandStat {
  calls: number;
  usec: number;
  rejected: number;
  failed: number;
}

/** Distinct error codes INFO errorstats tracks (Redis's limit too). */
const errorCodesMax = 128;

type Entry =
  | { readonly spec: CommandSpec; readonly kind: "kv"; readonly handler: CommandHandler }
  | { readonly spec: CommandSpec; readonly kind: "server"; readonly handler: ServerHandler };

/** Replies are written to the socket whenever this much has been encoded. */
const outputChunkBytes = 64 * 1024;
/**
 * Unsent output per client past which the node stops running that client's commands
 * until the socket drains (Redis has no such bound for normal clients by default; we keep
 * memory bounded instead). 1 MiB keeps a fast reader's pipe full.
 */
const outputPauseBytes = 1024 * 1024;
/** What a MONITOR client may leave unread before it is closed (Redis: 256 MB for replicas). */
const monitorBacklogBytesMax = 64 * 1024 * 1024;

/** Commands a client may send before it has authenticated. */
const allowedBeforeAuth = new Set(["auth", "hello", "quit", "reset"]);

/**
 * Longest a group commit waits to gather more writes once the first one is in. A sync
 * here takes 0.1-0.3 ms; waiting up to a fifth of a millisecond for clients that are
 * already answering roughly halves the number of syncs under load and costs an idle node
 * nothing (it never waits when no more writes are coming).
 */
const gatherMsMax = 0.2;

/** Longest a stopping node waits for its clients to take their last replies and close. */
const clientsDrainMs = 1000;

/**
 * A subscriber whose unread output passes this is disconnected, as Redis's
 * `client-output-buffer-limit pubsub 32mb` does: a client that does not read its
 * messages cannot make the node buffer them without bound.
 */
const pubsubOutputMaxBytes = 32 * 1024 * 1024;

/** What a RESP2 client may run while subscribed (Redis 7.0's list). */
const allowedSubscribed = new Set([
  "subscribe",
  "unsubscribe",
  "psubscribe",
  "punsubscribe",
  "ssubscribe",
  "sunsubscribe",
  "ping",
  "quit",
  "reset",
]);

/** INFO's keyspace figures: keys, keys with a time to live, bytes of the data files. */
export interface KeyspaceFigures {
  keys: number;
  expires: number;
  usedBytes: number;
}

export interface NodeDeps {
  settings: Settings;
  store: KeyStore;
  clock: Clock;
  random: Random;
  log: Logger;
  /** Where key-space commands run when the node is part of a cluster; none: locally. */
  router?: CommandRouter;
  /**
   * The file a standalone node keeps its function libraries in (functions.ts); none: in
   * memory only (a cluster node's are in the meta group's state).
   */
  functionsPath?: string;
}

/**
 * Runs key-space commands somewhere other than the local store: in the raft group of the
 * key's shard, on this node or another. `args` views die when route() returns: copy what
 * is kept.
 */
export interface CommandRouter {
  /** A reply now, a reply later (sent in command order), or null: run it locally. */
  route(client: Client, name: string, spec: CommandSpec, args: Args): Reply | Promise<Reply> | null;
  /** A command run on shard `group` of a sharded cluster (HOMEOSTAT SHARD). */
  onShard?(client: Client, group: number, args: Buffer[], write: boolean): Promise<Reply>;
  /** WAIT on a sharded cluster: the other voters that have the client's writes. */
  wait?(client: Client, numreplicas: number, timeoutMs: number): Promise<Reply>;
  /** On a shard's leader: an index and how many other voters have it (HOMEOSTAT ACKED). */
  ackedHere?(group: number, index?: number): { index: number; acked: number } | null;
  /**
   * A key-space command about to be queued after MULTI, its keys in `slot` (null: none,
   * CROSS_SLOT: several): null to queue it, or the error that refuses it.
   */
  queued?(client: Client, name: string, slot: number | null): Reply | null;
  /**
   * EXEC of `commands` once `watches` are known: the key-space commands as one
   * transaction of their shard, the others through `runHere`, replies in command order.
   */
  exec?(
    client: Client,
    commands: readonly QueuedCommand[],
    watches: Promise<readonly Watch[]>,
    runHere: (q: QueuedCommand) => Reply | Promise<Reply>,
  ): Promise<Reply>;
  /** WATCH: the keys' fingerprints, read on their shard's leader, or the error reply. */
  watch?(client: Client, keys: Buffer[]): Promise<readonly Watch[] | Reply>;
  /** HOMEOSTAT TRANSACTION, FINGERPRINT and SLOTKEYS, from another node's forward. */
  internal?(client: Client, args: Buffer[]): Promise<Reply>;
  /**
   * CLUSTER COUNTKEYSINSLOT (max undefined) and GETKEYSINSLOT: read on the slot's shard,
   * wherever it is led.
   */
  slotKeys?(client: Client, slot: number, max: number | undefined): Promise<Reply>;
  /** Commands sent on to another node's shard leader, for clients that do not follow MOVED. */
  readonly forwarded?: number;
}

/**
 * One Homeostat node: accepts Redis connections, runs commands against the key space and
 * acknowledges writes only once they are durable. Writes from all clients made in one turn
 * of the event loop share one sync (group commit).
 */
export class HomeostatNode {
  readonly settings: Settings;
  readonly store: KeyStore;
  readonly clock: Clock;
  readonly log: Logger;
  readonly stats = new Stats();
  readonly startedAtMs: number;
  /** Random id of this process's run, as Redis's run_id (40 hex digits). */
  readonly runId: string;
  readonly clients = new Map<number, Client>();
  private readonly parsers = new Map<number, RequestParser>();
  private readonly commands = new Map<string, Entry>();
  private readonly ctx: ExecContext;
  private readonly writer = new ReplyWriter();
  /** Encodes messages to subscribers other than the client whose input is being run. */
  private readonly pushWriter = new ReplyWriter();
  /** SUBSCRIBE, PUBLISH...: see pubsub.ts. */
  readonly pubsub = new PubSub((client, reply) => this.deliver(client, reply));
  /** The scripts this node knows by SHA1 (EVALSHA, SCRIPT LOAD). */
  readonly scripts = new ScriptCache();
  /** A standalone node's function libraries (a cluster's: the meta group's; see functions). */
  private localFunctions = LibrarySet.empty;
  private readonly functionsPath: string | null;
  /** The meta state's libraries last read, and the set made from them. */
  private metaFunctions: FunctionLibraries | null = null;
  private metaFunctionSet = LibrarySet.empty;
  /** SLOWLOG: this node's slow commands (slowlog.ts). */
  readonly slowlog = new SlowLog();
  /** Per-command latency histograms (LATENCY HISTOGRAM, INFO latencystats). */
  readonly latency = new LatencyTracker();
  /** The latency monitor's events (LATENCY LATEST, HISTORY, GRAPH, DOCTOR). */
  readonly latencyMonitor = new LatencyMonitor();
  /** Clients that sent MONITOR: each command this node runs is written to them (monitor.ts). */
  readonly monitors = new Set<Client>();
  /** Keyspace notifications of this node's commands (and, in a cluster, its shards'). */
  readonly notifier: KeyspaceNotifier;
  private server: Server | null = null;
  /** The redirect port's listener (listenRedirect), or null. */
  private redirectServer: Server | null = null;
  private nextClientId = 1;
  /** The client whose input is being parsed. */
  private current: Client | null = null;
  /** Clients with replies held for durability. */
  private readonly waiting = new Set<Client>();
  /** Clients whose routed replies settled in this run of promise jobs (releaseSoon). */
  private readonly settled = new Set<Client>();
  /** Group commits under way (the store bounds how many batches are in flight). */
  private flushesInFlight = 0;
  private flushScheduled = false;
  private expiryTimer: NodeJS.Timeout | null = null;
  private housekeepingTimer: NodeJS.Timeout | null = null;
  private readonly onCommandBound = (args: Args): boolean => this.onCommand(args);
  private stopping = false;
  /** The figures of the command execute() last ran (null: refused), for emit(). */
  private lastStat: CommandStat | null = null;
  /** Where stop() is: for the log line of a stop that does not finish (start.ts). */
  stopStage = "running";
  /** Cluster membership; null until start.ts opened it (and in tests without a bus). */
  membership: MembershipDriver | null = null;
  /** See NodeDeps.router; may be set once the cluster side is up. */
  router: CommandRouter | null;
  /** The cluster side (raft groups, meta, controller); null in tests without one. */
  cluster: ClusterRuntime | null = null;
  /**
   * What INFO's keyspace and dataset size report when the keys are not in `store` (in
   * sharded mode: the shards this node leads, see start.ts); null: `store`'s.
   */
  keyspace: (() => KeyspaceFigures) | null = null;
  /** Clients blocked by BLPOP and the other blocking pops (blocking.ts). */
  readonly blocking: Blocking;
  /** Standalone: blocked clients served, each waiting for its pop to be durable. */
  private readonly durableWaits: { seq: number; done: (failure: StorageError | null) => void }[] =
    [];
  /**
   * CLIENT PAUSE under way: until when (this node's clock), whether it holds back every
   * command or only those that may write, and the timer that ends it; null when none.
   */
  private clientPause: { untilMs: number; all: boolean; timer: NodeJS.Timeout } | null = null;
  /** Commands CLIENT PAUSE holds back, in the order they came, each with its reply's. */
  private readonly postponed: {
    client: Client;
    args: Args;
    answer: (reply: Reply | Promise<Reply>) => void;
  }[] = [];

  constructor(deps: NodeDeps) {
    this.functionsPath = deps.functionsPath ?? null;
    if (this.functionsPath !== null) this.localFunctions = readLibraries(this.functionsPath);
    this.settings = deps.settings;
    this.store = deps.store;
    this.clock = deps.clock;
    this.log = deps.log;
    this.router = deps.router ?? null;
    this.startedAtMs = deps.clock.nowMs();
    this.runId = Array.from({ length: 40 }, () => deps.random.int(16).toString(16)).join("");
    this.ctx = {
      store: deps.store,
      nowMs: this.startedAtMs,
      random: deps.random,
      maxBulkBytes: deps.settings.protoMaxBulkLen,
      // A standalone node's scripts call commands on its own store; a cluster's run on
      // the shards' machines, which set their own.
      script: {
        served: () => true,
        runs: (name) => this.commands.get(name)?.kind === "kv",
        run: (name, args) => this.runHere(this.commands.get(name) as Entry & { kind: "kv" }, args),
      },
    };
    this.notifier = new KeyspaceNotifier(this.settings, this.pubsub);
    this.blocking = new Blocking(
      (client, name, args) => this.runBlockedAgain(client, name, args),
      () => this.clock.nowMs(),
      () => (this.router === null ? null : blockedPollMs),
      (client) => this.unblocked(client),
    );
    for (const [name, spec] of COMMAND_SPECS) {
      const kv = KV_HANDLERS.get(name);
      const srv = SERVER_HANDLERS.get(name);
      if (kv !== undefined) this.commands.set(name, { spec, kind: "kv", handler: kv });
      else if (srv !== undefined) this.commands.set(name, { spec, kind: "server", handler: srv });
    }
  }

  /** Starts listening; resolves with the bound port, rejects on e.g. EADDRINUSE. */
  async listen(): Promise<number> {
    const server = createServer({ noDelay: true }, (socket) => this.accept(socket, false));
    this.server = server;
    const port = await listenOn(server, this.settings.port, this.settings.bind, this.log);
    this.settings.port = port;
    this.startTimers();
    return port;
  }

  /**
   * A cluster node's second Redis port, for cluster-aware clients: the one the slot map
   * and MOVED name. Every connection there follows redirects, so a command for a slot
   * another node leads is answered MOVED (never forwarded), as a Redis Cluster node
   * answers it; a connection on the Redis port is forwarded (docs/cluster.md, "Two ports
   * for clients"). Resolves with the bound port.
   */
  async listenRedirect(port: number): Promise<number> {
    const server = createServer({ noDelay: true }, (socket) => this.accept(socket, true));
    this.redirectServer = server;
    const bound = await listenOn(server, port, this.settings.bind, this.log);
    this.settings.redirectPort = bound;
    return bound;
  }

  private startTimers(): void {
    this.expiryTimer = setInterval(() => this.expireCycle(), Math.round(1000 / this.settings.hz));
    this.housekeepingTimer = setInterval(() => this.housekeeping(), 1000);
  }

  /** Runs active expiry: bounded keys per round, rounds bounded to 25% of the period. */
  private expireCycle(): void {
    // Keys do not expire while clients are paused, as in Redis: the data stands still.
    if (this.clientPause !== null) return;
    const periodMs = 1000 / this.settings.hz;
    const startMs = performance.now();
    const budget = this.settings.activeExpireKeysPerCycle;
    let deleted = 0;
    for (;;) {
      const n = activeExpireCycle(this.store, this.clock.nowMs(), budget, this.expiredBound);
      deleted += n;
      if (n < budget || performance.now() - startMs > periodMs / 4) break;
    }
    if (deleted > 0) {
      this.stats.expiredKeys += deleted;
      this.requestFlush();
    }
  }

  private housekeeping(): void {
    const timeoutS = this.settings.timeout;
    if (timeoutS <= 0) return;
    const now = this.clock.nowMs();
    for (const c of this.clients.values()) {
      if (c.held.length === 0 && now - c.lastInteractionMs > timeoutS * 1000) {
        this.log.debug({ client: c.id }, "closing idle client");
        c.socket.destroy();
      }
    }
  }

  /** A new connection; `clusterAware` on the redirect port (listenRedirect). */
  private accept(socket: Socket, clusterAware: boolean): void {
    this.stats.connectionsReceived++;
    if (this.stopping || this.clients.size >= this.settings.maxclients) {
      this.stats.connectionsRejected++;
      socket.end("-ERR max number of clients reached\r\n");
      return;
    }
    const client = new Client(
      this.nextClientId++,
      socket,
      this.clock.nowMs(),
      this.settings.requirepass !== "",
    );
    const parser = new RequestParser({
      maxBulkBytes: this.settings.protoMaxBulkLen,
      maxBufferBytes: this.settings.clientQueryBufferLimit,
    });
    client.clusterAware = clusterAware;
    parser.setAuthRequired(!client.authenticated);
    this.clients.set(client.id, client);
    this.parsers.set(client.id, parser);
    socket.on("data", (chunk: Buffer) => this.onData(client, parser, chunk));
    socket.on("drain", () => this.onDrain(client, parser));
    socket.on("error", (err) => this.log.debug({ client: client.id, err }, "client socket error"));
    socket.on("close", () => this.forget(client));
  }

  /**
   * A Pub/Sub push for `client`, in order with its replies: behind those still held, else
   * at once (in the output of the input being run, if it is this client's).
   */
  private deliver(client: Client, reply: Reply): void {
    if (!this.clients.has(client.id) || client.closing) return;
    if (client === this.current) {
      this.emit(client, reply);
      return;
    }
    if (client.held.length > 0) {
      client.held.push({ tag: 0, reply });
      return;
    }
    this.pushWriter.write(reply, client.protocol);
    const out = this.pushWriter.take();
    this.stats.netOutputBytes += out.length;
    client.socket.write(out);
    if (client.socket.writableLength > pubsubOutputMaxBytes) {
      this.log.warn(
        { client: client.id, addr: client.addr, bytes: client.socket.writableLength },
        "closing a subscriber that does not read its messages (output past 32 MiB)",
      );
      client.socket.destroy();
    }
  }

  /** A key the active expiry deleted: the "expired" event (x). */
  private readonly expiredBound = (key: Buffer): void => {
    if ((this.notifier.flags & NOTIFY_EXPIRED) === 0) return;
    this.notifier.emit(NOTIFY_EXPIRED, "expired", key);
  };

  private forget(client: Client): void {
    this.monitors.delete(client);
    this.pubsub.forget(client);
    this.blocking.forget(client);
    this.clients.delete(client.id);
    this.parsers.delete(client.id);
    this.waiting.delete(client);
    client.held.length = 0;
    const at = this.postponed.findIndex((p) => p.client === client);
    if (at >= 0) this.postponed.splice(at, 1); // a client has one command held back at most
  }

  private onData(client: Client, parser: RequestParser, chunk: Buffer): void {
    if (client.closing) return;
    this.stats.netInputBytes += chunk.length;
    this.runParser(client, () => parser.feed(chunk, this.onCommandBound));
  }

  /** The socket took what it had buffered: parse what was held, then read again. */
  private onDrain(client: Client, parser: RequestParser): void {
    if (!client.paused || client.postponed || this.blocking.isBlocked(client)) return;
    client.paused = false;
    if (parser.isPaused() && !client.closing) {
      this.runParser(client, () => parser.resume(this.onCommandBound));
      if (client.paused) return; // its replies filled the socket again
    }
    client.socket.resume();
  }

  /** Runs commands from `parse` for `client`, then sends their replies in one write. */
  private runParser(client: Client, parse: () => ProtocolError | undefined): void {
    const now = this.clock.nowMs();
    client.lastInteractionMs = now;
    this.prepareContext(now);
    this.current = client;
    let failure: ProtocolError | undefined;
    try {
      failure = parse();
    } finally {
      this.current = null;
    }
    if (failure !== undefined) {
      this.log.debug(
        { client: client.id, addr: client.addr, reason: failure.message },
        "protocol error",
      );
      // Redis closes a client past its query buffer limit without a word; we say why in
      // every case, so the client's log explains the disconnect.
      this.emit(client, R.error(`ERR ${failure.message}`));
      client.closing = true;
    }
    this.sendOutput(client);
    // Clients blocked on keys this input wrote (standalone): served now, in this commit.
    if (this.router === null) this.blocking.serveNow();
    if (this.store.writeSeq > this.store.durableSeq) this.requestFlush();
    if (client.closing && client.held.length === 0) client.socket.end();
  }

  /** What the key space's commands run with now: the time, and settings CONFIG SET changes. */
  private prepareContext(nowMs: number): void {
    this.ctx.nowMs = nowMs;
    this.ctx.maxBulkBytes = this.settings.protoMaxBulkLen;
    const node = this.ctx.streamNode;
    if (
      node?.entries !== this.settings.streamNodeMaxEntries ||
      node.bytes !== this.settings.streamNodeMaxBytes
    ) {
      this.ctx.streamNode = {
        entries: this.settings.streamNodeMaxEntries,
        bytes: this.settings.streamNodeMaxBytes,
      };
    }
    this.ctx.hllSparseMaxBytes = this.settings.hllSparseMaxBytes;
    this.ctx.notify = this.notifier.flags === 0 ? undefined : this.notifier;
  }

  /** Returns false to pause the parser while the client's replies pile up unread. */
  private onCommand(args: Args): boolean {
    const client = this.current as Client;
    if (client.closing) return true;
    const authenticated = client.authenticated;
    const skip = client.replies === "skip";
    const postpone = this.pausedFor(client, args);
    const reply = postpone ? this.postpone(client, args) : this.execute(client, args);
    // The command CLIENT REPLY SKIP silences loses its reply, unless it is itself CLIENT
    // REPLY: that replaces the skip while it runs (Redis clears the flag in the command).
    const skipped = skip && client.replies === "skip";
    if (skipped) client.replies = "on";
    if (client.replies === "skip-next" && reply === NO_REPLY) client.replies = "skip";
    // Pub/Sub's replies (SUBSCRIBE's confirmations) are sent whatever CLIENT REPLY says,
    // as Redis sends them.
    const pushed = !(reply instanceof Promise) && reply.kind === "array" && reply.push === true;
    if (reply === NO_REPLY || ((skipped || client.replies === "off") && !pushed)) {
      // CLIENT REPLY OFF or SKIP: nothing is sent back (a routed reply still settles).
      if (reply instanceof Promise) reply.catch(() => undefined);
    } else {
      this.emit(client, reply, this.lastStat);
    }
    if (authenticated !== client.authenticated) {
      // Before AUTH, Redis bounds commands more tightly; AUTH, HELLO or RESET changed that.
      this.parsers.get(client.id)?.setAuthRequired(!client.authenticated);
    }
    if (this.writer.length >= outputChunkBytes) this.sendOutput(client);
    if (postpone || this.blocking.isBlocked(client)) {
      // Blocked, as Redis blocks it: its next commands wait until it is answered.
      this.pauseReading(client);
      return false;
    }
    if (client.socket.writableLength >= outputPauseBytes) {
      // The rest of this input waits, bounded by the query buffer limit, until the client
      // has read its replies: a pipelining client that never reads cannot make the node
      // buffer replies without bound.
      this.pauseReading(client);
      return false;
    }
    return true;
  }

  private pauseReading(client: Client): void {
    if (client.paused || client.closing) return;
    client.paused = true;
    client.socket.pause();
  }

  /** Queues a reply behind the held ones, or encodes it now if nothing needs waiting for. */
  private emit(
    client: Client,
    reply: Reply | Promise<Reply>,
    stat: CommandStat | null = null,
  ): void {
    if (reply instanceof Promise) {
      const held = { tag: Number.POSITIVE_INFINITY, reply: R.NULL };
      client.held.push(held);
      this.waiting.add(client);
      const settle = (r: Reply) => {
        held.tag = 0;
        held.reply = r;
        if (r.kind === "error") {
          this.stats.error(r.value);
          if (stat !== null) stat.failed++;
        }
        this.releaseSoon(client);
      };
      reply.then(settle, (err: unknown) => {
        this.log.error({ err }, "routed command failed unexpectedly");
        settle(R.error("ERR internal error while running the command"));
      });
      return;
    }
    if (reply.kind === "error") {
      this.stats.error(reply.value);
      if (stat !== null) stat.failed++;
    }
    const store = this.store;
    if (client.held.length === 0 && store.writeSeq === store.durableSeq) {
      this.writer.write(reply, client.protocol);
      return;
    }
    client.held.push({ tag: store.writeSeq, reply });
    this.waiting.add(client);
  }

  private sendOutput(client: Client): void {
    if (this.writer.length === 0) return;
    const out = this.writer.take();
    this.stats.netOutputBytes += out.length;
    // Past the socket's high-water mark, stop reading until it drains.
    if (!client.socket.write(out)) this.pauseReading(client);
  }

  execute(client: Client, args: Args): Reply | Promise<Reply> {
    this.lastStat = null;
    const name = args.lower(0);
    const entry = this.commands.get(name);
    if (entry === undefined) {
      refusedInMulti(client);
      return unknownCommand(args);
    }
    const refusal = this.refusal(client, name, entry, args);
    if (refusal !== null) {
      refusedInMulti(client);
      this.statOf(name).rejected++;
      return refusal;
    }
    this.stats.commandsProcessed++;
    // The subcommand's spec for a container (client|list): its full name is CLIENT LIST's
    // cmd and the latency histogram's, its flags SLOWLOG's and MONITOR's, as in Redis.
    const spec = runSpec(entry.spec, args) ?? entry.spec;
    client.lastCommand = spec.name;
    if (queues(client, name)) {
      const script = this.queuedScript(name, args);
      if (script !== null) return queue(this, client, script.name, script.spec, true, script.args);
      return queue(this, client, name, entry.spec, entry.kind === "kv", args);
    }
    const stat = this.statOf(name);
    this.lastStat = stat;
    // EXEC's commands are shown to MONITOR, then EXEC, as Redis shows them once run.
    const queued = name === "exec" && this.monitors.size > 0 && !client.txFailed ? client.tx : null;
    const startMs = performance.now();
    let reply: Reply | Promise<Reply>;
    try {
      if (entry.kind === "kv") {
        reply = this.runKv(client, name, entry, args);
      } else {
        reply = entry.handler(this, client, args);
      }
    } catch (err) {
      // A bug, not bad input: keep serving the others and say so.
      this.log.error({ err, command: name }, "command failed unexpectedly");
      reply = R.error(`ERR internal error while running '${name}'`);
    }
    const usec = (performance.now() - startMs) * 1000;
    stat.calls++;
    stat.usec += usec;
    this.afterCommand(client, spec, args, reply, startMs, usec);
    if (this.monitors.size > 0 && !spec.flags.includes("admin")) {
      for (const q of queued ?? []) this.feedMonitors(client, q.args);
      this.feedMonitors(client, monitorArgs(args));
    }
    return reply;
  }

  /**
   * Writes one command to every MONITOR client: to the one that sent it after its reply
   * (through the output it is building), to the others at once. A monitor that does not
   * read what it is sent is closed past monitorBacklogBytesMax, as Redis closes a
   * replica-class client past its output limit.
   */
  private feedMonitors(client: Client, args: readonly Uint8Array[]): void {
    // The node's clock has milliseconds: the line's last three digits are zeros.
    const line = monitorLine(this.clock.nowMs() * 1000, client.addr, args);
    for (const m of this.monitors) {
      if (m.closing) continue;
      if (m === client) {
        this.emit(m, R.simple(line.slice(1, -2)));
      } else if (m.socket.writableLength > monitorBacklogBytesMax) {
        this.log.warn(
          { client: m.id, addr: m.addr },
          "MONITOR client not reading its feed: closed",
        );
        this.monitors.delete(m);
        m.socket.destroy();
      } else {
        m.socket.write(line);
      }
    }
  }

  /**
   * A command ran for `usec` µs, or until its reply (a routed one's), for SLOWLOG and the
   * latency histograms: a blocking command counts what it ran, its wait for data not
   * counted, as in Redis.
   */
  private afterCommand(
    client: Client,
    spec: CommandSpec,
    args: Args,
    reply: Reply | Promise<Reply>,
    startMs: number,
    usec: number,
  ): void {
    const tracked = this.settings.latencyTracking ? spec.name : null;
    const threshold = this.settings.slowlogLogSlowerThan;
    const logged =
      threshold >= 0 && this.settings.slowlogMaxLen > 0 && !spec.flags.includes("skip_slowlog");
    const monitored = this.settings.latencyMonitorThreshold > 0;
    if (!(reply instanceof Promise)) {
      if (tracked !== null) this.latency.record(tracked, usec);
      if (logged && usec >= threshold) this.recordSlow(client, entryArgs(args), usec);
      if (monitored) this.monitorCommand(spec, usec);
      return;
    }
    if (tracked === null && !logged && !monitored) return;
    // The arguments are views of the input buffer, reused once this returns: kept now.
    const kept = logged ? entryArgs(args) : null;
    const blocked = spec.flags.includes("blocking");
    const done = () => {
      const took = blocked ? usec : (performance.now() - startMs) * 1000;
      if (tracked !== null) this.latency.record(tracked, took);
      if (kept !== null && took >= threshold) this.recordSlow(client, kept, took);
      if (monitored) this.monitorCommand(spec, took);
    };
    reply.then(done, done);
  }

  /** The latency monitor's `command` or `fast-command` event. */
  private monitorCommand(spec: CommandSpec, usec: number): void {
    this.monitorLatency(spec.flags.includes("fast") ? "fast-command" : "command", usec / 1000);
  }

  /** Keeps `event` in the latency monitor if it took latency-monitor-threshold or more. */
  monitorLatency(event: string, ms: number): void {
    const threshold = this.settings.latencyMonitorThreshold;
    if (threshold === 0 || ms < threshold) return;
    this.latencyMonitor.add(event, Math.floor(ms), Math.floor(this.clock.nowMs() / 1000));
  }

  private recordSlow(client: Client, args: Buffer[], usec: number): void {
    const { slowlogLogSlowerThan: threshold, slowlogMaxLen: maxLen } = this.settings;
    const now = this.clock.nowMs();
    this.slowlog.record(args, usec, threshold, maxLen, client.addr, client.name, now);
  }

  /**
   * EVALSHA queued in MULTI as the EVAL of the script it names (known now), so that it
   * runs in the transaction's entry, in its place; null for anything else.
   */
  private queuedScript(
    name: string,
    args: Args,
  ): { name: string; spec: CommandSpec; args: Args } | null {
    if (name === "fcall" || name === "fcall_ro") {
      const run = fcallArgs(this.functions, args, true);
      const spec = this.commands.get(name)?.spec;
      return isReply(run) || spec === undefined ? null : { name, spec, args: run };
    }
    if (name !== "evalsha" && name !== "evalsha_ro") return null;
    const run = this.scripts.asEval(name === "evalsha_ro", args);
    const spec = run === null ? undefined : this.commands.get(run.name)?.spec;
    return run === null || spec === undefined ? null : { ...run, spec };
  }

  /**
   * Runs a key-space command whose checks were made (EVALSHA's script, as EVAL): on the
   * shard that holds its keys, or on this node's store.
   */
  runKeyCommand(client: Client, name: string, args: Args): Reply | Promise<Reply> {
    const entry = this.commands.get(name);
    if (entry?.kind !== "kv") return unknownCommand(args);
    return this.runKv(client, name, entry, args);
  }

  private runKv(
    client: Client,
    name: string,
    entry: Entry & { kind: "kv" },
    args: Args,
  ): Reply | Promise<Reply> {
    if (name === "eval" || name === "eval_ro") this.scripts.remember(args.buf(1));
    if ((name === "fcall" || name === "fcall_ro") && !client.forwarded) {
      // The library's code goes with the call (a forwarded one has it already).
      const run = fcallArgs(this.functions, args);
      if (run === functionNotFound && this.cluster !== null) {
        return this.fcallLearnt(this.cluster, client, name, entry, new ArrayArgs(copyArgs(args)));
      }
      return isReply(run) ? run : this.routeKv(client, name, entry, run);
    }
    return this.routeKv(client, name, entry, args);
  }

  /**
   * FCALL of a function this cluster node does not know: a library loaded through another
   * node reaches this one's meta replica a heartbeat or so after the meta group took it,
   * so the call waits that long for it (functionLearnMs) before it is refused.
   */
  private async fcallLearnt(
    cluster: ClusterRuntime,
    client: Client,
    name: string,
    entry: Entry & { kind: "kv" },
    args: Args,
  ): Promise<Reply> {
    const fname = args.str(1);
    await cluster.metaApplied(
      () => this.functions.functionOf(fname) !== undefined,
      functionLearnMs,
    );
    const run = fcallArgs(this.functions, args);
    return isReply(run) ? run : this.routeKv(client, name, entry, run);
  }

  private routeKv(
    client: Client,
    name: string,
    entry: Entry & { kind: "kv" },
    args: Args,
  ): Reply | Promise<Reply> {
    const blocking = !client.forwarded && isBlockingCommand(name, args);
    if (blocking && name === "xread") return this.blockingXread(client, entry, args);
    const routed = this.router?.route(client, name, entry.spec, args) ?? null;
    const reply = routed ?? this.runHere(entry, args);
    return blocking ? this.blockIfNothing(client, name, args, reply) : reply;
  }

  /**
   * The function libraries this node knows: a cluster's from the meta group's state (read
   * again when it changed), a standalone node's its own.
   */
  get functions(): LibrarySet {
    const fromMeta = this.cluster?.functionLibraries() ?? null;
    if (fromMeta === null) return this.localFunctions;
    if (fromMeta !== this.metaFunctions) {
      this.metaFunctions = fromMeta;
      const set =
        fromMeta.payload.length === 0
          ? LibrarySet.empty
          : LibrarySet.fromPayload(Buffer.from(fromMeta.payload));
      if (typeof set === "string") {
        this.log.error(
          { version: fromMeta.version, reason: set },
          "cannot load the cluster's functions",
        );
      }
      this.metaFunctionSet = typeof set === "string" ? LibrarySet.empty : set;
    }
    return this.metaFunctionSet;
  }

  /**
   * Makes `next` the function libraries (FUNCTION LOAD, DELETE, FLUSH, RESTORE, whose
   * `args` these are), answering `reply` once it holds: on a standalone node once its file
   * is replaced, on a cluster once the meta group has it and this node has learnt it.
   */
  changeFunctions(args: Args, next: LibrarySet, reply: Reply): Reply | Promise<Reply> {
    const cluster = this.cluster;
    if (cluster !== null) return changeClusterFunctions(cluster, args, next, reply);
    if (this.functionsPath !== null) {
      try {
        replaceFile(dirname(this.functionsPath), basename(this.functionsPath), next.payload());
      } catch (err) {
        this.log.error({ err: String(err) }, "cannot save the function libraries");
        return R.error(`ERR cannot save the function libraries: ${(err as Error).message}`);
      }
    }
    this.localFunctions = next;
    return reply;
  }

  /** Why a known command may not run now (arity, authentication, RESP2 subscribed), or null. */
  private refusal(client: Client, name: string, entry: Entry, args: Args): Reply | null {
    if (!arityAccepts(entry.spec.arity, args.length)) return wrongArity(name);
    if (!client.authenticated && !allowedBeforeAuth.has(name)) {
      return R.error("NOAUTH Authentication required.");
    }
    if (client.protocol === 2 && client.subscribed && !allowedSubscribed.has(name)) {
      return R.error(
        `ERR Can't execute '${name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`,
      );
    }
    return null;
  }

  private statOf(name: string): CommandStat {
    let s = this.stats.commands.get(name);
    if (s === undefined) {
      s = { calls: 0, usec: 0, rejected: 0, failed: 0 };
      this.stats.commands.set(name, s);
    }
    return s;
  }

  /**
   * Runs a command queued after MULTI, at EXEC (transactions.ts): here, without the
   * router. A key-space command runs on this node's store; in a sharded cluster only the
   * others come here.
   */
  runQueued(client: Client, q: QueuedCommand): Reply | Promise<Reply> {
    const entry = this.commands.get(q.name);
    if (entry === undefined) return R.error(`ERR unknown command '${q.name}'`);
    const args = new ArrayArgs(q.args);
    client.inExec = true;
    try {
      return entry.kind === "kv" ? this.runHere(entry, args) : entry.handler(this, client, args);
    } catch (err) {
      this.log.error({ err, command: q.name }, "command failed unexpectedly");
      return R.error(`ERR internal error while running '${q.name}'`);
    } finally {
      client.inExec = false;
    }
  }

  /**
   * Runs a key-space command on this node's store; a write to a key a client blocks on
   * tries that client again (blocking.ts).
   */
  private runHere(entry: Entry & { kind: "kv" }, args: Args): Reply {
    const seq = this.store.writeSeq;
    const reply = entry.handler(this.ctx, args);
    if (this.store.writeSeq !== seq) this.blocking.wrote(entry.spec, args);
    return reply;
  }

  /** The time the commands of the current input run at. */
  commandNowMs(): number {
    return this.ctx.nowMs;
  }

  waitingClients(): number {
    return this.waiting.size;
  }

  specOf(name: string): CommandSpec | undefined {
    return this.commands.get(name)?.spec;
  }

  /**
   * Closes another client's connection now (CLIENT KILL): what it had not been sent is
   * dropped, as Redis frees a killed client; its blocking and subscriptions go with it.
   */
  closeClient(client: Client, why: string): void {
    this.log.debug({ client: client.id, addr: client.addr }, why);
    client.closing = true;
    client.socket.destroy();
  }

  queryBufferBytes(client: Client): number {
    return this.parsers.get(client.id)?.bufferedBytes() ?? 0;
  }

  /** Starts a group commit after this turn's input has been processed. */
  requestFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    const startMs = performance.now();
    let seenSeq = this.store.writeSeq;
    // Gather: keep taking input for as long as each turn of the event loop brings more
    // writes, up to gatherMsMax. Clients released by the last commit answer within tens
    // of microseconds; waiting for them makes one sync serve them all instead of
    // splitting them into several small batches that each wait for a sync.
    const spin = () => {
      const seq = this.store.writeSeq;
      if (seq !== seenSeq && performance.now() - startMs < gatherMsMax) {
        seenSeq = seq;
        setImmediate(spin);
        return;
      }
      this.flushScheduled = false;
      this.runFlush();
    };
    setImmediate(spin);
  }

  private runFlush(): void {
    this.flushesInFlight++;
    const startMs = performance.now();
    this.store.flush().then(
      () => {
        this.stats.flushes++;
        this.stats.lastFlushMs = performance.now() - startMs;
        if (this.stats.lastFlushError !== null) {
          this.log.info("writes are durable again");
          this.stats.lastFlushError = null;
        }
        this.releaseHeld(null);
        this.afterFlush();
      },
      (err: StorageError) => {
        this.stats.flushFailures++;
        const first = this.stats.lastFlushError === null;
        this.stats.lastFlushError = err;
        if (first || this.stats.flushFailures % 100 === 0) {
          this.log.error(
            { code: err.code, reason: err.message, failures: this.stats.flushFailures },
            "writes could not be made durable; they were rolled back and their clients told",
          );
        }
        this.releaseHeld(err);
        this.afterFlush();
      },
    );
  }

  private afterFlush(): void {
    this.flushesInFlight--;
    if (this.flushesInFlight === 0 && this.store.writeSeq > this.store.durableSeq) {
      this.requestFlush();
    }
  }

  /**
   * Releases `client`'s replies once the promise jobs queued so far have run: the replies
   * a raft flush settles together (one per write it applied, all resolved in the same
   * rounds of jobs) then leave in one socket write per client instead of one each.
   */
  private releaseSoon(client: Client): void {
    if (this.settled.size === 0) {
      queueMicrotask(() => {
        const clients = [...this.settled];
        this.settled.clear();
        for (const c of clients) if (this.clients.has(c.id)) this.release(c, null);
      });
    }
    this.settled.add(client);
  }

  /** Sends the held replies that are now durable, or the error that replaced them. */
  private releaseHeld(failure: StorageError | null): void {
    for (const client of this.waiting) this.release(client, failure);
    // Pushed in the order of their seqs: the durable ones are a prefix.
    const durable = this.store.durableSeq;
    let n = 0;
    while (n < this.durableWaits.length && (this.durableWaits[n]?.seq ?? 0) <= durable) n++;
    for (const w of this.durableWaits.splice(0, n)) w.done(failure);
  }

  /** Sends `client`'s held replies that are ready, in order, up to the first that is not. */
  private release(client: Client, failure: StorageError | null): void {
    const durable = this.store.durableSeq;
    const held = client.held;
    let i = 0;
    while (i < held.length && (held[i] as HeldReply).tag <= durable) {
      const h = held[i] as HeldReply;
      // A routed reply (tag 0) depends on no local write: a failed flush does not undo it.
      const lost = failure !== null && h.tag > 0;
      this.writer.write(lost ? misconf(failure) : h.reply, client.protocol);
      i++;
    }
    held.splice(0, i);
    if (held.length === 0) this.waiting.delete(client);
    this.sendOutput(client);
    if (client.closing && held.length === 0) client.socket.end();
  }

  /**
   * A blocking command that found nothing to pop (`reply` null, now or once routed) blocks
   * its client (blocking.ts); any other reply is the command's.
   */
  private blockIfNothing(
    client: Client,
    name: string,
    args: Args,
    reply: Reply | Promise<Reply>,
  ): Reply | Promise<Reply> {
    if (!(reply instanceof Promise)) {
      return foundNothing(reply) ? this.block(client, name, copyArgs(args)) : reply;
    }
    const kept = copyArgs(args); // the parser's buffers are reused before the reply comes
    return reply.then((r) =>
      foundNothing(r) && this.clients.has(client.id) && !client.closing
        ? this.block(client, name, kept)
        : r,
    );
  }

  /**
   * XREAD ... BLOCK with `$` IDs: each `$` becomes its stream's last ID, read first (on the
   * key's shard leader in a cluster, through XINFO STREAM), then the read runs and blocks
   * as any other with those IDs. So a try again, on each write to one of the streams,
   * returns what was added after the block began, as Redis's `$` means.
   */
  private blockingXread(
    client: Client,
    entry: Entry & { kind: "kv" },
    args: Args,
  ): Reply | Promise<Reply> {
    const parsed = parseXread(args);
    if (!isReply(parsed) && parsed.ids.includes("$")) {
      return this.xreadAfterLastIds(client, entry, copyArgs(args), parsed);
    }
    const reply =
      this.router?.route(client, "xread", entry.spec, args) ?? this.runHere(entry, args);
    return this.blockIfNothing(client, "xread", args, reply);
  }

  private async xreadAfterLastIds(
    client: Client,
    entry: Entry & { kind: "kv" },
    parts: Buffer[],
    parsed: XreadArgs,
  ): Promise<Reply> {
    for (let i = 0; i < parsed.keys.length; i++) {
      if (parsed.ids[i] !== "$") continue;
      const key = parts[parsed.idsAt - parsed.keys.length + i] as Buffer;
      const last = await this.lastStreamId(client, key);
      // The shard could not be read (no leader, MOVED...): that is the answer, not 0-0.
      if (typeof last !== "string") return last;
      parts[parsed.idsAt + i] = Buffer.from(last);
    }
    const again = new ArrayArgs(parts);
    const routed = this.router?.route(client, "xread", entry.spec, again) ?? null;
    const reply = routed ?? this.runHere(entry, again);
    return this.blockIfNothing(client, "xread", again, reply);
  }

  /**
   * The stream's last generated ID ("0-0" if there is none, or if the key holds another
   * type: XREAD then answers WRONGTYPE), what XREAD's `$` reads as; or the error that kept
   * it from being read.
   */
  private async lastStreamId(client: Client, key: Buffer): Promise<string | Reply> {
    if (this.router === null) return lastIdOf(lookup(this.ctx, key));
    const info = this.commands.get("xinfo");
    if (info === undefined || info.kind !== "kv") return "0-0";
    const args = new ArrayArgs([Buffer.from("XINFO"), Buffer.from("STREAM"), key]);
    const spec = runSpec(info.spec, args) ?? info.spec;
    const reply = await (this.router.route(client, "xinfo", spec, args) ?? R.NULL);
    if (reply.kind === "error") {
      return reply.value.startsWith("ERR no such key") || reply.value.startsWith("WRONGTYPE")
        ? "0-0"
        : reply;
    }
    const fields =
      reply.kind === "map" ? reply.value.flat() : reply.kind === "array" ? reply.value : [];
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const name = fields[i] as Reply;
      const value = fields[i + 1] as Reply;
      if (name.kind === "bulk" && name.value.toString() === "last-generated-id") {
        return value.kind === "bulk" ? value.value.toString() : "0-0";
      }
    }
    return "0-0";
  }

  private block(client: Client, name: string, parts: Buffer[]): Promise<Reply> {
    this.pauseReading(client);
    return this.blocking.block(client, name, parts);
  }

  /**
   * Runs a blocked client's command again: routed on a cluster node (the leader's reply is
   * durable), else here, answered once its pop is durable.
   */
  private runBlockedAgain(client: Client, name: string, args: Args): Reply | Promise<Reply> {
    const entry = this.commands.get(name);
    if (entry === undefined || entry.kind !== "kv") return R.error(`ERR unknown command '${name}'`);
    const routed = this.router?.route(client, name, entry.spec, args) ?? null;
    if (routed !== null) return routed;
    this.prepareContext(this.clock.nowMs());
    const reply = this.runHere(entry, args);
    return foundNothing(reply) ? reply : this.onceDurable(reply);
  }

  /** `reply`, once what this node's store wrote so far is durable (at once if it is). */
  private onceDurable(reply: Reply): Reply | Promise<Reply> {
    const seq = this.store.writeSeq;
    if (seq <= this.store.durableSeq) return reply;
    this.requestFlush();
    return new Promise((resolve) => {
      this.durableWaits.push({
        seq,
        done: (failure) => resolve(failure === null ? reply : misconf(failure)),
      });
    });
  }

  /**
   * CLIENT PAUSE: for `timeoutMs`, this node's clients' commands wait (with `all`), or
   * those that may write (EXEC of such commands, scripts, PUBLISH included). A pause
   * while one is under way keeps the later end and the stricter kind, as Redis does.
   * Connections of other nodes forwarding their clients' commands are not held, as
   * Redis never pauses its replicas.
   */
  pauseClients(timeoutMs: number, all: boolean): void {
    const now = this.clock.nowMs();
    let untilMs = now + timeoutMs;
    const current = this.clientPause;
    if (current !== null) {
      clearTimeout(current.timer);
      untilMs = Math.max(untilMs, current.untilMs);
      all ||= current.all;
    }
    this.clientPause = { untilMs, all, timer: this.pauseTimer(untilMs - now) };
  }

  /**
   * Ends the pause after `delayMs`, or sets itself again if the clock has not reached
   * its end then: a timer waits at most 2^31 − 1 ms (24.8 days), a pause may be longer.
   */
  private pauseTimer(delayMs: number): NodeJS.Timeout {
    const timer = setTimeout(
      () => {
        const pause = this.clientPause;
        if (pause === null) return;
        const left = pause.untilMs - this.clock.nowMs();
        if (left > 0) pause.timer = this.pauseTimer(left);
        else this.unpauseClients();
      },
      Math.min(Math.max(0, delayMs), 0x7fff_ffff),
    );
    timer.unref();
    return timer;
  }

  /** CLIENT UNPAUSE, or the pause's end: the commands held back run, in the order they came. */
  unpauseClients(): void {
    if (this.clientPause === null) return;
    clearTimeout(this.clientPause.timer);
    this.clientPause = null;
    for (const p of this.postponed.splice(0)) {
      const client = p.client;
      if (this.pausedFor(client, p.args)) {
        this.postponed.push(p); // a command run before it paused clients again
        continue;
      }
      client.postponed = false;
      if (!this.clients.has(client.id) || client.closing) {
        p.answer(R.NULL); // nobody reads it
        continue;
      }
      const now = this.clock.nowMs();
      client.lastInteractionMs = now;
      this.prepareContext(now);
      this.current = client;
      let reply: Reply | Promise<Reply>;
      try {
        reply = this.execute(client, p.args);
      } finally {
        this.current = null;
      }
      this.sendOutput(client); // what it pushed meanwhile, with replies off
      p.answer(reply instanceof Promise ? reply : this.onceDurable(reply));
      this.unblocked(client);
    }
  }

  /** Whether CLIENT PAUSE holds `args` back now. */
  private pausedFor(client: Client, args: Args): boolean {
    const pause = this.clientPause;
    if (pause === null || client.forwarded) return false;
    if (pause.all) return true;
    const name = args.lower(0);
    if (name === "exec") {
      return (client.tx ?? []).some((q) => this.mayWrite(q.name, new ArrayArgs(q.args)));
    }
    return this.mayWrite(name, args);
  }

  /** A command CLIENT PAUSE WRITE holds back: a write, or one that may write or publish. */
  private mayWrite(name: string, args: Args): boolean {
    if (name === "fcall" || name === "fcall_ro") return fcallMayWrite(this.functions, args);
    if ((name === "eval" || name === "evalsha") && args.length > 1) {
      // A script that declares no-writes runs: it can neither write nor publish.
      const body = name === "eval" ? args.buf(1) : this.scripts.get(args.str(1));
      if (body !== undefined && declaresNoWrites(body)) return false;
    }
    const spec = runSpec(this.commands.get(name)?.spec, args);
    return (
      spec !== undefined &&
      (spec.flags.includes("write") || spec.hiddenFlags.includes("may_replicate"))
    );
  }

  /** Clients whose command CLIENT PAUSE holds back (INFO counts them as blocked). */
  get postponedClients(): number {
    return this.postponed.length;
  }

  /** Holds `args` back until the pause ends; its reply comes then, in order. */
  private postpone(client: Client, args: Args): Promise<Reply> {
    client.postponed = true;
    const kept = new ArrayArgs(copyArgs(args));
    return new Promise((answer) => this.postponed.push({ client, args: kept, answer }));
  }

  /**
   * A shard's replica on this node applied `name` (a cluster node): a write to a key a
   * client blocks on here tries that client again (blocking.ts).
   */
  shardApplied(name: string, args: Args): void {
    if (this.blocking.size === 0) return;
    const spec = this.commands.get(name)?.spec;
    if (spec !== undefined) this.blocking.wrote(spec, args);
  }

  /** A blocked client was answered: it reads and runs its next commands again. */
  private unblocked(client: Client): void {
    if (!this.clients.has(client.id) || client.closing || !client.paused) return;
    if (client.socket.writableLength >= outputPauseBytes) return; // onDrain resumes it
    this.onDrain(client, this.parsers.get(client.id) as RequestParser);
  }

  /** Stops accepting, makes what was written durable, closes clients and the store. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    // Commands CLIENT PAUSE holds back run now: every command read gets its reply.
    this.unpauseClients();
    if (this.expiryTimer !== null) clearInterval(this.expiryTimer);
    if (this.housekeepingTimer !== null) clearInterval(this.housekeepingTimer);
    const closed = Promise.all(
      [this.server, this.redirectServer].map(
        (server) =>
          new Promise<void>((resolve) => {
            if (server === null) resolve();
            else server.close(() => resolve());
          }),
      ),
    );
    // The clients still connected are served meanwhile: a write to a group whose
    // leadership moved is forwarded to the new leader (or answered MOVED).
    const cluster = this.cluster;
    if (cluster !== null) {
      this.stopStage = "handing leaderships over";
      const startedAt = Date.now();
      const { moved, kept } = await cluster.handOver();
      this.log.info(
        { moved, kept, ms: Date.now() - startedAt },
        "leaderships handed over before stopping",
      );
    }
    this.blocking.close();
    this.stopStage = "making the last writes durable";
    while (this.flushesInFlight > 0 || this.store.writeSeq > this.store.durableSeq) {
      if (this.flushesInFlight === 0) this.runFlush();
      await new Promise((r) => setTimeout(r, 5));
    }
    this.stopStage = "answering and closing clients";
    // Every command read so far gets its reply before its connection ends; nothing more
    // is read. Cut off instead, a write that ran could go unanswered, and a client that
    // sends its unanswered commands again on a new connection (ioredis does) would run
    // it twice. A client that does not close its side in time is cut off.
    for (const c of this.clients.values()) {
      c.closing = true;
      if (c.held.length === 0) c.socket.end();
    }
    const until = Date.now() + clientsDrainMs;
    while (this.clients.size > 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 5));
    }
    for (const c of this.clients.values()) c.socket.destroy();
    this.stopStage = "closing the cluster side";
    await this.cluster?.close();
    this.stopStage = "leaving the membership";
    await this.membership?.close();
    this.stopStage = "closing the listener";
    await closed;
    this.stopStage = "closing the store";
    await this.store.close();
    this.stopStage = "stopped";
  }
}

/** Listens on bind:port; resolves with the bound port, rejects on e.g. EADDRINUSE. */
function listenOn(server: Server, port: number, bind: string, log: Logger): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, bind, () => {
      server.off("error", reject);
      server.on("error", (err) => log.error({ err }, "listener error"));
      const address = server.address();
      resolve(typeof address === "object" && address !== null ? address.port : 0);
    });
  });
}

/** A cluster node tries each blocked client at least this often (blocking.ts). */
const blockedPollMs = 1000;

function misconf(err: StorageError): Reply {
  return R.error(
    `MISCONF Errors writing to disk (${err.code}): the command was not applied. ` +
      "Writes resume by themselves once the disk accepts them again.",
  );
}

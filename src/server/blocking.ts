import { type CommandSpec, keyIndexesOf, runSpec } from "../kv/command-table.js";
import { isReply } from "../kv/db.js";
import { parseMpop, parseTimeout } from "../kv/lists.js";
import { parseXread } from "../kv/streams.js";
import { ZMPOP_ENDS } from "../kv/zsets.js";
import { ArrayArgs } from "../resp/args.js";
import * as R from "../resp/reply.js";
import type { Args, Reply } from "../resp/types.js";
import type { Client } from "./client.js";

/**
 * Clients blocked by BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP and
 * XREAD ... BLOCK (a read that waits for entries after the IDs it names; node.ts makes its
 * `$` IDs concrete first, so that a try again reads what came after the block began).
 *
 * The key space runs a blocking command as Redis runs it for a client that may not block
 * (kv/lists.ts, kv/zsets.ts): it pops if it can, else answers null. On a null, the node blocks the
 * client here, on the keys the command names, and runs the command again whenever one of
 * them is written: on a standalone node, by a command this node ran; on a cluster node, by
 * an entry this node's replica of the key's shard applied (every replica applies every
 * write, so this works on followers too, and the retry is routed to the leader like any
 * write). A node holding no replica of the shard learns nothing from its own applies, so
 * every blocked client is also tried again once a `pollMs` has passed since its last try.
 *
 * The clients blocked on a key are served one at a time in the order they blocked (on
 * this node; a cluster does not order the clients of different nodes). A try that pops
 * nothing leaves the client blocked, and the next try waits for the next write. The
 * timeout answers the command's null; a try already running when it fires is waited for,
 * so an element it popped is never lost to the timeout. A client that disconnects while a
 * try is running in a cluster loses the element that try pops, as any client that
 * disconnects before reading its reply does.
 */

const unblockedError = R.error("UNBLOCKED client unblocked via CLIENT UNBLOCK");

/** The commands that block, and the null each answers on a timeout. */
const BLOCKING: ReadonlyMap<string, Reply> = new Map([
  ["blpop", R.NULL_ARRAY],
  ["brpop", R.NULL_ARRAY],
  ["blmpop", R.NULL_ARRAY],
  ["blmove", R.NULL],
  ["brpoplpush", R.NULL],
  ["bzpopmin", R.NULL_ARRAY],
  ["bzpopmax", R.NULL_ARRAY],
  ["bzmpop", R.NULL_ARRAY],
  ["xread", R.NULL_ARRAY],
  ["xreadgroup", R.NULL_ARRAY],
]);

/**
 * A blocked pop whose key now holds another type stays blocked, as in Redis (it serves a
 * blocked client only from a list); BLMOVE and BRPOPLPUSH answer WRONGTYPE, which may be
 * their destination's (Redis answers that one; it would wait on a source of another type).
 */
function skipsWrongType(name: string, error: string): boolean {
  return error.startsWith("WRONGTYPE") && name !== "blmove" && name !== "brpoplpush";
}

/**
 * A blocked XREADGROUP whose stream or group went away (deleted, flushed, another type, the
 * group destroyed) is answered with an error, as Redis answers it, not kept blocked.
 */
function groupGone(reply: Reply): Reply {
  if (reply.kind !== "error") return reply;
  if (reply.value.startsWith("WRONGTYPE")) return streamGone;
  if (reply.value.startsWith("NOGROUP")) return groupDestroyed;
  return reply;
}
const streamGone = R.error("UNBLOCKED the stream key no longer exists");
const groupDestroyed = R.error(
  "NOGROUP the consumer group this client was blocked on no longer exists",
);

/** Whether the command may block: XREAD and XREADGROUP only with BLOCK. */
export function isBlockingCommand(name: string, args: Args): boolean {
  if (name === "xread" || name === "xreadgroup") {
    const parsed = parseXread(args, name === "xreadgroup");
    return !isReply(parsed) && parsed.blockMs !== undefined;
  }
  return BLOCKING.has(name);
}

/** Whether `reply` says the command found nothing to pop (and would block). */
export function foundNothing(reply: Reply): boolean {
  return reply.kind === "null" || reply.kind === "nullArray";
}

/** What a blocking command waits on: its keys (latin1) and its timeout (0: for ever). */
export function blockingWait(name: string, args: Args): { keys: string[]; timeoutMs: number } {
  let keys: Buffer[];
  let timeoutAt: number;
  switch (name) {
    case "blpop":
    case "brpop":
    case "bzpopmin":
    case "bzpopmax":
      keys = [];
      for (let i = 1; i < args.length - 1; i++) keys.push(args.buf(i));
      timeoutAt = args.length - 1;
      break;
    case "blmpop":
    case "bzmpop": {
      const parsed = parseMpop(args, 2, name === "bzmpop" ? ZMPOP_ENDS : undefined);
      keys = isReply(parsed) ? [] : parsed.keys;
      timeoutAt = 1;
      break;
    }
    case "brpoplpush":
      keys = [args.buf(1)];
      timeoutAt = 3;
      break;
    case "xread":
    case "xreadgroup": {
      // BLOCK's milliseconds, not a timeout in seconds.
      const parsed = parseXread(args, name === "xreadgroup");
      if (isReply(parsed)) return { keys: [], timeoutMs: 0 };
      return {
        keys: [...new Set(parsed.keys.map((k) => k.toString("latin1")))],
        timeoutMs: parsed.blockMs ?? 0,
      };
    }
    default:
      keys = [args.buf(1)];
      timeoutAt = 5;
  }
  const timeout = parseTimeout(args.buf(timeoutAt));
  return {
    keys: [...new Set(keys.map((k) => k.toString("latin1")))],
    timeoutMs: isReply(timeout) ? 0 : timeout,
  };
}

/** How the node runs a blocked client's command again: at once, or routed to a leader. */
export type Retry = (client: Client, name: string, args: Args) => Reply | Promise<Reply>;

interface Waiter {
  readonly client: Client;
  readonly name: string;
  readonly args: ArrayArgs;
  readonly keys: readonly string[];
  readonly timeoutReply: Reply;
  readonly answer: (reply: Reply) => void;
  timer: ReturnType<typeof setTimeout> | null;
  /** A try is running (a cluster's routed command). */
  trying: boolean;
  /** A key was written while the try ran: try again once it answers nothing. */
  again: boolean;
  timedOut: boolean;
  /** What a timeout answers instead of the null (CLIENT UNBLOCK ... ERROR). */
  unblockedReply: Reply | null;
  done: boolean;
  lastTryMs: number;
}

export class Blocking {
  /** Waiters by key, in the order they blocked. */
  private readonly byKey = new Map<string, Waiter[]>();
  private readonly byClient = new Map<Client, Waiter>();
  /** Keys written since the last serve. */
  private readonly ready = new Set<string>();
  private serveScheduled = false;
  private poller: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly retry: Retry,
    private readonly nowMs: () => number,
    /** A cluster node also tries every blocked client this often (see the file comment). */
    private readonly pollMs: () => number | null,
    /** The client may read its next commands again. */
    private readonly unblocked: (client: Client) => void,
  ) {}

  /** Clients blocked now (INFO's blocked_clients). */
  get size(): number {
    return this.byClient.size;
  }

  isBlocked(client: Client): boolean {
    return this.byClient.has(client);
  }

  /**
   * Blocks `client` on its command's keys (the command found nothing to pop; `parts` are
   * its arguments, copies it keeps); the promise answers with the command's reply once a
   * try pops, or its null at the timeout.
   */
  block(client: Client, name: string, parts: Buffer[]): Promise<Reply> {
    const args = new ArrayArgs(parts);
    const { keys, timeoutMs } = blockingWait(name, args);
    return new Promise<Reply>((resolve) => {
      const w: Waiter = {
        client,
        name,
        args,
        keys,
        timeoutReply: BLOCKING.get(name) ?? R.NULL_ARRAY,
        answer: resolve,
        timer: null,
        trying: false,
        again: false,
        timedOut: false,
        unblockedReply: null,
        done: false,
        lastTryMs: this.nowMs(),
      };
      if (timeoutMs > 0) w.timer = setTimeout(() => this.timeOut(w), timeoutMs);
      for (const k of keys) {
        let list = this.byKey.get(k);
        if (list === undefined) {
          list = [];
          this.byKey.set(k, list);
        }
        list.push(w);
      }
      this.byClient.set(client, w);
      client.blocked = true;
      const pollMs = this.pollMs();
      if (pollMs !== null && this.poller === null) {
        this.poller = setInterval(() => this.poll(pollMs), pollMs);
      }
    });
  }

  /** `key` (latin1) was written: its blocked clients are tried once this turn is over. */
  signal(key: string): void {
    if (!this.byKey.has(key)) return;
    this.ready.add(key);
    if (this.serveScheduled) return;
    this.serveScheduled = true;
    setImmediate(() => this.serve());
  }

  /** The keys a write command named were written (no-op when no client is blocked). */
  wrote(container: CommandSpec, args: Args): void {
    if (this.byKey.size === 0) return;
    // A container's flags and keys are its subcommand's (XGROUP DESTROY's stream).
    const spec = runSpec(container, args) ?? container;
    if (!spec.flags.includes("write")) return;
    if (spec.name === "flushall" || spec.name === "flushdb") {
      // Every key went: a blocked XREADGROUP learns that its stream no longer exists.
      for (const k of [...this.byKey.keys()]) this.signal(k);
      return;
    }
    for (const i of keyIndexesOf(spec, args)) this.signal(args.buf(i).toString("latin1"));
  }

  /**
   * CLIENT UNBLOCK: answers a blocked client at once, with its timeout's null or with the
   * UNBLOCKED error; false when it is not blocked. A try under way still runs and answers.
   */
  unblock(client: Client, error: boolean): boolean {
    const w = this.byClient.get(client);
    if (w === undefined) return false;
    if (w.trying) {
      w.timedOut = true;
      if (error) w.unblockedReply = unblockedError;
      return true;
    }
    this.finish(w, error ? unblockedError : w.timeoutReply);
    return true;
  }

  /** The client disconnected: it waits no more (a try under way still runs). */
  forget(client: Client): void {
    const w = this.byClient.get(client);
    if (w !== undefined) this.remove(w);
  }

  close(): void {
    if (this.poller !== null) clearInterval(this.poller);
    this.poller = null;
    for (const w of [...this.byClient.values()]) this.finish(w, w.timeoutReply);
  }

  /**
   * Serves the keys written so far now rather than on the next turn: a standalone node
   * calls it once a client's input has run, so that a pop it serves joins the push's group
   * commit instead of waiting for the next one.
   */
  serveNow(): void {
    if (this.ready.size > 0) this.serve();
  }

  private serve(): void {
    this.serveScheduled = false;
    const keys = [...this.ready];
    this.ready.clear();
    for (const k of keys) this.serveKey(k);
  }

  /** Tries the first client blocked on `key` that is not trying already. */
  private serveKey(key: string): void {
    const list = this.byKey.get(key);
    if (list === undefined) return;
    for (const w of list) {
      if (w.trying) {
        w.again = true;
        return;
      }
      this.attempt(w, key);
      return;
    }
  }

  private attempt(w: Waiter, key: string | null): void {
    w.trying = true;
    w.again = false;
    w.lastTryMs = this.nowMs();
    let reply: Reply | Promise<Reply>;
    try {
      reply = this.retry(w.client, w.name, w.args);
    } catch {
      reply = R.error(`ERR internal error while running '${w.name}'`);
    }
    if (reply instanceof Promise) {
      reply.then(
        (r) => this.tried(w, r, key),
        () => this.tried(w, R.error(`ERR internal error while running '${w.name}'`), key),
      );
    } else {
      this.tried(w, reply, key);
    }
  }

  private tried(w: Waiter, found: Reply, key: string | null): void {
    w.trying = false;
    const reply = w.name === "xreadgroup" ? groupGone(found) : found;
    if (!foundNothing(reply) && !(reply.kind === "error" && skipsWrongType(w.name, reply.value))) {
      this.finish(w, reply);
      // The next client blocked on the key may find more.
      if (key !== null) this.signal(key);
      return;
    }
    if (w.done || this.byClient.get(w.client) !== w) return; // answered, or disconnected
    if (w.timedOut) {
      this.finish(w, w.unblockedReply ?? w.timeoutReply);
      return;
    }
    if (w.again) this.attempt(w, key);
  }

  private timeOut(w: Waiter): void {
    w.timer = null;
    if (w.trying) w.timedOut = true;
    else this.finish(w, w.timeoutReply);
  }

  /** Tries every client whose last try is a pollMs old (a cluster node; see the file comment). */
  private poll(pollMs: number): void {
    if (this.byClient.size === 0) {
      if (this.poller !== null) clearInterval(this.poller);
      this.poller = null;
      return;
    }
    const now = this.nowMs();
    for (const w of [...this.byClient.values()]) {
      if (!w.trying && !w.done && now - w.lastTryMs >= pollMs) {
        this.attempt(w, w.keys[0] ?? null);
      }
    }
  }

  private finish(w: Waiter, reply: Reply): void {
    const blocked = !w.done && this.byClient.get(w.client) === w;
    this.remove(w);
    if (w.done) return;
    w.done = true;
    w.answer(reply);
    if (blocked) this.unblocked(w.client);
  }

  private remove(w: Waiter): void {
    if (w.timer !== null) clearTimeout(w.timer);
    w.timer = null;
    if (this.byClient.get(w.client) === w) {
      this.byClient.delete(w.client);
      w.client.blocked = false;
    }
    for (const k of w.keys) {
      const list = this.byKey.get(k);
      if (list === undefined) continue;
      const i = list.indexOf(w);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.byKey.delete(k);
    }
  }
}

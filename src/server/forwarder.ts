import { connect, type Socket } from "node:net";
import { encodeCommand, type Protocol } from "../resp/encoder.js";
import * as R from "../resp/reply.js";
import { ReplyParser } from "../resp/reply-parser.js";
import type { Reply } from "../resp/types.js";

/** A forwarded command with no answer by then fails (the origin answers UNCERTAIN). */
const forwardTimeoutMs = 5000;
/** How a forward that could not reach the leader's node is answered (the router retries it). */
export const unreachablePrefix = "TRYAGAIN the shard's leader cannot be reached";
/**
 * The answer for a command that was sent and got no reply (the connection was lost): it
 * may have run, so the router must not send a write again, nor a client be invited to
 * (it would run twice). See mayRetry in cluster-router.ts.
 */
export const lostInFlightPrefix = "UNCERTAIN the shard's leader cannot be reached";
/** Commands in flight on one connection: past this the origin answers TRYAGAIN. */
const inflightMax = 10_000;

interface Pending {
  resolve(reply: Reply): void;
  timer: NodeJS.Timeout;
}

/**
 * One pipelined Redis connection to another node, for commands this node forwards to a
 * shard's leader on behalf of a client that cannot follow MOVED. The connection opens
 * with `HOMEOSTAT FORWARDED` (and AUTH when the cluster has a password), which tells the
 * leader not to forward again: a command that finds no leader there comes back as an
 * error instead of travelling on, so forwarding never loops. Replies are returned as
 * they came (bulk strings as bytes).
 */
export class ForwardConnection {
  private readonly socket: Socket;
  private readonly parser = new ReplyParser({}, { bulkAs: "buffer" });
  private readonly pending: Pending[] = [];
  /** Replies to the handshake still to skip. */
  private skip: number;
  private closed = false;
  /**
   * Whether the connection was ever made. Commands written before are queued in the
   * socket and leave only once it connects: if it never does (the leader's node is down,
   * its port refuses), none of them reached it, so none ran.
   */
  private connected = false;

  constructor(
    readonly host: string,
    readonly port: number,
    password: string,
    private readonly onClose: () => void,
    proto: Protocol = 2,
  ) {
    this.socket = connect(port, host);
    this.socket.setNoDelay(true);
    this.socket.once("connect", () => {
      this.connected = true;
    });
    const hello: string[][] = [];
    if (password !== "") hello.push(["AUTH", password]);
    if (proto === 3) hello.push(["HELLO", "3"]);
    hello.push(["HOMEOSTAT", "FORWARDED"]);
    this.skip = hello.length;
    for (const args of hello) this.socket.write(encodeCommand(args));
    this.socket.on("data", (chunk: Buffer) => {
      const failure = this.parser.feed(chunk, (reply) => this.onReply(reply));
      if (failure !== undefined) this.close(`bad reply: ${failure.message}`);
    });
    this.socket.on("error", (err: NodeJS.ErrnoException) => this.close(err.code ?? err.message));
    this.socket.on("close", () => this.close("connection closed"));
  }

  get inflight(): number {
    return this.pending.length;
  }

  /**
   * The leader's reply; a TRYAGAIN error if the command could not be sent (this
   * connection is closed, or never connected), an UNCERTAIN one if it was sent and the
   * connection was lost before the reply.
   */
  send(args: readonly Buffer[]): Promise<Reply> {
    if (this.closed || this.pending.length >= inflightMax) {
      return Promise.resolve(R.error(unreachablePrefix));
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.close("timed out"), forwardTimeoutMs);
      this.pending.push({ resolve, timer });
      this.socket.write(encodeCommand(args));
    });
  }

  close(why = "closed"): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    const answer = this.connected
      ? R.error(`${lostInFlightPrefix} (${why}); the command may or may not have run`)
      : R.error(`${unreachablePrefix} (${why}); the command was not sent`);
    for (const p of this.pending.splice(0)) {
      clearTimeout(p.timer);
      p.resolve(answer);
    }
    this.onClose();
  }

  private onReply(reply: Reply): void {
    if (this.skip > 0) {
      this.skip -= 1;
      if (reply.kind === "error") this.close(`handshake refused: ${String(reply.value)}`);
      return;
    }
    const p = this.pending.shift();
    if (p === undefined) return;
    clearTimeout(p.timer);
    p.resolve(reply);
  }
}

/**
 * One ForwardConnection per leader address and protocol, opened on first use and dropped
 * on close. A command goes over a connection in its client's protocol, so the leader
 * builds the reply that protocol gets (a RESP3 map stays a map, HRANDFIELD WITHVALUES
 * stays flat in RESP2 and nested in RESP3).
 */
export class Forwarder {
  private readonly connections = new Map<string, ForwardConnection>();

  constructor(private readonly password: string) {}

  send(host: string, port: number, args: readonly Buffer[], proto: Protocol = 2): Promise<Reply> {
    const key = `${host}:${port}/${proto}`;
    let c = this.connections.get(key);
    if (c === undefined) {
      const fresh = new ForwardConnection(
        host,
        port,
        this.password,
        () => {
          if (this.connections.get(key) === fresh) this.connections.delete(key);
        },
        proto,
      );
      c = fresh;
      this.connections.set(key, c);
    }
    return c.send(args);
  }

  close(): void {
    for (const c of [...this.connections.values()]) c.close();
  }
}

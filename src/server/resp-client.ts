/**
 * A minimal RESP client for reaching a node through its Redis port: the CLI's cluster
 * commands use it, and so does a node joining through a member's Redis address.
 */
import { connect } from "node:net";
import { encodeCommand } from "../resp/encoder.js";
import { ReplyParser } from "../resp/reply-parser.js";
import type { Reply } from "../resp/types.js";

/** How long a caller waits for a node before giving up. */
const callTimeoutMsDefault = 5000;

export interface Target {
  host: string;
  port: number;
}

/** A node could not be reached or did not answer: said plainly, never a stack trace. */
export class UnreachableError extends Error {
  override name = "UnreachableError";
}

/**
 * Sends one command to a node's Redis port and resolves with its reply. This is how every
 * CLI command that talks to a running cluster reaches it: through any member, as redis-cli.
 */
export async function call(
  target: Target,
  args: readonly (string | Buffer)[],
  timeoutMs = callTimeoutMsDefault,
): Promise<Reply> {
  const [reply] = await callAll(target, [args], timeoutMs);
  return reply as Reply;
}

/** Sends `commands` in one pipeline and resolves with their replies, in order. */
export function callAll(
  target: Target,
  commands: readonly (readonly (string | Buffer)[])[],
  timeoutMs = callTimeoutMsDefault,
): Promise<Reply[]> {
  return new Promise((resolve, reject) => {
    const replies: Reply[] = [];
    const where = `${target.host}:${target.port}`;
    const socket = connect(target.port, target.host);
    const parser = new ReplyParser({}, { bulkAs: "string" });
    let settled = false;
    const finish = (err: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err !== null) reject(err);
      else resolve(replies);
    };
    const timer = setTimeout(
      () => finish(new UnreachableError(`no answer from ${where} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on("connect", () => {
      for (const args of commands) socket.write(encodeCommand(args));
    });
    socket.on("data", (chunk: Buffer) => {
      const failure = parser.feed(chunk, (reply) => {
        replies.push(reply);
        if (replies.length === commands.length) finish(null);
      });
      if (failure !== undefined) finish(new UnreachableError(`${where}: ${failure.message}`));
    });
    socket.on("error", (err: NodeJS.ErrnoException) =>
      finish(new UnreachableError(`cannot reach a node at ${where}: ${err.code ?? err.message}`)),
    );
    socket.on("close", () =>
      finish(new UnreachableError(`${where} closed the connection without answering`)),
    );
  });
}

import { connect } from "node:net";
import { encodeCommand } from "../resp/encoder.js";
import { ReplyParser } from "../resp/reply-parser.js";
import type { Reply } from "../resp/types.js";

/** How long a CLI command waits for a node before giving up. */
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
export function call(
  target: Target,
  args: readonly (string | Buffer)[],
  timeoutMs = callTimeoutMsDefault,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const where = `${target.host}:${target.port}`;
    const socket = connect(target.port, target.host);
    const parser = new ReplyParser({}, { bulkAs: "string" });
    let settled = false;
    const finish = (err: Error | null, reply?: Reply) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err !== null) reject(err);
      else resolve(reply as Reply);
    };
    const timer = setTimeout(
      () => finish(new UnreachableError(`no answer from ${where} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on("connect", () => socket.write(encodeCommand(args)));
    socket.on("data", (chunk: Buffer) => {
      const failure = parser.feed(chunk, (reply) => finish(null, reply));
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

/** A reply as text for a terminal, roughly as redis-cli prints it. */
export function formatReply(reply: Reply, indent = ""): string {
  switch (reply.kind) {
    case "simple":
    case "verbatim":
      return reply.value;
    case "bulk":
      return typeof reply.value === "string" ? reply.value : reply.value.toString("utf8");
    case "error":
      return `(error) ${reply.value}`;
    case "integer":
      return `(integer) ${reply.value}`;
    case "double":
      return `(double) ${reply.value}`;
    case "boolean":
      return reply.value ? "(true)" : "(false)";
    case "null":
    case "nullArray":
      return "(nil)";
    case "array":
    case "set":
      if (reply.value.length === 0) return "(empty array)";
      return reply.value
        .map((r, i) => `${indent}${i + 1}) ${formatReply(r, `${indent}   `)}`)
        .join("\n");
    case "map":
      if (reply.value.length === 0) return "(empty map)";
      return reply.value
        .map(([k, v]) => `${indent}${formatReply(k)}: ${formatReply(v, `${indent}   `)}`)
        .join("\n");
  }
}

import { type Command, InvalidArgumentError } from "commander";
import type { Reply } from "../resp/types.js";
import { call, type Target, UnreachableError } from "../server/resp-client.js";

export { call, type Target, UnreachableError };

/**
 * The options naming the member a command talks to: any member's Redis port, with
 * redis-cli's flags.
 */
export function withTarget(command: Command): Command {
  return command
    .option("-h, --host <address>", "any member's address", "127.0.0.1")
    .option("-p, --port <port>", "that member's Redis port", targetPort, 6380);
}

function targetPort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new InvalidArgumentError("expected a port number from 1 to 65535");
  }
  return n;
}

/**
 * Sends one command; null (said on stderr, exit code 1) when no member answers. An error
 * reply is returned, with the exit code set to 1.
 */
export async function request(target: Target, args: string[]): Promise<Reply | null> {
  try {
    const reply = await call(target, args);
    if (reply.kind === "error") process.exitCode = 1;
    return reply;
  } catch (err) {
    if (!(err instanceof UnreachableError)) throw err;
    process.stderr.write(`homeostat: ${err.message}\n`);
    process.exitCode = 1;
    return null;
  }
}

/** Sends one command and prints its reply (a bulk string as it is); exit 1 on failure. */
export async function ask(target: Target, args: string[]): Promise<void> {
  const reply = await request(target, args);
  if (reply === null) return;
  const text =
    reply.kind === "bulk" || reply.kind === "verbatim" ? String(reply.value) : formatReply(reply);
  process.stdout.write(`${text.trimEnd()}\n`);
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

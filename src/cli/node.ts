import { type Command, InvalidArgumentError } from "commander";
import { call, formatReply, UnreachableError } from "./client.js";

/**
 * `homeostat node remove ID`: decommissions a node of a sharded cluster through any member
 * (HOMEOSTAT REMOVE). The cluster drains it: each of its replicas is rebuilt on another
 * node before its own is removed, so data stays at full replication, and its leaderships
 * move first. The command returns once the drain has started; `homeostat info raft` or
 * HOMEOSTAT GROUPS on the node show it emptying.
 */
export function registerNode(command: Command): void {
  command
    .description("Manage the nodes of a sharded cluster.")
    .command("remove")
    .description("Drain a node (its raft id or node id) and remove it from the cluster.")
    .argument("<id>", "the node's raft id, or its node id (or a unique prefix of 4+ characters)")
    .option("-h, --host <address>", "any member's address", "127.0.0.1")
    .option("-p, --port <port>", "that member's Redis port", port, 6380)
    .action(async (id: string, opts: { host: string; port: number }) => {
      try {
        const reply = await call(opts, ["HOMEOSTAT", "REMOVE", id]);
        process.stdout.write(`${formatReply(reply)}\n`);
        if (reply.kind === "error") process.exitCode = 1;
      } catch (err) {
        if (!(err instanceof UnreachableError)) throw err;
        process.stderr.write(`homeostat: ${err.message}\n`);
        process.exitCode = 1;
      }
    });
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new InvalidArgumentError("expected a port number from 1 to 65535");
  }
  return n;
}

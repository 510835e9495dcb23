import { type Command, InvalidArgumentError } from "commander";
import type { Reply } from "../resp/types.js";
import { call, formatReply, type Target, UnreachableError } from "./client.js";

/**
 * `homeostat journal [--follow]`: the decision journal kept by the meta group (HOMEOSTAT
 * JOURNAL): every action the cluster took by itself — which loop, what it saw, what it did,
 * and how that ended. With --follow it keeps printing new entries, once a second.
 */
export function registerJournal(command: Command): void {
  command
    .description("Print the decision journal: what the cluster did by itself, and why.")
    .option("-f, --follow", "keep printing new entries as they come")
    .option("-h, --host <address>", "any member's address", "127.0.0.1")
    .option("-p, --port <port>", "that member's Redis port", port, 6380)
    .action(async (opts: Target & { follow?: boolean }) => {
      let after = 0;
      for (;;) {
        let reply: Reply;
        try {
          reply = await call(opts, ["HOMEOSTAT", "JOURNAL", "AFTER", String(after)]);
        } catch (err) {
          if (!(err instanceof UnreachableError)) throw err;
          process.stderr.write(`homeostat: ${err.message}\n`);
          process.exitCode = 1;
          return;
        }
        if (reply.kind !== "array") {
          process.stderr.write(`${formatReply(reply)}\n`);
          process.exitCode = 1;
          return;
        }
        for (const row of reply.value) {
          const line = row.kind === "bulk" ? String(row.value) : formatReply(row);
          process.stdout.write(`${line}\n`);
          const seq = Number(line.split(" ", 1)[0]);
          if (Number.isSafeInteger(seq)) after = Math.max(after, seq);
        }
        if (opts.follow !== true) return;
        await new Promise((r) => setTimeout(r, 1000));
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

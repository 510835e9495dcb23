import type { Command } from "commander";
import { formatReply, request, type Target, withTarget } from "./client.js";

/**
 * `homeostat journal [--follow]`: the decision journal kept by the meta group (HOMEOSTAT
 * JOURNAL): every action the cluster took by itself — which loop, what it saw, what it did,
 * and how that ended. With --follow it keeps printing new entries, once a second.
 */
export function registerJournal(command: Command): void {
  withTarget(
    command
      .description("Print the decision journal: what the cluster did by itself, and why.")
      .option("-f, --follow", "keep printing new entries as they come"),
  ).action(async (opts: Target & { follow?: boolean }) => {
    let after = 0;
    for (;;) {
      const reply = await request(opts, ["HOMEOSTAT", "JOURNAL", "AFTER", String(after)]);
      if (reply === null) return;
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

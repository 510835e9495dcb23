import type { Command } from "commander";
import type { Reply } from "../resp/types.js";
import { call, type Target, UnreachableError } from "./client.js";

export interface MemberRow {
  id: string;
  address: string;
  client: string;
  state: string;
  incarnation: number;
  zone: string;
}

/** HOMEOSTAT MEMBERS's reply (RESP2 flat arrays or RESP3 maps) as rows. */
export function parseMembers(reply: Reply): MemberRow[] {
  if (reply.kind === "error") throw new Error(reply.value);
  if (reply.kind !== "array") throw new Error(`unexpected reply of kind ${reply.kind}`);
  return reply.value.map((entry) => {
    const fields = new Map<string, string>();
    const text = (r: Reply): string =>
      r.kind === "bulk" || r.kind === "simple" || r.kind === "verbatim"
        ? String(r.value)
        : r.kind === "integer"
          ? String(r.value)
          : "";
    if (entry.kind === "map") {
      for (const [k, v] of entry.value) fields.set(text(k), text(v));
    } else if (entry.kind === "array") {
      for (let i = 0; i + 1 < entry.value.length; i += 2) {
        fields.set(text(entry.value[i] as Reply), text(entry.value[i + 1] as Reply));
      }
    }
    return {
      id: fields.get("id") ?? "",
      address: fields.get("address") ?? "",
      client: fields.get("client") ?? "",
      state: fields.get("state") ?? "",
      incarnation: Number(fields.get("incarnation") ?? 0),
      zone: fields.get("zone") ?? "",
    };
  });
}

export async function fetchMembers(target: Target): Promise<MemberRow[]> {
  return parseMembers(await call(target, ["HOMEOSTAT", "MEMBERS"]));
}

/** A fixed-width table, one member a line. */
export function formatMembers(rows: readonly MemberRow[]): string {
  const head = ["ID", "ADDRESS", "CLIENT", "STATE", "INCARNATION", "ZONE"];
  const cells = rows.map((r) => [
    r.id,
    r.address,
    r.client,
    r.state,
    String(r.incarnation),
    r.zone === "" ? "-" : r.zone,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? "").length)));
  const line = (c: string[]) =>
    c
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(head), ...cells.map(line)].join("\n");
}

/** `homeostat members [-h host] [-p port]`, on a command made by main.ts's withTarget. */
export function registerMembers(command: Command): void {
  command
    .description("List the cluster's members as one node sees them: state, incarnation, zone.")
    .action(async (opts: Target) => {
      try {
        process.stdout.write(`${formatMembers(await fetchMembers(opts))}\n`);
      } catch (err) {
        if (!(err instanceof UnreachableError) && !(err instanceof Error)) throw err;
        process.stderr.write(`homeostat: ${err.message}\n`);
        process.exitCode = 1;
      }
    });
}

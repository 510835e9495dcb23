// What the cluster benchmarks read of a running Homeostat cluster: HOMEOSTAT GROUPS rows,
// and a wait that fails at once when one of the cluster's processes has exited.

import { Redis } from "ioredis";
import { interrupted, type ManagedProcess, sleep } from "./proc.js";

/** One row of HOMEOSTAT GROUPS: a raft group as one node sees it. */
export interface GroupRow {
  group: number;
  role: string;
  lead: number;
  term: number;
  commit: number;
  applied: number;
  voters: number[];
  learners: number[];
}

/** "group=3 role=leader lead=2 term=4 commit=9 applied=9 voters=1,2,3 learners=". */
export function parseGroupRow(row: string): GroupRow {
  const f = new Map(row.split(" ").map((kv) => kv.split("=") as [string, string]));
  const ids = (s: string | undefined) => (s ? s.split(",").filter(Boolean).map(Number) : []);
  return {
    group: Number(f.get("group")),
    role: String(f.get("role")),
    lead: Number(f.get("lead")),
    term: Number(f.get("term")),
    commit: Number(f.get("commit")),
    applied: Number(f.get("applied")),
    voters: ids(f.get("voters")),
    learners: ids(f.get("learners")),
  };
}

/** `HOMEOSTAT GROUPS` of the node at host:port, a row per raft group it holds. */
export async function groupsOf(host: string, port: number): Promise<GroupRow[]> {
  const r = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 0 });
  r.on("error", () => {});
  try {
    await r.connect();
    const rows = (await r.call("HOMEOSTAT", "GROUPS")) as string[];
    return rows.map(parseGroupRow);
  } finally {
    r.disconnect();
  }
}

/** Each group as its leader reports it, by group; of two leaders, the higher term's. */
export function leadersOf(rows: Iterable<GroupRow>): Map<number, GroupRow> {
  const led = new Map<number, GroupRow>();
  for (const g of rows) {
    if (g.role !== "leader") continue;
    const seen = led.get(g.group);
    if (seen === undefined || g.term > seen.term) led.set(g.group, g);
  }
  return led;
}

/**
 * Polls `check` every 250 ms until it holds; throws when `timeoutMs` passes, when one of
 * `members`' processes has exited, or on SIGINT/SIGTERM.
 */
export async function waitUntil(
  what: string,
  timeoutMs: number,
  members: readonly { readonly proc: ManagedProcess }[],
  check: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = members.find((m) => !m.proc.isRunning());
    if (dead) throw new Error(`${dead.proc.name} exited while waiting for: ${what}`);
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    if (interrupted()) throw new Error(`interrupted while waiting for: ${what}`);
    await sleep(250);
  }
}

// Group commit across raft groups: how many Readies and entries the raft logs persist per
// second when each Ready is its own durable commit, against when the Readies of many groups
// share one, for both stores: the write-ahead log the server uses (wal-raft-log.ts), with
// its direct writes and through the page cache, and LMDB (raft-log.ts), interleaved in one
// run (docs/storage.md, "Raft log").
//
//   npm run build && node dist/scripts/bench-raft-log.js [--rounds R] [--seconds S]
//                                                         [--groups G] [--bytes B] [--no-sync]
//
// Every Ready carries one entry of B bytes and a hard state (commit moves on). Data goes in
// a temporary folder under os.tmpdir(), removed at the end: run it on the disk you care about.

import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Entry } from "../src/raft/types.js";
import type { LogWrite } from "../src/storage/raft-log.js";
import { type LmdbLogStorage, LmdbRaftLogs } from "../src/storage/raft-log.js";
import { type WalLogStorage, WalRaftLogs } from "../src/storage/wal-raft-log.js";
import { exitOnUsageError, intArg, parseOptions, positiveArg } from "./lib/options.js";

type Logs = LmdbRaftLogs | WalRaftLogs;
type Log = LmdbLogStorage | WalLogStorage;

/** logs.persist over either store (each takes its own kind of group log). */
function persistAll(logs: Logs, writes: { log: Log; write: LogWrite }[]): void {
  if (logs instanceof LmdbRaftLogs)
    logs.persist(writes as { log: LmdbLogStorage; write: LogWrite }[]);
  else logs.persist(writes as { log: WalLogStorage; write: LogWrite }[]);
}

const usage = `Usage: node dist/scripts/bench-raft-log.js [options]

Readies and entries the raft logs persist per second, one durable commit per Ready
against many groups' Readies in one commit, for the write-ahead log (direct writes and
through the page cache) and LMDB, in a temporary folder under the system's temp dir.

Options:
  --rounds R     rounds of every case, the median reported (default 5)
  --seconds S    seconds per case and round (default 1)
  --groups G     groups whose Readies share a commit (default 100)
  --bytes B      bytes of each Ready's one entry (default 128)
  --no-sync      commit without syncing: the CPU ceiling, never how a node runs
  -h, --help     this text`;
const { values } = parseOptions(
  {
    rounds: { type: "string", default: "5" },
    seconds: { type: "string", default: "1" },
    groups: { type: "string", default: "100" },
    bytes: { type: "string", default: "128" },
    "no-sync": { type: "boolean", default: false },
  },
  usage,
);
const [rounds, seconds, groupCount, entryBytes] = exitOnUsageError(() => [
  intArg("--rounds", values.rounds),
  positiveArg("--seconds", values.seconds),
  intArg("--groups", values.groups),
  intArg("--bytes", values.bytes, 0),
]);

interface Rates {
  commitsPerS: number;
  readiesPerS: number;
  entriesPerS: number;
}

const payload = new Uint8Array(entryBytes).fill(7);

function nextReady(log: Log, perReady: number): { log: Log; write: LogWrite } {
  const entries: Entry[] = [];
  for (let k = 1; k <= perReady; k++) {
    entries.push({ term: 1, index: log.lastIndex() + k, type: "normal", data: payload });
  }
  const last = log.lastIndex() + perReady;
  return { log, write: { entries, hardState: { term: 1, vote: 1, commit: last } } };
}

/** Runs `round` until `seconds` have passed; returns per-second rates from the stats. */
function measure(logs: Logs, round: () => void): Rates {
  const before = logs.stats();
  const start = process.hrtime.bigint();
  let elapsedS = 0;
  while (elapsedS < seconds) {
    round();
    elapsedS = Number(process.hrtime.bigint() - start) / 1e9;
  }
  const after = logs.stats();
  return {
    commitsPerS: (after.commits - before.commits) / elapsedS,
    readiesPerS: (after.groupWrites - before.groupWrites) / elapsedS,
    entriesPerS: (after.entries - before.entries) / elapsedS,
  };
}

/** The disk's own rate: rewrite one 4 KiB page and fdatasync it, as often as it allows. */
function rawSyncs(dir: string): Rates {
  const fd = openSync(join(dir, "probe"), "w");
  const page = Buffer.alloc(4096, 1);
  let n = 0;
  const start = process.hrtime.bigint();
  let elapsedS = 0;
  while (elapsedS < seconds) {
    writeSync(fd, page, 0, page.length, 0);
    fdatasyncSync(fd);
    n++;
    elapsedS = Number(process.hrtime.bigint() - start) / 1e9;
  }
  closeSync(fd);
  return { commitsPerS: n / elapsedS, readiesPerS: Number.NaN, entriesPerS: Number.NaN };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

const dir = mkdtempSync(join(tmpdir(), "homeostat-raft-bench-"));
try {
  const unsafeNoSync = values["no-sync"];
  const stores: [string, Logs][] = [
    ["wal", new WalRaftLogs({ path: join(dir, "wal"), unsafeNoSync })],
    // The same log writing through the page cache (docs/storage.md, "Direct writes").
    [
      "wal, page cache",
      new WalRaftLogs({ path: join(dir, "wal-cached"), unsafeNoSync, directWrites: false }),
    ],
    ["lmdb", new LmdbRaftLogs({ path: join(dir, "lmdb"), unsafeNoSync })],
  ];
  const conf = { voters: [1, 2, 3], learners: [] };
  // Cases alternate within each round, so a disk whose speed drifts (a shared volume)
  // affects them alike; the median of the rounds is reported.
  const cases: [string, () => Rates][] = [
    ["raw fdatasync of one 4 KiB page (the disk)", () => rawSyncs(dir)],
  ];
  for (const [store, logs] of stores) {
    const groups: Log[] = Array.from({ length: groupCount }, (_, g) => logs.openGroup(g + 1, conf));
    const one = groups[0] as Log;
    cases.push(
      [
        `${store}: 1 group, one commit per Ready`,
        () => measure(logs, () => one.persist(nextReady(one, 1).write)),
      ],
      [
        `${store}: 1 group, ${groupCount} entries per Ready`,
        () => measure(logs, () => one.persist(nextReady(one, groupCount).write)),
      ],
      [
        `${store}: ${groupCount} groups, one commit per Ready`,
        () =>
          measure(logs, () => {
            for (const log of groups) log.persist(nextReady(log, 1).write);
          }),
      ],
      [
        `${store}: ${groupCount} groups, one commit per round of ${groupCount} Readies`,
        () =>
          measure(logs, () =>
            persistAll(
              logs,
              groups.map((log) => nextReady(log, 1)),
            ),
          ),
      ],
    );
  }
  const samples = cases.map((): Rates[] => []);
  // In a new order each round: a case run just after LMDB's (whose pages the kernel is
  // still writing back) is slower for it.
  for (let r = 0; r < rounds; r++) {
    const order = cases.map((_, k) => k);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [order[i], order[j]] = [order[j] as number, order[i] as number];
    }
    for (const k of order) samples[k]?.push((cases[k] as [string, () => Rates])[1]());
  }
  for (const [, logs] of stores) await logs.close();
  const sync = values["no-sync"] ? ", NOT SYNCED" : "";
  console.log(`entry ${entryBytes} B, ${rounds} rounds of ${seconds} s per case, medians${sync}`);
  console.log("| case | commits (fsyncs)/s | Readies/s | entries/s |");
  console.log("|---|---:|---:|---:|");
  const f = (n: number) => (Number.isNaN(n) ? "–" : Math.round(n).toLocaleString("en-US"));
  for (const [k, [name]] of cases.entries()) {
    const s = samples[k] as Rates[];
    const m = (pick: (r: Rates) => number) => f(median(s.map(pick)));
    console.log(
      `| ${name} | ${m((r) => r.commitsPerS)} | ${m((r) => r.readiesPerS)} | ${m((r) => r.entriesPerS)} |`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

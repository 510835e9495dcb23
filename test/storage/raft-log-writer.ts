/**
 * The child process of raft-log.test.ts's crash test, and the script it follows.
 *
 *   node dist/test/storage/raft-log-writer.js <folder> <seed> <fromStep> <lmdb|wal>
 *
 * CrashScript is a deterministic sequence of raft-like writes to a few groups, generated
 * from a seed and applied to MemoryLogStorage models as it goes. The child replays it up to
 * `fromStep` without writing (what an earlier run already persisted), then persists each
 * further step to the raft logs (LMDB or the write-ahead log) and prints the step's number once its commit has returned, until it
 * is killed. The parent replays the same script to find which step the disk holds.
 */
import { pathToFileURL } from "node:url";
import { SeededRandom } from "../../src/core/random.js";
import { MemoryLogStorage } from "../../src/raft/storage.js";
import type { ConfState, Entry, HardState, Snapshot } from "../../src/raft/types.js";
import { type LmdbLogStorage, LmdbRaftLogs, type LogWrite } from "../../src/storage/raft-log.js";
import { type WalLogStorage, WalRaftLogs } from "../../src/storage/wal-raft-log.js";

/** The two raft log stores, as the crash and full-disk tests open them. */
export type RaftLogsKind = "lmdb" | "wal";
export type AnyRaftLogs = LmdbRaftLogs | WalRaftLogs;
export type AnyGroupLog = LmdbLogStorage | WalLogStorage;

/**
 * Opens raft logs of `kind` in `path`. The write-ahead log gets 64 KiB segments, so that
 * tests cross many segment boundaries (a commit larger than that gets one of its own).
 */
export function openLogs(
  kind: RaftLogsKind,
  path: string,
  options: {
    entryCacheBytesMax?: number;
    snapshotCacheBytesMax?: number;
    unsafeNoSync?: boolean;
    /** The write-ahead log's only. */
    segmentBytes?: number;
  } = {},
): AnyRaftLogs {
  const { segmentBytes: _, ...common } = options;
  return kind === "lmdb"
    ? new LmdbRaftLogs({ path, ...common })
    : new WalRaftLogs({ path, segmentBytes: 64 * 1024, ...options });
}

/** logs.persist over either kind (each takes its own kind of group log). */
export function persistAll(
  logs: AnyRaftLogs,
  writes: readonly { log: AnyGroupLog; write: LogWrite }[],
): void {
  if (logs instanceof LmdbRaftLogs) {
    logs.persist(writes as { log: LmdbLogStorage; write: LogWrite }[]);
  } else {
    logs.persist(writes as { log: WalLogStorage; write: LogWrite }[]);
  }
}

export const crashGroups = [1, 2, 0xffff_fffe];
export const crashConf: ConfState = { voters: [1, 2, 3], learners: [] };
/** A bound on the child's loop, far above what it reaches before it is killed. */
const stepsMax = 1_000_000;

export type Step =
  | { kind: "persist"; writes: { group: number; write: LogWrite }[] }
  | { kind: "create-snapshot"; group: number; index: number; data: Uint8Array };

/** Entry data whose bytes depend on where it sits, so a torn or misplaced value shows. */
function payload(group: number, index: number, term: number, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let k = 0; k < bytes; k++) out[k] = (group * 7 + index * 31 + term * 13 + k) & 0xff;
  return out;
}

export class CrashScript {
  readonly models = new Map<number, MemoryLogStorage>();
  private readonly random: SeededRandom;
  steps = 0;

  constructor(seed: number) {
    this.random = new SeededRandom(seed);
    for (const g of crashGroups) this.models.set(g, new MemoryLogStorage(crashConf));
  }

  /** The next step, already applied to the models. */
  next(): Step {
    this.steps++;
    const r = this.random;
    if (r.int(20) === 0) {
      const group = crashGroups[r.int(crashGroups.length)] as number;
      const m = this.model(group);
      const from = m.snapshot().meta.index;
      const upTo = m.hardState().commit;
      if (upTo > from) {
        const index = from + 1 + r.int(upTo - from);
        // Sometimes over one 64 KiB chunk, so a crash can fall between chunks.
        const data = payload(group, index, 0, r.int(4) === 0 ? 70_000 + r.int(80_000) : 100);
        m.createSnapshot(index, crashConf, data);
        return { kind: "create-snapshot", group, index, data };
      }
    }
    const writes: { group: number; write: LogWrite }[] = [];
    for (const group of crashGroups) {
      if (r.int(3) === 0) continue;
      const write = this.readyFor(group);
      applyTo(this.model(group), write);
      writes.push({ group, write });
    }
    return { kind: "persist", writes };
  }

  private model(group: number): MemoryLogStorage {
    return this.models.get(group) as MemoryLogStorage;
  }

  /** A Ready as raft would make it: a new term overwrites the uncommitted tail. */
  private readyFor(group: number): LogWrite {
    const r = this.random;
    const m = this.model(group);
    const hs = m.hardState();
    let term = Math.max(hs.term, 1);
    let from = m.lastIndex() + 1;
    let snapshot: Snapshot | null = null;
    if (r.int(10) === 0) {
      term++;
      // A new leader's log may differ above the commit index.
      const base = Math.max(hs.commit, m.firstIndex() - 1);
      from = base + 1 + r.int(m.lastIndex() - base + 1);
    }
    if (r.int(60) === 0) {
      // A snapshot from the leader, past our log.
      const index = m.lastIndex() + 1 + r.int(5);
      snapshot = {
        meta: { index, term, conf: crashConf },
        data: payload(group, index, term, 200 + r.int(70_000)),
      };
      from = index + 1;
    }
    const entries: Entry[] = [];
    const count = r.int(4);
    for (let k = 0; k < count; k++) {
      const index = from + k;
      const type = r.int(10) === 0 ? "conf" : "normal";
      entries.push({ term, index, type, data: payload(group, index, term, r.int(3000)) });
    }
    const last =
      entries.length > 0 ? from + count - 1 : snapshot ? snapshot.meta.index : m.lastIndex();
    const commit = Math.min(last, Math.max(hs.commit, snapshot?.meta.index ?? 0) + r.int(3));
    const hardState: HardState = { term, vote: term % 3, commit };
    return { snapshot, entries, hardState };
  }
}

/** A Ready's write applied to the memory twin in raft's order. */
export function applyTo(
  m: Pick<MemoryLogStorage, "applySnapshot" | "append" | "setHardState">,
  w: LogWrite,
): void {
  if (w.snapshot) m.applySnapshot(w.snapshot);
  if (w.entries !== undefined && w.entries.length > 0) m.append(w.entries);
  if (w.hardState) m.setHardState(w.hardState);
}

function run(dir: string, seed: number, fromStep: number, kind: RaftLogsKind): void {
  const script = new CrashScript(seed);
  while (script.steps < fromStep) script.next();
  const logs = openLogs(kind, dir);
  const open = new Map<number, AnyGroupLog>();
  for (const g of crashGroups) open.set(g, logs.openGroup(g, crashConf));
  while (script.steps < fromStep + stepsMax) {
    const step = script.next();
    if (step.kind === "persist") {
      persistAll(
        logs,
        step.writes.map((w) => ({ log: open.get(w.group) as AnyGroupLog, write: w.write })),
      );
    } else {
      (open.get(step.group) as AnyGroupLog).createSnapshot(step.index, crashConf, step.data);
    }
    process.stdout.write(`${script.steps}\n`);
  }
}

// Only when run as a script with arguments: `node --test` may load this file on its own.
const [, main, dir, seed, fromStep, kind] = process.argv;
if (main !== undefined && import.meta.url === pathToFileURL(main).href && dir !== undefined) {
  run(dir, Number(seed), Number(fromStep), kind === "wal" ? "wal" : "lmdb");
}

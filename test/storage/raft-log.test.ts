import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { AssertionError } from "../../src/core/assert.js";
import { type LogStorage, MemoryLogStorage } from "../../src/raft/storage.js";
import type { ConfState, Entry, Snapshot } from "../../src/raft/types.js";
import {
  LmdbLogStorage,
  LmdbRaftLogs,
  type LogWrite,
  type RaftLogsOptions,
} from "../../src/storage/raft-log.js";
import { StorageError } from "../../src/storage/types.js";
import { WalLogStorage } from "../../src/storage/wal-raft-log.js";
import {
  blob,
  bytes,
  conf3,
  digest,
  dump,
  ent,
  hex,
  norm,
  run,
  snapshotView,
} from "./raft-log-helpers.js";
import {
  type AnyGroupLog,
  applyTo,
  CrashScript,
  crashConf,
  crashGroups,
  openLogs,
  persistAll,
  type RaftLogsKind,
} from "./raft-log-writer.js";
import { fillUp, mountSmallFs, unmount } from "./small-fs.js";

const root = mkdtempSync(join(tmpdir(), "homeostat-raft-log-"));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => join(root, `d${++dirs}`);

/** LogStorage with the host's write side: what both implementations offer. */
type WritableLog = LogStorage &
  Pick<
    MemoryLogStorage,
    "setHardState" | "append" | "applySnapshot" | "createSnapshot" | "compact"
  >;

function persistTo(log: WritableLog, w: LogWrite): void {
  if (log instanceof LmdbLogStorage || log instanceof WalLogStorage) log.persist(w);
  else applyTo(log, w);
}

// ---- one compliance suite, every implementation ------------------------------------------

interface LogFixture {
  log: WritableLog;
  /** Closes and opens again on the same data; undefined for the memory twin. */
  reopen?: () => Promise<WritableLog>;
  cleanup: () => Promise<void>;
}

/** A fixture on disk: a group of logs of `kind` in a fresh folder, reopened on demand. */
function diskFixture(kind: RaftLogsKind, options: Parameters<typeof openLogs>[2] = {}) {
  return async (conf: ConfState): Promise<LogFixture> => {
    const path = freshDir();
    let logs = openLogs(kind, path, options);
    const group = 5;
    let log = logs.openGroup(group, conf);
    return {
      log,
      reopen: async () => {
        await logs.close();
        logs = openLogs(kind, path, options);
        // An existing group keeps its own configuration, whatever open is given.
        log = logs.openGroup(group, { voters: [99], learners: [] });
        return log;
      },
      cleanup: () => logs.close(),
    };
  };
}

const implementations: [string, (conf: ConfState) => Promise<LogFixture>][] = [
  ["memory", async (conf) => ({ log: new MemoryLogStorage(conf), cleanup: async () => undefined })],
  ["lmdb", diskFixture("lmdb")],
  [
    "lmdb, no caches, no sync",
    diskFixture("lmdb", { entryCacheBytesMax: 0, snapshotCacheBytesMax: 0, unsafeNoSync: true }),
  ],
  [
    "lmdb, tiny caches, no sync",
    diskFixture("lmdb", { entryCacheBytesMax: 100, snapshotCacheBytesMax: 10, unsafeNoSync: true }),
  ],
  ["wal", diskFixture("wal", { segmentBytes: 16 * 1024 * 1024 })],
  [
    "wal, no caches, 4 KiB segments, no sync",
    diskFixture("wal", {
      entryCacheBytesMax: 0,
      snapshotCacheBytesMax: 0,
      segmentBytes: 4096,
      unsafeNoSync: true,
    }),
  ],
  [
    "wal, tiny caches, 4 KiB segments, no sync",
    diskFixture("wal", {
      entryCacheBytesMax: 100,
      snapshotCacheBytesMax: 10,
      segmentBytes: 4096,
      unsafeNoSync: true,
    }),
  ],
];

for (const [name, make] of implementations) {
  describe(`LogStorage compliance: ${name}`, () => {
    const withLog = (fn: (f: LogFixture) => Promise<void> | void) => async () => {
      const f = await make(conf3);
      try {
        await fn(f);
      } finally {
        await f.cleanup();
      }
    };

    it(
      "starts empty, with the initial configuration in its snapshot",
      withLog(({ log }) => {
        assert.equal(log.firstIndex(), 1);
        assert.equal(log.lastIndex(), 0);
        assert.equal(log.term(0), 0);
        assert.equal(log.term(1), null);
        assert.deepEqual(log.hardState(), { term: 0, vote: 0, commit: 0 });
        assert.deepEqual(log.snapshot().meta, { index: 0, term: 0, conf: conf3 });
        assert.equal(log.snapshot().data.length, 0);
      }),
    );

    it(
      "appends and reads back entries and terms, both entry types, empty data",
      withLog(({ log }) => {
        log.append([ent(1, 1), ent(2, 1, "", "conf"), ent(3, 2, "x".repeat(5000))]);
        log.append([ent(4, 3)]);
        assert.equal(log.firstIndex(), 1);
        assert.equal(log.lastIndex(), 4);
        assert.deepEqual(
          [0, 1, 2, 3, 4, 5].map((i) => log.term(i)),
          [0, 1, 1, 2, 3, null],
        );
        assert.deepEqual(
          norm(log.entries(1, 5, Number.POSITIVE_INFINITY)),
          norm([ent(1, 1), ent(2, 1, "", "conf"), ent(3, 2, "x".repeat(5000)), ent(4, 3)]),
        );
        assert.deepEqual(
          norm(log.entries(2, 3, Number.POSITIVE_INFINITY)),
          norm([ent(2, 1, "", "conf")]),
        );
      }),
    );

    it(
      "an append overwrites the conflicting suffix and drops what lies past it",
      withLog(({ log }) => {
        log.append(run(1, 10, 1));
        log.append([ent(6, 2, "new6"), ent(7, 2, "new7")]);
        assert.equal(log.lastIndex(), 7);
        assert.equal(log.term(5), 1);
        assert.equal(log.term(6), 2);
        assert.equal(log.term(8), null);
        assert.deepEqual(
          norm(log.entries(5, 8, Number.POSITIVE_INFINITY)),
          norm([ent(5, 1), ent(6, 2, "new6"), ent(7, 2, "new7")]),
        );
        // Overwriting from the very first index, and with a longer tail.
        log.append(run(1, 12, 3));
        assert.equal(log.lastIndex(), 12);
        assert.deepEqual(norm(log.entries(1, 13, Number.POSITIVE_INFINITY)), norm(run(1, 12, 3)));
      }),
    );

    it(
      "entries stop before the entry that would pass maxBytes, but always return one",
      withLog(({ log }) => {
        // Each entry counts 21 bytes of overhead plus its data: 10 + 21 = 31 here.
        log.append(Array.from({ length: 6 }, (_, k) => ent(k + 1, 1, "0123456789")));
        assert.equal(log.entries(1, 7, 0).length, 1);
        assert.equal(log.entries(1, 7, 61).length, 1);
        assert.equal(log.entries(1, 7, 62).length, 2);
        assert.equal(log.entries(2, 7, 93).length, 3);
        assert.equal(log.entries(3, 5, 1000).length, 2);
        assert.throws(() => log.entries(0, 3, 100), AssertionError);
        assert.throws(() => log.entries(3, 8, 100), AssertionError);
      }),
    );

    it(
      "refuses appends that leave a gap or reach below the compaction point",
      withLog(({ log }) => {
        log.append(run(1, 5, 1));
        log.createSnapshot(2, conf3, bytes("s"));
        const before = dump(log);
        assert.throws(() => log.append([ent(7, 1)]), AssertionError);
        assert.throws(() => log.append([ent(2, 1)]), AssertionError);
        assert.deepEqual(dump(log), before);
      }),
    );

    it(
      "keeps the hard state and refuses a term going back",
      withLog(({ log }) => {
        log.setHardState({ term: 3, vote: 2, commit: 0 });
        log.setHardState({ term: 3, vote: 2, commit: 4 });
        assert.deepEqual(log.hardState(), { term: 3, vote: 2, commit: 4 });
        assert.throws(() => log.setHardState({ term: 2, vote: 0, commit: 4 }), AssertionError);
        assert.deepEqual(log.hardState(), { term: 3, vote: 2, commit: 4 });
      }),
    );

    it(
      "createSnapshot compacts up to its index and keeps the entries after it",
      withLog(({ log }) => {
        log.append([...run(1, 4, 1), ...run(5, 8, 2)]);
        const conf = { voters: [1, 2], learners: [4] };
        const s = log.createSnapshot(5, conf, bytes("image at 5"));
        assert.deepEqual(s.meta, { index: 5, term: 2, conf });
        assert.equal(hex(s.data), hex(bytes("image at 5")));
        assert.deepEqual(snapshotView(log.snapshot()), snapshotView(s));
        assert.equal(log.firstIndex(), 6);
        assert.equal(log.lastIndex(), 8);
        assert.equal(log.term(4), null);
        assert.equal(log.term(5), 2);
        assert.deepEqual(norm(log.entries(6, 9, Number.POSITIVE_INFINITY)), norm(run(6, 8, 2)));
        assert.throws(() => log.createSnapshot(5, conf, bytes("again")), AssertionError);
        assert.throws(() => log.createSnapshot(9, conf, bytes("beyond")), AssertionError);
        // Everything up to the last index, leaving no entries.
        log.createSnapshot(8, conf, new Uint8Array(0));
        assert.equal(log.firstIndex(), 9);
        assert.equal(log.lastIndex(), 8);
        assert.equal(log.term(8), 2);
        log.append([ent(9, 3)]);
        assert.deepEqual(norm(log.entries(9, 10, 0)), norm([ent(9, 3)]));
      }),
    );

    it(
      "compact is a no-op at or below the compaction point and refuses to pass the snapshot",
      withLog(({ log }) => {
        log.append(run(1, 6, 1));
        log.createSnapshot(3, conf3, bytes("s3"));
        const before = dump(log);
        log.compact(2);
        log.compact(3);
        assert.deepEqual(dump(log), before);
        assert.throws(() => log.compact(5), AssertionError);
        assert.deepEqual(dump(log), before);
      }),
    );

    it(
      "applySnapshot replaces the whole log and appends continue after it",
      withLog(({ log }) => {
        log.append(run(1, 6, 1));
        const conf = { voters: [1, 2, 3, 4, 5], learners: [] };
        log.applySnapshot({ meta: { index: 4, term: 2, conf }, data: bytes("leader's image") });
        assert.equal(log.firstIndex(), 5);
        assert.equal(log.lastIndex(), 4);
        assert.equal(log.term(4), 2);
        assert.equal(log.term(5), null);
        assert.deepEqual(log.snapshot().meta, { index: 4, term: 2, conf });
        log.append(run(5, 7, 3));
        assert.deepEqual(norm(log.entries(5, 8, Number.POSITIVE_INFINITY)), norm(run(5, 7, 3)));
        // Past our whole log; and one at the same index again is accepted.
        log.applySnapshot({ meta: { index: 20, term: 4, conf }, data: bytes("later") });
        log.applySnapshot({ meta: { index: 20, term: 4, conf }, data: bytes("later") });
        assert.equal(log.firstIndex(), 21);
        assert.throws(
          () => log.applySnapshot({ meta: { index: 19, term: 4, conf }, data: bytes("old") }),
          AssertionError,
        );
      }),
    );

    it(
      "a snapshot of several chunks reads back whole",
      withLog(({ log }) => {
        log.append(run(1, 3, 1));
        const image = blob(300_000, 3);
        log.createSnapshot(2, conf3, image);
        assert.equal(digest(log.snapshot().data), digest(image));
        // A smaller one replaces it entirely (no chunk of the old one left behind).
        log.applySnapshot({ meta: { index: 9, term: 2, conf: conf3 }, data: blob(70_000, 4) });
        assert.equal(digest(log.snapshot().data), digest(blob(70_000, 4)));
      }),
    );

    it(
      "a Ready persists its snapshot, then its entries, then its hard state",
      withLog(({ log }) => {
        log.append(run(1, 4, 1));
        persistTo(log, {
          snapshot: { meta: { index: 6, term: 2, conf: conf3 }, data: bytes("six") },
          entries: run(7, 9, 2),
          hardState: { term: 2, vote: 1, commit: 8 },
        });
        assert.equal(log.firstIndex(), 7);
        assert.equal(log.lastIndex(), 9);
        assert.deepEqual(log.hardState(), { term: 2, vote: 1, commit: 8 });
        persistTo(log, { snapshot: null, entries: [], hardState: null });
        assert.equal(log.lastIndex(), 9);
      }),
    );

    it(
      "what was written is there after a reopen: appends, truncation, snapshots, compaction",
      withLog(async (f) => {
        const reopen = f.reopen;
        if (reopen === undefined) return; // the memory twin has nothing to reopen
        let log = f.log;
        const check = async () => {
          const before = dump(log);
          log = await reopen();
          assert.deepEqual(dump(log), before);
        };
        await check();
        log.append([...run(1, 10, 1), ent(11, 1, "c", "conf")]);
        log.setHardState({ term: 1, vote: 3, commit: 5 });
        await check();
        log.append(run(8, 9, 2)); // drops 10 and 11
        await check();
        log.createSnapshot(6, { voters: [1, 2, 3], learners: [7] }, blob(150_000, 1));
        await check();
        log.applySnapshot({ meta: { index: 30, term: 3, conf: conf3 }, data: bytes("30") });
        log.append(run(31, 40, 3));
        await check();
        // Still usable after the reopen: the caches refill from what is on disk.
        log.append(run(35, 36, 4));
        assert.deepEqual(
          norm(log.entries(31, 37, Number.POSITIVE_INFINITY)),
          norm([...run(31, 34, 3), ...run(35, 36, 4)]),
        );
        await check();
      }),
    );
  });
}

// ---- LMDB only -----------------------------------------------------------------------------

describe("LmdbRaftLogs", () => {
  it("keeps groups apart in one environment, across reopens and removals", async () => {
    const path = freshDir();
    const ids = [0, 1, 2, 0xffff_ffff];
    const models = new Map(ids.map((g) => [g, new MemoryLogStorage(conf3)]));
    let logs = new LmdbRaftLogs({ path });
    let open = new Map(ids.map((g) => [g, logs.openGroup(g, conf3)]));
    const both = (g: number, fn: (l: WritableLog) => void) => {
      fn(models.get(g) as MemoryLogStorage);
      fn(open.get(g) as LmdbLogStorage);
    };
    const same = () => {
      for (const g of ids) {
        if (!open.has(g)) continue;
        assert.deepEqual(
          dump(open.get(g) as LmdbLogStorage),
          dump(models.get(g) as MemoryLogStorage),
        );
      }
    };
    for (const [k, g] of ids.entries()) {
      both(g, (l) => l.append(run(1, 5 + k * 3, k + 1)));
      both(g, (l) => l.setHardState({ term: k + 1, vote: k, commit: 2 + k }));
    }
    both(1, (l) => l.createSnapshot(3, conf3, bytes("g1")));
    both(2, (l) => l.append(run(2, 3, 9)));
    both(0xffff_ffff, (l) =>
      l.applySnapshot({ meta: { index: 50, term: 5, conf: conf3 }, data: blob(100_000, 9) }),
    );
    same();
    await logs.close();
    logs = new LmdbRaftLogs({ path });
    assert.deepEqual(logs.groupIds(), ids);
    open = new Map(ids.map((g) => [g, logs.openGroup(g, conf3)]));
    same();
    // Removing a group leaves its neighbours (by key order) as they were.
    await (open.get(1) as LmdbLogStorage).close();
    logs.removeGroup(1);
    open.delete(1);
    assert.deepEqual(logs.groupIds(), [0, 2, 0xffff_ffff]);
    assert.deepEqual(logs.groupKeyCounts(1), { entries: 0, snapshotParts: 0, state: 0 });
    same();
    // Nothing is left behind by truncation, compaction or a smaller snapshot: group
    // 0xffffffff holds its 100,000-byte image in 2 chunks of 64 KiB, plus the meta.
    assert.deepEqual(logs.groupKeyCounts(0), { entries: 5, snapshotParts: 1, state: 1 });
    assert.deepEqual(logs.groupKeyCounts(2), { entries: 3, snapshotParts: 1, state: 1 });
    assert.deepEqual(logs.groupKeyCounts(0xffff_ffff), { entries: 0, snapshotParts: 3, state: 1 });
    const top = open.get(0xffff_ffff) as LmdbLogStorage;
    top.append(run(51, 60, 6));
    top.createSnapshot(55, conf3, bytes("small"));
    assert.deepEqual(logs.groupKeyCounts(0xffff_ffff), { entries: 5, snapshotParts: 2, state: 1 });
    const fresh = logs.openGroup(1, { voters: [4], learners: [] });
    assert.equal(fresh.lastIndex(), 0);
    assert.deepEqual(fresh.snapshot().meta.conf, { voters: [4], learners: [] });
    assert.throws(() => logs.openGroup(1, conf3), AssertionError);
    await logs.close();
  });

  it("persists the Readies of several groups all or nothing", async () => {
    const path = freshDir();
    let logs = new LmdbRaftLogs({ path });
    let a = logs.openGroup(1, conf3);
    let b = logs.openGroup(2, conf3);
    logs.persist([
      { log: a, write: { entries: run(1, 3, 1), hardState: { term: 1, vote: 1, commit: 1 } } },
      { log: b, write: { entries: run(1, 2, 1), hardState: { term: 1, vote: 2, commit: 0 } } },
    ]);
    const before = [dump(a), dump(b)];
    const commits = logs.stats().commits;
    // b's part is invalid (a gap) after a's was staged: the whole transaction is dropped.
    assert.throws(
      () =>
        logs.persist([
          { log: a, write: { entries: run(4, 6, 2), hardState: { term: 2, vote: 1, commit: 3 } } },
          { log: b, write: { entries: [ent(9, 2)] } },
        ]),
      AssertionError,
    );
    assert.equal(logs.stats().commits, commits);
    assert.deepEqual([dump(a), dump(b)], before);
    await logs.close();
    logs = new LmdbRaftLogs({ path });
    a = logs.openGroup(1, conf3);
    b = logs.openGroup(2, conf3);
    assert.deepEqual([dump(a), dump(b)], before);
    // A storage that was closed refuses writes with a StorageError.
    await a.close();
    assert.throws(
      () => a.append([ent(4, 1)]),
      (e: unknown) => e instanceof StorageError && e.code === "CLOSED",
    );
    await logs.close();
    assert.throws(
      () => b.append([ent(3, 1)]),
      (e: unknown) => e instanceof StorageError && e.code === "CLOSED",
    );
  });

  it("LmdbLogStorage.open gives one group in an environment of its own", async () => {
    const path = freshDir();
    let log = LmdbLogStorage.open({ path, group: 3, conf: conf3 });
    log.append(run(1, 4, 1));
    await log.close();
    log = LmdbLogStorage.open({ path, group: 3, conf: conf3 });
    assert.equal(log.lastIndex(), 4);
    await log.close();
  });

  it("model: random appends, truncations, snapshots and reopens answer as MemoryLogStorage", async () => {
    const variants: [RaftLogsKind, Omit<RaftLogsOptions, "path">][] = [
      ["lmdb", { unsafeNoSync: true }],
      ["lmdb", { unsafeNoSync: true, entryCacheBytesMax: 150, snapshotCacheBytesMax: 1000 }],
      ["wal", { unsafeNoSync: true }],
      ["wal", { unsafeNoSync: true, entryCacheBytesMax: 150, snapshotCacheBytesMax: 1000 }],
    ];
    const envs = variants.map(([kind, v]) => {
      const path = freshDir();
      return { path, kind, options: v, logs: openLogs(kind, path, v) };
    });
    let group = 0;
    const size = fc.oneof(
      { arbitrary: fc.integer({ min: 0, max: 40 }), weight: 8 },
      { arbitrary: fc.integer({ min: 60_000, max: 140_000 }), weight: 1 },
    );
    const append = fc.record({
      at: fc.nat(),
      count: fc.integer({ min: 1, max: 6 }),
      bump: fc.integer({ min: 0, max: 2 }),
      bytes: fc.integer({ min: 0, max: 60 }),
      conf: fc.boolean(),
    });
    const hard = fc.record({
      bump: fc.integer({ min: 0, max: 1 }),
      vote: fc.nat(3),
      commit: fc.nat(),
    });
    const snap = fc.record({ ahead: fc.nat(), bytes: size, learner: fc.boolean() });
    const op = fc.oneof(
      { arbitrary: fc.record({ kind: fc.constant("append" as const), a: append }), weight: 6 },
      { arbitrary: fc.record({ kind: fc.constant("hard" as const), h: hard }), weight: 2 },
      {
        arbitrary: fc.record({ kind: fc.constant("create" as const), at: fc.nat(), s: snap }),
        weight: 2,
      },
      { arbitrary: fc.record({ kind: fc.constant("compact" as const), at: fc.nat() }), weight: 1 },
      { arbitrary: fc.record({ kind: fc.constant("apply" as const), s: snap }), weight: 1 },
      {
        arbitrary: fc.record({
          kind: fc.constant("ready" as const),
          s: fc.option(snap, { freq: 4 }),
          a: fc.option(append, { freq: 4 }),
          h: fc.option(hard, { freq: 4 }),
        }),
        weight: 3,
      },
      {
        arbitrary: fc.record({
          kind: fc.constant("read" as const),
          lo: fc.nat(),
          len: fc.nat(),
          maxBytes: fc.integer({ min: 0, max: 400 }),
        }),
        weight: 3,
      },
      { arbitrary: fc.record({ kind: fc.constant("reopen" as const) }), weight: 1 },
    );
    type Append = typeof append extends fc.Arbitrary<infer T> ? T : never;
    type Hard = typeof hard extends fc.Arbitrary<infer T> ? T : never;
    type Snap = typeof snap extends fc.Arbitrary<infer T> ? T : never;

    /** The entries an append op means, given the log's compaction point and last index. */
    const entriesFor = (a: Append, compacted: number, last: number, term: number): Entry[] => {
      const first = compacted + 1 + (a.at % (last - compacted + 1));
      return Array.from({ length: a.count }, (_, k) =>
        ent(first + k, term + a.bump, "d".repeat(a.bytes), a.conf && k === 0 ? "conf" : "normal"),
      );
    };
    const snapshotFor = (s: Snap, m: MemoryLogStorage, term: number): Snapshot => {
      const from = m.snapshot().meta.index;
      const index = from + (s.ahead % (m.lastIndex() - from + 5));
      const conf = { voters: [1, 2, 3], learners: s.learner ? [4] : [] };
      return { meta: { index, term: Math.max(1, term), conf }, data: blob(s.bytes, index) };
    };
    const hardFor = (h: Hard, m: MemoryLogStorage, last: number) => ({
      term: m.hardState().term + h.bump,
      vote: h.vote,
      commit: h.commit % (last + 1),
    });

    try {
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 30 }), async (ops) => {
          group++;
          const m = new MemoryLogStorage(conf3);
          const stores = envs.map((e) => e.logs.openGroup(group, conf3));
          const all = (fn: (l: WritableLog) => void) => {
            fn(m);
            for (const s of stores) fn(s);
          };
          try {
            for (const o of ops) {
              const term = Math.max(1, m.hardState().term);
              switch (o.kind) {
                case "append": {
                  const entries = entriesFor(o.a, m.firstIndex() - 1, m.lastIndex(), term);
                  all((l) => l.append(entries));
                  break;
                }
                case "hard": {
                  const hs = hardFor(o.h, m, m.lastIndex());
                  all((l) => l.setHardState(hs));
                  break;
                }
                case "create": {
                  const from = m.snapshot().meta.index;
                  if (m.lastIndex() <= from) break;
                  const index = from + 1 + (o.at % (m.lastIndex() - from));
                  const conf = { voters: [1, 2], learners: o.s.learner ? [3] : [] };
                  const data = blob(o.s.bytes, index);
                  const made = [m, ...stores].map((l) =>
                    snapshotView(l.createSnapshot(index, conf, data)),
                  );
                  for (const s of made) assert.deepEqual(s, made[0]);
                  break;
                }
                case "compact": {
                  const index = o.at % (m.snapshot().meta.index + 1);
                  all((l) => l.compact(index));
                  break;
                }
                case "apply": {
                  const s = snapshotFor(o.s, m, term);
                  all((l) => l.applySnapshot(s));
                  break;
                }
                case "ready": {
                  const snapshot = o.s === null ? null : snapshotFor(o.s, m, term);
                  const compacted = snapshot?.meta.index ?? m.firstIndex() - 1;
                  const last = snapshot?.meta.index ?? m.lastIndex();
                  const entries = o.a === null ? [] : entriesFor(o.a, compacted, last, term);
                  const newLast = entries.length > 0 ? (entries.at(-1) as Entry).index : last;
                  const hardState = o.h === null ? null : hardFor(o.h, m, newLast);
                  all((l) => persistTo(l, { snapshot, entries, hardState }));
                  break;
                }
                case "read": {
                  const first = m.firstIndex();
                  const last = m.lastIndex();
                  if (last < first) break;
                  const lo = first + (o.lo % (last - first + 1));
                  const hi = lo + 1 + (o.len % (last - lo + 1));
                  const want = norm(m.entries(lo, hi, o.maxBytes));
                  for (const s of stores)
                    assert.deepEqual(norm(s.entries(lo, hi, o.maxBytes)), want);
                  break;
                }
                case "reopen":
                  for (const [k, e] of envs.entries()) {
                    await e.logs.close();
                    e.logs = openLogs(e.kind, e.path, e.options);
                    stores[k] = e.logs.openGroup(group, conf3);
                  }
                  break;
              }
              const want = dump(m);
              for (const s of stores) assert.deepEqual(dump(s), want, `after ${JSON.stringify(o)}`);
            }
          } finally {
            for (const s of stores) await s.close();
          }
        }),
        { numRuns: 120 },
      );
    } finally {
      for (const e of envs) await e.logs.close();
    }
  });
});

// ---- crashes ---------------------------------------------------------------------------------

const writer = join(dirname(fileURLToPath(import.meta.url)), "raft-log-writer.js");

/**
 * Runs the writer from step `from` and SIGKILLs it once it has reported `steps` more
 * commits, while it is in the middle of the next; returns the last step it reported.
 */
async function writeAndKill(
  path: string,
  seed: number,
  from: number,
  steps: number,
  kind: RaftLogsKind,
): Promise<number> {
  const child = spawn(process.execPath, [writer, path, String(seed), String(from), kind], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let acked = from;
  let stderr = "";
  let pending = "";
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const enough = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`writer stalled at ${acked}: ${stderr}`)),
      20_000,
    );
    child.stdout.on("data", (d: Buffer) => {
      const lines = (pending + d.toString()).split("\n");
      pending = lines.pop() as string;
      if (lines.length > 0) acked = Number(lines.at(-1));
      if (acked >= from + steps) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (acked < from + steps) reject(new Error(`writer exited (${code}) at ${acked}: ${stderr}`));
    });
  });
  try {
    await enough;
  } finally {
    child.kill("SIGKILL");
    await exited;
  }
  return acked;
}

/**
 * Opens what the killed writer left and finds the step of the script it equals, at or
 * after the last one it reported; checks the log's invariants on the way. Returns it.
 */
async function recoveredStep(
  path: string,
  seed: number,
  acked: number,
  kind: RaftLogsKind,
): Promise<number> {
  const logs = openLogs(kind, path);
  try {
    const disk = crashGroups.map((g) => logs.openGroup(g, crashConf));
    for (const log of disk) {
      const first = log.firstIndex();
      const last = log.lastIndex();
      const all = last >= first ? log.entries(first, last + 1, Number.POSITIVE_INFINITY) : [];
      assert.deepEqual(
        all.map((e) => e.index),
        Array.from({ length: last - first + 1 }, (_, k) => first + k),
        "entries are contiguous",
      );
      for (const e of all)
        assert.ok(e.term <= log.hardState().term, "hard state term ≥ entry terms");
      assert.ok((log.term(first - 1) as number) <= log.hardState().term);
    }
    const signature = (ls: LogStorage[]) =>
      JSON.stringify(
        ls.map((l) => [l.hardState(), l.firstIndex(), l.lastIndex(), l.term(l.lastIndex())]),
      );
    const onDisk = signature(disk);
    const script = new CrashScript(seed);
    while (script.steps < acked) script.next();
    // The child may have committed a few more steps than the parent read before the kill.
    for (let k = 0; k < 50_000; k++) {
      const models = crashGroups.map((g) => script.models.get(g) as MemoryLogStorage);
      if (signature(models) === onDisk) {
        const same = models.every(
          (m, i) => JSON.stringify(dump(m)) === JSON.stringify(dump(disk[i] as LogStorage)),
        );
        if (same) return script.steps;
      }
      script.next();
    }
    assert.fail(`the disk matches no step of the script at or after ${acked}`);
  } finally {
    await logs.close();
  }
}

describe("crash", () => {
  for (const kind of ["lmdb", "wal"] as const) {
    it(`a SIGKILLed writer leaves a prefix of its Readies, nothing torn (${kind})`, async () => {
      const path = freshDir();
      mkdirSync(path);
      const seed = 20_260_611;
      let step = 0;
      for (let round = 0; round < 3; round++) {
        const acked = await writeAndKill(path, seed, step, 40, kind);
        step = await recoveredStep(path, seed, acked, kind);
        assert.ok(step >= acked, `step ${step} < acknowledged ${acked}`);
      }
    });
  }
});

// ---- a full disk ---------------------------------------------------------------------------

describe("full disk", () => {
  const mount = freshDir();
  const canMount = mountSmallFs(mount, 8);
  after(() => {
    if (canMount) unmount(mount);
  });

  for (const kind of ["lmdb", "wal"] as const) {
    it(`a failed commit is a StorageError and leaves memory and disk as they were (${kind})`, {
      skip: !canMount && "cannot mount a tmpfs here (needs root)",
    }, async () => {
      const path = join(mount, `raft-${kind}`);
      const filler = join(mount, "filler");
      let logs = openLogs(kind, path);
      const models = [new MemoryLogStorage(conf3), new MemoryLogStorage(conf3)];
      let disk = [logs.openGroup(1, conf3), logs.openGroup(2, conf3)];
      const ready = (m: MemoryLogStorage, n: number): LogWrite => {
        const from = m.lastIndex() + 1;
        return {
          entries: Array.from({ length: n }, (_, k) => ({
            ...ent(from + k, 1),
            data: blob(32_000, k),
          })),
          hardState: { term: 1, vote: 1, commit: from - 1 },
        };
      };
      const persistBoth = (n: number) => {
        const writes = models.map((m) => ready(m, n));
        persistAll(
          logs,
          writes.map((write, i) => ({ log: disk[i] as AnyGroupLog, write })),
        );
        for (const [i, m] of models.entries()) applyTo(m, writes[i] as LogWrite);
      };
      const same = () => {
        for (const [i, m] of models.entries())
          assert.deepEqual(dump(disk[i] as LogStorage), dump(m));
      };
      try {
        persistBoth(2);
        fillUp(mount, filler, 512 * 1024);
        let failure: unknown;
        for (let i = 0; i < 100 && failure === undefined; i++) {
          try {
            persistBoth(4);
          } catch (err) {
            failure = err;
          }
        }
        assert.ok(failure instanceof StorageError, `expected a StorageError, got ${failure}`);
        assert.ok(["ENOSPC", "EIO", "MAP_FULL"].includes(failure.code), failure.message);
        same();
        unlinkSync(filler);
        persistBoth(4);
        same();
        await logs.close();
        logs = openLogs(kind, path);
        disk = [logs.openGroup(1, conf3), logs.openGroup(2, conf3)];
        same();
      } finally {
        await logs.close();
        rmSync(filler, { force: true });
        rmSync(path, { recursive: true, force: true });
      }
    });
  }
});

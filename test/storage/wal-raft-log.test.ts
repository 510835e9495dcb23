import assert from "node:assert/strict";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { AssertionError } from "../../src/core/assert.js";
import { MemoryLogStorage } from "../../src/raft/storage.js";
import type { Entry } from "../../src/raft/types.js";
import { DirectAppender } from "../../src/storage/direct-append.js";
import { LmdbRaftLogs, type LogWrite } from "../../src/storage/raft-log.js";
import { openRaftLogs } from "../../src/storage/raft-log-migrate.js";
import { StorageError } from "../../src/storage/types.js";
import {
  segmentFile,
  type WalLogStorage,
  WalRaftLogs,
  type WalRaftLogsOptions,
} from "../../src/storage/wal-raft-log.js";
import { blob, bytes, conf3, dump, ent, run } from "./raft-log-helpers.js";
import { applyTo } from "./raft-log-writer.js";

const root = mkdtempSync(join(tmpdir(), "homeostat-wal-"));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => join(root, `d${++dirs}`);

/** Logs of several groups next to their memory twins, written through both. */
class Pair {
  logs: WalRaftLogs;
  open = new Map<number, WalLogStorage>();
  models = new Map<number, MemoryLogStorage>();

  constructor(
    readonly path: string,
    readonly options: Omit<WalRaftLogsOptions, "path"> = {},
  ) {
    this.logs = new WalRaftLogs({ path, ...options });
  }

  add(group: number): void {
    this.open.set(group, this.logs.openGroup(group, conf3));
    this.models.set(group, new MemoryLogStorage(conf3));
  }

  log(group: number): WalLogStorage {
    return this.open.get(group) as WalLogStorage;
  }

  model(group: number): MemoryLogStorage {
    return this.models.get(group) as MemoryLogStorage;
  }

  persist(writes: [number, LogWrite][]): void {
    this.logs.persist(writes.map(([g, write]) => ({ log: this.log(g), write })));
    for (const [g, w] of writes) applyTo(this.model(g), w);
  }

  /** The next entries of `group`: `n` of `size` bytes at the model's term. */
  next(group: number, n: number, size = 40): LogWrite {
    const m = this.model(group);
    const from = m.lastIndex() + 1;
    const term = Math.max(1, m.hardState().term);
    const entries: Entry[] = Array.from({ length: n }, (_, k) => ({
      ...ent(from + k, term),
      data: blob(size, from + k),
    }));
    return { entries, hardState: { term, vote: 1, commit: from - 1 } };
  }

  snapshotAndCompact(group: number): void {
    const m = this.model(group);
    const index = m.lastIndex();
    const data = blob(300, index);
    m.createSnapshot(index, conf3, data);
    this.log(group).createSnapshot(index, conf3, data);
  }

  same(): void {
    for (const [g, m] of this.models) assert.deepEqual(dump(this.log(g)), dump(m), `group ${g}`);
  }

  async reopen(): Promise<void> {
    await this.logs.close();
    this.logs = new WalRaftLogs({ path: this.path, ...this.options });
    for (const g of this.models.keys()) this.open.set(g, this.logs.openGroup(g, conf3));
  }
}

describe("WalRaftLogs", () => {
  it("keeps groups apart across reopens and removals, and leaves no file behind", async () => {
    const p = new Pair(freshDir(), { segmentBytes: 4096 });
    try {
      const ids = [0, 1, 2, 0xffff_ffff];
      for (const g of ids) p.add(g);
      for (const [k, g] of ids.entries()) {
        p.persist([[g, { entries: run(1, 5 + k * 3, k + 1) }]]);
        p.persist([[g, { hardState: { term: k + 1, vote: k, commit: 2 + k } }]]);
      }
      p.log(1).createSnapshot(3, conf3, bytes("g1"));
      p.model(1).createSnapshot(3, conf3, bytes("g1"));
      p.persist([[2, { entries: run(2, 3, 9) }]]);
      const big = { meta: { index: 50, term: 5, conf: conf3 }, data: blob(100_000, 9) };
      p.persist([[0xffff_ffff, { snapshot: big }]]);
      p.same();
      assert.equal(p.logs.files().snapshots, 2);
      await p.reopen();
      assert.deepEqual(p.logs.groupIds(), ids);
      p.same();
      // A removed group is gone from memory, from a reopen and from the folder.
      await p.log(1).close();
      p.logs.removeGroup(1);
      p.open.delete(1);
      p.models.delete(1);
      assert.equal(p.logs.files().snapshots, 1);
      await p.reopen();
      assert.deepEqual(p.logs.groupIds(), [0, 2, 0xffff_ffff]);
      p.same();
      // A smaller image replaces the big one's file.
      p.persist([[0xffff_ffff, { entries: run(51, 60, 6) }]]);
      p.snapshotAndCompact(0xffff_ffff);
      assert.equal(p.logs.files().snapshots, 1);
      const fresh = p.logs.openGroup(1, { voters: [4], learners: [] });
      assert.equal(fresh.lastIndex(), 0);
      assert.deepEqual(fresh.snapshot().meta.conf, { voters: [4], learners: [] });
      assert.throws(() => p.logs.openGroup(1, conf3), AssertionError);
    } finally {
      await p.logs.close();
    }
  });

  it("persists the Readies of several groups all or nothing", async () => {
    const p = new Pair(freshDir());
    try {
      p.add(1);
      p.add(2);
      p.persist([
        [1, p.next(1, 3)],
        [2, p.next(2, 2)],
      ]);
      const commits = p.logs.stats().commits;
      // b's part is invalid (a gap): nothing is written.
      assert.throws(
        () =>
          p.logs.persist([
            { log: p.log(1), write: p.next(1, 3) },
            { log: p.log(2), write: { entries: [ent(9, 2)] } },
          ]),
        AssertionError,
      );
      assert.equal(p.logs.stats().commits, commits);
      p.same();
      await p.reopen();
      p.same();
    } finally {
      await p.logs.close();
    }
  });

  it("deletes segments once their entries are compacted, carrying an idle group's along", async () => {
    const p = new Pair(freshDir(), { segmentBytes: 8192 });
    try {
      p.add(1);
      p.add(2);
      // Group 2 writes a few entries and then nothing: its entries must not pin segment 0.
      p.persist([[2, p.next(2, 3)]]);
      for (let round = 0; round < 1200; round++) {
        p.persist([[1, p.next(1, 4, 100)]]);
        if (round % 10 === 9) p.snapshotAndCompact(1);
      }
      const { segments } = p.logs.files();
      assert.ok((segments.at(-1) as number) >= 30, `only segments ${segments.join(",")} made`);
      assert.ok(segments.length <= 9, `segments kept: ${segments.join(",")}`);
      p.same();
      await p.reopen();
      p.same();
      assert.deepEqual(p.logs.files().segments, segments);
    } finally {
      await p.logs.close();
    }
  });

  it("one open per folder: a live holder is refused, a dead one's lock taken over", async () => {
    const path = freshDir();
    const logs = new WalRaftLogs({ path });
    const inUse = (e: unknown) => e instanceof StorageError && e.code === "EACCES";
    assert.throws(() => new WalRaftLogs({ path }), inUse);
    await logs.close();
    // Another live process holds it (our parent stands in for one).
    writeFileSync(join(path, "LOCK"), `${process.ppid}\n`);
    assert.throws(() => new WalRaftLogs({ path }), /in use by process/);
    // A process that is gone: a pid above the kernel's maximum is never alive.
    writeFileSync(join(path, "LOCK"), "4194305\n");
    const again = new WalRaftLogs({ path });
    await again.close();
    assert.equal(existsSync(join(path, "LOCK")), false);
  });

  it("writes the segment being filled with O_DIRECT where it can, reading back what it wrote", async () => {
    const probe = join(root, "probe");
    writeFileSync(probe, Buffer.alloc(4096));
    const appender = DirectAppender.open(probe);
    appender?.close();
    for (const directWrites of [true, false]) {
      const direct = directWrites && appender !== null;
      // No decoded cache: every read of an entry is a pread of what the commits wrote.
      const options = { segmentBytes: 64 * 1024, entryCacheBytesMax: 0, directWrites };
      const p = new Pair(freshDir(), options);
      try {
        p.add(0);
        p.add(1);
        for (let k = 0; k < 60; k++) p.persist([[k % 2, p.next(k % 2, 1 + (k % 7), 50 + k * 97)]]);
        assert.equal(p.logs.writesDirect(), direct);
        assert.ok(p.logs.writePosition().segment > 3, "the writes went on over new segments");
        p.same();
        await p.reopen();
        assert.equal(p.logs.writesDirect(), direct);
        p.persist([[1, p.next(1, 3, 777)]]);
        p.same();
        await p.reopen();
        p.same();
      } finally {
        await p.logs.close();
      }
      // A commit too big for one direct write, between small ones in one segment.
      const q = new Pair(freshDir(), { entryCacheBytesMax: 0, directWrites });
      try {
        q.add(0);
        for (const size of [100, 1_500_000, 5000, 3]) q.persist([[0, q.next(0, 2, size)]]);
        assert.equal(q.logs.writePosition().segment, 0);
        assert.equal(q.logs.writesDirect(), direct);
        q.same();
        await q.reopen();
        q.same();
      } finally {
        await q.logs.close();
      }
    }
  });

  it("a commit larger than a segment gets a segment of its own", async () => {
    const p = new Pair(freshDir(), { segmentBytes: 4096 });
    try {
      p.add(1);
      p.persist([[1, p.next(1, 3, 50_000)]]);
      p.persist([[1, p.next(1, 1)]]);
      await p.reopen();
      p.same();
    } finally {
      await p.logs.close();
    }
  });
});

// ---- torn writes -----------------------------------------------------------------------------

describe("a torn last write", () => {
  /**
   * Two groups with some history, then one more commit; returns the folder, the models
   * before and after that commit, and where its bytes lie.
   */
  async function history() {
    const path = freshDir();
    const p = new Pair(path, { segmentBytes: 64 * 1024 });
    p.add(1);
    p.add(2);
    for (let k = 0; k < 5; k++) {
      p.persist([
        [1, p.next(1, 2)],
        [2, p.next(2, 1)],
      ]);
    }
    const before = [dump(p.model(1)), dump(p.model(2))];
    const from = p.logs.writePosition();
    p.persist([
      [1, p.next(1, 3)],
      [2, { ...p.next(2, 2), hardState: { term: 2, vote: 3, commit: 6 } }],
    ]);
    const to = p.logs.writePosition();
    const afterCommit = [dump(p.model(1)), dump(p.model(2))];
    await p.logs.close();
    assert.equal(from.segment, to.segment);
    return { path, before, afterCommit, segment: join(path, segmentFile(to.segment)), from, to };
  }

  const opened = async (path: string) => {
    const logs = new WalRaftLogs({ path, segmentBytes: 64 * 1024 });
    const state = [dump(logs.openGroup(1, conf3)), dump(logs.openGroup(2, conf3))];
    return { logs, state };
  };

  /**
   * Opens a copy of the history's folder whose last segment is `segment` instead, runs
   * `check` on it, then closes and deletes the copy.
   */
  async function withCopy(
    h: Awaited<ReturnType<typeof history>>,
    segment: Buffer,
    check: (copy: Awaited<ReturnType<typeof opened>> & { path: string }) => Promise<void> | void,
  ): Promise<void> {
    const path = freshDir();
    cpSync(h.path, path, { recursive: true });
    writeFileSync(join(path, segmentFile(h.to.segment)), segment);
    const copy = { ...(await opened(path)), path };
    try {
      await check(copy);
    } finally {
      await copy.logs.close();
      rmSync(path, { recursive: true, force: true });
    }
  }

  it("cut at every byte, the log opens as it was before the write, and writes on", async () => {
    const h = await history();
    const whole = readFileSync(h.segment);
    for (let cut = h.from.at; cut <= h.to.at; cut++) {
      const torn = Buffer.from(whole);
      torn.fill(0, cut, h.to.at);
      await withCopy(h, torn, async ({ logs, state, path }) => {
        assert.deepEqual(state, cut === h.to.at ? h.afterCommit : h.before, `cut at ${cut}`);
        if (cut === h.to.at) return;
        // Later writes land where the torn one began; reopened, they are all there.
        const a = logs.openGroup(3, conf3);
        a.append(run(1, 2, 1));
        await logs.close();
        const again = await opened(path);
        assert.deepEqual(again.state, h.before, `reopened after the cut at ${cut}`);
        await again.logs.close();
      });
    }
  });

  it("sectors written out of order: any one written alone reads as torn", async () => {
    const h = await history();
    const whole = readFileSync(h.segment);
    const first = Math.floor(h.from.at / 512) * 512;
    for (let sector = first; sector < h.to.at; sector += 512) {
      // Only this sector of the last write reached the disk.
      const torn = Buffer.from(whole);
      torn.fill(0, h.from.at, h.to.at);
      const lo = Math.max(sector, h.from.at);
      whole.copy(torn, lo, lo, Math.min(sector + 512, h.to.at));
      const whole1 = lo === h.from.at && Math.min(sector + 512, h.to.at) === h.to.at;
      await withCopy(h, torn, ({ state }) => {
        assert.deepEqual(state, whole1 ? h.afterCommit : h.before, `sector at ${sector}`);
      });
    }
  });

  it("a damaged record before the end fails the open with a clear error", async () => {
    const h = await history();
    const damaged = readFileSync(h.segment);
    // A bit flipped in the middle of the first commit's frame, well before the end.
    damaged[40] = (damaged[40] as number) ^ 0x10;
    writeFileSync(h.segment, damaged);
    assert.throws(
      () => new WalRaftLogs({ path: h.path }),
      (e: unknown) => e instanceof StorageError && /damaged/.test(e.message),
    );
  });
});

// ---- moving over from LMDB -----------------------------------------------------------------

describe("openRaftLogs", () => {
  it("moves LMDB raft logs over once, group by group, and deletes the LMDB folder", async () => {
    const dir = freshDir();
    const lmdbPath = join(dir, "raft");
    const walPath = join(dir, "raft-log");
    const lmdb = new LmdbRaftLogs({ path: lmdbPath });
    const models = new Map<number, MemoryLogStorage>();
    for (const g of [1, 7, 300]) {
      const log = lmdb.openGroup(g, conf3);
      const m = new MemoryLogStorage(conf3);
      const writes: LogWrite[] = [
        { entries: run(1, 10 + g, 2), hardState: { term: 3, vote: 2, commit: 5 } },
      ];
      if (g === 7)
        writes.push({
          snapshot: { meta: { index: 40, term: 3, conf: conf3 }, data: blob(200_000, 7) },
        });
      for (const w of writes) {
        log.persist(w);
        applyTo(m, w);
      }
      if (g === 300) {
        log.createSnapshot(100, conf3, bytes("image"));
        m.createSnapshot(100, conf3, bytes("image"));
      }
      models.set(g, m);
    }
    await lmdb.close();
    // A move cut short by a crash left its staging folder: it starts over.
    writeFileSync(join(dir, "raft-log.migrating"), "half");
    const first = await openRaftLogs({ path: walPath }, lmdbPath);
    try {
      assert.equal(first.migratedGroups, 3);
      assert.deepEqual(first.logs.groupIds(), [1, 7, 300]);
      for (const [g, m] of models) assert.deepEqual(dump(first.logs.openGroup(g, conf3)), dump(m));
    } finally {
      await first.logs.close();
    }
    assert.equal(existsSync(lmdbPath), false);
    assert.equal(existsSync(join(dir, "raft-log.migrating")), false);
    const second = await openRaftLogs({ path: walPath }, lmdbPath);
    try {
      assert.equal(second.migratedGroups, 0);
      for (const [g, m] of models) assert.deepEqual(dump(second.logs.openGroup(g, conf3)), dump(m));
    } finally {
      await second.logs.close();
    }
  });
});

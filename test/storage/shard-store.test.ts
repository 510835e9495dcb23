import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { keyHashSlot } from "../../src/cluster/slots.js";
import { AssertionError } from "../../src/core/assert.js";
import { SeededRandom } from "../../src/core/random.js";
import { keyHash } from "../../src/storage/key-hash.js";
import { walkCommitsMax } from "../../src/storage/overlay.js";
import {
  ALL_SLOTS,
  LmdbShardSpace,
  type LmdbShardSpaceOptions,
  MemoryShardSpace,
  type ShardSpace,
  type ShardStore,
  type SlotRange,
} from "../../src/storage/shard-store.js";
import { StorageError, type StoredValue } from "../../src/storage/types.js";
import { storeCompliance } from "./compliance.js";
import { fillUp, mountSmallFs, unmount } from "./small-fs.js";

const str = (s: string, expireAtMs = 0): StoredValue => ({
  type: "string",
  data: Buffer.from(s),
  expireAtMs,
});
const b = (s: string) => Buffer.from(s, "latin1");
const names = (keys: Iterable<Buffer>) => [...keys].map((k) => k.toString("latin1"));
/** Lets `n` turns of the event loop go by (a commit that was due would have started). */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

/** Keys whose slot lies in `slots`, `count` of them, named prefix:i. */
function keysIn(slots: readonly SlotRange[], count: number, prefix: string): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) {
    const k = `${prefix}:${i}`;
    const slot = keyHashSlot(b(k));
    if (slots.some((r) => slot >= r.from && slot <= r.to)) out.push(k);
  }
  return out;
}

/** The KeyStore compliance fixture on an LMDB shard space with `options`. */
function lmdbComplianceFixture(options: Omit<LmdbShardSpaceOptions, "path" | "slotOf">) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), "homeostat-shard-"));
    const open = () => new LmdbShardSpace({ path: dir, slotOf: keyHashSlot, ...options });
    let space = open();
    let current: ShardStore = space.openShard(7, ALL_SLOTS);
    return {
      store: current,
      reopen: async () => {
        await current.close();
        await space.close();
        space = open();
        current = space.openShard(7, ALL_SLOTS);
        return current;
      },
      cleanup: async () => {
        await current.close();
        await space.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  };
}

// The same KeyStore suite the single-node stores pass, on a shard serving every slot.
storeCompliance("lmdb shard store", lmdbComplianceFixture({}));
// Again with commits spaced out as the server spaces them: writes wait longer in the
// overlay, and every read must still see them.
storeCompliance(
  "lmdb shard store, commits 20 ms apart",
  lmdbComplianceFixture({ commitIntervalMs: 20 }),
);

storeCompliance("memory shard store", async () => {
  const space = new MemoryShardSpace(keyHashSlot);
  let current: ShardStore = space.openShard(7, ALL_SLOTS);
  return {
    store: current,
    reopen: async () => {
      await current.close();
      current = space.openShard(7, ALL_SLOTS);
      return current;
    },
    cleanup: async () => {
      await current.close();
    },
  };
});

interface SpaceFixture {
  space: ShardSpace;
  /** Closes the space and opens it again on the same data (a clean restart). */
  reopen(): Promise<ShardSpace>;
  cleanup(): Promise<void>;
}

function lmdbFixture(): SpaceFixture {
  const dir = mkdtempSync(join(tmpdir(), "homeostat-shard-"));
  const f: SpaceFixture = {
    space: new LmdbShardSpace({ path: dir, slotOf: keyHashSlot }),
    reopen: async () => {
      await f.space.close();
      f.space = new LmdbShardSpace({ path: dir, slotOf: keyHashSlot });
      return f.space;
    },
    cleanup: async () => {
      await f.space.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return f;
}

function memoryFixture(): SpaceFixture {
  const space = new MemoryShardSpace(keyHashSlot);
  return {
    space,
    reopen: async () => {
      space.crash();
      return space;
    },
    cleanup: async () => space.close(),
  };
}

const LOW: SlotRange[] = [{ from: 0, to: 8191 }];
const HIGH: SlotRange[] = [
  { from: 8192, to: 12000 },
  { from: 12001, to: 16383 },
];

for (const [name, make] of [
  ["lmdb", lmdbFixture],
  ["memory", memoryFixture],
] as const) {
  describe(`shard space (${name})`, () => {
    const withSpace = (fn: (f: SpaceFixture) => Promise<void>) => async () => {
      const f = make();
      try {
        await fn(f);
      } finally {
        await f.cleanup();
      }
    };

    it(
      "keeps the keys of two shards apart",
      withSpace(async (f) => {
        const low = f.space.openShard(1, LOW);
        const high = f.space.openShard(2, HIGH);
        const lowKeys = keysIn(LOW, 40, "low");
        const highKeys = keysIn(HIGH, 25, "high");
        for (const k of lowKeys) low.set(b(k), str(k, k.endsWith("7") ? 500 : 0));
        for (const k of highKeys) high.set(b(k), str(k));
        await Promise.all([low.flush(), high.flush()]);
        assert.equal(low.size(), 40);
        assert.equal(high.size(), 25);
        assert.deepEqual(names(low.keysFrom(undefined)), [...lowKeys].sort());
        assert.deepEqual(names(high.keysFrom(undefined)), [...highKeys].sort());
        const scanned = [...high.keysByHash(0)];
        assert.deepEqual(
          scanned.map((h) => h.hash),
          [...highKeys].map((k) => keyHash(b(k))).sort((x, y) => x - y),
        );
        assert.deepEqual(names(high.expiredKeys(1000, 100)), []);
        assert.equal(low.expiredKeys(1000, 100).length, low.expiringCount());
        const random = new SeededRandom(3);
        for (let i = 0; i < 50; i++) {
          assert.ok(highKeys.includes(String(high.randomKey(random))));
        }
        // Clearing one shard leaves the other whole.
        low.clear();
        await low.flush();
        assert.equal(low.size(), 0);
        assert.equal(high.size(), 25);
        assert.equal(high.get(b(highKeys[0] as string))?.data.toString(), highKeys[0]);
        await low.close();
        await high.close();
        const again = await f.reopen();
        const low2 = again.openShard(1, LOW);
        const high2 = again.openShard(2, HIGH);
        assert.equal(low2.size(), 0);
        assert.equal(high2.size(), 25);
        assert.deepEqual(names(high2.keysFrom(undefined)), [...highKeys].sort());
        await low2.close();
        await high2.close();
      }),
    );

    it(
      "lists and counts a slot's keys, committed and not yet (CLUSTER GETKEYSINSLOT)",
      withSpace(async (f) => {
        const store = f.space.openShard(2, HIGH);
        // Keys of one slot through hash tags, and a key of another slot beside them.
        const slot = keyHashSlot(b("{t}"));
        const tagged = (i: number) => `{t}:${i}`;
        const other = keysIn(HIGH, 1, "other")[0] as string;
        assert.notEqual(keyHashSlot(b(other)), slot);
        for (let i = 0; i < 10; i++) store.set(b(tagged(i)), str(`v${i}`, i === 3 ? 500 : 0));
        store.set(b(other), str("x"));
        assert.deepEqual(
          names(store.keysInSlot(slot, 100)).sort(),
          [...Array(10).keys()].map(tagged).sort(),
        );
        await store.flush();
        // Committed: deleted, rewritten and added keys wait in the overlay.
        store.delete(b(tagged(0)));
        store.set(b(tagged(1)), str("again"));
        store.set(b(tagged(10)), str("new"));
        const expected = [...Array(11).keys()]
          .filter((i) => i !== 0)
          .map(tagged)
          .sort();
        const listed = names(store.keysInSlot(slot, 100));
        assert.deepEqual([...listed].sort(), expected, "each live key once");
        assert.equal(store.keysInSlot(slot, 4).length, 4);
        assert.equal(store.keysInSlot(slot, 0).length, 0);
        assert.deepEqual(names(store.keysInSlot(keyHashSlot(b(other)), 10)), [other]);
        assert.equal(store.keysInSlot(slot, Number.POSITIVE_INFINITY).length, 10);
        await store.flush();
        assert.deepEqual(names(store.keysInSlot(slot, 100)).sort(), expected);
        store.clear();
        assert.deepEqual(store.keysInSlot(slot, 100), []);
        await store.close();
      }),
    );

    it(
      "stores the mark with each batch, atomically",
      withSpace(async (f) => {
        const s = f.space.openShard(3, ALL_SLOTS);
        assert.deepEqual(s.openedAt, { index: 0, nowMs: 0 });
        let mark = { index: 0, nowMs: 0 };
        s.markWith(() => mark);
        s.set(b("a"), str("1"));
        mark = { index: 5, nowMs: 1000 };
        await s.flush();
        s.set(b("b"), str("2"));
        mark = { index: 9, nowMs: 2000 };
        await s.flush();
        await s.close();
        const again = (await f.reopen()).openShard(3, ALL_SLOTS);
        assert.deepEqual(again.openedAt, { index: 9, nowMs: 2000 });
        assert.equal(again.size(), 2);
        await again.close();
      }),
    );

    it(
      "drops a shard with its keys and mark",
      withSpace(async (f) => {
        const s = f.space.openShard(4, LOW);
        const keys = keysIn(LOW, 10, "d");
        for (const k of keys) s.set(b(k), str(k, 10));
        s.markWith(() => ({ index: 3, nowMs: 1 }));
        await s.flush();
        await s.close();
        assert.deepEqual(f.space.shardIds(), [4]);
        f.space.dropShard(4);
        assert.deepEqual(f.space.shardIds(), []);
        const fresh = f.space.openShard(4, LOW);
        assert.equal(fresh.size(), 0);
        assert.equal(fresh.expiringCount(), 0);
        assert.deepEqual(fresh.openedAt, { index: 0, nowMs: 0 });
        await fresh.close();
      }),
    );

    it(
      "counts each shard's stored bytes through writes, overwrites, deletes, clear and restart",
      withSpace(async (f) => {
        const low = f.space.openShard(1, LOW);
        const high = f.space.openShard(2, HIGH);
        assert.equal(low.dataBytes(), 0);
        const lowKeys = keysIn(LOW, 30, "low");
        for (const k of lowKeys) low.set(b(k), str("x".repeat(100)));
        for (const k of keysIn(HIGH, 10, "high")) high.set(b(k), str("y".repeat(1000)));
        await Promise.all([low.flush(), high.flush()]);
        const lowBytes = low.dataBytes();
        const highBytes = high.dataBytes();
        // At least the values; the keys and each record's header on top.
        assert.ok(lowBytes >= 3000 && lowBytes < 3000 + 30 * 64, `low ${lowBytes}`);
        assert.ok(highBytes >= 10_000 && highBytes < 10_000 + 10 * 64, `high ${highBytes}`);
        low.set(b(lowKeys[0] as string), str("x".repeat(1100)));
        await low.flush();
        assert.equal(low.dataBytes(), lowBytes + 1000, "an overwrite counts the difference");
        low.delete(b(lowKeys[1] as string));
        await low.flush();
        assert.ok(low.dataBytes() < lowBytes + 1000 - 100);
        const before = low.dataBytes();
        await low.close();
        await high.close();
        const again = await f.reopen();
        const low2 = again.openShard(1, LOW);
        const high2 = again.openShard(2, HIGH);
        assert.equal(low2.dataBytes(), before);
        assert.equal(high2.dataBytes(), highBytes);
        low2.clear();
        await low2.flush();
        assert.equal(low2.dataBytes(), 0);
        assert.equal(high2.dataBytes(), highBytes);
        await low2.close();
        await high2.close();
      }),
    );

    it(
      "refuses a slot two shards claim, and a shard reopened with other slots",
      withSpace(async (f) => {
        const a = f.space.openShard(1, LOW);
        assert.throws(() => f.space.openShard(2, [{ from: 8000, to: 9000 }]), AssertionError);
        assert.throws(() => f.space.openShard(1, HIGH), AssertionError);
        a.set(b("x"), str("x"));
        await a.close();
        assert.throws(() => f.space.openShard(1, HIGH), AssertionError);
        assert.throws(() => f.space.openShard(5, [{ from: 5, to: 4 }]), AssertionError);
        const again = f.space.openShard(1, LOW);
        await again.close();
      }),
    );
  });
}

interface TempSpace {
  space: LmdbShardSpace;
  /** Closes the space and opens it again on the same folder with the same options. */
  reopen(): Promise<LmdbShardSpace>;
}

/** Runs `body` on an LMDB shard space in a fresh temp folder; closes and removes it after. */
async function withTempSpace(
  options: Omit<LmdbShardSpaceOptions, "path" | "slotOf">,
  body: (t: TempSpace) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "homeostat-shard-"));
  const open = () => new LmdbShardSpace({ path: dir, slotOf: keyHashSlot, ...options });
  const t: TempSpace = {
    space: open(),
    reopen: async () => {
      await t.space.close();
      t.space = open();
      return t.space;
    },
  };
  try {
    await body(t);
  } finally {
    await t.space.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("lmdb shard space", () => {
  it("counts the bytes of a folder written before they were kept, at open", () =>
    withTempSpace({}, async (t) => {
      let space = t.space;
      const s = space.openShard(1, LOW);
      for (const k of keysIn(LOW, 20, "old")) s.set(b(k), str("z".repeat(500)));
      await s.flush();
      const bytes = s.dataBytes();
      await s.close();
      // The older layout: a slot's record is its key count alone.
      const records = [...space.slotCounts.getRange({})].map(({ key, value }) => ({
        key: key as Buffer,
        count: (value as Buffer).subarray(0, 4),
      }));
      assert.ok(records.length > 0);
      await space.slotCounts.transaction(() => {
        for (const r of records) space.slotCounts.putSync(r.key, Buffer.from(r.count));
      });
      space = await t.reopen();
      const again = space.openShard(1, LOW);
      assert.equal(again.size(), 20);
      assert.equal(again.dataBytes(), bytes);
      await again.close();
    }));

  // LMDB reuses no page freed after its oldest open reader. A compaction image walks a
  // shard a slice at a time while writes go on; a slice that stopped inside the merge of
  // overlay and LMDB left LMDB's range open, and with it a read transaction, so every
  // later commit wrote new pages and the file grew without end.
  it("a frozen walk holds LMDB's read only while open: once closed, or aborted after walkCommitsMax commits unread, rewrites reuse the file's pages", () =>
    withTempSpace({}, async ({ space }) => {
      const s = space.openShard(1, ALL_SLOTS);
      const keys = keysIn(ALL_SLOTS, 2000, "k");
      const rewriteAll = async (rounds: number) => {
        for (let r = 0; r < rounds; r++) {
          for (const k of keys) s.set(b(k), str(`${r}`.repeat(200)));
          await s.flush();
        }
      };
      // Each round writes ~500 KB of values: 20 rounds in new pages would be ~10 MB.
      const grownBy = async (rounds: number) => {
        const before = space.usedBytes();
        await rewriteAll(rounds);
        return space.usedBytes() - before;
      };
      await rewriteAll(20);
      // A write waiting in the overlay: the walk hands it out after LMDB's keys.
      s.set(b("pending"), str("p"));
      const walk = s.freeze();
      assert.equal(walk.next(10).length, 10);
      assert.equal(walk.done, false);
      walk.close();
      let grown = await grownBy(20);
      assert.ok(grown < 1_000_000, `the file grew ${grown} bytes after the walk was closed`);

      // A walk read from between commits goes on, however many commits it spans.
      const read = s.freeze();
      for (let i = 0; i < walkCommitsMax + 4; i++) {
        assert.equal(read.next(1).length, 1);
        await rewriteAll(1);
      }
      assert.equal(read.aborted, null);
      read.close();

      const left = s.freeze();
      assert.equal(left.next(10).length, 10);
      await rewriteAll(walkCommitsMax);
      assert.equal(left.aborted, null);
      await rewriteAll(1);
      assert.match(String(left.aborted), /not read from for 16 commits/);
      assert.throws(() => left.next(1), /walk aborted/);
      grown = await grownBy(20);
      assert.ok(grown < 1_000_000, `the file grew ${grown} bytes after the walk was aborted`);
      await s.close();
    }));

  it("a frozen walk is the shard as of the freeze, whatever is committed meanwhile", () =>
    withTempSpace({}, async ({ space }) => {
      const mine = [
        { from: 0, to: 4000 },
        { from: 9000, to: 12000 },
      ];
      const s = space.openShard(1, mine);
      const other = space.openShard(2, [{ from: 5000, to: 8999 }]);
      for (const k of keysIn([{ from: 5000, to: 8999 }], 500, "o")) other.set(b(k), str("o"));
      await other.flush();
      const keys = keysIn(mine, 3000, "f");
      // Keys too long for LMDB, stored under a prefix and a digest: 20 committed, 5 not yet.
      const long = keysIn(mine, 25, "L".repeat(2500));
      for (const k of keys) s.set(b(k), str("old"));
      for (const k of long.slice(0, 20)) s.set(b(k), str("long"));
      await s.flush();
      // Half rewritten and committing, a tenth deleted, one new key not committed yet.
      for (const k of keys.slice(0, 1500)) s.set(b(k), str("new"));
      const flushed = s.flush();
      for (const k of keys.slice(2700)) s.delete(b(k));
      s.set(b("fresh"), str("fresh"));
      for (const k of long.slice(20)) s.set(b(k), str("long, later"));
      const walk = s.freeze();
      assert.equal(walk.size, 2726);
      await flushed;
      for (const k of keys) s.set(b(k), str("later"));
      s.delete(b("fresh"));
      await s.flush();
      const seen = new Map<string, string>();
      while (!walk.done) {
        for (const e of walk.next(97)) {
          const k = e.key.toString("latin1");
          assert.ok(!seen.has(k), `${k} handed out twice`);
          seen.set(k, e.value.data.toString());
        }
      }
      assert.equal(seen.size, 2726);
      for (const [i, k] of long.entries())
        assert.equal(seen.get(k), i < 20 ? "long" : "long, later");
      const open = s.freeze();
      assert.equal(open.next(5).length, 5);
      assert.equal(seen.get("fresh"), "fresh");
      for (const [i, k] of keys.entries()) {
        assert.equal(seen.get(k), i < 1500 ? "new" : i < 2700 ? "old" : undefined, k);
      }
      // Closing the store ends a walk still open, and its read transaction with it.
      await s.close();
      assert.match(String(open.aborted), /the store was closed/);
      assert.throws(() => open.next(1), /walk aborted: the store was closed/);
      await other.close();
    }));

  // lmdb-js commits on its writer thread; the space settles the commit (its counts) on
  // this one a little later. In between, LMDB already shows the commit's writes: counts
  // worked out from LMDB's records then must not take the in-flight writes for old ones.
  it("counts right between a commit landing in LMDB and its settling here", () =>
    withTempSpace({ stageSliceMs: Number.POSITIVE_INFINITY }, async ({ space }) => {
      const s = space.openShard(1, ALL_SLOTS);
      const keys = keysIn(ALL_SLOTS, 200, "c");
      for (const k of keys.slice(0, 100)) s.set(b(k), str("v"));
      await s.flush();
      const later = Date.now() + 3_600_000;
      for (const k of keys.slice(50, 200)) s.set(b(k), str("w", later));
      const flushed = s.flush();
      // The space stages the commit in one turn, lmdb-js hands it to its writer thread in
      // the next (both with setImmediate).
      for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
      // This thread stands still while the writer thread commits: no settling meanwhile.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
      assert.equal(s.size(), 200);
      assert.equal(s.expiringCount(), 150);
      s.set(b(keys[60] as string), str("x")); // in the commit: its expiry goes
      s.set(b(keys[10] as string), str("x", later)); // committed before: gains one
      s.set(b("c:new"), str("y"));
      assert.equal(s.size(), 201);
      assert.equal(s.expiringCount(), 150);
      await flushed;
      assert.equal(s.size(), 201);
      assert.equal(s.expiringCount(), 150);
      await s.flush();
      assert.equal(s.size(), 201);
      assert.equal(s.expiringCount(), 150);
      await s.close();
    }));

  it("stages a commit a slice at a time; a shard dropped between slices stays dropped", () =>
    withTempSpace({ stageSliceMs: 0 }, async (t) => {
      const high = t.space.openShard(2, HIGH);
      const highKeys = keysIn(HIGH, 50, "h");
      for (const k of highKeys) high.set(b(k), str(k));
      await high.close();
      const low = t.space.openShard(1, LOW);
      const lowKeys = keysIn(LOW, 2_000, "l");
      for (const k of lowKeys) low.set(b(k), str(k, Date.now() + 3_600_000));
      const commits = t.space.stats.commits;
      const pauses = t.space.stats.stagePauses;
      const flushed = low.flush();
      // Reads and writes go on between the slices, served from the overlay.
      for (let turn = 0; turn < 1_000 && t.space.stats.stagePauses - pauses < 5; turn++) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      assert.ok(t.space.stats.stagePauses - pauses >= 5, "the staging let turns go by");
      assert.equal(low.get(b(lowKeys[1_999] as string))?.data.toString(), lowKeys[1_999]);
      low.set(b(lowKeys[0] as string), str("again"));
      // A closed shard's keys may be deleted meanwhile: its slots are not this commit's.
      t.space.dropShard(2);
      await flushed;
      await low.flush();
      // At most 16 writes (stageCheckWrites) between two looks at the clock.
      assert.ok(t.space.stats.stagePauses - pauses >= 2_000 / 16 - 1);
      assert.equal(t.space.stats.commits - commits, 2);
      await low.close();
      const again = await t.reopen();
      const low2 = again.openShard(1, LOW);
      assert.equal(low2.size(), 2_000);
      assert.equal(low2.expiringCount(), 1_999);
      assert.equal(low2.get(b(lowKeys[0] as string))?.data.toString(), "again");
      assert.equal(low2.get(b(lowKeys[1_000] as string))?.data.toString(), lowKeys[1_000]);
      const high2 = again.openShard(2, HIGH);
      assert.equal(high2.size(), 0);
      assert.equal(high2.get(b(highKeys[0] as string)), undefined);
      await low2.close();
      await high2.close();
    }));

  it("commits the flushes of many shards made together in one transaction", () =>
    withTempSpace({}, async ({ space }) => {
      const ranges = Array.from({ length: 8 }, (_, i) => ({ from: i * 2048, to: i * 2048 + 2047 }));
      const stores = ranges.map((r, i) => space.openShard(10 + i, [r]));
      stores.forEach((s, i) => {
        for (const k of keysIn([ranges[i] as SlotRange], 5, `g${i}`)) s.set(b(k), str(k));
      });
      const before = space.stats.commits;
      await Promise.all(stores.map((s) => s.flush()));
      assert.equal(space.stats.commits - before, 1);
      for (const s of stores) assert.equal(s.size(), 5);
      for (const s of stores) await s.close();
    }));

  // An interval no test run reaches: only close (or the write bound) can commit.
  it("spaces commits by commitIntervalMs; close commits what waits", () =>
    withTempSpace({ commitIntervalMs: 3_600_000 }, async (t) => {
      const space = t.space;
      const s = space.openShard(1, LOW);
      const keys = keysIn(LOW, 4, "spaced");
      s.set(b(keys[0] as string), str("first"));
      // The first commit has no earlier one to wait for.
      await s.flush();
      assert.equal(space.stats.commits, 1);
      const waiting: Promise<void>[] = [];
      for (const k of keys.slice(1)) {
        s.set(b(k), str(k));
        waiting.push(s.flush());
        await new Promise((r) => setImmediate(r));
      }
      await turns(5);
      assert.equal(space.stats.commits, 1, "a commit started inside the interval");
      // Visible before they are committed.
      assert.equal(s.size(), 4);
      assert.deepEqual(s.get(b(keys[3] as string))?.data, Buffer.from(keys[3] as string));
      await s.close();
      await space.close();
      await Promise.all(waiting);
      assert.equal(space.stats.commits, 2);
      assert.equal(space.stats.batches, 4);
      const again = (await t.reopen()).openShard(1, LOW);
      assert.equal(again.size(), 4);
      await again.close();
    }));

  /** What a reopened shard holds: sizes, indexes and values, to compare with expectations. */
  function contents(s: ShardStore, keys: readonly string[], nowMs: number) {
    return {
      size: s.size(),
      expiring: s.expiringCount(),
      expired: names(s.expiredKeys(nowMs, 10)).sort(),
      scanned: [...s.keysByHash(0)].map((h) => h.key.toString("latin1")).sort(),
      values: keys.map((k) => {
        const v = s.get(b(k));
        return v === undefined ? null : `${v.data.toString()}@${v.expireAtMs}`;
      }),
    };
  }

  /** Closes `s` (which commits what waits), then reopens the space and shard 1 on LOW. */
  async function commitAndReopen(t: TempSpace, s: ShardStore, flushes: Promise<void>[]) {
    await s.close();
    await Promise.all(flushes);
    const commits = t.space.stats.commits;
    const batches = t.space.stats.batches;
    return { commits, batches, again: (await t.reopen()).openShard(1, LOW) };
  }

  it("one commit takes batches that write the same keys in turn", () =>
    withTempSpace({ commitIntervalMs: 3_600_000 }, async (t) => {
      const s = t.space.openShard(1, LOW);
      const [k1, k2, k3] = keysIn(LOW, 3, "turn") as [string, string, string];
      const later = Date.now() + 3_600_000;
      s.set(b(k1), str("first"));
      s.set(b(k2), str("old", later));
      await s.flush();
      // Both wait out the interval, then go in one commit (at close).
      s.set(b(k1), str("second", later));
      s.set(b(k2), str("new"));
      const one = s.flush();
      s.set(b(k1), str("third"));
      s.delete(b(k2));
      s.set(b(k3), str("kept", later));
      const { commits, again } = await commitAndReopen(t, s, [one, s.flush()]);
      assert.equal(commits, 2);
      assert.deepEqual(contents(again, [k1, k2, k3], later + 1), {
        size: 2,
        expiring: 1,
        expired: [k3],
        scanned: [k1, k3].sort(),
        values: ["third@0", null, `kept@${later}`],
      });
      // The counted bytes, as if the same keys had been written once into an empty shard.
      await withTempSpace({}, async (fresh) => {
        const f = fresh.space.openShard(1, LOW);
        f.set(b(k1), str("third"));
        f.set(b(k3), str("kept", later));
        await f.flush();
        assert.equal(again.dataBytes(), f.dataBytes());
        await f.close();
      });
      await again.close();
    }));

  it("a clear starts a commit of its own, after the batches before it", () =>
    withTempSpace({ commitIntervalMs: 3_600_000 }, async (t) => {
      const s = t.space.openShard(1, LOW);
      const [k1, k2, k3] = keysIn(LOW, 3, "clear") as [string, string, string];
      const later = Date.now() + 3_600_000;
      s.set(b(k1), str("first", later));
      await s.flush();
      s.set(b(k2), str("before", later));
      const one = s.flush();
      s.clear();
      s.set(b(k3), str("after", later));
      const two = s.flush();
      s.set(b(k2), str("again"));
      const { commits, batches, again } = await commitAndReopen(t, s, [one, two, s.flush()]);
      assert.equal(commits, 3, "the first; the one before the clear; from it on");
      assert.equal(batches, 4);
      assert.deepEqual(contents(again, [k1, k2, k3], later + 1), {
        size: 2,
        expiring: 1,
        expired: [k3],
        scanned: [k2, k3].sort(),
        values: [null, "again@0", `after@${later}`],
      });
      await again.close();
    }));

  it("commits early, interval or not, once commitWritesMax writes wait", () =>
    withTempSpace({ commitIntervalMs: 3_600_000, commitWritesMax: 10 }, async ({ space }) => {
      const s = space.openShard(1, LOW);
      s.set(b("first"), str("x"));
      await s.flush();
      const keys = keysIn(LOW, 10, "bound");
      for (const k of keys.slice(0, 9)) s.set(b(k), str(k));
      const nine = s.flush();
      await turns(5);
      assert.equal(space.stats.commits, 1, "9 writes waiting: still inside the interval");
      s.set(b(keys[9] as string), str("tenth"));
      // Resolves only if the tenth write starts the commit (else this waits an hour).
      await Promise.all([nine, s.flush()]);
      assert.equal(space.stats.commits, 2);
      await s.close();
    }));

  it("commits early, interval or not, once commitBytesMax bytes wait", () =>
    withTempSpace({ commitIntervalMs: 3_600_000, commitBytesMax: 4096 }, async ({ space }) => {
      const s = space.openShard(1, LOW);
      s.set(b("first"), str("x"));
      await s.flush();
      const [small, big] = keysIn(LOW, 2, "bytes");
      s.set(b(small as string), str("y".repeat(1000)));
      const first = s.flush();
      await turns(5);
      assert.equal(space.stats.commits, 1, "about 1 KB waiting: still inside the interval");
      s.set(b(big as string), str("z".repeat(4000)));
      // Resolves only if the 4 KB value starts the commit (else this waits an hour).
      await Promise.all([first, s.flush()]);
      assert.equal(space.stats.commits, 2);
      assert.equal(s.get(b(big as string))?.data.length, 4000);
      await s.close();
    }));

  it("a pending layer past commitBytesMax commits the batch waiting, unflushed", () =>
    withTempSpace({ commitIntervalMs: 3_600_000, commitBytesMax: 4096 }, async ({ space }) => {
      const s = space.openShard(1, LOW);
      s.set(b("first"), str("x"));
      await s.flush();
      const [waiting, big] = keysIn(LOW, 2, "hurry");
      s.set(b(waiting as string), str("w"));
      const queued = s.flush();
      await turns(5);
      assert.equal(space.stats.commits, 1, "one small batch waiting: inside the interval");
      // Not flushed: the store's own pending layer outgrows the bound and hurries the space.
      s.set(b(big as string), str("z".repeat(5000)));
      await queued; // else this waits an hour
      assert.equal(space.stats.commits, 2);
      await s.flush();
      assert.equal(space.stats.commits, 3);
      await s.close();
    }));

  it("walks many slots in key order, from any start", () =>
    withTempSpace({}, async ({ space }) => {
      const s = space.openShard(1, ALL_SLOTS);
      const keys = Array.from({ length: 3000 }, (_, i) => `user:${(i * 7919) % 3000}`);
      for (const k of keys) s.set(b(k), str(k));
      await s.flush();
      const sorted = [...keys].sort();
      assert.deepEqual(names(s.keysFrom(undefined)), sorted);
      assert.deepEqual(
        names(s.keysFrom(b("user:2"))),
        sorted.filter((k) => k >= "user:2"),
      );
      // A prefix walk stops early, as KEYS does: only what it read is fetched.
      let n = 0;
      for (const k of s.keysFrom(b("user:15"))) {
        if (!k.toString().startsWith("user:15")) break;
        n++;
      }
      assert.equal(n, sorted.filter((k) => k.startsWith("user:15")).length);
      await s.close();
    }));
});

const spaceWriter = join(dirname(fileURLToPath(import.meta.url)), "shard-space-writer.js");

/**
 * Runs shard-space-writer.ts: `keys` keys written into `shard` of an unsynced space opened
 * in boot `bootId`, then SIGKILLed once their commit returned (in the page cache only).
 */
async function writeUnsyncedAndKill(dir: string, bootId: string, shard: number, keys: number) {
  const child = spawn(process.execPath, [spaceWriter, dir, bootId, String(shard), String(keys)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<void>((r) => child.on("exit", () => r()));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("written\n")) resolve();
      });
      child.on("exit", (code) => reject(new Error(`writer exited (${code}): ${err}`)));
    });
  } finally {
    child.kill("SIGKILL");
    await exited;
  }
}

const syncState = (dir: string) => readFileSync(join(dir, "sync-state"), "latin1");

describe("lmdb shard space without syncs (opened with a boot id)", () => {
  const inTemp = async (body: (dir: string) => Promise<void>) => {
    const dir = mkdtempSync(join(tmpdir(), "homeostat-shard-"));
    try {
      await body(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const open = (dir: string, bootId: string, syncIntervalMs?: number) =>
    new LmdbShardSpace({
      path: dir,
      slotOf: keyHashSlot,
      bootId,
      ...(syncIntervalMs === undefined ? {} : { syncIntervalMs }),
    });
  const keysOf = async (space: LmdbShardSpace, shard: number) => {
    const s = space.openShard(shard, ALL_SLOTS);
    const n = s.size();
    await s.close();
    return n;
  };

  it("keeps what a killed process committed, when the machine did not restart", () =>
    inTemp(async (dir) => {
      await writeUnsyncedAndKill(dir, "boot-a", 3, 500);
      assert.equal(syncState(dir), "boot-a open\n");
      const space = open(dir, "boot-a");
      try {
        assert.equal(space.discarded, null);
        assert.equal(await keysOf(space, 3), 500);
        const s = space.openShard(3, ALL_SLOTS);
        assert.equal(s.get(b("k:499"))?.data.toString(), "v:499");
        await s.close();
      } finally {
        await space.close();
      }
      assert.equal(syncState(dir), "boot-a closed\n", "synced and marked at close");
    }));

  it("deletes a space an earlier boot left open, and starts its shards empty", () =>
    inTemp(async (dir) => {
      await writeUnsyncedAndKill(dir, "boot-a", 3, 500);
      const space = open(dir, "boot-b");
      try {
        assert.match(space.discarded ?? "", /open without syncs .*boot boot-a/);
        assert.deepEqual(space.shardIds(), []);
        assert.equal(await keysOf(space, 3), 0);
        assert.equal(syncState(dir), "boot-b open\n");
        // Usable as a new space: what it commits now survives its own close.
        const s = space.openShard(4, ALL_SLOTS);
        s.set(b("new"), str("yes"));
        await s.close();
      } finally {
        await space.close();
      }
      const again = open(dir, "boot-c");
      try {
        assert.equal(again.discarded, null, "closed cleanly in boot-b");
        assert.deepEqual(again.shardIds(), [4]);
      } finally {
        await again.close();
      }
    }));

  it("keeps a space closed in an earlier boot, or written with synced commits", () =>
    inTemp(async (dir) => {
      const synced = new LmdbShardSpace({ path: dir, slotOf: keyHashSlot });
      const s = synced.openShard(1, ALL_SLOTS);
      s.set(b("a"), str("1"));
      await s.close();
      await synced.close();
      assert.throws(() => syncState(dir), /ENOENT/, "a synced space keeps no state file");
      const first = open(dir, "boot-a");
      assert.equal(first.discarded, null);
      assert.equal(syncState(dir), "boot-a open\n");
      await first.close();
      const second = open(dir, "boot-b");
      try {
        assert.equal(second.discarded, null);
        assert.equal(await keysOf(second, 1), 1);
      } finally {
        await second.close();
      }
    }));

  it("syncs in the background once per syncIntervalMs, not per commit", () =>
    inTemp(async (dir) => {
      const space = open(dir, "boot-a", 60_000);
      try {
        const s = space.openShard(1, ALL_SLOTS);
        for (let i = 0; i < 5; i++) {
          s.set(b(`k${i}`), str("v"));
          await s.flush();
        }
        for (let i = 0; i < 100 && space.stats.syncs === 0; i++) {
          await new Promise((r) => setTimeout(r, 10));
        }
        assert.equal(space.stats.commits, 5);
        assert.equal(
          space.stats.syncs,
          1,
          "the first commit's sync; the others within the interval",
        );
        assert.equal(space.stats.syncFailures, 0);
        await s.close();
      } finally {
        await space.close();
      }
    }));

  it("close waits for a background sync in flight before closing the environment", () =>
    inTemp(async (dir) => {
      const space = open(dir, "boot-a", 60_000);
      const s = space.openShard(1, ALL_SLOTS);
      // Megabytes of dirty pages, so the sync this commit starts is still running at close.
      const value = str("x".repeat(64 * 1024));
      for (let i = 0; i < 200; i++) s.set(b(`k${i}`), value);
      await s.flush();
      await s.close();
      await space.close();
      assert.equal(space.stats.syncs + space.stats.syncFailures, 1, "the sync ended first");
      assert.equal(space.stats.syncFailures, 0);
    }));

  it("deletes a space whose state file is unreadable", () =>
    inTemp(async (dir) => {
      await writeUnsyncedAndKill(dir, "boot-a", 2, 10);
      writeFileSync(join(dir, "sync-state"), "boot-a half-writ");
      const space = open(dir, "boot-a");
      try {
        assert.match(space.discarded ?? "", /sync-state file is unreadable/);
        assert.deepEqual(space.shardIds(), []);
      } finally {
        await space.close();
      }
    }));
});

describe("lmdb shard space on a full disk", () => {
  const mount = mkdtempSync(join(tmpdir(), "homeostat-shard-fullfs-"));
  const canMount = mountSmallFs(mount, 24);
  after(() => {
    if (canMount) unmount(mount);
    rmSync(mount, { recursive: true, force: true });
  });

  for (const bootId of [undefined, "boot-a"]) {
    const mode = bootId === undefined ? "synced commits" : "no syncs";
    it(`keeps failed commits and tries them again until the disk takes them (${mode})`, {
      skip: !canMount && "cannot mount a tmpfs here (needs root)",
    }, async () => {
      const path = join(mount, `space-${bootId ?? "synced"}`);
      const filler = join(mount, "filler");
      const events: string[] = [];
      const open = () =>
        new LmdbShardSpace({
          path,
          slotOf: keyHashSlot,
          ...(bootId === undefined ? {} : { bootId }),
          onCommitFailing: (e) => events.push(`failing ${e.code}`),
          onCommitResumed: (n) => events.push(`resumed after ${n}`),
        });
      let space = open();
      try {
        const s = space.openShard(1, ALL_SLOTS);
        s.set(b("before"), str("safe"));
        await s.flush();
        fillUp(mount, filler, 256 * 1024);
        const big = "x".repeat(256 * 1024);
        for (let i = 0; i < 16; i++) s.set(b(`big:${i}`), str(big));
        let flushed = false;
        const flush = s.flush().then(() => {
          flushed = true;
        });
        const failed = () => space.stats.commitFailures >= 2;
        for (let i = 0; i < 100 && !failed(); i++) await new Promise((r) => setTimeout(r, 50));
        assert.ok(failed(), "the commit kept failing on the full disk");
        assert.equal(flushed, false, "the writes wait; they are not failed");
        assert.deepEqual(events.length, 1);
        assert.match(events[0] as string, /^failing (ENOSPC|EIO|MAP_FULL)$/);
        // Served from memory meanwhile.
        assert.equal(s.get(b("big:15"))?.data.length, big.length);
        unlinkSync(filler);
        await flush;
        assert.match(events[1] as string, /^resumed after \d+$/);
        await s.close();
        await space.close();
        space = open();
        const again = space.openShard(1, ALL_SLOTS);
        assert.equal(again.size(), 17);
        assert.equal(again.get(b("before"))?.data.toString(), "safe");
        assert.equal(again.get(b("big:15"))?.data.length, big.length);
        await again.close();
      } finally {
        await space.close();
        rmSync(filler, { force: true });
      }
    });
  }

  it("gives up a failing commit when the store closes (the raft log re-applies it)", {
    skip: !canMount && "cannot mount a tmpfs here (needs root)",
  }, async () => {
    const path = join(mount, "space-closing");
    const filler = join(mount, "filler");
    const space = new LmdbShardSpace({ path, slotOf: keyHashSlot, bootId: "boot-a" });
    try {
      const s = space.openShard(1, ALL_SLOTS);
      s.set(b("before"), str("safe"));
      await s.flush();
      fillUp(mount, filler, 256 * 1024);
      for (let i = 0; i < 16; i++) s.set(b(`big:${i}`), str("x".repeat(256 * 1024)));
      const flush = s.flush();
      for (let i = 0; i < 100 && space.stats.commitFailures === 0; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(space.stats.commitFailures > 0);
      await s.close();
      await assert.rejects(flush, StorageError);
      unlinkSync(filler);
      const again = space.openShard(1, ALL_SLOTS);
      assert.equal(again.size(), 1, "only what committed");
      await again.close();
    } finally {
      await space.close();
      rmSync(filler, { force: true });
    }
  });
});

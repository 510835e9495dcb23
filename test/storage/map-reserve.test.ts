import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statfsSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { keyHashSlot } from "../../src/cluster/slots.js";
import { SeededRandom } from "../../src/core/random.js";
import { chooseWriteMap, MapReserve } from "../../src/storage/map-reserve.js";
import { ALL_SLOTS, LmdbShardSpace } from "../../src/storage/shard-store.js";
import { StorageError, type StoredValue } from "../../src/storage/types.js";
import { fillUp, mountSmallFs, unmount } from "./small-fs.js";

const page = 4096;
const MiB = 2 ** 20;
const str = (s: string): StoredValue => ({ type: "string", data: Buffer.from(s), expireAtMs: 0 });
const b = (s: string) => Buffer.from(s, "latin1");
const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

// A tmpfs where we may mount one (root), for a file system that surely takes the write
// map and can be filled; else the temp folder, if its file system takes it.
const mount = mkdtempSync(join(tmpdir(), "homeostat-map-reserve-"));
const mounted = mountSmallFs(mount, 256);
after(() => {
  if (mounted) unmount(mount);
  rmSync(mount, { recursive: true, force: true });
});
const writeMapHere = "mapBytes" in chooseWriteMap(mount);

describe("map reserve", () => {
  it("writes zeros past the last page in use, never over it, and keeps a slack ahead", async () => {
    const file = join(mount, "reserve-zeros");
    const used = Buffer.alloc(2 * page, 0xab);
    writeFileSync(file, used);
    const reserve = new MapReserve(file, page, 64 * MiB, 1);
    try {
      assert.equal(reserve.reservedBytes, 2 * page);
      assert.equal(reserve.ensure(2, 10), 12);
      // Written at once, up to what the transaction can reach.
      assert.ok(reserve.reservedBytes >= 12 * page);
      await turns(8);
      // Then a slack ahead (an eighth of the need, at least 1 MiB), in the background.
      assert.equal(reserve.reservedBytes, Math.min(64 * MiB, 12 * page + MiB));
      const st = statSync(file);
      assert.equal(st.size, 12 * page + MiB);
      assert.ok(st.blocks * 512 >= st.size, "the reserve has its blocks (no hole)");
      const content = readFileSync(file);
      assert.deepEqual(content.subarray(0, 2 * page), used, "the pages in use are untouched");
      assert.ok(content.subarray(2 * page).every((x) => x === 0));
      // Within the reserve: nothing more is written.
      const zeros = reserve.stats.zeroBytes;
      reserve.ensure(20, 100);
      assert.equal(reserve.stats.zeroBytes, zeros);
    } finally {
      reserve.close();
    }
  });

  it("writes a big shortfall on the thread pool; meanwhile no other transaction starts", async () => {
    const file = join(mount, "reserve-pool");
    writeFileSync(file, Buffer.alloc(2 * page));
    const reserve = new MapReserve(file, page, 256 * MiB, 1);
    try {
      // A small one is written at once.
      assert.deepEqual(reserve.reserve(2, 16), { end: 18, ready: null });
      await turns(8); // the background slack
      const pages = (16 * MiB) / page;
      const { end, ready } = reserve.reserve(2, pages);
      assert.equal(end, 2 + pages);
      assert.ok(ready !== null, "16 MiB short: it waits");
      // Below what is there already, a transaction may start; past it, not yet.
      assert.equal(reserve.ensure(2, 16), 18);
      assert.throws(
        () => reserve.ensure(2, pages),
        (e: unknown) => e instanceof StorageError && /being reserved/.test(e.message),
      );
      await ready;
      assert.ok(reserve.reservedBytes >= end * page);
      assert.ok(
        readFileSync(file)
          .subarray(2 * page)
          .every((x) => x === 0),
      );
      assert.equal(reserve.ensure(2, pages), end);
    } finally {
      reserve.close();
    }
  });

  it("leaves the free space it is told to keep (the raft logs')", {
    skip: !mounted && "cannot mount a tmpfs here (needs root)",
  }, () => {
    const file = join(mount, "reserve-keep-free");
    writeFileSync(file, Buffer.alloc(2 * page));
    const free = () => {
      const fs = statfsSync(mount);
      return Number(fs.bavail) * Number(fs.bsize);
    };
    const reserve = new MapReserve(file, page, 1024 * MiB, 1, free() - 2 * MiB);
    try {
      assert.equal(reserve.ensure(2, MiB / page), 2 + MiB / page);
      assert.throws(
        () => reserve.ensure(2, (4 * MiB) / page),
        (e: unknown) => e instanceof StorageError && e.code === "ENOSPC",
      );
      assert.ok(reserve.reservedBytes < 2 * page + 4 * MiB, "nothing written past the limit");
    } finally {
      reserve.close();
    }
  });

  it("refuses a transaction that could reach past the map", () => {
    const file = join(mount, "reserve-map-full");
    writeFileSync(file, Buffer.alloc(2 * page));
    const reserve = new MapReserve(file, page, 4 * MiB, 1);
    try {
      assert.throws(
        () => reserve.ensure(2, (MiB / page) * 4),
        (e: unknown) => e instanceof StorageError && e.code === "MAP_FULL",
      );
      assert.equal(reserve.stats.zeroBytes, 0);
      assert.equal(reserve.ensure(2, 16), 18);
    } finally {
      reserve.close();
    }
  });

  it("fails with ENOSPC on a full disk, and takes the space when it returns", {
    skip: !mounted && "cannot mount a tmpfs here (needs root)",
  }, async () => {
    const file = join(mount, "reserve-enospc");
    const filler = join(mount, "filler");
    writeFileSync(file, Buffer.alloc(2 * page));
    const reserve = new MapReserve(file, page, 1024 * MiB, 1);
    try {
      fillUp(mount, filler, 256 * 1024);
      assert.throws(
        () => reserve.ensure(2, (4 * MiB) / page),
        (e: unknown) => e instanceof StorageError && e.code === "ENOSPC",
      );
      assert.ok(reserve.reservedBytes < 2 * page + 4 * MiB);
      rmSync(filler);
      assert.equal(reserve.ensure(2, (4 * MiB) / page), 2 + (4 * MiB) / page);
      await turns(8);
    } finally {
      reserve.close();
    }
  });
});

describe("shard space through the write map", () => {
  // Every commit must stay below the reserve it was given: a page written past it could
  // be a hole, and a write into a hole on a full disk kills the process (SIGBUS).
  it("no commit reaches past the pages its writes were bounded by", {
    skip: !writeMapHere && "the temp folder's file system does not take the write map",
  }, async () => {
    const path = join(mount, "space-bound");
    const space = new LmdbShardSpace({ path, slotOf: keyHashSlot });
    const rnd = new SeededRandom(7);
    const check = (what: string) => {
      const st = space.writeMapState();
      assert.ok(st !== null, "the space uses the write map");
      assert.ok(st.lastPage < st.boundEnd, `${what}: page ${st.lastPage} past ${st.boundEnd}`);
      assert.ok(st.boundEnd * page <= st.reservedBytes, `${what}: bound past the reserve`);
    };
    try {
      assert.equal(space.writeMapOff, null);
      const s = space.openShard(1, ALL_SLOTS);
      // First inserts of long keys into a new file (many splits per insert, nothing to
      // reuse: what a commit takes past the last page comes closest to its bound there,
      // about a third of it). Then values that grow, values on overflow pages, deletes,
      // and a clear.
      for (let round = 0; round < 30; round++) {
        const n = 50 + rnd.int(400);
        const inserting = round < 10;
        for (let i = 0; i < n; i++) {
          const id = inserting ? round * 1000 + i : rnd.int(3000);
          const kind = inserting ? 0 : rnd.int(10);
          const key = kind < 3 ? `${"k".repeat(1800)}${id}` : `key:${id}`;
          if (kind === 9) s.delete(b(key));
          else if (kind === 8) s.set(b(key), str("v".repeat(5000 + rnd.int(20000))));
          else s.set(b(key), str("x".repeat(1 + rnd.int(round * 20 + 10))));
        }
        await s.flush();
        check(`round ${round}`);
      }
      s.clear();
      await s.flush();
      check("clear");
      await s.close();
      space.dropShard(1);
      check("drop");
    } finally {
      await space.close();
    }
  });

  // A snapshot's restore writes a whole shard in one transaction: its worst case would ask
  // for 20 GB of zeros per million keys. Its bound counts bytes instead.
  it("bounds a big commit (a restore) by its bytes, and it stays within", {
    skip: !writeMapHere && "the temp folder's file system does not take the write map",
  }, async () => {
    const path = join(mount, "space-restore");
    const space = new LmdbShardSpace({ path, slotOf: keyHashSlot });
    try {
      const s = space.openShard(1, ALL_SLOTS);
      const value = "v".repeat(100);
      for (let i = 0; i < 20_000; i++) s.set(b(`old:${i}`), str(value));
      await s.flush();
      s.clear();
      for (let i = 0; i < 100_000; i++) s.set(b(`key:${i}`), str(value));
      const before = space.writeMapState()?.lastPage ?? 0;
      await s.flush();
      await s.flush(); // the clear commits alone first, then the keys
      const st = space.writeMapState();
      assert.ok(st !== null);
      assert.ok(st.lastPage < st.boundEnd, `page ${st.lastPage} past ${st.boundEnd}`);
      // 100,000 inserts, 5 pages each at worst, would be 500,000 pages (1.9 GiB); the
      // keys take about 6,500 (26 MB).
      const bound = st.boundEnd - before;
      assert.ok(bound < 25_000, `bounded by ${bound} pages`);
      assert.ok(st.lastPage - before < bound);
      assert.equal(s.size(), 100_000);
      await s.close();
    } finally {
      await space.close();
    }
  });

  it("opens without the write map when told to", async () => {
    const path = join(mount, "space-off");
    const space = new LmdbShardSpace({ path, slotOf: keyHashSlot, writeMap: false });
    try {
      assert.equal(space.writeMapOff, "turned off");
      assert.equal(space.writeMapState(), null);
      const s = space.openShard(1, ALL_SLOTS);
      s.set(b("k"), str("v"));
      await s.flush();
      await s.close();
    } finally {
      await space.close();
    }
  });
});

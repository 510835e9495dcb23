import assert from "node:assert/strict";
import { it } from "node:test";
import type { Disk } from "../../src/core/disk.js";

/** The Disk contract (src/core/disk.ts), run against FsDisk and SimDisk. */
export interface DiskHarness {
  disk: Disk;
  /** Lets time pass until the promise settles (a simulated disk completes in virtual time). */
  settle<T>(promise: Promise<T>): Promise<T>;
  /** The process restarts (cleanly, after a sync): a new Disk on the same storage. */
  reopen(): Promise<Disk>;
  dispose(): Promise<void>;
}

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));

export function diskCompliance(name: string, makeHarness: () => Promise<DiskHarness>): void {
  const withHarness = (title: string, body: (h: DiskHarness, d: Disk) => Promise<void>) =>
    it(`${name}: ${title}`, async () => {
      const h = await makeHarness();
      try {
        await body(h, h.disk);
      } finally {
        await h.dispose();
      }
    });

  withHarness("a missing file reads as null and lists as nothing", async (h, d) => {
    assert.equal(await h.settle(d.read("nothing")), null);
    assert.deepEqual(await h.settle(d.list()), []);
  });

  withHarness("write replaces, append extends, read sees both at once", async (h, d) => {
    await h.settle(d.write("meta", text("one")));
    assert.equal(str(await h.settle(d.read("meta"))), "one");
    await h.settle(d.write("meta", text("two!")));
    assert.equal(str(await h.settle(d.read("meta"))), "two!");
    await h.settle(d.append("log", text("a")));
    await h.settle(d.append("log", text("bc")));
    assert.equal(str(await h.settle(d.read("log"))), "abc");
  });

  withHarness(
    "list is sorted; remove takes a file away and tolerates a missing one",
    async (h, d) => {
      for (const n of ["b", "a.1", "c-2"]) await h.settle(d.write(n, text(n)));
      assert.deepEqual(await h.settle(d.list()), ["a.1", "b", "c-2"]);
      await h.settle(d.remove("b"));
      await h.settle(d.remove("never"));
      assert.deepEqual(await h.settle(d.list()), ["a.1", "c-2"]);
      assert.equal(await h.settle(d.read("b")), null);
    },
  );

  withHarness("a read returns a copy the caller may change", async (h, d) => {
    await h.settle(d.write("x", text("abc")));
    const first = (await h.settle(d.read("x"))) as Uint8Array;
    first.fill(0);
    assert.equal(str(await h.settle(d.read("x"))), "abc");
  });

  withHarness("operations apply in call order without awaiting each", async (h, d) => {
    const ops = [d.append("l", text("1")), d.append("l", text("2")), d.write("m", text("x"))];
    ops.push(d.append("l", text("3")), d.remove("m"));
    await h.settle(Promise.all(ops));
    assert.equal(str(await h.settle(d.read("l"))), "123");
    assert.equal(await h.settle(d.read("m")), null);
  });

  withHarness("what was synced is there after a restart", async (h, d) => {
    await h.settle(d.write("meta", text("term=3")));
    await h.settle(d.append("log", text("e1;")));
    await h.settle(d.append("log", text("e2;")));
    await h.settle(d.write("gone", text("x")));
    await h.settle(d.remove("gone"));
    await h.settle(d.sync());
    const again = await h.reopen();
    assert.deepEqual(await h.settle(again.list()), ["log", "meta"]);
    assert.equal(str(await h.settle(again.read("log"))), "e1;e2;");
    assert.equal(str(await h.settle(again.read("meta"))), "term=3");
  });

  withHarness("an unsafe name is a programmer error", async (_h, d) => {
    for (const bad of ["", "../x", "a/b", ".hidden", "x".repeat(129)]) {
      await assert.rejects(async () => d.write(bad, text("x")), RangeError, bad);
    }
  });
}

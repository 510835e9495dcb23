import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SeededRandom } from "../../src/core/random.js";
import { keyHash } from "../../src/storage/key-hash.js";
import type { KeyStore, StoredValue } from "../../src/storage/types.js";

/** A store under test and how to get it back after a clean shutdown, when it persists. */
export interface StoreFixture {
  store: KeyStore;
  /** Closes the store and opens it again on the same data, or undefined for the memory twin. */
  reopen?: () => Promise<KeyStore>;
  cleanup: () => Promise<void>;
}

const str = (s: string, expireAtMs = 0): StoredValue => ({
  type: "string",
  data: Buffer.from(s),
  expireAtMs,
});
const b = (s: string) => Buffer.from(s, "latin1");
const keysOf = (store: KeyStore, start?: string) =>
  [...store.keysFrom(start === undefined ? undefined : b(start))].map((k) => k.toString("latin1"));

/** Everything the store holds, by key: its value's text and expiry. */
function contents(
  store: KeyStore,
): Map<string, { key: string; value: string; expireAtMs: number }> {
  const out = new Map<string, { key: string; value: string; expireAtMs: number }>();
  for (const key of store.keysFrom(undefined)) {
    const v = store.get(key) as StoredValue;
    const k = key.toString("latin1");
    out.set(k, { key: k, value: v.data.toString(), expireAtMs: v.expireAtMs });
  }
  return out;
}

/** One suite for every `KeyStore`: the LMDB store and its in-memory twin must agree. */
export function storeCompliance(name: string, make: () => Promise<StoreFixture>): void {
  describe(`KeyStore compliance: ${name}`, () => {
    const withStore = (fn: (f: StoreFixture) => Promise<void>) => async () => {
      const f = await make();
      try {
        await fn(f);
      } finally {
        await f.cleanup();
      }
    };

    it(
      "writes are visible at once and durable after flush",
      withStore(async ({ store }) => {
        assert.equal(store.get(b("a")), undefined);
        store.set(b("a"), str("1"));
        assert.equal(store.get(b("a"))?.data.toString(), "1");
        assert.ok(store.writeSeq > store.durableSeq);
        await store.flush();
        assert.equal(store.durableSeq, store.writeSeq);
        assert.equal(store.get(b("a"))?.data.toString(), "1");
        assert.equal(store.delete(b("a")), true);
        assert.equal(store.delete(b("a")), false);
        assert.equal(store.get(b("a")), undefined);
        await store.flush();
        assert.equal(store.get(b("a")), undefined);
        assert.equal(store.size(), 0);
      }),
    );

    it(
      "copies the buffers it keeps",
      withStore(async ({ store }) => {
        const key = Buffer.from("key");
        const data = Buffer.from("value");
        store.set(key, { type: "string", data, expireAtMs: 0 });
        key.fill(0);
        data.fill(0);
        assert.equal(store.get(b("key"))?.data.toString(), "value");
        await store.flush();
        assert.equal(store.get(b("key"))?.data.toString(), "value");
      }),
    );

    it(
      "keeps binary, empty, zero-prefixed and very long keys apart and in byte order",
      withStore(async ({ store }) => {
        const long1 = `${"x".repeat(3000)}1`;
        const long2 = `${"x".repeat(3000)}2`;
        const names = ["", "\x00", "\x00a", "\x00\x00", "a", "a\x00", "ab", "\xff", long1, long2];
        for (const [i, n] of names.entries()) store.set(b(n), str(String(i)));
        for (const [i, n] of names.entries())
          assert.equal(store.get(b(n))?.data.toString(), String(i));
        const expected = [...names].sort();
        assert.deepEqual(keysOf(store), expected);
        await store.flush();
        for (const [i, n] of names.entries())
          assert.equal(store.get(b(n))?.data.toString(), String(i));
        assert.deepEqual(keysOf(store), expected);
        assert.deepEqual(
          keysOf(store, "a"),
          expected.filter((k) => k >= "a"),
        );
        assert.equal(store.size(), names.length);
      }),
    );

    it(
      "merges unflushed writes into ordered iteration",
      withStore(async ({ store }) => {
        for (const k of ["b", "d", "f"]) store.set(b(k), str(k));
        await store.flush();
        store.set(b("a"), str("a"));
        store.set(b("e"), str("e"));
        store.delete(b("d"));
        store.set(b("f"), str("F"));
        assert.deepEqual(keysOf(store), ["a", "b", "e", "f"]);
        assert.deepEqual(keysOf(store, "c"), ["e", "f"]);
        assert.equal(store.size(), 4);
        await store.flush();
        assert.deepEqual(keysOf(store), ["a", "b", "e", "f"]);
        assert.equal(store.get(b("f"))?.data.toString(), "F");
      }),
    );

    it(
      "walks keys in hash order for SCAN, merging unflushed writes",
      withStore(async ({ store }) => {
        const names = Array.from({ length: 50 }, (_, i) => `scan:${i}`);
        for (const n of names.slice(0, 30)) store.set(b(n), str(n));
        await store.flush();
        for (const n of names.slice(30)) store.set(b(n), str(n));
        store.delete(b("scan:3"));
        const expected = names
          .filter((n) => n !== "scan:3")
          .map((n) => ({ hash: keyHash(b(n)), key: n }))
          .sort((x, y) => x.hash - y.hash || (x.key < y.key ? -1 : 1));
        const walk = (from: number) =>
          [...store.keysByHash(from)].map((h) => ({ hash: h.hash, key: h.key.toString("latin1") }));
        assert.deepEqual(walk(0), expected);
        const middle = (expected[20] as { hash: number }).hash;
        assert.deepEqual(walk(middle), expected.slice(20));
        await store.flush();
        assert.deepEqual(walk(0), expected);
        store.clear();
        store.set(b("only"), str("x"));
        assert.deepEqual(
          walk(0).map((h) => h.key),
          ["only"],
        );
        await store.flush();
        assert.deepEqual(
          walk(0).map((h) => h.key),
          ["only"],
        );
      }),
    );

    it(
      "a walk under way leaves out the keys deleted meanwhile",
      withStore(async ({ store }) => {
        const all = ["a", "b", "c", "d", "e"];
        for (const k of all) store.set(b(k), str(k));
        await store.flush();
        store.set(b("z"), str("z")); // not flushed: the walks merge it in
        const byKey = store.keysFrom(undefined);
        const byHash = store.keysByHash(0);
        assert.equal(byKey.next().value?.toString("latin1"), "a");
        const first = byHash.next().value?.key.toString("latin1") as string;
        store.delete(b("c"));
        store.delete(b("d"));
        assert.deepEqual(
          [...byKey].map((k) => k.toString("latin1")),
          ["b", "e", "z"],
        );
        assert.deepEqual(
          [...byHash].map((h) => h.key.toString("latin1")).sort(),
          [...all, "z"].filter((k) => k !== first && k !== "c" && k !== "d"),
        );
      }),
    );

    it(
      "a frozen walk hands out every key as it was at the freeze, while writes go on",
      withStore(async ({ store }) => {
        for (const seed of [1, 2, 3]) {
          const random = new SeededRandom(seed);
          store.clear();
          const name = () => `k${random.int(400)}`;
          for (let i = 0; i < 300; i++) store.set(b(name()), str(`v${i}`, random.int(3) * 1000));
          await store.flush();
          for (let i = 0; i < 50; i++) {
            if (random.int(4) === 0) store.delete(b(name()));
            else store.set(b(name()), str(`u${i}`));
          }
          const frozen = contents(store);
          const walk = store.freeze();
          assert.equal(walk.size, frozen.size);
          const seen: { key: string; value: string; expireAtMs: number }[] = [];
          for (let round = 0; !walk.done; round++) {
            assert.ok(round < 1000, "the walk ends");
            for (const e of walk.next(1 + random.int(12))) {
              seen.push({
                key: e.key.toString("latin1"),
                value: e.value.data.toString(),
                expireAtMs: e.value.expireAtMs,
              });
            }
            for (let i = random.int(8); i > 0; i--) {
              const k = b(name());
              if (random.int(3) === 0) store.delete(k);
              else store.set(k, str(`w${round}.${i}`, random.int(2) * 5));
            }
            if (random.int(5) === 0) await store.flush();
          }
          assert.deepEqual(walk.next(10), []);
          assert.equal(seen.length, frozen.size, `seed ${seed}: each key once`);
          assert.deepEqual(new Map(seen.map((e) => [e.key, e])), frozen, `seed ${seed}`);
        }
      }),
    );

    it(
      "a clear aborts a frozen walk; writes after the walk are not looked at",
      withStore(async ({ store }) => {
        for (const k of ["a", "b", "c", "d"]) store.set(b(k), str(k));
        const walk = store.freeze();
        assert.equal(walk.next(1).length, 1);
        store.clear();
        assert.match(String(walk.aborted), /cleared/);
        assert.equal(walk.done, true);
        assert.throws(() => walk.next(1), /walk aborted: the store was cleared/);
        store.set(b("e"), str("e"));
        const later = store.freeze();
        assert.deepEqual(
          later.next(10).map((e) => e.key.toString("latin1")),
          ["e"],
        );
        assert.deepEqual(later.next(10), []);
        assert.equal(later.done, true);
        store.set(b("f"), str("f"));
        const closed = store.freeze();
        closed.close();
        assert.equal(closed.done, true);
        assert.deepEqual(closed.next(10), []);
      }),
    );

    it(
      "clear hides everything before it, keeps what comes after",
      withStore(async ({ store }) => {
        for (const k of ["a", "b", "c"]) store.set(b(k), str(k, 5));
        await store.flush();
        store.set(b("d"), str("d"));
        store.clear();
        assert.equal(store.size(), 0);
        store.set(b("e"), str("e"));
        assert.deepEqual(keysOf(store), ["e"]);
        assert.equal(store.get(b("a")), undefined);
        assert.deepEqual(store.expiredKeys(100, 10), []);
        await store.flush();
        assert.deepEqual(keysOf(store), ["e"]);
        assert.equal(store.size(), 1);
        assert.deepEqual(store.expiredKeys(100, 10), []);
      }),
    );

    // The key counts, checked against a model after every step, with batches committing
    // underneath (flushes not awaited) and clears among them (docs/cluster.md, "The key
    // counts").
    it(
      "size and expiringCount follow writes, deletes and clears while batches commit",
      withStore(async ({ store }) => {
        for (const seed of [1, 2, 3]) {
          const random = new SeededRandom(seed);
          store.clear();
          await store.flush();
          const model = new Map<string, number>();
          const inFlight: Promise<void>[] = [];
          for (let step = 0; step < 600; step++) {
            const k = `k${random.int(60)}`;
            const r = random.int(100);
            if (r < 55) {
              const expireAtMs = random.int(3) === 0 ? 1_000_000 + step : 0;
              store.set(b(k), str(`v${step}`, expireAtMs));
              model.set(k, expireAtMs);
            } else if (r < 85) {
              assert.equal(store.delete(b(k)), model.delete(k), `seed ${seed} step ${step}`);
            } else if (r < 87) {
              store.clear();
              model.clear();
            } else if (r < 97) {
              inFlight.push(store.flush());
            } else {
              await Promise.all(inFlight.splice(0));
            }
            const expiring = [...model.values()].filter((e) => e !== 0).length;
            assert.equal(store.size(), model.size, `seed ${seed} step ${step}: size`);
            assert.equal(store.expiringCount(), expiring, `seed ${seed} step ${step}: expiring`);
          }
          await Promise.all(inFlight);
          await store.flush();
          assert.equal(store.size(), model.size, `seed ${seed}: size once durable`);
        }
      }),
    );

    it(
      "indexes expiry times, follows overwrites, and bounds the answer",
      withStore(async ({ store }) => {
        store.set(b("k1"), str("v", 100));
        store.set(b("k2"), str("v", 50));
        store.set(b("k3"), str("v", 200));
        store.set(b("k4"), str("v"));
        const names = (ks: Buffer[]) => ks.map((k) => k.toString());
        assert.deepEqual(names(store.expiredKeys(150, 10)), ["k2", "k1"]);
        assert.equal(store.expiringCount(), 3);
        await store.flush();
        assert.equal(store.expiringCount(), 3);
        assert.deepEqual(names(store.expiredKeys(150, 10)), ["k2", "k1"]);
        assert.deepEqual(names(store.expiredKeys(150, 1)), ["k2"]);
        store.set(b("k2"), str("v", 0));
        store.set(b("k3"), str("v", 10));
        assert.deepEqual(names(store.expiredKeys(150, 10)), ["k3", "k1"]);
        await store.flush();
        assert.deepEqual(names(store.expiredKeys(150, 10)), ["k3", "k1"]);
        store.delete(b("k1"));
        assert.equal(store.expiringCount(), 1);
        await store.flush();
        assert.equal(store.expiringCount(), 1);
        assert.deepEqual(names(store.expiredKeys(1000, 10)), ["k3"]);
      }),
    );

    it(
      "draws random keys among those that exist",
      withStore(async ({ store }) => {
        const random = new SeededRandom(7);
        assert.equal(store.randomKey(random), undefined);
        for (const k of ["foo", "bar", "baz", "qux"]) store.set(b(k), str(k));
        await store.flush();
        store.delete(b("qux"));
        const seen = new Set<string>();
        for (let i = 0; i < 300; i++) seen.add(String(store.randomKey(random)));
        assert.ok(!seen.has("qux"), "a deleted key was drawn");
        assert.ok(seen.size >= 2, `only ${[...seen]} drawn`);
        for (const k of seen) assert.ok(["foo", "bar", "baz"].includes(k));
      }),
    );

    it(
      "groups concurrent flushes and keeps writes made during a flush",
      withStore(async ({ store }) => {
        store.set(b("a"), str("1"));
        const first = store.flush();
        store.set(b("b"), str("2"));
        assert.equal(store.get(b("a"))?.data.toString(), "1");
        const second = store.flush();
        await Promise.all([first, second]);
        assert.equal(store.durableSeq, store.writeSeq);
        assert.deepEqual(keysOf(store), ["a", "b"]);
      }),
    );

    it(
      "survives a close and reopen",
      withStore(async (f) => {
        if (f.reopen === undefined) return;
        for (let i = 0; i < 100; i++) f.store.set(b(`key:${i}`), str(`v${i}`, i === 7 ? 99 : 0));
        f.store.delete(b("key:3"));
        await f.store.flush();
        const again = await f.reopen();
        assert.equal(again.size(), 99);
        assert.equal(again.get(b("key:42"))?.data.toString(), "v42");
        assert.equal(again.get(b("key:3")), undefined);
        assert.equal(again.get(b("key:7"))?.expireAtMs, 99);
        assert.deepEqual(
          again.expiredKeys(100, 10).map((k) => k.toString()),
          ["key:7"],
        );
      }),
    );
  });
}

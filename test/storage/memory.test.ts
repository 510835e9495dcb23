import assert from "node:assert/strict";
import { it } from "node:test";
import { MemoryBackend, MemoryStore } from "../../src/storage/memory.js";
import { StorageError } from "../../src/storage/types.js";
import { storeCompliance } from "./compliance.js";

storeCompliance("memory", async () => ({ store: new MemoryStore(), cleanup: async () => {} }));

it("memory twin: a failed flush rolls back every write that was not durable", async () => {
  const backend = new MemoryBackend();
  const store = new MemoryStore(backend);
  const v = (s: string) => ({ type: "string" as const, data: Buffer.from(s), expireAtMs: 0 });
  store.set(Buffer.from("kept"), v("1"));
  await store.flush();
  const durable = store.durableSeq;
  backend.failNextCommits(1);
  store.set(Buffer.from("lost"), v("2"));
  store.set(Buffer.from("kept"), v("changed"));
  const failing = store.flush();
  store.set(Buffer.from("after"), v("3"));
  await assert.rejects(failing, (e: unknown) => e instanceof StorageError && e.code === "ENOSPC");
  assert.ok(store.durableSeq > durable);
  assert.equal(store.durableSeq, store.writeSeq);
  assert.equal(store.get(Buffer.from("lost")), undefined);
  assert.equal(store.get(Buffer.from("after")), undefined);
  assert.equal(store.get(Buffer.from("kept"))?.data.toString(), "1");
  assert.equal(store.size(), 1);
  store.set(Buffer.from("later"), v("4"));
  await store.flush();
  assert.equal(store.size(), 2);
});

it("memory twin: a batch queued behind a failed one does not land without it", async () => {
  const backend = new MemoryBackend();
  const store = new MemoryStore(backend);
  const v = (s: string) => ({ type: "string" as const, data: Buffer.from(s), expireAtMs: 0 });
  backend.failNextCommits(1);
  store.set(Buffer.from("a"), v("1"));
  const first = store.flush();
  // Computed from the value the failing batch wrote: must not survive without it.
  store.set(Buffer.from("b"), Buffer.from(`${store.get(Buffer.from("a"))?.data}+1`) && v("2"));
  const second = store.flush();
  await assert.rejects(first, StorageError);
  await assert.rejects(second, StorageError);
  assert.equal(store.size(), 0);
  assert.equal(backend.count(), 0);
  store.set(Buffer.from("c"), v("3"));
  await store.flush();
  assert.deepEqual(
    [...store.keysFrom(undefined)].map((k) => k.toString()),
    ["c"],
  );
});

it("overlay: values read stay as they were while later writes fill and replace arena chunks", async () => {
  const store = new MemoryStore();
  const v = (s: string | Buffer) => ({
    type: "string" as const,
    data: typeof s === "string" ? Buffer.from(s) : s,
    expireAtMs: 0,
  });
  const big = Buffer.alloc(40_000, 7); // beyond a quarter of a chunk: a buffer of its own
  store.set(Buffer.from("big"), v(big));
  store.set(Buffer.from("k0"), v("first"));
  const held = store.get(Buffer.from("k0"))?.data;
  // Some 600 KB of writes: many chunks, the first long full.
  for (let i = 0; i < 6000; i++) store.set(Buffer.from(`k${i}`), v(`value-${i}-${"x".repeat(90)}`));
  store.delete(Buffer.from("k1"));
  // A value read from the arena, written again under another key.
  store.set(Buffer.from("dup"), v(store.get(Buffer.from("k5"))?.data as Buffer));
  assert.equal(held?.toString(), "first");
  assert.equal(store.get(Buffer.from("dup"))?.data.toString(), `value-5-${"x".repeat(90)}`);
  assert.equal(store.get(Buffer.from("k0"))?.data.toString(), `value-0-${"x".repeat(90)}`);
  assert.equal(store.get(Buffer.from("k1")), undefined);
  assert.deepEqual(store.get(Buffer.from("big"))?.data, big);
  await store.flush();
  for (const i of [0, 2, 2999, 5999]) {
    assert.equal(store.get(Buffer.from(`k${i}`))?.data.toString(), `value-${i}-${"x".repeat(90)}`);
  }
  assert.equal(store.size(), 5999 + 2);
  // What the backend keeps is its own copy, not a view pinning the chunks.
  const k2 = store.get(Buffer.from("k2"))?.data as Buffer;
  assert.ok(k2.buffer.byteLength < 64 * 1024);
});

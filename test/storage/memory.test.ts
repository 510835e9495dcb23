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
